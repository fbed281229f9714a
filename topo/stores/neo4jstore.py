"""The Neo4j backend's loader: rows → ``UNWIND $rows … MERGE`` in batches, then cleanup.

Statements come from :mod:`topo.stores.cypher` (generated from the schema). Writes run in
managed transactions (``execute_query``, which retries transient errors) against an
explicit database. Every write carries the run's update tag; after the whole load has
succeeded, the cleanup removes what older runs left in the namespaces this run ingested.
A run that dies midway never reaches the cleanup, so the previous graph stays queryable.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

from topo.rows import Rows
from topo.schema import SCHEMA
from topo.stores import cypher

BATCH = int(os.environ.get("TOPO_NEO4J_BATCH", "5000"))


def connect(uri: str) -> Any:
    import neo4j

    user = os.environ.get("NEO4J_USERNAME")
    password = os.environ.get("NEO4J_PASSWORD")
    auth = (user or "neo4j", password) if password else None
    driver = neo4j.GraphDatabase.driver(uri, auth=auth, connection_timeout=10, max_transaction_retry_time=15,
                                        notifications_min_severity="OFF")
    driver.verify_connectivity()
    return driver


def _batches(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(rows), size):
        yield rows[i: i + size]


class Neo4jLoader:
    def __init__(self, uri: str, database: str = "neo4j", batch: int = BATCH) -> None:
        self.uri, self.database, self.batch = uri, database, batch
        self.written = 0
        self.seconds = 0.0

    def describe(self) -> str:
        return f"{self.uri} (database {self.database})"

    def save(self, rows: Rows, meta: dict[str, Any]) -> str:
        driver = connect(self.uri)
        try:
            return self._save(driver, rows)
        finally:
            driver.close()

    def _run(self, driver: Any, query: str, **params: Any) -> None:
        driver.execute_query(query, parameters_=params, database_=self.database)

    def _save(self, driver: Any, rows: Rows) -> str:
        t0 = time.perf_counter()
        tag = int(time.time() * 1000)
        for stmt in cypher.constraints() + cypher.indexes():
            self._run(driver, stmt)
        written = 0
        for nt in SCHEMA.nodes:
            q = cypher.merge_nodes(nt.label)
            for chunk in _batches(rows.node_rows(nt.label), self.batch):
                self._run(driver, q, rows=chunk, tag=tag)
                written += len(chunk)
        for rt in SCHEMA.rels:
            if rt.type == "ON_POD":
                continue  # linked below, against the whole graph
            q = cypher.merge_rels(rt.type)
            data = [{"src": r["src"], "dst": r["dst"], "props": {k: v for k, v in r.items() if k not in ("src", "dst")}}
                    for r in rows.rel_rows(rt.type)]
            for chunk in _batches(data, self.batch):
                self._run(driver, q, rows=chunk, tag=tag)
                written += len(chunk)
        self._run(driver, cypher.LINK_ENDPOINTS_TO_NEW_PODS, tag=tag)
        self._run(driver, cypher.LINK_NEW_ENDPOINTS_TO_PODS, tag=tag)
        namespaces = sorted({p["namespace"] or "" for p in rows.nodes.get("Pod", {}).values()})
        for stmt in cypher.CLEANUP:
            self._run(driver, stmt, tag=tag, namespaces=namespaces)
        self.written = written
        self.seconds = time.perf_counter() - t0
        return str(tag)


def read_query(uri: str, database: str, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Run one query in a READ transaction: the server refuses any write in it."""
    import neo4j

    driver = connect(uri)
    try:
        with driver.session(database=database, default_access_mode=neo4j.READ_ACCESS) as s:
            def work(tx: Any) -> list[dict[str, Any]]:
                return [_plain(r.data()) for r in tx.run(query, params)]

            return s.execute_read(work)
    finally:
        driver.close()


def _plain(v: Any) -> Any:
    """Driver values (nodes, relationships, paths) as plain JSON-able data."""
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    if hasattr(v, "items") and hasattr(v, "element_id"):
        return dict(v.items())
    return v
