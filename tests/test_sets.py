"""ResourceSets: proxy configs share their outbound sets, keep their dump order, and resolve
by-name references inside themselves (topo.model.schema), on both backends."""

from __future__ import annotations

import orjson
from builders import (
    cla,
    cluster,
    dump,
    http_listener,
    listener,
    simple_mesh_dump,
    tcp_chain,
    two_versions_dumps,
    virtual_outbound,
)
from conftest import rows_of

from topo.model.names import expand_runs, resource_part, runs
from topo.queries.path import path


def with_inbound(doc: dict, port: int) -> dict:
    """The simple mesh plus a workload-specific inbound cluster and listener."""
    name = f"inbound|{port}||"
    for c in doc["configs"]:
        if c["@type"].endswith("ClustersConfigDump"):
            c["dynamic_active_clusters"].insert(0, {"cluster": cluster(name, type_="ORIGINAL_DST")})
        if c["@type"].endswith("ListenersConfigDump"):
            inbound = listener("virtualInbound", "0.0.0.0", 15006, [tcp_chain(name)], bind=None)
            inbound["traffic_direction"] = "INBOUND"
            c["dynamic_listeners"].append({"name": "virtualInbound", "active_state": {"listener": inbound}})
    return doc


def test_runs_round_trip():
    for pos in ([], [0], [0, 1, 2, 7], [3, 5, 6, 9, 10, 11]):
        assert expand_runs(runs(pos)) == pos
    assert runs([0, 1, 2, 7]) == [0, 3, 7, 1]


def test_parts_follow_istio_naming():
    assert resource_part("cluster", "inbound|9080||", "active") == "inbound"
    assert resource_part("cluster", "outbound|9080||reviews.default.svc.cluster.local", "active") == "outbound"
    assert resource_part("cluster", "prometheus_stats", "static") == "static"
    assert resource_part("listener", "virtualInbound", "active") == "inbound"
    assert resource_part("listener", "10.0.0.1_9080", "active", "INBOUND") == "inbound"
    assert resource_part("route_config", "inbound|9080||", "static") == "inbound"


def test_outbound_sets_are_shared_across_workloads(graph_of):
    a = with_inbound(simple_mesh_dump(pod="alpha-1", ip="10.0.0.1"), 7001)
    b = with_inbound(simple_mesh_dump(pod="beta-1", ip="10.0.0.2"), 7002)
    rows, g = rows_of(a, b), graph_of(a, b)
    configs = {p["config"] for p in g.pods()}
    assert len(configs) == 2
    sets = rows.nodes["ResourceSet"]
    by_kind_part: dict[tuple[str, str], int] = {}
    for s in sets.values():
        by_kind_part[(s["kind"], s["part"])] = by_kind_part.get((s["kind"], s["part"]), 0) + 1
    # one outbound set of each kind for both configs, one inbound set per workload
    assert by_kind_part[("cluster", "outbound")] == 1 and by_kind_part[("listener", "outbound")] == 1
    assert by_kind_part[("cluster", "inbound")] == 2 and by_kind_part[("listener", "inbound")] == 2
    # membership is stored once per set, not once per config
    n_clusters = len(rows.nodes["Cluster"])
    assert len(rows.rels["HAS_CLUSTER"]) == n_clusters
    # and each config still sees exactly its own resources
    for c in configs:
        names = [x["name"] for x in g.config_clusters(c)]
        assert len([n for n in names if n.startswith("inbound|")]) == 1
    for pod in ("alpha-1", "beta-1"):
        (ans,) = path(g, pod, "svc", port=8080).answers
        assert round(sum(e.share for e in ans.endpoints), 9) == 1


def test_members_come_back_in_dump_order(graph_of):
    doc = with_inbound(simple_mesh_dump(pod="alpha-1"), 7001)
    for c in doc["configs"]:
        if c["@type"].endswith("ClustersConfigDump"):
            # interleave the parts: static, inbound and outbound entries alternate
            c["static_clusters"] = [{"cluster": cluster("agent", type_="STATIC")}]
            act = c["dynamic_active_clusters"]
            act.insert(2, {"cluster": cluster("inbound|7009||", type_="ORIGINAL_DST")})
            want_dynamic = [x["cluster"]["name"] for x in act]
    g = graph_of(doc)
    (config,) = {p["config"] for p in g.pods()}
    got = [c["name"] for c in g.config_clusters(config)]
    assert sorted(got) == sorted(want_dynamic + ["agent"])
    assert [n for n in got if n != "agent"] == want_dynamic
    listeners = [l["name"] for l in g.listeners(config)]
    assert listeners == ["virtualOutbound", "0.0.0.0_8080", "virtualInbound"]


def test_a_name_resolves_to_the_entry_in_force_in_each_config(graph_of):
    a, b = two_versions_dumps()
    rows, g = rows_of(a, b), graph_of(a, b)
    # the route's by-name reference points at both versions, once each
    assert len(rows.rels["ROUTES_TO"]) == 2
    picks = [orjson.loads(p["picks"]) for p in rows.nodes["ProxyConfig"].values() if p["picks"]]
    assert len(picks) == 1 and list(picks[0]) == ["cluster"]
    ends = {pod: [e.address for e in path(g, pod, "svc", port=8080).answers[0].endpoints] for pod in ("a-1", "b-1")}
    assert ends == {"a-1": ["10.1.0.1:8080"], "b-1": ["10.1.0.9:8080"]}


def test_virtual_outbound_hands_off_within_its_config(graph_of):
    # two configs: a's listener on 9090 exists only there; b's hand-off must not find it
    a = dump(pod="a-1", listeners=[virtual_outbound(), http_listener(9090)],
             clusters=[cluster("outbound|9090||x.default.svc.cluster.local")],
             endpoints=[cla("outbound|9090||x.default.svc.cluster.local", [{"ip": "10.2.0.1", "port": 9090}])])
    b = dump(pod="b-1", ip="10.0.0.2", listeners=[virtual_outbound()])
    g = graph_of(a, b)
    cfg_b = next(p["config"] for p in g.pods() if p["name"] == "b-1")
    assert [l["name"] for l in g.listeners(cfg_b)] == ["virtualOutbound"]
