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

Props = dict[str, Any]

HEALTHY = {"HEALTHY", "UNKNOWN", ""}
DEGRADED = {"DEGRADED"}
EXCLUDED = {"DRAINING"}  # newer Envoy excludes draining hosts (§8 "Health")


@dataclass
class Request:
    """What the client sends: the original destination and the HTTP request."""

    ip: str | None
    port: int
    host: str
    path: str = "/"
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    http: bool = True
    sni: str = ""
    scheme: str = "http"


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
def _in_prefix(ip: str | None, cidr: str) -> int:
    """Prefix length if ip is inside cidr, else -1."""
    try:
        net = ipaddress.ip_network(cidr, strict=False)
        if net.prefixlen == 0:
            return 0
        if not ip:
            return -1
        return net.prefixlen if ipaddress.ip_address(ip) in net else -1
    except ValueError:
        return -1


def select_chain(chains: Sequence[Props], req: Request, listener: Props) -> Props | None:
    """Envoy's filter-chain sieve (§3): at each step only the most specific bucket survives,
    no backtracking; if nothing is left, the default_filter_chain (or None: NR)."""
    default = next((c for c in chains if c["is_default"]), None)
    cands = [c for c in chains if not c["is_default"]]
    # 1. destination_port
    with_port = [c for c in cands if c["destination_port"] == req.port]
    cands = with_port if with_port else [c for c in cands if c["destination_port"] is None]
    # 2. prefix_ranges: longest matching prefix; a chain without ranges counts as 0.0.0.0/0
    def prefix_score(c: Props) -> int:
        if not c["prefix_ranges"]:
            return 0
        return max(_in_prefix(req.ip, r) for r in c["prefix_ranges"])

    scored = [(prefix_score(c), c) for c in cands]
    scored = [(s, c) for s, c in scored if s >= 0]
    top = max((s for s, _ in scored), default=-1)
    cands = [c for s, c in scored if s == top]
    # 3. server_names: exact SNI, then longest wildcard suffix, then chains without names
    if cands:
        sni = req.sni.lower()
        exact = [c for c in cands if sni and sni in [s.lower() for s in c["server_names"]]]
        if exact:
            cands = exact
        else:
            wild: list[tuple[int, Props]] = []
            for c in cands:
                for s in c["server_names"]:
                    if s.startswith("*") and sni.endswith(s[1:].lower()) and len(sni) > len(s) - 1:
                        wild.append((len(s), c))
            if wild:
                top = max(n for n, _ in wild)
                cands = [c for n, c in wild if n == top]
            else:
                cands = [c for c in cands if not c["server_names"]]
    # 4. transport_protocol: raw_buffer unless a TLS inspector saw TLS
    if cands:
        tp = "tls" if req.sni or req.scheme == "https" else "raw_buffer"
        exact = [c for c in cands if c["transport_protocol"] == tp]
        cands = exact if exact else [c for c in cands if not c["transport_protocol"]]
    # 5. application_protocols: http_inspector sets http/1.1 for plaintext HTTP
    if cands:
        alpn: list[str] = []
        if req.http and tp == "raw_buffer" and any("http_inspector" in f for f in listener["listener_filters"]):
            alpn = ["http/1.1"]
        chosen = None
        for a in alpn:
            m = [c for c in cands if a in c["application_protocols"]]
            if m:
                chosen = m
                break
        cands = chosen if chosen is not None else [c for c in cands if not c["application_protocols"]]
    # 6–9: source fields; Istio never sets them (§3 "What Istio relies on"): prefer chains without.
    if len(cands) > 1:
        plain = [c for c in cands if not c["source_match"]]
        cands = plain or cands
    if cands:
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


def endpoint_shares(cluster: Props, endpoints: Sequence[Props], failed: frozenset[str] = frozenset()) -> dict[str, float]:
    """Each endpoint's share of the cluster's requests, by §8's algorithm.

    ``failed`` holds endpoint keys to treat as gone (blast radius): a dead pod leaves
    the EDS set, as Kubernetes removes it from the service's endpoints. Returns
    {endpoint key: share}; an empty dict means no usable host (UH).
    """
    opf = int(cluster.get("overprovisioning_factor") or 140)
    threshold = cluster.get("panic_threshold")
    threshold = 50.0 if threshold is None else float(threshold)
    by_weight = bool(cluster.get("weighted_priority_health"))
    prios: dict[int, list[tuple[Props, str]]] = {}
    for e in endpoints:
        cls = "excluded" if e["key"] in failed else _health_class(e.get("health") or "")
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
