"""``topo reach SRC`` and ``topo reach --to DST``.

``reach`` lists every (destination, route) that SRC's proxy routes to, with each cluster,
endpoint, destination pod and the endpoint's share of that route's requests.
``reach --to`` is its exact inverse: every source whose reach has an entry landing on DST
(a service, a cluster name, a pod or an IP). The reverse step, from DST back to the routes,
listeners and proxy configs that can lead to it, is a reverse traversal of the graph
(:meth:`~topo.stores.hops.MeshGraph.upstream`: networkx in-edges, or Cypher in ``topo.stores.neo4jgraph``);
the shares come from the same forward walk, restricted to what the reverse step found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from topo.errors import TopoError
from topo.model.names import parse_cluster_name
from topo.model.rows import jload
from topo.queries.resolve import resolve_source, split_hostport
from topo.queries.walk import BLACKHOLE, PASSTHROUGH, Split, Walker
from topo.stores.hops import MeshGraph, Props, Upstream
from topo.util import is_ip

INBOUND_PORTS = (15006, 15090, 15021, 15000, 15020)
FAULT = "(fault injection)"  # the cluster column of the requests a route's fault filter aborts


@dataclass(frozen=True)
class ReachEntry:
    destination: str  # "fqdn:port" (vhost name) or the tcp cluster's host:port
    service: str
    port: int
    listener: str
    route_config: str
    vhost: str
    route: str
    match: str
    cluster: str
    cluster_fraction: float
    endpoint: str | None  # "IP:port"; None for a dead end
    pod: str | None
    share: float  # of this (destination, route)'s requests
    flag: str | None
    # the cluster's endpoints are not in the dump (taken without EDS): endpoint None, not a dead end
    endpoints_unknown: bool = False

    @property
    def service_host(self) -> str:
        """The service this entry is about: the vhost's or tcp cluster's host."""
        return self.service or self.destination.rpartition(":")[0] or self.destination


@dataclass
class ReachAnswer:
    pods: list[str]
    config: str
    entries: list[ReachEntry]


@dataclass
class ReachResult:
    source: str
    answers: list[ReachAnswer]


@dataclass
class ReachToRow:
    pods: list[str]
    config: str
    destination: str
    route: str
    cluster: str
    endpoint: str | None
    pod: str | None
    share: float


@dataclass
class ReachToResult:
    target: str
    kind: str
    rows: list[ReachToRow] = field(default_factory=list)


def _outbound_listeners(listeners: list[Props], only: Upstream | None = None) -> list[Props]:
    cands = listeners if only is None else [l for l in listeners if l["key"] in only.listeners]
    has_vo = None
    out = []
    for l in cands:
        if l["state"] not in ("active", "static") or l["use_original_dst"] or not l["port"]:
            continue
        if l["direction"] == "INBOUND" or l["port"] in INBOUND_PORTS or l["name"] == "virtualInbound":
            continue
        if l["bind_to_port"] is not False:
            if has_vo is None:
                has_vo = any(x["use_original_dst"] for x in listeners)
            if has_vo:
                continue
        out.append(l)
    return out


def _entries(split: Split, base: dict[str, Any]) -> list[ReachEntry]:
    rows = []
    for c in split.clusters:
        if c.name in PASSTHROUGH or c.name == BLACKHOLE:
            continue
        if c.flag or c.endpoints_unknown:
            rows.append(ReachEntry(**base, cluster=c.name, cluster_fraction=c.fraction, endpoint=None, pod=None,
                                   share=c.share, flag=c.flag, endpoints_unknown=c.endpoints_unknown))
        for e in c.endpoints:
            rows.append(ReachEntry(**base, cluster=c.name, cluster_fraction=c.fraction, endpoint=e.address,
                                   pod=e.pod, share=e.share, flag=None))
    for d in split.dead_ends:
        if d.flag == "FI":  # fault injection aborts a share of the route's requests before any cluster
            rows.append(ReachEntry(**base, cluster=FAULT, cluster_fraction=0.0, endpoint=None, pod=None,
                                   share=d.share, flag="FI"))
    return rows


def config_reach(g: MeshGraph, config: str, failed: frozenset[str] = frozenset(),
                 only: Upstream | None = None) -> list[ReachEntry]:
    """Everything one proxy config routes to (the forward walk of every outbound route).

    With ``only`` (from :meth:`MeshGraph.upstream`), the walk skips every listener, chain,
    route config and route that cannot lead to the clusters ``only`` was built from; the
    entries of the routes it keeps are the same as in the full walk."""
    w = Walker(g, config, failed)
    seen: set[tuple[str, str]] = set()
    rows: list[ReachEntry] = []
    for l in _outbound_listeners(g.listeners(config), only):
        for ch in g.chains(l["key"]):
            if only is not None and ch["key"] not in only.chains:
                continue
            if ch["terminal"] == "tcp":
                tcp = jload(ch["tcp_clusters"]) or []
                if ("tcp", ch["key"]) in seen:
                    continue
                seen.add(("tcp", ch["key"]))
                names = [n for n, _w in tcp if n not in PASSTHROUGH and n != BLACKHOLE]
                if not names:
                    continue
                fq = next((n.split("|")[3] for n in names if n.count("|") == 3), names[0])
                base = {"destination": f"{fq}:{l['port']}", "service": fq if "." in fq else "", "port": l["port"],
                        "listener": l["name"], "route_config": "", "vhost": "", "route": "(tcp)", "match": ""}
                ip = l["address"] if l["address"] not in ("0.0.0.0", "::") else None
                rows += _entries(w.split("TCP_TO", ch["key"], tcp, 1.0, (ip, l["port"])), base)
            elif ch["terminal"] == "http":
                rc = g.route_config(ch["key"], config)
                if rc is None or (only is not None and rc["key"] not in only.route_configs):
                    continue
                for vh in g.vhosts(rc["key"]):
                    name = vh["name"]
                    fq, _, p = name.rpartition(":")
                    if not p.isdigit():
                        fq, p = name, str(l["port"])
                    for r in g.routes(vh["key"]):
                        if ("r", r["key"]) in seen:
                            continue
                        seen.add(("r", r["key"]))
                        if only is not None and r["key"] not in only.routes:
                            continue
                        base = {"destination": f"{fq}:{p}", "service": fq if "." in fq else "", "port": int(p),
                                "listener": l["name"], "route_config": rc["name"], "vhost": name,
                                "route": r["name"] or f"#{r['index']}", "match": r["match_text"] or ""}
                        if r["action"] != "route":
                            continue
                        rows += _entries(w.action(r, None, None, ch["http_filters"]), base)
    rows.sort(key=lambda e: (e.destination, e.route, e.cluster, e.endpoint or "", e.listener))
    return rows


def reach(g: MeshGraph, src: str, namespace: str | None = None) -> ReachResult:
    return ReachResult(src, [ReachAnswer(grp.pods, grp.config, config_reach(g, grp.config))
                             for grp in resolve_source(g, src, namespace)])


# ---------------------------------------------------------------- reach --to
@dataclass
class Target:
    """What DST names, as a predicate on reach entries plus the clusters that can lead there."""

    text: str
    kind: str  # service, cluster, pod, ip
    value: str
    port: int | None
    endpoint_keys: list[str]
    cluster_keys: list[str]
    # listeners on the target's own IPs: tcp_proxy to ORIGINAL_DST lands there (headless services)
    listener_keys: list[str] = field(default_factory=list)

    def matches(self, e: ReachEntry) -> bool:
        # an entry reaches its cluster's endpoints when one is named, or when the dump shows none
        # (no EDS): the cluster leads to the service, where inside it is unknown
        reaches = e.endpoint is not None or e.endpoints_unknown
        if self.kind == "service":
            # traffic that lands on the service's own clusters, whatever vhost sent it there
            parts = parse_cluster_name(e.cluster)
            return (parts["fqdn"] == self.value and (self.port is None or parts["port"] == self.port)
                    and reaches)
        if self.kind == "cluster":
            return e.cluster == self.value and reaches
        if self.kind == "pod":
            return e.pod == self.value
        if self.kind == "ip":
            if e.endpoint is None:
                return False
            ip, _, port = e.endpoint.rpartition(":")
            return ip == self.value and (self.port is None or port == str(self.port))
        return False


def resolve_target(g: MeshGraph, text: str, namespace: str | None = None) -> Target:
    if text.count("|") == 3 or text in ("PassthroughCluster", "BlackHoleCluster"):
        cls = g.find_clusters(names=[text])
        if not cls:
            raise TopoError(f"no cluster named {text!r} in the graph", 2)
        return Target(text, "cluster", text, None, [], [c["key"] for c in cls])
    try:
        host, port = split_hostport(text)
    except TopoError:  # `name:notaport`: not an address, maybe a cluster's name
        host, port = text, None
    if is_ip(host):
        eps = g.find_endpoints(ips=[host])
        eps = [e for e in eps if port is None or e["port"] == port]
        return Target(text, "ip", host, port, [e["key"] for e in eps], sorted(g.clusters_of_endpoints(e["key"] for e in eps)),
                      g.find_listeners([host]))
    pods = [p for p in g.pods() if p["id"] == text or (p["name"] == text and (not namespace or p["namespace"] == namespace))]
    if len(pods) == 1:
        eps = g.find_endpoints(pod_ids=[pods[0]["id"]])
        return Target(text, "pod", pods[0]["id"], None, [e["key"] for e in eps],
                      sorted(g.clusters_of_endpoints(e["key"] for e in eps)), g.find_listeners(pods[0]["ips"] or []))
    # any other cluster name, as the dump spells it (`localhost:10011`, `gateway`: not Istio's form)
    named = g.find_clusters(names=[text])
    if named:
        return Target(text, "cluster", text, None, [], [c["key"] for c in named])
    services = g.services()
    h = host.lower()
    cands = [s for s in services if s["fqdn"] == h]
    if not cands:
        cands = [s for s in services if s["fqdn"].startswith(h + ".") and (
            not namespace or s["namespace"] == namespace)]
    if len(cands) > 1:
        names = ", ".join(s["fqdn"] for s in cands[:4])
        raise TopoError(f"{text!r} names several services ({names}): give the FQDN or -n", 2)
    if not cands:
        raise TopoError(f"{text!r} is not a service, cluster, pod or IP in the graph", 2)
    fqdn = cands[0]["fqdn"]
    cls = g.find_clusters(fqdn=fqdn)
    return Target(text, "service", fqdn, port, [], [c["key"] for c in cls])


def reach_to(g: MeshGraph, dst: str, namespace: str | None = None) -> ReachToResult:
    t = resolve_target(g, dst, namespace)
    res = ReachToResult(t.text, t.kind)
    up = g.upstream(t.cluster_keys, t.listener_keys)
    pods_by_config: dict[str, list[str]] = {}
    for p in g.pods():
        pods_by_config.setdefault(p["config"], []).append(p["id"])
    for c in sorted(up.configs):
        if c not in pods_by_config:
            continue
        for e in config_reach(g, c, only=up):
            if t.matches(e):
                res.rows.append(ReachToRow(pods_by_config[c], c, e.destination, e.route, e.cluster, e.endpoint,
                                           e.pod, e.share))
    res.rows.sort(key=lambda r: (r.pods[0], r.destination, r.route, r.cluster, r.endpoint or ""))
    return res
