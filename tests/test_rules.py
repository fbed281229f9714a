"""Envoy's matching rules, each on a small hand-built config (ENVOY-SEMANTICS.md §2–§9), on both backends."""

from __future__ import annotations

import math

import pytest
from builders import (
    cla,
    cluster,
    dump,
    hcm_chain,
    http_listener,
    listener,
    route,
    route_config,
    simple_mesh_dump,
    tcp_chain,
    vhost,
    virtual_outbound,
)

from topo.errors import TopoError
from topo.queries import envoy
from topo.queries.path import path

FQ = "svc.default.svc.cluster.local"


def shares(res) -> dict[str, float]:
    (a,) = res.answers
    return {e.address: round(e.share, 9) for e in a.endpoints}


def total(res) -> float:
    (a,) = res.answers
    return sum(e.share for e in a.endpoints) + sum(d.share for d in a.dead_ends)


# ---------------------------------------------------------------- §2 hand-off
def test_exact_ip_port_listener_beats_wildcard(graph_of):
    doc = simple_mesh_dump()
    lds = doc["configs"][-2]["dynamic_listeners"]
    vip = listener("10.96.0.10_8080", "10.96.0.10", 8080, [tcp_chain(f"outbound|8080|v2|{FQ}")])
    lds.append({"name": vip["name"], "active_state": {"listener": vip}})
    r = path(graph_of(doc), "client-abc", "10.96.0.10:8080")
    (a,) = r.answers
    assert [h.name for h in a.hops][:2] == ["virtualOutbound", "10.96.0.10_8080"]
    assert shares(r) == {"10.1.0.3:8080": 1.0}
    # another IP on the same port falls back to 0.0.0.0_8080
    r2 = path(graph_of(doc), "client-abc", "10.96.0.99:8080", host="svc")
    assert r2.answers[0].hops[1].name == "0.0.0.0_8080"


def test_warming_listener_takes_no_handoff(graph_of):
    doc = simple_mesh_dump()
    lds = doc["configs"][-2]["dynamic_listeners"]
    vip = listener("10.96.0.10_8080", "10.96.0.10", 8080, [tcp_chain(f"outbound|8080|v2|{FQ}")])
    lds.append({"name": vip["name"], "warming_state": {"listener": vip}})
    r = path(graph_of(doc), "client-abc", "svc")
    assert r.answers[0].hops[1].name == "0.0.0.0_8080"


def test_no_listener_stays_on_virtual_outbound_passthrough(graph_of):
    r = path(graph_of(simple_mesh_dump()), "client-abc", "10.50.0.1:5432", tcp=True)
    (a,) = r.answers
    assert a.hops[-1].name == "virtualOutbound-catchall-tcp"
    assert [(d.flag, d.share) for d in a.dead_ends] == [("PassthroughCluster", 1.0)]
    assert a.outcome == "dead_end"


def test_virtual_outbound_blackhole_chain_on_15001(graph_of):
    r = path(graph_of(simple_mesh_dump()), "client-abc", "10.50.0.1:15001", tcp=True)
    assert [d.flag for d in r.answers[0].dead_ends] == ["BlackHole"]


# ---------------------------------------------------------------- §3 chain sieve
def _chain(**kw):
    base = {"index": 0, "is_default": False, "destination_port": None, "prefix_ranges": [], "server_names": [],
            "transport_protocol": "", "application_protocols": [], "source_match": None, "name": ""}
    base.update(kw)
    return base


def test_sieve_destination_port_never_backtracks():
    req = envoy.Request(ip="10.0.0.5", port=9000, host="x")
    lst = {"listener_filters": []}
    port_chain = _chain(index=0, destination_port=9000, server_names=["only.sni"])
    portless = _chain(index=1)
    default = _chain(index=-1, is_default=True, name="default")
    # the port bucket wins, fails on SNI, and Envoy goes to the default, not to `portless`
    assert envoy.select_chain([port_chain, portless, default], req, lst)["name"] == "default"
    assert envoy.select_chain([port_chain, portless], req, lst) is None


def test_sieve_longest_prefix_beats_alpn():
    req = envoy.Request(ip="10.0.0.5", port=80, host="x")
    lst = {"listener_filters": ["envoy.filters.listener.http_inspector"]}
    cidr = _chain(index=0, prefix_ranges=["10.0.0.0/24"], name="cidr")
    http = _chain(index=1, transport_protocol="raw_buffer", application_protocols=["http/1.1", "h2c"], name="http")
    assert envoy.select_chain([http, cidr], req, lst)["name"] == "cidr"
    other = envoy.Request(ip="10.9.0.5", port=80, host="x")
    assert envoy.select_chain([http, cidr], other, lst)["name"] == "http"


def test_sieve_alpn_needs_http_inspector():
    req = envoy.Request(ip="10.0.0.5", port=80, host="x")
    http = _chain(index=0, application_protocols=["http/1.1"], name="http")
    tcp = _chain(index=1, name="tcp")
    assert envoy.select_chain([http, tcp], req, {"listener_filters": ["envoy.filters.listener.http_inspector"]})["name"] == "http"
    assert envoy.select_chain([http, tcp], req, {"listener_filters": []})["name"] == "tcp"


# ---------------------------------------------------------------- §5 virtual hosts
VH = [
    {"name": "star", "domains": ["*"]},
    {"name": "prefix-short", "domains": ["api.*"]},
    {"name": "prefix-long", "domains": ["api.example.*"]},
    {"name": "suffix-short", "domains": ["*.com"]},
    {"name": "suffix-long", "domains": ["*.example.com"]},
    {"name": "exact", "domains": ["api.example.com", "withport:9000"]},
]


@pytest.mark.parametrize("host,ignore,want", [
    ("api.example.com", False, "exact"),
    ("API.Example.COM", False, "exact"),
    ("www.example.com", False, "suffix-long"),
    ("www.other.com", False, "suffix-short"),
    ("api.example.org", False, "prefix-long"),  # suffix beats prefix only when a suffix matches
    ("api.zzz", False, "prefix-short"),
    ("nothing", False, "star"),
    ("api.example.com:8080", True, "exact"),
    ("api.example.com:8080", False, "prefix-long"),
    ("withport:9000", False, "exact"),
    ("withport:9000", True, "star"),  # with ignore_port the domain `withport:9000` can never match
])
def test_vhost_order(host, ignore, want):
    assert envoy.select_vhost(VH, host, ignore)["name"] == want


def test_vhost_suffix_needs_one_character():
    assert envoy.select_vhost([{"name": "s", "domains": ["*.example.com"]}], ".example.com", False) is None


def test_vhost_ports_by_istio_version(graph_of):
    """≤1.15: domains carry :port and Host keeps it; ≥1.16 ignore_port_in_host_matching strips it."""
    old = simple_mesh_dump()
    rc = old["configs"][-1]["dynamic_route_configs"][0]["route_config"]
    rc.pop("ignore_port_in_host_matching")
    vh = rc["virtual_hosts"][0]
    vh["domains"] = vh["domains"] + [d + ":8080" for d in vh["domains"]]
    r = path(graph_of(old), "client-abc", "svc")  # Host svc:8080 matches the `svc:8080` domain exactly
    assert r.answers[0].hops[4].name == f"{FQ}:8080"
    new = simple_mesh_dump()
    r = path(graph_of(new), "client-abc", "svc")  # Host svc:8080 → stripped → `svc`
    assert r.answers[0].hops[4].name == f"{FQ}:8080"


def test_unknown_host_on_shared_port_goes_to_allow_any(graph_of):
    r = path(graph_of(simple_mesh_dump()), "client-abc", "svc", host="elsewhere.example")
    assert r.answers[0].hops[4].name == "allow_any"
    assert [d.flag for d in r.answers[0].dead_ends] == ["PassthroughCluster"]


def test_no_vhost_is_nr(graph_of):
    doc = simple_mesh_dump()
    rc = doc["configs"][-1]["dynamic_route_configs"][0]["route_config"]
    rc["virtual_hosts"] = rc["virtual_hosts"][:1]
    r = path(graph_of(doc), "client-abc", "svc", host="elsewhere.example")
    assert [d.flag for d in r.answers[0].dead_ends] == ["NR"]


# ---------------------------------------------------------------- §6 routes
def _routes_doc(routes):
    doc = simple_mesh_dump()
    rc = doc["configs"][-1]["dynamic_route_configs"][0]["route_config"]
    rc["virtual_hosts"][0]["routes"] = routes
    return doc


C1, C2, C0 = f"outbound|8080|v1|{FQ}", f"outbound|8080|v2|{FQ}", f"outbound|8080||{FQ}"


def test_first_match_wins_and_path_kinds(graph_of):
    doc = _routes_doc([
        route(name="exact", match={"path": "/exact"}, cluster=C2),
        route(name="regex", match={"safe_regex": {"regex": "/re/[0-9]+"}}, cluster=C2),
        route("/api", name="api", cluster=C1),
        route("/", name="all", cluster=C0),
        route("/api/v2", name="shadowed", cluster=C2),
    ])
    g = graph_of(doc)

    def route_of(p, **kw):
        return path(g, "client-abc", "svc", req_path=p, **kw).answers[0].hops[5].name

    assert route_of("/exact") == "exact"
    assert route_of("/exact/more") == "all"
    assert route_of("/exact?x=1") == "exact"  # query removed before an exact path match
    assert route_of("/re/123") == "regex"
    assert route_of("/re/12a") == "all"  # RE2 full match
    assert route_of("/api/v2/x") == "api"  # the earlier prefix shadows /api/v2
    assert route_of("/") == "all"


def test_header_and_method_match(graph_of):
    doc = _routes_doc([
        route(name="canary", match={"prefix": "/", "headers": [{"name": "x-canary", "string_match": {"exact": "yes"}}]},
              cluster=C2),
        route(name="post", match={"prefix": "/", "headers": [{"name": ":method", "string_match": {"exact": "POST"}}]},
              cluster=C1),
        route(name="absent", match={"prefix": "/", "headers": [{"name": "x-user", "present_match": True,
                                                                   "invert_match": True}]}, cluster=C0),
        route("/", name="rest", cluster=C0),
    ])
    g = graph_of(doc)

    def route_of(**kw):
        return path(g, "client-abc", "svc", **kw).answers[0].hops[5].name

    assert route_of(headers={"X-Canary": "yes"}) == "canary"
    assert route_of(headers={"x-canary": "no"}, method="post") == "post"
    assert route_of(headers={"x-user": "a"}) == "rest"
    assert route_of() == "absent"


def test_no_route_is_nr(graph_of):
    r = path(graph_of(_routes_doc([route("/only", name="only", cluster=C0)])), "client-abc", "svc", req_path="/else")
    assert [d.flag for d in r.answers[0].dead_ends] == ["NR"]


def test_weighted_clusters_ignore_total_weight(graph_of):
    doc = _routes_doc([{"name": "w", "match": {"prefix": "/"}, "route": {"weighted_clusters": {
        "clusters": [{"name": C1, "weight": 1}, {"name": C2, "weight": 3}], "total_weight": 100}}}])
    r = path(graph_of(doc), "client-abc", "svc")
    fr = {c.name: c.fraction for c in r.answers[0].clusters}
    assert fr == {C1: 0.25, C2: 0.75}
    assert math.isclose(total(r), 1.0, abs_tol=1e-9)


def test_zero_weight_never_chosen_and_zero_sum_is_a_dead_end(graph_of):
    r = path(graph_of(_routes_doc([route(name="z", clusters=[(C1, 0), (C2, 5)])])), "client-abc", "svc")
    assert [c.name for c in r.answers[0].clusters] == [C2]
    r = path(graph_of(_routes_doc([route(name="z", clusters=[(C1, 0), (C2, 0)])])), "client-abc", "svc")
    assert [d.flag for d in r.answers[0].dead_ends] == ["NC"]


def test_missing_cluster_is_nc_and_shares_sum_to_one(graph_of):
    r = path(graph_of(_routes_doc([route(name="w", clusters=[(C1, 70), ("outbound|8080|v9|" + FQ, 30)])])),
             "client-abc", "svc")
    (a,) = r.answers
    assert [(d.flag, round(d.share, 9)) for d in a.dead_ends] == [("NC", 0.3)]
    assert a.outcome == "partial"
    assert shares(r) == {"10.1.0.1:8080": 0.35, "10.1.0.2:8080": 0.35}


# ---------------------------------------------------------------- §8 shares
def test_endpoint_weights(graph_of):
    r = path(graph_of(simple_mesh_dump(weights=(100, 0), v1=[
        {"ip": "10.1.0.1", "port": 8080, "weight": 1}, {"ip": "10.1.0.2", "port": 8080, "weight": 3}])),
        "client-abc", "svc")
    assert shares(r) == {"10.1.0.1:8080": 0.25, "10.1.0.2:8080": 0.75}


def test_unhealthy_excluded_above_panic_threshold(graph_of):
    v1 = [{"ip": f"10.1.0.{i}", "port": 8080} for i in (1, 2)] + [{"ip": "10.1.0.9", "port": 8080, "health": "UNHEALTHY"}]
    r = path(graph_of(simple_mesh_dump(v1=v1)), "client-abc", "svc")
    assert shares(r)["10.1.0.1:8080"] == 0.45 and "10.1.0.9:8080" not in shares(r)


def test_panic_spreads_over_all_hosts_unless_disabled(graph_of):
    v1 = [{"ip": "10.1.0.1", "port": 8080}] + [
        {"ip": f"10.1.0.{i}", "port": 8080, "health": "UNHEALTHY"} for i in (8, 9)]
    r = path(graph_of(simple_mesh_dump(v1=v1)), "client-abc", "svc")  # threshold absent: 50 → panic
    assert shares(r) == {"10.1.0.1:8080": 0.3, "10.1.0.8:8080": 0.3, "10.1.0.9:8080": 0.3, "10.1.0.3:8080": 0.1}
    doc = simple_mesh_dump(v1=v1)
    for c in doc["configs"][1]["dynamic_active_clusters"]:
        c["cluster"]["common_lb_config"] = {"healthy_panic_threshold": {}}  # `{}` is 0: panic disabled
    r = path(graph_of(doc), "client-abc", "svc")
    assert shares(r) == {"10.1.0.1:8080": 0.9, "10.1.0.3:8080": 0.1}


def test_priority_failover(graph_of):
    v1 = [{"ip": "10.1.0.1", "port": 8080, "priority": 0, "health": "UNHEALTHY"},
          {"ip": "10.1.0.2", "port": 8080, "priority": 0, "health": "UNHEALTHY"},
          {"ip": "10.2.0.1", "port": 8080, "priority": 1, "zone": "z2"}]
    doc = simple_mesh_dump(v1=v1, weights=(100, 0))
    for c in doc["configs"][1]["dynamic_active_clusters"]:
        c["cluster"]["common_lb_config"] = {"healthy_panic_threshold": {}}
    r = path(graph_of(doc), "client-abc", "svc")
    assert shares(r) == {"10.2.0.1:8080": 1.0}


def test_priority_partial_spill(graph_of):
    """P0 with 1 of 2 healthy: health 70, NTA 100 → P0 70%, P1 30% (§8 steps 2–4)."""
    v1 = [{"ip": "10.1.0.1", "port": 8080}, {"ip": "10.1.0.2", "port": 8080, "health": "UNHEALTHY"},
          {"ip": "10.2.0.1", "port": 8080, "priority": 1, "zone": "z2"}]
    r = path(graph_of(simple_mesh_dump(v1=v1, weights=(100, 0))), "client-abc", "svc")
    assert shares(r) == {"10.1.0.1:8080": 0.7, "10.2.0.1:8080": 0.3}


def test_empty_cluster_is_uh(graph_of):
    r = path(graph_of(simple_mesh_dump(v2=[])), "client-abc", "svc")
    (a,) = r.answers
    assert [(d.flag, round(d.share, 9)) for d in a.dead_ends] == [("UH", 0.1)]
    assert math.isclose(total(r), 1.0, abs_tol=1e-9)


def test_endpoint_share_function_directly():
    c = {"overprovisioning_factor": 140, "panic_threshold": None}
    eps = [{"key": str(i), "health": "HEALTHY", "weight": 1, "priority": 0} for i in range(3)]
    got = envoy.endpoint_shares(c, eps)
    assert all(math.isclose(v, 1 / 3) for v in got.values())
    assert envoy.endpoint_shares(c, eps, failed=frozenset({"0", "1", "2"})) == {}


# ---------------------------------------------------------------- destinations and pods
def test_destination_forms_agree(graph_of):
    g = graph_of(simple_mesh_dump())
    want = shares(path(g, "client-abc", "svc"))
    for dst in ("svc", "svc.default", f"{FQ}", "http://svc:8080/", "10.96.0.10:8080"):
        got = path(g, "client-abc", dst, host="svc" if dst.startswith("10.") else None)
        assert shares(got) == want, dst


def test_endpoint_pod_is_found_by_ip(graph_of):
    client = simple_mesh_dump()
    server = dump(pod="svc-v2-1", ip="10.1.0.3", listeners=[virtual_outbound()], clusters=[cluster("x", type_="STATIC")])
    r = path(graph_of(client, server), "client-abc", "svc")
    pods = {e.address: e.pod for e in r.answers[0].endpoints}
    assert pods["10.1.0.3:8080"] == "default/svc-v2-1" and pods["10.1.0.1:8080"] is None


def test_workload_with_two_configs_answers_twice(graph_of):
    a = simple_mesh_dump(pod="client-a", labels={"app": "client"})
    b = simple_mesh_dump(pod="client-b", labels={"app": "client"}, weights=(50, 50))
    r = path(graph_of(a, b), "client", "svc")
    assert len(r.answers) == 2
    assert sorted(a.pods[0] for a in r.answers) == ["default/client-a", "default/client-b"]


def test_unknown_source_and_destination_are_one_line_errors(graph_of):
    g = graph_of(simple_mesh_dump())
    with pytest.raises(TopoError, match="no ingested pod"):
        path(g, "nobody", "svc")
    with pytest.raises(TopoError, match="unknown destination"):
        path(g, "client-abc", "nothere")


def test_tcp_weighted_listener(graph_of):
    doc = simple_mesh_dump()
    lds = doc["configs"][-2]["dynamic_listeners"]
    l = listener("10.96.0.20_3306", "10.96.0.20", 3306, [tcp_chain([(C1, 1), (C2, 1)])], http_inspector=False)
    lds.append({"name": l["name"], "active_state": {"listener": l}})
    r = path(graph_of(doc), "client-abc", "10.96.0.20:3306", tcp=True)
    assert shares(r) == {"10.1.0.1:8080": 0.25, "10.1.0.2:8080": 0.25, "10.1.0.3:8080": 0.5}


def test_inline_route_config_is_followed(graph_of):
    doc = dump(listeners=[virtual_outbound(), listener("0.0.0.0_7000", "0.0.0.0", 7000, [{
        "filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
            "route_config": route_config("inline", [vhost("all", ["*"], [route(cluster=C0)])])}}]}])],
        clusters=[cluster(C0)], endpoints=[cla(C0, [{"ip": "10.1.1.1", "port": 7000}])])
    r = path(graph_of(doc), "client-abc", "10.7.7.7:7000")
    assert shares(r) == {"10.1.1.1:7000": 1.0}


def test_missing_rds_is_reported(graph_of):
    doc = dump(listeners=[virtual_outbound(), http_listener(9090)], clusters=[])
    r = path(graph_of(doc), "client-abc", "10.7.7.7:9090")
    (d,) = r.answers[0].dead_ends
    assert d.flag == "NR" and "9090" in d.reason


def test_hcm_chain_builder_names():
    assert hcm_chain("x")["filters"][0]["typed_config"]["rds"]["route_config_name"] == "x"
