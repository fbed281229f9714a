"""``topo blast TARGET``: who loses what if TARGET's endpoints fail.

TARGET is a pod, an endpoint IP, a cluster (e.g. a subset cluster), a service, or a
Kubernetes node. Its endpoints are taken out of every load assignment, the way a dead
pod leaves its service's EDS set. For each source and each (destination, route) that used
them, the answer says what share of those requests now fails (no healthy host: 503 UH)
and what share moves to other endpoints or priorities. Weighted clusters never shift
weight to a sibling subset (ENVOY-SEMANTICS.md §6), so losing v2's only pod loses v2's
share outright; losing one of three v1 pods moves its share to the other two (§8).

Candidates are found by a reverse traversal (failed endpoints → every cluster holding them →
the routes, chains, listeners and configs above those: :meth:`MeshGraph.upstream`), then
both walks run forward on those configs, through those routes only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from topo.errors import TopoError
from topo.queries.reach import ReachEntry, config_reach, resolve_target
from topo.stores.hops import MeshGraph

EPS = 1e-12


@dataclass
class BlastRow:
    pods: list[str]
    config: str
    destination: str
    route: str
    lost: float  # share of this route's requests that now fail
    moved: float  # share that now lands on other endpoints
    fails_outright: bool  # every request of this route now fails
    flags: list[str]
    clusters: list[str]


@dataclass
class BlastResult:
    target: str
    kind: str
    failed_endpoints: list[str]
    rows: list[BlastRow] = field(default_factory=list)


def _group(entries: list[ReachEntry]) -> dict[tuple[str, str], list[ReachEntry]]:
    out: dict[tuple[str, str], list[ReachEntry]] = {}
    for e in entries:
        out.setdefault((e.destination, e.route), []).append(e)
    return out


def _shares(entries: list[ReachEntry]) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = {}
    for e in entries:
        if e.endpoint:
            out[(e.cluster, e.endpoint)] = out.get((e.cluster, e.endpoint), 0.0) + e.share
    return out


def blast(g: MeshGraph, target: str, namespace: str | None = None) -> BlastResult:
    node_pods = [p["id"] for p in g.pods() if p["node_name"] and p["node_name"] == target]
    if node_pods and not any(p["name"] == target for p in g.pods()):
        eps = g.find_endpoints(pod_ids=node_pods)
        kind, ep_keys = "node", [e["key"] for e in eps]
        cluster_keys = sorted(g.clusters_of_endpoints(ep_keys))
        failed_addrs = sorted({e["address"] for e in eps})
    else:
        t = resolve_target(g, target, namespace)
        kind, cluster_keys = t.kind, t.cluster_keys
        if t.kind in ("service", "cluster"):
            eps = [e for ck in t.cluster_keys for e in g.endpoints(ck)]
            ep_keys = sorted({e["key"] for e in eps})
        else:
            ep_keys = t.endpoint_keys
            eps = [e for ck in cluster_keys for e in g.endpoints(ck) if e["key"] in set(ep_keys)]
        failed_addrs = sorted({e["address"] for e in eps})
    if not ep_keys:
        raise TopoError(f"{target!r} has no endpoints in any cluster: nothing to fail", 2)
    failed = frozenset(ep_keys)
    res = BlastResult(target, kind, failed_addrs)
    pods_by_config: dict[str, list[str]] = {}
    for p in g.pods():
        pods_by_config.setdefault(p["config"], []).append(p["id"])
    # Every cluster that holds a failed endpoint is affected, not only the target's own.
    up = g.upstream(set(cluster_keys) | g.clusters_of_endpoints(ep_keys))
    for c in sorted(up.configs):
        if c not in pods_by_config:
            continue
        before = _group(config_reach(g, c, only=up))
        after = _group(config_reach(g, c, failed, only=up))
        for key in sorted(before):
            b, a = before[key], after.get(key, [])
            dead_b = sum(e.share for e in b if e.endpoint is None and not e.endpoints_unknown)
            dead_a = sum(e.share for e in a if e.endpoint is None and not e.endpoints_unknown)
            lost = max(dead_a - dead_b, 0.0)
            bshare = _shares(b)
            ashare = _shares(a)
            moved = sum(max(ashare.get(k, 0.0) - bshare.get(k, 0.0), 0.0) for k in ashare)
            if lost <= EPS and moved <= EPS:
                continue
            delivered_after = sum(ashare.values())
            flags = sorted({e.flag for e in a if e.flag} - {e.flag for e in b if e.flag})
            clusters = sorted({e.cluster for e in b if e.endpoint in set(failed_addrs)})
            res.rows.append(BlastRow(pods_by_config[c], c, key[0], key[1], round(lost, 12), round(moved, 12),
                                     delivered_after <= EPS, flags, clusters))
    res.rows.sort(key=lambda r: (-r.lost, -r.moved, r.pods[0], r.destination, r.route))
    return res
