from __future__ import annotations

import os
import sys
from pathlib import Path

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

sys.path.insert(0, str(Path(__file__).resolve().parent))


def need(condition: bool, reason: str) -> None:
    """Skip when a resource is missing; under CI=true that is a failure instead."""
    if not condition:
        if IN_CI:
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)


@pytest.fixture
def realdumps() -> Path:
    need(REALDUMPS.is_dir(), f"{REALDUMPS} is absent (it exists only beside the project's own checkout)")
    return REALDUMPS


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture(scope="session")
def demo_graph(tmp_path_factory: pytest.TempPathFactory):
    from topo.ingest import pipeline, sources
    from topo.queries.graphapi import NxGraph
    from topo.stores.backend import SnapshotLoader
    from topo.stores.snapshot import SnapshotStore

    st = SnapshotStore(tmp_path_factory.mktemp("demo") / "store")
    res = pipeline.run(sources.from_path(EXAMPLE), SnapshotLoader(st, None))
    assert res.exit_code == 0, res.refused
    return NxGraph(st.load())


@pytest.fixture(scope="session")
def neo4j_uri() -> str:
    need(bool(NEO4J_URI), "NEO4J_URI is not set: `make test` starts a Neo4j (needs Java 17 and Maven)")
    return NEO4J_URI


@pytest.fixture
def neo4j_db(neo4j_uri: str):
    """A wiped database on the real server."""
    from topo.stores.neo4jstore import connect

    driver = connect(neo4j_uri)
    driver.execute_query("MATCH (n) DETACH DELETE n", database_="neo4j")
    yield driver
    driver.close()


def meshgen(out: Path, *args: str) -> Path:
    import subprocess

    subprocess.run([sys.executable, "-m", "topo.meshgen", *args, "--out", str(out)], check=True,
                   capture_output=True)
    return out
