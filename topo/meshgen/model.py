"""Dataclasses that describe a mesh for :mod:`topo.meshgen`.

A :class:`Mesh` is plain data: Kubernetes Services and ServiceEntry hosts, the workloads (Deployments)
and pods behind them, DestinationRule subsets and VirtualService routes. :mod:`topo.meshgen.envoy` turns
it into the Envoy config dump that an Istio sidecar on any one of its pods would print.

Treat a mesh as immutable once it is built: lookups are indexed on first use (:meth:`Mesh.index`).
Standard library only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property

# Port protocols as Istio sees them (after parsing the Kubernetes port name).
HTTP = "http"  # http, http2, grpc, grpc-web ... -> shared 0.0.0.0_<port> listener + RDS "<port>"
TCP = "tcp"  # tcp, mysql, mongo, redis ... -> <vip>_<port> listener, tcp_proxy
TLS = "tls"  # tls, https -> TCP family; SNI chain when there is no VIP
AUTO = "auto"  # unnamed / unknown -> protocol sniffing: <vip>_<port> with an HTTP chain + TCP default
UDP = "udp"  # ignored by Istio's sidecar listeners

HEALTHY = "HEALTHY"
UNHEALTHY = "UNHEALTHY"

K8S = "k8s"
SERVICE_ENTRY = "ServiceEntry"

ALLOW_ANY = "ALLOW_ANY"
REGISTRY_ONLY = "REGISTRY_ONLY"

_HTTP_NAMES = {"http", "http2", "grpc"}
_TCP_NAMES = {"tcp", "mysql", "mongo", "redis", "thrift", "dubbo"}
_TLS_NAMES = {"tls", "https"}


def stable_hash(text: str) -> int:
    """A 64-bit hash that, unlike hash(), does not change between interpreter runs."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


_K8S_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what Kubernetes uses for generated name suffixes


def k8s_suffix(seed_text: str, length: int) -> str:
    h = hashlib.sha256(seed_text.encode()).digest()
    return "".join(_K8S_ALPHABET[b % len(_K8S_ALPHABET)] for b in h[:length])


def protocol_from_port_name(name: str) -> str:
    """Istio's rule: the part of the port name before the first '-' names the protocol, case-insensitively.

    An unnamed port or an unknown prefix means "auto-detect" (sniffing).
    """
    if not name:
        return AUTO
    head = name.split("-", 1)[0].lower()
    if head in _HTTP_NAMES:
        return HTTP
    if head in _TCP_NAMES:
        return TCP
    if head in _TLS_NAMES:
        return TLS
    if head == "udp":
        return UDP
    return AUTO


@dataclass(frozen=True)
class Locality:
    region: str = ""
    zone: str = ""

    def as_envoy(self) -> dict:
        out: dict = {}
        if self.region:
            out["region"] = self.region
        if self.zone:
            out["zone"] = self.zone
        return out


@dataclass
class ServicePort:
    """One port of a Service. ``name`` "" means unnamed (auto-detect)."""

    port: int
    name: str = ""
    target_port: int | None = None
    protocol: str | None = None  # None: derived from ``name`` like Istio does

    @property
    def proto(self) -> str:
        return self.protocol or protocol_from_port_name(self.name)

    @property
    def target(self) -> int:
        return self.target_port if self.target_port is not None else self.port


@dataclass
class Service:
    """A Kubernetes Service (``kind="k8s"``) or a ServiceEntry host (``kind="ServiceEntry"``).

    ``vip`` None means headless for a Kubernetes Service (clusterIP: None), or "no addresses" for a
    ServiceEntry. For a ServiceEntry ``name`` is the host (e.g. ``api.external.example.com``) and
    ``namespace`` is the namespace the ServiceEntry object lives in.
    """

    name: str
    namespace: str
    ports: list[ServicePort]
    vip: str | None = None
    kind: str = K8S
    resolution: str = "DNS"  # ServiceEntry only: DNS | STATIC | NONE
    selector: dict[str, str] | None = None  # None: {"app": <app label of the first backing workload>}

    @property
    def headless(self) -> bool:
        return self.kind == K8S and self.vip is None

    def fqdn(self, domain: str = "cluster.local") -> str:
        if self.kind == SERVICE_ENTRY:
            return self.name
        return f"{self.name}.{self.namespace}.svc.{domain}"


@dataclass
class Pod:
    name: str
    ip: str
    node: str = "node-1"
    locality: Locality = field(default_factory=Locality)
    health: str = HEALTHY  # as EDS / the dump shows it: HEALTHY | UNHEALTHY


@dataclass
class Workload:
    """A Deployment: pods sharing labels, backing one or more Services of its namespace (by name)."""

    name: str
    namespace: str
    app: str
    version: str = "v1"
    services: list[str] = field(default_factory=list)
    pods: list[Pod] = field(default_factory=list)
    service_account: str | None = None  # None: "default"
    replicaset_hash: str | None = None  # None: derived from the name
    image: str | None = None

    @property
    def sa(self) -> str:
        return self.service_account or "default"

    @property
    def labels(self) -> dict[str, str]:
        return {"app": self.app, "version": self.version}


@dataclass
class Subset:
    name: str
    labels: dict[str, str]


@dataclass
class DestinationRule:
    name: str
    namespace: str
    host: str  # FQDN (or short name, resolved against ``namespace``)
    subsets: list[Subset] = field(default_factory=list)
    lb_policy: str | None = None  # None: Istio default (LEAST_REQUEST); ROUND_ROBIN | RANDOM | LEAST_REQUEST
    outlier_detection: bool = False  # also enables locality failover priorities (Istio needs both)


@dataclass
class HTTPMatch:
    """One ``http[].match[]`` entry. All set conditions must hold; nothing set matches everything."""

    prefix: str | None = None
    exact: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # header name -> exact value
    name: str | None = None


@dataclass
class Destination:
    subset: str | None = None
    weight: int = 100
    host: str | None = None  # None: the VirtualService's own host
    port: int | None = None  # None: the port the route is built for


@dataclass
class HTTPRoute:
    name: str | None
    route: list[Destination]
    match: list[HTTPMatch] = field(default_factory=list)


@dataclass
class TCPRoute:
    route: list[Destination]


@dataclass
class VirtualService:
    name: str
    namespace: str
    hosts: list[str]  # FQDNs (or short names, resolved against ``namespace``)
    http: list[HTTPRoute] = field(default_factory=list)
    tcp: list[TCPRoute] = field(default_factory=list)


def qualify(host: str, namespace: str, domain: str = "cluster.local") -> str:
    """Istio's short-name rule: a host without a dot is ``<host>.<namespace>.svc.<domain>``."""
    if "." in host or host == "*":
        return host
    return f"{host}.{namespace}.svc.{domain}"


@dataclass
class Mesh:
    name: str
    services: list[Service] = field(default_factory=list)
    workloads: list[Workload] = field(default_factory=list)
    destination_rules: list[DestinationRule] = field(default_factory=list)
    virtual_services: list[VirtualService] = field(default_factory=list)
    outbound_traffic_policy: str = ALLOW_ANY
    seed: int = 0  # feeds the deterministic version_info / last_updated values
    istio_version: str = "1.22.3"
    domain: str = "cluster.local"
    cluster_id: str = "Kubernetes"

    def pods(self) -> list[tuple[Workload, Pod]]:
        return [(w, p) for w in self.workloads for p in w.pods]

    def find_pod(self, name: str, namespace: str | None = None) -> tuple[Workload, Pod]:
        for w, p in self.pods():
            if p.name == name and (namespace is None or w.namespace == namespace):
                return w, p
        raise KeyError(f"no pod {name!r} in mesh {self.name!r}")

    @cached_property
    def index(self) -> MeshIndex:
        return MeshIndex(self)


class MeshIndex:
    """Lookups derived from a :class:`Mesh` (built once, O(services + pods))."""

    def __init__(self, mesh: Mesh) -> None:
        self.mesh = mesh
        d = mesh.domain
        self.by_fqdn: dict[str, Service] = {}
        for s in mesh.services:
            self.by_fqdn.setdefault(s.fqdn(d), s)
        self.backing: dict[str, list[Workload]] = {f: [] for f in self.by_fqdn}
        self.workload_of: dict[int, Workload] = {}
        for w in mesh.workloads:
            for sname in w.services:
                f = f"{sname}.{w.namespace}.svc.{d}"
                if f in self.backing:
                    self.backing[f].append(w)
            for p in w.pods:
                self.workload_of[id(p)] = w
        self.dr: dict[str, DestinationRule] = {}
        for r in mesh.destination_rules:
            self.dr.setdefault(qualify(r.host, r.namespace, d), r)
        self.vs: dict[str, VirtualService] = {}
        for v in mesh.virtual_services:
            for h in v.hosts:
                self.vs.setdefault(qualify(h, v.namespace, d), v)
        self.localities = sorted({p.locality for w in mesh.workloads for p in w.pods},
                                 key=lambda loc: (loc.region, loc.zone))

    def selector(self, svc: Service) -> dict[str, str]:
        if svc.selector is not None:
            return dict(svc.selector)
        ws = self.backing.get(svc.fqdn(self.mesh.domain)) or []
        return {"app": ws[0].app} if ws else {"app": svc.name}

    @property
    def multi_locality(self) -> bool:
        return len(self.localities) > 1
