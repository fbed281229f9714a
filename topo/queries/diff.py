"""``topo diff A B``: what changed between two graphs, by traffic first, then by config.

Both sides are :class:`~topo.stores.hops.MeshGraph`\\ s (two embedded snapshots, or a
snapshot and the live Neo4j graph), so the comparison never looks at JSON: it compares where
requests go.

**Traffic.** For each source workload (``Pod.workload`` in its namespace) and each
(destination ``service:port``, route) the workload's proxies route, the cluster weights and
each endpoint's share of that route's requests come from
:func:`~topo.queries.reach.config_reach`, run once per distinct proxy config of the workload
and averaged over its pods (a workload whose pods all share one config gets exactly that
config's shares). A change reads, e.g.::

    istio-demo/integration → publictest.istio-demo:9000 (publictest-route):
      v1 90% → 50%; v2 10% → 50%; 10.244.0.53:9000 30% → 25%; endpoint 10.244.0.55:9000 removed (was 30%)

**Config.** Under the traffic changes: per workload, the listeners, route configs (as reached
from the listeners' chains) and clusters by name, and a few key properties of each (address,
state, lb policy, endpoints, route matches and weights…); pods added or removed.

Identical changes seen by several source workloads are listed once, with every workload.
Resources are content-addressed, so an unchanged resource has the same key on both sides
and is never looked into.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from topo.model.names import istio_object, parse_cluster_name, short_service, workload_key
from topo.model.rows import jload
from topo.queries.reach import ReachEntry, config_reach
from topo.stores.hops import MeshGraph, Props
from topo.util import is_ip, pct

EPS = 1e-9


# ---------------------------------------------------------------- results
@dataclass
class ShareChange:
    what: str  # cluster (a route weight), endpoint, dead_end
    name: str  # subset / cluster label, endpoint address, or the dead end's flag
    cluster: str
    pod: str | None
    before: float | None  # None: absent on that side
    after: float | None
    text: str


@dataclass
class TrafficChange:
    sources: list[str]  # source workloads (ns/workload) that see this change
    destination: str  # fqdn:port
    route: str
    via: str  # route config (http) or listener (tcp)
    status: str  # changed, added, removed
    changes: list[ShareChange]
    text: str


@dataclass
class ConfigChange:
    sources: list[str]
    kind: str  # workload, pod, listener, route_config, cluster
    name: str
    change: str  # added, removed, changed
    details: list[str]
    text: str
    services: list[str] = field(default_factory=list)  # service FQDNs it concerns (for the DST filter)
    istio: list[str] = field(default_factory=list)  # the Istio objects behind what changed


@dataclass
class DiffResult:
    a: str
    b: str
    source: str | None
    destination: str | None
    traffic: list[TrafficChange]
    config: list[ConfigChange]

    @property
    def changed(self) -> bool:
        return bool(self.traffic or self.config)


# ---------------------------------------------------------------- formatting
def short_destination(dest: str) -> str:
    host, sep, port = dest.rpartition(":")
    return f"{short_service(host)}:{port}" if sep and port.isdigit() else dest


def cluster_label(cluster: str, destination: str) -> str:
    """A subset's name when the cluster belongs to the destination's service, else the cluster."""
    parts = parse_cluster_name(cluster)
    dest_host = destination.rpartition(":")[0]
    if parts["fqdn"] and parts["fqdn"] == dest_host:
        return parts["subset"] or short_service(parts["fqdn"])
    return cluster


# ---------------------------------------------------------------- one side: workloads and their traffic
@dataclass
class _RouteShares:
    clusters: dict[str, float] = field(default_factory=dict)
    endpoints: dict[tuple[str, str], float] = field(default_factory=dict)
    pods: dict[tuple[str, str], str | None] = field(default_factory=dict)
    dead: dict[tuple[str, str], float] = field(default_factory=dict)


RouteKey = tuple[str, str, str]  # destination, route, via


def workloads_of(g: MeshGraph) -> dict[str, dict[str, list[Props]]]:
    """Each workload's pods, grouped by the proxy config they carry: {workload: {config: [pod]}}."""
    out: dict[str, dict[str, list[Props]]] = {}
    for p in g.pods():
        out.setdefault(workload_key(p), {}).setdefault(p["config"], []).append(p)
    return out


class _Side:
    """One graph: its workloads, and memoised per-config traffic and resources."""

    def __init__(self, g: MeshGraph) -> None:
        self.g = g
        self.workloads = workloads_of(g)
        self._reach: dict[str, list[ReachEntry]] = {}
        self._resources: dict[str, dict[tuple[str, str], str]] = {}
        self._summary: dict[tuple[str, str], dict[str, Any]] = {}

    def reach(self, config: str) -> list[ReachEntry]:
        got = self._reach.get(config)
        if got is None:
            got = self._reach[config] = config_reach(self.g, config)
        return got

    def traffic(self, wl: str) -> dict[RouteKey, _RouteShares]:
        configs = self.workloads.get(wl, {})
        total = sum(len(p) for p in configs.values())
        out: dict[RouteKey, _RouteShares] = {}
        for config, pods in sorted(configs.items()):
            w = len(pods) / total
            counted: set[tuple[RouteKey, str]] = set()
            for e in self.reach(config):
                key = (e.destination, e.route, e.route_config or e.listener)
                rs = out.setdefault(key, _RouteShares())
                if (key, e.cluster) not in counted:
                    counted.add((key, e.cluster))
                    rs.clusters[e.cluster] = rs.clusters.get(e.cluster, 0.0) + w * e.cluster_fraction
                if e.endpoint is not None or e.endpoints_unknown:
                    # a cluster whose endpoints the dump does not show: one pseudo-endpoint, not a dead end
                    k = (e.cluster, e.endpoint or "(endpoints unknown)")
                    rs.endpoints[k] = rs.endpoints.get(k, 0.0) + w * e.share
                    rs.pods.setdefault(k, e.pod)
                else:
                    k = (e.cluster, e.flag or "?")
                    rs.dead[k] = rs.dead.get(k, 0.0) + w * e.share
        return out

    # ---- resources of a config, by (kind, name) → key
    def resources(self, config: str) -> dict[tuple[str, str], str]:
        got = self._resources.get(config)
        if got is not None:
            return got
        g = self.g
        res: dict[tuple[str, str], str] = {}
        for l in g.listeners(config):
            name = l["name"] + ("" if l["state"] in ("active", "static") else f" ({l['state']})")
            res[("listener", name)] = l["key"]
            self._summary.setdefault(("listener", l["key"]), {"props": l})
        # RDS route configs (static and inline ones are named after what holds them, and
        # several inline ones can share a name: their listeners' changes cover them)
        for rc in g.route_configs(config):
            if rc["state"] != "static" and rc["name"]:
                res[("route_config", rc["name"])] = rc["key"]
                self._summary.setdefault(("route_config", rc["key"]), {"props": rc})
        for c in g.config_clusters(config):
            name = c["name"] + ("" if c["state"] != "warming" else " (warming)")
            res[("cluster", name)] = c["key"]
            self._summary.setdefault(("cluster", c["key"]), {"props": c})
        self._resources[config] = res
        return res

    def summary(self, kind: str, key: str) -> dict[str, Any]:
        """Key properties of a resource, for the config diff (read only for changed ones)."""
        s = self._summary[(kind, key)]
        if "done" in s:
            done: dict[str, Any] = s["done"]
            return done
        p = s["props"]
        g = self.g
        out: dict[str, Any]
        if kind == "listener":
            chains = {}
            istio: dict[str, str] = {}
            for ch in self.g.chains(key):
                label = ch["name"] or ("default_filter_chain" if ch["is_default"] else f"#{ch['index']}")
                target = _chain_target(ch)
                chains[label] = target
                if ch["istio_config"]:
                    istio[label] = istio_object(ch["istio_config"])
            out = {"address": f"{p['address']}:{p['port']}", "state": p["state"], "error": p["error"] or "",
                   "bind_to_port": p["bind_to_port"], "chains": chains, "istio": istio}
        elif kind == "route_config":
            vhosts: dict[str, Any] = {}
            for vh in g.vhosts(key):
                routes = {}
                for r in g.routes(vh["key"]):
                    label = r["name"] or f"#{r['index']}"
                    routes[label] = {"match": r["match_text"] or "", "action": r["action"] or "",
                                     "clusters": [list(x) for x in jload(r["clusters"]) or []],
                                     "status": r["direct_status"] or 0,
                                     "timeout": r["timeout"] or "", "retry": jload(r["retry_policy"]),
                                     "istio": istio_object(r["istio_config"])}
                vhosts[vh["name"]] = {"domains": list(vh["domains"]), "routes": routes}
            out = {"state": p["state"], "error": p["error"] or "", "vhosts": vhosts}
        else:
            eps = sorted(f"{e['address']} {e['health'] or 'UNKNOWN'}" for e in g.endpoints(key))
            out = {"type": p["type"], "lb_policy": p["lb_policy"], "state": p["state"], "error": p["error"] or "",
                   "panic_threshold": p["panic_threshold"], "locality_weighted": p["locality_weighted"],
                   "istio_config": p["istio_config"] or "", "connect_timeout": p["connect_timeout"] or "",
                   "circuit_breakers": jload(p["circuit_breakers"]), "outlier_detection": jload(p["outlier_detection"]),
                   "endpoints": eps, "endpoints_known": p["has_endpoints_info"] or bool(eps)}
        s["done"] = out
        return out


def _chain_target(ch: Props) -> str:
    if ch["rds_name"]:
        return f"rds {ch['rds_name']}"
    if ch["terminal"] == "http":
        return "inline routes"
    if ch["terminal"] == "tcp":
        tcp = jload(ch["tcp_clusters"]) or []
        if len(tcp) == 1:
            return f"tcp {tcp[0][0]}"
        return "tcp " + ", ".join(f"{n} ({w})" for n, w in tcp)
    return str(ch["terminal"] or "other")


# ---------------------------------------------------------------- comparing traffic
def _route_changes(dest: str, a: _RouteShares | None, b: _RouteShares | None) -> tuple[str, list[ShareChange]]:
    ea = a or _RouteShares()
    eb = b or _RouteShares()
    out: list[ShareChange] = []
    for c in sorted(set(ea.clusters) | set(eb.clusters)):
        label = cluster_label(c, dest)
        x, y = ea.clusters.get(c), eb.clusters.get(c)
        if x is not None and y is not None:
            if abs(x - y) > EPS:
                out.append(ShareChange("cluster", label, c, None, x, y, f"{label} {pct(x)} → {pct(y)}"))
        elif y is not None and a is not None:
            out.append(ShareChange("cluster", label, c, None, None, y, f"new cluster {label} gets {pct(y)}"))
        elif x is not None and b is not None:
            out.append(ShareChange("cluster", label, c, None, x, None, f"cluster {label} removed (was {pct(x)})"))
    keys = set(ea.endpoints) | set(eb.endpoints)
    by_addr: dict[str, set[str]] = {}
    for c, addr in keys:
        by_addr.setdefault(addr, set()).add(c)

    def ep_label(c: str, addr: str) -> str:
        return addr if len(by_addr[addr]) == 1 else f"{addr} ({cluster_label(c, dest)})"

    changed, added, removed = [], [], []
    for k in sorted(keys, key=lambda k: (k[1], k[0])):
        c, addr = k
        x, y = ea.endpoints.get(k), eb.endpoints.get(k)
        pod = eb.pods.get(k) or ea.pods.get(k)
        label = ep_label(c, addr)
        if x is not None and y is not None:
            if abs(x - y) > EPS:
                changed.append(ShareChange("endpoint", addr, c, pod, x, y, f"{label} {pct(x)} → {pct(y)}"))
        elif y is not None:
            added.append(ShareChange("endpoint", addr, c, pod, None, y, f"new endpoint {label} gets {pct(y)}"))
        elif x is not None:
            removed.append(ShareChange("endpoint", addr, c, pod, x, None, f"endpoint {label} removed (was {pct(x)})"))
    out += changed + added + removed
    for k in sorted(set(ea.dead) | set(eb.dead)):
        c, flag = k
        label = cluster_label(c, dest)
        x, y = ea.dead.get(k), eb.dead.get(k)
        if x is not None and y is not None:
            if abs(x - y) > EPS:
                out.append(ShareChange("dead_end", flag, c, None, x, y, f"{flag} at {label} {pct(x)} → {pct(y)}"))
        elif y is not None:
            out.append(ShareChange("dead_end", flag, c, None, None, y, f"now {pct(y)} dead-ends {flag} at {label}"))
        elif x is not None:
            out.append(ShareChange("dead_end", flag, c, None, x, None,
                                   f"{flag} at {label} gone (was {pct(x)})"))
    if a is None:
        return "added", out
    if b is None:
        return "removed", out
    return "changed", out


def _summary_text(dest: str, rs: _RouteShares) -> str:
    parts = []
    for c, f in sorted(rs.clusters.items()):
        n = sum(1 for (cc, _a) in rs.endpoints if cc == c)
        dead = [flag for (cc, flag) in rs.dead if cc == c]
        tail = f" over {n} endpoint{'s' if n != 1 else ''}" if n else (f" ({', '.join(dead)})" if dead else "")
        parts.append(f"{cluster_label(c, dest)} {pct(f)}{tail}")
    return ", ".join(parts)


def _config_counts(side: _Side, wl: str) -> dict[str, int]:
    return {c: len(p) for c, p in side.workloads.get(wl, {}).items()}


def _traffic_diff(sa: _Side, sb: _Side, workloads: list[str]) -> list[TrafficChange]:
    grouped: dict[tuple[Any, ...], TrafficChange] = {}
    for wl in workloads:
        if _config_counts(sa, wl) == _config_counts(sb, wl):
            continue  # the same proxy configs, as many pods on each: the same traffic
        ta, tb = sa.traffic(wl), sb.traffic(wl)
        for key in sorted(set(ta) | set(tb)):
            dest, route, via = key
            a, b = ta.get(key), tb.get(key)
            status, changes = _route_changes(dest, a, b)
            if status == "changed" and not changes:
                continue
            if status == "added":
                text = "new route: " + _summary_text(dest, b or _RouteShares())
            elif status == "removed":
                text = "no longer routed (was: " + _summary_text(dest, a or _RouteShares()) + ")"
            else:
                text = "; ".join(c.text for c in changes)
            gk = (dest, route, via, status, text)
            got = grouped.get(gk)
            if got is None:
                grouped[gk] = TrafficChange([wl], dest, route, via, status, changes, text)
            else:
                got.sources.append(wl)
    out = list(grouped.values())
    order = {"changed": 0, "added": 1, "removed": 2}
    out.sort(key=lambda t: (t.destination, t.route, order[t.status], t.sources))
    return out


# ---------------------------------------------------------------- comparing config
def _dict_changes(a: dict[str, Any], b: dict[str, Any], skip: Iterable[str] = ()) -> list[str]:
    out = []
    for k in a:
        if k in skip or k not in b:
            continue
        if a[k] != b[k]:
            out.append(f"{k} {_v(a[k])} → {_v(b[k])}")
    return out


def _v(x: Any) -> str:
    if x is None or x == "":
        return "(none)"
    if isinstance(x, str):
        return x
    return json.dumps(x, separators=(",", ":"))


def _weights(clusters: list[list[Any]], dest: str) -> str:
    return ", ".join(f"{cluster_label(str(n), dest)} {w}" for n, w in clusters) or "(none)"


def _set_changes(label: str, a: Iterable[str], b: Iterable[str], limit: int = 8) -> list[str]:
    sa, sb = set(a), set(b)
    plus, minus = sorted(sb - sa), sorted(sa - sb)
    out = []
    for sign, items in (("+", plus), ("−", minus)):
        if items:
            shown = ", ".join(items[:limit]) + (f", … (+{len(items) - limit})" if len(items) > limit else "")
            out.append(f"{label} {sign}{shown}" if len(items) == 1 else f"{label} {sign}[{shown}]")
    return out


def _listener_details(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    out = _dict_changes(a, b, skip=("chains", "istio"))
    ca, cb = a["chains"], b["chains"]
    out += _set_changes("chain", [k for k in ca if k not in cb], [k for k in cb if k not in ca])
    out += [f"chain {k}: {ca[k]} → {cb[k]}" for k in ca if k in cb and ca[k] != cb[k]]
    return out or ["content changed"]


def _rc_details(a: dict[str, Any], b: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    out = _dict_changes(a, b, skip=("vhosts",))
    va, vb = a["vhosts"], b["vhosts"]
    services: set[str] = set()
    istio: set[str] = set()
    for name in sorted(set(va) | set(vb)):
        fq = name.rpartition(":")[0]
        if name not in vb:
            out.append(f"vhost {name} removed")
        elif name not in va:
            out.append(f"vhost {name} added")
        else:
            x, y = va[name], vb[name]
            d = _set_changes(f"vhost {name}: domain", x["domains"], y["domains"])
            for r in sorted(set(x["routes"]) | set(y["routes"])):
                before = len(d)
                if r not in y["routes"]:
                    d.append(f"vhost {name}: route {r} removed")
                elif r not in x["routes"]:
                    d.append(f"vhost {name}: route {r} added ({y['routes'][r]['match']})")
                else:
                    rx, ry = x["routes"][r], y["routes"][r]
                    if rx["clusters"] != ry["clusters"]:
                        same = [n for n, _w in rx["clusters"]] == [n for n, _w in ry["clusters"]]
                        what = "weights" if same else "clusters"
                        d.append(f"route {r}: {what} {_weights(rx['clusters'], name)} → {_weights(ry['clusters'], name)}")
                    for k in ("match", "action", "status", "timeout", "retry", "istio"):
                        if rx[k] != ry[k]:
                            d.append(f"route {r}: {k} {_v(rx[k])} → {_v(ry[k])}")
                if len(d) > before:
                    istio |= {rt["istio"] for side in (x, y) if (rt := side["routes"].get(r)) and rt["istio"]}
            if not d:
                continue
            out += d
        if fq:
            services.add(fq)
    return out or ["content changed"], sorted(services), sorted(istio)


def _cluster_details(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    out = _dict_changes(a, b, skip=("endpoints", "endpoints_known"))
    ea = {s.split(" ")[0]: s.split(" ")[1] for s in a["endpoints"]}
    eb = {s.split(" ")[0]: s.split(" ")[1] for s in b["endpoints"]}
    if a["endpoints_known"] and b["endpoints_known"]:
        out += _set_changes("endpoints", [k for k in ea if k not in eb], [k for k in eb if k not in ea])
        out += [f"endpoint {k} {ea[k]} → {eb[k]}" for k in sorted(ea) if k in eb and ea[k] != eb[k]]
    elif a["endpoints_known"] != b["endpoints_known"]:
        out.append("endpoints " + ("now unknown (dump without EDS)" if a["endpoints_known"] else "now known"))
    return out or ["content changed"]


def _config_diff(sa: _Side, sb: _Side, workloads: list[str]) -> list[ConfigChange]:
    grouped: dict[tuple[Any, ...], ConfigChange] = {}

    def add(wl: str, kind: str, name: str, change: str, details: list[str], services: list[str],
            istio: list[str] | None = None) -> None:
        text = (f"{kind.replace('_', ' ')} {name}" + (f" ({', '.join(istio)})" if istio else "") + f" {change}"
                + (": " + "; ".join(details) if details else ""))
        gk = (kind, name, change, tuple(details))
        got = grouped.get(gk)
        if got is None:
            grouped[gk] = ConfigChange([wl], kind, name, change, details, text, services, list(istio or []))
        else:
            got.sources.append(wl)

    for wl in workloads:
        ca, cb = sa.workloads.get(wl), sb.workloads.get(wl)
        if ca is None or cb is None:
            side = cb if ca is None else ca
            n = sum(len(p) for p in (side or {}).values())
            add(wl, "workload", wl, "added" if ca is None else "removed", [f"{n} pod{'s' if n != 1 else ''}"], [])
            continue
        pa = {p["id"] for ps in ca.values() for p in ps}
        pb = {p["id"] for ps in cb.values() for p in ps}
        for pid in sorted(pa - pb):
            add(wl, "pod", pid, "removed", [], [])
        for pid in sorted(pb - pa):
            add(wl, "pod", pid, "added", [], [])
        if set(ca) == set(cb):
            continue  # the same proxy configs: nothing in them changed
        ra = _union(sa, ca)
        rb = _union(sb, cb)
        for rk in sorted(set(ra) | set(rb)):
            kind, name = rk
            ka, kb = ra.get(rk, set()), rb.get(rk, set())
            if ka == kb:
                continue
            fqdn = parse_cluster_name(name)["fqdn"] if kind == "cluster" else ""
            services = [fqdn] if fqdn else []
            if not ka:
                add(wl, kind, name, "added", [], services)
                continue
            if not kb:
                add(wl, kind, name, "removed", [], services)
                continue
            if len(ka) != 1 or len(kb) != 1:
                add(wl, kind, name, "changed", ["differs between the workload's proxies"], services)
                continue
            xa, xb = sa.summary(kind, next(iter(ka))), sb.summary(kind, next(iter(kb)))
            istio: list[str] = []
            if kind == "listener":
                details = _listener_details(xa, xb)
                istio = sorted({v for x in (xa, xb) for k, v in x["istio"].items()
                                if xa["chains"].get(k) != xb["chains"].get(k)})
            elif kind == "route_config":
                details, services, istio = _rc_details(xa, xb)
            else:
                details = _cluster_details(xa, xb)
                istio = sorted({istio_object(x["istio_config"]) for x in (xa, xb) if x["istio_config"]})
            add(wl, kind, name, "changed", details, services, istio)
    out = list(grouped.values())
    order = {"workload": 0, "pod": 1, "listener": 2, "route_config": 3, "cluster": 4}
    out.sort(key=lambda c: (order.get(c.kind, 9), c.name, c.change, c.sources))
    return out


def _union(side: _Side, configs: dict[str, list[Props]]) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for c in configs:
        for rk, key in side.resources(c).items():
            out.setdefault(rk, set()).add(key)
    return out


# ---------------------------------------------------------------- filters
def _source_matcher(src: str | None, sides: Iterable[_Side]) -> Callable[[str], bool]:
    if not src:
        return lambda wl: True
    hits: set[str] = set()
    for s in sides:
        for wl, configs in s.workloads.items():
            pods = [p for ps in configs.values() for p in ps]
            if (src == wl or wl.rsplit("/", 1)[-1] == src
                    or any(src in (p["id"], p["name"], p["app"]) or p["name"].startswith(src) for p in pods)):
                hits.add(wl)
    return lambda wl: wl in hits


def _split_hostport(s: str) -> tuple[str, int | None]:
    host, sep, port = s.rpartition(":")
    if sep and port.isdigit() and host.count(":") == 0:
        return host, int(port)
    return s, None


def _dest_host_ok(dst: str) -> tuple[Callable[[str], bool], int | None]:
    """DST (``name``, ``name.ns``, an FQDN, with an optional ``:port``) as a test on service hosts."""
    host, port = _split_hostport(dst.lower())

    def host_ok(fqdn: str) -> bool:
        return fqdn == host or fqdn.startswith(host + ".")

    return host_ok, port


def _dest_matcher(dst: str | None) -> tuple[Callable[[TrafficChange], bool], Callable[[ConfigChange], bool]]:
    if not dst:
        return (lambda t: True), (lambda c: True)
    host, port = _split_hostport(dst.lower())
    host_ok = _dest_host_ok(dst)[0]

    if is_ip(host):
        def t_ip(t: TrafficChange) -> bool:
            return any(_split_hostport(c.name) == (host, port) or (port is None and c.name.rpartition(":")[0] == host)
                       for c in t.changes if c.what == "endpoint")
        return t_ip, (lambda c: False)

    def t_ok(t: TrafficChange) -> bool:
        fq, _, p = t.destination.rpartition(":")
        return host_ok(fq) and (port is None or p == str(port))

    def c_ok(c: ConfigChange) -> bool:
        return any(host_ok(s) for s in c.services)

    return t_ok, c_ok


# ---------------------------------------------------------------- entry point
def diff(a: MeshGraph, b: MeshGraph, src: str | None = None, dst: str | None = None,
         a_name: str = "A", b_name: str = "B") -> DiffResult:
    """Traffic and config changes from graph ``a`` to graph ``b`` (SRC: source workloads; DST: destinations)."""
    sa, sb = _Side(a), _Side(b)
    keep = _source_matcher(src, (sa, sb))
    workloads = sorted(w for w in set(sa.workloads) | set(sb.workloads) if keep(w))
    t_ok, c_ok = _dest_matcher(dst)
    traffic = [t for t in _traffic_diff(sa, sb, [w for w in workloads if w in sa.workloads and w in sb.workloads])
               if t_ok(t)]
    config = [c for c in _config_diff(sa, sb, workloads) if c_ok(c)]
    return DiffResult(a_name, b_name, src, dst, traffic, config)
