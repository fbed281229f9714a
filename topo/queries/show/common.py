"""What every ``topo show`` table shares: the table itself, the pod it is drawn for, the raw resources."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from topo.errors import TopoError
from topo.model.names import safely_parse_subset_key
from topo.queries.resolve import SourceGroup, resolve_source
from topo.stores.hops import MeshGraph, Props

Cell = str | int

HCM = "envoy.filters.network.http_connection_manager"
TCP_PROXY = "envoy.filters.network.tcp_proxy"
BLACKHOLE = "BlackHoleCluster"
PASSTHROUGH = "PassthroughCluster"


@dataclass
class ShowTable:
    """One istioctl table: typed rows plus what :func:`render_text` needs to lay them out."""

    kind: str  # listeners, routes, clusters, endpoints, endpoint-status
    pods: list[str]
    header: list[str]
    rows: list[list[Cell]]
    padding: int  # tabwriter padding istioctl uses for this table (1 for listeners, else 5)
    resources: list[Any] = field(default_factory=list)  # what -o json/yaml prints


class RawReader:
    """The ``raw`` property (the scrubbed resource JSON) of Listener/RouteConfig/Cluster nodes, decoded."""

    def __init__(self, g: MeshGraph) -> None:
        self.g = g

    def get(self, label: str, key: str) -> dict[str, Any] | None:
        v = self.g.raw(label, key)
        if isinstance(v, str | bytes):
            v = orjson.loads(v)
        return v if isinstance(v, dict) else None


def resolve_pod(g: MeshGraph, pod: str, namespace: str | None = None) -> SourceGroup:
    """POD as istioctl takes it (``name``, ``name.namespace``) or as topo does (``ns/name``, prefix, workload)."""
    try:
        groups = resolve_source(g, pod, namespace)
    except TopoError:
        if "." not in pod or "/" in pod or namespace:
            raise
        name, ns = pod.rsplit(".", 1)
        groups = resolve_source(g, name, ns)
    if len(groups) > 1:
        pods = ", ".join(p for grp in groups for p in grp.pods[:2])
        raise TopoError(f"{pod!r} matches pods with {len(groups)} different proxy configs ({pods}…): name one pod", 2)
    return groups[0]


def strip_any(raw: dict[str, Any]) -> dict[str, Any]:
    """The resource as istioctl marshals it: without the ``@type`` of the dump's Any wrapper."""
    return {k: v for k, v in raw.items() if k != "@type"}


def subset_key_less(name_of: Callable[[Any], str]) -> Callable[[Any, Any], bool]:
    """istioctl's cluster / load-assignment order: host, then subset, port, direction."""

    def less(a: Any, b: Any) -> bool:
        ad, asub, an, ap = safely_parse_subset_key(name_of(a))
        bd, bsub, bn, bp = safely_parse_subset_key(name_of(b))
        if an == bn:
            if asub == bsub:
                if ap == bp:
                    return ad < bd
                return ap < bp
            return asub < bsub
        return an < bn

    return less


def dynamic_first(items: list[Props]) -> list[Props]:
    """istioctl reads dynamic resources first, then static ones."""
    return [p for p in items if p["state"] != "static"] + [p for p in items if p["state"] == "static"]
