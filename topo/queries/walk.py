"""The walk a request takes through one proxy config, shared by path, reach and blast.

Backend-neutral: it calls :class:`~topo.stores.hops.MeshGraph` hops and applies
:mod:`topo.queries.envoy`'s rules. Section numbers refer to ``ENVOY-SEMANTICS.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from topo.model.rows import jload
from topo.queries import envoy
from topo.queries.envoy import Request
from topo.stores.hops import MeshGraph, Props

PASSTHROUGH = ("PassthroughCluster", "InboundPassthroughCluster", "InboundPassthroughClusterIpv4",
               "InboundPassthroughClusterIpv6")
BLACKHOLE = "BlackHoleCluster"


@dataclass
class EndpointShare:
    address: str
    share: float
    cluster: str
    pod: str | None
    health: str
    priority: int
    locality: str
    weight: int


@dataclass
class ClusterShare:
    name: str
    weight: int  # the raw route weight (1 for a single cluster)
    fraction: float  # weight / Σ weights of the action
    share: float  # fraction of the question's requests that pick this cluster
    exists: bool
    flag: str | None  # a dead end at this cluster: NC, UH, BlackHole, PassthroughCluster, NOEDS
    endpoints: list[EndpointShare] = field(default_factory=list)


@dataclass
class DeadEnd:
    flag: str
    share: float
    reason: str
    object: str


@dataclass
class Hop:
    kind: str
    name: str
    detail: str = ""


@dataclass
class Split:
    """Where the requests of one route action (or tcp_proxy) end up."""

    clusters: list[ClusterShare]
    dead_ends: list[DeadEnd]


def _by_port(listeners: list[Props]) -> dict[int, list[Props]]:
    out: dict[int, list[Props]] = {}
    for l in listeners:
        out.setdefault(l["port"], []).append(l)
    return out


class Walker:
    def __init__(self, g: MeshGraph, config: str, failed: frozenset[str] = frozenset()) -> None:
        self.g = g
        self.config = config
        self.failed = failed
        self._pods_by_ip: dict[str, list[str]] | None = None

    def pods_by_ip(self) -> dict[str, list[str]]:
        if self._pods_by_ip is None:
            m: dict[str, list[str]] = {}
            for p in self.g.pods():
                for ip in p["ips"] or []:
                    m.setdefault(ip, []).append(p["id"])
            self._pods_by_ip = m
        return self._pods_by_ip

    # ---- §6–§8: an action's clusters → endpoints and shares
    def split(self, rel: str, src_key: str, entries: Sequence[Sequence[Any]], base: float,
              original_dst: tuple[str | None, int] | None = None) -> Split:
        targets = self.g.targets(rel, src_key, self.config)
        out = Split([], [])
        fractions = envoy.weighted_fractions(entries)
        if entries and not any(w for _n, w, _f in fractions):
            out.dead_ends.append(DeadEnd("NC", base, "weighted clusters whose weights sum to 0", src_key))
            return out
        for name, w, frac in fractions:
            if frac == 0:
                continue
            share = base * frac
            cl = targets.get(name)
            cs = ClusterShare(name=name, weight=w, fraction=frac, share=share, exists=cl is not None, flag=None)
            out.clusters.append(cs)
            if cl is None:
                # §9 NC: a route or tcp_proxy names a cluster that is not active
                cs.flag = "NC"
                out.dead_ends.append(DeadEnd("NC", share, f"cluster {name} is not in the proxy's config", name))
                continue
            if name == BLACKHOLE:
                cs.flag = "BlackHole"
                out.dead_ends.append(DeadEnd("BlackHole", share, "BlackHoleCluster has no endpoints (503 UH)", name))
                continue
            if cl["type"] == "ORIGINAL_DST":
                if name in PASSTHROUGH or original_dst is None or not original_dst[0]:
                    cs.flag = "PassthroughCluster"
                    out.dead_ends.append(DeadEnd("PassthroughCluster", share,
                                                 "leaves the mesh to the original destination", name))
                    continue
                ip, port = original_dst
                addr = f"{ip}:{port}"
                pods = self.pods_by_ip().get(ip or "", [])
                cs.endpoints.append(EndpointShare(addr, share, name, pods[0] if pods else None, "UNKNOWN", 0, "", 1))
                continue
            eps = self.g.endpoints(cl["key"])
            if not eps and not cl["has_endpoints_info"]:
                cs.flag = "NOEDS"
                out.dead_ends.append(DeadEnd("NOEDS", share, "endpoints unknown: the dump has no EDS section", name))
                continue
            shares = envoy.endpoint_shares(cl, eps, self.failed)
            if not shares:
                # §9 UH: no usable host (empty EDS, or all unhealthy with panic disabled)
                cs.flag = "UH"
                why = "no endpoints" if not eps else "no healthy endpoint"
                out.dead_ends.append(DeadEnd("UH", share, f"{why} in {name}", name))
                continue
            on_pods = self.g.endpoint_pods(shares.keys())
            for e in eps:
                s = shares.get(e["key"])
                if s:
                    p = on_pods.get(e["key"])
                    cs.endpoints.append(EndpointShare(
                        e["address"], share * s, name, p[0] if p else None,
                        e["health"],
                        e["priority"] or 0, e["locality"] or "", e["weight"] or 1))
            cs.endpoints.sort(key=lambda x: (-x.share, x.address))
        return out

    # ---- §2–§6: one request, from the listener to the route action
    def request(self, req: Request) -> tuple[list[Hop], Split]:
        hops: list[Hop] = []
        listeners = self.g.listeners(self.config)
        vo = self.g.memo(("virtual_outbound", self.config), lambda: envoy.virtual_outbound(listeners))
        by_port = self.g.memo(("listeners_by_port", self.config), lambda: _by_port(listeners))
        target = envoy.handoff_listener(by_port.get(req.port, []), req.ip, req.port)
        if vo is not None:
            hops.append(Hop("listener", vo["name"], f"{vo['address']}:{vo['port']} use_original_dst"))
        if target is None:
            target = vo
        elif vo is not None:
            hops.append(Hop("handoff", target["name"], f"{target['address']}:{target['port']}"))
        else:
            hops.append(Hop("listener", target["name"], f"{target['address']}:{target['port']}"))
        if target is None:
            return hops, Split([], [DeadEnd("NR", 1.0, f"no listener for {req.ip or '*'}:{req.port}", "")])
        chain = envoy.select_chain(self.g.chains(target["key"]), req, target)
        if chain is None:
            return hops, Split([], [DeadEnd("NR", 1.0, "filter_chain_not_found: no chain matches and no default chain",
                                            target["name"])])
        hops.append(Hop("filter_chain", chain["name"] or f"#{chain['index']}",
                        "default_filter_chain" if chain["is_default"] else ""))
        odst = (req.ip, req.port)
        if chain["terminal"] == "tcp":
            return hops, self.split("TCP_TO", chain["key"], jload(chain["tcp_clusters"]) or [], 1.0, odst)
        if chain["terminal"] != "http":
            return hops, Split([], [DeadEnd("NR", 1.0, "the chain has no HTTP connection manager or tcp_proxy",
                                            chain["name"])])
        rc = self.g.route_config(chain["key"], self.config)
        if rc is None:
            return hops, Split([], [DeadEnd("NR", 1.0, f"route config {chain['rds_name']!r} is missing "
                                            "(the listener stays warming)", chain["rds_name"])])
        hops.append(Hop("route_config", rc["name"] or "(inline)"))
        vh = envoy.select_vhost(self.g.vhosts(rc["key"]), req.host, bool(rc["ignore_port_in_host_matching"]))
        if vh is None:
            return hops, Split([], [DeadEnd("NR", 1.0, f"no virtual host matches Host {req.host!r}", rc["name"])])
        hops.append(Hop("virtual_host", vh["name"], f"Host {req.host}"))
        route = envoy.select_route(self.g.routes(vh["key"]), req)
        if route is None:
            return hops, Split([], [DeadEnd("NR", 1.0, f"no route in {vh['name']} matches {req.method} {req.path}",
                                            vh["name"])])
        hops.append(Hop("route", route["name"] or f"#{route['index']}", route["match_text"] or ""))
        return hops, self.action(route, req, odst)

    def action(self, route: Props, req: Request | None, odst: tuple[str | None, int] | None) -> Split:
        a = route["action"]
        if a == "route":
            if route["cluster_header"]:
                hv = req.headers.get(route["cluster_header"].lower()) if req else None
                if not hv:
                    return Split([], [DeadEnd("NC", 1.0, f"cluster_header {route['cluster_header']} is missing",
                                              route["name"] or "")])
                byname = {c["name"]: c for c in self.g.config_clusters(self.config)}
                if hv not in byname:
                    return Split([], [DeadEnd("NC", 1.0, f"cluster {hv} (from a header) is not in the config", hv)])
                return self.split_named(byname[hv], 1.0, odst)
            return self.split("ROUTES_TO", route["key"], jload(route["clusters"]) or [], 1.0, odst)
        if a == "direct_response":
            flag = "BlackHole" if route["direct_status"] == 502 and route["name"] == "block_all" else "direct_response"
            return Split([], [DeadEnd(flag, 1.0, f"direct_response {route['direct_status']}", route["name"] or "")])
        return Split([], [DeadEnd(a or "NR", 1.0, f"route action {a or 'none'} does not forward", route["name"] or "")])

    def split_named(self, cl: Props, base: float, odst: tuple[str | None, int] | None) -> Split:
        # A cluster picked by name at request time (cluster_header): reuse split() on a synthetic target.
        g = self.g

        class One:
            backend = g.backend

            def __getattr__(self, item: str) -> Any:
                return getattr(g, item)

            def targets(self, rel: str, src_key: str, config: str) -> dict[str, Props]:
                return {cl["name"]: cl}

        w = Walker(One(), self.config, self.failed)
        return w.split("ROUTES_TO", "", [[cl["name"], 1]], base, odst)
