"""`topo diff A B`: what changed between two snapshots, by traffic first."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from topo.cli.common import DatabaseOpt, Fmt, OutputOpt, StoreOpt, cli_errors, emit, esc, first

if TYPE_CHECKING:
    from topo.queries.diff import DiffResult

app = typer.Typer()

DiffArgs = Annotated[list[str], typer.Argument(
    metavar="A B [SRC] [DST]",
    help="Snapshots A and B (`current` names the current one), then optional SRC (workload or pod) "
         "and DST (service, service:port or IP) filters. With --neo4j: A [SRC] [DST].")]
DiffNeo4jOpt = Annotated[str | None, typer.Option(
    "--neo4j", help="Compare snapshot A with this Neo4j graph (Bolt URI) instead of with snapshot B.")]


@app.command()
@cli_errors
def diff(args: DiffArgs, neo4j: DiffNeo4jOpt = None, database: DatabaseOpt = "neo4j", store: StoreOpt = None,
         output: OutputOpt = Fmt.table) -> None:
    """What changed from A to B, by traffic: for each source workload, destination and route, how each
    cluster's weight and each endpoint's share moved; then the config changes behind it."""
    res = run_diff(args, neo4j, database, store)
    emit(res, output, lambda c: _table(c, res))


def run_diff(args: list[str], neo4j: str | None, database: str, store: Any) -> DiffResult:
    """`A B [SRC] [DST]` (or `A [SRC] [DST]` against Neo4j) → DiffResult; `topo export diff` draws it."""
    from topo.errors import TopoError
    from topo.queries.diff import diff as run
    from topo.stores import open_graph, open_snapshot
    from topo.stores.snapshot import SnapshotStore

    need = 1 if neo4j else 2
    if not need <= len(args) <= need + 2:
        form = "A [SRC] [DST] (with --neo4j)" if neo4j else "A B [SRC] [DST]"
        raise TopoError(f"diff takes {form}, got {len(args)} argument{'s' if len(args) != 1 else ''}", 2)
    st = SnapshotStore(store)
    a_name = st.resolve(args[0])
    b_name = "neo4j" if neo4j else st.resolve(args[1])
    rest = args[need:]
    src = rest[0] if rest and rest[0] not in ("", "-", "*") else None
    dst = rest[1] if len(rest) > 1 and rest[1] not in ("", "-", "*") else None
    with open_snapshot(st, a_name) as ga, (open_graph(neo4j=neo4j, database=database) if neo4j
                                          else open_snapshot(st, b_name)) as gb:
        return run(ga, gb, src=src, dst=dst, a_name=a_name, b_name=b_name)


def _table(console: Any, res: Any) -> None:
    from topo.queries.diff import short_destination

    filters = [f"{k} {v}" for k, v in (("source", res.source), ("destination", res.destination)) if v]
    scope = f" ({', '.join(filters)})" if filters else ""
    if not res.changed:
        console.print(f"No change from {esc(res.a)} to {esc(res.b)}{esc(scope)}.")
        return
    console.print(f"[bold]Traffic changes from {esc(res.a)} to {esc(res.b)}{esc(scope)}[/bold]"
                  + ("" if res.traffic else ": none"))
    for t in res.traffic:
        route = t.route if t.route != "(tcp)" else f"tcp via {t.via}"
        console.print(f"{esc(first(t.sources))} → {esc(short_destination(t.destination))} ({esc(route)})"
                      + (f" [yellow]{t.status}[/yellow]" if t.status != "changed" else "") + ":")
        if t.status == "changed":
            for c in t.changes:
                style = "green" if c.before is None else ("red" if c.after is None else "")
                pod = f"  [dim]{esc(c.pod.rsplit('/', 1)[-1])}[/dim]" if c.pod and c.what == "endpoint" else ""
                text = esc(c.text)
                console.print(f"    {f'[{style}]{text}[/]' if style else text}{pod}")
        else:
            console.print(f"    {esc(t.text)}")
    console.print("")
    console.print("[bold]Config changes[/bold]" + ("" if res.config else ": none"))
    for c in res.config:
        console.print(f"{esc(c.text)}  [dim]({esc(first(c.sources))})[/dim]")
