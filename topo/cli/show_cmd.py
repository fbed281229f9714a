"""`topo show listeners|routes|clusters|endpoints|all POD`: istioctl proxy-config's tables, from the graph."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from topo.cli.common import DatabaseOpt, Fmt, Neo4jOpt, OutputOpt, SnapshotOpt, StoreOpt, cli_errors, emit

app = typer.Typer(help="istioctl proxy-config's tables (listener, route, cluster, endpoint), drawn from the graph.",
                  no_args_is_help=True)

PodArg = Annotated[str, typer.Argument(help="Pod (name, name.namespace, ns/name, unique prefix or workload).")]
NsOpt = Annotated[str | None, typer.Option("-n", "--namespace", help="Namespace of POD.")]
PortOpt = Annotated[int, typer.Option("--port", help="Filter by port.")]
AddressOpt = Annotated[str, typer.Option("--address", help="Filter by address.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose/--no-verbose", help="Output more information.")]
FqdnOpt = Annotated[str, typer.Option("--fqdn", help="Filter clusters by substring of Service FQDN field.")]
SubsetOpt = Annotated[str, typer.Option("--subset", help="Filter clusters by substring of Subset field.")]
DirectionOpt = Annotated[str, typer.Option("--direction", help="Filter clusters by Direction field.")]
ClusterOpt = Annotated[str, typer.Option("--cluster", help="Filter endpoints by cluster name field.")]
StatusOpt = Annotated[str, typer.Option("--status", help="Filter endpoints by status field.")]


def _open(store: Any, snapshot: str | None, neo4j: str | None, database: str) -> tuple[Any, Any]:
    from topo.queries.graphapi import open_graph
    from topo.queries.show import RawReader

    g = open_graph(store=store, snapshot=snapshot, neo4j=neo4j, database=database)
    return g, RawReader(g, store, snapshot)


def _print(t: Any, output: Fmt) -> None:
    from topo.queries.show import render_text

    if output is Fmt.table:
        typer.echo(render_text(t), nl=False)
    else:
        emit(t.resources, output, lambda _c: None)


@app.command("listeners")
@app.command("listener", hidden=True)
@cli_errors
def listeners(pod: PodArg, port: PortOpt = 0, address: AddressOpt = "",
              type_: Annotated[str, typer.Option("--type", help="Filter listeners by type (HTTP, TCP, HTTP+TCP).")] = "",
              verbose: VerboseOpt = True, namespace: NsOpt = None, store: StoreOpt = None, snapshot: SnapshotOpt = None,
              neo4j: Neo4jOpt = None, database: DatabaseOpt = "neo4j", output: OutputOpt = Fmt.table) -> None:
    """Like `istioctl proxy-config listener POD`."""
    from topo.queries.show import listener_table

    g, raw = _open(store, snapshot, neo4j, database)
    _print(listener_table(g, pod, namespace=namespace, address=address, port=port, type_=type_, verbose=verbose,
                          raw=raw), output)


@app.command("routes")
@app.command("route", hidden=True)
@cli_errors
def routes(pod: PodArg, name: Annotated[str, typer.Option("--name", help="Filter by route name.")] = "",
           verbose: VerboseOpt = True, namespace: NsOpt = None, store: StoreOpt = None, snapshot: SnapshotOpt = None,
           neo4j: Neo4jOpt = None, database: DatabaseOpt = "neo4j", output: OutputOpt = Fmt.table) -> None:
    """Like `istioctl proxy-config route POD`."""
    from topo.queries.show import route_table

    g, raw = _open(store, snapshot, neo4j, database)
    _print(route_table(g, pod, namespace=namespace, name=name, verbose=verbose, raw=raw), output)


@app.command("clusters")
@app.command("cluster", hidden=True)
@cli_errors
def clusters(pod: PodArg, fqdn: FqdnOpt = "", port: PortOpt = 0, subset: SubsetOpt = "", direction: DirectionOpt = "",
             namespace: NsOpt = None, store: StoreOpt = None, snapshot: SnapshotOpt = None, neo4j: Neo4jOpt = None,
             database: DatabaseOpt = "neo4j", output: OutputOpt = Fmt.table) -> None:
    """Like `istioctl proxy-config cluster POD`."""
    from topo.queries.show import cluster_table

    g, raw = _open(store, snapshot, neo4j, database)
    _print(cluster_table(g, pod, namespace=namespace, fqdn=fqdn, port=port, subset=subset, direction=direction,
                         raw=raw), output)


@app.command("endpoints")
@app.command("endpoint", hidden=True)
@app.command("ep", hidden=True)
@cli_errors
def endpoints(pod: PodArg, port: PortOpt = 0, address: AddressOpt = "", cluster: ClusterOpt = "",
              status: StatusOpt = "",
              outlier: Annotated[bool, typer.Option("--outlier", help="istioctl's /clusters view: ENDPOINT, STATUS, "
                                                    "OUTLIER CHECK, CLUSTER.")] = False,
              namespace: NsOpt = None, store: StoreOpt = None, snapshot: SnapshotOpt = None, neo4j: Neo4jOpt = None,
              database: DatabaseOpt = "neo4j", output: OutputOpt = Fmt.table) -> None:
    """Like `istioctl proxy-config eds POD` (the endpoint table of `proxy-config all`); --outlier: `proxy-config endpoint`."""
    from topo.queries.show import endpoint_status_table, endpoint_table

    g, _raw = _open(store, snapshot, neo4j, database)
    table = endpoint_status_table if outlier else endpoint_table
    _print(table(g, pod, namespace=namespace, address=address, port=port, cluster=cluster, status=status), output)


@app.command("all")
@cli_errors
def all_(pod: PodArg, port: PortOpt = 0, address: AddressOpt = "", fqdn: FqdnOpt = "", subset: SubsetOpt = "",
         direction: DirectionOpt = "", name: Annotated[str, typer.Option("--name", help="Filter routes by name.")] = "",
         cluster: ClusterOpt = "", status: StatusOpt = "", verbose: VerboseOpt = True, namespace: NsOpt = None,
         store: StoreOpt = None, snapshot: SnapshotOpt = None, neo4j: Neo4jOpt = None, database: DatabaseOpt = "neo4j",
         output: OutputOpt = Fmt.table) -> None:
    """Like `istioctl proxy-config all POD`: cluster, listener, route and endpoint tables (no bootstrap or secrets)."""
    from topo.queries import show as q

    g, raw = _open(store, snapshot, neo4j, database)
    kw: dict[str, Any] = {"namespace": namespace, "config_type": True}
    tables = [q.cluster_table(g, pod, fqdn=fqdn, port=port, subset=subset, direction=direction, raw=raw, require=False, **kw),
              q.listener_table(g, pod, address=address, port=port, verbose=verbose, raw=raw, require=False, **kw),
              q.route_table(g, pod, name=name, verbose=verbose, raw=raw, require=False, **kw),
              q.endpoint_table(g, pod, address=address, port=port, cluster=cluster, status=status, **kw)]
    if output is Fmt.table:
        typer.echo(q.full_summary(tables), nl=False)
    else:
        emit({t.kind: t.resources for t in tables}, output, lambda _c: None)
