"""`topo search` (issue 16 item 4): the request classes of a proxy's own route configs, on both backends.

The conformance scenarios' expected.json lists requests with their hand-reasoned dead ends; every dead
end an expected request meets must show up as a class with that outcome, at the same route, with the
same share. Each class's example must be one `topo path` answers the same way.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

import orjson
import pytest
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
from conftest import ROOT
from typer.testing import CliRunner

from topo.cli import app
from topo.queries import envoy, search
from topo.queries.search import route_examples, sample_regex

CONF = ROOT / "tests" / "conformance"
CLIENT = "client-2ec7c0d68-1d169"
SCENARIOS = ("subset-missing-nc", "subset-no-pods-uh", "no-catch-all", "registry-only-egress", "header-path-match",
             "canary-split", "tcp-service", "shadowed-route", "port80-ghost", "sidecar-egress", "multi-port")


def expected(name: str) -> dict[str, Any]:
    return json.loads((CONF / name / "expected.json").read_text())


# ---------------------------------------------------------------- examples from matchers
@pytest.mark.parametrize("pattern", [r"/api/v[0-9]+/.*", r"(foo|bar)\d{2}\w[^/]*", r"/a(b|c)+/\1", r"^/x/[a-z]{3}$",
                                     r"/(?:img|css)/.+\.(png|css)"])
def test_regex_samples_match_fully(pattern):
    got = sample_regex(pattern)
    assert got and all(re.fullmatch(pattern, s) for s in got)


def test_examples_satisfy_headers_queries_and_methods():
    m = {"prefix": "/api", "headers": [
        {"name": ":method", "string_match": {"exact": "POST"}},
        {"name": "x-user", "string_match": {"prefix": "al"}},
        {"name": "x-debug", "present_match": True, "invert_match": True},
        {"name": "x-v", "safe_regex_match": {"regex": "v[0-9]"}}],
        "query_parameters": [{"name": "q", "string_match": {"exact": "1"}}]}
    (p, headers, method), *_ = route_examples(m)
    assert method == "POST" and "x-debug" not in headers and headers["x-user"].startswith("al")
    req = envoy.Request(ip=None, port=80, host="h", path=p, method=method, headers=headers)
    assert envoy.route_matches(m, req)


# ---------------------------------------------------------------- conformance
@pytest.mark.parametrize("name", SCENARIOS)
def test_every_expected_dead_end_is_a_class(graph_of, name):
    g = graph_of(CONF / name / "dumps")
    exp = expected(name)
    for r in exp["requests"]:
        e = exp["expect"][r["id"]]
        if r.get("tls") or not e.get("dead_ends"):
            continue  # TLS/SNI requests: topo path --sni comes with the correctness issue
        res = search.search(g, r["src"], list(e["dead_ends"]))
        route = e["route"] or ("(tcp)" if r["tcp"] else "(no route)" if e["virtual_host"] else "(no vhost)")
        # virtualOutbound's catch-all is one class for every IP:port without a listener
        hits = [c for c in res.classes if c.route == route and c.listener == e["listener"]
                and (c.request["port"] == r["port"] or c.listener == "virtualOutbound")
                and (e["virtual_host"] is None or c.vhost == e["virtual_host"])]
        assert hits, (name, r["id"], [(c.vhost, c.route, c.dead_ends) for c in res.classes])
        for flag, share in e["dead_ends"].items():
            assert any(abs(c.dead_ends.get(flag, 0) - share) < 1e-9 for c in hits), (name, r["id"], flag)


def test_one_class_per_route_and_none_left_unmatched(graph_of):
    """header-path-match's VirtualService has alice (header), login (exact), api (prefix), default (catch-all):
    four classes in vhost web:80, no (no route) class since the catch-all takes the rest."""
    res = search.search(graph_of(CONF / "header-path-match" / "dumps"), CLIENT, ["all"])
    web = [c for c in res.classes if c.vhost == "web.demo.svc.cluster.local:80"]
    assert sorted(c.route for c in web) == ["alice", "api", "default", "login"]
    alice = next(c for c in web if c.route == "alice")
    assert alice.request["headers"] == {"x-user": "alice"}
    login = next(c for c in web if c.route == "login")
    assert login.request["path"] == "/login"
    # the default route's class is a request the three before it do not take
    default = next(c for c in web if c.route == "default")
    assert default.request["path"] == "/" and not default.request["headers"]


def test_a_shadowed_route_has_no_class(graph_of):
    """shadowed-route: `/api` before `/api/v2`: no request reaches api-v2 (its README), so it is listed as
    unsampled, and every request of its prefix is api's."""
    res = search.search(graph_of(CONF / "shadowed-route" / "dumps"), CLIENT, ["all"])
    assert any("api-v2" in u and "no example request" in u for u in res.unsampled), res.unsampled
    assert "api-v2" not in {c.route for c in res.classes}


def test_registry_only_blocks_are_catch_all_classes(graph_of):
    res = search.search(graph_of(CONF / "registry-only-egress" / "dumps"), CLIENT, ["BlackHole"])
    assert res.classes and all(c.catch_all for c in res.classes)
    assert {c.protocol for c in res.classes} == {"http", "tcp"}
    # the in-mesh and ServiceEntry hosts are fine
    ok = search.search(graph_of(CONF / "registry-only-egress" / "dumps"), CLIENT, ["ok"])
    assert {c.request["host"] for c in ok.classes if c.protocol == "http"} >= {"web.demo.svc.cluster.local",
                                                                                  "httpbin.example.com"}


def test_every_source_with_all_sources(graph_of):
    g = graph_of(CONF / "subset-missing-nc" / "dumps")
    res = search.search(g, None, ["NC"])
    configs = {p["config"] for p in g.pods()}
    srcs = {c.config for c in res.classes}
    assert srcs and srcs <= configs
    assert res.source is None and res.outcomes == ["NC"]


def test_outcome_names_are_open_ended():
    """A flag search has never heard of is matched by name, so a new kind of dead end needs no change."""
    c = search.RequestClass([], "", "http", "", "", "", "r", "", {}, "", "dead_end", {"DENY": 1.0}, {}, [], False)
    assert search.ends_in(c, search.wanted(["deny"])) and not search.ends_in(c, search.wanted(["NC"]))
    assert search.ends_in(c, search.wanted(["dead"])) and not search.ends_in(c, search.wanted(["ok"]))
    p = search.RequestClass([], "", "tcp", "", "", "", "r", "", {}, "", "dead_end", {"PassthroughCluster": 1.0},
                            {}, [], True)
    assert search.ends_in(p, search.wanted(["Passthrough"]))


# ---------------------------------------------------------------- topo path reproduces every class
@pytest.mark.parametrize("name", ("header-path-match", "subset-missing-nc", "registry-only-egress", "tcp-service"))
def test_the_printed_command_reproduces_each_class(cli_graph, name):
    opts = cli_graph(CONF / name / "dumps")
    r = CliRunner().invoke(app, ["search", CLIENT, "--outcome", "all", *opts, "-o", "json"])
    assert r.exit_code == 0, r.output
    doc = orjson.loads(r.stdout)
    assert doc["classes"] and doc["examined"] == len(doc["classes"])
    for c in doc["classes"]:
        args = shlex.split(c["command"])
        assert args[:2] == ["topo", "path"]
        p = CliRunner().invoke(app, [*args[1:], *opts, "-o", "json"])
        assert p.exit_code in (0, 4), p.output
        (a,) = orjson.loads(p.stdout)["answers"]
        dead: dict[str, float] = {}
        for d in a["dead_ends"]:
            dead[d["flag"]] = dead.get(d["flag"], 0) + d["share"]
        assert {k: round(v, 9) for k, v in dead.items()} == {k: round(v, 9) for k, v in c["dead_ends"].items()}, c
        assert [f"{h['kind']} {h['name']}" for h in a["hops"]] == c["chain"]


def test_search_table_and_errors(cli_graph):
    opts = cli_graph(CONF / "subset-missing-nc" / "dumps")
    t = CliRunner().invoke(app, ["search", CLIENT, "--outcome", "NC", *opts])
    assert t.exit_code == 0 and "NC 20%" in t.stdout and "topo path" in t.stdout
    bad = CliRunner().invoke(app, ["search", *opts])
    assert bad.exit_code == 2 and "SRC or -A" in bad.output


def test_small_dump_classes(graph_of):
    """A vhost whose only route takes /api: the route's class is delivered, the rest of the vhost is 404 NR;
    a route to a subset without cluster is NC."""
    fq = "svc.default.svc.cluster.local"
    c1 = f"outbound|8080|v1|{fq}"
    d = dump(listeners=[virtual_outbound(), http_listener(8080)],
             route_configs=[route_config("8080", [vhost(f"{fq}:8080", [fq, "svc", "10.96.0.10"], [
                 route("/api", cluster=c1, name="api"),
                 route("/v3", cluster=f"outbound|8080|v3|{fq}", name="v3")])])],
             clusters=[cluster(c1)], endpoints=[cla(c1, [{"ip": "10.1.0.1", "port": 8080}])])
    res = search.search(graph_of(d), "client-abc", ["all"])
    got = {c.route: (c.request["path"], c.dead_ends) for c in res.classes if c.vhost == f"{fq}:8080"}
    assert got == {"api": ("/api", {}), "v3": ("/v3", {"NC": 1.0}), "(no route)": ("/.topo/no-route", {"NR": 1.0})}
    # the example of the demo-like split dump: one class, 90/10, ok
    (split,) = [c for c in search.search(graph_of(simple_mesh_dump()), "client-abc", ["ok"]).classes
                if c.route == "split"]
    assert split.clusters == {f"outbound|8080|v1|{fq}": 0.9, f"outbound|8080|v2|{fq}": 0.1}


def test_an_injected_abort_is_an_outcome(graph_of):
    """fault-injection: abort 30% with 503 on route flaky: FI 30%, the rest delivered."""
    (c,) = search.search(graph_of(CONF / "fault-injection" / "dumps"), CLIENT, ["FI"]).classes
    assert c.route == "flaky" and abs(c.dead_ends["FI"] - 0.3) < 1e-9 and c.outcome == "partial"
