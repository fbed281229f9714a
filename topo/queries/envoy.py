"""Envoy's own selection rules, as pure functions over node properties.

Shared by both backends: the networkx and the Cypher traversals fetch the same node
properties, and these functions decide, the way Envoy does, which listener, chain,
virtual host, route, cluster and endpoint a request takes, and each endpoint's share.
Section numbers refer to ``ENVOY-SEMANTICS.md``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from topo.model.rows import jload
from topo.model.secrets import hash_matches

Props = dict[str, Any]

HEALTHY = {"HEALTHY", "UNKNOWN", ""}
DEGRADED = {"DEGRADED"}
EXCLUDED = {"DRAINING"}  # newer Envoy excludes draining hosts (§8 "Health")


@dataclass
class Request:
    """What the client sends: the original destination, the connection (TLS, SNI, ALPN) and the HTTP request."""

    ip: str | None
    port: int
    host: str
    path: str = "/"
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    http: bool = True
    sni: str = ""
    scheme: str = "http"
    tls: bool = False  # the client starts TLS (an https:// URL, --tls, --sni)
    alpn: tuple[str, ...] = ()  # the ALPN the client offers in its TLS ClientHello

    def connection(self) -> Connection:
        """The connection this request travels on, as Envoy's listener sees it arrive."""
        if self.tls:
            return Connection(self.ip, self.port, server_name=self.sni, transport_protocol="tls",
                              application_protocols=self.alpn)
        return Connection(self.ip, self.port, application_protocols=("http/1.1",) if self.http else ())


def _family(ip: str) -> int:
    try:
        return ipaddress.ip_address(ip).version
    except ValueError:
        return 0


# ---------------------------------------------------------------- §2 listener hand-off
def handoff_listener(listeners: Sequence[Props], ip: str | None, port: int) -> Props | None:
    """The listener virtualOutbound hands the connection to: exact ``ip:port``, else the
    same-family wildcard ``0.0.0.0:port`` / ``[::]:port``; None keeps it on virtualOutbound.
    Listeners with bind_to_port false count; warming, draining and error ones do not (§2)."""
    live = [l for l in listeners if l["state"] in ("static", "active") and l["port"] == port
            and not l["use_original_dst"]]
    if ip:
        for l in live:
            if l["address"] == ip:
                return l
    wild = "::" if ip and _family(ip) == 6 else "0.0.0.0"
    for l in live:
        if l["address"] == wild:
            return l
    return None


def virtual_outbound(listeners: Sequence[Props]) -> Props | None:
    cands = [l for l in listeners if l["use_original_dst"] and l["state"] in ("static", "active")]
    return min(cands, key=lambda x: (x["port"] != 15001, x["name"])) if cands else None


# ---------------------------------------------------------------- §3 filter-chain sieve
@dataclass(frozen=True)
class Connection:
    """One downstream connection as the client makes it: what Envoy's filter-chain match can see
    of it once the listener filters have run (§3).

    ``transport_protocol`` is what the client speaks: ``tls`` when it starts a TLS handshake,
    else ``raw_buffer``. ``server_name`` is its SNI and ``application_protocols`` the ALPN list
    it offers (TLS), or, in plaintext, the HTTP version http_inspector would read from its first
    bytes (``http/1.0``, ``http/1.1``, ``h2c``; empty for a protocol that is not HTTP). The source
    fields are only needed for chains that match on them (Istio never writes such chains):
    ``source_ip`` None means unknown, and no source range matches it.

    :func:`observe` turns it into what the chains are matched against on one listener (its
    tls_inspector and http_inspector, and whether they are disabled for the port);
    :func:`select_chain` runs the whole sieve. Used for outbound listeners (``topo path``) and
    for a destination's inbound listener alike.
    """

    ip: str | None
    port: int
    server_name: str = ""
    transport_protocol: str = "raw_buffer"
    application_protocols: tuple[str, ...] = ()
    source_ip: str | None = None
    source_port: int = 0
    local: bool = False  # source and destination on one host (source_type SAME_IP_OR_LOOPBACK)


@dataclass(frozen=True)
class Observed:
    """What the filter-chain match sees of a :class:`Connection` on one listener."""

    transport_protocol: str  # "tls" or "raw_buffer"
    server_name: str
    application_protocols: tuple[str, ...]
    tls_inspector: bool  # ran (configured or injected by Envoy, and not disabled for the port)
    http_inspector: bool


def _port_pred(pred: Any, port: int) -> bool:
    """A ListenerFilterChainMatchPredicate (a listener filter's ``filter_disabled``) for a
    connection to ``port``: or/and/not, any_match, destination_port_range [start, end)."""
    if not isinstance(pred, dict):
        return False
    if "or_match" in pred:
        return any(_port_pred(r, port) for r in (pred["or_match"] or {}).get("rules") or [])
    if "and_match" in pred:
        return all(_port_pred(r, port) for r in (pred["and_match"] or {}).get("rules") or [])
    if "not_match" in pred:
        return not _port_pred(pred["not_match"], port)
    if pred.get("any_match"):
        return True
    r = pred.get("destination_port_range")
    if isinstance(r, dict):
        try:
            return int(r.get("start") or 0) <= port < int(r.get("end") or 0)
        except (TypeError, ValueError):
            return False
    return False


def needs_tls_inspector(chains: Sequence[Props]) -> bool:
    """Envoy injects a tls_inspector into a listener that has none when one of its
    ``filter_chains`` (the default chain does not count) matches on ``transport_protocol: tls``, or
    leaves the transport unset and matches on server names or ALPN ([E] listener_impl.cc
    ``needTlsInspector``; ENVOY-SEMANTICS.md §3 step 4 leaves the injection out)."""
    return any(not c["is_default"] and (c["transport_protocol"] == "tls" or (
        not c["transport_protocol"] and (c["server_names"] or c["application_protocols"]))) for c in chains)


def observe(conn: Connection, listener: Props, chains: Sequence[Props]) -> Observed:
    """What the chains of ``listener`` are matched against: tls_inspector sets ``tls``, the SNI and
    the ALPN of a TLS connection; http_inspector the HTTP version of a plaintext one; without
    either, the transport is ``raw_buffer`` and there is no SNI or ALPN (§3 steps 3–5,
    [E] active_tcp_socket.cc, http_inspector.cc)."""
    ins = jload(listener.get("inspectors")) or []
    names = listener.get("listener_filters") or []
    tls_cfg = [d for k, d in ins if k == "tls"]
    http_cfg = [d for k, d in ins if k == "http"]
    if not ins:  # a graph written before inspectors were stored: the names alone
        tls_cfg = [None for n in names if "tls_inspector" in n]
        http_cfg = [None for n in names if "http_inspector" in n]
    tls_on = any(not _port_pred(d, conn.port) for d in tls_cfg) if tls_cfg else needs_tls_inspector(chains)
    http_on = any(not _port_pred(d, conn.port) for d in http_cfg)
    if conn.transport_protocol == "tls":
        if tls_on:
            return Observed("tls", conn.server_name.lower(), tuple(conn.application_protocols), True, http_on)
        return Observed("raw_buffer", "", (), False, http_on)
    alpn = tuple(a for a in conn.application_protocols if a in ("http/1.0", "http/1.1", "h2c")) if http_on else ()
    return Observed("raw_buffer", "", alpn[:1], tls_on, http_on)


def _in_prefix(ip: str | None, cidr: str) -> int:
    """Prefix length if ip is inside cidr, else -1 (an unknown ip is only inside a /0 range)."""
    try:
        net = ipaddress.ip_network(cidr, strict=False)
        if not ip:
            return 0 if net.prefixlen == 0 else -1
        addr = ipaddress.ip_address(ip)
        if addr.version != net.version:
            return -1
        return net.prefixlen if addr in net else -1
    except ValueError:
        return -1


def _longest(cands: list[Props], ranges_of: Any, ip: str | None) -> list[Props]:
    """The chains whose ranges hold ``ip`` with the longest prefix; a chain without ranges counts
    as 0.0.0.0/0 and ::/0 (§3 steps 2, 6, 8)."""
    scored = []
    for c in cands:
        ranges = ranges_of(c)
        scored.append((max((_in_prefix(ip, r) for r in ranges), default=-1) if ranges else 0, c))
    top = max((s for s, _ in scored), default=-1)
    return [c for s, c in scored if s == top and s >= 0]


def _source(c: Props) -> dict[str, Any]:
    got = jload(c.get("source_match"))
    return got if isinstance(got, dict) else {}


def _cidrs(ranges: Any) -> list[str]:
    out = []
    for r in ranges or []:
        if isinstance(r, dict):
            out.append(f"{r.get('address_prefix', '')}/{r.get('prefix_len', 0) or 0}")
    return out


def select_chain(chains: Sequence[Props], conn: Connection | Request, listener: Props) -> Props | None:
    """Envoy's filter-chain sieve (§3), whole: destination port, destination IP, server name,
    transport protocol, application protocols, direct source IP, source type, source IP, source
    port. At each step only the most specific bucket survives and Envoy never backtracks; with
    nothing left, the ``default_filter_chain`` (None: the connection is closed, NR
    ``filter_chain_not_found``)."""
    c0 = conn.connection() if isinstance(conn, Request) else conn
    default = next((c for c in chains if c["is_default"]), None)
    cands = [c for c in chains if not c["is_default"]]
    seen = observe(c0, listener, chains)
    # 1. destination_port: the chains naming the port, else those naming none
    with_port = [c for c in cands if c["destination_port"] == c0.port]
    cands = with_port if with_port else [c for c in cands if c["destination_port"] is None]
    # 2. prefix_ranges: longest matching prefix
    cands = _longest(cands, lambda c: c["prefix_ranges"], c0.ip)
    # 3. server_names: exact SNI, then the longest wildcard suffix (*.a.com for x.a.com), then none
    if cands:
        sni = seen.server_name
        exact = [c for c in cands if sni and sni in [s.lower() for s in c["server_names"]]]
        if exact:
            cands = exact
        else:
            wild: list[tuple[int, Props]] = []
            for c in cands:
                for s in c["server_names"]:
                    suffix = s[1:].lower()
                    if s.startswith("*.") and sni.endswith(suffix) and len(sni) > len(suffix):
                        wild.append((len(s), c))
            if wild:
                top = max(n for n, _ in wild)
                cands = [c for n, c in wild if n == top]
            else:
                cands = [c for c in cands if not c["server_names"]]
    # 4. transport_protocol: the exact value, else chains leaving it empty
    if cands:
        exact = [c for c in cands if c["transport_protocol"] == seen.transport_protocol]
        cands = exact if exact else [c for c in cands if not c["transport_protocol"]]
    # 5. application_protocols: the first of the connection's that some chain lists, else chains with none
    if cands:
        chosen = None
        for a in seen.application_protocols:
            m = [c for c in cands if a in c["application_protocols"]]
            if m:
                chosen = m
                break
        cands = chosen if chosen is not None else [c for c in cands if not c["application_protocols"]]
    # 6. direct_source_prefix_ranges, 7. source_type, 8. source_prefix_ranges, 9. source_ports
    if cands and any(c["source_match"] for c in cands):
        cands = _longest(cands, lambda c: _cidrs(_source(c).get("direct_source_prefix_ranges")), c0.source_ip)
        want = "SAME_IP_OR_LOOPBACK" if c0.local else "EXTERNAL"
        typed = [c for c in cands if _source(c).get("source_type") == want]
        cands = typed or [c for c in cands if _source(c).get("source_type", "ANY") in ("ANY", "", None)]
        cands = _longest(cands, lambda c: _cidrs(_source(c).get("source_prefix_ranges")), c0.source_ip)
        ported = [c for c in cands if c0.source_port and c0.source_port in (_source(c).get("source_ports") or [])]
        cands = ported or [c for c in cands if not _source(c).get("source_ports")]
    if cands:
        # an accepted listener has no two chains with the same effective match (§3): the first
        return sorted(cands, key=lambda c: c["index"])[0]
    return default


# ---------------------------------------------------------------- §5 virtual hosts
def strip_port(host: str) -> str:
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1] if end > 0 else host
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


def select_vhost(vhosts: Sequence[Props], host: str, ignore_port: bool) -> Props | None:
    """Exact, then suffix wildcards (longest first), then prefix wildcards, then ``*`` (§5)."""
    h = host.lower()
    if ignore_port:
        h = strip_port(h)
    star = None
    best_suffix: tuple[int, Props] | None = None
    best_prefix: tuple[int, Props] | None = None
    for vh in vhosts:
        for d in vh["domains"]:
            if d == h:
                return vh
            if d == "*":
                star = star or vh
            elif d.startswith("*"):
                suf = d[1:]
                if h.endswith(suf) and len(h) > len(suf) and (best_suffix is None or len(d) > best_suffix[0]):
                    best_suffix = (len(d), vh)
            elif d.endswith("*"):
                pre = d[:-1]
                if h.startswith(pre) and len(h) > len(pre) and (best_prefix is None or len(d) > best_prefix[0]):
                    best_prefix = (len(d), vh)
    if best_suffix:
        return best_suffix[1]
    if best_prefix:
        return best_prefix[1]
    return star


# ---------------------------------------------------------------- §6 routes
def _string_match(sm: Props, value: str | None) -> bool:
    if value is None:
        return False
    ci = bool(sm.get("ignore_case"))
    v = value.lower() if ci else value
    def c(x: Any) -> str:
        return str(x).lower() if ci else str(x)
    if "exact_hash" in sm:  # a sensitive value, kept as its hash (topo.model.secrets)
        return hash_matches(sm["exact_hash"], value, ci)
    if "exact" in sm:
        return v == c(sm["exact"])
    if "prefix" in sm:
        return v.startswith(c(sm["prefix"]))
    if "suffix" in sm:
        return v.endswith(c(sm["suffix"]))
    if "contains" in sm:
        return c(sm["contains"]) in v
    if "safe_regex" in sm:
        return _full(sm["safe_regex"].get("regex", ""), value)
    return True


def _full(pattern: str, value: str) -> bool:
    try:
        return re.fullmatch(pattern, value) is not None
    except re.error:
        return False


def header_matches(hm: Props, headers: dict[str, str]) -> bool:
    name = str(hm.get("name", "")).lower()
    value = headers.get(name)
    if value is None and hm.get("treat_missing_header_as_empty"):
        value = ""
    if "string_match" in hm:
        ok = _string_match(hm["string_match"], value)
    elif "exact_match_hash" in hm:
        ok = value is not None and hash_matches(hm["exact_match_hash"], value)
    elif "exact_match" in hm:
        ok = value == hm["exact_match"]
    elif "prefix_match" in hm:
        ok = value is not None and value.startswith(hm["prefix_match"])
    elif "suffix_match" in hm:
        ok = value is not None and value.endswith(hm["suffix_match"])
    elif "contains_match" in hm:
        ok = value is not None and hm["contains_match"] in value
    elif "safe_regex_match" in hm:
        ok = value is not None and _full(hm["safe_regex_match"].get("regex", ""), value)
    elif "regex_match" in hm:
        ok = value is not None and _full(hm["regex_match"], value)
    elif "present_match" in hm:
        ok = (value is not None) == bool(hm["present_match"])
    elif "range_match" in hm:
        try:
            n = int(value or "")
            r = hm["range_match"]
            ok = int(r.get("start", 0)) <= n < int(r.get("end", 0))
        except ValueError:
            ok = False
    else:
        ok = value is not None
    return not ok if hm.get("invert_match") else ok


def route_matches(match: Props, req: Request) -> bool:
    """One RouteMatch against the request: path, then every header (§6 "Matching")."""
    path = req.path.split("?", 1)[0]
    query = req.path.split("?", 1)[1] if "?" in req.path else ""
    cs = match.get("case_sensitive", True)
    p = path if cs else path.lower()
    if "prefix" in match:
        pre = match["prefix"] if cs else str(match["prefix"]).lower()
        if not p.startswith(pre):
            return False
    elif "path" in match:
        ex = match["path"] if cs else str(match["path"]).lower()
        if p != ex:
            return False
    elif "safe_regex" in match:
        if not _full(match["safe_regex"].get("regex", ""), path):
            return False
    elif "regex" in match:  # v2
        if not _full(match["regex"], path):
            return False
    elif "path_separated_prefix" in match:
        pre = match["path_separated_prefix"]
        if not (p == pre or p.startswith(pre + "/")):
            return False
    elif "connect_matcher" in match:
        if req.method != "CONNECT":
            return False
    elif "path_match_policy" in match:
        return False  # an extension topo does not evaluate
    hdrs = {k.lower(): v for k, v in req.headers.items()}
    hdrs.setdefault(":method", req.method)
    hdrs.setdefault(":authority", req.host)
    hdrs.setdefault(":path", req.path)
    hdrs.setdefault(":scheme", req.scheme)
    for hm in match.get("headers") or []:
        if not header_matches(hm, hdrs):
            return False
    if match.get("query_parameters"):
        params: dict[str, str] = {}
        for part in query.split("&"):
            if part:
                k, _, v = part.partition("=")
                params[k] = v
        for qm in match["query_parameters"]:
            qv = params.get(qm.get("name", ""))
            if "string_match" in qm:
                if not _string_match(qm["string_match"], qv):
                    return False
            elif qm.get("present_match") and qv is None:
                return False
    if match.get("grpc") and "application/grpc" not in hdrs.get("content-type", ""):
        return False
    return True


def select_route(routes: Sequence[Props], req: Request) -> Props | None:
    """The first route whose match holds wins (§6)."""
    for r in sorted(routes, key=lambda x: x["index"]):
        if route_matches(jload(r["match"]) or {}, req):
            return r
    return None


def weighted_fractions(entries: Sequence[Sequence[Any]]) -> list[tuple[str, int, float]]:
    """(cluster, weight, fraction): weight / Σ weights; zero weights never chosen;
    ``total_weight`` is ignored (§6 "Weighted selection")."""
    total = sum(max(int(w), 0) for _, w in entries)
    out = []
    for name, w in entries:
        w = max(int(w), 0)
        out.append((name, w, (w / total) if total else 0.0))
    return out


# ---------------------------------------------------------------- §8 endpoint shares
def _health_class(h: str) -> str:
    if h in EXCLUDED:
        return "excluded"
    if h in HEALTHY:
        return "healthy"
    if h in DEGRADED:
        return "degraded"
    return "unhealthy"


def endpoint_shares(cluster: Props, endpoints: Sequence[Props], failed: frozenset[str] = frozenset(),
                    unhealthy: frozenset[str] = frozenset()) -> dict[str, float]:
    """Each endpoint's share of the cluster's requests, by §8's algorithm.

    ``failed`` holds endpoint keys to treat as gone (blast radius): a dead pod leaves
    the EDS set, as Kubernetes removes it from the service's endpoints; ``unhealthy`` holds
    keys to treat as UNHEALTHY but still in the set (an ejected or not-ready host istiod keeps
    sending). Returns {endpoint key: share}; an empty dict means no usable host (UH).
    """
    opf = int(cluster.get("overprovisioning_factor") or 140)
    threshold = cluster.get("panic_threshold")
    threshold = 50.0 if threshold is None else float(threshold)
    by_weight = bool(cluster.get("weighted_priority_health"))
    prios: dict[int, list[tuple[Props, str]]] = {}
    for e in endpoints:
        cls = ("excluded" if e["key"] in failed else "unhealthy" if e["key"] in unhealthy
               else _health_class(e.get("health") or ""))
        if cls == "excluded":
            continue
        prios.setdefault(int(e.get("priority") or 0), []).append((e, cls))
    if not prios:
        return {}
    levels = sorted(prios)
    n = len(levels)

    def amount(items: list[tuple[Props, str]], cls: str | None) -> int:
        if by_weight:
            return sum(int(e.get("weight") or 1) for e, c in items if cls is None or c == cls)
        return sum(1 for _e, c in items if cls is None or c == cls)

    health, degraded, total = [], [], []
    for p in levels:
        t = amount(prios[p], None)
        total.append(t)
        health.append(min(100, (opf * amount(prios[p], "healthy")) // t) if t else 0)
        degraded.append(min(100, (opf * amount(prios[p], "degraded")) // t) if t else 0)
    nta = min(100, sum(health) + sum(degraded))
    hload, dload = [0] * n, [0] * n
    if nta == 0:
        hload[0] = 100
    else:
        remaining = 100
        for i in range(n):
            hload[i] = min(remaining, health[i] * 100 // nta)
            remaining -= hload[i]
        for i in range(n):
            dload[i] = min(remaining, degraded[i] * 100 // nta)
            remaining -= dload[i]
        if remaining:
            # rounding leftovers go to the first healthy priority (§8 step 4)
            first = next((i for i in range(n) if health[i] > 0), next((i for i in range(n) if degraded[i] > 0), 0))
            if health[first] > 0:
                hload[first] += remaining
            else:
                dload[first] += remaining

    def in_panic(i: int) -> bool:
        items = prios[levels[i]]
        cnt = len(items)
        if not cnt:
            return threshold > 0
        ok = sum(1 for _e, c in items if c in ("healthy", "degraded"))
        return 100.0 * ok / cnt < threshold

    # Panic (§8 step 5)
    if threshold > 0 and nta == 0:
        panic = [True] * n
    else:
        panic = [False if nta == 100 else in_panic(i) for i in range(n)]
    if all(panic) and threshold > 0:
        # total panic: load by host counts across all priorities
        counts = [len(prios[p]) for p in levels]
        tot = sum(counts)
        hload = [100 * c // tot for c in counts]
        hload[0] += 100 - sum(hload)
        dload = [0] * n
    shares: dict[str, float] = {}
    for i, p in enumerate(levels):
        items = prios[p]
        for load, want in ((hload[i], "healthy"), (dload[i], "degraded")):
            if load <= 0:
                continue
            if panic[i]:
                pool = [e for e, _c in items] if want == "healthy" else []
            else:
                pool = [e for e, c in items if c == want]
            if not pool:
                continue
            _spread(cluster, pool, load / 100.0, shares)
    return shares


def keeps_failed_hosts(cluster: Props) -> bool:
    """Does a failed endpoint stay in this cluster's load assignment, as an unhealthy host?

    Istio sets ``healthy_panic_threshold`` to 0 exactly when it sends not-ready endpoints as
    UNHEALTHY instead of leaving them out, or when a DestinationRule sets outlier detection (§7), and
    outlier detection ejects a failing host without removing it. Then Envoy counts the failed hosts in
    their priority's total, and the overprovisioning factor spills load to the next priority (§8 step 2).
    Otherwise a failed pod leaves EDS when Kubernetes takes it out of the service's endpoints."""
    return cluster.get("panic_threshold") == 0 or bool(cluster.get("outlier_detection"))


def _spread(cluster: Props, pool: list[Props], load: float, shares: dict[str, float]) -> None:
    """Within a priority: by locality weight when locality-weighted LB is on, else pooled (§8 step 6–7)."""
    if cluster.get("locality_weighted"):
        locs: dict[str, list[Props]] = {}
        for e in pool:
            locs.setdefault(e.get("locality") or "", []).append(e)
        eff: dict[str, float] = {}
        for loc, eps in locs.items():
            w = max((int(e.get("locality_weight") or 0) for e in eps), default=0)
            if w == 0:
                w = sum(int(e.get("weight") or 1) for e in eps)
            eff[loc] = float(w)
        tot = sum(eff.values())
        if tot > 0:
            for loc, eps in locs.items():
                ws = sum(int(e.get("weight") or 1) for e in eps)
                for e in eps:
                    shares[e["key"]] = shares.get(e["key"], 0.0) + load * (eff[loc] / tot) * int(e.get("weight") or 1) / ws
            return
    ws = sum(int(e.get("weight") or 1) for e in pool)
    for e in pool:
        shares[e["key"]] = shares.get(e["key"], 0.0) + load * int(e.get("weight") or 1) / ws


# ---------------------------------------------------------------- §6–§7 resilience settings
# Envoy's defaults where a field is absent: a route's timeout (RouteAction.timeout), a retry
# policy's num_retries, a cluster's connect_timeout, circuit_breakers.thresholds and
# outlier_detection ([D] route_components.proto, cluster.proto, circuit_breaker.proto,
# outlier_detection.proto). Istio writes most of them explicitly (timeout "0s", 10s connect, the
# 2^32-1 circuit breakers).
ROUTE_TIMEOUT_DEFAULT = "15s"
CONNECT_TIMEOUT_DEFAULT = "5s"
UNLIMITED = 4294967295  # what Istio writes for "no limit" (math.MaxUint32)
BREAKER_DEFAULTS = {"max_connections": 1024, "max_pending_requests": 1024, "max_requests": 1024, "max_retries": 3}
OUTLIER_DEFAULTS: dict[str, Any] = {
    "consecutive_5xx": 5, "enforcing_consecutive_5xx": 100, "consecutive_gateway_failure": 5,
    "enforcing_consecutive_gateway_failure": 0, "interval": "10s", "base_ejection_time": "30s",
    "max_ejection_percent": 10, "split_external_local_origin_errors": False, "consecutive_local_origin_failure": 5,
    "enforcing_success_rate": 100, "always_eject_one_host": False,
}
_DURATION = re.compile(r"^(-?\d+(?:\.\d+)?)s$")


def duration_s(text: str | None) -> float | None:
    """A dumped Duration (``"10s"``, ``"0.250s"``) in seconds; None when absent or unreadable."""
    m = _DURATION.match(text or "")
    return float(m[1]) if m else None


def _jmap(v: Any) -> dict[str, Any]:
    got = jload(v) if isinstance(v, str | bytes) else v
    return got if isinstance(got, dict) else {}


def route_settings(route: Props) -> dict[str, Any]:
    """What a route does about slow and failing requests: its timeout and the retry policy in force
    (the route's, else the vhost's), with Envoy's defaults filled in. Empty for non-forwarding routes."""
    if route.get("action") != "route":
        return {}
    t = route.get("timeout") or ""
    timeout = t or ROUTE_TIMEOUT_DEFAULT
    secs = duration_s(timeout)
    out: dict[str, Any] = {"timeout": timeout, "timeout_s": secs or None, "timeout_default": not t, "retry": None,
                           # mirrors and fault as ingest read them (the walk applies them: Split.mirrors, FI)
                           "mirrors": [{"cluster": str(n), "fraction": float(f)} for n, f in jload(route.get("mirrors"))
                                       or []],
                           "fault": jload(route.get("fault"))}
    rp = _jmap(route.get("retry_policy"))
    if rp:
        per_try = rp.get("per_try_timeout") or ""
        out["retry"] = {
            "retry_on": [x.strip() for x in str(rp.get("retry_on") or "").split(",") if x.strip()],
            # num_retries defaults to 1 (RetryPolicy.num_retries)
            "num_retries": int(rp["num_retries"]) if "num_retries" in rp else 1,
            "per_try_timeout": per_try, "per_try_timeout_s": duration_s(per_try) or None,
            "retriable_status_codes": list(rp.get("retriable_status_codes") or []),
            "host_predicates": list(rp.get("host_predicates") or []),
            "from": rp.get("from") or "route",
        }
    return out


def breaker_limits(cluster: Props) -> dict[str, int]:
    """circuit_breakers thresholds of the DEFAULT routing priority, Envoy's defaults where unset."""
    got = jload(cluster.get("circuit_breakers")) if isinstance(cluster.get("circuit_breakers"), str) else None
    ths = got if isinstance(got, list) else []
    th = next((t for t in ths if isinstance(t, dict) and t.get("priority", "DEFAULT") == "DEFAULT"), {})
    out = {}
    for k, d in BREAKER_DEFAULTS.items():
        v = th.get(k, d)
        v = v.get("value", d) if isinstance(v, dict) else v
        try:
            out[k] = int(v)
        except (TypeError, ValueError):
            out[k] = d
    return out


def outlier_settings(cluster: Props) -> dict[str, Any] | None:
    """outlier_detection with Envoy's defaults filled in; None when the cluster has none."""
    raw = cluster.get("outlier_detection")
    if raw is None or raw == "":
        return None
    od = _jmap(raw)
    out = {k: od.get(k, d) for k, d in OUTLIER_DEFAULTS.items()}
    for k, d in OUTLIER_DEFAULTS.items():
        v = out[k]
        if isinstance(v, dict):  # a wrapper printed as {"value": n}
            v = v.get("value", d)
        if isinstance(d, int) and not isinstance(d, bool):
            try:
                v = int(v)
            except (TypeError, ValueError):
                v = d
        out[k] = v
    return out


def max_ejected(od: dict[str, Any], hosts: int) -> int:
    """How many of ``hosts`` outlier detection may eject at once: Envoy ejects one more while the
    ejected share is below max_ejection_percent (outlier_detection_impl.cc ``ejectHost``:
    ``ejected_percent < max_ejection_percent``), so a lone host can always be ejected."""
    if hosts <= 0:
        return 0
    mep = max(0, min(100, int(od.get("max_ejection_percent", 10))))
    k = 0
    while k < hosts and 100.0 * k / hosts < mep:
        k += 1
    if od.get("always_eject_one_host") and k == 0:
        k = 1
    return k


def cluster_settings(cluster: Props, endpoints: Sequence[Props]) -> dict[str, Any]:
    """A cluster's connect timeout, circuit breakers, outlier detection and locality LB settings
    (§7 "DestinationRule settings in the cluster", §8), defaults filled in."""
    ct = cluster.get("connect_timeout") or ""
    pt = cluster.get("panic_threshold")
    od = outlier_settings(cluster)
    prios = sorted({int(e.get("priority") or 0) for e in endpoints})
    locs = sorted({e.get("locality") or "" for e in endpoints})
    out: dict[str, Any] = {
        "connect_timeout": ct or CONNECT_TIMEOUT_DEFAULT, "connect_timeout_default": not ct,
        "lb_policy": cluster.get("lb_policy") or "ROUND_ROBIN",
        "circuit_breakers": breaker_limits(cluster),
        "circuit_breakers_default": not cluster.get("circuit_breakers"),
        "outlier_detection": od,
        "panic_threshold": 50.0 if pt is None else float(pt),
        "locality_weighted": bool(cluster.get("locality_weighted")),
        "overprovisioning_factor": int(cluster.get("overprovisioning_factor") or 140),
        "priorities": prios, "localities": [x for x in locs if x],
    }
    if od is not None:
        out["ejectable"] = max_ejected(od, len(endpoints))
    return out


def _secs(s: str) -> str:
    return "none" if duration_s(s) == 0 else s


def route_settings_text(st: dict[str, Any]) -> str:
    """``timeout none · 2 retries on connect-failure,… (per try 1s)``."""
    if not st:
        return ""
    parts = [f"timeout {_secs(st['timeout'])}" + (" (Envoy's default)" if st["timeout_default"] else "")]
    r = st.get("retry")
    if r:
        n = r["num_retries"]
        what = ",".join(r["retry_on"]) or "nothing"
        codes = f" (codes {','.join(map(str, r['retriable_status_codes']))})" if r["retriable_status_codes"] else ""
        per = f" (per try {r['per_try_timeout']})" if r["per_try_timeout"] else ""
        vh = " (the vhost's policy)" if r["from"] == "virtual_host" else ""
        parts.append(f"{n} retr{'y' if n == 1 else 'ies'} on {what}{codes}{per}{vh}")
    else:
        parts.append("no retries")
    return " · ".join(parts)


def _limit(n: int) -> str:
    return "∞" if n >= UNLIMITED else str(n)


def cluster_settings_text(st: dict[str, Any]) -> str:
    """``connect 10s · LEAST_REQUEST · limits ∞ conn/∞ pending/∞ req/∞ retries · outlier 5×5xx …``."""
    cb = st["circuit_breakers"]
    parts = [f"connect {st['connect_timeout']}" + (" (default)" if st["connect_timeout_default"] else ""),
             st["lb_policy"],
             "limits " + "/".join(f"{_limit(cb[k])} {w}" for k, w in (
                 ("max_connections", "conn"), ("max_pending_requests", "pending"), ("max_requests", "req"),
                 ("max_retries", "retries")))]
    od = st.get("outlier_detection")
    if od:
        parts.append(f"outlier {od['consecutive_5xx']}×5xx per {od['interval']}, eject {od['base_ejection_time']}, "
                     f"max {od['max_ejection_percent']}% ({st.get('ejectable', 0)} host"
                     f"{'s' if st.get('ejectable', 0) != 1 else ''})")
    parts.append(f"panic {st['panic_threshold']:g}%")
    if st["locality_weighted"]:
        parts.append("locality-weighted")
    if len(st["priorities"]) > 1:
        parts.append(f"{len(st['priorities'])} priorities")
    return " · ".join(parts)


# Retry conditions after which the upstream may already have handled the request (§6: Envoy
# retries whatever method the request had). connect-failure, refused-stream, reset-before-request
# and the gRPC "unavailable", "cancelled" and "resource-exhausted" mean it was not processed (or was
# refused); Istio's default policies use only those (with retriable-status-codes 503 alone up to
# 1.19), so they are not flagged.
AFTER_PROCESSING = frozenset({"5xx", "gateway-error", "reset", "retriable-4xx", "retriable-headers",
                              "deadline-exceeded", "internal", "http3-post-connect-failure"})
NON_IDEMPOTENT = ("POST", "PATCH")


def unsafe_retry_on(retry: dict[str, Any]) -> list[str]:
    """The retry conditions of a route_settings retry that can repeat a request the upstream processed."""
    out = [c for c in retry["retry_on"] if c in AFTER_PROCESSING]
    codes = [c for c in retry["retriable_status_codes"] if c != 503]
    if "retriable-status-codes" in retry["retry_on"] and codes:
        out.append("retriable-status-codes " + ",".join(map(str, codes)))
    return out


def matches_methods(match: Props, methods: Sequence[str]) -> list[str]:
    """Which of ``methods`` a RouteMatch's ``:method`` conditions let through."""
    conds = [h for h in match.get("headers") or [] if str(h.get("name", "")).lower() == ":method"]
    return [m for m in methods if all(header_matches(h, {":method": m}) for h in conds)]
