"""``topo assert FILE``: expectations about the mesh, for CI and pre-upgrade checks.

FILE is YAML: a list of expectations (or a mapping whose ``expect`` key holds the list). Each names
a request or a set of request classes and one or more checks::

    - name: canary gets 10%                 # optional; else made from the rest
      from: istio-demo/integration          # ns/workload, a workload, a pod or ns/pod
      to: publictest:9000                   # service[:port], FQDN, VIP, IP:PORT or URL
      path: /api                            # request fields: path, method, host, port, headers {k: v}, tcp
      share: {v2: 10%±1, v1: 90%±1}         # v2: a subset, cluster, endpoint IP:port, pod, or a dead-end flag
    - {from: istio-demo/integration, to: publictest:9000, reaches: 100%}
    - {from: demo/client, to: web, path: /admin, outcome: DENY}
    - {from: demo/client, no-dead-ends: true}          # without `to`: every request class (topo search)
    - {search: {outcome: NC, count: 0}}                # without `from`: every source

Checks, each against every distinct proxy config of the source (all must hold):

* ``reaches: P`` — the share of requests that reach an endpoint is P.
* ``share: {K: P, …}`` — the share that reaches subset or cluster K's endpoints, endpoint or pod K,
  or (K a dead-end flag: NC, UH, NR, FI, DENY …) that dies with K.
* ``outcome: O`` — ``ok``, ``partial``, ``dead_end``, or a flag every request dies with.
* ``no-dead-ends: true`` — with ``to``: the request meets none; without: no request class of the
  source (or of every source) to a destination in the registry meets one (the catch-alls for unknown
  hosts and IPs are left out, as :mod:`topo.queries.search` marks them).
* ``search: {outcome: O[,O…], count: N}`` — that many request classes end in O (N may be
  ``<= N`` or ``>= N``).

P is ``90%``, ``90%±1`` (percentage points), ``>= 99%`` or ``<= 1%``; a bare number up to 1 is a
fraction. Requests are answered exactly as ``topo path`` answers them, request classes as ``topo
search`` finds them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from topo.errors import TopoError
from topo.model.names import parse_cluster_name
from topo.queries import path as path_q
from topo.queries import search as search_q
from topo.stores.hops import MeshGraph
from topo.util import pct

REQUEST_FIELDS = ("path", "method", "host", "port", "headers", "tcp")
CHECKS = ("reaches", "share", "outcome", "no-dead-ends", "search")
KNOWN = {"name", "from", "to", *REQUEST_FIELDS, *CHECKS}
EPS = 1e-9


@dataclass
class CheckResult:
    check: str  # reaches, share v2, outcome, no-dead-ends, search
    expected: str
    actual: str
    ok: bool
    details: list[str] = field(default_factory=list)


@dataclass
class ExpectationResult:
    index: int  # 1-based position in the file
    name: str
    source: str | None
    destination: str | None
    ok: bool
    checks: list[CheckResult]
    error: str = ""  # the expectation could not be evaluated (unknown source, …): it fails


@dataclass
class AssertResult:
    file: str
    snapshot: str
    passed: int
    failed: int
    results: list[ExpectationResult]

    @property
    def ok(self) -> bool:
        return self.failed == 0


# ---------------------------------------------------------------- the file
def parse_file(text: str, where: str = "FILE") -> list[dict[str, Any]]:
    """The expectations of a YAML document; a TopoError (exit 2) naming what is wrong otherwise."""
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        raise TopoError(f"{where}: not valid YAML{at}: {getattr(e, 'problem', None) or e}", 2) from None
    if isinstance(doc, dict) and "expect" in doc:
        doc = doc["expect"]
    if not isinstance(doc, list) or not doc:
        raise TopoError(f"{where}: expected a list of expectations (or a mapping with `expect:`)", 2)
    for i, item in enumerate(doc, 1):
        if not isinstance(item, dict):
            raise TopoError(f"{where}: expectation {i} is not a mapping", 2)
        unknown = sorted(str(k) for k in item if k not in KNOWN)
        if unknown:
            raise TopoError(f"{where}: expectation {i}: unknown key {unknown[0]!r} (known: "
                            f"{', '.join(sorted(KNOWN))})", 2)
        if not any(k in item for k in CHECKS):
            raise TopoError(f"{where}: expectation {i} has no check ({', '.join(CHECKS)})", 2)
        needs_to = [k for k in ("reaches", "share", "outcome") if k in item]
        if needs_to and "to" not in item:
            raise TopoError(f"{where}: expectation {i}: {needs_to[0]} needs `to`", 2)
        if "to" in item and "from" not in item:
            raise TopoError(f"{where}: expectation {i}: `to` needs `from`", 2)
        if "share" in item and not (isinstance(item["share"], dict) and item["share"]):
            raise TopoError(f"{where}: expectation {i}: share takes a mapping, e.g. {{v2: 10%±1}}", 2)
        if "search" in item and not (isinstance(item["search"], dict) and "outcome" in item["search"]):
            raise TopoError(f"{where}: expectation {i}: search takes {{outcome: NC, count: 0}}", 2)
        for k in ("reaches",) + tuple(f"share.{x}" for x in (item.get("share") or {})):
            v = item["share"][k[6:]] if k.startswith("share.") else item.get(k)
            if v is not None:
                try:
                    parse_share(v)
                except ValueError as e:
                    raise TopoError(f"{where}: expectation {i}: {k}: {e}", 2) from None
    return doc


_SHARE = re.compile(r"^\s*(?P<op><=|>=|=)?\s*(?P<v>[0-9]+(?:\.[0-9]+)?)\s*(?P<pc>%)?\s*"
                    r"(?:(?:±|\+-|\+/-)\s*(?P<tol>[0-9]+(?:\.[0-9]+)?)\s*%?)?\s*$")


def parse_share(v: Any) -> tuple[str, float, float]:
    """``90%±1`` → ("=", 0.9, 0.01); ``>= 99%`` → (">=", 0.99, 0); ``0.1`` → ("=", 0.1, 0)."""
    if isinstance(v, bool):
        raise ValueError(f"{v!r} is not a share")
    m = _SHARE.match(str(v))
    if not m:
        raise ValueError(f"{v!r} is not a share (90%, 90%±1, >= 99%, 0.9)")
    x = float(m["v"])
    if m["pc"]:
        x /= 100
    elif x > 1:
        raise ValueError(f"{v!r}: a number without % must be a fraction up to 1")
    tol = float(m["tol"]) / 100 if m["tol"] else 0.0
    return m["op"] or "=", x, tol


def _holds(spec: tuple[str, float, float], x: float) -> bool:
    op, want, tol = spec
    if op == ">=":
        return x >= want - EPS
    if op == "<=":
        return x <= want + EPS
    return abs(x - want) <= tol + EPS


def _spec_text(v: Any) -> str:
    return str(v).replace(" ", "")


def _count_spec(v: Any) -> tuple[str, int]:
    if isinstance(v, int) and not isinstance(v, bool):
        return "=", v
    m = re.match(r"^\s*(<=|>=|=)?\s*([0-9]+)\s*$", str(v))
    if not m:
        raise TopoError(f"search count {v!r} is not N, <= N or >= N", 2)
    return m[1] or "=", int(m[2])


# ---------------------------------------------------------------- one expectation
def _source(g: MeshGraph, text: str) -> tuple[str, str | None]:
    """SRC as topo path takes it (a pod, ``ns/pod``, a workload, ``ns/workload``), no namespace filter."""
    return text, None


def _request_kw(item: dict[str, Any]) -> dict[str, Any]:
    headers = item.get("headers") or {}
    if not isinstance(headers, dict):
        raise TopoError("headers takes a mapping {name: value}", 2)
    port = item.get("port")
    return {"req_path": str(item["path"]) if "path" in item else None, "method": str(item.get("method", "GET")),
            "host": str(item["host"]) if "host" in item else None, "port": int(port) if port is not None else None,
            "headers": {str(k).lower(): str(v) for k, v in headers.items()}, "tcp": bool(item.get("tcp", False))}


def _share_of(a: path_q.PathAnswer, key: str) -> tuple[float, str]:
    dead = {d.flag.lower(): 0.0 for d in a.dead_ends}
    for d in a.dead_ends:
        dead[d.flag.lower()] += d.share
    k = search_q.ALIASES.get(key.lower(), key).lower()
    if k in dead:
        return dead[k], f"dies with {key}"
    eps = [e for e in a.endpoints
           if key in (e.cluster, e.address, e.pod) or parse_cluster_name(e.cluster)["subset"] == key
           or (e.pod or "").rsplit("/", 1)[-1] == key]
    if eps:
        return sum(e.share for e in eps), f"reaches {len(eps)} endpoint{'s' if len(eps) != 1 else ''}"
    named = [c for c in a.clusters if key in (c.name, parse_cluster_name(c.name)["subset"])]
    if named:
        flags = sorted({c.flag for c in named if c.flag})
        return 0.0, f"routed {pct(sum(c.share for c in named))} but dies there ({', '.join(flags) or 'no endpoint'})"
    return 0.0, f"nothing matches {key}"


def _path_checks(g: MeshGraph, item: dict[str, Any]) -> list[CheckResult]:
    src, ns = _source(g, str(item["from"]))
    res = path_q.path(g, src, str(item["to"]), namespace=ns, **_request_kw(item))
    out: list[CheckResult] = []
    many = len(res.answers) > 1

    def per_answer(check: str, expected: str, fn: Callable[[path_q.PathAnswer], tuple[bool, str, str]]) -> None:
        oks, actual, details = [], [], []
        for a in res.answers:
            ok, act, why = fn(a)
            oks.append(ok)
            actual.append(act)
            who = f"{a.pods[0]}{f' (+{len(a.pods) - 1})' if len(a.pods) > 1 else ''}: " if many else ""
            details.append(f"{who}{why}" if why else "")
        shown = sorted(set(actual))
        out.append(CheckResult(check, expected, " / ".join(shown), all(oks), [d for d in details if d]))

    if "reaches" in item:
        spec = parse_share(item["reaches"])
        per_answer("reaches", _spec_text(item["reaches"]), lambda a: (
            _holds(spec, sum(e.share for e in a.endpoints)), pct(sum(e.share for e in a.endpoints)),
            "; ".join(f"{d.flag} {pct(d.share)}: {d.reason}" for d in a.dead_ends)))
    for key, v in (item.get("share") or {}).items():
        spec = parse_share(v)

        def fn(a: path_q.PathAnswer, key: str = str(key), spec: tuple[str, float, float] = spec
               ) -> tuple[bool, str, str]:
            x, why = _share_of(a, key)
            return _holds(spec, x), pct(x), why

        per_answer(f"share {key}", _spec_text(v), fn)
    if "outcome" in item:
        want = str(item["outcome"])

        def fn_o(a: path_q.PathAnswer) -> tuple[bool, str, str]:
            flags = ", ".join(f"{d.flag} {pct(d.share)}" for d in a.dead_ends)
            if want in ("ok", "partial", "dead_end"):
                return a.outcome == want, a.outcome, flags
            x, _why = _share_of(a, want)
            return x >= 1 - EPS, flags or "ok", ""

        per_answer("outcome", want, fn_o)
    if item.get("no-dead-ends") is not None:
        want_none = bool(item["no-dead-ends"])
        per_answer("no-dead-ends", str(want_none).lower(), lambda a: (
            (not a.dead_ends) == want_none, ", ".join(f"{d.flag} {pct(d.share)}" for d in a.dead_ends) or "none",
            "; ".join(d.reason for d in a.dead_ends)))
    return out


def _class_line(c: search_q.RequestClass) -> str:
    flags = ", ".join(f"{f} {pct(s)}" for f, s in c.dead_ends.items()) or "ok"
    return f"{flags}: {c.command}"


def _class_checks(g: MeshGraph, item: dict[str, Any]) -> list[CheckResult]:
    src, ns = _source(g, str(item["from"])) if "from" in item else (None, None)
    out: list[CheckResult] = []
    if item.get("no-dead-ends") is not None:
        res = search_q.search(g, src, ["dead"], namespace=ns)
        bad = [c for c in res.classes if not c.catch_all]
        want = bool(item["no-dead-ends"])
        out.append(CheckResult("no-dead-ends", str(want).lower(), f"{len(bad)} of {res.examined} classes dead-end",
                               (not bad) == want, [_class_line(c) for c in bad[:20]]))
    if "search" in item:
        s = item["search"]
        outcomes = [str(o) for o in (s["outcome"] if isinstance(s["outcome"], list) else str(s["outcome"]).split(","))]
        op, n = _count_spec(s.get("count", 0))
        res = search_q.search(g, src, outcomes, namespace=ns)
        got = len(res.classes)
        ok = got == n if op == "=" else got <= n if op == "<=" else got >= n
        out.append(CheckResult(f"search {','.join(outcomes)}", f"{'' if op == '=' else op + ' '}{n}",
                               f"{got} of {res.examined} classes", ok, [_class_line(c) for c in res.classes[:20]]))
    return out


def _name(item: dict[str, Any]) -> str:
    if item.get("name"):
        return str(item["name"])
    who = str(item.get("from", "every source"))
    what = f" → {item['to']}{item.get('path', '')}" if "to" in item else ""
    def v(x: Any) -> str:
        if isinstance(x, dict):
            return "{" + ", ".join(f"{k}: {v(y)}" for k, y in x.items()) + "}"
        return str(x).lower() if isinstance(x, bool) else str(x)

    checks = ", ".join(f"{k} {v(item[k])}" for k in CHECKS if k in item)
    return f"{who}{what}: {checks}"


def evaluate(g: MeshGraph, items: list[dict[str, Any]], *, file: str = "", snapshot: str = "") -> AssertResult:
    results = []
    for i, item in enumerate(items, 1):
        checks: list[CheckResult] = []
        error = ""
        try:
            if "to" in item:
                checks = _path_checks(g, item)
            else:
                checks = _class_checks(g, item)
        except TopoError as e:
            error = str(e)
        ok = not error and bool(checks) and all(c.ok for c in checks)
        results.append(ExpectationResult(i, _name(item), str(item["from"]) if "from" in item else None,
                                         str(item["to"]) if "to" in item else None, ok, checks, error))
    passed = sum(1 for r in results if r.ok)
    return AssertResult(file, snapshot, passed, len(results) - passed, results)
