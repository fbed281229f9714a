"""Named inline route configs (issue 14, item 2) and dumps without EDS (item 3), on small dumps.

* An HTTP connection manager's inline ``route_config`` is the chain's own, named or not, even when
  Envoy also lists it under ``static_route_configs`` (§4); counted once.
* A dump taken without ``include_eds`` is not a dead end: the cluster and its share are known, its
  endpoints are not. `path` exits 0, `reach --to` still finds the sources, the diagram says
  "endpoints unknown"; non-Istio cluster names are targets too.
"""

from __future__ import annotations

import json

from builders import (
    ADMIN,
    HCM,
    cla,
    cluster,
    dump,
    hcm_chain,
    listener,
    route,
    route_config,
    vhost,
    virtual_outbound,
)
from typer.testing import CliRunner

from topo.cli import app
from topo.export.dot import path_graph
from topo.ingest import pipeline, sources
from topo.queries.path import path
from topo.queries.reach import reach_to

runner = CliRunner()


def _inline(rc: dict) -> dict:
    return {"filters": [{"name": "envoy.filters.network.http_connection_manager",
                         "typed_config": {"@type": HCM, "stat_prefix": "ingress", "route_config": rc}}]}


def _envoy_with_named_inline(name: str = "local_route") -> dict:
    """Plain Envoy's classic front proxy: one listener with an inline, named route config, which
    Envoy's admin also prints under static_route_configs."""
    rc = route_config(name, [vhost("backend", ["*"], [route(cluster="service_backend", name="to-backend")])],
                      ignore_port=False)
    lst = listener("listener_0", "0.0.0.0", 10000, [_inline(rc)], bind=True, http_inspector=False)
    d = dump(pod="front", listeners=[lst],
             clusters=[cluster("service_backend", type_="STRICT_DNS",
                               load_assignment=cla("service_backend", [{"ip": "backend", "port": 8080}]))])
    routes = next(c for c in d["configs"] if c["@type"] == ADMIN + "RoutesConfigDump")
    routes["static_route_configs"] = [{"route_config": rc}]
    boot = next(c for c in d["configs"] if c["@type"].endswith("BootstrapConfigDump"))
    boot["bootstrap"]["node"] = {"id": "front-envoy", "cluster": "front"}
    return d


def test_a_named_inline_route_config_is_the_chains_own(graph_of):
    g = graph_of(_envoy_with_named_inline())
    (a,) = path(g, "front-envoy", "10.0.0.9:10000", host="anything").answers
    assert a.outcome == "ok" and not a.dead_ends
    assert [(h.kind, h.name) for h in a.hops if h.kind in ("route_config", "route")] == [
        ("route_config", "local_route"), ("route", "to-backend")]
    assert [(e.address, e.share) for e in a.endpoints] == [("backend:8080", 1.0)]


def test_two_listeners_with_inline_configs_of_one_name(graph_of):
    """Istio's inbound chains each carry an inline `inbound|8080||`: every chain takes its own."""
    def rc(cl: str) -> dict:
        return route_config("inbound|8080||", [vhost("inbound|http|8080", ["*"], [route(cluster=cl, name=cl)])],
                            ignore_port=False)
    a = listener("a", "0.0.0.0", 8080, [_inline(rc("ca"))], bind=True, http_inspector=False)
    b = listener("b", "0.0.0.0", 8081, [_inline(rc("cb"))], bind=True, http_inspector=False)
    d = dump(pod="p", listeners=[a, b], clusters=[cluster("ca", type_="STRICT_DNS", load_assignment=cla("ca", [
        {"ip": "10.0.0.1", "port": 1}])), cluster("cb", type_="STRICT_DNS", load_assignment=cla("cb", [
            {"ip": "10.0.0.2", "port": 2}]))])
    next(c for c in d["configs"] if c["@type"] == ADMIN + "RoutesConfigDump")["static_route_configs"] = [
        {"route_config": rc("ca")}, {"route_config": rc("cb")}]
    g = graph_of(d)
    assert [e.address for e in path(g, "p", "10.0.0.9:8080", host="x").answers[0].endpoints] == ["10.0.0.1:1"]
    assert [e.address for e in path(g, "p", "10.0.0.9:8081", host="x").answers[0].endpoints] == ["10.0.0.2:2"]


def test_a_named_inline_route_config_counts_once(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "config_dump").write_text(json.dumps(_envoy_with_named_inline()))
    s = pipeline.summary_dict(pipeline.transform_all(sources.from_path(tmp_path / "d")))
    assert s["in_dumps"]["route_configs"] == 1 and s["in_graph"]["route_configs"] == 1
    r = runner.invoke(app, ["ingest", "--from", str(tmp_path / "d"), "--store", str(tmp_path / "st")])
    assert r.exit_code == 0 and "route configs  1         1" in r.stdout
    r = runner.invoke(app, ["path", "front-envoy", "10.0.0.9:10000", "--store", str(tmp_path / "st")])
    assert r.exit_code == 0, r.output
    assert "missing" not in r.stdout and "route config  local_route" in r.stdout


# ---------------------------------------------------------------- dumps without EDS
FQ = "svc.default.svc.cluster.local"
C1, C2 = f"outbound|8080|v1|{FQ}", f"outbound|8080|v2|{FQ}"


def _no_eds(pod: str = "client-abc") -> dict:
    """A sidecar dumped without include_eds: EDS clusters, no endpoint section, a 90/10 split."""
    return dump(pod=pod, listeners=[virtual_outbound(), listener("0.0.0.0_8080", "0.0.0.0", 8080, [
        hcm_chain("8080", match={"transport_protocol": "raw_buffer", "application_protocols": ["http/1.1", "h2c"]})])],
                route_configs=[route_config("8080", [vhost(f"{FQ}:8080", [FQ, "svc"],
                                                           [route(clusters=[(C1, 90), (C2, 10)], name="split")])])],
                clusters=[cluster(C1), cluster(C2)], endpoints=None)


def test_a_dump_without_eds_is_not_a_dead_end(graph_of):
    (a,) = path(graph_of(_no_eds()), "client-abc", "svc", port=8080).answers
    assert a.outcome == "ok" and not a.dead_ends
    assert [(c.name, c.share, c.endpoints_unknown, c.flag) for c in a.clusters] == [
        (C1, 0.9, True, None), (C2, 0.1, True, None)]
    assert a.endpoints == [] and a.endpoints_unknown == 1.0


def test_cli_path_without_eds_exits_0_and_says_endpoints_unknown(tmp_path, cli_graph):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "client-abc.json").write_text(json.dumps(_no_eds()))
    graph = cli_graph(tmp_path / "d")
    r = runner.invoke(app, ["path", "client-abc", "svc", "--port", "8080", *graph])
    assert r.exit_code == 0, r.output
    assert "dead end" not in r.stdout and "NOEDS" not in r.stdout
    assert r.stdout.count("(endpoints unknown)") == 2
    assert "endpoints unknown for 100%: the dump has no EDS section" in r.stdout
    j = json.loads(runner.invoke(app, ["path", "client-abc", "svc", "--port", "8080", *graph, "-o", "json"]).stdout)
    assert j["answers"][0]["outcome"] == "ok" and j["answers"][0]["dead_ends"] == []
    assert [c["endpoints_unknown"] for c in j["answers"][0]["clusters"]] == [True, True]


def test_the_diagram_draws_unknown_endpoints_as_unknown(graph_of):
    dot = path_graph(path(graph_of(_no_eds()), "client-abc", "svc", port=8080)).source
    assert "endpoints unknown" in dot and "every request dies" not in dot and "octagon" not in dot
    assert "no dead end; endpoints unknown for 100% (no EDS in the dump)" in dot


def test_reach_to_finds_sources_whose_clusters_lead_to_the_service_without_eds(graph_of):
    g = graph_of(_no_eds())
    rows = reach_to(g, FQ).rows
    assert [(r.cluster, r.endpoint, r.share) for r in rows] == [(C1, None, 0.9), (C2, None, 0.1)]
    assert [(r.cluster, r.share) for r in reach_to(g, C2).rows] == [(C2, 0.1)]


def test_reach_to_takes_non_istio_cluster_names(graph_of):
    """Plain Envoy and Gloo name clusters freely: `localhost:10011`, `gateway`."""
    lst = listener("l", "0.0.0.0", 9000, [hcm_chain("r")], bind=True, http_inspector=False)
    d = dump(pod="edge", listeners=[lst],
             route_configs=[route_config("r", [vhost("all", ["*"], [
                 route("/admin", cluster="localhost:10011", name="admin"), route(cluster="gateway", name="rest")])])],
             clusters=[cluster("localhost:10011", type_="STATIC",
                               load_assignment=cla("localhost:10011", [{"ip": "127.0.0.1", "port": 10011}])),
                       cluster("gateway")], endpoints=None)
    g = graph_of(d)
    assert [(r.route, r.endpoint) for r in reach_to(g, "localhost:10011").rows] == [("admin", "127.0.0.1:10011")]
    assert [(r.route, r.endpoint, r.share) for r in reach_to(g, "gateway").rows] == [("rest", None, 1.0)]
