"""``topo diff --behavior A B``: the request classes whose outcome, chain or cluster shares changed.

Batfish's ``differentialReachability`` compares two snapshots over the whole packet space; this
compares them over the request space that the route configs of both snapshots define
(:mod:`topo.queries.search`): for each source workload, every example request of either side is
answered on both sides, exactly as ``topo path`` answers it, and the answers are compared: the
outcome (dead ends and their shares), the chain (listener, filter chain, route config, vhost,
route) and each cluster's share. A workload whose pods run several proxy configs gets each
config's answer weighted by its pods, as ``topo diff`` does.

Worst first: a class that was delivered in full and now dies, then the ones whose dead share grew
(most first), then changed chains, then moved cluster shares, then improvements.

**Cost.** Answers depend only on a config's outbound resources (listeners, route configs and
clusters, content-addressed), and those are shared by many configs: each distinct set of them is
answered once per side, and a workload whose configs have the same outbound resources on both
sides is not answered at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from topo.queries.diff import _dest_host_ok, _source_matcher, workloads_of
from topo.queries.path import answer
from topo.queries.resolve import SourceGroup
from topo.queries.search import Probe, classify, request_space
from topo.queries.search import _key as probe_key
from topo.stores.hops import MeshGraph, Props
from topo.util import pct

EPS = 1e-9
RANKS = ("broken", "worse", "rerouted", "shifted", "better")


@dataclass
class ClassState:
    """One request class on one side, over a workload's pods."""

    outcome: str  # ok, partial, dead_end
    dead_ends: dict[str, float]
    clusters: dict[str, float]
    chains: list[list[str]]  # the hop sequences its pods' configs take (one, unless they differ)
    route: str  # listener › route config › vhost › route, as the first config sees it


@dataclass
class BehaviorChange:
    sources: list[str]  # source workloads (ns/workload) that see this change
    request: dict[str, Any]
    command: str  # `topo path` of the example (add --snapshot A or B)
    rank: str  # broken, worse, rerouted, shifted, better
    before: ClassState
    after: ClassState
    changes: list[str]
    text: str


@dataclass
class BehaviorResult:
    a: str
    b: str
    source: str | None
    destination: str | None
    changes: list[BehaviorChange]
    classes: int  # distinct (workload, request class) pairs compared
    sources_only_in_a: list[str] = field(default_factory=list)
    sources_only_in_b: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.changes)


# ---------------------------------------------------------------- one side
class _Side:
    def __init__(self, g: MeshGraph) -> None:
        self.g = g
        self.workloads = workloads_of(g)
        self._sig: dict[str, tuple[Any, ...]] = {}
        self._probes: dict[tuple[Any, ...], list[Probe]] = {}
        self._answers: dict[tuple[tuple[Any, ...], tuple[Any, ...]], Any] = {}
        self._rep: dict[tuple[Any, ...], SourceGroup] = {}

    def signature(self, config: str) -> tuple[Any, ...]:
        """What an outbound answer depends on: the config's listeners, route configs and clusters by key
        (its own inbound side left out)."""
        got = self._sig.get(config)
        if got is None:
            g = self.g
            got = self._sig[config] = (
                tuple(l["key"] for l in g.listeners(config) if l["direction"] != "INBOUND"
                      and l["name"] != "virtualInbound"),
                tuple(r["key"] for r in g.route_configs(config) if not (r["name"] or "").startswith("inbound|")),
                tuple(c["key"] for c in g.config_clusters(config) if not c["name"].startswith("inbound|")),
            )
        return got

    def group(self, config: str, pods: list[Props]) -> SourceGroup:
        p = pods[0]
        sig = self.signature(config)
        if sig not in self._rep:
            self._rep[sig] = SourceGroup(config, [q["id"] for q in pods], p["namespace"],
                                         p["cluster_domain"] or "cluster.local", p["istio_version"] or "",
                                         p["locality"] or "")
        return self._rep[sig]

    def probes(self, config: str) -> list[Probe]:
        sig = self.signature(config)
        got = self._probes.get(sig)
        if got is None:
            got = self._probes[sig] = request_space(self.g, config)
        return got

    def answer(self, config: str, pods: list[Props], probe: Probe) -> Any:
        sig = self.signature(config)
        k = (sig, probe_key(probe.req))
        got = self._answers.get(k)
        if got is None:
            grp = self.group(config, pods)
            got = self._answers[k] = classify(answer(self.g, grp, probe.req, details=False), probe)
        return got

    def state(self, wl: str, probe: Probe) -> ClassState:
        configs = self.workloads[wl]
        total = sum(len(p) for p in configs.values())
        dead: dict[str, float] = {}
        clusters: dict[str, float] = {}
        chains: list[list[str]] = []
        route = ""
        for config, pods in sorted(configs.items(), key=lambda kv: kv[1][0]["id"]):
            w = len(pods) / total
            c = self.answer(config, pods, probe)
            for f, s in c.dead_ends.items():
                dead[f] = dead.get(f, 0.0) + w * s
            for n, s in c.clusters.items():
                clusters[n] = clusters.get(n, 0.0) + w * s
            if c.chain not in chains:
                chains.append(c.chain)
            route = route or " › ".join(x for x in (c.listener, c.route_config, c.vhost, c.route) if x)
        dsum = sum(dead.values())
        outcome = "ok" if dsum <= EPS else "dead_end" if dsum >= 1 - EPS else "partial"
        return ClassState(outcome, {k: round(v, 12) for k, v in sorted(dead.items())},
                          {k: round(v, 12) for k, v in sorted(clusters.items())}, sorted(chains), route)


# ---------------------------------------------------------------- comparing
def _compare(x: ClassState, y: ClassState) -> tuple[str, float, list[str]] | None:
    out: list[str] = []
    dx, dy = sum(x.dead_ends.values()), sum(y.dead_ends.values())
    for f in sorted(set(x.dead_ends) | set(y.dead_ends)):
        da, db = x.dead_ends.get(f, 0.0), y.dead_ends.get(f, 0.0)
        if abs(da - db) > EPS:
            out.append(f"{f} {pct(da)} → {pct(db)}")
    chain_changed = x.chains != y.chains
    if chain_changed:
        if x.route != y.route:
            out.append(_tail_change(x.route, y.route))
        else:
            out.append("chain " + " / ".join(" › ".join(h.split(" ", 1)[1] for h in c) for c in x.chains)
                       + " → " + " / ".join(" › ".join(h.split(" ", 1)[1] for h in c) for c in y.chains))
    moved = 0.0
    for n in sorted(set(x.clusters) | set(y.clusters)):
        ca, cb = x.clusters.get(n), y.clusters.get(n)
        if ca is None or cb is None or abs(ca - cb) > EPS:
            moved += abs((ca or 0.0) - (cb or 0.0))
            out.append(f"cluster {n} {'–' if ca is None else pct(ca)} → {'–' if cb is None else pct(cb)}")
    if not out:
        return None
    if dx <= EPS and dy >= 1 - EPS:
        return "broken", dy, out
    if dy > dx + EPS:
        return "worse", dy - dx, out
    if chain_changed and dy >= dx - EPS:
        return "rerouted", moved, out
    if dy < dx - EPS:
        return "better", dx - dy, out
    return "shifted", moved, out


def _tail_change(a: str, b: str) -> str:
    """``listener › rc › vhost › default`` → ``… › (no route)`` as ``… vhost: route default → (no route)``."""
    pa, pb = a.split(" › ") if a else [], b.split(" › ") if b else []
    i = 0
    while i < min(len(pa), len(pb)) - 1 and pa[i] == pb[i]:
        i += 1
    head = f"{pa[i - 1]}: " if i else ""
    return f"{head}{' › '.join(pa[i:]) or '(none)'} → {' › '.join(pb[i:]) or '(none)'}"


def behavior_diff(a: MeshGraph, b: MeshGraph, src: str | None = None, dst: str | None = None,
                  a_name: str = "A", b_name: str = "B") -> BehaviorResult:
    """Request classes whose behaviour differs from graph ``a`` to graph ``b`` (SRC: source workloads;
    DST: a service host or host:port the example request is for)."""
    sa, sb = _Side(a), _Side(b)
    keep = _source_matcher(src, (sa, sb))  # type: ignore[arg-type]
    dest_ok = _dest_filter(dst, {**_vip_hosts(a), **_vip_hosts(b)})
    res = BehaviorResult(a_name, b_name, src, dst, [], 0,
                         sorted(w for w in sa.workloads if w not in sb.workloads and keep(w)),
                         sorted(w for w in sb.workloads if w not in sa.workloads and keep(w)))
    grouped: dict[tuple[Any, ...], BehaviorChange] = {}
    magnitude: dict[tuple[Any, ...], float] = {}
    for wl in sorted(w for w in sa.workloads if w in sb.workloads and keep(w)):
        ca, cb = sa.workloads[wl], sb.workloads[wl]
        if (sorted((sa.signature(c), len(p)) for c, p in ca.items())
                == sorted((sb.signature(c), len(p)) for c, p in cb.items())):
            continue  # the same outbound resources, as many pods: the same answers
        probes: dict[tuple[Any, ...], Probe] = {}
        for side, configs in ((sa, ca), (sb, cb)):
            for c in sorted(configs):
                for p in side.probes(c):
                    probes.setdefault(probe_key(p.req), p)
        for k in sorted(probes, key=_sortable):
            probe = probes[k]
            if not dest_ok(probe.req.host, probe.req.ip, probe.req.port):
                continue
            res.classes += 1
            x, y = sa.state(wl, probe), sb.state(wl, probe)
            got = _compare(x, y)
            if got is None:
                continue
            rank, size, changes = got
            first_pods = next(iter(sorted(cb.values(), key=lambda ps: ps[0]["id"])))
            cls = sb.answer(sorted(cb, key=lambda c: cb[c][0]["id"])[0], first_pods, probe)
            text = "; ".join(changes)
            gk = (k, rank, text, tuple(map(tuple, x.chains)), tuple(map(tuple, y.chains)))
            have = grouped.get(gk)
            if have is None:
                grouped[gk] = BehaviorChange([wl], cls.request, cls.command, rank, x, y, changes, text)
                magnitude[gk] = size
            else:
                have.sources.append(wl)
    order = {r: i for i, r in enumerate(RANKS)}
    res.changes = [grouped[k] for k in sorted(grouped, key=lambda k: (
        order[grouped[k].rank], -magnitude[k], grouped[k].sources[0], _sortable(k[0])))]
    return res


def _sortable(k: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple("" if x is None else str(x) for x in k)


def _vip_hosts(g: MeshGraph) -> dict[str, str]:
    return {v: s["fqdn"] for s in g.services() for v in s["vips"] or []}


def _dest_filter(dst: str | None, by_vip: dict[str, str]) -> Callable[[str, str | None, int], bool]:
    """DST as a test on an example request: its Host, or (tcp, no Host) the service of its IP."""
    if not dst:
        return lambda host, ip, port: True
    host_ok, port = _dest_host_ok(dst)

    def ok(host: str, ip: str | None, p: int) -> bool:
        h = host.lower().rsplit(":", 1)[0] if host.count(":") == 1 else host.lower()
        return (host_ok(h) or host_ok(by_vip.get(ip or "", ""))) and (port is None or p == port)

    return ok
