"""`topo diff --behavior A B` (issue 16 item 5): request classes whose outcome, chain or shares changed.

Snapshot B of each test is A with one deliberate change; the expected changes follow from that change and
Envoy's rules (a missing subset cluster is NC, §9; a VirtualService without catch-all leaves the rest 404 NR,
§6), never from topo's output.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

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
from conftest import EXAMPLE, ingest, nx_graph
from typer.testing import CliRunner

from topo.cli import app
from topo.queries.behavior import RANKS, behavior_diff

FQ = "svc.default.svc.cluster.local"
V1, V2 = f"outbound|8080|v1|{FQ}", f"outbound|8080|v2|{FQ}"


def broken_example(out: Path) -> Path:
    """debugging.md's broken example: a v3 subset without cluster, v2's pod gone, /api-only VS for integration."""
    from topo.meshgen.demo import demo_mesh
    from topo.meshgen.model import Destination, HTTPMatch, HTTPRoute, VirtualService
    from topo.meshgen.writer import write_bundle

    m = demo_mesh()
    m.virtual_services[0].http[0].route = [Destination(subset="v1", weight=80), Destination(subset="v2", weight=10),
                                           Destination(subset="v3", weight=10)]
    m.workloads = [w for w in m.workloads if w.name != "publictest-v2"]
    m.virtual_services.append(VirtualService("integration", "istio-demo", ["integration"], http=[
        HTTPRoute("integration-api", match=[HTTPMatch(prefix="/api")], route=[Destination()])]))
    write_bundle(m, str(out))
    return out


def test_the_broken_example_worst_first(graph_of, tmp_path):
    a = graph_of(EXAMPLE)
    store = ingest(broken_example(tmp_path / "broken"), tmp_path / "s")
    from topo.stores import open_graph

    b = open_graph(store=store)
    res = behavior_diff(a, b, a_name="healthy", b_name="broken")
    ranks = [c.rank for c in res.changes]
    assert ranks == sorted(ranks, key=RANKS.index), ranks
    first = res.changes[0]
    # integration's VirtualService now routes only /api: GET / was delivered and now gets 404 NR
    assert first.rank == "broken" and first.request["path"] == "/" and first.after.dead_ends == {"NR": 1.0}
    assert first.before.dead_ends == {} and "istio-demo/integration" in first.sources
    split = next(c for c in res.changes if c.request["port"] == 9000 and c.request["protocol"] == "http")
    # 80/10/10 with v3 missing (NC) and v2's only pod gone (UH)
    assert split.rank == "worse" and split.after.dead_ends == {"NC": 0.1, "UH": 0.1}
    api = next(c for c in res.changes if c.request["path"] == "/api")
    assert api.rank == "rerouted" and api.before.dead_ends == api.after.dead_ends == {}
    assert res.sources_only_in_a == ["istio-demo/publictest-v2"]


def test_no_change_no_class(graph_of, tmp_path):
    a = graph_of(simple_mesh_dump())
    b = nx_graph(tmp_path, simple_mesh_dump())
    res = behavior_diff(a, b)
    assert res.changes == [] and res.classes == 0  # same outbound resources: nothing to answer


def test_a_weight_change_shifts_shares(graph_of, tmp_path):
    res = behavior_diff(graph_of(simple_mesh_dump()), nx_graph(tmp_path, simple_mesh_dump(weights=(50, 50))))
    (c,) = res.changes
    assert c.rank == "shifted" and c.sources == ["default/client"]
    assert math.isclose(c.before.clusters[V1], 0.9) and math.isclose(c.after.clusters[V1], 0.5)
    assert f"cluster {V1} 90% → 50%" in c.changes


def missing_v2() -> dict[str, Any]:
    d = simple_mesh_dump()
    for cfg in d["configs"]:
        if cfg["@type"].endswith("ClustersConfigDump"):
            cfg["dynamic_active_clusters"] = [x for x in cfg["dynamic_active_clusters"] if x["cluster"]["name"] != V2]
    return d


def test_a_deleted_subset_is_worse_and_filters_apply(graph_of, tmp_path):
    a, b = graph_of(simple_mesh_dump()), nx_graph(tmp_path, missing_v2())
    (c,) = behavior_diff(a, b).changes
    assert c.rank == "worse" and c.after.dead_ends == {"NC": 0.1}
    assert behavior_diff(a, b, dst="svc:8080").changes and not behavior_diff(a, b, dst="other").changes
    assert behavior_diff(a, b, src="client").changes and not behavior_diff(a, b, src="nobody").changes


def test_a_new_route_is_a_new_class_on_both_sides(graph_of, tmp_path):
    def one(routes: list[dict[str, Any]]) -> dict[str, Any]:
        return dump(listeners=[virtual_outbound(), http_listener(8080)],
                    route_configs=[route_config("8080", [vhost(f"{FQ}:8080", [FQ, "svc", "10.96.0.10"], routes)])],
                    clusters=[cluster(V1), cluster(V2)],
                    endpoints=[cla(V1, [{"ip": "10.1.0.1", "port": 8080}]), cla(V2, [{"ip": "10.1.0.2", "port": 8080}])])

    a = graph_of(one([route(cluster=V1, name="default")]))
    b = nx_graph(tmp_path, one([route("/beta", cluster=V2, name="beta"), route(cluster=V1, name="default")]))
    (c,) = behavior_diff(a, b).changes
    # the example of B's new route, asked of A too: A sends it down `default`
    assert c.request["path"] == "/beta" and c.rank == "rerouted"
    assert c.before.clusters == {V1: 1.0} and c.after.clusters == {V2: 1.0}


def test_cli_behavior_json(tmp_path):
    store = tmp_path / "s"
    r = CliRunner()
    assert r.invoke(app, ["ingest", "--from", str(EXAMPLE), "--store", str(store), "--name", "a"]).exit_code == 0
    assert r.invoke(app, ["ingest", "--from", str(broken_example(tmp_path / "b")), "--store", str(store),
                          "--name", "b"]).exit_code == 0
    out = r.invoke(app, ["diff", "--behavior", "a", "b", "integration", "--store", str(store), "-o", "json"])
    assert out.exit_code == 0, out.output
    doc = orjson.loads(out.stdout)
    assert doc["changes"][0]["rank"] == "broken" and all("istio-demo/integration" in c["sources"]
                                                         for c in doc["changes"])
    t = r.invoke(app, ["diff", "--behavior", "a", "b", "--store", str(store)])
    assert "broken" in t.stdout and "NR 0% → 100%" in t.stdout and "--snapshot a (or b)" in t.stdout
