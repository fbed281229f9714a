"""``istioctl proxy-config endpoint|eds POD``: the endpoint tables (configdump/endpoint.go and
clusters/clusters.go), from the graph."""

from __future__ import annotations

from dataclasses import dataclass

from topo.queries.show.common import Cell, ShowTable, dynamic_first, resolve_pod, subset_key_less
from topo.queries.show.gosort import go_sort_slice
from topo.stores.hops import MeshGraph, Props


@dataclass(frozen=True)
class EndpointFilter:
    """istioctl's EndpointFilter (case-insensitive, as istioctl compares)."""

    address: str = ""
    port: int = 0
    cluster: str = ""
    status: str = ""

    def verify(self, address: str, port: int, cluster: str, status: str) -> bool:
        if self.address and address.lower() != self.address.lower():
            return False
        if self.port and port != self.port:
            return False
        if self.cluster and cluster.lower() != self.cluster.lower():
            return False
        return not (self.status and status.lower() != self.status.lower())


def endpoint_address(ep: Props, *, clusters_view: bool = False) -> str:
    """How istioctl names an endpoint: ``IP:PORT``, a pipe path, or ``envoy://LISTENER/ID``.

    The EDS view always prints ``IP:PORT``; the /clusters view drops a zero port and prefixes
    pipes with ``unix://``.
    """
    ip = ep["ip"] or ""
    if ip.startswith("unix:"):
        path = ip[len("unix:"):]
        return "unix://" + path if clusters_view else path
    if ip.startswith("internal:"):
        return f"envoy://{ip[len('internal:'):]}/{ep['endpoint_id'] or ''}"
    if not ip and not ep["port"]:
        return "unknown"
    if clusters_view:
        return ip
    return f"{ip}:{ep['port'] or 0}"


@dataclass
class _Cla:
    cluster: str
    endpoints: list[Props]


def _load_assignments(g: MeshGraph, config: str, *, eds_only: bool = False) -> list[_Cla]:
    """Each cluster's endpoints as one load assignment, in the order istioctl reads them.

    ``eds_only``: only the load assignments of the dump's endpoint section (EndpointsConfigDump),
    which is all that istioctl's EDS table prints; a cluster's inline ``load_assignment`` (STATIC
    and DNS clusters of a dump whose endpoint section leaves them out) is not listed there."""
    out = []
    states = ("static", "active", "error", "eds_only")  # eds_only: a load assignment with no CDS cluster
    for c in dynamic_first([c for c in g.config_clusters(config) if c["state"] in states]):
        if eds_only and c["endpoint_source"] not in ("eds", None):  # None: a graph from before the property
            continue
        eps = g.endpoints(c["key"])
        if eps:
            out.append(_Cla(c["eds_service_name"] or c["name"], eps))
    return out


def endpoint_table(g: MeshGraph, pod: str, f: EndpointFilter = EndpointFilter(), *, namespace: str | None = None,
                   config_type: bool = False) -> ShowTable:
    """The EDS endpoint table (configdump PrintEndpointsSummary, as in ``proxy-config all``; padding 5)."""
    grp = resolve_pod(g, pod, namespace)
    clas = []
    for cla in _load_assignments(g, grp.config, eds_only=True):
        eps = [e for e in cla.endpoints if f.verify(endpoint_address(e), e["port"] or 0, cla.cluster,
                                                    e["health"] or "UNKNOWN")]
        if eps:
            clas.append(_Cla(cla.cluster, eps))
    go_sort_slice(clas, subset_key_less(lambda c: c.cluster))
    rows: list[list[Cell]] = []
    resources = []
    for cla in clas:
        for e in cla.endpoints:
            addr = endpoint_address(e)
            rows.append([f"endpoint/{addr}" if config_type else addr, e["health"] or "UNKNOWN", e["locality"] or "",
                         cla.cluster])
            resources.append({"cluster": cla.cluster, "address": addr, "status": e["health"] or "UNKNOWN",
                              "locality": e["locality"] or "", "weight": e["weight"], "priority": e["priority"]})
    return ShowTable("endpoints", grp.pods, ["NAME", "STATUS", "LOCALITY", "CLUSTER"], rows, 5, resources)


def endpoint_status_table(g: MeshGraph, pod: str, f: EndpointFilter = EndpointFilter(), *,
                          namespace: str | None = None) -> ShowTable:
    """istioctl's /clusters endpoint table (clusters PrintEndpointsSummary; padding 5): STATUS is the
    health EDS gave, OUTLIER CHECK whether the host failed outlier detection."""
    grp = resolve_pod(g, pod, namespace)
    items = []
    for cla in _load_assignments(g, grp.config):
        for e in cla.endpoints:
            addr = endpoint_address(e, clusters_view=True)
            p = e["port"] or 0
            health = e["eds_health"] or e["health"] or "UNKNOWN"
            if f.verify(addr, p, cla.cluster, health):
                items.append((addr, p, cla.cluster, health, bool(e["outlier_failed"])))

    def less(a: tuple[str, int, str, str, bool], b: tuple[str, int, str, str, bool]) -> bool:
        if a[0] == b[0]:
            return a[2] < b[2] if a[1] == b[1] else a[1] < b[1]
        return a[0] < b[0]

    go_sort_slice(items, less)
    rows: list[list[Cell]] = [[f"{a}:{p}" if p else a, h, "FAILED" if o else "OK", c] for a, p, c, h, o in items]
    resources = [{"endpoint": r[0], "status": r[1], "outlier_check": r[2], "cluster": r[3]} for r in rows]
    return ShowTable("endpoint-status", grp.pods, ["ENDPOINT", "STATUS", "OUTLIER CHECK", "CLUSTER"], rows, 5,
                     resources)
