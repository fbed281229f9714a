"""Mirrors and faults (issue 14, item 4) and filters topo does not follow (item 5), on small dumps.

* ``request_mirror_policies``: shadow traffic with its percentage, not part of the 100 %.
* ``envoy.filters.http.fault``: an abort of 30 % is a dead end ``FI`` of 0.3 and leaves 0.7 to
  the clusters; a delay is shown on the route hop; both in ``-o json`` and the diagram.
* A chain whose terminal filter is not the HCM or tcp_proxy: ``unsupported: FILTER``, never NR;
  unknown ``@type``s of config sections: one note per type.
"""

from __future__ import annotations

import json

import orjson
import pytest
from builders import (
    HCM,
    cla,
    cluster,
    dump,
    listener,
    route,
    route_config,
    simple_mesh_dump,
    vhost,
    virtual_outbound,
)
from typer.testing import CliRunner

from topo.cli import app
from topo.export.dot import egress_graph, path_graph
from topo.ingest.transform import transform_bytes
from topo.queries.path import path
from topo.queries.reach import FAULT, reach

runner = CliRunner()
FQ = "web.default.svc.cluster.local"
WEB, SHADOW = f"outbound|80||{FQ}", "outbound|80||shadow.default.svc.cluster.local"
FAULT_TYPE = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"


def _hcm(rds: str, http_filters: tuple[str, ...] = ("envoy.filters.http.fault", "envoy.filters.http.router")) -> dict:
    return {"filter_chain_match": {"transport_protocol": "raw_buffer", "application_protocols": ["http/1.1", "h2c"]},
            "filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
                "@type": HCM, "rds": {"route_config_name": rds},
                "http_filters": [{"name": n} for n in http_filters]}}]}


def _mesh(rt: dict, *, http_filters: tuple[str, ...] | None = None, vh_extra: dict | None = None) -> dict:
    kw = {} if http_filters is None else {"http_filters": http_filters}
    vh = vhost(f"{FQ}:80", [FQ, "web"], [rt])
    vh.update(vh_extra or {})
    return dump(pod="client-1", listeners=[virtual_outbound(), listener("0.0.0.0_80", "0.0.0.0", 80, [_hcm("80", **kw)])],
                route_configs=[route_config("80", [vh])],
                clusters=[cluster(WEB), cluster(SHADOW)],
                endpoints=[cla(WEB, [{"ip": "10.1.0.1", "port": 8080}, {"ip": "10.1.0.2", "port": 8080}]),
                           cla(SHADOW, [{"ip": "10.1.0.9", "port": 8080}])])


def _fault(abort_million: int | None = 300000, delay_million: int | None = 1000000, **extra) -> dict:
    cfg: dict = {"@type": FAULT_TYPE, **extra}
    if abort_million is not None:
        cfg["abort"] = {"http_status": 503, "percentage": {"numerator": abort_million, "denominator": "MILLION"}}
    if delay_million is not None:
        cfg["delay"] = {"fixed_delay": "2s", "percentage": {"numerator": delay_million, "denominator": "MILLION"}}
    return {"envoy.filters.http.fault": cfg}


def _faulty_route(**kw) -> dict:
    rt = route(cluster=WEB, name="flaky")
    rt["typed_per_filter_config"] = _fault(**kw)
    return rt


def _one(g, dst="web", **kw):
    (a,) = path(g, "client-1", dst, port=80, **kw).answers
    return a


# ---------------------------------------------------------------- mirrors
def test_mirror_is_shadow_traffic_outside_the_100_percent(graph_of):
    rt = route(cluster=WEB, name="primary")
    rt["route"]["request_mirror_policies"] = [
        {"cluster": SHADOW, "runtime_fraction": {"default_value": {"numerator": 500000, "denominator": "MILLION"}}},
        {"cluster": "outbound|80||gone.default.svc.cluster.local"}]
    a = _one(graph_of(_mesh(rt)))
    assert a.outcome == "ok" and not a.dead_ends
    assert sum(e.share for e in a.endpoints) == pytest.approx(1.0)
    assert [(m.cluster, m.fraction, m.share, m.exists) for m in a.mirrors] == [
        ("outbound|80||gone.default.svc.cluster.local", 1.0, 1.0, False), (SHADOW, 0.5, 0.5, True)]


def test_mirror_in_the_table_json_and_diagram(tmp_path, cli_graph, graph_of):
    rt = route(cluster=WEB, name="primary")
    rt["route"]["request_mirror_policies"] = [
        {"cluster": SHADOW, "runtime_fraction": {"default_value": {"numerator": 50}}}]  # HUNDRED by default
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "client-1.json").write_text(json.dumps(_mesh(rt)))
    graph = cli_graph(tmp_path / "d")
    r = runner.invoke(app, ["path", "client-1", "web", "--port", "80", *graph])
    assert r.exit_code == 0 and f"mirror        {SHADOW} 50% of requests copied" in r.stdout
    j = json.loads(runner.invoke(app, ["path", "client-1", "web", "--port", "80", *graph, "-o", "json"]).stdout)
    assert j["answers"][0]["mirrors"] == [{"cluster": SHADOW, "exists": True, "fraction": 0.5, "share": 0.5}]
    dot = path_graph(path(graph_of(_mesh(rt)), "client-1", "web", port=80)).source
    assert "mirror 50%" in dot and "style=dashed" in dot


# ---------------------------------------------------------------- faults
def test_abort_30_is_an_fi_dead_end_and_delay_is_on_the_hop(graph_of):
    a = _one(graph_of(_mesh(_faulty_route())))
    assert a.outcome == "partial"
    assert [(d.flag, round(d.share, 9)) for d in a.dead_ends] == [("FI", 0.3)]
    assert [(c.name, c.fraction, round(c.share, 9)) for c in a.clusters] == [(WEB, 1.0, 0.7)]
    assert sorted((e.address, round(e.share, 9)) for e in a.endpoints) == [("10.1.0.1:8080", 0.35),
                                                                          ("10.1.0.2:8080", 0.35)]
    assert [(f.kind, f.percent, f.http_status, f.duration) for f in a.faults] == [
        ("abort", 30.0, 503, ""), ("delay", 100.0, None, "2s")]
    route_hop = next(h for h in a.hops if h.kind == "route")
    assert route_hop.detail == "/*; fault: abort 30% (503); fault: delay 2s 100%"


def test_fault_in_json_diagram_and_exit_code(tmp_path, cli_graph, graph_of):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "client-1.json").write_text(json.dumps(_mesh(_faulty_route(abort_million=None))))
    graph = cli_graph(tmp_path / "d")
    r = runner.invoke(app, ["path", "client-1", "web", "--port", "80", *graph, "-o", "json"])
    assert r.exit_code == 0  # a delay alone kills nothing
    a = json.loads(r.stdout)["answers"][0]
    assert [(f["kind"], f["percent"], f["duration"]) for f in a["faults"]] == [("delay", 100.0, "2s")]
    dot = path_graph(path(graph_of(_mesh(_faulty_route())), "client-1", "web", port=80)).source
    assert "FI · 30%" in dot and "fault: delay 2s 100%" in dot


def test_fault_needs_the_fault_filter_in_the_chain(graph_of):
    a = _one(graph_of(_mesh(_faulty_route(), http_filters=("envoy.filters.http.router",))))
    assert not a.dead_ends and not a.faults


def test_fault_on_the_virtual_host_and_its_conditions(graph_of):
    a = _one(graph_of(_mesh(route(cluster=WEB, name="r"), vh_extra={"typed_per_filter_config": _fault(500000, None)})))
    assert [(d.flag, d.share) for d in a.dead_ends] == [("FI", 0.5)]
    cond = _mesh(_faulty_route(delay_million=None, headers=[{"name": "x-chaos", "present_match": True}]))
    g = graph_of(cond)
    assert not _one(g).dead_ends
    assert [d.flag for d in _one(g, headers={"x-chaos": "1"}).dead_ends] == ["FI"]


def test_reach_shares_and_the_fault_entry(graph_of):
    g = graph_of(_mesh(_faulty_route()))
    entries = reach(g, "client-1").answers[0].entries
    assert sorted((e.cluster, e.endpoint, round(e.share, 9), e.flag) for e in entries if e.destination == f"{FQ}:80") == [
        (FAULT, None, 0.3, "FI"), (WEB, "10.1.0.1:8080", 0.35, None), (WEB, "10.1.0.2:8080", 0.35, None)]
    assert "FI" in egress_graph(reach(g, "client-1")).source


# ---------------------------------------------------------------- unsupported filters
REDIS = {"name": "envoy.filters.network.redis_proxy",
         "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.network.redis_proxy.v3.RedisProxy",
                          "stat_prefix": "redis", "prefix_routes": {"catch_all_route": {"cluster": "redis"}}}}
DUBBO = {"name": "envoy.filters.network.meta_protocol_proxy", "typed_config": {
    "@type": "type.googleapis.com/udpa.type.v1.TypedStruct",
    "type_url": "type.googleapis.com/aeraki.meta_protocol_proxy.v1alpha.MetaProtocolProxy", "value": {}}}


@pytest.mark.parametrize(("filters", "name"), [
    ([REDIS], "envoy.filters.network.redis_proxy"),
    ([{"name": "istio.metadata_exchange"}, DUBBO], "envoy.filters.network.meta_protocol_proxy"),
    ([{"typed_config": {"@type": "type.googleapis.com/cilium.NetworkFilter"}}], "cilium.NetworkFilter"),
])
def test_unknown_terminal_filters_are_unsupported_not_nr(graph_of, filters, name):
    lst = listener("10.96.0.7_6379", "10.96.0.7", 6379, [{"name": "redis-chain", "filters": filters}],
                   http_inspector=False)
    g = graph_of(dump(pod="client-1", listeners=[virtual_outbound(), lst]))
    (a,) = path(g, "client-1", "10.96.0.7:6379", tcp=True).answers
    assert a.outcome == "ok" and not a.dead_ends
    assert [(u.filter, u.share, u.listener, u.chain) for u in a.unsupported] == [
        (name, 1.0, "10.96.0.7_6379", "redis-chain")]


def test_cli_unsupported_line(tmp_path, cli_graph):
    lst = listener("10.96.0.7_6379", "10.96.0.7", 6379, [{"name": "redis-chain", "filters": [REDIS]}],
                   http_inspector=False)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "client-1.json").write_text(json.dumps(dump(pod="client-1", listeners=[virtual_outbound(), lst])))
    r = runner.invoke(app, ["path", "client-1", "10.96.0.7:6379", "--tcp", *cli_graph(tmp_path / "d")])
    assert r.exit_code == 0, r.output
    assert ("unsupported: envoy.filters.network.redis_proxy (listener 10.96.0.7_6379 chain redis-chain) takes 100%"
            in r.stdout) and "NR" not in r.stdout


def test_unknown_config_types_get_one_note_per_type():
    doc = simple_mesh_dump()
    for _ in range(3):
        doc["configs"].append({"@type": "type.googleapis.com/cilium.NetworkPoliciesConfigDump", "networkpolicies": []})
    doc["configs"].append({"@type": "type.googleapis.com/kuma.Thing"})
    notes = transform_bytes(orjson.dumps(doc), "x.json").notes
    assert [n for n in notes if "unknown @type" in n] == [
        "skipped unknown @type 'type.googleapis.com/cilium.NetworkPoliciesConfigDump' (3 entries)",
        "skipped unknown @type 'type.googleapis.com/kuma.Thing'"]
