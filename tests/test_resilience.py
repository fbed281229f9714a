"""Provenance and resilience on every hop (issue 16 items 1 and 2), on both backends.

Expectations come from the scenario YAML (tests/conformance/*/input/istio.yaml: which VirtualService,
DestinationRule or ServiceEntry a hop comes from, the DestinationRule's settings), Istio's defaults
(10s connect timeout, 2^32-1 circuit breakers, 2 retries on connect-failure,refused-stream,
unavailable,cancelled,retriable-status-codes; pilot/pkg/networking/core/cluster_builder.go and
route/retry/retry.go) and Envoy's (ENVOY-SEMANTICS.md §6, §7), never from topo's output.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
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
    vhost,
    virtual_outbound,
)
from conftest import ROOT
from typer.testing import CliRunner

from topo.cli import app
from topo.queries import check, diff, path

CONF = ROOT / "tests" / "conformance"
ISTIO_DEFAULT_RETRY_ON = ["connect-failure", "refused-stream", "unavailable", "cancelled", "retriable-status-codes"]
VS = "/apis/networking.istio.io/v1/namespaces/default/virtual-service/svc"
DR = "/apis/networking.istio.io/v1/namespaces/default/destination-rule/svc"
FQ = "svc.default.svc.cluster.local"


def dumps(name: str) -> Path:
    return CONF / name / "dumps"


def hop(answer: Any, kind: str) -> Any:
    return next(h for h in answer.hops if h.kind == kind)


# ---------------------------------------------------------------- 1. provenance
def test_route_vhost_and_cluster_name_their_istio_objects(graph_of):
    g = graph_of(dumps("canary-split"))
    (a,) = path.path(g, "client-2ec7c0d68-1d169", "http://10.96.0.20:80/", host="web").answers
    assert hop(a, "route").istio == ["VirtualService demo/web"]
    assert hop(a, "virtual_host").istio == ["VirtualService demo/web"]
    by_subset = {c.name.split("|")[2]: c.istio for c in a.clusters}
    # subset clusters carry the DestinationRule (cluster_builder.go buildSubsetCluster) and the Service
    assert by_subset == {"v1": ["DestinationRule demo/web", "Service demo/web"],
                         "v2": ["DestinationRule demo/web", "Service demo/web"]}


def test_a_serviceentry_cluster_names_the_entry(graph_of):
    g = graph_of(dumps("registry-only-egress"))
    (a,) = path.path(g, "client-2ec7c0d68-1d169", "http://203.0.113.10:80/", host="httpbin.example.com").answers
    (c,) = a.clusters
    assert c.name == "outbound|80||httpbin.example.com"
    assert c.istio == ["ServiceEntry demo host httpbin.example.com"]


def test_a_tcp_route_names_its_virtual_service_on_the_chain(graph_of):
    g = graph_of(dumps("tcp-service"))
    (a,) = path.path(g, "client-2ec7c0d68-1d169", "10.96.0.30:5432", tcp=True).answers
    assert hop(a, "filter_chain").istio == ["VirtualService demo/db"]


def lua_dump(istio_version: str) -> dict[str, Any]:
    d = simple_mesh_dump(istio_version=istio_version)
    for cfg in d["configs"]:
        if cfg["@type"].endswith("ListenersConfigDump"):
            for item in cfg["dynamic_listeners"]:
                for ch in item["active_state"]["listener"]["filter_chains"]:
                    tc = ch["filters"][0]["typed_config"]
                    if "rds" in tc:
                        tc["http_filters"] = [
                            {"name": "envoy.filters.http.lua", "typed_config": {"@type": "x.Lua"}},
                            {"name": "istio.stats", "typed_config": {"@type": "udpa.type.v1.TypedStruct"}},
                            {"name": "envoy.filters.http.router", "typed_config": {"@type": "x.Router"}}]
    return d


def test_a_filter_istio_never_writes_marks_the_chain_as_patched_by_an_envoyfilter(graph_of):
    (a,) = path.path(graph_of(lua_dump("1.22.3")), "client-abc", "svc", port=8080).answers
    assert hop(a, "filter_chain").istio == ["EnvoyFilter (adds envoy.filters.http.lua)"]
    # a proxy outside Istio: the same chain is nobody's EnvoyFilter
    (b,) = path.path(graph_of(lua_dump("")), "client-abc", "svc", port=8080).answers
    assert hop(b, "filter_chain").istio == []


def test_check_and_diff_name_the_objects(graph_of, tmp_path):
    def meta(weights: tuple[int, int]) -> dict[str, Any]:
        d = simple_mesh_dump(weights=weights)
        for cfg in d["configs"]:
            if cfg["@type"].endswith("RoutesConfigDump"):
                r = cfg["dynamic_route_configs"][0]["route_config"]["virtual_hosts"][0]["routes"][0]
                r["metadata"] = {"filter_metadata": {"istio": {"config": VS}}}
        return d

    a, b = graph_of(meta((90, 10))), None
    from conftest import nx_graph

    b = nx_graph(tmp_path, meta((50, 50)))
    res = diff.diff(a, b)
    (rc,) = [c for c in res.config if c.kind == "route_config"]
    assert rc.istio == ["VirtualService default/svc"]
    assert "route config 8080 (VirtualService default/svc) changed" in rc.text


# ---------------------------------------------------------------- 2. resilience on the path
def test_route_timeout_and_retry_policy_from_istio_defaults(graph_of):
    g = graph_of(dumps("fault-injection"))
    (a,) = path.path(g, "client-2ec7c0d68-1d169", "http://10.96.0.20:80/", host="web").answers
    st = hop(a, "route").settings
    # the VirtualService sets no timeout: Istio writes 0s (disabled, §6 "Metadata only")
    assert st["timeout"] == "0s" and st["timeout_s"] is None and not st["timeout_default"]
    r = st["retry"]
    assert r["retry_on"] == ISTIO_DEFAULT_RETRY_ON and r["num_retries"] == 2 and r["from"] == "route"
    assert r["host_predicates"] == ["envoy.retry_host_predicates.previous_hosts"]


def test_cluster_settings_from_the_destination_rule(graph_of):
    g = graph_of(dumps("locality-failover"))
    (a,) = path.path(g, "client-2ec7c0d68-1d169", "http://10.96.0.20:80/", host="web").answers
    (c,) = a.clusters
    st = c.settings
    assert st["connect_timeout"] == "10s" and st["lb_policy"] == "ROUND_ROBIN"
    assert st["circuit_breakers"] == {k: 4294967295 for k in ("max_connections", "max_pending_requests",
                                                               "max_requests", "max_retries")}
    od = st["outlier_detection"]
    # DR: consecutive5xxErrors 5, interval 10s, baseEjectionTime 30s; maxEjectionPercent unset: Envoy's 10
    assert (od["consecutive_5xx"], od["interval"], od["base_ejection_time"], od["max_ejection_percent"]) == \
        (5, "10s", "30s", 10)
    # outlierDetection without minHealthPercent: panic off; localityLbSetting: locality-weighted LB
    assert st["panic_threshold"] == 0 and st["locality_weighted"]
    # the r1/z1 caller sees three priorities (README of the scenario): r1/z1, r1/z2, r2/z3
    assert st["priorities"] == [0, 1, 2] and st["localities"] == ["r1/z1", "r1/z2", "r2/z3"]
    # 4 hosts, 10%: Envoy ejects one more while under 10% are out, so one at a time
    assert st["ejectable"] == 1


def test_path_json_carries_provenance_and_settings(cli_graph):
    r = CliRunner().invoke(app, ["path", "client-2ec7c0d68-1d169", "http://10.96.0.20:80/", "--host", "web",
                                 *cli_graph(dumps("canary-split")), "-o", "json"])
    assert r.exit_code == 0, r.output
    (a,) = orjson.loads(r.stdout)["answers"]
    route_hop = next(h for h in a["hops"] if h["kind"] == "route")
    assert route_hop["istio"] == ["VirtualService demo/web"] and route_hop["settings"]["retry"]["num_retries"] == 2
    assert all("DestinationRule demo/web" in c["istio"] for c in a["clusters"])
    t = CliRunner().invoke(app, ["path", "client-2ec7c0d68-1d169", "http://10.96.0.20:80/", "--host", "web",
                                 *cli_graph(dumps("canary-split"))])
    assert "← VirtualService demo/web" in t.stdout and "2 retries on connect-failure" in t.stdout


# ---------------------------------------------------------------- 2. check lints
def lint_dump(*, retry: dict[str, Any] | None = None, timeout: str = "0s", match: dict[str, Any] | None = None,
              outlier: dict[str, Any] | None = None, panic: Any = "unset", n_endpoints: int = 1) -> dict[str, Any]:
    c = f"outbound|8080||{FQ}"
    rt = route(cluster=c, name="r", match=match)
    rt["route"]["timeout"] = timeout
    if retry is not None:
        rt["route"]["retry_policy"] = retry
    extra: dict[str, Any] = {}
    if outlier is not None:
        extra["outlier_detection"] = outlier
    if panic != "unset":
        extra["common_lb_config"] = {"healthy_panic_threshold": panic}
    cl = cluster(c, **extra)
    cl["metadata"] = {"filter_metadata": {"istio": {"config": DR}}}
    return dump(listeners=[virtual_outbound(), http_listener(8080)],
                route_configs=[route_config("8080", [vhost(f"{FQ}:8080", [FQ, "svc"], [rt])])],
                clusters=[cl],
                endpoints=[cla(c, [{"ip": f"10.1.0.{i + 1}", "port": 8080} for i in range(n_endpoints)])])


def kinds(g: Any) -> dict[str, Any]:
    return {f.kind: f for f in check.check(g).findings}


def test_lint_per_try_timeouts_longer_than_the_route_timeout(graph_of):
    # 1 + 3 attempts of 2s each need 8s; the route gives up after 5s: two attempts fit
    g = graph_of(lint_dump(retry={"retry_on": "connect-failure", "num_retries": 3, "per_try_timeout": "2s"},
                           timeout="5s"))
    f = kinds(g)["retry_budget"]
    assert f.severity == "warning" and "at most 2 attempts" in f.message and f.objects["route"] == "r"
    ok = graph_of(lint_dump(retry={"retry_on": "connect-failure", "num_retries": 1, "per_try_timeout": "2s"},
                            timeout="5s"))
    assert "retry_budget" not in kinds(ok)
    # no route timeout (0s): nothing cuts the retries short
    assert "retry_budget" not in kinds(graph_of(lint_dump(
        retry={"retry_on": "connect-failure", "num_retries": 3, "per_try_timeout": "2s"}, timeout="0s")))


def test_lint_retries_of_non_idempotent_methods(graph_of):
    f = kinds(graph_of(lint_dump(retry={"retry_on": "5xx,connect-failure", "num_retries": 2})))["retry_non_idempotent"]
    assert "POST/PATCH" in f.message and "5xx" in f.message and f.istio == []
    # a route only GET takes: nothing non-idempotent is retried
    get_only = {"prefix": "/", "headers": [{"name": ":method", "string_match": {"exact": "GET"}}]}
    assert "retry_non_idempotent" not in kinds(graph_of(lint_dump(
        retry={"retry_on": "5xx", "num_retries": 2}, match=get_only)))
    # Istio's default policy retries only what the upstream never saw
    assert "retry_non_idempotent" not in kinds(graph_of(lint_dump(
        retry={"retry_on": ",".join(ISTIO_DEFAULT_RETRY_ON), "num_retries": 2, "retriable_status_codes": [503]})))


def test_lint_outlier_detection_that_can_eject_every_endpoint(graph_of):
    # one endpoint: 0% ejected < 10%, so Envoy ejects it; panic 0 (Istio's with outlierDetection): 503 UH
    f = kinds(graph_of(lint_dump(outlier={"consecutive_5xx": 5}, panic={})))["outlier_ejects_all"]
    assert f.flag == "UH" and "its only endpoint" in f.message and f.istio == ["DestinationRule default/svc"]
    # four endpoints at the default 10%: only one can be out at a time
    assert "outlier_ejects_all" not in kinds(graph_of(lint_dump(outlier={}, panic={}, n_endpoints=4)))
    # 100% lets all four go
    assert "outlier_ejects_all" in kinds(graph_of(lint_dump(outlier={"max_ejection_percent": 100}, panic={},
                                                            n_endpoints=4)))
    # panic mode on (threshold absent: 50%): the ejected hosts still take traffic, no UH
    assert "outlier_ejects_all" not in kinds(graph_of(lint_dump(outlier={"consecutive_5xx": 5})))


def test_no_resilience_lint_on_the_conformance_scenarios_and_the_example(graph_of):
    """Istio's own defaults never trip the lints (the scenarios set no timeouts or retries of their own)."""
    from conftest import EXAMPLE

    for src in [EXAMPLE] + [dumps(n) for n in ("canary-split", "fault-injection", "locality-failover", "mirror")]:
        got = {f.kind for f in check.check(graph_of(src)).findings}
        assert not got & {"retry_budget", "retry_non_idempotent", "outlier_ejects_all"}, src


def test_vhost_retry_policy_applies_when_the_route_has_none(graph_of):
    d = lint_dump()
    for cfg in d["configs"]:
        if cfg["@type"].endswith("RoutesConfigDump"):
            vh = cfg["dynamic_route_configs"][0]["route_config"]["virtual_hosts"][0]
            vh["retry_policy"] = {"retry_on": "gateway-error", "num_retries": 4}
    (a,) = path.path(graph_of(copy.deepcopy(d)), "client-abc", "svc", port=8080).answers
    r = hop(a, "route").settings["retry"]
    assert r == {**r, "retry_on": ["gateway-error"], "num_retries": 4, "from": "virtual_host"}


def test_absent_fields_get_envoys_defaults(graph_of):
    c = f"outbound|8080||{FQ}"
    d = dump(listeners=[virtual_outbound(), listener("0.0.0.0_8080", "0.0.0.0", 8080, [hcm_chain("8080")])],
             route_configs=[route_config("8080", [vhost(f"{FQ}:8080", [FQ, "svc"], [route(cluster=c)])])],
             clusters=[cluster(c)], endpoints=[cla(c, [{"ip": "10.1.0.1", "port": 8080}])])
    (a,) = path.path(graph_of(d), "client-abc", "svc", port=8080).answers
    st = hop(a, "route").settings
    assert (st["timeout"], st["timeout_s"], st["timeout_default"], st["retry"]) == ("15s", 15.0, True, None)
    cs = a.clusters[0].settings
    assert cs["connect_timeout"] == "5s" and cs["connect_timeout_default"]
    assert cs["circuit_breakers"] == {"max_connections": 1024, "max_pending_requests": 1024, "max_requests": 1024,
                                      "max_retries": 3}
    assert cs["outlier_detection"] is None and cs["panic_threshold"] == 50


# ---------------------------------------------------------------- mirror and fault (read by the correctness issue)
def test_route_settings_carry_the_mirror_and_the_fault(graph_of):
    (m,) = path.path(graph_of(dumps("mirror")), "client-2ec7c0d68-1d169", "web").answers
    # mirror: {host: web-shadow}, mirrorPercentage 50
    assert hop(m, "route").settings["mirrors"] == [{"cluster": "outbound|80||web-shadow.demo.svc.cluster.local",
                                                    "fraction": 0.5}]
    (f,) = path.path(graph_of(dumps("fault-injection")), "client-2ec7c0d68-1d169", "web").answers
    fault = hop(f, "route").settings["fault"]
    # abort 30% with 503, delay 2s for 100%
    assert fault["abort"]["percent"] == 30 and fault["abort"]["http_status"] == 503
    assert fault["delay"] == {**fault["delay"], "duration": "2s", "percent": 100}


def test_lint_fault_injection_on_a_route_that_retries(graph_of):
    """fault-injection: the VirtualService sets a fault and no retries, so Istio's default retry policy (2
    attempts) stays on the route: the retries never see the injected abort."""
    f = kinds(graph_of(dumps("fault-injection")))["fault_with_retries"]
    assert f.objects["route"] == "flaky" and f.istio == ["VirtualService demo/web"]
    assert f.details == ["fault: abort 30% (503)", "fault: delay 2s 100%"]
    assert "fault_with_retries" not in kinds(graph_of(dumps("mirror")))


# ---------------------------------------------------------------- diagrams
def test_diagram_tooltips_name_objects_and_edges_carry_resilience(graph_of):
    from topo.export import dot

    src = dot.path_graph(path.path(graph_of(dumps("canary-split")), "client-2ec7c0d68-1d169", "web")).source
    route_node = next(line for line in src.splitlines() if 'label="canary' in line)
    assert 'tooltip="VirtualService demo/web\\ntimeout none' in route_node
    assert src.count('tooltip="DestinationRule demo/web\\nService demo/web') == 2  # both subset clusters
    assert 'xlabel="2 retries"' in src  # Istio's default policy, on the edge into the route
    lf = dot.path_graph(path.path(graph_of(dumps("locality-failover")), "client-2ec7c0d68-1d169", "web")).source
    # outlier detection from the DestinationRule, under the weight of the edge to its cluster
    assert 'label="100%\\neject 5×5xx"' in lf and 'minlen=2' in lf
    # limits only when the dump sets finite ones (Istio's are 2^32-1): none here
    assert "≤" not in src and "≤" not in lf
