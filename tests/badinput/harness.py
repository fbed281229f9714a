"""Shared by test_hardening.py and test_fuzz.py: ask every question of a store, in-process.

Each question goes through the real CLI (typer's CliRunner, so `@cli_errors` and the table
and JSON renderers run too); only opening the snapshot is memoised, so hundreds of
questions against one store take seconds. A question may end with an exit code and one
line on stderr; any other exception is a crash, returned for the test to report.
"""

from __future__ import annotations

import contextlib
import os
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from topo.cli import app

SHOW = ("all", "listeners", "routes", "clusters", "endpoints")


@contextlib.contextmanager
def cached_graphs() -> Iterator[None]:
    """Open each (store, snapshot) once, however many questions ask it; build the CLI once."""
    import topo.stores as stores

    real = stores.open_graph
    memo: dict[tuple[Any, ...], Any] = {}
    closers: list[Any] = []

    def cached(*, store: Any = None, snapshot: str | None = None, neo4j: str | None = None,
               database: str = "neo4j") -> Any:
        k = (str(store), snapshot, neo4j, database)
        if k not in memo:
            g = memo[k] = real(store=store, snapshot=snapshot, neo4j=neo4j, database=database)
            closers.append(g.close)
            g.close = lambda: None  # each command closes its graph: this one serves the next command too
        return memo[k]

    # typer rebuilds the click command from the app on every invoke (most of the time of a
    # small question): build it once
    import typer.testing

    real_get = typer.testing._get_command
    commands: dict[int, Any] = {}

    def get_command(a: Any) -> Any:
        if id(a) not in commands:
            commands[id(a)] = real_get(a)
        return commands[id(a)]

    stores.open_graph = cached  # type: ignore[assignment]
    typer.testing._get_command = get_command  # type: ignore[attr-defined]
    try:
        yield
    finally:
        stores.open_graph = real  # type: ignore[assignment]
        typer.testing._get_command = real_get  # type: ignore[attr-defined]
        for close in closers:
            close()


def crash(result: Any) -> str | None:
    """None when the command ended normally (any exit code), else what it raised."""
    e = result.exception
    if e is None or isinstance(e, SystemExit):
        return None
    tb = traceback.extract_tb(e.__traceback__)[-1]
    return f"{type(e).__name__}: {str(e)[:200]} at {os.path.basename(tb.filename)}:{tb.lineno}"


def questions(pod: str, dests: list[str], *, show: bool = True) -> list[list[str]]:
    qs: list[list[str]] = []
    for d in dests:
        qs.append(["path", pod, d])
    qs += [
        ["path", pod, "publictest", "--path", "/h?v=2", "--header", "x-user=jason", "--header", "x-dbg=1"],
        ["path", pod, "publictest", "--path", "/ch/x", "--header",
         "x-cluster=outbound|9000|v1|publictest.istio-demo.svc.cluster.local"],
        ["path", pod, "10.1.200.9:3306", "--tcp"],
        ["reach", pod], ["reach", pod, "-o", "json"], ["blast", pod], ["blast", pod, "-o", "json"],
    ]
    if show:
        qs += [["show", s, pod] for s in SHOW] + [["show", "all", pod, "-o", "json"]]
    return qs


def ask(store: Path | None, qs: list[list[str]], backend: list[str] | None = None) -> tuple[int, dict[str, list[str]]]:
    """Run the questions against the store (or ``backend``, e.g. ``["--neo4j", URI]``);
    returns (how many, {crash: [questions]})."""
    runner = CliRunner()
    crashes: dict[str, list[str]] = {}
    where = backend if backend is not None else ["--store", str(store)]
    with cached_graphs():
        for q in qs:
            r = runner.invoke(app, [*q, *where])
            c = crash(r)
            if c:
                crashes.setdefault(c, []).append(" ".join(q)[:300])
            elif r.exit_code not in (0, 4) and r.stderr.count("\n") > 1:
                crashes.setdefault("more than one line on stderr", []).append(" ".join(q)[:300] + ": " + r.stderr[:300])
    return len(qs), crashes
