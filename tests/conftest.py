from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
REALDUMPS = ROOT.parent / "shared" / "realdumps"
EXAMPLE = ROOT / "examples" / "istio-demo"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# `make test` exports the test server's URI; read it once, then hide it from the commands
# under test, which would otherwise pick the Neo4j backend up from the environment.
NEO4J_URI = os.environ.pop("NEO4J_URI", "")
for _var in ("TOPO_STORE", "NEO4J_DATABASE"):
    os.environ.pop(_var, None)
BACKENDS = ("networkx", "neo4j")

sys.path.insert(0, str(Path(__file__).resolve().parent))


def need(condition: bool, reason: str) -> None:
    """Skip when a resource is missing; under CI=true that is a failure instead."""
    if not condition:
        if IN_CI:
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)


# ---------------------------------------------------------------- ingesting
def rows_of(*docs: dict[str, Any]) -> Any:
    """Config dumps (as dicts) → the rows one ingest of them gives (transform, then link)."""
    import orjson

    from topo.ingest.pipeline import link
    from topo.ingest.transform import transform_bytes
    from topo.model.rows import Rows

    rows = Rows()
    for i, d in enumerate(docs):
        rows.merge(transform_bytes(orjson.dumps(d), f"d{i}.json").rows)
    link(rows)
    return rows


def ingest(src: Path, store: Path, name: str | None = None) -> Path:
    """Ingest a dump file or directory into an embedded store (a new snapshot); returns the store."""
    from topo.ingest import pipeline, sources
    from topo.stores import SnapshotLoader
    from topo.stores.snapshot import SnapshotStore

    res = pipeline.run(sources.from_path(src), SnapshotLoader(SnapshotStore(store), name))
    assert res.files, res.refused
    return store


def nx_graph(tmp: Path, *docs: dict[str, Any]) -> Any:
    """The embedded backend's graph of some dumps (as dicts), in a store under ``tmp``."""
    from topo.stores import open_snapshot
    from topo.stores.snapshot import SnapshotStore

    st = SnapshotStore(tmp)
    return open_snapshot(st, st.save(rows_of(*docs), {}))


def write_bundle(tmp: Path, *docs: dict[str, Any]) -> Path:
    """Dumps as files of a --from directory."""
    import orjson

    d = tmp / "bundle"
    d.mkdir(exist_ok=True)
    for i, doc in enumerate(docs):
        (d / f"p{i}.json").write_bytes(orjson.dumps(doc))
    return d


def meshgen(out: Path, *args: str) -> Path:
    import subprocess

    subprocess.run([sys.executable, "-m", "topo.meshgen", *args, "--out", str(out)], check=True,
                   capture_output=True)
    return out


# ---------------------------------------------------------------- Neo4j
@pytest.fixture(scope="session")
def neo4j_uri() -> str:
    need(bool(NEO4J_URI), "NEO4J_URI is not set: `make test` starts a Neo4j (needs Java 17 and Maven)")
    return NEO4J_URI


@pytest.fixture
def neo4j_db(neo4j_uri: str, neo4j_graphs: Neo4jGraphs) -> Iterator[Any]:
    """A wiped database on the real server."""
    from topo.stores.neo4jstore import connect

    driver = connect(neo4j_uri)
    driver.execute_query("MATCH (n) DETACH DELETE n", database_="neo4j")
    neo4j_graphs.loaded = None
    yield driver
    driver.close()


class Neo4jGraphs:
    """The test server holds one graph at a time: load rows unless they are the ones loaded last."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.driver: Any = None
        self.loaded: str | None = None
        self._keys: dict[int, str] = {}
        self._alive: list[Any] = []

    def graph(self, rows: Any) -> Any:
        import orjson

        from topo.model.rows import content_key
        from topo.model.schema import SCHEMA
        from topo.stores.neo4jgraph import CypherGraph
        from topo.stores.neo4jstore import Neo4jLoader, connect

        if self.driver is None:
            self.driver = connect(self.uri)
        key = self._keys.get(id(rows))
        if key is None:
            key = content_key([orjson.dumps(rows.node_rows(n.label)).decode() for n in SCHEMA.nodes],
                              [orjson.dumps(rows.rel_rows(r.type)).decode() for r in SCHEMA.rels])
            self._keys[id(rows)] = key
            self._alive.append(rows)  # keeps id(rows) from being reused
        if key != self.loaded:
            self.driver.execute_query("MATCH (n) DETACH DELETE n", database_="neo4j")
            Neo4jLoader(self.uri).save(rows, {})
            self.loaded = key
        return CypherGraph(self.uri, driver=self.driver)


@pytest.fixture(scope="session")
def neo4j_graphs() -> Iterator[Neo4jGraphs]:
    g = Neo4jGraphs(NEO4J_URI)
    yield g
    if g.driver is not None:
        g.driver.close()


# ---------------------------------------------------------------- one fixture, both backends
@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "neo4j":
        request.getfixturevalue("neo4j_uri")
    return str(request.param)


GraphOf = Callable[..., Any]


@pytest.fixture
def graph_of(backend: str, request: pytest.FixtureRequest) -> GraphOf:
    """``graph_of(doc, …)`` (dumps as dicts) or ``graph_of(path)`` (a dump file or directory, as
    ``topo ingest --from`` reads it): the graph of that ingest on the backend under test."""

    def make(*docs: Any) -> Any:
        rows = _rows(docs)
        if backend == "neo4j":
            return request.getfixturevalue("neo4j_graphs").graph(rows)
        from topo.stores import open_snapshot
        from topo.stores.snapshot import SnapshotStore

        st = SnapshotStore(request.getfixturevalue("tmp_path_factory").mktemp("store"))
        return open_snapshot(st, st.save(rows, {}))

    return make


def _rows(docs: tuple[Any, ...]) -> Any:
    if len(docs) == 1 and isinstance(docs[0], Path):
        from topo.ingest import pipeline, sources

        got = _DIR_ROWS.get(docs[0])
        if got is None:  # a directory's rows are read once per session (callers never change them)
            res = pipeline.transform_all(sources.from_path(docs[0]))
            assert res.files, res.refused
            got = _DIR_ROWS[docs[0]] = res.rows
        return got
    return rows_of(*docs)


_DIR_ROWS: dict[Path, Any] = {}


@pytest.fixture
def cli_graph(backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
              ) -> Callable[[Path], list[str]]:
    """``cli_graph(path)``: the graph options of a `topo` command that reads that ingest on the
    backend under test (``--store DIR`` of an embedded store, or ``--neo4j URI``)."""

    def make(src: Path) -> list[str]:
        if backend == "neo4j":
            graphs = request.getfixturevalue("neo4j_graphs")
            graphs.graph(_rows((src,)))
            return ["--neo4j", graphs.uri]
        key = str(src)
        if key not in _CLI_STORES:
            _CLI_STORES[key] = ingest(src, tmp_path_factory.mktemp("cli") / "store")
        return ["--store", str(_CLI_STORES[key])]

    return make


_CLI_STORES: dict[str, Path] = {}


@pytest.fixture
def demo_graph(graph_of: GraphOf) -> Any:
    """The bundled example on the backend under test."""
    return graph_of(EXAMPLE)


@pytest.fixture
def realdumps() -> Path:
    need(REALDUMPS.is_dir(), f"{REALDUMPS} is absent (it exists only beside the project's own checkout)")
    return REALDUMPS


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"
