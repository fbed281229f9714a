"""`topo export path|egress|mesh|blast`: the answers as diagrams (the drawing is in topo.export)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from topo.cli.common import DatabaseOpt, Neo4jOpt, SnapshotOpt, StoreOpt, cli_errors
from topo.cli.query_cmd import (
    DstArg,
    HeaderOpt,
    HostOpt,
    MethodOpt,
    NsOpt,
    PortOpt,
    ReqPathOpt,
    SrcArg,
    TcpOpt,
    _graph,
    _headers,
)

app = typer.Typer(no_args_is_help=True,
                  help="Draw an answer with Graphviz: -o FILE, the format from its suffix (.svg, .png, .pdf, .dot).")


OutOpt = Annotated[Path, typer.Option("-o", "--output", help="File to write: .svg, .png or .pdf (rendered by "
                                                             "Graphviz's dot), or .dot (needs nothing).")]


@app.command()
@cli_errors
def path(
    src: SrcArg,
    dst: DstArg,
    port: PortOpt = None,
    req_path: ReqPathOpt = None,
    header: HeaderOpt = None,
    method: MethodOpt = "GET",
    host: HostOpt = None,
    tcp: TcpOpt = False,
    namespace: NsOpt = None,
    store: StoreOpt = None,
    snapshot: SnapshotOpt = None,
    neo4j: Neo4jOpt = None,
    database: DatabaseOpt = "neo4j",
    out: OutOpt = Path("path.svg"),
) -> None:
    """SRC → listener → chain → route config → vhost → route → clusters (weights) → endpoints (shares) → pods."""
    from topo.export import dot, render
    from topo.queries.path import path as run

    res = run(_graph(store, snapshot, neo4j, database), src, dst, namespace=namespace, port=port, req_path=req_path,
              headers=_headers(header or []), method=method, host=host, tcp=tcp)
    render.write(dot.path_graph(res), out)


@app.command()
@cli_errors
def egress(
    pod: Annotated[str, typer.Argument(help="Pod name, prefix or workload.")],
    detail: Annotated[bool, typer.Option("--detail", help="Routes, clusters and endpoints even past 40 "
                                                          "destinations (else one edge per service).")] = False,
    namespace: NsOpt = None,
    store: StoreOpt = None,
    snapshot: SnapshotOpt = None,
    neo4j: Neo4jOpt = None,
    database: DatabaseOpt = "neo4j",
    out: OutOpt = Path("egress.svg"),
) -> None:
    """Every service POD's proxy routes to, one box per service, with the cluster weights."""
    from topo.export import dot, render
    from topo.queries.reach import reach

    render.write(dot.egress_graph(reach(_graph(store, snapshot, neo4j, database), pod, namespace), detail=detail), out)


@app.command()
@cli_errors
def mesh(
    namespace: Annotated[str | None, typer.Option("-n", "--namespace",
                                                  help="Only source workloads in this namespace (default: all).")] = None,
    store: StoreOpt = None,
    snapshot: SnapshotOpt = None,
    neo4j: Neo4jOpt = None,
    database: DatabaseOpt = "neo4j",
    out: OutOpt = Path("mesh.svg"),
) -> None:
    """Workload → service edges from the proxies' config (traffic or not), labelled with the route weights."""
    from topo.export import dot, render

    render.write(dot.mesh_graph(_graph(store, snapshot, neo4j, database), namespace), out)


@app.command()
@cli_errors
def blast(
    target: Annotated[str, typer.Argument(help="Pod, endpoint IP, cluster, service or node.")],
    namespace: NsOpt = None,
    store: StoreOpt = None,
    snapshot: SnapshotOpt = None,
    neo4j: Neo4jOpt = None,
    database: DatabaseOpt = "neo4j",
    out: OutOpt = Path("blast.svg"),
) -> None:
    """TARGET in red; each source with the share it loses (red) or that moves elsewhere (orange)."""
    from topo.export import dot, render
    from topo.queries.blast import blast as run

    render.write(dot.blast_graph(run(_graph(store, snapshot, neo4j, database), target, namespace)), out)


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
    from topo.cli.check_cmd import run_diff
    from topo.export import dot, render

    render.write(dot.diff_graph(run_diff(args, neo4j, database, store)), out)
