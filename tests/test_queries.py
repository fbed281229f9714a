"""path, reach and blast on the bundled example and on real dumps (both backends), and properties on
generated meshes (networkx: the properties are of the shared walker; test_neo4j holds the parity)."""

from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path

import orjson
import pytest
from conftest import ingest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from topo.cli import app
from topo.model.names import parse_cluster_name
from topo.queries import blast, path, reach
from topo.stores import open_snapshot
from topo.stores.hops import MeshGraph

FQ = "publictest.istio-demo.svc.cluster.local"
V1, V2 = f"outbound|9000|v1|{FQ}", f"outbound|9000|v2|{FQ}"


# ---------------------------------------------------------------- the seed example
def test_seed_shares_in_json(tmp_path):
    """The seed: 90% to v1 at 30% per endpoint (incl. 10.244.0.53:9000), 10% to v2's one endpoint."""
    r = CliRunner().invoke(app, ["ingest", "--from", "examples/istio-demo", "--store", str(tmp_path / "s")])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["path", "integration", "publictest", "--store", str(tmp_path / "s"), "-o", "json"])
    assert r.exit_code == 0, r.output
    doc = orjson.loads(r.stdout)
    (a,) = doc["answers"]
    assert a["pods"] == ["istio-demo/integration-86924652-bfsfs"]
    assert {c["name"]: c["weight"] for c in a["clusters"]} == {V1: 90, V2: 10}
    eps = {e["address"]: e for e in a["endpoints"]}
    assert set(eps) == {"10.244.0.53:9000", "10.244.0.54:9000", "10.244.0.55:9000", "10.244.0.61:9000"}
    for addr in ("10.244.0.53:9000", "10.244.0.54:9000", "10.244.0.55:9000"):
        assert math.isclose(eps[addr]["share"], 0.3, abs_tol=1e-12) and eps[addr]["cluster"] == V1
        assert eps[addr]["pod"].startswith("istio-demo/publictest-v1-")
    assert math.isclose(eps["10.244.0.61:9000"]["share"], 0.1, abs_tol=1e-12)
    assert eps["10.244.0.61:9000"]["cluster"] == V2
    total = sum(e["share"] for e in a["endpoints"]) + sum(d["share"] for d in a["dead_ends"])
    assert abs(total - 1) < 1e-9
    assert [h["name"] for h in a["hops"]][:3] == ["virtualOutbound", "10.1.122.241_9000", a["hops"][2]["name"]]


def test_path_forms_and_yaml(demo_graph, tmp_path):
    by_url = path.path(demo_graph, "integration-86924652-bfsfs", "http://publictest:9000/api")
    by_vip = path.path(demo_graph, "integration", "10.1.122.241:9000", host="publictest")
    by_fqdn = path.path(demo_graph, "integ", FQ)
    for r in (by_url, by_vip, by_fqdn):
        assert {e.address: round(e.share, 12) for e in r.answers[0].endpoints} == {
            "10.244.0.53:9000": 0.3, "10.244.0.54:9000": 0.3, "10.244.0.55:9000": 0.3, "10.244.0.61:9000": 0.1}


def test_publictest_pods_share_one_config(demo_graph):
    r = path.path(demo_graph, "publictest-v1", "integration")
    assert len(r.answers) == 1 and len(r.answers[0].pods) == 3


def test_blast_v2_pod_loses_ten_percent(demo_graph):
    v2pod = next(p["name"] for p in demo_graph.pods() if p["name"].startswith("publictest-v2"))
    res = blast.blast(demo_graph, v2pod)
    rows = [r for r in res.rows if r.pods == ["istio-demo/integration-86924652-bfsfs"] and r.destination.startswith(FQ)]
    http = [r for r in rows if r.route == "publictest-route"]
    assert len(http) == 1
    assert math.isclose(http[0].lost, 0.1) and http[0].moved == 0 and http[0].flags == ["UH"]
    assert not http[0].fails_outright
    assert res.rows[0].lost >= res.rows[-1].lost  # worst first


def test_blast_one_v1_pod_moves_its_share(demo_graph):
    res = blast.blast(demo_graph, "10.244.0.53")
    http = [r for r in res.rows if r.route == "publictest-route" and r.pods[0].endswith("integration-86924652-bfsfs")]
    assert len(http) == 1
    assert http[0].lost == 0 and math.isclose(http[0].moved, 0.3) and http[0].flags == []


def test_blast_subset_and_service(demo_graph):
    res = blast.blast(demo_graph, V2)
    rows = [r for r in res.rows if r.route == "publictest-route"]
    assert rows and all(math.isclose(r.lost, 0.1) for r in rows)  # every source that calls publictest
    assert any(r.pods == ["istio-demo/integration-86924652-bfsfs"] for r in rows)
    res = blast.blast(demo_graph, "publictest.istio-demo")
    rows = [r for r in res.rows if r.route == "publictest-route"]
    assert rows and all(math.isclose(r.lost, 1.0) and r.fails_outright for r in rows)


def test_reach_and_reach_to_on_example(demo_graph):
    r = reach.reach(demo_graph, "integration")
    dests = {e.destination for e in r.answers[0].entries}
    assert f"{FQ}:9000" in dests
    back = reach.reach_to(demo_graph, "publictest")
    assert any(row.pods == ["istio-demo/integration-86924652-bfsfs"] for row in back.rows)


def test_cli_exit_codes_and_errors(tmp_path):
    runner = CliRunner()
    s = str(tmp_path / "s")
    assert runner.invoke(app, ["ingest", "--from", "examples/istio-demo", "--store", s]).exit_code == 0
    r = runner.invoke(app, ["path", "nobody", "publictest", "--store", s])
    assert r.exit_code == 2 and r.stderr.startswith("topo: ") and r.stderr.count("\n") == 1
    r = runner.invoke(app, ["path", "integration", "publictest", "--store", str(tmp_path / "empty")])
    assert r.exit_code == 1 and "no snapshot" in r.stderr
    r = runner.invoke(app, ["path", "integration", "10.9.9.9:9999", "--tcp", "--store", s])
    assert r.exit_code == 4  # leaves the mesh through PassthroughCluster
    for cmd in (["reach", "integration"], ["reach", "--to", "publictest"], ["blast", "10.244.0.61"]):
        for fmt in ("table", "json", "yaml"):
            r = runner.invoke(app, [*cmd, "--store", s, "-o", fmt])
            assert r.exit_code == 0, (cmd, fmt, r.output)
            assert "Traceback" not in r.output


# ---------------------------------------------------------------- real dumps
def test_deathstarbench_geo_to_reviews(realdumps, tmp_path, graph_of):
    """geo (Istio 1.18, ns hr2) → reviews.default:9080. The dump's 0.0.0.0_9080 listener takes the
    hand-off (reviews' VIP 10.68.111.247 has no listener of its own), its HTTP chain uses RDS "9080",
    whose vhost `reviews.default.svc.cluster.local:9080` lists `reviews.default` (bare `reviews` is
    only for same-namespace clients), routes `default` → outbound|9080||reviews…, one HEALTHY endpoint."""
    shutil.copy(realdumps / "TZ-Zephrus__DeathStarBench/config_dump.json", tmp_path / "geo.json")
    g = graph_of(tmp_path / "geo.json")
    r = path.path(g, "geo", "reviews.default", port=9080)
    (a,) = r.answers
    assert [h.name for h in a.hops] == ["virtualOutbound", "0.0.0.0_9080", a.hops[2].name, "9080",
                                        "reviews.default.svc.cluster.local:9080", "default"]
    assert [(c.name, c.fraction) for c in a.clusters] == [("outbound|9080||reviews.default.svc.cluster.local", 1.0)]
    assert [(e.address, e.share) for e in a.endpoints] == [("172.16.18.246:9080", 1.0)]
    # bare `reviews` resolves in geo's own namespace (hr2), where there is no such service
    with pytest.raises(Exception, match="reviews.hr2.svc.cluster.local"):
        path.path(g, "geo", "reviews", port=9080)


def test_bookinfo_productpage_reviews_is_nc(realdumps, tmp_path, graph_of):
    """Istio 1.4 productpage after "reviews 50% v1 / 50% v3": route 9080's vhost for reviews splits
    between outbound|9080|v1|… and outbound|9080|v3|…, but no DestinationRule defines the subsets,
    so neither cluster is in CDS: both halves end in NC (503), nothing is delivered."""
    shutil.copy(realdumps / "hpcsc__bookinfo-envoy-config/envoy__config_dump__productpage-v1.json",
                tmp_path / "productpage-v1.json")
    g = graph_of(tmp_path / "productpage-v1.json")
    r = path.path(g, "productpage", "reviews", port=9080)
    (a,) = r.answers
    assert a.outcome == "dead_end"
    assert sorted((d.flag, d.object, d.share) for d in a.dead_ends) == [
        ("NC", "outbound|9080|v1|reviews.bookinfo.svc.cluster.local", 0.5),
        ("NC", "outbound|9080|v3|reviews.bookinfo.svc.cluster.local", 0.5)]
    # the v2-era layout: the listener's own-IP BlackHole chain does not catch a service VIP
    assert a.hops[1].name == "0.0.0.0_9080" and a.hops[3].name == "9080"


# ---------------------------------------------------------------- properties on generated meshes
def _mesh_graph(seed: int, services: int, pods: int) -> MeshGraph:
    from topo.meshgen.random import random_mesh
    from topo.meshgen.writer import write_bundle

    tmp = Path(tempfile.mkdtemp(prefix="topo-prop-"))
    try:
        write_bundle(random_mesh(services=services, pods=pods, seed=seed), tmp / "mesh")
        return open_snapshot(ingest(tmp / "mesh", tmp / "store"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), services=st.integers(3, 9), pods=st.integers(4, 14))
def test_properties_on_generated_meshes(seed, services, pods):
    g = _mesh_graph(seed, services, pods)
    configs: dict[str, str] = {}
    for p in g.pods():
        configs.setdefault(p["config"], p["id"])
    forward: set[tuple] = set()
    forward_pods: set[tuple] = set()
    for config, pod in sorted(configs.items()):
        # shares are never negative and sum to 1 for every (source, destination) question
        for s in g.services():
            for port in sorted(set(s["ports"] or [])):
                try:
                    r = path.path(g, pod, s["fqdn"], port=port)
                except Exception as e:  # only the documented, one-line refusals
                    assert type(e).__name__ == "TopoError", e
                    continue
                for a in r.answers:
                    assert all(e.share >= 0 for e in a.endpoints) and all(d.share >= 0 for d in a.dead_ends)
                    assert abs(sum(e.share for e in a.endpoints) + sum(d.share for d in a.dead_ends) - 1) < 1e-9
        # reach: per (destination, route), delivered + dead-end shares sum to 1
        by_q: dict[tuple[str, str, str], float] = {}
        for e in reach.config_reach(g, config):
            assert e.share >= 0
            by_q[(e.destination, e.route, e.listener)] = by_q.get((e.destination, e.route, e.listener), 0) + e.share
            if e.endpoint is not None:
                forward.add((config, e.destination, e.route, e.cluster, e.endpoint))
                if e.pod:
                    forward_pods.add((e.pod, config, e.destination, e.route, e.cluster, e.endpoint))
        for q, total in by_q.items():
            assert total <= 1 + 1e-9, q
    # reach --to is the exact inverse of reach
    backward: set[tuple] = set()
    for s in g.services():
        for row in reach.reach_to(g, s["fqdn"]).rows:
            backward.add((row.config, row.destination, row.route, row.cluster, row.endpoint))
    known = {s["fqdn"] for s in g.services()}
    expect = {f for f in forward if parse_cluster_name(f[3])["fqdn"] in known}
    assert backward == expect
    # ... and for a pod too (headless services reach pods through ORIGINAL_DST listeners)
    for p in g.pods():
        got = {(p["id"], row.config, row.destination, row.route, row.cluster, row.endpoint)
               for row in reach.reach_to(g, p["id"]).rows}
        assert got == {f for f in forward_pods if f[0] == p["id"]}, p["id"]
    # blast walks only what leads to the failed endpoints: the restricted walk is a subset
    # of the full one and holds every entry that failing them changes
    for s in g.services():
        t = reach.resolve_target(g, s["fqdn"])
        eps = {e["key"] for ck in t.cluster_keys for e in g.endpoints(ck)}
        if not eps:
            continue
        failed = frozenset(eps)
        up = g.upstream(set(t.cluster_keys) | g.clusters_of_endpoints(eps))
        for config in configs:
            full_b, full_a = set(reach.config_reach(g, config)), set(reach.config_reach(g, config, failed))
            changed = full_b ^ full_a
            if config not in up.configs:
                assert not changed, (s["fqdn"], config)
                continue
            only_b = set(reach.config_reach(g, config, only=up))
            only_a = set(reach.config_reach(g, config, failed, only=up))
            assert only_b <= full_b and only_a <= full_a
            assert changed <= only_b | only_a, (s["fqdn"], config)
