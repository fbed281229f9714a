"""The walk a request takes through one proxy config, shared by path, reach and blast.

Backend-neutral: it calls :class:`~topo.stores.hops.MeshGraph` hops and applies
:mod:`topo.queries.envoy`'s rules. Section numbers refer to ``ENVOY-SEMANTICS.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from topo.model.names import istio_object, service_objects
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
    flag: str | None  # a dead end at this cluster: NC, UH, BlackHole, PassthroughCluster
    endpoints: list[EndpointShare] = field(default_factory=list)
    # the cluster is there and its share is right, but the dump does not show its endpoints
    # (taken without EDS): where inside the cluster the requests go is unknown, not a dead end
    endpoints_unknown: bool = False
    istio: list[str] = field(default_factory=list)  # DestinationRule, Service / ServiceEntry behind it
    settings: dict[str, Any] | None = None  # connect timeout, circuit breakers, outlier detection, locality LB


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
    istio: list[str] = field(default_factory=list)  # the Istio objects behind it: "VirtualService ns/name", …
    settings: dict[str, Any] | None = None  # a route's timeout and retry policy (envoy.route_settings)


def cluster_istio(cl: Props) -> list[str]:
    """The Istio objects behind a cluster: its DestinationRule, then its Service or ServiceEntry."""
    out = [istio_object(cl["istio_config"])] if cl.get("istio_config") else []
    return out + service_objects(jload(cl.get("istio_services")))


def chain_istio(chain: Props, istio_proxy: bool) -> list[str]:
    """The chain's istio.config (a VirtualService tcp/tls route, a Sidecar), and, on an Istio proxy,
    the EnvoyFilter that filters Istio never generates show (§4)."""
    out = [istio_object(chain["istio_config"])] if chain.get("istio_config") else []
    foreign = chain.get("foreign_filters") or []
    if foreign and istio_proxy:
        out.append(f"EnvoyFilter (adds {', '.join(foreign)})")
    return out


@dataclass
class Mirror:
    """A route's request_mirror_policies entry: a fire-and-forget copy (§6 "Mirrors")."""

    cluster: str
    fraction: float  # of the route's forwarded requests that are copied
    share: float  # copies, as a fraction of the question's requests: shadow traffic, not part of the 100 %
    exists: bool  # the cluster is in the proxy's config (else the copy is dropped)


@dataclass
class Fault:
    """The fault filter's config for a route (envoy.filters.http.fault): an abort takes its
    share before the router (a dead end ``FI``); a delay only slows requests down."""

    kind: str  # abort or delay
    percent: float  # of the requests it applies to
    share: float  # of the question's requests it hits
    http_status: int | None = None
    grpc_status: int | None = None
    duration: str = ""  # delay
    header: bool = False  # the request's x-envoy-fault-* headers decide (header_abort / header_delay)
    cluster: str = ""  # only requests to this upstream cluster


@dataclass
class Unsupported:
    """Requests that reach a filter topo does not follow (Redis, Dubbo, Kafka, a Cilium filter…):
    not a dead end; what happens next is not in the model."""

    filter: str
    share: float
    listener: str
    chain: str


@dataclass
class Split:
    """Where the requests of one route action (or tcp_proxy) end up."""

    clusters: list[ClusterShare]
    dead_ends: list[DeadEnd]
    mirrors: list[Mirror] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    unsupported: list[Unsupported] = field(default_factory=list)


def _by_port(listeners: list[Props]) -> dict[int, list[Props]]:
    out: dict[int, list[Props]] = {}
    for l in listeners:
        out.setdefault(l["port"], []).append(l)
    return out


def _chain_label(ch: Props) -> str:
    if ch["name"]:
        return str(ch["name"])
    return "default_filter_chain" if ch["is_default"] else f"#{ch['index']}"


def describe_fault(f: Fault) -> str:
    """``abort 30% (503)``, ``delay 2s 100%``, as the path hop shows it."""
    by = " if the request's x-envoy-fault headers say so" if f.header else ""
    to = f" to {f.cluster}" if f.cluster else ""
    pct_ = f"{f.percent:g}%"
    if f.kind == "abort":
        code = f"gRPC {f.grpc_status}" if f.grpc_status is not None else str(f.http_status or "")
        return f"fault: abort {pct_}{f' ({code})' if code else ''}{to}{by}"
    return f"fault: delay {f.duration or '?'} {pct_}{to}{by}"


def _fault_applies(fault: dict[str, Any], req: Request | None) -> bool:
    """The fault filter's own conditions: its header matchers and downstream nodes (a question
    without a request, such as reach, cannot meet them)."""
    if fault.get("headers") or fault.get("downstream_nodes"):
        if req is None:
            return False
        hdrs = {k.lower(): v for k, v in req.headers.items()}
        if not all(envoy.header_matches(h, hdrs) for h in fault.get("headers") or []):
            return False
        nodes = fault.get("downstream_nodes") or []
        if nodes and hdrs.get("x-envoy-downstream-service-node") not in nodes:
            return False
    return True


def _apply_fault(split: Split, fault: dict[str, Any], req: Request | None) -> None:
    """An abort of p % takes p of the requests (of those to ``upstream_cluster`` when set) before
    the router: a dead end ``FI``; the rest keep their split (§6, envoy.filters.http.fault)."""
    only = str(fault.get("upstream_cluster") or "")
    ab = fault.get("abort")
    if isinstance(ab, dict):
        p = float(ab.get("percent") or 0.0) / 100.0
        if ab.get("header"):  # header_abort: only requests that carry the abort header
            p = p if req is not None and "x-envoy-fault-abort-request" in req.headers else 0.0
        hit = 0.0
        if p > 0:
            for c in split.clusters:
                if only and c.name != only:
                    continue
                hit += c.share * p
                c.share *= 1 - p
                for e in c.endpoints:
                    e.share *= 1 - p
            for d in split.dead_ends:
                if not only or d.object == only:
                    if not only and not split.clusters:
                        hit += d.share * p
                    d.share *= 1 - p
            if hit > 0:
                split.dead_ends.append(DeadEnd("FI", hit, f"fault injection aborts {p * 100:g}% of the requests"
                                               + (f" to {only}" if only else "")
                                               + (f" with {ab['http_status']}" if ab.get("http_status") else ""),
                                               only))
        split.faults.append(Fault("abort", float(ab.get("percent") or 0.0), hit, ab.get("http_status"), ab.get("grpc_status"),
                                  header=bool(ab.get("header")), cluster=only))
    dl = fault.get("delay")
    if isinstance(dl, dict):
        p = float(dl.get("percent") or 0.0) / 100.0
        if dl.get("header"):
            p = p if req is not None and "x-envoy-fault-delay-request" in req.headers else 0.0
        base = sum(c.share for c in split.clusters if not only or c.name == only) if split.clusters else 1.0
        split.faults.append(Fault("delay", float(dl.get("percent") or 0.0), base * p, duration=str(dl.get("duration") or ""),
                                  header=bool(dl.get("header")), cluster=only))


class Walker:
    """``details``: also name each hop's and cluster's Istio objects and settings (path, search);
    the walks of reach, blast and check leave them out."""

    def __init__(self, g: MeshGraph, config: str, failed: frozenset[str] = frozenset(), *,
                 details: bool = False, istio_proxy: bool = True,
                 relocate: Callable[[Props, list[Props]], list[Props]] | None = None) -> None:
        self.g = g
        self.config = config
        self.failed = failed
        self.relocate = relocate
        self.details = details
        self.istio_proxy = istio_proxy
        self._pods_by_ip: dict[str, list[str]] | None = None

    def pods_by_ip(self) -> dict[str, list[str]]:
        if self._pods_by_ip is None:
            m: dict[str, list[str]] = {}
            for p in self.g.pods():
                for ip in p["ips"] or []:
                    m.setdefault(ip, []).append(p["id"])
            self._pods_by_ip = m
        return self._pods_by_ip

    def _endpoints(self, cl: Props) -> list[Props]:
        eps = self.g.endpoints(cl["key"])
        return self.relocate(cl, eps) if self.relocate is not None else eps

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
            if self.details and cl is not None:
                cs.istio = cluster_istio(cl)
                cs.settings = envoy.cluster_settings(cl, self._endpoints(cl))
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
            eps = self._endpoints(cl)
            if not eps and not cl["has_endpoints_info"]:
                cs.endpoints_unknown = True  # the dump was taken without EDS: not a dead end
                continue
            if self.failed and envoy.keeps_failed_hosts(cl):
                shares = envoy.endpoint_shares(cl, eps, unhealthy=self.failed)
            else:
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
                        "default_filter_chain" if chain["is_default"] else "",
                        istio=chain_istio(chain, self.istio_proxy) if self.details else []))
        odst = (req.ip, req.port)
        if chain["terminal"] == "tcp":
            return hops, self.split("TCP_TO", chain["key"], jload(chain["tcp_clusters"]) or [], 1.0, odst)
        if chain["terminal"] != "http" or chain["unsupported"]:
            what = chain["unsupported"] or "a chain without filters"
            return hops, Split([], [], unsupported=[Unsupported(what, 1.0, target["name"], _chain_label(chain))])
        rc = self.g.route_config(chain["key"], self.config)
        if rc is None:
            return hops, Split([], [DeadEnd("NR", 1.0, f"route config {chain['rds_name']!r} is missing "
                                            "(the listener stays warming)", chain["rds_name"])])
        hops.append(Hop("route_config", rc["name"] or "(inline)"))
        vhosts = self.g.vhosts(rc["key"])
        if not vhosts:
            return hops, Split([], [DeadEnd("NR", 1.0, f"route config {rc['name'] or '(inline)'} has no virtual "
                                            "hosts: every request gets 404", rc["name"])])
        vh = envoy.select_vhost(vhosts, req.host, bool(rc["ignore_port_in_host_matching"]))
        if vh is None:
            return hops, Split([], [DeadEnd("NR", 1.0, f"no virtual host matches Host {req.host!r}", rc["name"])])
        hops.append(Hop("virtual_host", vh["name"], f"Host {req.host}",
                        istio=[istio_object(c) for c in vh["istio_configs"] or []] if self.details else []))
        route = envoy.select_route(self.g.routes(vh["key"]), req)
        if route is None:
            return hops, Split([], [DeadEnd("NR", 1.0, f"no route in {vh['name']} matches {req.method} {req.path}",
                                            vh["name"])])
        split = self.action(route, req, odst, chain["http_filters"])
        detail = "; ".join(x for x in [route["match_text"] or "", *(describe_fault(f) for f in split.faults)] if x)
        hops.append(Hop("route", route["name"] or f"#{route['index']}", detail,
                        istio=[istio_object(route["istio_config"])] if self.details and route["istio_config"] else [],
                        settings=envoy.route_settings(route) or None if self.details else None))
        return hops, split

    def action(self, route: Props, req: Request | None, odst: tuple[str | None, int] | None,
               http_filters: list[str] | None = None) -> Split:
        """Where a route sends requests: its fault filter config first (an abort is a dead end
        ``FI`` before the router), then its clusters, and the copies its mirror policies make."""
        split = self._forward(route, req, odst)
        fault = jload(route["fault"]) if (http_filters is None or any("fault" in f for f in http_filters)) else None
        if isinstance(fault, dict) and _fault_applies(fault, req):
            _apply_fault(split, fault, req)
        mirrors = jload(route["mirrors"]) or []
        if mirrors and route["action"] == "route":
            forwarded = 1.0 - sum(f.share for f in split.faults if f.kind == "abort")
            targets = self.g.targets("MIRRORS_TO", route["key"], self.config)
            for name, frac in mirrors:
                split.mirrors.append(Mirror(name, float(frac), forwarded * float(frac), name in targets))
        return split

    def _forward(self, route: Props, req: Request | None, odst: tuple[str | None, int] | None) -> Split:
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

        w = Walker(One(), self.config, self.failed, details=self.details, istio_proxy=self.istio_proxy,
                   relocate=self.relocate)
        return w.split("ROUTES_TO", "", [[cl["name"], 1]], base, odst)
