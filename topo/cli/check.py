"""`topo check`: every dead end and config smell in the mesh."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from topo.cli.common import Fmt, GraphOpts, OutputOpt, cli_errors, emit, esc, first, with_graph

app = typer.Typer()

EXIT_ERRORS = 1
SEV_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


@app.command()
@cli_errors
@with_graph
def check(
    graph: GraphOpts,
    namespace: Annotated[str | None, typer.Option("-n", "--namespace", help="Only pods of this namespace.")] = None,
    pod: Annotated[str | None, typer.Option("--pod", help="Only this pod (name, ns/name, prefix or workload).")] = None,
    output: OutputOpt = Fmt.table,
) -> None:
    """Every dead end in the mesh (404 NR, 503 NC, 503 UH, BlackHole, rejected config, stuck listeners,
    shadowed routes, drift), with the Istio object behind it. Identical findings of many pods are
    listed once. Exit 1 if any finding is an error."""
    from topo.queries.check import check as run

    with graph.open() as g:
        res = run(g, namespace=namespace, pod=pod)
    emit(res, output, lambda c: _table(c, res))
    raise typer.Exit(0 if res.ok else EXIT_ERRORS)


def _table(console: Any, res: Any) -> None:
    for f in res.findings:
        sev = f.severity.upper()
        flag = " ".join(x for x in (f.response, f.flag) if x)
        console.print(f"[{SEV_STYLE[f.severity]}]{sev:<7}[/] [bold]{esc(f.kind)}[/bold]"
                      + (f"  [{SEV_STYLE[f.severity]}]{esc(flag)}[/]" if flag else ""))
        console.print(f"  {esc(f.message)}")
        if f.objects:
            where = " › ".join(f"{k.replace('_', ' ')} {v}" for k, v in f.objects.items())  # esc'd below
            console.print(f"  [dim]at:[/dim]    {esc(where)}")
        if f.istio:
            console.print(f"  [dim]istio:[/dim] {esc(', '.join(f.istio))}")
        for d in f.details[:6]:
            console.print(f"  [dim]·[/dim] {esc(' '.join(d.split()))}")
        if len(f.details) > 6:
            console.print(f"  [dim]· … {len(f.details) - 6} more (-o json lists them)[/dim]")
        console.print(f"  [dim]pods:[/dim]  {f.pod_count} ({esc(first(f.pods))})")
        console.print("")
    c = res.counts
    scope = f"{res.pods} pod{'s' if res.pods != 1 else ''} ({res.configs} distinct proxy config{'s' if res.configs != 1 else ''})"
    if not res.findings:
        console.print(f"No findings in {scope}.")
        return
    parts = [f"{c[s]} {s}{'s' if c[s] != 1 else ''}" for s in ("error", "warning", "info")]
    console.print(f"{', '.join(parts)} in {scope}.")
