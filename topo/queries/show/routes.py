"""``istioctl proxy-config route POD``: PrintRouteSummary (configdump/route.go), from the graph."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from topo.errors import TopoError
from topo.model.names import go_atoi, render_config
from topo.model.rows import jload
from topo.queries.show.common import (
    PASSTHROUGH,
    Cell,
    RawReader,
    ShowTable,
    dynamic_first,
    resolve_pod,
    strip_any,
)
from topo.queries.show.gosort import go_sort_slice
from topo.queries.show.listeners import describe_match
from topo.stores.hops import MeshGraph, Props


@dataclass(frozen=True)
class RouteFilter:
    """istioctl's RouteFilter."""

    name: str = ""
    verbose: bool = True


def describe_route_domains(domains: Sequence[str]) -> str:
    """describeRouteDomains: one domain as is; else the shortest forms without ports, two at most."""
    if not domains:
        return ""
    if len(domains) == 1:
        return domains[0]
    without_port = [d for d in domains if ":" not in d or (d.count(":") > 2 and d.endswith("]"))]
    unique = set(without_port)
    delete = set()
    for h in without_port:
        for suffix in (".svc.cluster.local", ".svc"):
            stripped = h[: -len(suffix)] if h.endswith(suffix) else h
            if stripped != h and stripped in unique:
                delete.add(h)
    without_port = [h for h in without_port if h not in delete]
    if len(without_port) > 2:
        return f"{', '.join(without_port[:2])} + {len(without_port) - 2} more..."
    return ", ".join(without_port)


def _is_passthrough(r: Props) -> bool:
    cl = jload(r["clusters"]) or []
    return r["action"] == "route" and len(cl) == 1 and cl[0][0] == PASSTHROUGH


def route_table(g: MeshGraph, pod: str, f: RouteFilter = RouteFilter(), *, namespace: str | None = None,
                config_type: bool = False, require: bool = True) -> ShowTable:
    """``istioctl proxy-config route POD`` (PrintRouteSummary; padding 5).

    Lists the route configs of the RoutesConfigDump (RDS and static), not configs that only
    exist inline in a listener's HTTP connection manager.
    """
    grp = resolve_pod(g, pod, namespace)
    raw = RawReader(g)
    rcs = dynamic_first([rc for rc in g.route_configs(grp.config) if not rc["inline"]])
    if require and not rcs:
        raise TopoError(f"no routes found for {grp.pods[0]}", 1)

    def less(a: Props, b: Props) -> bool:
        ia, ib = go_atoi(a["name"] or ""), go_atoi(b["name"] or "")
        return ia is not None and ib is not None and ia < ib

    go_sort_slice(rcs, less)
    rcs = [rc for rc in rcs if not f.name or rc["name"] == f.name]
    header = ["NAME", "VHOST NAME", "DOMAINS", "MATCH", "VIRTUAL SERVICE"] if f.verbose else ["NAME", "VIRTUAL HOSTS"]
    rows: list[list[Cell]] = []
    for rc in rcs:
        rname = f"route/{rc['name']}" if config_type else rc["name"]
        vhosts = g.vhosts(rc["key"])
        if not f.verbose:
            rows.append([rname, len(vhosts)])
            continue
        for vh in vhosts:
            domains = describe_route_domains(vh["domains"])
            routes = g.routes(vh["key"])
            rows += [[rname, vh["name"], domains, describe_match(jload(r["match"]) or {}),
                      render_config(r["istio_config"] or "")] for r in routes if not _is_passthrough(r)]
            if not routes:
                rows.append([rname, vh["name"], domains, "/*", "404"])
    resources = [strip_any(r) if (r := raw.get("RouteConfig", rc["key"])) is not None else rc for rc in rcs]
    return ShowTable("routes", grp.pods, header, rows, 5, resources)
