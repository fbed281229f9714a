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

from topo.model.rows import Rows
from topo.model.schema import SCHEMA
from topo.stores import cypher

BATCH = int(os.environ.get("TOPO_NEO4J_BATCH", "5000"))


_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")


def check_uri(uri: str) -> None:
    """Refuse, in one line, a URI the driver would choke on (or take for its HTTP preview)."""
    from urllib.parse import urlsplit

    from topo.errors import TopoError

    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 (parses the port: ValueError if it is not a number)
    except ValueError as e:
        raise TopoError(f"invalid Neo4j URI {uri!r}: {e}", 2) from None
    if parts.scheme not in _SCHEMES or not parts.hostname:
        raise TopoError(f"invalid Neo4j URI {uri!r}: give bolt://HOST:PORT or neo4j://HOST:PORT", 2)


def connect(uri: str) -> Any:
    import logging

    import neo4j

    check_uri(uri)
    # the driver logs warnings (e.g. "Unable to retrieve routing information") that Python
    # would print to stderr beside topo's own one-line error: keep them out of it
    logging.getLogger("neo4j").addHandler(logging.NullHandler())
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
        check_uri(uri)  # before the transform, not after it
        self.uri, self.database, self.batch = uri, database, batch

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
        for stmt in cypher.constraints() + cypher.indexes():
            self._run(driver, stmt)
        # The cleanup removes what runs with a smaller tag left: keep tags increasing even
        # when this host's clock is behind the one that wrote the last complete run.
        last = driver.execute_query(cypher.LAST_TAG, database_=self.database).records[0]["t"]
        tag = max(int(time.time() * 1000), (last or 0) + 1)
        # Pods (the namespaced labels) last: a question starts at a Pod and follows its
        # `config` key, so until the Pods are written the previous run's Pods still lead to
        # their complete configs (content-addressed nodes are never changed in place). A run
        # that dies earlier leaves the previous answers; one that dies among the Pod batches
        # leaves each Pod on the old config or on the new, complete one. Relationships into a
        # Pod (ON_POD) are linked below, across runs, by IP.
        last = {nt.label for nt in SCHEMA.nodes if nt.cleanup == "namespaced"}
        for nt in SCHEMA.nodes:
            if nt.label not in last:
                self._merge_nodes(driver, nt.label, rows, tag)
        for rt in SCHEMA.rels:
            if rt.src not in last and rt.dst not in last:
                self._merge_rels(driver, rt.type, rows, tag)
        for label in sorted(last):
            self._merge_nodes(driver, label, rows, tag)
        for rt in SCHEMA.rels:
            if rt.src in last:
                self._merge_rels(driver, rt.type, rows, tag)
        self._run(driver, cypher.LINK_ENDPOINTS_TO_NEW_PODS, tag=tag)
        self._run(driver, cypher.LINK_NEW_ENDPOINTS_TO_PODS, tag=tag)
        namespaces = sorted({p["namespace"] or "" for p in rows.nodes.get("Pod", {}).values()})
        for stmt in cypher.CLEANUP:
            self._run(driver, stmt, tag=tag, namespaces=namespaces)
        return str(tag)

    def _merge_nodes(self, driver: Any, label: str, rows: Rows, tag: int) -> int:
        q = cypher.merge_nodes(label)
        n = 0
        for chunk in _batches(rows.node_rows(label), self.batch):
            self._run(driver, q, rows=chunk, tag=tag)
            n += len(chunk)
        return n

    def _merge_rels(self, driver: Any, type_: str, rows: Rows, tag: int) -> int:
        q = cypher.merge_rels(type_)
        data = [{"src": r["src"], "dst": r["dst"], "props": {k: v for k, v in r.items() if k not in ("src", "dst")}}
                for r in rows.rel_rows(type_)]
        for chunk in _batches(data, self.batch):
            self._run(driver, q, rows=chunk, tag=tag)
        return len(data)


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
