"""`topo diff A B`: what changed between two snapshots, by traffic first."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from topo.cli.common import DatabaseOpt, Fmt, OutputOpt, StoreOpt, cli_errors, emit, esc, first

app = typer.Typer()

DiffArgs = Annotated[list[str], typer.Argument(
    metavar="A B [SRC] [DST]",
    help="Snapshots A and B (`current` names the current one), then optional SRC (workload or pod) "
         "and DST (service, service:port or IP) filters. With --neo4j: A [SRC] [DST].")]
DiffNeo4jOpt = Annotated[str | None, typer.Option(
    "--neo4j", help="Compare snapshot A with this Neo4j graph (Bolt URI) instead of with snapshot B.")]
BehaviorOpt = Annotated[bool, typer.Option(
    "--behavior", help="Compare behaviour: every request class the route configs define, answered on both "
                       "sides; the classes whose outcome, chain or cluster shares changed, worst first.")]


@app.command()
@cli_errors
def diff(args: DiffArgs, behavior: BehaviorOpt = False, neo4j: DiffNeo4jOpt = None, database: DatabaseOpt = "neo4j",
         store: StoreOpt = None, output: OutputOpt = Fmt.table) -> None:
    """What changed from A to B, by traffic: for each source workload, destination and route, how each
    cluster's weight and each endpoint's share moved; then the config changes behind it. With --behavior:
    the request classes that now end differently (Batfish's differentialReachability)."""
    if behavior:
        bres = run_diff(args, neo4j, database, store, behavior=True)
        emit(bres, output, lambda c: _behavior_table(c, bres))
        return
    res = run_diff(args, neo4j, database, store)
    emit(res, output, lambda c: _table(c, res))


def run_diff(args: list[str], neo4j: str | None, database: str, store: Any, behavior: bool = False) -> Any:
    """`A B [SRC] [DST]` (or `A [SRC] [DST]` against Neo4j) → DiffResult (BehaviorResult with ``behavior``);
    `topo export diff` draws it."""
    from topo.errors import TopoError
    from topo.queries.behavior import behavior_diff
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
        return (behavior_diff if behavior else run)(ga, gb, src=src, dst=dst, a_name=a_name, b_name=b_name)


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


RANK_STYLE = {"broken": "bold red", "worse": "red", "rerouted": "yellow", "shifted": "cyan", "better": "green"}


def _behavior_table(console: Any, res: Any) -> None:
    filters = [f"{k} {v}" for k, v in (("source", res.source), ("destination", res.destination)) if v]
    scope = f" ({', '.join(filters)})" if filters else ""
    n = len(res.changes)
    console.print(f"[bold]Behaviour from {esc(res.a)} to {esc(res.b)}{esc(scope)}: {n} of {res.classes} request "
                  f"class{'es' if res.classes != 1 else ''} changed[/bold]")
    for c in res.changes:
        r = c.request
        what = (f"{r['method']} {r['host']}{r['path']}" if r["protocol"] == "http" else "tcp") + \
            f" → {r['ip'] or '*'}:{r['port']}" + "".join(f"  {k}: {v}" for k, v in sorted(r["headers"].items()))
        console.print(f"[{RANK_STYLE[c.rank]}]{c.rank:<8}[/] {esc(first(c.sources))}  {esc(what)}")
        console.print(f"    [dim]{esc(c.before.route or '(none)')}[/dim]")
        for ch in c.changes:
            console.print(f"    {esc(ch)}")
        console.print(f"    [dim]{esc(c.command)} --snapshot {esc(res.a)} (or {esc(res.b)})[/dim]")
    for label, ws in (("only in", res.sources_only_in_a), ("new in", res.sources_only_in_b)):
        if ws:
            side = res.a if label == "only in" else res.b
            console.print(f"[dim]sources {label} {esc(side)}: {esc(first(ws))}[/dim]")
