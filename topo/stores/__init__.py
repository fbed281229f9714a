"""Both backends, whole: the embedded snapshot store with its networkx hops, and Neo4j.

``open_graph`` gives the graph a question runs on and ``open_loader`` the place an ingest
writes to: Neo4j when a Bolt URI is given, else the embedded store. A graph is a context
manager (``with open_graph(...) as g:``): leaving the block closes it. Heavy modules (networkx,
the Neo4j driver) load only when a graph or loader is opened.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from topo.errors import TopoError

if TYPE_CHECKING:
    from topo.model.rows import Rows
    from topo.stores.hops import MeshGraph
    from topo.stores.neo4jstore import Neo4jLoader
    from topo.stores.snapshot import SnapshotStore


def open_graph(*, store: Path | str | None = None, snapshot: str | None = None, neo4j: str | None = None,
               database: str = "neo4j") -> MeshGraph:
    """The backend a question runs on: Neo4j when a Bolt URI is given, else a snapshot of the
    embedded store (``snapshot`` by name, ``current`` or None for the current one)."""
    if neo4j:
        from topo.stores.neo4jgraph import CypherGraph

        return CypherGraph(neo4j, database=database)
    return open_snapshot(store, snapshot)


def open_snapshot(store: Path | str | SnapshotStore | None, name: str | None = None) -> MeshGraph:
    """One snapshot of an embedded store, by the name a user gives (see SnapshotStore.resolve)."""
    from topo.stores.nxgraph import NxGraph
    from topo.stores.snapshot import SnapshotStore

    st = store if isinstance(store, SnapshotStore) else SnapshotStore(store)
    return NxGraph(st.load(st.resolve(name) if name is not None else None))


class SnapshotLoader:
    """An ingest's rows as a new snapshot of the embedded store (named, or by UTC time)."""

    def __init__(self, store: SnapshotStore, name: str | None, *, replace: bool = False) -> None:
        self.store, self.name, self.replace = store, name, replace
        if name is not None and not replace and name in store.names():
            # said before anything is read (save checks again, under the store's lock)
            raise TopoError(f"snapshot {name} exists in {store.root}: choose another --name, or --replace it", 2)

    def save(self, rows: Rows, meta: dict[str, Any]) -> str:
        return self.store.save(rows, meta, name=self.name, replace=self.replace)

    def describe(self) -> str:
        return str(self.store.root)


def open_loader(*, store: Path | None = None, neo4j: str | None = None, database: str = "neo4j",
                name: str | None = None, replace: bool = False) -> SnapshotLoader | Neo4jLoader:
    """Where an ingest writes: Neo4j when a Bolt URI is given, else a new embedded snapshot."""
    if neo4j:
        from topo.stores.neo4jstore import Neo4jLoader

        return Neo4jLoader(neo4j, database=database)
    from topo.stores.snapshot import SnapshotStore

    return SnapshotLoader(SnapshotStore(store), name, replace=replace)
