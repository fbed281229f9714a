"""``topo export mesh``'s model: which workload's proxies route to which service, with what split.

Computed from what each distinct proxy config reaches, grouped by the pods' workload
(:func:`mesh_model`); :func:`topo.export.dot.mesh_graph` draws it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from topo.errors import TopoError
from topo.model.names import parse_cluster_name, service_namespace, subset_of, workload_name
from topo.queries.reach import FAULT, config_reach
from topo.stores.hops import MeshGraph

Split = tuple[tuple[str, float, str | None], ...]  # (subset or "all", route weight fraction, dead-end flag)


@dataclass
class MeshEdge:
    """What one workload's proxy does with one service's traffic."""

    splits: set[tuple[int, Split]] = field(default_factory=set)  # (port, split) of each route that is not plain
    flags: set[str] = field(default_factory=set)


@dataclass
class MeshService:
    namespace: str  # "" outside the cluster
    ports: set[tuple[int, str]] = field(default_factory=set)  # (port, http|tcp)
    backends: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # workload -> subsets


@dataclass
class MeshModel:
    namespace: str | None
    workloads: dict[tuple[str, str], int]  # (namespace, workload) -> pods
    services: dict[str, MeshService]  # fqdn
    calls: dict[tuple[tuple[str, str], str], MeshEdge]  # (workload, fqdn)


def _workload(p: dict[str, Any]) -> tuple[str, str]:
    return (p["namespace"] or "", workload_name(p))


def _svc_namespace(fqdn: str, known: dict[str, str]) -> str:
    return known[fqdn] if fqdn in known else service_namespace(fqdn)


def _split(fracs: dict[str, tuple[float, str | None]]) -> Split:
    """A route's clusters as (subset, fraction, flag), largest first; () for a plain route (one
    cluster, no subset, no dead end)."""
    if len(fracs) == 1:
        ((c, (_f, fl)),) = fracs.items()
        if not subset_of(c) and not fl:
            return ()
    return tuple((subset_of(c) or "all", f, fl) for c, (f, fl) in sorted(fracs.items(), key=lambda kv: (-kv[1][0], kv[0])))


def mesh_model(g: MeshGraph, namespace: str | None = None) -> MeshModel:
    """Who routes to what: each distinct config's reach, grouped by its pods' workloads.
    ``namespace`` filters the source workloads; destinations may be anywhere."""
    pods = g.pods()
    wl_of = {p["id"]: _workload(p) for p in pods}
    npods = Counter(wl_of.values())
    known = {sv["fqdn"]: sv["namespace"] or "" for sv in g.services()}
    sources = [p for p in pods if not namespace or p["namespace"] == namespace]
    if not sources:
        raise TopoError("no ingested pod" + (f" in namespace {namespace}" if namespace else ""), 2)
    by_config: dict[str, list[str]] = {}
    for p in sources:
        by_config.setdefault(p["config"], []).append(p["id"])
    m = MeshModel(namespace, {wl_of[p["id"]]: npods[wl_of[p["id"]]] for p in sources}, {}, {})
    for config in sorted(by_config, key=lambda c: by_config[c][0]):
        ids = by_config[config]
        routes: dict[tuple[str, str, str], dict[str, tuple[float, str | None]]] = {}
        for e in config_reach(g, config):
            if e.cluster == FAULT:  # a fault filter's aborts: no cluster, no edge of their own
                continue
            # the edge goes where the traffic lands: the cluster's service (a vhost may route elsewhere)
            fq = str(parse_cluster_name(e.cluster)["fqdn"] or "") or e.service_host
            sv = m.services.setdefault(fq, MeshService(_svc_namespace(fq, known)))
            fr = routes.setdefault((fq, e.destination, e.route), {})
            fr[e.cluster] = (e.cluster_fraction, e.flag or fr.get(e.cluster, (0.0, None))[1])
            if e.pod and e.pod in wl_of:
                sv.backends.setdefault(wl_of[e.pod], set()).add(subset_of(e.cluster))
        for (fq, dest, route), fracs in routes.items():
            port = int(dest.rpartition(":")[2]) if dest.rpartition(":")[2].isdigit() else 0
            m.services[fq].ports.add((port, "tcp" if route == "(tcp)" else "http"))
            split = _split(fracs)
            for w in sorted({wl_of[pid] for pid in ids}):
                me = m.calls.setdefault((w, fq), MeshEdge())
                if split:
                    me.splits.add((port, split))
                me.flags |= {fl for _f, fl in fracs.values() if fl}
    return m
