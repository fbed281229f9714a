"""``topo blast TARGET`` and ``topo blast --zone Z | --region R | --node N``: who loses what if
TARGET's endpoints, or every endpoint in a locality or on a node, fail.

TARGET is a pod, an endpoint IP, a cluster (e.g. a subset cluster), a service, or a
Kubernetes node. For each source and each (destination, route) that used the failed endpoints,
the answer says what share of those requests now fails (no healthy host: 503 UH, or sent to
failed hosts in panic mode) and what share moves to other endpoints, and to which priority and
locality it moves. Weighted clusters never shift weight to a sibling subset (ENVOY-SEMANTICS.md
§6), so losing v2's only pod loses v2's share outright; losing one of three v1 pods moves its
share to the other two (§8).

How a failed endpoint counts (:func:`topo.queries.envoy.keeps_failed_hosts`): where Istio keeps
failed hosts in the load assignment as unhealthy (a cluster with outlier detection, or with
``healthy_panic_threshold`` 0), they stay in their priority's total, so Envoy's priority spill-over
by the overprovisioning factor and its panic threshold decide where their share goes (§8 steps
2–5); elsewhere a failed pod leaves EDS. Sources that sit in the failed zone, region or node fail
with it and are left out (``failed_sources``).

Candidates are found by a reverse traversal (failed endpoints → every cluster holding them →
the routes, chains, listeners and configs above those: :meth:`MeshGraph.upstream`), then
both walks run forward on those configs, through those routes only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from topo.errors import TopoError
from topo.queries.locality import matches, resolve_zone, split_locality
from topo.queries.reach import ReachEntry, config_reach, resolve_target
from topo.stores.hops import MeshGraph, Props

EPS = 1e-12


@dataclass
class MovedShare:
    """Share of a route's requests that now lands on endpoints of one priority and locality."""

    priority: int
    locality: str
    share: float
    endpoints: int  # how many endpoints there take it


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
    moved_to: list[MovedShare] = field(default_factory=list)
    to_failed: float = 0.0  # of `lost`: still sent to the failed hosts (panic mode spreads over all hosts)


@dataclass
class BlastResult:
    target: str
    kind: str  # pod, ip, cluster, service, node, zone, region
    failed_endpoints: list[str]
    rows: list[BlastRow] = field(default_factory=list)
    failed_sources: list[str] = field(default_factory=list)  # source pods that fail with the zone, region or node


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


def _failed_set(g: MeshGraph, target: str | None, namespace: str | None, zone: str | None, region: str | None,
                node: str | None) -> tuple[str, str, list[Props], set[str], list[str]]:
    """(kind, label, failed endpoints, clusters to start from, source pods that fail too)."""
    given = [x for x in (target, zone, region, node) if x]
    if len(given) != 1:
        raise TopoError("blast takes one of TARGET, --zone, --region or --node", 2)
    pods = g.pods()
    if target and not node and any(p["node_name"] == target for p in pods) and not any(
            p["name"] == target for p in pods):
        node = target  # a Kubernetes node given as TARGET
    if node:
        on = [p["id"] for p in pods if p["node_name"] == node]
        if not on:
            raise TopoError(f"no ingested pod runs on node {node!r}", 2)
        return "node", node, g.find_endpoints(pod_ids=on), set(), on
    if zone or region:
        want = resolve_zone(g, zone) if zone else (region or "").strip("/")
        r, z, sz = split_locality(want) if zone else (want, "", "")
        if not zone and "/" in want:
            raise TopoError(f"--region takes a region name, got {region!r} (use --zone REGION/ZONE)", 2)
        locs = [loc for loc in g.endpoint_localities() if matches(loc, region=r, zone=z, sub_zone=sz)]
        srcs = [p["id"] for p in pods if p["locality"] and matches(p["locality"], region=r, zone=z, sub_zone=sz)]
        return ("zone" if zone else "region"), want, g.find_endpoints(localities=locs), set(), srcs
    t = resolve_target(g, target or "", namespace)
    if t.kind in ("service", "cluster"):
        eps = [e for ck in t.cluster_keys for e in g.endpoints(ck)]
    else:
        wanted = set(t.endpoint_keys)
        eps = [e for ck in t.cluster_keys for e in g.endpoints(ck) if e["key"] in wanted]
    return t.kind, t.text, eps, set(t.cluster_keys), []


def _where(g: MeshGraph, config: str, memo: dict[str, dict[tuple[str, str], tuple[int, str]]],
           ) -> dict[tuple[str, str], tuple[int, str]]:
    """(cluster name, endpoint address) → (priority, locality) in one config."""
    got = memo.get(config)
    if got is None:
        got = memo[config] = {}
        for c in g.config_clusters(config):
            if c["state"] in ("static", "active", "error"):
                for e in g.endpoints(c["key"]):
                    got.setdefault((c["name"], e["address"]), (int(e["priority"] or 0), e["locality"] or ""))
    return got


def blast(g: MeshGraph, target: str | None = None, namespace: str | None = None, *, zone: str | None = None,
          region: str | None = None, node: str | None = None) -> BlastResult:
    kind, label, eps, cluster_keys, failed_sources = _failed_set(g, target, namespace, zone, region, node)
    ep_keys = sorted({e["key"] for e in eps})
    failed_addrs = sorted({e["address"] for e in eps})
    if not ep_keys:
        raise TopoError(f"{label!r} has no endpoints in any cluster: nothing to fail", 2)
    failed = frozenset(ep_keys)
    res = BlastResult(label, kind, failed_addrs, failed_sources=sorted(failed_sources))
    gone = set(failed_sources)
    pods_by_config: dict[str, list[str]] = {}
    for p in g.pods():
        if p["id"] not in gone:
            pods_by_config.setdefault(p["config"], []).append(p["id"])
    # Every cluster that holds a failed endpoint is affected, not only the target's own.
    up = g.upstream(cluster_keys | g.clusters_of_endpoints(ep_keys))
    where: dict[str, dict[tuple[str, str], tuple[int, str]]] = {}
    failed_set = set(failed_addrs)
    for c in sorted(up.configs):
        if c not in pods_by_config:
            continue
        before = _group(config_reach(g, c, only=up))
        after = _group(config_reach(g, c, failed, only=up))
        for key in sorted(before):
            b, a = before[key], after.get(key, [])
            dead_b = sum(e.share for e in b if e.endpoint is None and not e.endpoints_unknown)
            dead_a = sum(e.share for e in a if e.endpoint is None and not e.endpoints_unknown)
            bshare = _shares(b)
            ashare = _shares(a)
            # in panic mode the failed hosts still get their part: that part is lost too
            to_failed = float(sum(s for (cl, addr), s in ashare.items() if addr in failed_set))
            lost = max(dead_a - dead_b, 0.0) + to_failed
            gains = {k: ashare[k] - bshare.get(k, 0.0) for k in ashare
                     if k[1] not in failed_set and ashare[k] - bshare.get(k, 0.0) > EPS}
            moved = float(sum(gains.values()))
            if lost <= EPS and moved <= EPS:
                continue
            delivered_after = sum(s for (cl, addr), s in ashare.items() if addr not in failed_set)
            flags = sorted({e.flag for e in a if e.flag} - {e.flag for e in b if e.flag})
            clusters = sorted({e.cluster for e in b if e.endpoint in failed_set})
            to: dict[tuple[int, str], list[float]] = {}
            if gains:
                loc_of = _where(g, c, where)
                for k, s in gains.items():
                    slot = to.setdefault(loc_of.get(k, (0, "")), [0.0, 0])
                    slot[0] += s
                    slot[1] += 1
            moved_to = [MovedShare(p, loc, round(s, 12), int(n)) for (p, loc), (s, n) in sorted(to.items())]
            res.rows.append(BlastRow(pods_by_config[c], c, key[0], key[1], round(lost, 12), round(moved, 12),
                                     delivered_after <= EPS, flags, clusters, moved_to, round(to_failed, 12)))
    res.rows.sort(key=lambda r: (-r.lost, -r.moved, r.pods[0], r.destination, r.route))
    return res
