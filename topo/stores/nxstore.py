"""The embedded backend: a snapshot read into a networkx MultiDiGraph.

The loader is generic: labels, keys and relationship types come from
:data:`topo.schema.SCHEMA`. Node ids are ``(label, key)`` tuples; every node carries
``label`` plus its properties; relationships are keyed ``"TYPE|<identity>"`` (types
without identity properties allow one relationship per pair of nodes).

:class:`LazyGraph` fills the MultiDiGraph only with what a question walks: a node's
out-relationships of one type are added the first time a hop asks for them, and the
reverse index of a type is built the first time a question walks it backwards. A cold
``topo path`` on a large mesh therefore parses the snapshot but builds a few hundred
graph elements, not millions. :func:`build_graph` materialises everything.
"""

from __future__ import annotations

from typing import Any

import networkx as nx

from topo.schema import SCHEMA
from topo.stores.snapshot import Snapshot

Node = tuple[str, str]


class LazyGraph:
    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap
        self.g = nx.MultiDiGraph(name=snap.name)
        self._done: set[tuple[str, str, str]] = set()  # (type, direction, key) already added
        self._rev: dict[str, dict[str, list[str]]] = {}

    def rows(self, label: str) -> dict[str, dict[str, Any]]:
        """All rows of a label, by key."""
        return self.snap.rows(label)

    def node(self, label: str, key: str) -> Node | None:
        n = (label, key)
        if n not in self.g:
            row = self.snap.row(label, key)
            if row is None:
                return None
            self.g.add_node(n, label=label, **row)
        return n

    def _add(self, rt_type: str, src: str, dst: str, props: dict[str, Any] | None) -> None:
        rt = SCHEMA.rel(rt_type)
        a, b = self.node(rt.src, src), self.node(rt.dst, dst)
        if a is None or b is None:
            return
        p = props or {}
        ekey = rt.type + "|" + "|".join(str(p.get(i) or "") for i in rt.identity)
        self.g.add_edge(a, b, key=ekey, type=rt.type, **p)

    def out(self, rel: str, key: str) -> None:
        """Make sure ``key``'s outgoing ``rel`` relationships are in the graph."""
        mark = (rel, "out", key)
        if mark in self._done:
            return
        self._done.add(mark)
        for dst, props in self.snap.out(rel, key):
            self._add(rel, key, dst, props)

    def into(self, rel: str, key: str) -> None:
        """Make sure ``key``'s incoming ``rel`` relationships are in the graph."""
        mark = (rel, "in", key)
        if mark in self._done:
            return
        self._done.add(mark)
        rev = self._rev.get(rel)
        if rev is None:
            rev = {}
            for src, out in self.snap.rel_sources(rel).items():
                for dst, _props in out:
                    rev.setdefault(dst, []).append(src)
            self._rev[rel] = rev
        for src in rev.get(key, ()):
            self.out(rel, src)


def build_graph(snap: Snapshot) -> nx.MultiDiGraph:
    """The whole snapshot as one MultiDiGraph."""
    lg = LazyGraph(snap)
    for nt in SCHEMA.nodes:
        for key in lg.rows(nt.label):
            lg.node(nt.label, key)
    for rt in SCHEMA.rels:
        for src in snap.rel_sources(rt.type):
            lg.out(rt.type, src)
    return lg.g
