"""`topo blast TARGET`: who loses what if TARGET fails."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from topo.cli.common import Fmt, GraphOpts, NsOpt, OutputOpt, cli_errors, emit, esc, new_table, with_graph
from topo.util import pct

app = typer.Typer()

TargetArg = Annotated[str, typer.Argument(help="Pod, endpoint IP, cluster, service or node.")]


@app.command()
@cli_errors
@with_graph
def blast(target: TargetArg, graph: GraphOpts, namespace: NsOpt = None, output: OutputOpt = Fmt.table) -> None:
    """If TARGET's endpoints fail: each source's lost and moved share, worst first."""
    from topo.queries.blast import blast as run

    with graph.open() as g:
        res = run(g, target, namespace)
    emit(res, output, lambda c: _table(c, res))


def _table(console: Any, res: Any) -> None:
    console.print(f"If {res.kind} {esc(res.target)} fails ({esc(', '.join(res.failed_endpoints))}):")
    t = new_table("SOURCE PODS", "DESTINATION", "ROUTE", "LOST", "MOVED", "OUTRIGHT", "FLAGS")
    for r in res.rows:
        t.add_row(", ".join(r.pods), r.destination, r.route, pct(r.lost), pct(r.moved),
                  "yes" if r.fails_outright else "no", ",".join(r.flags))
    console.print(t)
    if not res.rows:
        console.print("No source routes to it.")
