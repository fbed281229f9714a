"""The embedded backend: a snapshot loaded into a networkx MultiDiGraph.

The loader is generic: it reads labels, keys and relationship types from
:data:`topo.schema.SCHEMA`. Node ids are ``(label, key)`` tuples; every node carries
``label`` plus its properties; parallel relationships are keyed by
``"TYPE|<identity>"`` (for example ``"ROUTES_TO|<config>"``).
"""

from __future__ import annotations

from typing import Any

import networkx as nx

from topo.schema import SCHEMA
from topo.stores.snapshot import Snapshot


def build_graph(snap: Snapshot) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph(name=snap.name, meta=snap.meta)
    for nt in SCHEMA.nodes:
        key = nt.key
        g.add_nodes_from(((nt.label, row[key]), {"label": nt.label, **row}) for row in snap.nodes.get(nt.label, ()))
    for rt in SCHEMA.rels:
        src, dst, ident = rt.src, rt.dst, rt.identity
        edges: list[tuple[Any, Any, str, dict[str, Any]]] = []
        for row in snap.rels.get(rt.type, ()):
            props = {k: v for k, v in row.items() if k not in ("src", "dst")}
            ekey = rt.type + "|" + "|".join(str(row.get(i) or "") for i in ident)
            edges.append(((src, row["src"]), (dst, row["dst"]), ekey, {"type": rt.type, **props}))
        g.add_edges_from(edges)
    return g
