"""``topo search SRC --outcome NC,UH …``: the request classes from SRC that end in an outcome.

Batfish's ``searchFilters`` asks "which packets does this ACL treat this way?"; here the space
is the one the proxy's route configs define themselves. For every outbound listener of SRC's
config (ENVOY-SEMANTICS.md §2), every filter chain (§3), every virtual host of an HTTP chain's
route config (§5) and every route of it (§6), one **example request** is built that the route
matches and no earlier route does (Envoy takes the first route that matches), plus, per vhost,
one request that matches none of its routes, and per route config one Host that no vhost takes.
tcp_proxy chains are one class each, and virtualOutbound's catch-all is the class of every
IP:port without a listener of its own. Each example is then answered exactly as ``topo path``
answers it (:func:`topo.queries.path.answer`), so ``topo path`` with the printed command line
reproduces it.

A class "ends in" an outcome when some share of its requests meets a dead end of that flag
(``NR``, ``NC``, ``UH``, ``BlackHole``, ``PassthroughCluster`` …, whatever the walk reports:
a new kind of dead end needs no change here), or ``ok`` when none does.

Examples are built from the matchers: a prefix is its own example, an exact path itself, a
regex gets a string generated from its syntax tree and checked with a full match; header,
query and ``:method`` conditions get a value that satisfies them (or, inverted, one that does
not). A route for which no example selects it (it is shadowed, or its regex is beyond the
generator) is listed under ``unsampled``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from topo.model.rows import jload
from topo.queries import envoy
from topo.queries.envoy import Request
from topo.queries.path import PathAnswer, answer
from topo.queries.reach import _outbound_listeners
from topo.queries.resolve import SourceGroup, resolve_source
from topo.stores.hops import MeshGraph, Props
from topo.util import is_ip

OUTSIDE_IP = "192.0.2.1"  # TEST-NET-1 (RFC 5737): an address no mesh holds, for "any other destination"
UNKNOWN_HOST = "unknown.invalid"  # a Host no vhost names (RFC 2606's reserved .invalid)
NO_ROUTE_PATH = "/.topo/no-route"
ALIASES = {"passthrough": "PassthroughCluster", "blackhole": "BlackHole"}


@dataclass
class RequestClass:
    pods: list[str]
    config: str
    protocol: str  # http or tcp
    listener: str  # the listener that took it (after virtualOutbound's hand-off)
    route_config: str
    vhost: str
    route: str  # route name, "(no route)", "(no vhost)" or "(tcp)"
    match: str  # the route's match, istioctl style
    request: dict[str, Any]  # ip, port, host, path, method, headers, protocol: one example of the class
    command: str  # the `topo path` line that answers this example
    outcome: str  # ok, partial or dead_end
    dead_ends: dict[str, float]  # flag → share of the class's requests
    clusters: dict[str, float]  # cluster → share
    chain: list[str]  # the hops, "kind name"
    catch_all: bool  # a class of destinations outside the registry (unknown hosts and IPs)


@dataclass
class SearchResult:
    source: str | None  # None: every source (-A)
    outcomes: list[str]
    classes: list[RequestClass]  # the classes that end in one of the outcomes
    examined: int  # classes looked at
    unsampled: list[str] = field(default_factory=list)  # routes no example request reaches


# ---------------------------------------------------------------- examples from matchers
def _parser() -> Any:
    try:
        import re._parser as p  # Python ≥ 3.11

        return p
    except ImportError:  # pragma: no cover
        import sre_parse as p

        return p


_CAT = {"CATEGORY_DIGIT": "0", "CATEGORY_NOT_DIGIT": "a", "CATEGORY_WORD": "a", "CATEGORY_NOT_WORD": "-",
        "CATEGORY_SPACE": " ", "CATEGORY_NOT_SPACE": "a"}
_PICK = "a0x_-/.Z"


def _in_set(items: list[Any]) -> str | None:
    negate = any(str(op) == "NEGATE" for op, _ in items)

    def ok(c: str) -> bool:
        hit = False
        for op, av in items:
            o = str(op)
            if o == "LITERAL":
                hit = hit or c == chr(av)
            elif o == "RANGE":
                hit = hit or av[0] <= ord(c) <= av[1]
            elif o == "CATEGORY":
                hit = hit or re.fullmatch({"CATEGORY_DIGIT": r"\d", "CATEGORY_NOT_DIGIT": r"\D", "CATEGORY_WORD": r"\w",
                                           "CATEGORY_NOT_WORD": r"\W", "CATEGORY_SPACE": r"\s",
                                           "CATEGORY_NOT_SPACE": r"\S"}.get(str(av), "x"), c) is not None
        return hit != negate

    firsts = [chr(av) for op, av in items if str(op) == "LITERAL"] + [chr(av[0]) for op, av in items if str(op) == "RANGE"]
    firsts += [_CAT.get(str(av), "a") for op, av in items if str(op) == "CATEGORY"]
    for c in (firsts if not negate else []) + list(_PICK):
        if ok(c):
            return c
    return None


def _gen(tree: Any, extra: int, groups: dict[int, str]) -> str | None:
    out = []
    for op, av in tree:
        o = str(op)
        if o == "LITERAL":
            out.append(chr(av))
        elif o == "NOT_LITERAL":
            out.append("a" if chr(av) != "a" else "b")
        elif o == "ANY":
            out.append("a")
        elif o == "IN":
            c = _in_set(av)
            if c is None:
                return None
            out.append(c)
        elif o in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            lo, hi, sub = av
            n = lo + extra if hi is None or lo + extra <= hi else lo
            piece = _gen(sub, 0, groups)
            if piece is None:
                return None
            out.append(piece * n)
        elif o == "SUBPATTERN":
            gid, sub = av[0], av[-1]
            piece = _gen(sub, extra, groups)
            if piece is None:
                return None
            if gid:
                groups[gid] = piece
            out.append(piece)
        elif o == "BRANCH":
            piece = _gen(av[1][0], extra, groups)
            if piece is None:
                return None
            out.append(piece)
        elif o == "GROUPREF":
            out.append(groups.get(av, ""))
        elif o in ("AT", "ASSERT", "ASSERT_NOT"):
            continue
        else:
            return None
    return "".join(out)


def sample_regex(pattern: str) -> list[str]:
    """Up to two strings the pattern fully matches (shortest first), from its syntax tree."""
    try:
        tree = _parser().parse(pattern)
    except (re.error, RecursionError, OverflowError, ValueError):
        return []
    out: list[str] = []
    for extra in (0, 1):
        s = _gen(tree, extra, {})
        try:
            if s is not None and s not in out and re.fullmatch(pattern, s):
                out.append(s)
        except re.error:
            return []
    return out


def _value_for(sm: Props) -> list[str | None]:
    """Values a StringMatcher (or a HeaderMatcher's own fields) accepts."""
    for k in ("exact", "exact_match", "prefix", "prefix_match", "suffix", "suffix_match", "contains", "contains_match"):
        if k in sm:
            return [str(sm[k])]
    for k in ("safe_regex", "safe_regex_match"):
        if k in sm:
            return list(sample_regex(str((sm[k] or {}).get("regex", ""))))
    if "regex_match" in sm:
        return list(sample_regex(str(sm["regex_match"])))
    if "present_match" in sm:
        return ["1"] if sm["present_match"] else [None]
    if "range_match" in sm:
        try:
            return [str(int((sm["range_match"] or {}).get("start", 0)))]
        except (TypeError, ValueError):
            return []
    return ["1"]


def _header_candidates(hm: Props) -> list[str | None]:
    name = str(hm.get("name", "")).lower()
    values = _value_for(hm["string_match"]) if "string_match" in hm else _value_for(hm)
    if hm.get("invert_match"):
        values = [None, "topo-x", "0"]
    return [v for v in values if v is None or envoy.header_matches(hm, {name: v} if v is not None else {})]


def _paths(m: Props) -> list[str]:
    if "prefix" in m:
        p = str(m["prefix"]) or "/"
        return [p, p + "x", p.rstrip("/") + "/x"]
    if "path" in m:
        return [str(m["path"])]
    if "path_separated_prefix" in m:
        p = str(m["path_separated_prefix"])
        return [p, p + "/x"]
    if "safe_regex" in m:
        return sample_regex(str((m["safe_regex"] or {}).get("regex", "")))
    if "regex" in m:
        return sample_regex(str(m["regex"]))
    if any(k in m for k in ("connect_matcher", "path_match_policy")):
        return []
    return ["/"]


def route_examples(m: Props) -> Iterator[tuple[str, dict[str, str], str]]:
    """(path with query, headers, method) candidates for requests that a RouteMatch accepts."""
    headers: dict[str, str] = {}
    method = "GET"
    alternatives: list[tuple[str, list[str | None]]] = []
    for hm in m.get("headers") or []:
        name = str(hm.get("name", "")).lower()
        cands = _header_candidates(hm)
        if not cands:
            return
        if name == ":method":
            v = cands[0]
            method = v if v is not None else "GET"
            continue
        if name in (":authority", ":scheme", ":path"):
            continue  # fixed by the vhost and the transport; checked by the route match below
        alternatives.append((name, cands))
        if cands[0] is not None:
            headers[name] = cands[0]
    if m.get("grpc"):
        headers["content-type"] = "application/grpc"
    query = []
    for qm in m.get("query_parameters") or []:
        vals = _value_for(qm["string_match"]) if "string_match" in qm else (["1"] if qm.get("present_match") else ["1"])
        if not vals or vals[0] is None:
            return
        query.append(f"{qm.get('name', '')}={vals[0]}")
    tail = ("?" + "&".join(query)) if query else ""
    for p in _paths(m):
        yield p + tail, dict(headers), method
    for name, cands in alternatives:  # the other value a condition takes, one at a time
        for v in cands[1:]:
            h = dict(headers)
            if v is None:
                h.pop(name, None)
            else:
                h[name] = v
            for p in _paths(m)[:1]:
                yield p + tail, h, method


# ---------------------------------------------------------------- the request space of one config
@dataclass
class Probe:
    req: Request
    catch_all: bool
    match: str


def _vips(g: MeshGraph) -> dict[str, list[str]]:
    return g.memo(("search_vips",), lambda: {s["fqdn"]: [v for v in s["vips"] or [] if is_ip(v)] for s in g.services()})


def _by_vip(g: MeshGraph) -> dict[str, str]:
    return g.memo(("search_by_vip",), lambda: {v: s["fqdn"] for s in g.services() for v in s["vips"] or []})


def _host_for(vh: Props, vhosts: list[Props], ignore_port: bool, vip_host: str) -> str | None:
    """A Host that selects this vhost (§5), a name rather than an IP when one does."""
    cands: list[str] = []
    for d in vh["domains"]:
        if d == "*":
            cands.append(vip_host or UNKNOWN_HOST)
        elif d.startswith("*"):
            cands.append("x" + d[1:])
        elif d.endswith("*"):
            cands.append(d[:-1] + "x")
        else:
            cands.append(d)
    cands.sort(key=lambda h: is_ip(envoy.strip_port(h)))
    for h in cands:
        if envoy.select_vhost(vhosts, h, ignore_port) is vh:
            return h
    return None


def request_space(g: MeshGraph, config: str, unsampled: list[str] | None = None) -> list[Probe]:
    """One example request per class of SRC's outbound request space (see the module docstring)."""
    listeners = g.listeners(config)
    out: list[Probe] = []
    by_vip = _by_vip(g)
    vips = _vips(g)
    ports = {l["port"] for l in listeners}
    for l in sorted(_outbound_listeners(listeners), key=lambda x: (x["port"], x["name"])):
        specific = l["address"] not in ("0.0.0.0", "::", "")
        lip = l["address"] if specific else None
        for ch in sorted(g.chains(l["key"]), key=lambda c: (c["is_default"], c["index"])):
            if ch["terminal"] == "http":
                out += _http_probes(g, config, l, ch, lip, by_vip, vips, unsampled)
            elif ch["terminal"] == "tcp" and not ch["server_names"] and ch["transport_protocol"] != "tls":
                ip = lip or (_in_range(ch["prefix_ranges"]) if ch["prefix_ranges"] else OUTSIDE_IP)
                out.append(Probe(Request(ip=ip, port=l["port"], host="", http=False), not specific, ""))
    vo = envoy.virtual_outbound(listeners)
    if vo is not None:
        port = next(p for p in range(65535, 1, -1) if p not in ports)
        out.append(Probe(Request(ip=OUTSIDE_IP, port=port, host="", http=False), True, ""))
    return out


def _in_range(ranges: list[str]) -> str | None:
    import ipaddress

    for r in ranges:
        try:
            net = ipaddress.ip_network(r, strict=False)
        except ValueError:
            continue
        return str(net.network_address if net.num_addresses == 1 else next(net.hosts(), net.network_address))
    return None


def _http_probes(g: MeshGraph, config: str, l: Props, ch: Props, lip: str | None, by_vip: dict[str, str],
                 vips: dict[str, list[str]], unsampled: list[str] | None) -> list[Probe]:
    port = l["port"]
    rc = g.route_config(ch["key"], config)
    if rc is None:
        return [Probe(Request(ip=lip or OUTSIDE_IP, port=port, host=UNKNOWN_HOST), lip is None, "")]
    out: list[Probe] = []
    vhosts = g.vhosts(rc["key"])
    ignore = bool(rc["ignore_port_in_host_matching"])
    vip_host = by_vip.get(lip or "", "")
    for vh in vhosts:
        host = _host_for(vh, vhosts, ignore, vip_host)
        if host is None:
            continue
        fqdn = vh["name"].rpartition(":")[0] if vh["name"].rpartition(":")[2].isdigit() else ""
        ip = lip or next(iter(vips.get(fqdn, [])), None) or next(
            (d for d in vh["domains"] if is_ip(envoy.strip_port(d))), None)
        catch_all = vh["name"] in ("allow_any", "block_all", "allow_any_dynamic_dns") or (
            vh["domains"] == ["*"] and lip is None)
        if ip is None and catch_all:
            ip = OUTSIDE_IP
        routes = sorted(g.routes(vh["key"]), key=lambda r: r["index"])
        for r in routes:
            req = _route_probe(r, routes, ip, port, host)
            if req is None:
                if unsampled is not None:
                    unsampled.append(f"{rc['name'] or '(inline)'} › {vh['name']} › {r['name'] or '#' + str(r['index'])}"
                                     f" ({r['match_text']}): no example request reaches it")
                continue
            out.append(Probe(req, catch_all, r["match_text"] or ""))
        miss = Request(ip=ip, port=port, host=host, path=NO_ROUTE_PATH)
        if envoy.select_route(routes, miss) is None:
            out.append(Probe(miss, catch_all, ""))
    if vhosts and envoy.select_vhost(vhosts, UNKNOWN_HOST, ignore) is None:
        out.append(Probe(Request(ip=lip or OUTSIDE_IP, port=port, host=UNKNOWN_HOST), True, ""))
    return out


def _route_probe(r: Props, routes: list[Props], ip: str | None, port: int, host: str) -> Request | None:
    m = jload(r["match"]) or {}
    for p, headers, method in route_examples(m):
        req = Request(ip=ip, port=port, host=host, path=p, method=method, headers=headers)
        if envoy.select_route(routes, req) is r:
            return req
    return None


# ---------------------------------------------------------------- classes and the question
def reproduce(pod: str, req: Request) -> str:
    """The `topo path` command line that asks this example."""
    dst = req.ip or req.host
    if not req.http:
        return shlex.join(["topo", "path", pod, f"{dst}:{req.port}", "--tcp"])
    args = ["topo", "path", pod, f"http://{dst}:{req.port}{req.path}"]
    if req.ip:
        args += ["--host", req.host]
    if req.method != "GET":
        args += ["--method", req.method]
    for k, v in sorted(req.headers.items()):
        args += ["--header", f"{k}={v}"]
    return shlex.join(args)


def _labels(a: PathAnswer) -> dict[str, str]:
    out = {"listener": "", "route_config": "", "vhost": "", "route": ""}
    for h in a.hops:
        if h.kind in ("listener", "handoff"):
            out["listener"] = h.name
        elif h.kind == "route_config":
            out["route_config"] = h.name
        elif h.kind == "virtual_host":
            out["vhost"] = h.name
        elif h.kind == "route":
            out["route"] = h.name
    return out


def classify(a: PathAnswer, probe: Probe) -> RequestClass:
    req = probe.req
    lab = _labels(a)
    route = lab["route"] or ("(tcp)" if not req.http else "(no route)" if lab["vhost"] else "(no vhost)")
    dead: dict[str, float] = {}
    for d in a.dead_ends:
        dead[d.flag] = dead.get(d.flag, 0.0) + d.share
    clusters: dict[str, float] = {}
    for c in a.clusters:
        clusters[c.name] = clusters.get(c.name, 0.0) + c.share
    return RequestClass(
        pods=a.pods, config=a.config, protocol="http" if req.http else "tcp", listener=lab["listener"],
        route_config=lab["route_config"], vhost=lab["vhost"], route=route,
        match=probe.match if lab["route"] else "",
        request={k: a.request[k] for k in ("ip", "port", "host", "path", "method", "headers", "protocol")},
        command=reproduce(a.pods[0], req), outcome=a.outcome,
        dead_ends={k: round(v, 12) for k, v in sorted(dead.items())},
        clusters={k: round(v, 12) for k, v in sorted(clusters.items())},
        chain=[f"{h.kind} {h.name}" for h in a.hops], catch_all=probe.catch_all)


def _key(req: Request) -> tuple[Any, ...]:
    return (req.ip, req.port, req.host, req.path, req.method, tuple(sorted(req.headers.items())), req.http)


def config_classes(g: MeshGraph, grp: SourceGroup, unsampled: list[str] | None = None,
                   extra: Iterable[Probe] = ()) -> list[RequestClass]:
    """Every class of one config's request space (and of ``extra`` probes), answered."""
    seen: set[tuple[Any, ...]] = set()
    out = []
    for probe in [*request_space(g, grp.config, unsampled), *extra]:
        k = _key(probe.req)
        if k in seen:
            continue
        seen.add(k)
        out.append(classify(answer(g, grp, probe.req, details=False), probe))
    return out


def wanted(outcomes: Iterable[str]) -> set[str]:
    """Outcome names as the walk spells its flags (case-insensitive; ``Passthrough`` is PassthroughCluster)."""
    return {ALIASES.get(o.strip().lower(), o.strip()).lower() for o in outcomes if o.strip()}


def ends_in(c: RequestClass, outcomes: set[str]) -> bool:
    """``dead``: any dead end; ``ok``: none; ``all``: every class; else one of the flags."""
    if "all" in outcomes:
        return True
    if "ok" in outcomes and not c.dead_ends:
        return True
    if "dead" in outcomes and c.dead_ends:
        return True
    return any(f.lower() in outcomes and s > 0 for f, s in c.dead_ends.items())


def sources(g: MeshGraph, src: str | None, namespace: str | None) -> list[SourceGroup]:
    """SRC's configs, or (src None) one group per distinct config of every pod (of ``namespace``)."""
    if src:
        return resolve_source(g, src, namespace)
    groups: dict[str, SourceGroup] = {}
    for p in sorted(g.pods(), key=lambda p: p["id"]):
        if namespace and p["namespace"] != namespace:
            continue
        grp = groups.setdefault(p["config"], SourceGroup(p["config"], [], p["namespace"], p["cluster_domain"] or
                                                         "cluster.local", p["istio_version"] or "", p["locality"] or ""))
        grp.pods.append(p["id"])
    return sorted(groups.values(), key=lambda s: s.pods[0])


def search(g: MeshGraph, src: str | None, outcomes: Iterable[str] = ("dead",), *,
           namespace: str | None = None) -> SearchResult:
    """The request classes from SRC (every source when ``src`` is None) that end in ``outcomes``."""
    want = wanted(outcomes) or {"dead"}
    unsampled: list[str] = []
    found: list[RequestClass] = []
    examined = 0
    for grp in sources(g, src, namespace):
        cls = config_classes(g, grp, unsampled)
        examined += len(cls)
        found += [c for c in cls if ends_in(c, want)]
    found.sort(key=lambda c: (c.pods[0], -sum(c.dead_ends.values()), c.request["port"], c.vhost, c.route,
                              c.request["host"], c.request["path"]))
    shown = sorted({ALIASES.get(o.strip().lower(), o.strip()) for o in outcomes if o.strip()}) or ["dead"]
    return SearchResult(src, shown, found, examined, sorted(set(unsampled)))
