"""Warm, in-process query latency with pytest-benchmark: path, reach, reach --to, blast and search.

Not part of `make test` (its testpaths is tests/). `make bench` (bench/run.py) ingests the meshes,
writes the cases file and runs::

    BENCH_WARM_CASES=bench/data/warm-networkx-cases.json \
        .venv/bin/python -m pytest bench/test_warm.py --benchmark-json=bench/data/warm-networkx.json

Each case is one mesh on one backend: {"id", "backend": "networkx"|"neo4j", "pods", "store" | "uri",
"src", "dst", "port", "service"}. Without a cases file every test is skipped.

"Warm" means: the graph is opened once per case (networkx: ``open_graph(store=...)``; Neo4j: one
driver), one untimed call runs first (it fills the lazily built networkx graph), then the timed
rounds run on the same graph object. Neo4j calls get a new ``CypherGraph`` per call on the shared
driver, because a CypherGraph memoises every query result for its lifetime and would otherwise
answer later rounds from that memo without asking the server.

Calls that take long are given fewer rounds (pytest-benchmark's pedantic mode: about
BENCH_WARM_BUDGET seconds per call, at least 1 round, at most 5); a first call that runs longer
than BENCH_WARM_CAP seconds is abandoned and recorded as such (no figure). Nothing here asserts
on time; the only asserts check that a call answered something.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CASES_FILE = os.environ.get("BENCH_WARM_CASES", "")
CASES: list[dict[str, Any]] = json.loads(Path(CASES_FILE).read_text()) if CASES_FILE and Path(CASES_FILE).is_file() else []
NOTES_FILE = os.environ.get("BENCH_WARM_NOTES", "")
CAP = float(os.environ.get("BENCH_WARM_CAP", "120"))
BUDGET = float(os.environ.get("BENCH_WARM_BUDGET", "60"))
FAST = 0.5  # first call below this: pytest-benchmark's own calibration (min rounds, max time)

pytestmark = pytest.mark.skipif(not CASES, reason="no BENCH_WARM_CASES file: run `make bench`")


class Capped(Exception):
    pass


def _alarm(_sig: int, _frame: Any) -> None:
    raise Capped()


class Holder:
    """The graph of one case; reset() after an abandoned call (a half-filled lazy graph is not reused)."""

    def __init__(self, case: dict[str, Any]) -> None:
        self.case = case
        self.driver: Any = None
        self.g: Any = None
        self.reset()

    def reset(self) -> None:
        self.close()
        c = self.case
        if c["backend"] == "networkx":
            from topo.stores import open_graph

            t0 = time.perf_counter()
            self.g = open_graph(store=c["store"])
            self.open_s = time.perf_counter() - t0
        else:
            from topo.stores.neo4jstore import connect

            t0 = time.perf_counter()
            self.driver = connect(c["uri"])
            self.open_s = time.perf_counter() - t0

    def graph(self) -> Any:
        if self.case["backend"] == "networkx":
            return self.g
        from topo.stores.neo4jgraph import CypherGraph

        return CypherGraph(self.case["uri"], database=self.case.get("database", "neo4j"), driver=self.driver)

    def close(self) -> None:
        if self.driver is not None:
            self.driver.close()
            self.driver = None
        self.g = None


_PARAMS: list[dict[str, Any] | None] = [*CASES] or [None]


@pytest.fixture(scope="module", params=_PARAMS, ids=lambda c: c["id"] if c else "none")
def holder(request: pytest.FixtureRequest) -> Iterator[Holder]:
    if request.param is None:
        pytest.skip("no cases")
    h = Holder(request.param)
    yield h
    h.close()


def _note(**kw: Any) -> None:
    if NOTES_FILE:
        with open(NOTES_FILE, "a") as f:
            f.write(json.dumps(kw) + "\n")


def _bench(benchmark: Any, h: Holder, op: str, call: Callable[[Any], Any], size: Callable[[Any], int]) -> Any:
    c = h.case
    benchmark.group = op
    import topo

    info = {"op": op, "backend": c["backend"], "pods": c["pods"], "open_s": round(h.open_s, 4),
            "topo": str(Path(topo.__file__).resolve().parent.parent)}
    benchmark.extra_info.update(info)
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, CAP)
    t0 = time.perf_counter()
    try:
        first = call(h.graph())  # untimed: fills the lazy graph / warms the connection
    except Capped:
        _note(**info, capped=CAP)
        h.reset()
        pytest.skip(f"{op} on {c['id']}: first call still running after {CAP:.0f} s; abandoned")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    t1 = time.perf_counter() - t0
    n = size(first)
    benchmark.extra_info.update(first_call_s=t1, result_size=n)
    if t1 < FAST:
        result = benchmark(lambda: call(h.graph()))
        mode = "auto"
    else:
        rounds = max(1, min(5, int(BUDGET // t1)))
        result = benchmark.pedantic(lambda: call(h.graph()), rounds=rounds, iterations=1, warmup_rounds=0)
        mode = f"pedantic {rounds}"
    _note(**info, first_call_s=t1, result_size=n, mode=mode)
    assert size(result) == n  # same answer every round (a sanity check, not a timing check)
    return result


def test_path(benchmark: Any, holder: Holder) -> None:
    from topo.queries.path import path

    c = holder.case
    res = _bench(benchmark, holder, "path", lambda g: path(g, c["src"], c["dst"], port=c["port"]),
                 lambda r: sum(len(a.endpoints) for a in r.answers))
    assert res.answers and res.ok


def test_reach(benchmark: Any, holder: Holder) -> None:
    from topo.queries.reach import reach

    c = holder.case
    res = _bench(benchmark, holder, "reach", lambda g: reach(g, c["src"]),
                 lambda r: sum(len(a.entries) for a in r.answers))
    assert res.answers


def test_reach_to(benchmark: Any, holder: Holder) -> None:
    from topo.queries.reach import reach_to

    c = holder.case
    res = _bench(benchmark, holder, "reach_to", lambda g: reach_to(g, c["service"]), lambda r: len(r.rows))
    assert res.rows


def test_blast(benchmark: Any, holder: Holder) -> None:
    from topo.queries.blast import blast

    c = holder.case
    res = _bench(benchmark, holder, "blast", lambda g: blast(g, c["service"]), lambda r: len(r.rows))
    assert res.kind == "service"


def test_search(benchmark: Any, holder: Holder) -> None:
    from topo.queries.search import search

    c = holder.case
    res = _bench(benchmark, holder, "search", lambda g: search(g, c["src"], ["all"]), lambda r: r.examined)
    assert res.classes
