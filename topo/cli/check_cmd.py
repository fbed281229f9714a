"""`topo check`, `topo diff`, `topo snapshots`: what is broken now, and what changed since."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from topo.cli.common import (
    DatabaseOpt,
    Fmt,
    Neo4jOpt,
    OutputOpt,
    SnapshotOpt,
    StoreOpt,
    cli_errors,
    emit,
    new_table,
)

app = typer.Typer()

EXIT_ERRORS = 1
SEV_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def _esc(s: Any) -> str:
    from rich.markup import escape

    return escape(str(s))


def _first(items: list[str], n: int = 3) -> str:
    head = ", ".join(items[:n])
    return head + (f" (+{len(items) - n} more)" if len(items) > n else "")


# ---------------------------------------------------------------- check
@app.command()
@cli_errors
def check(
    namespace: Annotated[str | None, typer.Option("-n", "--namespace", help="Only pods of this namespace.")] = None,
    pod: Annotated[str | None, typer.Option("--pod", help="Only this pod (name, ns/name, prefix or workload).")] = None,
    store: StoreOpt = None,
    snapshot: SnapshotOpt = None,
    neo4j: Neo4jOpt = None,
    database: DatabaseOpt = "neo4j",
    output: OutputOpt = Fmt.table,
) -> None:
    """Every dead end in the mesh (404 NR, 503 NC, 503 UH, BlackHole, rejected config, stuck listeners,
    shadowed routes, drift), with the Istio object behind it. Identical findings of many pods are
    listed once. Exit 1 if any finding is an error."""
    from topo.queries.check import check as run
    from topo.queries.graphapi import open_graph

    g = open_graph(store=store, snapshot=snapshot, neo4j=neo4j, database=database)
    res = run(g, namespace=namespace, pod=pod)
    emit(res, output, lambda c: _check_table(c, res))
    raise typer.Exit(0 if res.ok else EXIT_ERRORS)


def _check_table(console: Any, res: Any) -> None:
    for f in res.findings:
        sev = f.severity.upper()
        flag = " ".join(x for x in (f.response, f.flag) if x)
        console.print(f"[{SEV_STYLE[f.severity]}]{sev:<7}[/] [bold]{_esc(f.kind)}[/bold]"
                      + (f"  [{SEV_STYLE[f.severity]}]{_esc(flag)}[/]" if flag else ""))
        console.print(f"  {_esc(f.message)}")
        if f.objects:
            where = " › ".join(f"{k.replace('_', ' ')} {v}" for k, v in f.objects.items())
            console.print(f"  [dim]at:[/dim]    {_esc(where)}")
        if f.istio:
            console.print(f"  [dim]istio:[/dim] {_esc(', '.join(f.istio))}")
        for d in f.details[:6]:
            console.print(f"  [dim]·[/dim] {_esc(' '.join(d.split()))}")
        if len(f.details) > 6:
            console.print(f"  [dim]· … {len(f.details) - 6} more (-o json lists them)[/dim]")
        console.print(f"  [dim]pods:[/dim]  {f.pod_count} ({_esc(_first(f.pods))})")
        console.print("")
    c = res.counts
    scope = f"{res.pods} pod{'s' if res.pods != 1 else ''} ({res.configs} distinct proxy config{'s' if res.configs != 1 else ''})"
    if not res.findings:
        console.print(f"No findings in {scope}.")
        return
    parts = [f"{c[s]} {s}{'s' if c[s] != 1 else ''}" for s in ("error", "warning", "info")]
    console.print(f"{', '.join(parts)} in {scope}.")


# ---------------------------------------------------------------- diff
@app.command()
@cli_errors
def diff(
    args: Annotated[list[str], typer.Argument(
        metavar="A B [SRC] [DST]",
        help="Snapshots A and B (`current` names the current one), then optional SRC (workload or pod) "
             "and DST (service, service:port or IP) filters. With --neo4j: A [SRC] [DST].")],
    neo4j: Annotated[str | None, typer.Option(
        "--neo4j", help="Compare snapshot A with this Neo4j graph (Bolt URI) instead of with snapshot B.")] = None,
    database: DatabaseOpt = "neo4j",
    store: StoreOpt = None,
    output: OutputOpt = Fmt.table,
) -> None:
    """What changed from A to B, by traffic: for each source workload, destination and route, how each
    cluster's weight and each endpoint's share moved; then the config changes behind it."""
    res = run_diff(args, neo4j, database, store)
    emit(res, output, lambda c: _diff_table(c, res))


def run_diff(args: list[str], neo4j: str | None, database: str, store: Any) -> Any:
    """`A B [SRC] [DST]` (or `A [SRC] [DST]` against Neo4j) → DiffResult; shared with `topo export diff`."""
    from topo.errors import TopoError
    from topo.queries import diff as q
    from topo.queries.graphapi import NxGraph, open_graph
    from topo.stores.snapshot import SnapshotStore

    need = 1 if neo4j else 2
    if not need <= len(args) <= need + 2:
        form = "A [SRC] [DST] (with --neo4j)" if neo4j else "A B [SRC] [DST]"
        raise TopoError(f"diff takes {form}, got {len(args)} argument{'s' if len(args) != 1 else ''}", 2)
    st = SnapshotStore(store)
    a_name = q.resolve_snapshot(st, args[0])
    ga = NxGraph(st.load(a_name))
    if neo4j:
        b_name, gb = "neo4j", open_graph(neo4j=neo4j, database=database)
    else:
        b_name = q.resolve_snapshot(st, args[1])
        gb = NxGraph(st.load(b_name))
    rest = args[need:]
    src = rest[0] if rest and rest[0] not in ("", "-", "*") else None
    dst = rest[1] if len(rest) > 1 and rest[1] not in ("", "-", "*") else None
    return q.diff(ga, gb, src=src, dst=dst, a_name=a_name, b_name=b_name)


def _sources(items: list[str]) -> str:
    return _first(items, 3)


def _diff_table(console: Any, res: Any) -> None:
    from topo.queries.diff import short_destination

    filters = [f"{k} {v}" for k, v in (("source", res.source), ("destination", res.destination)) if v]
    scope = f" ({', '.join(filters)})" if filters else ""
    if not res.changed:
        console.print(f"No change from {_esc(res.a)} to {_esc(res.b)}{_esc(scope)}.")
        return
    console.print(f"[bold]Traffic changes from {_esc(res.a)} to {_esc(res.b)}{_esc(scope)}[/bold]"
                  + ("" if res.traffic else ": none"))
    for t in res.traffic:
        route = t.route if t.route != "(tcp)" else f"tcp via {t.via}"
        console.print(f"{_esc(_sources(t.sources))} → {_esc(short_destination(t.destination))} ({_esc(route)})"
                      + (f" [yellow]{t.status}[/yellow]" if t.status != "changed" else "") + ":")
        if t.status == "changed":
            for c in t.changes:
                style = "green" if c.before is None else ("red" if c.after is None else "")
                pod = f"  [dim]{_esc(c.pod.rsplit('/', 1)[-1])}[/dim]" if c.pod and c.what == "endpoint" else ""
                text = _esc(c.text)
                console.print(f"    {f'[{style}]{text}[/]' if style else text}{pod}")
        else:
            console.print(f"    {_esc(t.text)}")
    console.print("")
    console.print("[bold]Config changes[/bold]" + ("" if res.config else ": none"))
    for c in res.config:
        console.print(f"{_esc(c.text)}  [dim]({_esc(_sources(c.sources))})[/dim]")


# ---------------------------------------------------------------- snapshots
@app.command()
@cli_errors
def snapshots(
    prune: Annotated[int | None, typer.Option("--prune", metavar="KEEP", min=0,
                                              help="Delete all but the newest KEEP snapshots (never the current one).")] = None,
    store: StoreOpt = None,
    output: OutputOpt = Fmt.table,
) -> None:
    """The embedded store's snapshots, oldest first: name, current marker, pods, when written."""
    from topo.queries import diff as q
    from topo.stores.snapshot import SnapshotStore

    st = SnapshotStore(store)
    pruned = q.prune(st, prune) if prune is not None else []
    res = {"store": str(st.root), "snapshots": q.snapshot_infos(st), "pruned": pruned}
    emit(res, output, lambda c: _snapshots_table(c, res))


def _snapshots_table(console: Any, res: dict[str, Any]) -> None:
    for n in res["pruned"]:
        console.print(f"pruned {_esc(n)}")
    if not res["snapshots"]:
        console.print(f"No snapshot in {_esc(res['store'])}: run `topo ingest --from DIR` first.")
        return
    t = new_table("NAME", "CURRENT", "PODS", "WRITTEN", "ORIGIN")
    for s in res["snapshots"]:
        t.add_row(_esc(s.name), "*" if s.current else "", "-" if s.pods is None else str(s.pods), s.time,
                  _esc(s.origin))
    console.print(t)
