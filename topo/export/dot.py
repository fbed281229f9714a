"""Diagrams of the questions' answers, as :class:`graphviz.Digraph` objects.

One builder per kind: :func:`path_graph` (a ``PathResult``), :func:`egress_graph` (a
``ReachResult``), :func:`mesh_graph` (a ``MeshModel``) and
:func:`blast_graph` (a ``BlastResult``). Each fills a :class:`Scene` keyed by what the
answer names (never by the user's text as an identifier); the scene then emits DOT with
nodes, clusters and edges sorted and numbered (``n0001`` …) in that order, so the same
answer always gives byte-identical DOT. Every label goes through :mod:`topo.export.style`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import graphviz

from topo.export import style
from topo.export.style import fold, label, pct
from topo.model.names import subset_of
from topo.queries.blast import BlastResult
from topo.queries.diff import DiffResult
from topo.queries.envoy import UNLIMITED, cluster_settings_text, route_settings_text
from topo.queries.mesh import MeshModel, MeshService, Split
from topo.queries.path import PathResult
from topo.queries.reach import FAULT, ReachEntry, ReachResult

MAX_PODS = 6  # source pods listed in one node
MAX_ENDPOINTS = 8  # endpoints drawn per cluster in an egress diagram
EGRESS_COLLAPSE = 40  # more destinations than this: one edge per service (unless detail)
MAX_EDGE_LINES = 6
WRAP = 44
EPS = 1e-12
LEGEND_ROW = 5  # legend entries a row

Key = tuple[Any, ...]

HOP_KIND = {"listener": "listener", "handoff": "listener", "filter_chain": "chain", "route_config": "route_config",
            "virtual_host": "vhost", "route": "route"}


# ---------------------------------------------------------------- the scene
def _sk(v: Any) -> tuple[Any, ...]:
    """A total order over keys that mix ints, floats, strings, None and tuples."""
    if v is None:
        return (0,)
    if isinstance(v, bool | int | float):
        return (1, float(v))
    if isinstance(v, str):
        return (2, v)
    if isinstance(v, tuple):
        return (3, tuple(_sk(x) for x in v))
    raise TypeError(f"unsortable key part {v!r}")


@dataclass
class _Node:
    kind: str
    label: str
    group: Key | None
    attrs: dict[str, str]


@dataclass
class _Group:
    label: str
    parent: Key | None
    attrs: dict[str, str]


@dataclass
class Scene:
    title: str
    nodes: dict[Key, _Node] = field(default_factory=dict)
    edges: dict[tuple[Key, Key], tuple[str, dict[str, str]]] = field(default_factory=dict)
    groups: dict[Key, _Group] = field(default_factory=dict)
    subsets: set[str] = field(default_factory=set)
    columns: list[list[Key]] = field(default_factory=list)  # nodes drawn in one column (same rank)

    def column(self, keys: Sequence[Key]) -> None:
        if len(keys) > 1:
            self.columns.append(list(keys))

    def group(self, key: Key, lbl: str, parent: Key | None = None, **attrs: str) -> Key:
        self.groups.setdefault(key, _Group(lbl, parent, attrs))
        return key

    def node(self, key: Key, kind: str, lbl: str, group: Key | None = None, subset: str | None = None,
             **attrs: str) -> Key:
        if key not in self.nodes:
            self.nodes[key] = _Node(kind, lbl, group, {**style.node_attrs(kind, subset), **attrs})
            if subset is not None and kind == "cluster":
                self.subsets.add(subset)
        return key

    def edge(self, a: Key, b: Key, lbl: str = "", **attrs: str) -> None:
        """One edge a pair (the first one drawn wins)."""
        self.edges.setdefault((a, b), (lbl, attrs))

    def digraph(self) -> graphviz.Digraph:
        ids = {k: f"n{i:04d}" for i, k in enumerate(sorted(self.nodes, key=_sk), 1)}
        gids = {k: f"cluster_{i:02d}" for i, k in enumerate(sorted(self.groups, key=_sk), 1)}
        members: dict[Key | None, list[Key]] = {}
        for k in sorted(self.nodes, key=_sk):
            members.setdefault(self.nodes[k].group, []).append(k)
        children: dict[Key | None, list[Key]] = {}
        for gk in sorted(self.groups, key=_sk):
            children.setdefault(self.groups[gk].parent, []).append(gk)

        dg = graphviz.Digraph("topo", graph_attr=style.GRAPH_ATTRS, node_attr=style.NODE_ATTRS,
                              edge_attr=style.EDGE_ATTRS)
        dg.attr(label=label(self.title), labelloc="t", fontsize="16")

        col_of = {k: j for j, col in enumerate(self.columns) for k in col}

        def fill(sub: graphviz.Digraph, gk: Key | None) -> None:
            done: set[int] = set()
            for k in members.get(gk, []):
                if k in col_of:
                    j = col_of[k]
                    if j not in done:
                        done.add(j)
                        with sub.subgraph() as r:
                            r.attr(rank="same")
                            for ck in sorted(self.columns[j], key=_sk):
                                r.node(ids[ck], self.nodes[ck].label, **self.nodes[ck].attrs)
                    continue
                n = self.nodes[k]
                sub.node(ids[k], n.label, **n.attrs)
            for ck in children.get(gk, []):
                grp = self.groups[ck]
                with sub.subgraph(name=gids[ck]) as c:
                    c.attr(label=grp.label, **{"style": "rounded", "color": "#9e9e9e", "fontcolor": style.INK,
                                               **grp.attrs})
                    fill(c, ck)

        fill(dg, None)
        for (a, b), (lbl, attrs) in sorted(self.edges.items(), key=lambda kv: (ids[kv[0][0]], ids[kv[0][1]])):
            dg.edge(ids[a], ids[b], lbl or None, **attrs)
        self._legend(dg)
        return dg

    def _legend(self, dg: graphviz.Digraph) -> None:
        entries = style.legend_entries({n.kind for n in self.nodes.values()}, self.subsets)
        if not entries:
            return
        with dg.subgraph(name="cluster_legend") as c:
            c.attr(label="legend", style="rounded,dashed", color="#bdbdbd", fontcolor=style.GREY, fontsize="11")
            for nid, text, attrs in entries:
                c.node(nid, label(text), **{**attrs, "fontsize": "9", "height": "0.3", "margin": "0.06,0.02"})
            for row in range(0, len(entries), LEGEND_ROW):
                ids = [e[0] for e in entries[row:row + LEGEND_ROW]]
                for a, b in zip(ids, ids[1:], strict=False):
                    c.edge(a, b, style="invis")


# ---------------------------------------------------------------- helpers
def wrap(s: str, width: int = WRAP) -> list[str]:
    """Prose on lines of ``width``; a long name inside it folded at its separators."""
    words = [part for w in s.split(" ") for part in (fold(w, width) if len(w) > width else [w])]
    return textwrap.wrap(" ".join(words), width, break_long_words=False, break_on_hyphens=False) or [s]


def cluster_lines(name: str) -> list[str]:
    """``outbound|9000|v1|fqdn`` on two lines (the fqdn alone on the second)."""
    if name.count("|") == 3:
        head, _, fqdn = name.rpartition("|")
        return [head + "|", *fold(fqdn)]
    return fold(name)


def pods_lines(pods: Sequence[str]) -> list[str]:
    """Pod ids (``ns/name``) under their namespace: ``ns/`` then one name a line."""
    out: list[str] = []
    ns_seen = None
    for p in pods[:MAX_PODS]:
        ns, sep, name = p.rpartition("/")
        if sep and ns != ns_seen:
            out.append(ns + "/")
            ns_seen = ns
        out.append(name)
    if len(pods) > MAX_PODS:
        out.append(f"+{len(pods) - MAX_PODS} more pods")
    return out


def width(share: float) -> str:
    return f"{1 + 3 * max(min(share, 1.0), 0.0):.2f}"


def _sub_edge(subset: str, share: float) -> dict[str, str]:
    return {"color": style.subset_colour(subset), "penwidth": width(share)}


def _tooltip(istio: Sequence[str], settings: str) -> dict[str, str]:
    """A node's SVG tooltip: the Istio objects behind it, then its settings (one per line)."""
    lines = [*istio, *settings.split(" · ")] if settings else list(istio)
    return {"tooltip": label(*lines)} if lines else {}


def _route_edge(st: dict[str, Any]) -> dict[str, str]:
    """Label the edge into a route with what differs from "no timeout, no retries" (Istio sets both
    explicitly): ``timeout 5s``, ``3 retries``; the whole policy in the edge's tooltip."""
    marks = []
    if st.get("timeout_s"):
        marks.append(f"timeout {st['timeout']}")
    r = st.get("retry")
    if r and r["num_retries"]:
        marks.append(f"{r['num_retries']} retr{'y' if r['num_retries'] == 1 else 'ies'}"
                     + (f" × {r['per_try_timeout']}" if r["per_try_timeout"] else ""))
    out = {"tooltip": label(*route_settings_text(st).split(" · "))}
    if marks:  # an xlabel: placed beside the (vertical) edge, not across it
        out.update(xlabel=label(" · ".join(marks)), fontcolor=style.GREY, fontsize="10")
    return out


def _cluster_marks(st: dict[str, Any] | None) -> list[str]:
    """What protects a cluster, briefly, under its weight on the edge: outlier detection, finite limits."""
    if not st:
        return []
    marks = []
    od = st.get("outlier_detection")
    if od:
        marks.append(f"eject {od['consecutive_5xx']}×5xx")
    cb = st["circuit_breakers"]
    finite = sorted((cb[k], w) for k, w in (("max_connections", "conn"), ("max_pending_requests", "pending"),
                                             ("max_requests", "req")) if cb[k] < UNLIMITED)
    if finite and not st.get("circuit_breakers_default"):
        marks.append(f"≤{finite[0][0]} {finite[0][1]}")  # the tightest limit; the tooltip has them all
    return [" · ".join(marks)] if marks else []


def _dead(reason: str, flag: str, share: float) -> str:
    return label(f"{flag} · {pct(share)}", *wrap(reason, 30))


# ---------------------------------------------------------------- path
def path_graph(res: PathResult) -> graphviz.Digraph:
    s = Scene(f"topo path {res.source} → {res.destination}")
    n = len(res.answers)
    for i, a in enumerate(res.answers):
        r = a.request
        if r["protocol"] == "http":
            req = f"{r['method']} {r['host']}{r['path']} → {r['ip'] or '*'}:{r['port']}"
        else:
            req = f"tcp → {r['ip'] or '*'}:{r['port']}"
        dead = sum(d.share for d in a.dead_ends)
        outcome = {"ok": "every request delivered", "partial": f"{pct(dead)} of requests die",
                   "dead_end": "every request dies"}.get(a.outcome, a.outcome)
        if a.unsupported and a.outcome == "ok":
            taken = pct(sum(u.share for u in a.unsupported))
            outcome = f"no dead end topo can see (a filter it does not follow takes {taken})"
        if a.endpoints_unknown:
            if a.outcome == "ok" and not a.unsupported:
                outcome = "no dead end"
            outcome += f"; endpoints unknown for {pct(a.endpoints_unknown)} (no EDS in the dump)"
        head = f"config {i + 1} of {n}: " if n > 1 else ""
        grp = s.group((i,), label(f"{head}{req}", outcome, *a.notes, left=True))
        src = s.node((i, 0), "pod", label(*pods_lines(a.pods)), grp)
        last = src
        hops: list[Key] = []
        for j, h in enumerate(a.hops):
            kind = HOP_KIND.get(h.kind, "listener")
            lines = fold(h.name if not h.name.startswith("#") else f"chain {h.name}")
            if h.detail and h.detail.replace(":", "_") != h.name:
                lines += wrap(h.detail, 30)
            if h.kind == "handoff":
                lines.insert(0, "hand-off")
            tip = _tooltip(h.istio, route_settings_text(h.settings) if h.settings else "")
            cur = s.node((i, 1, j), kind, label(*lines), grp, **tip)
            # the route's timeout and retries ride on the edge into it (hover: the whole policy)
            into = _route_edge(h.settings) if h.settings else {}
            if hops:  # one column, read downwards (in LR a flat edge runs bottom to top: draw it reversed)
                s.edge(cur, last, dir="back", **into)
            else:
                s.edge(last, cur, **into)
            hops.append(cur)
            last = cur
        s.column(hops)
        by_cluster: dict[str, Key] = {}
        for c_i, c in enumerate(a.clusters):
            sub = subset_of(c.name)
            extra = {"style": "filled,dashed"} if not c.exists else {}
            settings = cluster_settings_text(c.settings) if c.settings else ""
            ck = s.node((i, 2, c_i), "cluster", label(*cluster_lines(c.name)), grp, subset=sub, **extra,
                        **_tooltip(c.istio, settings))
            by_cluster[c.name] = ck
            marks = _cluster_marks(c.settings)
            s.edge(last, ck, label(pct(c.fraction), *marks), **_sub_edge(sub, c.share), fontsize="13",
                   **({"tooltip": label(*settings.split(" · "))} if settings else {}),
                   **({"minlen": "2"} if marks else {}))  # room for the second line, clear of the arrowhead
            if c.endpoints_unknown:
                uk = s.node((i, 3, c_i, 0.0, "~unknown"), "unknown", label("endpoints unknown", "(dump without EDS)",
                                                                      pct(c.share)), grp)
                s.edge(ck, uk, style="dashed", penwidth=width(c.share))
            for e in c.endpoints:
                lines = [e.address, pct(e.share)]
                if e.health not in ("HEALTHY", "UNKNOWN", ""):
                    lines.append(e.health)
                if e.priority:
                    lines.append(f"priority {e.priority}")
                ek = s.node((i, 3, c_i, -e.share, e.address), "endpoint", label(*lines), grp, subset=sub)
                s.edge(ck, ek, **_sub_edge(sub, e.share))
                if e.pod:
                    s.edge(ek, s.node((i, 4, e.pod), "pod", label(*fold(e.pod)), grp), **_sub_edge(sub, e.share))
        for m_i, m in enumerate(a.mirrors):
            mk = s.node((i, 2, len(a.clusters) + m_i), "mirror",
                        label(*cluster_lines(m.cluster), *([] if m.exists else ["not in the config: dropped"])), grp)
            s.edge(last, mk, label(f"mirror {pct(m.share)}"), style="dashed", penwidth=width(m.share))
        for u in a.unsupported:
            uk = s.node((i, 6, u.filter, u.chain), "unknown", label("unsupported:", *fold(u.filter), pct(u.share)), grp)
            s.edge(last, uk, style="dashed", penwidth=width(u.share))
        for d in a.dead_ends:
            on_cluster = d.object in by_cluster and any(c.name == d.object and c.flag for c in a.clusters)
            # hung on its cluster's node, the reason need not repeat the cluster's (long) name
            reason = d.reason.replace(f"cluster {d.object}", "the cluster").replace(d.object, "the cluster") \
                if on_cluster else d.reason
            dk = s.node((i, 5, d.flag, d.object, d.reason), "dead_end", _dead(reason, d.flag, d.share), grp)
            s.edge(by_cluster[d.object] if on_cluster else last, dk, color=style.RED, penwidth=width(d.share))
    return s.digraph()


# ---------------------------------------------------------------- egress
def _route_lines(e: ReachEntry) -> list[str]:
    port = e.destination.rpartition(":")[2]
    lines = [f":{port} {e.route}"]
    if e.match:
        lines += wrap(e.match)
    return lines


def egress_graph(res: ReachResult, *, detail: bool = False, collapse_over: int = EGRESS_COLLAPSE) -> graphviz.Digraph:
    s = Scene(f"topo egress {res.source}")
    n = len(res.answers)
    for i, a in enumerate(res.answers):
        dests = {e.destination for e in a.entries}
        collapse = not detail and len(dests) > collapse_over
        head = f"config {i + 1} of {n}: " if n > 1 else ""
        summary = f"{len(dests)} destination" + ("s" if len(dests) != 1 else "")
        if collapse:
            summary += " (one edge per service; --detail for routes)"
        note = "" if collapse else "edge %: route weight; endpoint %: its share of the cluster"
        grp = s.group((i,), label(f"{head}{summary}", note, left=True))
        src = s.node((i, 0), "pod", label(*pods_lines(a.pods)), grp)
        if not a.entries:
            s.edge(src, s.node((i, 9), "more", label("routes to nothing"), grp), style="dashed")
            continue
        if collapse:
            _egress_services(s, i, grp, src, a.entries)
        else:
            _egress_detail(s, i, grp, src, a.entries)
    return s.digraph()


def _egress_services(s: Scene, i: int, grp: Key, src: Key, entries: list[ReachEntry]) -> None:
    routes: dict[str, set[tuple[str, str]]] = {}
    flags: dict[str, set[str]] = {}
    for e in entries:
        svc = e.service_host
        routes.setdefault(svc, set()).add((e.destination, e.route))
        if e.flag:
            flags.setdefault(svc, set()).add(e.flag)
    for svc in sorted(routes):
        k = s.node((i, 1, svc), "service", label(*fold(svc)), grp)
        nr = len(routes[svc])
        lines = [f"{nr} route" + ("s" if nr != 1 else "")]
        attrs: dict[str, str] = {}
        if svc in flags:
            lines.append("dead end: " + ", ".join(sorted(flags[svc])))
            attrs = {"color": style.RED, "fontcolor": style.RED}
        s.edge(src, k, label(*lines), **attrs)


def _egress_detail(s: Scene, i: int, grp: Key, src: Key, entries: list[ReachEntry]) -> None:
    shown: dict[tuple[str, str], int] = {}
    hidden: dict[tuple[str, str], int] = {}
    for e in entries:
        svc = e.service_host
        sg = s.group((i, svc), label(svc), parent=grp, style="rounded,filled", fillcolor="#fafafa")
        rk = s.node((i, 1, svc, e.destination, e.route), "route", label(*_route_lines(e)), sg)
        s.edge(src, rk)
        if e.cluster == FAULT:  # the route's fault filter aborts these before any cluster
            dk = s.node((i, 4, svc, e.destination, e.route, "FI"), "dead_end", label(f"FI · {pct(e.share)}"), sg)
            s.edge(rk, dk, color=style.RED)
            continue
        sub = subset_of(e.cluster)
        ck = s.node((i, 2, svc, e.cluster), "cluster", label(*cluster_lines(e.cluster)), sg, subset=sub)
        s.edge(rk, ck, label(pct(e.cluster_fraction)), **_sub_edge(sub, e.cluster_fraction), fontsize="13")
        if e.endpoint is None and e.endpoints_unknown:
            uk = s.node((i, 4, svc, e.cluster, "~unknown"), "unknown", label("endpoints unknown"), sg)
            s.edge(ck, uk, style="dashed")
            continue
        if e.endpoint is None:
            dk = s.node((i, 4, svc, e.cluster, e.flag), "dead_end", label(e.flag or "dead end"), sg)
            s.edge(ck, dk, color=style.RED)
            continue
        cl = (svc, e.cluster)
        ek = (i, 3, svc, e.cluster, e.endpoint)
        if ek not in s.nodes and shown.get(cl, 0) >= MAX_ENDPOINTS:
            hidden[cl] = hidden.get(cl, 0) + 1
            continue
        if ek not in s.nodes:
            shown[cl] = shown.get(cl, 0) + 1
        within = e.share / e.cluster_fraction if e.cluster_fraction else 0.0
        pod_ns, _, pod_name = (e.pod or "").rpartition("/")
        same_ns = pod_ns and svc.split(".")[1:2] == [pod_ns]
        lines = [e.endpoint, *fold(pod_name if same_ns else e.pod or ""), pct(within)]
        s.node(ek, "endpoint", label(*lines), sg, subset=sub)
        s.edge(ck, ek, **_sub_edge(sub, within))
    for (svc, cluster), k in sorted(hidden.items()):
        mk = s.node((i, 3, svc, cluster, "~more"), "more", label(f"+{k} more endpoints"), (i, svc))
        s.edge((i, 2, svc, cluster), mk, style="dashed")


# ---------------------------------------------------------------- mesh
def _short(fqdn: str, ns: str) -> str:
    parts = fqdn.split(".")
    return parts[0] if ns and len(parts) >= 4 and parts[1] == ns and parts[2] == "svc" else fqdn


def _service_lines(fq: str, sv: MeshService) -> list[str]:
    protos: dict[int, set[str]] = {}
    for port, proto in sv.ports:
        protos.setdefault(port, set()).add(proto)
    lines = [*fold(_short(fq, sv.namespace)),
             ", ".join(f":{p} {'/'.join(sorted(v))}" for p, v in sorted(protos.items()))]
    backs = sorted(sv.backends.items())
    for (ns, wl), subsets in backs[:MAX_EDGE_LINES - 1]:
        named = ", ".join(sorted(x for x in subsets if x))
        lines.append(f"→ {wl if ns == sv.namespace else f'{ns}/{wl}'}" + (f" ({named})" if named else ""))
    if len(backs) > MAX_EDGE_LINES - 1:
        lines.append(f"→ +{len(backs) - MAX_EDGE_LINES + 1} more workloads")
    return lines


def _split_text(split: Split) -> str:
    """``v1 90% / v2 10%``."""
    return " / ".join(f"{subset} {pct(f)}" + (f" {fl}" if fl else "") for subset, f, fl in split)


def mesh_graph(m: MeshModel) -> graphviz.Digraph:
    namespace = m.namespace
    s = Scene("topo mesh" + (f" -n {namespace}" if namespace else " (all namespaces)")
              + ": workload → service, from config")
    for ns in sorted({w[0] for w in m.workloads} | {sv.namespace for sv in m.services.values()}):
        if ns:
            s.group((ns,), label(f"namespace {ns}", left=True), style="rounded,filled", fillcolor="#fafafa")
    for (ns, wl), n in sorted(m.workloads.items()):
        s.node((0, ns, wl), "workload", label(*fold(wl), f"{n} pod" + ("s" if n != 1 else "")), (ns,) if ns else None)
    for fq, sv in sorted(m.services.items()):
        s.node((1, sv.namespace, fq), "service", label(*_service_lines(fq, sv)),
               (sv.namespace,) if sv.namespace else None)
    for ((wns, wl), fq), me in sorted(m.calls.items()):
        sv = m.services[fq]
        ports = {p for p, _ in sv.ports}
        lines = [(f":{p} " if len(ports) > 1 else "") + t for p, t in sorted((p, _split_text(sp)) for p, sp in me.splits)]
        if len(lines) > MAX_EDGE_LINES:
            lines = [*lines[:MAX_EDGE_LINES - 1], f"+{len(lines) - MAX_EDGE_LINES + 1} more"]
        # plain routing recedes; a split (or a dead end) stands out, its label tied to it
        if me.flags:
            attrs = {"color": style.RED, "fontcolor": style.RED, "penwidth": "2"}
        elif lines:
            attrs = {"color": style.SPLIT, "fontcolor": style.SPLIT, "penwidth": "2"}
        else:
            attrs = {"color": style.PLAIN, "penwidth": "1.2"}
        if lines:
            attrs["decorate"] = "true"
        s.edge((0, wns, wl), (1, sv.namespace, fq), label(*lines), **attrs)
    return s.digraph()


# ---------------------------------------------------------------- blast
def blast_graph(res: BlastResult) -> graphviz.Digraph:
    s = Scene(f"topo blast {'--' + res.kind + ' ' if res.kind in ('zone', 'region', 'node') else ''}{res.target}")
    failed = list(res.failed_endpoints[:MAX_PODS])
    if len(res.failed_endpoints) > MAX_PODS:
        failed.append(f"+{len(res.failed_endpoints) - MAX_PODS} more endpoints")
    tgt = s.node((9,), "target", label(res.kind, *fold(res.target), "fails:", *failed))
    if not res.rows:
        s.edge(s.node((0,), "more", label("no source routes to it")), tgt, style="dashed")
    via: dict[Key, set[str]] = {}
    for r in res.rows:
        src = s.node((0, tuple(r.pods)), "pod", label(*pods_lines(r.pods)))
        rk = s.node((1, r.destination, r.route), "route", label(*fold(r.destination), r.route))
        lines = []
        if r.lost > EPS:
            lines.append(f"loses {pct(r.lost)}" + (" (all of it)" if r.fails_outright else "")
                         + (f" {','.join(r.flags)}" if r.flags else ""))
        if r.moved > EPS:
            # where it lands, when priorities or localities tell places apart
            where = [f"P{m.priority} {m.locality}".strip() for m in r.moved_to
                     if len(r.moved_to) > 1 or m.priority or m.locality]
            lines.append(f"{pct(r.moved)} moves" + (f" to {', '.join(where)}" if 0 < len(where) <= 2 else
                                                    f" to {len(where)} priorities/localities" if where else ""))
        colour = style.RED if r.lost > EPS else style.ORANGE
        s.edge(src, rk, label(*lines), color=colour, fontcolor=colour, penwidth=width(max(r.lost, r.moved)),
               fontsize="13", decorate="true")
        via.setdefault(rk, set()).update(c.rpartition("|")[0] + "|" if c.count("|") == 3 else c for c in r.clusters)
    for rk, names in via.items():
        s.edge(rk, tgt, label(*(["via", *sorted(names)] if names else [])), style="dashed", color=style.GREY)
    return s.digraph()



GREEN = "#2e7d32"
BLUE = "#1565c0"


def diff_graph(res: DiffResult) -> graphviz.Digraph:
    """What changed from snapshot A to B: source workloads → (destination, route) → each cluster's
    weight and endpoint's share before → after. Added in green, removed in red, changed in blue."""
    s = Scene(f"topo diff {res.a} → {res.b}")
    if not res.traffic:
        s.node((0,), "more", label("no traffic change"))
    for t in res.traffic:
        src = s.node((0, tuple(t.sources)), "pod", label(*pods_lines(t.sources)))
        colour = {"added": GREEN, "removed": style.RED}.get(t.status, BLUE)
        rk = s.node((1, t.destination, t.route), "route", label(*fold(t.destination), t.route, f"({t.status})"))
        s.edge(src, rk, color=colour, penwidth="2")
        for c in t.changes:
            before = "–" if c.before is None else pct(c.before)
            after = "–" if c.after is None else pct(c.after)
            ccol = GREEN if c.before is None else style.RED if c.after is None else BLUE
            kind = "endpoint" if c.what == "endpoint" else "cluster" if c.what == "cluster" else "dead_end"
            ck = s.node((2, t.destination, t.route, c.what, c.name), kind, label(*fold(c.name)))
            s.edge(rk, ck, label(f"{before} → {after}"), color=ccol, fontcolor=ccol, fontsize="13",
                   style="dashed" if c.after is None else "solid")
    return s.digraph()
