"""Locality and failure what-ifs (issue 16 item 3): `topo path --from-zone`, `topo blast --zone/--region/--node`.

The conformance scenarios locality-failover and locality-distribute hold callers in several zones with
their expected shares (their README.md reasons them out from the YAML and §8); a caller moved to another
zone must get what the caller who is there gets. The small dumps below spell out §8's arithmetic.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson
import pytest
from builders import cluster, dump, http_listener, route, route_config, sock, vhost, virtual_outbound
from conftest import ROOT
from typer.testing import CliRunner

from topo.cli import app
from topo.errors import TopoError
from topo.queries import blast, path
from topo.queries.locality import default_priorities, lb_priority

CONF = ROOT / "tests" / "conformance"
R1Z1 = "client-2ec7c0d68-1d169"


def expected(scenario: str, rid: str) -> dict[str, float]:
    exp = json.loads((CONF / scenario / "expected.json").read_text())
    return {k: v for k, v in exp["expect"][rid]["endpoints"].items() if v}


def shares(answer: Any) -> dict[str, float]:
    return {e.address: round(e.share, 9) for e in answer.endpoints if e.share}


# ---------------------------------------------------------------- Istio's rule
def test_istio_lb_priority_and_compaction():
    assert [lb_priority("r1/z1/s1", x) for x in ("r1/z1/s1", "r1/z1/s2", "r1/z2", "r2/z1")] == [0, 1, 2, 3]
    # the scenario's r2/z3 caller: r1 is another region (3), compacted to 1 (README of locality-failover)
    assert default_priorities("r2/z3", ["r1/z1", "r1/z2", "r2/z3"]) == {"r1/z1": 1, "r1/z2": 1, "r2/z3": 0}


# ---------------------------------------------------------------- path --from-zone
def test_from_zone_uses_the_eds_of_a_caller_there(graph_of):
    g = graph_of(CONF / "locality-failover" / "dumps")
    (own,) = path.path(g, R1Z1, "web").answers
    assert shares(own) == expected("locality-failover", "from-r1-z1")
    (moved,) = path.path(g, R1Z1, "web", from_zone="r2/z3").answers
    assert shares(moved) == expected("locality-failover", "from-r2-z3")
    assert any("client-2ec7c0d68-7e8e4" in n for n in moved.notes)
    # a bare zone name is completed with its region
    assert shares(path.path(g, R1Z1, "web", from_zone="z3").answers[0]) == shares(moved)


def test_from_zone_follows_a_distribute_rule_only_a_caller_there_shows(graph_of):
    g = graph_of(CONF / "locality-distribute" / "dumps")
    (a,) = path.path(g, "client-2ec7c0d68-8c3ad", "web", from_zone="r1/z1").answers
    assert shares(a) == expected("locality-distribute", "from-r1-z1")
    (b,) = path.path(g, R1Z1, "web", from_zone="r1/z2").answers
    assert shares(b) == expected("locality-distribute", "from-r1-z2")


def failover_dump(prios: dict[str, int], *, pod_locality: dict[str, str] | None = None) -> dict[str, Any]:
    """A client in r1/z1 calling `web`, whose cluster has outlier detection and locality-weighted LB, with
    one endpoint per locality at the priorities given (10.1.0.1 r1/z1, .2 r1/z2, .3 r2/z3)."""
    fq = "web.default.svc.cluster.local"
    c = f"outbound|80||{fq}"
    locs = {"r1/z1": "10.1.0.1", "r1/z2": "10.1.0.2", "r2/z3": "10.1.0.3"}
    cla = {"cluster_name": c, "policy": {"overprovisioning_factor": 140}, "endpoints": [
        {"locality": dict(zip(("region", "zone"), loc.split("/"), strict=True)), "priority": prios[loc],
         "load_balancing_weight": 1,
         "lb_endpoints": [{"endpoint": {"address": sock(ip, 8080)}, "health_status": "HEALTHY"}]}
        for loc, ip in locs.items()]}
    d = dump(listeners=[virtual_outbound(), http_listener(80)],
             route_configs=[route_config("80", [vhost(f"{fq}:80", [fq, "web", "10.96.0.20"], [route(cluster=c)])])],
             clusters=[cluster(c, outlier_detection={}, common_lb_config={"healthy_panic_threshold": {},
                                                                          "locality_weighted_lb_config": {}})],
             endpoints=[cla])
    boot = d["configs"][0]["bootstrap"]["node"]
    boot["locality"] = {"region": "r1", "zone": "z1"}
    return d


def test_from_zone_ranks_priorities_again_when_no_caller_is_there(graph_of):
    # the dump's priorities are Istio's default order from r1/z1: z1 0, z2 1 (same region), r2 2
    g = graph_of(failover_dump({"r1/z1": 0, "r1/z2": 1, "r2/z3": 2}))
    assert shares(path.path(g, "client-abc", "web").answers[0]) == {"10.1.0.1:8080": 1.0}
    # from r2/z3: its own zone first (0), both r1 localities another region (3 → 1)
    (a,) = path.path(g, "client-abc", "web", from_zone="r2/z3").answers
    assert shares(a) == {"10.1.0.3:8080": 1.0}
    assert any("ranked again from r2/z3" in n for n in a.notes)
    (b,) = path.path(g, "client-abc", "web", from_zone="r1/z2").answers
    assert shares(b) == {"10.1.0.2:8080": 1.0}


def test_from_zone_keeps_priorities_that_are_not_istios_default_order(graph_of):
    # r2 before r1/z2: a failoverPriority or failover rule made these; topo cannot redo them
    g = graph_of(failover_dump({"r1/z1": 0, "r1/z2": 2, "r2/z3": 1}))
    (a,) = path.path(g, "client-abc", "web", from_zone="r2/z3").answers
    assert shares(a) == {"10.1.0.1:8080": 1.0}
    assert any("kept as dumped" in n for n in a.notes)


def test_from_zone_needs_the_sources_locality(graph_of):
    d = failover_dump({"r1/z1": 0, "r1/z2": 1, "r2/z3": 2})
    del d["configs"][0]["bootstrap"]["node"]["locality"]
    with pytest.raises(TopoError, match="needs the source's locality"):
        path.path(graph_of(d), "client-abc", "web", from_zone="r2/z3")


# ---------------------------------------------------------------- blast --zone / --region / --node
def test_blast_zone_spills_to_the_next_priority(graph_of):
    g = graph_of(CONF / "locality-failover" / "dumps")
    res = blast.blast(g, zone="r1/z2")
    assert res.kind == "zone" and res.failed_endpoints == ["10.244.0.21:8080"]
    assert "demo/web-25d96dc6e-b4124" in res.failed_sources  # the web pod on node-b fails with its zone
    (row,) = [r for r in res.rows if r.pods == [f"demo/{R1Z1}"]]
    # P1 (.21) was the r1/z1 caller's only healthy priority (P0 is the unready .11): all of it moves to
    # P2 (r2/z3, two hosts), nothing is lost (README of locality-failover; §8 steps 2–4)
    assert row.lost == 0 and math.isclose(row.moved, 1.0)
    assert [(m.priority, m.locality, round(m.share, 9), m.endpoints) for m in row.moved_to] == [(2, "r2/z3", 1.0, 2)]
    # the r2/z3 caller never used r1/z2: no row
    assert not [r for r in res.rows if r.pods == ["demo/client-2ec7c0d68-7e8e4"]]
    # node-b holds exactly that zone's pod: the same answer
    by_node = blast.blast(g, node="node-b")
    assert by_node.kind == "node" and [(r.pods, r.moved) for r in by_node.rows] == [(r.pods, r.moved) for r in res.rows]


def test_blast_region_takes_its_sources_down_too(graph_of):
    g = graph_of(CONF / "locality-failover" / "dumps")
    res = blast.blast(g, region="r1")
    assert res.failed_endpoints == ["10.244.0.11:8080", "10.244.0.21:8080"]
    assert f"demo/{R1Z1}" in res.failed_sources
    assert res.rows == []  # the one caller left (r2/z3) used only its own zone


def opf_dump(*, panic: Any, outlier: bool = True,
             groups: tuple[tuple[str, int, int], ...] = (("z1", 0, 3), ("z2", 1, 2))) -> dict[str, Any]:
    """`web` with endpoints per (zone, priority, count): zone z1's are 10.1.0.x, z2's 10.2.0.x."""
    fq = "web.default.svc.cluster.local"
    c = f"outbound|80||{fq}"
    cla = {"cluster_name": c, "policy": {"overprovisioning_factor": 140}, "endpoints": [
        {"locality": {"region": "r1", "zone": z}, "priority": prio,
         "lb_endpoints": [{"endpoint": {"address": sock(f"10.{z[1]}.0.{i + 1}", 8080)}, "health_status": "HEALTHY"}
                          for i in range(n)]}
        for z, prio, n in groups]}
    extra: dict[str, Any] = {"outlier_detection": {}} if outlier else {}
    if panic is not None:
        extra["common_lb_config"] = {"healthy_panic_threshold": panic}
    return dump(listeners=[virtual_outbound(), http_listener(80)],
                route_configs=[route_config("80", [vhost(f"{fq}:80", [fq, "web"], [route(cluster=c)])])],
                clusters=[cluster(c, **extra)], endpoints=[cla])


def test_blast_overprovisioning_factor_spills_part_of_the_load(graph_of):
    """One of three P0 hosts fails (kept as unhealthy: outlier detection): health_P0 = ⌊140·2/3⌋ = 93, P1 100,
    NTA 100: P0 keeps 93%, P1 gets 7% (§8 steps 2–4). Before, each P0 host had 1/3."""
    res = blast.blast(graph_of(opf_dump(panic={})), "10.1.0.1")
    (row,) = res.rows
    assert row.lost == 0 and math.isclose(row.moved, 1 / 3)
    got = {(m.priority, m.locality): round(m.share, 9) for m in row.moved_to}
    assert got == {(0, "r1/z1"): round(0.93 - 2 / 3, 9), (1, "r1/z2"): 0.07}
    # the whole of z1 fails: health_P0 0, all of it to P1
    (row,) = blast.blast(graph_of(opf_dump(panic={})), zone="z1").rows
    assert [(m.priority, round(m.share, 9), m.endpoints) for m in row.moved_to] == [(1, 1.0, 2)]


def test_blast_panic_threshold_sends_to_the_failed_hosts(graph_of):
    """Zone z1 holds two of the three hosts of one priority; outlier detection keeps them as unhealthy and the
    panic threshold is absent (50%): 1/3 healthy is below it, so Envoy balances over all three (§8 step 5):
    the two failed hosts still get 2/3 of the requests, lost; the healthy one keeps its 1/3, nothing moves."""
    g = graph_of(opf_dump(panic=None, groups=(("z1", 0, 2), ("z2", 0, 1))))
    (row,) = blast.blast(g, zone="z1").rows
    assert math.isclose(row.to_failed, 2 / 3) and math.isclose(row.lost, 2 / 3) and row.moved == 0
    assert not row.fails_outright
    # with Istio's panic threshold 0 the healthy host takes everything instead
    g0 = graph_of(opf_dump(panic={}, groups=(("z1", 0, 2), ("z2", 0, 1))))
    (row,) = blast.blast(g0, zone="z1").rows
    assert row.lost == 0 and math.isclose(row.moved, 2 / 3) and row.to_failed == 0


def test_blast_without_kept_hosts_removes_them(graph_of):
    """No outlier detection and no panic threshold of 0: a failed pod leaves EDS, P0 keeps everything."""
    res = blast.blast(graph_of(opf_dump(panic=None, outlier=False)), "10.1.0.1")
    (row,) = res.rows
    assert [(m.priority, round(m.share, 9)) for m in row.moved_to] == [(0, round(1 / 3, 9))]


def test_blast_zone_cli_and_json(cli_graph):
    r = CliRunner().invoke(app, ["blast", "--zone", "z2", *cli_graph(CONF / "locality-failover" / "dumps"),
                                 "-o", "json"])
    assert r.exit_code == 0, r.output
    doc = orjson.loads(r.stdout)
    assert doc["kind"] == "zone" and doc["target"] == "r1/z2"
    assert [m["locality"] for row in doc["rows"] for m in row["moved_to"]] == ["r2/z3"] * len(doc["rows"])
    t = CliRunner().invoke(app, ["blast", "--zone", "z2", *cli_graph(CONF / "locality-failover" / "dumps")])
    assert "P2 r2/z3 100%" in t.stdout
    bad = CliRunner().invoke(app, ["blast", "--zone", "z9", *cli_graph(CONF / "locality-failover" / "dumps")])
    assert bad.exit_code == 2 and "z9" in bad.output and "Traceback" not in bad.output
    both = CliRunner().invoke(app, ["blast", "web", "--zone", "z2", *cli_graph(CONF / "locality-failover" / "dumps")])
    assert both.exit_code == 2 and "one of TARGET" in both.output
