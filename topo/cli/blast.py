"""`topo blast TARGET` / `topo blast --zone Z | --region R | --node N`: who loses what if it fails."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from topo.cli.common import Fmt, GraphOpts, NsOpt, OutputOpt, cli_errors, emit, esc, new_table, with_graph
from topo.util import pct

app = typer.Typer()

TargetArg = Annotated[str | None, typer.Argument(help="Pod, endpoint IP, cluster, service or node.")]
ZoneOpt = Annotated[str | None, typer.Option("--zone", help="Fail every endpoint in this zone (ZONE or REGION/ZONE).")]
RegionOpt = Annotated[str | None, typer.Option("--region", help="Fail every endpoint in this region.")]
NodeOpt = Annotated[str | None, typer.Option("--node", help="Fail every endpoint on this Kubernetes node.")]


@app.command()
@cli_errors
@with_graph
def blast(graph: GraphOpts, target: TargetArg = None, zone: ZoneOpt = None, region: RegionOpt = None,
          node: NodeOpt = None, namespace: NsOpt = None, output: OutputOpt = Fmt.table) -> None:
    """If TARGET's endpoints (or a zone's, region's or node's) fail: each source's lost share, and where the
    rest moves (priority and locality, by Envoy's spill-over, overprovisioning factor and panic threshold)."""
    from topo.queries.blast import blast as run

    with graph.open() as g:
        res = run(g, target, namespace, zone=zone, region=region, node=node)
    emit(res, output, lambda c: _table(c, res))


def _moved_to(r: Any) -> str:
    return ", ".join(f"P{m.priority}{' ' + m.locality if m.locality else ''} {pct(m.share)}" for m in r.moved_to)


def _table(console: Any, res: Any) -> None:
    console.print(f"If {res.kind} {esc(res.target)} fails ({esc(', '.join(res.failed_endpoints))}):")
    if res.failed_sources:
        console.print(f"  sources there fail with it: {esc(', '.join(res.failed_sources))}")
    t = new_table("SOURCE PODS", "DESTINATION", "ROUTE", "LOST", "MOVED", "MOVED TO", "OUTRIGHT", "FLAGS")
    for r in res.rows:
        t.add_row(", ".join(r.pods), r.destination, r.route, pct(r.lost), pct(r.moved),
                  _moved_to(r), "yes" if r.fails_outright else "no",
                  ",".join(r.flags + (["failed hosts"] if r.to_failed > 0 else [])))
    console.print(t)
    if not res.rows:
        console.print("No source routes to it.")
