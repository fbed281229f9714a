"""`topo path SRC DST`: where requests from SRC to DST go."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from topo.cli.common import (
    DstArg,
    Fmt,
    GraphOpts,
    NsOpt,
    OutputOpt,
    RequestOpts,
    SrcArg,
    cli_errors,
    emit,
    esc,
    new_table,
    with_graph,
    with_request,
)
from topo.util import pct

app = typer.Typer()

EXIT_DEAD_END = 4
FromZoneOpt = Annotated[str | None, typer.Option(
    "--from-zone", help="Shares as a caller in this locality would get them (REGION/ZONE, REGION/ZONE/SUB_ZONE or ZONE): "
                        "priorities and locality weights are per caller.")]


@app.command()
@cli_errors
@with_graph
@with_request
def path(src: SrcArg, dst: DstArg, req: RequestOpts, graph: GraphOpts, namespace: NsOpt = None,
         from_zone: FromZoneOpt = None, output: OutputOpt = Fmt.table) -> None:
    """Where requests from SRC to DST go: the chain, the weights, each endpoint's share, the Istio object
    behind each hop and its timeouts, retries and limits. Exit 4 on a dead end."""
    from topo.queries.path import path as run

    with graph.open() as g:
        res = run(g, src, dst, namespace=namespace, from_zone=from_zone, **req.kwargs())
    emit(res, output, lambda c: _table(c, res))
    raise typer.Exit(0 if res.ok else EXIT_DEAD_END)


def _table(console: Any, res: Any) -> None:
    from topo.queries.envoy import cluster_settings_text, route_settings_text

    for a in res.answers:
        r = a.request
        tls = f" tls sni={r['sni'] or '-'}" if r.get("tls") else ""
        pods, where = esc(", ".join(a.pods)), esc(f"{r['ip'] or '*'}:{r['port']}{tls}")
        console.print(f"[bold]{pods}[/bold] → {esc(r['host'])} ({where}) {esc(r['method'])} {esc(r['path'])}"
                      if r["protocol"] == "http" else f"[bold]{pods}[/bold] → {esc(r['ip'] or '*')}:{r['port']} (tcp{esc(tls)})")
        for h in a.hops:
            console.print(f"  {h.kind.replace('_', ' '):<13} {esc(h.name)}" + (f"  ({esc(h.detail)})" if h.detail else "")
                          + (f"  [dim]← {esc(', '.join(h.istio))}[/dim]" if h.istio else ""))
            if h.settings:
                console.print(f"  {'':<13} [dim]{esc(route_settings_text(h.settings))}[/dim]")
        t = new_table("CLUSTER", "WEIGHT", "ENDPOINT", "SHARE", "POD", "HEALTH")
        for c in a.clusters:
            if not c.endpoints:
                t.add_row(c.name, pct(c.fraction), "(endpoints unknown)" if c.endpoints_unknown else "-",
                          pct(c.share), "-", c.flag or "")
            for e in c.endpoints:
                t.add_row(c.name, pct(c.fraction), e.address, pct(e.share), e.pod or "-", e.health)
        if a.clusters:
            console.print(t)
        for c in a.clusters:
            if c.istio or c.settings:
                console.print(f"  {esc(c.name)}" + (f"  [dim]← {esc(', '.join(c.istio))}[/dim]" if c.istio else ""))
            if c.settings:
                console.print(f"    [dim]{esc(cluster_settings_text(c.settings))}[/dim]")
        for m in a.mirrors:
            console.print(f"  mirror        {esc(m.cluster)} {pct(m.share)} of requests copied"
                          + (f" ({pct(m.fraction)} of the route's)" if abs(m.share - m.fraction) > 1e-9 else "")
                          + ("" if m.exists else ": the cluster is not in the proxy's config, the copies are dropped"))
        for d in a.dead_ends:
            console.print(f"  [red]dead end {esc(d.flag)}[/red] {pct(d.share)}: {esc(d.reason)}")
        for u in a.unsupported:
            console.print(f"  unsupported: {esc(u.filter)} (listener {esc(u.listener)} chain {esc(u.chain)}) takes "
                          f"{pct(u.share)}: topo does not follow this filter")
        if a.endpoints_unknown:
            console.print(f"  endpoints unknown for {pct(a.endpoints_unknown)}: the dump has no EDS section "
                          "(take it with /config_dump?include_eds, or add a .clusters.json)")
        for n in a.notes:
            console.print(f"  note: {esc(n)}")
