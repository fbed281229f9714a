"""Localities: Istio's per-caller EDS priorities, and the what-ifs built on them.

Not a question of its own: ``path --from-zone`` and ``blast --zone/--region/--node`` use it.

**Where a caller's priorities come from.** istiod sends each proxy its own EDS: with locality
load balancing on and outlier detection set (a DestinationRule), it ranks every locality of the
load assignment against the *caller's* locality (``pilot/pkg/networking/util/util.go`` ``LbPriority``:
same region, zone and sub-zone 0, same region and zone 1, same region 2, other regions 3; a
``failover`` rule from the caller's region demotes the regions it does not name to 4), then
renumbers the priorities it used 0, 1, 2 … without gaps
(``pilot/pkg/networking/core/loadbalancer/loadbalancer.go`` ``applyLocalityFailover``). A
``distribute`` rule instead sets each locality's ``load_balancing_weight`` for callers its ``from``
matches (``applyLocalityWeights``). Envoy then splits the load by §8.

**A caller elsewhere** (``--from-zone``): the dump of a pod that *is* there holds the load
assignment istiod sends to that locality, so where the graph has such a pod with the same cluster,
its endpoints are used as they are. Otherwise the priorities are ranked again by Istio's rule from
the other locality, when the source's own dump shows that rule at work (its priorities are what
the rule gives from the source's own locality); locality weights set by a ``distribute`` rule, and
the failover rules of other regions, are not in any dump, and the answer says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from topo.errors import TopoError
from topo.stores.hops import MeshGraph, Props


def split_locality(loc: str) -> tuple[str, str, str]:
    """``r1/z1/s1`` → (r1, z1, s1); missing parts are ""."""
    parts = (loc or "").split("/")
    parts += [""] * (3 - len(parts))
    return parts[0], parts[1], parts[2]


def lb_priority(proxy: str, endpoints: str) -> int:
    """Istio's ``util.LbPriority`` between two ``region/zone/sub_zone`` localities."""
    pr, pz, ps = split_locality(proxy)
    er, ez, es = split_locality(endpoints)
    if pr != er:
        return 3
    if pz != ez:
        return 2
    return 0 if ps == es else 1


def compacted(raw: dict[str, int]) -> dict[str, int]:
    """Priorities renumbered 0, 1, 2 … in order, without gaps (``applyLocalityFailover`` step 2)."""
    order = {p: i for i, p in enumerate(sorted(set(raw.values())))}
    return {k: order[v] for k, v in raw.items()}


def default_priorities(caller: str, localities: Sequence[str]) -> dict[str, int]:
    """The EDS priority istiod gives each locality for a caller at ``caller`` (no failover rules)."""
    return compacted({loc: lb_priority(caller, loc) for loc in localities})


def matches(locality: str, *, region: str = "", zone: str = "", sub_zone: str = "") -> bool:
    r, z, s = split_locality(locality)
    return (not region or r == region) and (not zone or z == zone) and (not sub_zone or s == sub_zone)


def resolve_zone(g: MeshGraph, text: str, *, what: str = "zone") -> str:
    """``REGION/ZONE[/SUB_ZONE]`` as given, or a bare ZONE completed with the one region that has it
    (among the graph's pod and endpoint localities)."""
    if "/" in text:
        return text.strip("/")
    known = set(g.endpoint_localities()) | {p["locality"] for p in g.pods() if p["locality"]}
    regions = sorted({split_locality(loc)[0] for loc in known if split_locality(loc)[1] == text})
    if len(regions) == 1:
        return f"{regions[0]}/{text}"
    if not regions:
        raise TopoError(f"no pod or endpoint of the graph is in {what} {text!r} "
                        f"(known: {', '.join(sorted(known)) or 'no localities at all'})", 2)
    raise TopoError(f"{what} {text!r} is in several regions ({', '.join(regions)}): give REGION/{text}", 2)


@dataclass
class Relocation:
    """The endpoints a cluster would have for a caller at ``target`` instead of the source's locality."""

    source: str
    target: str
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def relocate_to(g: MeshGraph, source_locality: str, target: str) -> tuple[Relocation,
                                                                          Callable[[Props, list[Props]], list[Props]]]:
    """A hook for :class:`~topo.queries.walk.Walker` (``relocate``): each cluster's endpoints as a
    caller at ``target`` gets them."""
    rel = Relocation(source_locality, target)
    # pods at the target locality, and their configs' clusters by name (the sibling's own EDS)
    there = sorted((p for p in g.pods() if p["locality"] and matches(
        p["locality"], **dict(zip(("region", "zone", "sub_zone"), split_locality(target), strict=True)))),
        key=lambda p: p["id"])
    sibling_clusters: dict[str, dict[str, Props]] = {}

    def clusters_of(config: str) -> dict[str, Props]:
        got = sibling_clusters.get(config)
        if got is None:
            got = sibling_clusters[config] = {c["name"]: c for c in g.config_clusters(config)
                                              if c["state"] in ("static", "active", "error")}
        return got

    def hook(cl: Props, eps: list[Props]) -> list[Props]:
        if not eps or len({e["locality"] or "" for e in eps}) < 2 and not any(e["priority"] for e in eps):
            return eps  # one locality and one priority: where the caller sits changes nothing
        for p in there:
            other = clusters_of(p["config"]).get(cl["name"])
            if other is not None:
                rel.note(f"{cl['name']}: endpoints as istiod sends them to {p['id']} (in {p['locality']})")
                return g.endpoints(other["key"])
        return _by_rule(rel, cl, eps)

    return rel, hook


def _by_rule(rel: Relocation, cl: Props, eps: list[Props]) -> list[Props]:
    locs = sorted({e["locality"] or "" for e in eps})
    dumped: dict[str, int] = {}
    for e in eps:
        dumped.setdefault(e["locality"] or "", int(e["priority"] or 0))
    own = default_priorities(rel.source, locs)
    name = cl["name"]
    if all(p == 0 for p in dumped.values()) and len(set(own.values())) > 1:
        # no failover in force (no outlier detection, or locality LB off): every caller gets one priority
        rel.note(f"{name}: one priority for every locality (no locality failover): the caller's zone changes no "
                 "priority")
        out = eps
    elif dumped != own:
        rel.note(f"{name}: its priorities are not Istio's default locality order from {rel.source} (failoverPriority "
                 "labels or failover rules): they are kept as dumped")
        out = eps
    else:
        want = default_priorities(rel.target, locs)
        out = [{**e, "priority": want[e["locality"] or ""]} for e in eps]
        rel.note(f"{name}: priorities ranked again from {rel.target} by Istio's locality order "
                 "(failover rules for other regions are not in the dump)")
    weights: dict[str, int] = {}
    sums: dict[str, int] = {}
    for e in eps:
        loc = e["locality"] or ""
        weights[loc] = max(weights.get(loc, 0), int(e["locality_weight"] or 0))
        sums[loc] = sums.get(loc, 0) + int(e["weight"] or 1)
    if cl["locality_weighted"] and any(weights[loc] and weights[loc] != sums[loc] for loc in weights):
        rel.note(f"{name}: its locality weights come from a distribute rule for {rel.source}; whether one applies to "
                 f"{rel.target} is not in this dump (ingest a pod there to know): kept as dumped")
    return out
