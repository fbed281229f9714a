"""Pick the backend: Neo4j when a Bolt URI is given, else the embedded snapshot store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from topo.rows import Rows
from topo.stores.snapshot import SnapshotStore


class SnapshotLoader:
    def __init__(self, store: SnapshotStore, name: str | None) -> None:
        self.store, self.name = store, name

    def save(self, rows: Rows, meta: dict[str, Any]) -> str:
        return self.store.save(rows, meta, name=self.name)

    def describe(self) -> str:
        return str(self.store.root)


def open_loader(*, store: Path | None, neo4j: str | None, database: str, name: str | None,
                namespace: str | None) -> Any:
    if neo4j:
        from topo.stores.neo4jstore import Neo4jLoader

        return Neo4jLoader(neo4j, database=database)
    return SnapshotLoader(SnapshotStore(store), name)
