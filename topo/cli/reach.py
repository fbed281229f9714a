"""`topo reach SRC` and `topo reach --to DST`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from topo.cli.common import (
    Fmt,
    GraphOpts,
    NsOpt,
    OutputOpt,
    cli_errors,
    emit,
    esc,
    new_table,
    styled,
    with_graph,
)
from topo.util import pct

app = typer.Typer()


@app.command()
@cli_errors
@with_graph
def reach(
    graph: GraphOpts,
    src: Annotated[str | None, typer.Argument(help="Pod name, prefix or workload.")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Reverse: who sends traffic to this service, cluster, pod or IP.")] = None,
    namespace: NsOpt = None,
    output: OutputOpt = Fmt.table,
) -> None:
    """What SRC's proxy routes to; or, with --to, every source that routes to DST."""
    from topo.errors import TopoError
    from topo.queries import reach as q

    if (src is None) == (to is None):
        raise TopoError("give SRC, or --to DST (not both)", 2)
    with graph.open() as g:
        if to is not None:
            res_to = q.reach_to(g, to, namespace)
            emit(res_to, output, lambda c: _to_table(c, res_to))
            return
        res = q.reach(g, src or "", namespace)
    emit(res, output, lambda c: _table(c, res))


def _table(console: Any, res: Any) -> None:
    for a in res.answers:
        console.print(f"[bold]{esc(', '.join(a.pods))}[/bold] reaches:")
        t = new_table("DESTINATION", "ROUTE", "MATCH", "CLUSTER", "WEIGHT", "ENDPOINT", "SHARE", "POD")
        for e in a.entries:
            t.add_row(e.destination, e.route, e.match, e.cluster, pct(e.cluster_fraction),
                      e.endpoint or ("(endpoints unknown)" if e.endpoints_unknown else styled(e.flag, "red")),
                      pct(e.share), e.pod or "-")
        console.print(t)


def _to_table(console: Any, res: Any) -> None:
    console.print(f"Sources that route to {res.kind} {esc(res.target)}:")
    t = new_table("SOURCE PODS", "DESTINATION", "ROUTE", "CLUSTER", "ENDPOINT", "SHARE")
    for r in res.rows:
        t.add_row(", ".join(r.pods), r.destination, r.route, r.cluster, r.endpoint or "(endpoints unknown)",
                  pct(r.share))
    console.print(t)
