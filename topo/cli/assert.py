"""`topo assert FILE`: check the mesh against a YAML list of expectations (exit 1 if one fails)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from topo.cli.common import Fmt, GraphOpts, OutputOpt, cli_errors, emit, esc, with_graph

app = typer.Typer()

FileArg = Annotated[Path, typer.Argument(help="YAML expectations (see `topo assert --help` and docs/ci.md).")]
JunitOpt = Annotated[Path | None, typer.Option("--junit", help="Also write JUnit XML here (for CI reports).")]
EXIT_FAILED = 1


@app.command("assert")
@cli_errors
@with_graph
def assert_(file: FileArg, graph: GraphOpts, junit: JunitOpt = None, output: OutputOpt = Fmt.table) -> None:
    """Expectations for CI: `from`/`to`/request fields and one of reaches: 100%, share: {v2: 10%±1},
    outcome: DENY, no-dead-ends: true, search: {outcome: NC, count: 0}. Exit 0 when all hold, 1 otherwise."""
    from topo.errors import TopoError
    from topo.queries.assertions import evaluate, parse_file

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise TopoError(f"cannot read {file}: {getattr(e, 'strerror', None) or e}", 2) from None
    items = parse_file(text, str(file))
    with graph.open() as g:
        res = evaluate(g, items, file=file.name, snapshot=graph.snapshot or ("neo4j" if graph.neo4j else "current"))
    if junit is not None:
        from topo.export.junit import junit_xml
        from topo.util import atomic_write

        atomic_write(junit, junit_xml(res))
    emit(res, output, lambda c: _table(c, res))
    raise typer.Exit(0 if res.ok else EXIT_FAILED)


def _table(console: Any, res: Any) -> None:
    for r in res.results:
        mark = "[green]PASS[/green]" if r.ok else "[bold red]FAIL[/bold red]"
        console.print(f"{mark} #{r.index} {esc(r.name)}")
        if r.error:
            console.print(f"     [red]{esc(r.error)}[/red]")
        for c in r.checks:
            if c.ok:
                continue
            console.print(f"     {esc(c.check)}: expected {esc(c.expected)}, got {esc(c.actual)}")
            for d in c.details[:8]:
                console.print(f"       [dim]{esc(d)}[/dim]")
    console.print(f"{res.passed} passed, {res.failed} failed ({esc(res.snapshot)} snapshot)")
