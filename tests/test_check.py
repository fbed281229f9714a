"""`topo check`: each finding on a small hand-built dump, then the example and real dumps, on both backends."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from builders import (
    cluster,
    http_listener,
    listener,
    route,
    route_config,
    simple_mesh_dump,
    tcp_chain,
    vhost,
)
from conftest import EXAMPLE, write_bundle
from typer.testing import CliRunner

from topo.cli import app
from topo.model.names import istio_object
from topo.queries.check import check, covers

FQ = "svc.default.svc.cluster.local"
C1, C2, CB = f"outbound|8080|v1|{FQ}", f"outbound|8080|v2|{FQ}", f"outbound|8080||{FQ}"


def meta(kind: str, ns: str, name: str, ver: str = "v1") -> dict:
    return {"filter_metadata": {"istio": {"config": f"/apis/networking.istio.io/{ver}/namespaces/{ns}/{kind}/{name}"}}}


def only(res, kind: str):
    got = [f for f in res.findings if f.kind == kind]
    assert len(got) == 1, [(f.kind, f.objects) for f in res.findings]
    return got[0]


def kinds(res) -> list[tuple[str, str]]:
    return sorted((f.severity, f.kind) for f in res.findings)


def add_listener(doc: dict, l: dict, state: str = "active_state", error: str | None = None) -> None:
    item: dict = {"name": l["name"], state: {"listener": l}}
    if error:
        item["error_state"] = {"details": error}
    next(c for c in doc["configs"] if c["@type"].endswith("ListenersConfigDump"))["dynamic_listeners"].append(item)


def route_configs(doc: dict) -> list[dict]:
    rcs = next(c for c in doc["configs"] if c["@type"].endswith("RoutesConfigDump"))["dynamic_route_configs"]
    return [x["route_config"] for x in rcs]


def split_route(doc: dict) -> dict:
    return route_configs(doc)[0]["virtual_hosts"][0]["routes"][0]


# ---------------------------------------------------------------- a healthy mesh has nothing to say
def test_healthy_crafted_mesh_has_no_findings(graph_of):
    res = check(graph_of(simple_mesh_dump()))
    assert res.findings == [] and res.ok
    assert (res.pods, res.configs) == (1, 1)


# ---------------------------------------------------------------- 503 NC
def test_vs_subset_without_dr_subset_is_nc_and_names_the_virtual_service(graph_of):
    doc = simple_mesh_dump()
    cds = next(c for c in doc["configs"] if c["@type"].endswith("ClustersConfigDump"))
    cds["dynamic_active_clusters"] = [c for c in cds["dynamic_active_clusters"] if c["cluster"]["name"] != C2]
    split_route(doc)["metadata"] = meta("virtual-service", "default", "svc")
    res = check(graph_of(doc))
    f = only(res, "missing_cluster")
    assert (f.severity, f.flag, f.response) == ("error", "NC", "503")
    assert f.objects == {"route_config": "8080", "vhost": f"{FQ}:8080", "route": "split", "cluster": C2}
    assert f.istio == ["VirtualService default/svc"]
    assert "10%" in f.message and "no DestinationRule" in f.details[0] and "'v2'" in f.details[0]
    assert f.pods == ["default/client-abc"] and not res.ok


def test_tcp_proxy_to_missing_cluster_is_nc(graph_of):
    doc = simple_mesh_dump()
    add_listener(doc, listener("10.96.0.20_3306", "10.96.0.20", 3306,
                               [tcp_chain("outbound|3306||db.default.svc.cluster.local")]))
    f = only(check(graph_of(doc)), "missing_cluster")
    assert f.objects == {"listener": "10.96.0.20_3306", "chain": "#0",
                         "cluster": "outbound|3306||db.default.svc.cluster.local"}
    assert (f.flag, f.response) == ("NC", "connection closed")
    assert "unknown to this proxy" in f.details[0]


def test_weights_summing_to_zero(graph_of):
    doc = simple_mesh_dump(weights=(0, 0))
    f = only(check(graph_of(doc)), "zero_weights")
    assert (f.severity, f.flag) == ("error", "NC")
    assert f.objects["route"] == "split"
    tcp = simple_mesh_dump()
    add_listener(tcp, listener("10.96.0.20_3306", "10.96.0.20", 3306, [tcp_chain([(CB, 0), (C1, 0)])]))
    f = only(check(graph_of(tcp)), "zero_weights")
    assert f.objects == {"listener": "10.96.0.20_3306", "chain": "#0"}


def test_cluster_header_route_is_info(graph_of):
    doc = simple_mesh_dump()
    split_route(doc)["route"] = {"cluster_header": "x-cluster"}
    f = only(check(graph_of(doc)), "cluster_header")
    assert (f.severity, f.flag) == ("info", "NC")


# ---------------------------------------------------------------- 503 UH
def test_empty_subset_while_service_has_endpoints_is_an_error(graph_of):
    res = check(graph_of(simple_mesh_dump(v2=[])))
    f = only(res, "subset_no_endpoints")
    assert (f.severity, f.flag, f.response) == ("error", "UH", "503")
    assert f.objects == {"cluster": C2}
    assert any("route config 8080" in d and "split" in d for d in f.details)


def test_service_without_ready_pods_is_a_warning(graph_of):
    doc = simple_mesh_dump(v1=[], v2=[])
    res = check(graph_of(doc))
    # no endpoint anywhere for the service: both subsets are "the service is down", not a config error
    assert kinds(res) == [("warning", "no_endpoints"), ("warning", "no_endpoints")]
    assert {f.objects["cluster"] for f in res.findings} == {C1, C2}
    assert all(f.flag == "UH" for f in res.findings) and res.ok


def test_all_unhealthy_with_panic_disabled_is_uh_and_with_panic_is_a_warning(graph_of):
    bad = [{"ip": "10.1.0.3", "port": 8080, "health": "UNHEALTHY"}]
    doc = simple_mesh_dump(v2=bad)
    cds = next(c for c in doc["configs"] if c["@type"].endswith("ClustersConfigDump"))
    for c in cds["dynamic_active_clusters"]:
        if c["cluster"]["name"] == C2:
            c["cluster"]["common_lb_config"] = {"healthy_panic_threshold": {}}
            c["cluster"]["metadata"] = meta("destination-rule", "default", "svc")
    f = only(check(graph_of(doc)), "no_healthy_endpoints")
    assert (f.severity, f.flag) == ("warning", "UH")
    assert f.istio == ["DestinationRule default/svc"]
    f = only(check(graph_of(simple_mesh_dump(v2=bad))), "all_unhealthy_panic")
    assert f.severity == "warning" and f.flag == ""


def test_unused_and_original_dst_clusters_are_not_checked(graph_of):
    doc = simple_mesh_dump()
    cds = next(c for c in doc["configs"] if c["@type"].endswith("ClustersConfigDump"))
    cds["dynamic_active_clusters"].append({"cluster": cluster("outbound|80||unused.default.svc.cluster.local")})
    cds["dynamic_active_clusters"].append({"cluster": cluster("outbound|80||headless.default.svc.cluster.local",
                                                              type_="ORIGINAL_DST")})
    add_listener(doc, listener("0.0.0.0_80", "0.0.0.0", 80,
                               [tcp_chain("outbound|80||headless.default.svc.cluster.local")]))
    assert check(graph_of(doc)).findings == []


def test_endpoints_unknown_without_eds_is_one_info(graph_of):
    doc = simple_mesh_dump()
    doc["configs"] = [c for c in doc["configs"] if not c["@type"].endswith("EndpointsConfigDump")]
    res = check(graph_of(doc))
    f = only(res, "endpoints_unknown")
    assert f.severity == "info" and f.objects == {}
    assert f.details == [C1, C2]
    assert "without EDS" in f.message


# ---------------------------------------------------------------- 404 NR, warming, NACK
def test_active_listener_with_missing_rds_is_nr(graph_of):
    doc = simple_mesh_dump()
    add_listener(doc, http_listener(9090))
    f = only(check(graph_of(doc)), "missing_route_config")
    assert (f.severity, f.flag, f.response) == ("error", "NR", "404")
    assert f.objects == {"listener": "0.0.0.0_9090", "chain": "#0", "route_config": "9090"}


def test_listener_stuck_warming_on_missing_rds(graph_of):
    doc = simple_mesh_dump()
    add_listener(doc, http_listener(9090), state="warming_state")
    f = only(check(graph_of(doc)), "listener_warming")
    assert f.severity == "error"
    assert f.objects == {"listener": "0.0.0.0_9090", "route_config": "9090"}
    assert "stay on virtualOutbound" in f.message
    # warming with its RDS present: only waiting, a warning; and an update stuck next to an active version
    doc2 = simple_mesh_dump()
    add_listener(doc2, http_listener(8080), state="warming_state")
    f = only(check(graph_of(doc2)), "listener_warming")
    assert f.severity == "warning" and "active version still serves" in f.message


def test_error_state_on_listener_route_config_and_cluster(graph_of):
    doc = simple_mesh_dump()
    lds = next(c for c in doc["configs"] if c["@type"].endswith("ListenersConfigDump"))
    lds["dynamic_listeners"][1]["error_state"] = {"details": "bad listener: duplicate filter chain"}
    rds = next(c for c in doc["configs"] if c["@type"].endswith("RoutesConfigDump"))
    rds["dynamic_route_configs"][0]["error_state"] = {"details": "bad routes: duplicate domain"}
    cds = next(c for c in doc["configs"] if c["@type"].endswith("ClustersConfigDump"))
    cds["dynamic_active_clusters"][0]["error_state"] = {"details": "bad cluster: unknown field"}
    res = check(graph_of(doc))
    errs = {tuple(f.objects.items()): f for f in res.findings if f.kind == "error_state"}
    assert set(errs) == {(("listener", "0.0.0.0_8080"),), (("route_config", "8080"),), (("cluster", C1),)}
    assert errs[(("listener", "0.0.0.0_8080"),)].details == ["bad listener: duplicate filter chain"]
    assert errs[(("route_config", "8080"),)].details == ["bad routes: duplicate domain"]
    assert errs[(("cluster", C1),)].details == ["bad cluster: unknown field"]
    assert all(f.severity == "error" and "previous version stays" in f.message for f in errs.values())
    # the rejected versions' predecessors still route: nothing else is reported
    assert {f.kind for f in res.findings} == {"error_state"}


def test_rejected_listener_with_nothing_in_place(graph_of):
    doc = simple_mesh_dump()
    lds = next(c for c in doc["configs"] if c["@type"].endswith("ListenersConfigDump"))
    lds["dynamic_listeners"].append({"name": "virtualInbound", "error_state": {
        "details": "Proto constraint validation failed", "failed_configuration": {"name": "virtualInbound"}}})
    f = only(check(graph_of(doc)), "error_state")
    assert f.objects == {"listener": "virtualInbound"} and "no version of it is in place" in f.message
    assert "15006" in f.message


# ---------------------------------------------------------------- virtual hosts and shadowed routes
def test_duplicate_domains_and_unreachable_vhost(graph_of):
    rc = route_config("8080", [
        vhost("a:8080", ["a", "a.default"], [route(cluster=C1)]),
        vhost("b:8080", ["a", "b"], [route(cluster=C1)]),  # shares "a" with the first vhost
        vhost("c:8080", ["a.default", "a"], [route(cluster=C1)]),  # nothing of its own: never chosen
    ])
    doc = simple_mesh_dump()
    rcs = next(c for c in doc["configs"] if c["@type"].endswith("RoutesConfigDump"))["dynamic_route_configs"]
    rcs[0]["route_config"] = rc
    res = check(graph_of(doc))
    dups = sorted((f.objects["vhost"], f.objects["other_vhost"], tuple(f.details))
                  for f in res.findings if f.kind == "duplicate_domains")
    assert dups == [("b:8080", "a:8080", ("a",)), ("c:8080", "a:8080", ("a", "a.default"))]
    f = only(res, "unreachable_vhost")
    assert (f.severity, f.objects) == ("error", {"route_config": "8080", "vhost": "c:8080"})
    assert all(x.severity == "error" for x in res.findings if x.kind == "duplicate_domains")


def test_prefix_slash_shadows_a_later_specific_route(graph_of):
    doc = simple_mesh_dump()
    routes = route_configs(doc)[0]["virtual_hosts"][0]["routes"]
    routes.append(route("/api", cluster=C2, name="api"))
    routes[1]["metadata"] = meta("virtual-service", "default", "svc")
    f = only(check(graph_of(doc)), "shadowed_route")
    assert f.severity == "warning"
    assert f.objects == {"route_config": "8080", "vhost": f"{FQ}:8080", "route": "api", "shadowed_by": "split"}
    assert f.istio == ["VirtualService default/svc"]


def test_header_condition_does_not_shadow(graph_of):
    doc = simple_mesh_dump()
    routes = route_configs(doc)[0]["virtual_hosts"][0]["routes"]
    routes[0]["match"] = {"prefix": "/", "headers": [{"name": "end-user", "string_match": {"exact": "jason"}}]}
    routes.append(route("/", cluster=C1, name="rest"))
    assert check(graph_of(doc)).findings == []


def test_vhost_without_a_catch_all_route_is_info_nr(graph_of):
    doc = simple_mesh_dump()
    routes = route_configs(doc)[0]["virtual_hosts"][0]["routes"]
    routes[0]["match"] = {"prefix": "/api"}
    routes[0]["metadata"] = meta("virtual-service", "default", "svc")
    routes.append(route(match={"path": "/healthz"}, cluster=C1, name="health"))
    f = only(check(graph_of(doc)), "no_catch_all")
    assert (f.severity, f.flag, f.response) == ("info", "NR", "404")
    assert f.objects == {"route_config": "8080", "vhost": f"{FQ}:8080"}
    assert "(/api*, /healthz)" in f.message and f.istio == ["VirtualService default/svc"]
    # static route configs (the bootstrap's /stats/prometheus) are what they are: not reported
    rds = next(c for c in doc["configs"] if c["@type"].endswith("RoutesConfigDump"))
    rds["static_route_configs"] = [{"route_config": rds.pop("dynamic_route_configs")[0]["route_config"]}]
    assert check(graph_of(doc)).findings == []


@pytest.mark.parametrize("earlier,later,expected", [
    ({"prefix": "/"}, {"path": "/x"}, True),
    ({"prefix": ""}, {"safe_regex": {"regex": "/a.*"}}, True),
    ({"prefix": "/api"}, {"prefix": "/api/v1"}, True),
    ({"prefix": "/api"}, {"path": "/api"}, True),
    ({"prefix": "/api/v1"}, {"prefix": "/api"}, False),
    ({"prefix": "/api"}, {"prefix": "/apx"}, False),
    ({"path": "/a"}, {"path": "/a"}, True),
    ({"path": "/a"}, {"prefix": "/a"}, False),
    ({"path_separated_prefix": "/a"}, {"path": "/a/b"}, True),
    ({"path_separated_prefix": "/a"}, {"prefix": "/ab"}, False),
    ({"safe_regex": {"regex": ".*"}}, {"prefix": "/z"}, True),
    ({"safe_regex": {"regex": "/a.*"}}, {"prefix": "/a"}, False),
    ({"prefix": "/api", "headers": [{"name": "x"}]}, {"prefix": "/api/v1"}, False),
    ({"prefix": "/api", "runtime_fraction": {"default_value": {"numerator": 50}}}, {"prefix": "/api/x"}, False),
    ({"prefix": "/API", "case_sensitive": False}, {"prefix": "/api/x"}, True),
    ({"prefix": "/api"}, {"prefix": "/api/x", "case_sensitive": False}, False),
    ({"prefix": "/"}, {"connect_matcher": {}}, False),
])
def test_covers(earlier, later, expected):
    assert covers(earlier, later) is expected


# ---------------------------------------------------------------- REGISTRY_ONLY
def registry_only_dump(pod: str = "client-abc", ip: str = "10.0.0.1") -> dict:
    doc = simple_mesh_dump(pod=pod, ip=ip, labels={"app": pod})
    lds = next(c for c in doc["configs"] if c["@type"].endswith("ListenersConfigDump"))
    vo = listener("virtualOutbound", "0.0.0.0", 15001, [
        tcp_chain("BlackHoleCluster", name="virtualOutbound-blackhole", match={"destination_port": 15001}),
        tcp_chain("BlackHoleCluster", name="virtualOutbound-catchall-tcp"),
    ], bind=None, original_dst=True, http_inspector=False)
    http = http_listener(8080)
    http["default_filter_chain"] = tcp_chain("BlackHoleCluster", name="PassthroughFilterChain")
    lds["dynamic_listeners"] = [{"name": l["name"], "active_state": {"listener": l}} for l in (vo, http)]
    vhs = route_configs(doc)[0]["virtual_hosts"]
    vhs[1] = {"name": "block_all", "domains": ["*"],
              "routes": [{"name": "block_all", "match": {"prefix": "/"}, "direct_response": {"status": 502}}]}
    return doc


def test_registry_only_blackholes_are_info_and_say_what_is_blocked(graph_of):
    res = check(graph_of(registry_only_dump()))
    assert kinds(res) == [("info", "registry_only")] * 3 and res.ok
    by = {tuple(f.objects.values()): f for f in res.findings}
    block = by[("8080", "block_all", "block_all")]
    assert (block.response, block.flag) == ("502", "")
    assert f"{FQ}:8080" in block.message and "REGISTRY_ONLY" in block.message
    vo = by[("virtualOutbound", "virtualOutbound-catchall-tcp", "BlackHoleCluster")]
    assert "no listener of its own" in vo.message and vo.flag == "UH"
    pfc = by[("0.0.0.0_8080", "PassthroughFilterChain", "BlackHoleCluster")]
    assert "port 8080" in pfc.message
    # the loop-breaking 15001 chain is not policy: never reported
    assert not any("virtualOutbound-blackhole" in f.objects.values() for f in res.findings)


def test_old_block_all_route_to_blackhole_cluster(graph_of):
    doc = simple_mesh_dump()
    vhs = route_configs(doc)[0]["virtual_hosts"]
    vhs[1] = vhost("block_all", ["*"], [route(cluster="BlackHoleCluster", name="block_all")])
    f = only(check(graph_of(doc)), "registry_only")
    assert (f.flag, f.response) == ("UH", "503")


# ---------------------------------------------------------------- drift and collapsing
def drift_docs() -> list[dict]:
    lbl = {"app": "web"}
    full = simple_mesh_dump(pod="web-1", labels=lbl, ip="10.0.0.11")
    same = simple_mesh_dump(pod="web-2", labels=lbl, ip="10.0.0.11")  # same IP: same config as web-1
    stale = simple_mesh_dump(pod="web-3", labels=lbl, ip="10.0.0.11")
    route_configs(stale)[0]["virtual_hosts"].pop(0)  # this proxy never got the svc vhost
    return [full, same, stale]


def test_config_drift_within_a_workload(graph_of):
    g = graph_of(*drift_docs())
    res = check(g)
    f = only(res, "config_drift")
    assert f.severity == "warning"
    assert f.objects == {"workload": "default/web", "destination": f"{FQ}:8080"}
    assert f.pods == ["default/web-3"] and f.pod_count == 1
    assert "2 of its 3 pods" in f.message and "default/web-1" in f.details[0]
    assert res.configs == 2


def test_identical_findings_collapse_across_pods_and_configs(graph_of):
    docs = [simple_mesh_dump(pod=f"client-{i}", v2=[], ip=f"10.0.0.{i}", labels={"app": f"c{i}"}) for i in range(5)]
    for i, d in enumerate(docs[:3]):  # three more distinct configs: an extra, unrelated cluster each
        cds = next(c for c in d["configs"] if c["@type"].endswith("ClustersConfigDump"))
        # (ServiceEntry hosts: a Kubernetes service some sidecars of the namespace lack would be
        # a service_not_in_scope finding)
        cds["dynamic_active_clusters"].append({"cluster": cluster(f"outbound|80||x{i}.example.com")})
    res = check(graph_of(*docs))
    f = only(res, "subset_no_endpoints")
    assert f.pod_count == 5 and f.pods == [f"default/client-{i}" for i in range(5)]
    assert res.configs == 4 and len(res.findings) == 1


def test_namespace_and_pod_filters(graph_of):
    docs = [simple_mesh_dump(pod="a-1", ns="one", v2=[], labels={"app": "a"}),
            simple_mesh_dump(pod="b-1", ns="two", ip="10.0.0.2", labels={"app": "b"})]
    g = graph_of(*docs)
    assert only(check(g), "subset_no_endpoints").pods == ["one/a-1"]
    assert check(g, namespace="two").findings == [] and check(g, namespace="two").pods == 1
    assert only(check(g, pod="a-1"), "subset_no_endpoints").pods == ["one/a-1"]
    assert check(g, pod="b-1").findings == []


def test_istio_object_paths():
    assert istio_object("/apis/networking.istio.io/v1/namespaces/ns/virtual-service/vs") == "VirtualService ns/vs"
    assert istio_object("/apis/networking.istio.io/v1alpha3/namespaces/a/destination-rule/r") == "DestinationRule a/r"
    assert istio_object("/apis/networking/v1alpha3/namespaces/bookinfo/virtual-service/reviews") == \
        "VirtualService bookinfo/reviews"
    assert istio_object("/apis/networking.istio.io/v1beta1/namespaces/x/service-entry/se") == "ServiceEntry x/se"
    assert istio_object("") == "" and istio_object("weird") == "weird"


# ---------------------------------------------------------------- the example and real dumps
def test_example_has_no_findings(graph_of):
    res = check(graph_of(EXAMPLE))
    assert res.findings == [] and res.ok and res.pods == 6


def test_deathstarbench(realdumps, graph_of):
    g = graph_of(realdumps / "TZ-Zephrus__DeathStarBench" / "config_dump.json")
    res = check(g)
    # The one error is true, not a false positive: the dump itself records that Envoy rejected
    # virtualInbound (an EnvoyFilter's Lua filter without source code) and holds no version of
    # it, so this pod accepts no inbound connection. Nothing else is an error.
    errors = [f for f in res.findings if f.severity == "error"]
    assert [(f.kind, f.objects) for f in errors] == [("error_state", {"listener": "virtualInbound"})]
    assert "LuaValidationError" in errors[0].details[0]
    # Warnings: 13 EDS clusters that routes (and the sniffed ports' tcp_proxy defaults) use have
    # no endpoints at all in this dump: their services had no ready pod when it was taken
    # (hotel-res is scaled down; geo.hr2 is this pod's own service, not ready since its
    # inbound listener is rejected). Each is a real 503 UH, but a runtime state, not config.
    warnings = sorted(f.objects["cluster"] for f in res.findings if f.severity == "warning")
    assert all(f.kind == "no_endpoints" for f in res.findings if f.severity == "warning")
    assert warnings == sorted(
        f"outbound|{port}||{svc}.svc.cluster.local" for port, svc in [
            (11211, "memcached-profile.hotel-res"), (3100, "loki.istio-system"), (9095, "loki.istio-system"),
            (8081, "profile.hotel-res"), (8082, "search.hotel-res"), (8083, "geo.hotel-res"), (8083, "geo.hr2"),
            (8084, "rate.hotel-res"), (8085, "recommendation.hotel-res"), (8087, "reservation.hotel-res"),
            (8300, "consul.hotel-res"), (8400, "consul.hotel-res"), (8500, "consul.hotel-res")])
    # No infos: the dump has EDS, ALLOW_ANY, no shadowed route, no duplicate domain.
    assert res.counts == {"error": 1, "warning": 13, "info": 0}


def test_bookinfo_50_50_reviews_split_with_missing_subsets(realdumps, graph_of):
    g = graph_of(realdumps / "hpcsc__bookinfo-envoy-config" / "envoy__config_dump__productpage-v1.json")
    res = check(g)
    nc = [f for f in res.findings if f.kind == "missing_cluster"]
    # The 1.4-era dump does carry istio metadata on routes, with the old path form
    # /apis/networking/v1alpha3/namespaces/bookinfo/virtual-service/reviews.
    reviews = sorted((f.objects["route_config"], f.objects["cluster"]) for f in nc if "reviews" in f.objects["cluster"])
    assert reviews == [(rc, f"outbound|{rc}|{s}|reviews.bookinfo.svc.cluster.local") for rc in ("80", "9080")
                       for s in ("v1", "v3")]
    for f in nc:
        svc = f.objects["cluster"].split("|")[3].split(".")[0]
        assert f.istio == [f"VirtualService bookinfo/{svc}"] and f.severity == "error" and f.flag == "NC"
        if svc == "reviews":
            assert "50%" in f.message
    # No DestinationRule was applied in that repo, so every VS subset dangles: v1 of details,
    # productpage and ratings too, on both route configs that list them (80 and 9080).
    assert sorted(f.objects["cluster"].split("|")[3].split(".")[0] for f in nc) == sorted(
        ["details", "productpage", "ratings"] * 2 + ["reviews"] * 4)
    # Istio 1.4 rendered each VirtualService into route config 80 too, for services whose only port
    # is 9080: four port-80 ghost vhosts (§5 "Port 80"), each routing to an outbound|80|… cluster
    ghosts = sorted(f.objects["vhost"] for f in res.findings if f.kind == "port80_ghost_vhost")
    assert ghosts == [f"{s}.bookinfo.svc.cluster.local:80" for s in ("details", "productpage", "ratings", "reviews")]
    for f in nc:
        if f.objects["route_config"] == "80":
            assert "has no port 80 (its ports: 9080)" in f.details[0]
            assert "no DestinationRule for" in f.details[1]  # and the subset is nowhere either
    # The dump has no EDS: the clusters actually used can't be checked for UH (one info).
    assert kinds(res) == [("error", "missing_cluster")] * 10 + [("info", "endpoints_unknown")] + [
        ("warning", "port80_ghost_vhost")] * 4


# ---------------------------------------------------------------- CLI
def test_cli_check_json_and_exit_codes(tmp_path):
    s = str(tmp_path / "s")
    assert CliRunner().invoke(app, ["ingest", "--from", str(EXAMPLE), "--store", s]).exit_code == 0
    r = CliRunner().invoke(app, ["check", "--store", s, "-o", "json"])
    assert r.exit_code == 0, r.output
    doc = orjson.loads(r.stdout)
    assert doc["findings"] == [] and doc["pods"] == 6 and doc["counts"] == {"error": 0, "warning": 0, "info": 0}
    r = CliRunner().invoke(app, ["check", "--store", s])
    assert r.exit_code == 0 and "No findings in 6 pods" in r.stdout

    broken = str(tmp_path / "b")
    d = write_bundle(tmp_path, simple_mesh_dump(v2=[]), registry_only_dump("locked-1", "10.0.0.9"))
    assert CliRunner().invoke(app, ["ingest", "--from", str(d), "--store", broken]).exit_code == 0
    r = CliRunner().invoke(app, ["check", "--store", broken, "-o", "json"])
    assert r.exit_code == 1, r.output
    doc = orjson.loads(r.stdout)
    assert doc["counts"] == {"error": 1, "warning": 0, "info": 3}
    f = doc["findings"][0]
    assert (f["kind"], f["severity"], f["flag"], f["pods"]) == ("subset_no_endpoints", "error", "UH",
                                                                 ["default/client-abc"])
    assert {x["kind"]: x["pods"] for x in doc["findings"][1:]} == {"registry_only": ["default/locked-1"]}
    r = CliRunner().invoke(app, ["check", "--store", broken, "--pod", "client-abc", "-o", "yaml"])
    assert r.exit_code == 1 and "subset_no_endpoints" in r.stdout
    r = CliRunner().invoke(app, ["check", "--store", broken])
    assert r.exit_code == 1
    assert "subset_no_endpoints" in r.stdout and "1 error, 0 warnings, 3 infos in 2 pods" in r.stdout


def test_cli_check_registry_only_pods_collapse(tmp_path):
    docs = [registry_only_dump(f"client-{i}", f"10.0.0.{i}") for i in range(3)]
    s = str(tmp_path / "s")
    assert CliRunner().invoke(app, ["ingest", "--from", str(write_bundle(tmp_path, *docs)), "--store", s]).exit_code == 0
    r = CliRunner().invoke(app, ["check", "--store", s, "-o", "json"])
    assert r.exit_code == 0
    doc = orjson.loads(r.stdout)
    assert [f["pod_count"] for f in doc["findings"]] == [3, 3, 3]
    r = CliRunner().invoke(app, ["check", "--store", s])
    assert "pods:  3 (default/client-0, default/client-1, default/client-2)" in r.stdout


def test_cli_check_unknown_pod_is_one_line(tmp_path):
    s = str(tmp_path / "s")
    assert CliRunner().invoke(app, ["ingest", "--from", str(EXAMPLE), "--store", s]).exit_code == 0
    r = CliRunner().invoke(app, ["check", "--store", s, "--pod", "nobody"])
    assert r.exit_code == 2 and "nobody" in r.output



# ---------------------------------------------------------------- a broken example
def broken_demo(out: Path) -> Path:
    """The example under REGISTRY_ONLY, its VirtualService naming a subset v3 no DestinationRule
    defines, and v2's only pod gone: 503 NC, 503 UH and the blocked catch-alls."""
    from topo.meshgen.demo import demo_mesh
    from topo.meshgen.model import REGISTRY_ONLY, Destination
    from topo.meshgen.writer import write_bundle

    m = demo_mesh()
    m.outbound_traffic_policy = REGISTRY_ONLY
    m.virtual_services[0].http[0].route = [Destination(subset="v1", weight=80), Destination(subset="v2", weight=10),
                                           Destination(subset="v3", weight=10)]
    m.workloads = [w for w in m.workloads if w.name != "publictest-v2"]
    write_bundle(m, out)
    return out


def test_broken_demo(graph_of, tmp_path):
    res = check(graph_of(broken_demo(tmp_path / "broken")))
    assert kinds(res) == [("error", "missing_cluster"), ("error", "subset_no_endpoints")] + [("info", "registry_only")] * 3
    assert all(f.pod_count == 5 for f in res.findings)
    assert res.findings[0].istio == ["VirtualService istio-demo/publictest"]
    assert res.findings[1].istio == ["DestinationRule istio-demo/publictest", "VirtualService istio-demo/publictest"]
