"""`topo show listeners|routes|clusters|endpoints|all POD`: istioctl proxy-config's tables, from the graph."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from topo.cli.common import Fmt, GraphOpts, OutputOpt, cli_errors, emit, with_graph

if TYPE_CHECKING:
    from topo.queries.show import ShowTable

app = typer.Typer(help="istioctl proxy-config's tables (listener, route, cluster, endpoint), drawn from the graph.",
                  no_args_is_help=True)

PodArg = Annotated[str, typer.Argument(help="Pod (name, name.namespace, ns/name, unique prefix or workload).")]
NsOpt = Annotated[str | None, typer.Option("-n", "--namespace", help="Namespace of POD.")]
PortOpt = Annotated[int, typer.Option("--port", min=0, max=65535, help="Filter by port (0: any).")]
AddressOpt = Annotated[str, typer.Option("--address", help="Filter by address.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose/--no-verbose", help="Output more information.")]
TypeOpt = Annotated[str, typer.Option("--type", help="Filter listeners by type (HTTP, TCP, HTTP+TCP).")]
NameOpt = Annotated[str, typer.Option("--name", help="Filter by route name.")]
FqdnOpt = Annotated[str, typer.Option("--fqdn", help="Filter clusters by substring of Service FQDN field.")]
SubsetOpt = Annotated[str, typer.Option("--subset", help="Filter clusters by substring of Subset field.")]
DirectionOpt = Annotated[str, typer.Option("--direction", help="Filter clusters by Direction field.")]
ClusterOpt = Annotated[str, typer.Option("--cluster", help="Filter endpoints by cluster name field.")]
StatusOpt = Annotated[str, typer.Option("--status", help="Filter endpoints by status field.")]
OutlierOpt = Annotated[bool, typer.Option("--outlier", help="istioctl's /clusters view: ENDPOINT, STATUS, "
                                                            "OUTLIER CHECK, CLUSTER.")]


def _print(t: ShowTable, output: Fmt) -> None:
    from topo.export.tabwriter import render_text

    if output is Fmt.table:
        typer.echo(render_text(t), nl=False)
    else:
        emit(t.resources, output, lambda _c: None)


@app.command("listeners")
@app.command("listener", hidden=True)
@cli_errors
@with_graph
def listeners(pod: PodArg, graph: GraphOpts, port: PortOpt = 0, address: AddressOpt = "", type_: TypeOpt = "",
              verbose: VerboseOpt = True, namespace: NsOpt = None, output: OutputOpt = Fmt.table) -> None:
    """Like `istioctl proxy-config listener POD`."""
    from topo.queries.show import ListenerFilter, listener_table

    with graph.open() as g:
        t = listener_table(g, pod, ListenerFilter(address, port, type_, verbose), namespace=namespace)
    _print(t, output)


@app.command("routes")
@app.command("route", hidden=True)
@cli_errors
@with_graph
def routes(pod: PodArg, graph: GraphOpts, name: NameOpt = "", verbose: VerboseOpt = True, namespace: NsOpt = None,
           output: OutputOpt = Fmt.table) -> None:
    """Like `istioctl proxy-config route POD`."""
    from topo.queries.show import RouteFilter, route_table

    with graph.open() as g:
        t = route_table(g, pod, RouteFilter(name, verbose), namespace=namespace)
    _print(t, output)


@app.command("clusters")
@app.command("cluster", hidden=True)
@cli_errors
@with_graph
def clusters(pod: PodArg, graph: GraphOpts, fqdn: FqdnOpt = "", port: PortOpt = 0, subset: SubsetOpt = "",
             direction: DirectionOpt = "", namespace: NsOpt = None, output: OutputOpt = Fmt.table) -> None:
    """Like `istioctl proxy-config cluster POD`."""
    from topo.queries.show import ClusterFilter, cluster_table

    with graph.open() as g:
        t = cluster_table(g, pod, ClusterFilter(fqdn, port, subset, direction), namespace=namespace)
    _print(t, output)


@app.command("endpoints")
@app.command("endpoint", hidden=True)
@app.command("ep", hidden=True)
@cli_errors
@with_graph
def endpoints(pod: PodArg, graph: GraphOpts, port: PortOpt = 0, address: AddressOpt = "", cluster: ClusterOpt = "",
              status: StatusOpt = "", outlier: OutlierOpt = False, namespace: NsOpt = None,
              output: OutputOpt = Fmt.table) -> None:
    """Like `istioctl proxy-config eds POD` (the endpoint table of `proxy-config all`); --outlier: `proxy-config endpoint`."""
    from topo.queries.show import EndpointFilter, endpoint_status_table, endpoint_table

    table = endpoint_status_table if outlier else endpoint_table
    with graph.open() as g:
        t = table(g, pod, EndpointFilter(address, port, cluster, status), namespace=namespace)
    _print(t, output)


@app.command("all")
@cli_errors
@with_graph
def all_(pod: PodArg, graph: GraphOpts, port: PortOpt = 0, address: AddressOpt = "", fqdn: FqdnOpt = "",
         subset: SubsetOpt = "", direction: DirectionOpt = "", name: NameOpt = "", cluster: ClusterOpt = "",
         status: StatusOpt = "", verbose: VerboseOpt = True, namespace: NsOpt = None,
         output: OutputOpt = Fmt.table) -> None:
    """Like `istioctl proxy-config all POD`: versions, cluster, listener, route, secret (a count) and endpoint tables."""
    from topo.export.tabwriter import full_summary
    from topo.queries import show as q

    kw: dict[str, Any] = {"namespace": namespace, "config_type": True}
    with graph.open() as g:
        tables = [q.bootstrap_table(g, pod, namespace=namespace),
                  q.cluster_table(g, pod, q.ClusterFilter(fqdn, port, subset, direction), require=False, **kw),
                  q.listener_table(g, pod, q.ListenerFilter(address, port, "", verbose), require=False, **kw),
                  q.route_table(g, pod, q.RouteFilter(name, verbose), require=False, **kw),
                  q.secret_table(g, pod, namespace=namespace),
                  q.endpoint_table(g, pod, q.EndpointFilter(address, port, cluster, status), **kw)]
    if output is Fmt.table:
        typer.echo(full_summary(tables), nl=False)
    else:
        emit({t.kind: t.resources for t in tables}, output, lambda _c: None)
