"""``topo check``: every dead end and config smell in the graph, with the Envoy response a request gets.

The check walks every (source config, listener, filter chain, virtual host, route) the way
:mod:`topo.queries.walk` does for one request, but without a request: it asks, of each
object, whether *some* request would die there (ENVOY-SEMANTICS.md §9) or whether the
object can never be used at all (§5 duplicate domains, §6 shadowed routes). Findings:

======================  ========  ==========================================================
kind                    severity  what
======================  ========  ==========================================================
missing_cluster         error     a route or tcp_proxy names a cluster the proxy lacks (503 NC);
                                  typically a VirtualService subset without a DestinationRule subset
zero_weights            error     weighted clusters whose weights sum to 0
subset_no_endpoints     error     a subset cluster with no endpoints while its service has some:
                                  the subset's labels match no ready pod (503 UH)
no_endpoints            warning   a used cluster with no endpoints, its whole service has none
                                  (no ready pod: a runtime state, not a config error) (503 UH)
no_healthy_endpoints    warning   every endpoint unhealthy and panic disabled (503 UH)
all_unhealthy_panic     warning   every endpoint unhealthy; panic mode sends to them anyway
endpoints_unknown       info      used clusters whose endpoints the dump does not show (no EDS)
missing_route_config    error     an active listener's chain names an RDS config that is absent (404 NR)
no_virtual_hosts        error     a route config in use that has no virtual host: every request on it gets 404 NR
port80_ghost_vhost      warning   a vhost Istio rendered into route config ``80`` for a service without port 80:
                                  its routes name ``outbound|80|…``, a cluster that does not exist (503 NC)
listener_warming        error     a listener stuck warming on a missing RDS name (warning otherwise)
error_state             error     a rejected (NACKed) listener, route config or cluster update
duplicate_domains       error     a domain in two virtual hosts of one route config (Envoy rejects it)
unreachable_vhost       error     a virtual host whose every domain an earlier one claims
shadowed_route          warning   a route an earlier, broader route of the same vhost always wins over
cluster_header          info      the cluster comes from a request header (missing header: 503 NC)
no_catch_all            info      an RDS vhost whose routes leave some paths unmatched (404 NR)
registry_only           info      BlackHoleCluster / block_all catch-alls: which hosts are blocked
config_drift            warning   a destination some pods of a workload reach and others do not
service_not_in_scope    info      a service other sidecars of the namespace reach that these have no cluster for
                                  (a Sidecar's egress hosts, or exportTo): their requests take the catch-all
fault_with_retries      warning   fault injection on a route that also retries (the retries never see it)
retry_budget            warning   per-try timeout × attempts longer than the route's timeout: the
                                  last retries never run
retry_non_idempotent    warning   a route that POST or PATCH requests can take retries on conditions
                                  after which the upstream may have handled the request (5xx, reset …)
outlier_ejects_all      warning   outlier detection may eject every endpoint of a used cluster and
                                  panic mode is off: when they all fail, 503 UH instead of a try
======================  ========  ==========================================================

Identical findings of many pods are collapsed: the key is the finding's kind plus the
objects it names, and the finding lists the pods. Resources are content-addressed, so the
per-route-config part of the check runs once per distinct route config, not once per pod.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from topo.model.names import istio_object, parse_cluster_name, workload_key
from topo.model.names import short_service as _short
from topo.model.rows import jload
from topo.queries import envoy
from topo.queries.walk import BLACKHOLE
from topo.stores.hops import MeshGraph, Props
from topo.util import pct as _pct

SEVERITIES = ("error", "warning", "info")
LIVE_STATES = ("static", "active", "error")
MAX_DETAILS = 20


# ---------------------------------------------------------------- results
@dataclass
class Finding:
    kind: str
    severity: str  # error, warning, info
    flag: str  # Envoy response flag a request gets: NC, UH, NR, or "" (none)
    response: str  # what the client sees: "503", "404", "502", "connection closed", or ""
    message: str
    objects: dict[str, str]  # the objects involved, outermost first
    istio: list[str]  # Istio objects behind them: "VirtualService ns/name", …
    details: list[str] = field(default_factory=list)
    pods: list[str] = field(default_factory=list)
    pod_count: int = 0

    def key(self) -> tuple[Any, ...]:
        return (self.kind, tuple(sorted(self.objects.items())))


@dataclass
class CheckResult:
    pods: int  # pods checked
    configs: int  # distinct proxy configs checked
    counts: dict[str, int]  # findings by severity
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return not self.counts.get("error")


# ---------------------------------------------------------------- §6 shadowed routes
_CONDITIONS = ("headers", "query_parameters", "runtime_fraction", "grpc", "tls_context", "dynamic_metadata",
               "filter_state", "cookies")
_EVERY_PATH: Props = {"prefix": "/"}
_MATCH_ALL_REGEX = {".*", "/.*", "^.*$", "^/.*$", "(.*)", "/(.*)"}


def _path_spec(m: Props) -> tuple[str, str] | None:
    for k in ("prefix", "path", "path_separated_prefix"):
        if k in m:
            return k, str(m[k])
    if "safe_regex" in m:
        return "regex", str((m["safe_regex"] or {}).get("regex", ""))
    if "regex" in m:
        return "regex", str(m["regex"])
    return None


def covers(earlier: Props, later: Props) -> bool:
    """Does every request ``later`` matches also match ``earlier`` (so ``later`` never wins)?

    Only provable cases: ``earlier`` has no header, query, runtime or other condition, and
    its path match is a superset of ``later``'s (prefix p1 ⊇ prefix/path p2 when p2 starts
    with p1; equal exact paths; a match-everything regex or prefix ``/``)."""
    if any(earlier.get(k) for k in _CONDITIONS):
        return False
    if "connect_matcher" in later or "connect_matcher" in earlier:
        return False
    e, l = _path_spec(earlier), _path_spec(later)
    if e is None or l is None:
        return False
    ek, ev = e
    lk, lv = l
    # Request paths always start with "/": these match every later route (CONNECT aside).
    if (ek == "prefix" and ev in ("", "/")) or (ek == "regex" and ev in _MATCH_ALL_REGEX):
        return True
    e_ci = earlier.get("case_sensitive") is False
    l_ci = later.get("case_sensitive") is False
    if l_ci and not e_ci:
        return False  # the later route also matches case variants the earlier one does not

    def n(s: str) -> str:
        return s.lower() if e_ci else s

    if ek == "prefix":
        return lk in ("prefix", "path", "path_separated_prefix") and n(lv).startswith(n(ev))
    if ek == "path":
        return lk == "path" and n(lv) == n(ev)
    if ek == "path_separated_prefix":
        if lk in ("path", "path_separated_prefix"):
            return n(lv) == n(ev) or n(lv).startswith(n(ev) + "/")
        if lk == "prefix":
            return n(lv).startswith(n(ev) + "/")
    return False


# ---------------------------------------------------------------- helpers
def _route_label(r: Props) -> str:
    return r["name"] or f"#{r['index']}"


def _chain_label(ch: Props) -> str:
    if ch["name"]:
        return ch["name"]
    return "default_filter_chain" if ch["is_default"] else f"#{ch['index']}"


def _all_eps(n: int) -> str:
    return "its only endpoint is" if n == 1 else f"all {n} of its endpoints are"


def _rc_label(rc: Props) -> str:
    return rc["name"] or "(inline)"


@dataclass
class _Use:
    """A route or tcp_proxy that sends traffic to a cluster."""

    where: str
    istio: str


@dataclass
class _RouteRef:
    """A forwarding route of a route config, with what a config needs to check its clusters."""

    rc: Props
    vh: Props
    route: Props
    entries: list[tuple[str, int, float]]  # (cluster, weight, fraction) with weight > 0


class _Checker:
    def __init__(self, g: MeshGraph) -> None:
        self.g = g
        self.findings: dict[tuple[Any, ...], Finding] = {}
        self._rc_cache: dict[str, tuple[list[Finding], list[_RouteRef]]] = {}
        self._cluster_cache: dict[str, Finding | None] = {}
        self._outlier_cache: dict[str, Finding | None] = {}

    # ---- collecting
    def add(self, f: Finding, pods: Sequence[str]) -> None:
        k = f.key()
        got = self.findings.get(k)
        if got is None:
            got = Finding(f.kind, f.severity, f.flag, f.response, f.message, dict(f.objects), list(f.istio),
                          list(f.details), [])
            self.findings[k] = got
        else:
            for i in f.istio:
                if i not in got.istio:
                    got.istio.append(i)
            for d in f.details:
                if d not in got.details:
                    got.details.append(d)
        got.pods.extend(pods)

    def result(self, pods: int, configs: int) -> CheckResult:
        out = []
        for f in self.findings.values():
            if len(f.details) > MAX_DETAILS:
                f.details = f.details[:MAX_DETAILS] + [f"… and {len(f.details) - MAX_DETAILS} more"]
            f.pods = sorted(set(f.pods))
            f.pod_count = len(f.pods)
            f.istio = sorted(i for i in f.istio if i)
            out.append(f)
        order = {s: i for i, s in enumerate(SEVERITIES)}
        out.sort(key=lambda f: (order[f.severity], f.kind, list(f.objects.values()), f.message))
        counts = {s: sum(1 for f in out if f.severity == s) for s in SEVERITIES}
        return CheckResult(pods, configs, counts, out)

    # ---- one proxy config
    def config(self, config: str, pods: list[str]) -> None:
        g = self.g
        clusters = g.config_clusters(config)
        # A by-name reference resolves to a static or active cluster (state "error": active, with
        # a rejected update; the previous version stays in place). Warming clusters carry no
        # traffic yet (§1), nor do load assignments without a cluster ("eds_only"). The graph's
        # own ROUTES_TO / TCP_TO edges confirm a miss before it is reported.
        live: dict[str, Props] = {}
        warming: set[str] = set()
        for c in clusters:
            if c["state"] == "warming":
                warming.add(c["name"])
            elif c["state"] in LIVE_STATES and (c["name"] not in live or c["state"] != "error"):
                live[c["name"]] = c
            if c["error"]:
                self.add(Finding("error_state", "error", "", "",
                                 f"cluster {c['name']}: the last update was rejected (NACK); "
                                 "the previous version stays in place",
                                 {"cluster": c["name"]}, [istio_object(c["istio_config"])], [c["error"]]), pods)
        uses: dict[str, list[_Use]] = {}
        listeners = g.listeners(config)
        active_names = {l["name"] for l in listeners if l["state"] in ("static", "active")}
        seen_rc: set[str] = set()
        for l in listeners:
            if l["error"]:
                if l["state"] != "error":
                    msg = (f"listener {l['name']}: the last update was rejected (NACK); the previous version "
                           "stays in place")
                else:
                    msg = (f"listener {l['name']} was rejected (NACK) and no version of it is in place: Envoy "
                           "has no such listener"
                           + (" and the inbound connections iptables redirects to 15006 are refused"
                              if l["name"] == "virtualInbound" else ""))
                refused = l["state"] == "error" and l["name"] == "virtualInbound"
                self.add(Finding("error_state", "error", "", "connection refused" if refused else "", msg,
                                 {"listener": l["name"]}, [], [l["error"]]), pods)
            if l["state"] == "warming":
                self.warming(config, l, l["name"] in active_names, pods)
                continue
            if l["state"] not in ("static", "active"):
                continue
            for ch in self.g.chains(l["key"]):
                if ch["terminal"] == "tcp":
                    self.tcp(config, l, ch, live, warming, uses, pods)
                elif ch["terminal"] == "http":
                    rc = g.route_config(ch["key"], config)
                    if rc is None:
                        if ch["rds_name"]:
                            self.add(Finding(
                                "missing_route_config", "error", "NR", "404",
                                f"listener {l['name']} chain {_chain_label(ch)} takes its routes from RDS "
                                f"{ch['rds_name']!r}, which the proxy does not have: every request gets 404 NR",
                                {"listener": l["name"], "chain": _chain_label(ch), "route_config": ch["rds_name"]},
                                [istio_object(ch["istio_config"])]), pods)
                        continue
                    if not self.g.vhosts(rc["key"]):
                        # §9 NR: no vhost can match any Host (Istio sends an empty RouteConfiguration
                        # for a route name it could not build, §4)
                        self.add(Finding(
                            "no_virtual_hosts", "error", "NR", "404",
                            f"listener {l['name']} chain {_chain_label(ch)} takes its routes from route config "
                            f"{_rc_label(rc)}, which has no virtual hosts: every request gets 404 NR",
                            {"listener": l["name"], "chain": _chain_label(ch), "route_config": _rc_label(rc)},
                            [istio_object(ch["istio_config"])]), pods)
                    if rc["key"] in seen_rc:
                        continue
                    seen_rc.add(rc["key"])
                    self.route_config(config, rc, live, warming, uses, pods)
        self.clusters_used(live, uses, pods)

    def warming(self, config: str, l: Props, has_active: bool, pods: list[str]) -> None:
        missing = sorted({ch["rds_name"] for ch in self.g.chains(l["key"])
                          if ch["terminal"] == "http" and ch["rds_name"]
                          and self.g.route_config(ch["key"], config) is None})
        what = ("an update of it is stuck warming; the active version still serves" if has_active else
                "it takes no traffic: connections to it stay on virtualOutbound")
        if missing:
            names = ", ".join(repr(m) for m in missing)
            self.add(Finding("listener_warming", "error", "", "",
                             f"listener {l['name']} is stuck warming on missing RDS {names} "
                             f"(Istio's initial_fetch_timeout 0s: it waits forever); {what}",
                             {"listener": l["name"], "route_config": ", ".join(missing)}, []), pods)
        else:
            self.add(Finding("listener_warming", "warning", "", "",
                             f"listener {l['name']} is warming (waiting for its clusters or routes); {what}",
                             {"listener": l["name"]}, []), pods)

    # ---- tcp_proxy
    def tcp(self, config: str, l: Props, ch: Props, live: dict[str, Props], warming: set[str],
            uses: dict[str, list[_Use]], pods: list[str]) -> None:
        entries = jload(ch["tcp_clusters"]) or []
        where = {"listener": l["name"], "chain": _chain_label(ch)}
        vs = istio_object(ch["istio_config"])
        if entries and not any(int(w) > 0 for _n, w in entries):
            self.add(Finding("zero_weights", "error", "NC", "connection closed",
                             f"tcp_proxy of listener {l['name']} chain {_chain_label(ch)} has weighted clusters "
                             "whose weights sum to 0: no cluster can be picked",
                             {**where}, [vs], [f"{n} weight {w}" for n, w in entries]), pods)
            return
        targets: dict[str, Props] | None = None
        for name, w, frac in envoy.weighted_fractions(entries):
            if w <= 0:
                continue
            if name == BLACKHOLE:
                if ch["destination_port"] is None and not ch["prefix_ranges"]:
                    self.blackhole_chain(l, ch, pods)
                continue
            if name not in live:
                if targets is None:
                    targets = self.g.targets("TCP_TO", ch["key"], config)
                if name not in targets:
                    self.missing(name, frac, {**where, "cluster": name}, vs, name in warming, pods,
                                 response="connection closed")
                    continue
            uses.setdefault(name, []).append(_Use(f"listener {l['name']} chain {_chain_label(ch)} (tcp)", vs))

    def blackhole_chain(self, l: Props, ch: Props, pods: list[str]) -> None:
        if l["use_original_dst"]:
            msg = (f"{l['name']}: TCP connections to any IP:port that has no listener of its own are sent to "
                   "BlackHoleCluster and closed (outboundTrafficPolicy REGISTRY_ONLY)")
        else:
            msg = (f"{l['name']}: non-HTTP connections on port {l['port']} to hosts outside the registry are "
                   "sent to BlackHoleCluster and closed (outboundTrafficPolicy REGISTRY_ONLY)")
        self.add(Finding("registry_only", "info", "UH", "connection closed", msg,
                         {"listener": l["name"], "chain": _chain_label(ch), "cluster": BLACKHOLE}, []), pods)

    # ---- route configs: the config-independent part is computed once per route config
    def route_config(self, config: str, rc: Props, live: dict[str, Props], warming: set[str],
                     uses: dict[str, list[_Use]], pods: list[str]) -> None:
        cached = self._rc_cache.get(rc["key"])
        if cached is None:
            cached = self._rc_static(rc)
            self._rc_cache[rc["key"]] = cached
        static, refs = cached
        for f in static:
            self.add(f, pods)
        for ref in refs:
            targets: dict[str, Props] | None = None
            where = {"route_config": _rc_label(ref.rc), "vhost": ref.vh["name"], "route": _route_label(ref.route)}
            vs = istio_object(ref.route["istio_config"])
            for name, _w, frac in ref.entries:
                if name not in live:
                    if targets is None:
                        targets = self.g.targets("ROUTES_TO", ref.route["key"], config)
                    if name not in targets:
                        self.missing(name, frac, {**where, "cluster": name}, vs, name in warming, pods,
                                     live=live, route_config=ref.rc["name"] or "")
                        self.ghost(ref, name, vs, name in warming, pods)
                        continue
                if name == BLACKHOLE:
                    continue
                uses.setdefault(name, []).append(
                    _Use(f"route config {_rc_label(ref.rc)} › {ref.vh['name']} › {_route_label(ref.route)}", vs))

    def _rc_static(self, rc: Props) -> tuple[list[Finding], list[_RouteRef]]:
        out: list[Finding] = []
        refs: list[_RouteRef] = []
        rcl = _rc_label(rc)
        if rc["error"]:
            out.append(Finding("error_state", "error", "", "",
                               f"route config {rcl}: the last update was rejected (NACK); the previous version "
                               "stays in place", {"route_config": rcl}, [], [rc["error"]]))
        vhosts = self.g.vhosts(rc["key"])
        owner: dict[str, Props] = {}
        for vh in vhosts:
            dups: dict[str, list[str]] = {}
            claimed = 0
            for d in vh["domains"]:
                o = owner.get(d)
                if o is None:
                    owner[d] = vh
                else:
                    dups.setdefault(o["name"], []).append(d)
                    if o is not vh:
                        claimed += 1
            for other, ds in dups.items():
                out.append(Finding(
                    "duplicate_domains", "error", "", "",
                    f"route config {rcl}: vhost {vh['name']} repeats domain(s) {', '.join(ds)} of vhost {other}; "
                    "Envoy rejects a route config with duplicate domains, so this config cannot have been accepted",
                    {"route_config": rcl, "vhost": vh["name"], "other_vhost": other}, [], sorted(ds)))
            if vh["domains"] and claimed == len(vh["domains"]):
                out.append(Finding(
                    "unreachable_vhost", "error", "", "",
                    f"route config {rcl}: vhost {vh['name']} can never be chosen: every one of its domains is "
                    "claimed by an earlier vhost",
                    {"route_config": rcl, "vhost": vh["name"]}, [], list(vh["domains"])))
            out += self._vhost_routes(rc, vh, vhosts, refs)
        return out, refs

    def _vhost_routes(self, rc: Props, vh: Props, vhosts: list[Props], refs: list[_RouteRef]) -> list[Finding]:
        out: list[Finding] = []
        rcl = _rc_label(rc)
        routes = self.g.routes(vh["key"])
        matches = [jload(r["match"]) or {} for r in routes]
        if routes and rc["state"] != "static" and not any(covers(m, _EVERY_PATH) for m in matches):
            # §6: no route takes every path; Istio adds no default route to a VirtualService's
            # matches, so a request matching none of them gets 404 NR.
            shown = ", ".join(r["match_text"] or "?" for r in routes[:4]) + (" …" if len(routes) > 4 else "")
            out.append(Finding(
                "no_catch_all", "info", "NR", "404",
                f"vhost {vh['name']}: no route matches every request; a request that matches none of its "
                f"{len(routes)} route{'s' if len(routes) != 1 else ''} ({shown}) gets 404 NR",
                {"route_config": rcl, "vhost": vh["name"]},
                sorted({istio_object(r["istio_config"]) for r in routes})))
        for j, r in enumerate(routes):
            where = {"route_config": rcl, "vhost": vh["name"], "route": _route_label(r)}
            vs = istio_object(r["istio_config"])
            for i in range(j):
                if covers(matches[i], matches[j]):
                    e = routes[i]
                    out.append(Finding(
                        "shadowed_route", "warning", "", "",
                        f"route {_route_label(r)} ({r['match_text']}) in vhost {vh['name']} can never match: "
                        f"the earlier route {_route_label(e)} ({e['match_text']}) matches every request it would",
                        {**where, "shadowed_by": _route_label(e)}, [vs, istio_object(e["istio_config"])]))
                    break
            out += _retry_lints(r, where, vs, jload(r["match"]) or {})
            a = r["action"]
            if a == "direct_response":
                if r["name"] == "block_all" or (r["direct_status"] == 502 and vh["name"] == "block_all"):
                    out.append(self._block_all(rc, vh, vhosts, r))
                continue
            if a != "route":
                continue
            if r["cluster_header"]:
                out.append(Finding(
                    "cluster_header", "info", "NC", "503",
                    f"route {_route_label(r)} in vhost {vh['name']} picks its cluster from request header "
                    f"{r['cluster_header']!r}: a request without it, or naming an unknown cluster, gets 503 NC",
                    where, [vs]))
                continue
            entries = [(str(n), int(w)) for n, w in (jload(r["clusters"]) or [])]
            if entries and not any(w > 0 for _n, w in entries):
                out.append(Finding(
                    "zero_weights", "error", "NC", "503",
                    f"route {_route_label(r)} in vhost {vh['name']} has weighted clusters whose weights sum to 0: "
                    "no cluster can be picked", where, [vs], [f"{n} weight {w}" for n, w in entries]))
                continue
            if any(n == BLACKHOLE for n, w in entries if w > 0):
                out.append(self._block_all(rc, vh, vhosts, r))
            live = [(n, w, f) for n, w, f in envoy.weighted_fractions(entries) if w > 0]
            if live:
                refs.append(_RouteRef(rc, vh, r, live))
        return out

    def _block_all(self, rc: Props, vh: Props, vhosts: list[Props], r: Props) -> Finding:
        others = [v for v in vhosts if v["key"] != vh["key"]]
        port = rc["name"] if (rc["name"] or "").isdigit() else ""
        scope = f"port {port} (route config {rc['name']})" if port else f"route config {_rc_label(rc)}"
        how = (f"get {r['direct_status']} from {_route_label(r)}" if r["action"] == "direct_response"
               else "go to BlackHoleCluster (503 UH)")
        names = ", ".join(v["name"] for v in others[:3]) + (f", … (+{len(others) - 3})" if len(others) > 3 else "")
        hosts = ("any host" if not others else
                 f"any host that its other vhost{'s' if len(others) > 1 else ''} ({names}) do{'es' if len(others) == 1 else ''} not name")
        if vh["domains"] != ["*"]:
            hosts = f"hosts {', '.join(vh['domains'])}"
        resp = str(r["direct_status"]) if r["action"] == "direct_response" else "503"
        return Finding(
            "registry_only", "info", "" if r["action"] == "direct_response" else "UH", resp,
            f"{scope}: HTTP requests for {hosts} {how}: outboundTrafficPolicy REGISTRY_ONLY blocks "
            "destinations outside the service registry",
            {"route_config": _rc_label(rc), "vhost": vh["name"], "route": _route_label(r)},
            [istio_object(r["istio_config"])])

    def _service_ports(self, fqdn: str) -> list[int]:
        """The ports the graph knows for a service (services.json, the clusters' names)."""
        by_fqdn = self.g.memo(("services_by_fqdn",), lambda: {sv["fqdn"]: sv for sv in self.g.services()})
        sv = by_fqdn.get(fqdn)
        return sorted(set(sv["ports"] or [])) if sv else []

    def missing(self, name: str, frac: float, objects: dict[str, str], vs: str, is_warming: bool,
                pods: list[str], response: str = "503", *, live: dict[str, Props] | None = None,
                route_config: str = "") -> None:
        parts = parse_cluster_name(name)
        what = f"{_pct(frac)} of its requests" if frac < 1 else "its requests"
        owner = f"{vs} " if vs else ""
        msg = (f"{owner or 'the route '}sends {what} to cluster {name}, which the proxy does not have"
               + (" active (it is still warming)" if is_warming else "")
               + f": {'503 NC' if response == '503' else 'NC, the connection is closed'}")
        details = []
        fqdn, port, subset = parts["fqdn"], parts["port"], parts["subset"]
        ports = self._service_ports(fqdn) if fqdn else []
        # the same subset (or the service itself) on another port: the port is what is missing
        elsewhere = sorted({c["port"] for c in (live or {}).values() if c["fqdn"] == fqdn and c["direction"] == "outbound"
                            and c["subset"] == subset and c["port"] != port})
        if is_warming:
            pass
        elif fqdn and ports and port not in ports:
            ghost = ("; Istio renders every VirtualService into route config 80 and names the destination "
                     "with the listener's port 80 (the port-80 ghost host)" if route_config == "80" and port == 80 else "")
            details.append(f"service {fqdn} has no port {port} (its ports: {', '.join(map(str, ports))})"
                           + (f", while {'subset ' + repr(subset) if subset else 'its cluster'} exists on port "
                              f"{', '.join(map(str, elsewhere))}" if elsewhere else "") + ghost)
            if subset and not elsewhere:
                details.append(f"and subset {subset!r} of {fqdn} has no cluster on any port: no DestinationRule "
                               f"for {_short(fqdn)} defines that subset (or it is out of the Sidecar's scope)")
        elif subset:
            details.append(f"subset {subset!r} of {fqdn} has no cluster: no DestinationRule "
                           f"for {_short(fqdn)} defines that subset (or it is out of the Sidecar's scope)")
        elif fqdn:
            details.append(f"service {fqdn} port {port} is unknown to this proxy "
                           "(no such Service or ServiceEntry, or outside the Sidecar's egress hosts)")
        self.add(Finding("missing_cluster", "error", "NC", response, msg, objects, [vs], details), pods)

    def ghost(self, ref: _RouteRef, name: str, vs: str, is_warming: bool, pods: list[str]) -> None:
        """§5 "Port 80": route config ``80`` keeps every VirtualService, also one for a service
        without port 80; its vhost ``FQDN:80`` then routes to ``outbound|80|…|FQDN``, which
        does not exist (istiod builds the destination with the listener's port)."""
        parts = parse_cluster_name(name)
        fqdn = parts["fqdn"]
        vh = ref.vh
        if is_warming or ref.rc["name"] != "80" or parts["port"] != 80 or vh["name"] != f"{fqdn}:80":
            return
        ports = self._service_ports(fqdn)
        if not ports or 80 in ports:
            return
        others = ", ".join(map(str, ports))
        domains = ", ".join(vh["domains"])
        self.add(Finding(
            "port80_ghost_vhost", "warning", "NC", "503",
            f"route config 80: vhost {vh['name']} renders {vs or 'a VirtualService'} for service {fqdn}, which has no "
            f"port 80 (its ports: {others}); its routes name {name}, a cluster that does not exist: a request on "
            f"port 80 for {domains} gets 503 NC, and the service's real port ({others}) has its own vhost",
            {"route_config": "80", "vhost": vh["name"]}, [vs],
            [f"the ghost vhost's domains: {domains} (no short names)"]), pods)

    # ---- §7–§9 clusters that traffic actually uses
    def clusters_used(self, live: dict[str, Props], uses: dict[str, list[_Use]], pods: list[str]) -> None:
        unknown: list[str] = []
        for name in sorted(uses):
            cl = live.get(name)
            if cl is None or cl["type"] == "ORIGINAL_DST" or name == BLACKHOLE:
                continue
            if cl["key"] not in self._cluster_cache:
                self._cluster_cache[cl["key"]] = self._cluster_verdict(cl)
                self._outlier_cache[cl["key"]] = _outlier_lint(cl, self.g.endpoints(cl["key"]))
            lint = self._outlier_cache[cl["key"]]
            if lint is not None:
                self.add(Finding(lint.kind, lint.severity, lint.flag, lint.response, lint.message, lint.objects,
                                 list(lint.istio) + [u.istio for u in uses[name]],
                                 lint.details + [f"used by {u.where}" for u in uses[name]]), pods)
            f = self._cluster_cache[cl["key"]]
            if f is not None and f.kind == "no_endpoints":
                f = self._empty_verdict(cl, live, f)
            if f is None:
                continue
            if f.kind == "endpoints_unknown":
                unknown.append(name)
                continue
            via = uses[name]
            f = Finding(f.kind, f.severity, f.flag, f.response, f.message, f.objects,
                        list(f.istio) + [u.istio for u in via], f.details + [f"used by {u.where}" for u in via])
            self.add(f, pods)
        if unknown:
            self.add(Finding(
                "endpoints_unknown", "info", "", "",
                "endpoints unknown, dump without EDS: the shares and UH checks of these clusters need "
                "/config_dump?include_eds (or a .clusters.json beside the dump)", {}, [], unknown), pods)

    def _cluster_verdict(self, cl: Props) -> Finding | None:
        """What a cluster's own endpoints say (cached per cluster key: it is content-addressed)."""
        eps = self.g.endpoints(cl["key"])
        if not eps and not cl["has_endpoints_info"]:
            return Finding("endpoints_unknown", "info", "", "", "", {}, [])
        shares = envoy.endpoint_shares(cl, eps)
        name = cl["name"]
        dr = istio_object(cl["istio_config"])
        objects = {"cluster": name}
        if shares:
            ok = envoy.HEALTHY | envoy.DEGRADED | envoy.EXCLUDED
            unhealthy = [e for e in eps if (e["health"] or "") not in ok]
            if eps and len(unhealthy) == len(eps):
                return Finding(
                    "all_unhealthy_panic", "warning", "", "",
                    f"cluster {name}: {_all_eps(len(eps))} unhealthy; Envoy is in panic mode and "
                    "sends to them anyway (expect 503 UF/URX)", objects, [dr])
            return None
        if eps:
            health = sorted({e["health"] or "UNKNOWN" for e in eps})
            pt = cl["panic_threshold"]
            return Finding(
                "no_healthy_endpoints", "warning", "UH", "503",
                f"cluster {name}: no healthy endpoint ({len(eps)} endpoint{'s' if len(eps) != 1 else ''}: "
                f"{', '.join(health)}); "
                + ("panic mode is disabled (healthy_panic_threshold 0)" if pt == 0 else
                   "draining endpoints take no traffic") + ": 503 UH",
                objects, [dr])
        return Finding("no_endpoints", "warning", "UH", "503", "", objects, [dr])

    def _empty_verdict(self, cl: Props, live: dict[str, Props], f: Finding) -> Finding:
        """An empty cluster: a config error when it is a subset of a service that has endpoints
        in this proxy (the subset's labels match no ready pod), else the service has no ready pod."""
        name = cl["name"]
        objects = dict(f.objects)
        parts = parse_cluster_name(name)
        if parts["subset"] and parts["fqdn"] and self._service_has_endpoints(parts["fqdn"], parts["port"], live):
            return Finding(
                "subset_no_endpoints", "error", "UH", "503",
                f"cluster {name} has no endpoints while service {parts['fqdn']} has some: no ready pod carries "
                f"the labels of subset {parts['subset']!r}: 503 UH", objects, list(f.istio))
        what = f"service {parts['fqdn']} port {parts['port']}" if parts["fqdn"] else f"cluster {name}"
        return Finding(
            "no_endpoints", "warning", "UH", "503",
            f"cluster {name} has no endpoints: {what} has no ready pod (scaled to zero, not ready, or a selector "
            "that matches nothing): 503 UH", objects, list(f.istio))

    def _service_has_endpoints(self, fqdn: str, port: int, live: dict[str, Props]) -> bool:
        for c in live.values():
            if c["fqdn"] == fqdn and c["direction"] == "outbound" and c["port"] == port and c["type"] != "ORIGINAL_DST":
                if self.g.endpoints(c["key"]):
                    return True
        return False


# ---------------------------------------------------------------- resilience lints (§6, §7)

def _retry_lints(r: Props, where: dict[str, str], vs: str, match: Props) -> list[Finding]:
    st = envoy.route_settings(r)
    retry = st.get("retry") if st else None
    if not retry or retry["num_retries"] <= 0:
        return []
    out = []
    label = f"route {_route_label(r)}"
    attempts = retry["num_retries"] + 1
    per_try, total = retry["per_try_timeout_s"], st["timeout_s"]
    if per_try and total and per_try * attempts > total:
        fit = max(int(total // per_try), 1)
        out.append(Finding(
            "retry_budget", "warning", "", "",
            f"{label}: {attempts} attempts of up to {retry['per_try_timeout']} each need "
            f"{per_try * attempts:g}s, but the route times out after {st['timeout']}: at most {fit} "
            f"attempt{'s' if fit != 1 else ''} can run, the rest of the {retry['num_retries']} retries never do",
            where, [vs], [f"retry_on {','.join(retry['retry_on'])}", f"timeout {st['timeout']}"]))
    fault = st.get("fault") or {}
    if fault.get("abort") or fault.get("delay"):
        what = " and ".join(k for k in ("abort", "delay") if fault.get(k))
        out.append(Finding(
            "fault_with_retries", "warning", "", "",
            f"{label} injects a fault ({what}) and also retries ({retry['num_retries']} on "
            f"{','.join(retry['retry_on']) or 'nothing'}): the fault filter answers before the router, so an "
            "injected abort is never retried and a delay is not cut by the retry's per-try timeout; Istio does not "
            "honour retries and timeouts together with fault injection", where, [vs],
            [f"fault: abort {fault['abort'].get('percent', 0):g}% ({fault['abort'].get('http_status') or '?'})"]
            * bool(fault.get("abort")) + [f"fault: delay {fault['delay'].get('duration') or '?'} "
                                          f"{fault['delay'].get('percent', 0):g}%"] * bool(fault.get("delay"))))
    unsafe = envoy.unsafe_retry_on(retry)
    methods = envoy.matches_methods(match, envoy.NON_IDEMPOTENT)
    if unsafe and methods:
        out.append(Finding(
            "retry_non_idempotent", "warning", "", "",
            f"{label} retries {'/'.join(methods)} requests on {', '.join(unsafe)}: the upstream may already "
            "have handled the request, so a non-idempotent request can run twice",
            where, [vs], [f"retry_on {','.join(retry['retry_on'])}", f"num_retries {retry['num_retries']}"]))
    return out


def _outlier_lint(cl: Props, eps: list[Props]) -> Finding | None:
    od = envoy.outlier_settings(cl)
    if od is None or not eps:
        return None
    pt = cl["panic_threshold"]
    panic = 50.0 if pt is None else float(pt)
    n = len(eps)
    k = envoy.max_ejected(od, n)
    if k < n or panic > 0:
        return None
    return Finding(
        "outlier_ejects_all", "warning", "UH", "503",
        f"cluster {cl['name']}: outlier detection may eject {'its only endpoint' if n == 1 else f'all {n} endpoints'} "
        f"(max_ejection_percent {od['max_ejection_percent']}: Envoy ejects while fewer than that share are out) and "
        "panic mode is off (healthy_panic_threshold 0): if they all fail, requests get 503 UH until one is back",
        {"cluster": cl["name"]}, [istio_object(cl["istio_config"])],
        [f"consecutive_5xx {od['consecutive_5xx']}, base_ejection_time {od['base_ejection_time']}"])


# ---------------------------------------------------------------- config drift
def _drift(g: MeshGraph, chk: _Checker, workloads: dict[str, dict[str, list[str]]]) -> None:
    """Destinations some pods of a workload reach and others do not (compared per distinct config)."""
    from topo.queries.reach import config_reach

    for wl in sorted(workloads):
        configs = workloads[wl]
        if len(configs) < 2:
            continue
        reached = {c: {e.destination for e in config_reach(g, c) if e.endpoint is not None or e.endpoints_unknown}
                   for c in configs}
        everything = set().union(*reached.values())
        total = sum(len(p) for p in configs.values())
        for dest in sorted(everything):
            have = [c for c in configs if dest in reached[c]]
            if len(have) == len(configs):
                continue
            with_ = sorted(p for c in have for p in configs[c])
            without = sorted(p for c in configs if c not in have for p in configs[c])
            chk.add(Finding(
                "config_drift", "warning", "", "",
                f"workload {wl}: {len(with_)} of its {total} pods route to {dest}; the other "
                f"{len(without)} do not (their proxy configs differ: a stale or partial push?)",
                {"workload": wl, "destination": dest}, [],
                [f"reached by: {', '.join(with_[:5])}" + (" …" if len(with_) > 5 else "")]), without)


# ---------------------------------------------------------------- Sidecar egress scope
def _scope(g: MeshGraph, chk: _Checker, selected: list[Props], pods: list[Props]) -> None:
    """Kubernetes services that some sidecars of a namespace have clusters for and others of the
    same namespace do not: the latter's Sidecar egress hosts (or the service's exportTo) leave it
    out, so their requests to it take the listener's catch-all (allow_any → PassthroughCluster,
    or block_all / BlackHoleCluster under REGISTRY_ONLY)."""
    k8s = {sv["fqdn"] for sv in g.services() if sv["kind"] == "kubernetes"}
    fqdns: dict[str, set[str]] = {}

    def of(config: str) -> set[str]:
        got = fqdns.get(config)
        if got is None:
            got = fqdns[config] = {c["fqdn"] for c in g.config_clusters(config)
                                   if c["direction"] == "outbound" and c["fqdn"] in k8s
                                   and c["state"] in ("static", "active", "error")}
        return got

    sidecars = [p for p in pods if p["proxy_type"] == "sidecar" and p["namespace"]]
    by_ns: dict[str, list[Props]] = {}
    for p in sidecars:
        by_ns.setdefault(p["namespace"], []).append(p)
    chosen = {p["id"] for p in selected}
    for ns in sorted(by_ns):
        peers = by_ns[ns]
        if len({p["config"] for p in peers}) < 2:
            continue
        seen_by: dict[str, list[str]] = {}
        for p in peers:
            for fq in of(p["config"]):
                seen_by.setdefault(fq, []).append(p["id"])
        for fq in sorted(seen_by):
            without = sorted(p["id"] for p in peers if fq not in of(p["config"]) and p["id"] in chosen)
            if not without:
                continue
            with_ = sorted(seen_by[fq])
            chk.add(Finding(
                "service_not_in_scope", "info", "", "",
                f"service {fq} is outside the egress scope of {len(without)} sidecar{'s' if len(without) != 1 else ''} "
                f"of namespace {ns}: their proxies have no cluster or route for it, while {len(with_)} other "
                f"pod{'s' if len(with_) != 1 else ''} of the namespace do (a Sidecar's egress hosts, or the service's "
                "exportTo); their requests to it take the listener's catch-all (PassthroughCluster, or BlackHole "
                "under REGISTRY_ONLY)",
                {"service": fq, "namespace": ns}, [],
                [f"in scope for: {', '.join(with_[:5])}" + (" …" if len(with_) > 5 else "")]), without)


# ---------------------------------------------------------------- entry point
def check(g: MeshGraph, namespace: str | None = None, pod: str | None = None, drift: bool = True) -> CheckResult:
    """Every finding for the pods selected (all pods, those of ``namespace``, or ``pod``)."""
    pods = g.pods()
    if pod:
        from topo.queries.resolve import resolve_source

        chosen = {pid for grp in resolve_source(g, pod, namespace) for pid in grp.pods}
        selected = [p for p in pods if p["id"] in chosen]
    else:
        selected = [p for p in pods if not namespace or p["namespace"] == namespace]
    by_config: dict[str, list[str]] = {}
    for p in selected:
        by_config.setdefault(p["config"], []).append(p["id"])
    chk = _Checker(g)
    for config in sorted(by_config, key=lambda c: by_config[c][0]):
        chk.config(config, by_config[config])
    if drift:
        wanted = {workload_key(p) for p in selected}
        workloads: dict[str, dict[str, list[str]]] = {}
        for p in pods:
            wk = workload_key(p)
            if wk in wanted:
                workloads.setdefault(wk, {}).setdefault(p["config"], []).append(p["id"])
        _drift(g, chk, workloads)
    _scope(g, chk, selected, pods)
    return chk.result(len(selected), len(by_config))
