"""`topo search SRC|-A --outcome NC,UH,…`: the request classes that end in an outcome."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from topo.cli.common import AllNsOpt, Fmt, GraphOpts, OutputOpt, cli_errors, emit, esc, first, with_graph
from topo.util import pct

app = typer.Typer()

SrcOpt = Annotated[str | None, typer.Argument(help="Pod name, unique prefix or workload (or -A for every source).")]
OutcomeOpt = Annotated[str, typer.Option(
    "--outcome", help="Comma-separated: NR, NC, UH, BlackHole, Passthrough, DENY, FI … (any dead-end flag), "
                      "ok (no dead end), dead (any dead end), all (default: dead).")]
NsFilterOpt = Annotated[str | None, typer.Option("-n", "--namespace", help="Namespace of SRC (with -A: only it).")]


@app.command()
@cli_errors
@with_graph
def search(graph: GraphOpts, src: SrcOpt = None, all_sources: AllNsOpt = False, outcome: OutcomeOpt = "dead",
           namespace: NsFilterOpt = None, output: OutputOpt = Fmt.table) -> None:
    """Every request class the route configs define (each vhost × each route's matchers, plus a request no
    route and a Host no vhost takes) from SRC that ends in OUTCOME, each as one `topo path` example."""
    from topo.errors import TopoError
    from topo.queries.search import search as run

    if bool(src) == all_sources:
        raise TopoError("search takes SRC or -A (every source), not both", 2)
    with graph.open() as g:
        res = run(g, src, outcome.split(","), namespace=namespace)
    emit(res, output, lambda c: _table(c, res))


def _table(console: Any, res: Any) -> None:
    who = f"from {esc(res.source)}" if res.source else "from every source"
    console.print(f"[bold]{len(res.classes)} of {res.examined} request classes {who} end in "
                  f"{esc(', '.join(res.outcomes))}[/bold]")
    for c in res.classes:
        r = c.request
        flags = ", ".join(f"{f} {pct(s)}" for f, s in c.dead_ends.items()) or "ok"
        what = (f"{r['method']} {r['host']}{r['path']}" if r["protocol"] == "http" else "tcp") + \
            f" → {r['ip'] or '*'}:{r['port']}" + "".join(f"  {k}: {v}" for k, v in sorted(r["headers"].items()))
        console.print(f"[red]{esc(flags)}[/red]  {esc(first(c.pods, 2))}  {esc(what)}")
        where = " › ".join(x for x in (c.listener, c.route_config, c.vhost, c.route) if x)
        console.print(f"    [dim]{esc(where)}{esc(f' ({c.match})') if c.match else ''}"
                      f"{' · outside the registry' if c.catch_all else ''}[/dim]")
        console.print(f"    {esc(c.command)}")
    if res.unsampled:
        console.print(f"[dim]{len(res.unsampled)} route(s) no example request reaches (shadowed, or a regex topo "
                      "cannot sample): -o json lists them[/dim]")
