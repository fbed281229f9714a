"""``istioctl proxy-config cluster POD``: PrintClusterSummary (configdump/cluster.go), from the graph."""

from __future__ import annotations

from dataclasses import dataclass

from topo.errors import TopoError
from topo.model.names import parse_subset_key, render_config
from topo.queries.show.common import (
    Cell,
    RawReader,
    ShowTable,
    dynamic_first,
    resolve_pod,
    strip_any,
    subset_key_less,
)
from topo.queries.show.gosort import go_sort_slice
from topo.stores.hops import MeshGraph

# core.v3 Cluster.DiscoveryType; a cluster_type extension leaves ``type`` at STATIC (0).
DISCOVERY_TYPES = ("STATIC", "STRICT_DNS", "LOGICAL_DNS", "EDS", "ORIGINAL_DST")


@dataclass(frozen=True)
class ClusterFilter:
    """istioctl's ClusterFilter: substrings of the cluster name's parts, as istioctl matches them."""

    fqdn: str = ""
    port: int = 0
    subset: str = ""
    direction: str = ""

    def verify(self, name: str) -> bool:
        if self.fqdn and self.fqdn not in name:
            return False
        if self.direction and self.direction not in name:
            return False
        if self.subset and self.subset not in name:
            return False
        return not (self.port and f"|{self.port}|" not in name)


def cluster_table(g: MeshGraph, pod: str, f: ClusterFilter = ClusterFilter(), *, namespace: str | None = None,
                  config_type: bool = False, require: bool = True) -> ShowTable:
    """``istioctl proxy-config cluster POD`` (PrintClusterSummary; padding 5)."""
    grp = resolve_pod(g, pod, namespace)
    raw = RawReader(g)
    cls = dynamic_first([c for c in g.config_clusters(grp.config) if c["state"] in ("static", "active", "error")])
    if require and not cls:
        raise TopoError(f"no clusters found for {grp.pods[0]}", 1)
    go_sort_slice(cls, subset_key_less(lambda c: c["name"]))
    cls = [c for c in cls if f.verify(c["name"])]
    header = ["SERVICE FQDN", "PORT", "SUBSET", "DIRECTION", "TYPE", "DESTINATION RULE"]
    if config_type:
        header.insert(0, "NAME")
    rows: list[list[Cell]] = []
    for c in cls:
        name = c["name"]
        ctype = c["type"] if c["type"] in DISCOVERY_TYPES else "STATIC"
        dr = render_config(c["istio_config"] or "")
        if len(name.split("|")) > 3:
            d, sub, host, p = parse_subset_key(name)
            lead: list[Cell] = [f"cluster/{name}"] if config_type else []
            rows.append([*lead, host, p, sub or "-", d, ctype, dr])
        elif config_type and name:
            rows.append([f"cluster/{name}", f"cluster/{name}", "-", "-", "-", ctype, dr])
        else:
            rows.append([name, "-", "-", "-", ctype, dr])
    resources = [strip_any(r) if (r := raw.get("Cluster", c["key"])) is not None else c for c in cls]
    return ShowTable("clusters", grp.pods, header, rows, 5, resources)
