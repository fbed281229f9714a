"""The conformance suite (tests/conformance/, its README): dumps made by Istio's own istiod from
Istio YAML, answers reasoned by hand, istioctl's own tables. Everything here runs from the
committed files (no Go) on both backends (the ``graph_of`` / ``cli_graph`` fixtures).

For each scenario, from ``expected.json``:

* ``requests`` → ``test_path``: topo's walk of each request from its source proxy: the listener
  that handles it, route config, virtual host, route, each cluster's route weight, each endpoint's
  share, the dead ends, the mirrors, the faults, the outcome.
* ``check`` → ``test_check``: each expected finding is there (kind, pod, every ``contains``
  string), and no error-severity finding of another kind is.
* ``istioctl/<pod>.{listener,route,cluster,eds,all}.txt`` → ``test_show``: `topo show` prints
  them byte for byte.

**Not evaluated yet: the server side (issue 15).** What the destination's sidecar does with a
request (mTLS or plaintext, the virtualInbound chain, AuthorizationPolicy) is issue 15's. Until
it lands, this runner does not evaluate: the ``server`` key of every expectation,
``external_requests`` (calls from pods without a sidecar, which only the server side sees), the
server-side ``check`` kinds (:data:`SERVER_CHECKS`), and the shares a server-side ``DENY`` /
``NOCHAIN`` takes. For a request with such a dead end, the client side is still checked: the
same endpoints are reached, the shares of the endpoints the server lets through are exact, and
topo's shares add up to what those endpoints and the server's dead ends share. Nothing of this is
an xfail or a skip: :func:`deferred_to_issue_15` names each part left out, and
``test_only_the_server_side_is_deferred`` fails if an expectation holds anything else that the
runner does not read. Issue 15 replaces :func:`deferred_to_issue_15` by the evaluation.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT
from typer.testing import CliRunner

from topo.cli import app
from topo.queries.check import check
from topo.queries.path import PathAnswer, path

SUITE = ROOT / "tests" / "conformance"
SCENARIOS = sorted(p.parent.name for p in SUITE.glob("*/expected.json"))
SHOW = {"listener": "listeners", "route": "routes", "cluster": "clusters", "eds": "endpoints", "all": "all"}
# ---- what issue 15 (the server side) will evaluate; this runner reads none of it
SERVER_KEYS = ("server",)  # per expectation: mTLS, inbound chain, verdict, policy
SERVER_DEAD_ENDS = ("DENY", "NOCHAIN")  # shares the destination's sidecar takes
SERVER_CHECKS = ("strict_plaintext", "allow_nothing", "unmatched_allow", "http_fields_on_tcp")
CLIENT_KEYS = ("listener", "route_config", "virtual_host", "route", "clusters", "endpoints", "dead_ends", "mirrors",
               "faults", "outcome")
runner = CliRunner()


@functools.cache
def expected(scenario: str) -> dict[str, Any]:
    return json.loads((SUITE / scenario / "expected.json").read_text())


def deferred_to_issue_15(scenario: str) -> list[str]:
    """The parts of a scenario's expectations this runner leaves to the server side (issue 15)."""
    e = expected(scenario)
    out = [f"external_requests: {r['id']}" for r in e.get("external_requests", [])]
    for rid, x in sorted(e["expect"].items()):
        out += [f"{rid}: {k}" for k in SERVER_KEYS if k in x]
        out += [f"{rid}: dead end {k}" for k in SERVER_DEAD_ENDS if k in x.get("dead_ends", {})]
    out += [f"check {c['kind']}" for c in e["check"] if c["kind"] in SERVER_CHECKS]
    return out


def _cases() -> list[tuple[str, str]]:
    return [(s, r["id"]) for s in SCENARIOS for r in expected(s)["requests"]]


def _show_cases() -> list[tuple[str, str]]:
    return [(s, f.name.split(".")[0]) for s in SCENARIOS for f in sorted((SUITE / s / "istioctl").glob("*.all.txt"))]


# ---------------------------------------------------------------- path
def _walk(g: Any, r: dict[str, Any]) -> PathAnswer:
    tls = bool(r.get("tls"))
    sni = r.get("sni") or (r["host"] if tls else "") or None  # the generator's rule: SNI defaults to the host
    res = path(g, r["src"], f"{r['ip']}:{r['port']}", req_path=r["path"], headers=r["headers"], method=r["method"],
               host=r["host"] or None, tcp=r["tcp"], tls=tls, sni=sni)
    (a,) = res.answers
    return a


def _hop(a: PathAnswer, kind: str) -> str | None:
    return next((h.name for h in a.hops if h.kind == kind), None)


def _sums(pairs: list[tuple[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in pairs:
        out[k] = out.get(k, 0.0) + v
    return out


def _close(got: dict[str, float], want: dict[str, float], what: str) -> None:
    assert sorted(got) == sorted(want), f"{what}: {got} != {want}"
    for k, v in want.items():
        assert got[k] == pytest.approx(v, abs=1e-9), f"{what} {k}: {got[k]} != {v}"


@pytest.mark.parametrize(("scenario", "rid"), _cases(), ids=[f"{s}-{r}" for s, r in _cases()])
def test_path(graph_of, scenario, rid):
    e = expected(scenario)
    r = next(x for x in e["requests"] if x["id"] == rid)
    x = e["expect"][rid]
    a = _walk(graph_of(SUITE / scenario / "dumps"), r)
    # the listener that handles the connection: the hand-off target, else the one that accepted it
    assert (_hop(a, "handoff") or _hop(a, "listener")) == x["listener"]
    assert _hop(a, "route_config") == x["route_config"]
    assert _hop(a, "virtual_host") == x["virtual_host"]
    assert _hop(a, "route") == x["route"]
    _close(_sums([(c.name, c.fraction) for c in a.clusters]), x["clusters"], "route weights")
    endpoints = _sums([(ep.address, ep.share) for ep in a.endpoints])
    dead = _sums([(d.flag, d.share) for d in a.dead_ends])
    server = {k: v for k, v in x["dead_ends"].items() if k in SERVER_DEAD_ENDS}
    _close(dead, {k: v for k, v in x["dead_ends"].items() if k not in SERVER_DEAD_ENDS}, "dead ends")
    if not server:
        _close(endpoints, {k: v for k, v in x["endpoints"].items() if v}, "endpoint shares")
        assert a.outcome == x["outcome"]
    else:
        # issue 15 decides DENY / NOCHAIN: the client still reaches the same endpoints; those the
        # server lets through keep their share, and the shares add up to what the server gets
        assert sorted(endpoints) == sorted(x["endpoints"])
        for k, v in x["endpoints"].items():
            if v:
                assert endpoints[k] == pytest.approx(v, abs=1e-9)
        assert sum(endpoints.values()) == pytest.approx(sum(x["endpoints"].values()) + sum(server.values()))
    _close({m.cluster: m.share for m in a.mirrors}, x.get("mirrors", {}), "mirrors")
    faults = {f.kind: ({"percent": f.percent, "status": f.http_status} if f.kind == "abort" else
                       {"percent": f.percent, "duration": f.duration}) for f in a.faults}
    assert faults == x.get("faults", {})


# ---------------------------------------------------------------- check
def _text(f: Any) -> str:
    return " ".join([f.message, *f.details, *f.objects.values(), *f.pods, *f.istio])


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_check(graph_of, scenario):
    e = expected(scenario)
    res = check(graph_of(SUITE / scenario / "dumps"))
    want = [c for c in e["check"] if c["kind"] not in SERVER_CHECKS]
    for c in want:
        found = [f for f in res.findings if f.kind == c["kind"] and any(p.split("/")[-1] == c["pod"] for p in f.pods)]
        assert found, f"no {c['kind']} finding on {c['pod']}: {[(f.kind, f.pods) for f in res.findings]}"
        assert any(all(s in _text(f) for s in c["contains"]) for f in found), (c, [_text(f) for f in found])
    kinds = {c["kind"] for c in want}
    assert [f.kind for f in res.findings if f.severity == "error" and f.kind not in kinds] == []


# ---------------------------------------------------------------- show
@pytest.mark.parametrize(("scenario", "pod"), _show_cases(), ids=[f"{s}-{p}" for s, p in _show_cases()])
def test_show(cli_graph, scenario, pod):
    graph = cli_graph(SUITE / scenario / "dumps")
    for f in sorted((SUITE / scenario / "istioctl").glob(f"{pod}.*.txt")):
        kind = f.name.split(".")[-2]
        out = runner.invoke(app, ["show", SHOW[kind], pod, *graph])
        assert out.exit_code == 0, out.output
        assert out.stdout == f.read_text(), f"{f.relative_to(ROOT)} differs"


# ---------------------------------------------------------------- what waits for issue 15
def test_only_the_server_side_is_deferred():
    """Every key of every expectation is read above or deferred by name; the server side is
    deferred in exactly the scenarios that have one (the 11 security scenarios, and the server
    entries the routing scenarios carry)."""
    for s in SCENARIOS:
        e = expected(s)
        assert set(e) <= {"requests", "external_requests", "expect", "check", "notes"}, s
        for rid, x in e["expect"].items():
            assert set(x) <= {*CLIENT_KEYS, *SERVER_KEYS}, (s, rid, set(x) - {*CLIENT_KEYS, *SERVER_KEYS})
        ext = {r["id"] for r in e.get("external_requests", [])}
        assert ext | {r["id"] for r in e["requests"]} == set(e["expect"]), s
    security = [s for s in SCENARIOS if s.startswith(("authz-", "mtls-"))]
    assert len(security) == 11 and len(SCENARIOS) == 28
    deferred = {s: deferred_to_issue_15(s) for s in SCENARIOS}
    assert all(deferred[s] for s in security)
    assert sum(len(v) for v in deferred.values()) == 78, {s: len(v) for s, v in deferred.items()}


def test_suite_files_are_complete():
    for s in SCENARIOS:
        d: Path = SUITE / s
        pods = sorted(p.stem for p in (d / "dumps").glob("*.json") if p.stem not in ("pods", "services"))
        assert pods, s
        assert sorted(f.name for f in (d / "istioctl").glob("*.txt")) == sorted(
            f"{p}.{k}.txt" for p in pods for k in SHOW), s
        assert (d / "README.md").is_file() and (d / "istio-simulation.json").is_file()
