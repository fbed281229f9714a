"""`topo export path|egress|mesh|blast|diff`: the answers as diagrams (the drawing is in topo.export)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from topo.cli.blast import NodeOpt, RegionOpt, ZoneOpt
from topo.cli.common import (
    DatabaseOpt,
    DstArg,
    GraphOpts,
    NsOpt,
    RequestOpts,
    SrcArg,
    StoreOpt,
    cli_errors,
    with_graph,
    with_request,
)
from topo.cli.path import FromZoneOpt

app = typer.Typer(no_args_is_help=True,
                  help="Draw an answer with Graphviz: -o FILE, the format from its suffix (.svg, .png, .pdf, .dot).")

OutOpt = Annotated[Path, typer.Option("-o", "--output", help="File to write: .svg, .png or .pdf (rendered by "
                                                             "Graphviz's dot), or .dot (needs nothing).")]
BlastTargetArg = Annotated[str | None, typer.Argument(help="Pod, endpoint IP, cluster, service or node.")]


@app.command()
@cli_errors
@with_graph
@with_request
def path(src: SrcArg, dst: DstArg, req: RequestOpts, graph: GraphOpts, namespace: NsOpt = None,
         from_zone: FromZoneOpt = None, out: OutOpt = Path("path.svg")) -> None:
    """SRC → listener → chain → route config → vhost → route → clusters (weights) → endpoints (shares) → pods."""
    from topo.export import dot, render
    from topo.queries.path import path as run

    with graph.open() as g:
        res = run(g, src, dst, namespace=namespace, from_zone=from_zone, **req.kwargs())
    render.write(dot.path_graph(res), out)


@app.command()
@cli_errors
@with_graph
def egress(
    pod: Annotated[str, typer.Argument(help="Pod name, prefix or workload.")],
    graph: GraphOpts,
    detail: Annotated[bool, typer.Option("--detail", help="Routes, clusters and endpoints even past 40 "
                                                          "destinations (else one edge per service).")] = False,
    namespace: NsOpt = None,
    out: OutOpt = Path("egress.svg"),
) -> None:
    """Every service POD's proxy routes to, one box per service, with the cluster weights."""
    from topo.export import dot, render
    from topo.queries.reach import reach

    with graph.open() as g:
        res = reach(g, pod, namespace)
    render.write(dot.egress_graph(res, detail=detail), out)


@app.command()
@cli_errors
@with_graph
def mesh(
    graph: GraphOpts,
    namespace: Annotated[str | None, typer.Option("-n", "--namespace",
                                                  help="Only source workloads in this namespace (default: all).")] = None,
    out: OutOpt = Path("mesh.svg"),
) -> None:
    """Workload → service edges from the proxies' config (traffic or not), labelled with the route weights."""
    from topo.export import dot, render
    from topo.queries.mesh import mesh_model

    with graph.open() as g:
        model = mesh_model(g, namespace)
    render.write(dot.mesh_graph(model), out)


@app.command()
@cli_errors
@with_graph
def blast(graph: GraphOpts, target: BlastTargetArg = None, zone: ZoneOpt = None, region: RegionOpt = None,
          node: NodeOpt = None, namespace: NsOpt = None, out: OutOpt = Path("blast.svg")) -> None:
    """TARGET (or a zone, region, node) in red; each source with the share it loses (red) or that moves
    elsewhere (orange), and to which priority and locality."""
    from topo.export import dot, render
    from topo.queries.blast import blast as run

    with graph.open() as g:
        res = run(g, target, namespace, zone=zone, region=region, node=node)
    render.write(dot.blast_graph(res), out)


@app.command()
@cli_errors
def diff(
    args: Annotated[list[str], typer.Argument(metavar="A B [SRC] [DST]", help="As `topo diff`.")],
    neo4j: Annotated[str | None, typer.Option("--neo4j", help="Compare snapshot A with this Neo4j graph.")] = None,
    database: DatabaseOpt = "neo4j",
    store: StoreOpt = None,
    out: OutOpt = Path("diff.svg"),
) -> None:
    """What changed from A to B: added edges green, removed red, weight and share changes labelled."""
    from topo.cli.diff import run_diff
    from topo.export import dot, render

    render.write(dot.diff_graph(run_diff(args, neo4j, database, store)), out)
