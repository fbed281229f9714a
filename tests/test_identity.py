"""Who a dump is and how often it counts (issue 14, item 8): a proxy outside Istio is named by its
node id, two files of one pod count once everywhere, a dump without a dump's file name is read and
every other file gets one line, and `show listeners` reads Envoy ≤1.13's filter names."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import orjson
from builders import (
    cla,
    cluster,
    dump,
    http_listener,
    route,
    route_config,
    simple_mesh_dump,
    vhost,
    virtual_outbound,
)
from typer.testing import CliRunner

from topo.cli import app
from topo.ingest import pipeline, sources
from topo.ingest.transform import transform_bytes
from topo.queries.check import check

runner = CliRunner()


def _plain_envoy(node_id: str) -> dict:
    """A plain Envoy (no Istio node id, no metadata)."""
    doc = simple_mesh_dump()
    boot = next(c for c in doc["configs"] if c["@type"].endswith("BootstrapConfigDump"))
    boot["bootstrap"]["node"] = {"id": node_id, "cluster": "front-proxy"}
    return doc


def test_a_proxy_outside_istio_is_named_by_its_node_id():
    r = transform_bytes(orjson.dumps(_plain_envoy("front-envoy-7d9f")), "/tmp/x/config_dump")
    assert r.pod_id == "front-envoy-7d9f"
    pod = r.rows.nodes["Pod"]["front-envoy-7d9f"]
    assert pod["name"] == "front-envoy-7d9f" and pod["namespace"] == "" and pod["proxy_type"] == "unknown"


def test_without_a_node_id_a_config_dump_file_takes_its_folders_name():
    doc = simple_mesh_dump()
    doc["configs"] = [c for c in doc["configs"] if not c["@type"].endswith("BootstrapConfigDump")]
    # istioctl bug-report's layout: proxies/NS/POD/config_dump
    r = transform_bytes(orjson.dumps(doc), "/tmp/report/proxies/shop/cart-5f6c/config_dump")
    assert r.pod_id == "cart-5f6c"


def _two_files_of_one_pod(tmp_path: Path) -> Path:
    """pod client-abc dumped twice: first with an extra cluster `outbound|9|old|…`, later without."""
    d = tmp_path / "bundle"
    d.mkdir()
    old = simple_mesh_dump(pod="client-abc")
    cds = next(c for c in old["configs"] if c["@type"].endswith("ClustersConfigDump"))
    cds["dynamic_active_clusters"].append({"cluster": cluster("outbound|9|old|gone.default.svc.cluster.local")})
    (d / "a-first.json").write_bytes(orjson.dumps(old))
    (d / "b-later.json").write_bytes(orjson.dumps(simple_mesh_dump(pod="client-abc")))
    (d / "other.json").write_bytes(orjson.dumps(simple_mesh_dump(pod="other-xyz")))
    return d


def test_two_files_of_one_pod_count_once_everywhere(tmp_path, graph_of):
    d = _two_files_of_one_pod(tmp_path)
    res = pipeline.transform_all(sources.from_path(d))
    s = pipeline.summary_dict(res)
    assert s["pods"] == 2
    # the in-dump counts are those of the later file and the other pod: 5 clusters each
    assert s["in_dumps"]["clusters"] == 10
    assert any("already read from" in n and "a-first.json" in n for n in s["notes"])
    # the earlier file's own config and its cluster are gone; the pod uses the later config
    assert s["proxy_configs"] == 1
    names = {c["name"] for c in res.rows.nodes["Cluster"].values()}
    assert "outbound|9|old|gone.default.svc.cluster.local" not in names
    assert [k[0] for k in res.rows.rels["USES_CONFIG"]].count("default/client-abc") == 1
    g = graph_of(d)
    assert check(g).pods == 2 and len(g.pods()) == 2


def test_two_files_of_one_pod_in_the_ingest_table(tmp_path):
    d = _two_files_of_one_pod(tmp_path)
    r = runner.invoke(app, ["ingest", "--from", str(d), "--store", str(tmp_path / "st")])
    assert r.exit_code == 0, r.output
    assert "Ingested 2 pods (1 distinct proxy configs)" in r.stdout
    assert "pods           2         2" in r.stdout


def test_a_dump_without_a_dump_name_is_read_and_other_files_get_one_line(tmp_path):
    d = tmp_path / "bundle"
    (d / "proxies" / "shop" / "cart-5f6c").mkdir(parents=True)
    (d / "proxies" / "shop" / "cart-5f6c" / "envoy-admin").write_bytes(
        orjson.dumps(simple_mesh_dump(pod="cart-5f6c", ns="shop"), option=orjson.OPT_INDENT_2))
    (d / "README").write_text("captured by hand\n")
    (d / "notes.txt").write_text('{"not": "a dump"}\n')
    (d / "blob.bin").write_bytes(b"\x00\x01\x02\x03" * 64)
    (d / ".hidden").write_text("x")
    b = sources.from_path(d)
    assert b.total == 1
    assert sorted((Path(p).name, why) for p, why in b.skipped) == [
        ("README", "text without JSON, not a config dump"),
        ("blob.bin", "binary data, not a config dump"),
        ("notes.txt", "not a config dump (no `configs` near its start)"),
    ]
    r = runner.invoke(app, ["ingest", "--from", str(d), "--store", str(tmp_path / "st")])
    assert r.exit_code == 0, r.output  # skipped files do not make the ingest partial
    assert "Ingested 1 pods" in r.stdout
    lines = [ln for ln in r.stderr.splitlines() if "skipped" in ln]
    assert len(lines) == 3 and all(ln.startswith("topo: ") and ln.count("\n") == 0 for ln in lines)
    assert any(ln.endswith("README: skipped: text without JSON, not a config dump") for ln in lines)
    out = runner.invoke(app, ["ingest", "--from", str(d), "--store", str(tmp_path / "st"), "-o", "json"])
    assert len(json.loads(out.stdout)["skipped"]) == 3


def _legacy_filters(doc: dict) -> dict:
    """Envoy ≤1.13's shape: filters by their deprecated names, their config as a `config` Struct."""
    doc = copy.deepcopy(doc)
    lds = next(c for c in doc["configs"] if c["@type"].endswith("ListenersConfigDump"))
    for item in lds["dynamic_listeners"]:
        lst = item["active_state"]["listener"]
        for fc in lst["filter_chains"] + [lst.get("default_filter_chain", {"filters": []})]:
            for f in fc["filters"]:
                cfg = f.pop("typed_config")
                cfg.pop("@type")
                f["config"] = cfg
                f["name"] = {"envoy.filters.network.http_connection_manager": "envoy.http_connection_manager",
                             "envoy.filters.network.tcp_proxy": "envoy.tcp_proxy"}[f["name"]]
    return doc


def test_show_listeners_reads_deprecated_filter_names(tmp_path, cli_graph):
    fq = "svc.default.svc.cluster.local"
    doc = dump(pod="old-1", listeners=[virtual_outbound(), http_listener(8080)],
               route_configs=[route_config("8080", [vhost(f"{fq}:8080", [fq], [route(cluster=f"outbound|8080||{fq}")])])],
               clusters=[cluster(f"outbound|8080||{fq}")], endpoints=[cla(f"outbound|8080||{fq}", [])])
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "old-1.json").write_bytes(orjson.dumps(_legacy_filters(doc)))
    graph = cli_graph(tmp_path / "d")
    out = runner.invoke(app, ["show", "listeners", "old-1", *graph])
    assert out.exit_code == 0, out.output
    # what the chains do: the HCM takes RDS 8080; the tcp_proxy chains go to Passthrough / BlackHole
    assert out.stdout == (
        "ADDRESSES PORT  MATCH                                DESTINATION\n"
        "0.0.0.0   8080  Trans: raw_buffer; App: http/1.1,h2c Route: 8080\n"
        "0.0.0.0   8080  ALL                                  PassthroughCluster\n"
        "0.0.0.0   15001 ALL                                  PassthroughCluster\n"
        "0.0.0.0   15001 Addr: *:15001                        Non-HTTP/Non-TCP\n")
    short = runner.invoke(app, ["show", "listeners", "old-1", "--no-verbose", *graph]).stdout
    assert short == "ADDRESSES PORT  TYPE\n0.0.0.0   8080  HTTP+TCP\n0.0.0.0   15001 TCP\n"
