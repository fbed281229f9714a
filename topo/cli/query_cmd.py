"""`topo path`, `topo reach`, `topo blast`: the questions."""

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
from topo.util import pct as _pct

app = typer.Typer()

NsOpt = Annotated[str | None, typer.Option("-n", "--namespace", help="Namespace of SRC.")]
# the request of `topo path` and `topo export path`
SrcArg = Annotated[str, typer.Argument(help="Pod name, unique pod-name prefix, or workload.")]
DstArg = Annotated[str, typer.Argument(help="Service name, FQDN, VIP, IP:PORT or URL.")]
PortOpt = Annotated[int | None, typer.Option("--port", help="Destination port.")]
ReqPathOpt = Annotated[str | None, typer.Option("--path", help="Request path (default: /).")]
HeaderOpt = Annotated[list[str] | None, typer.Option("--header", help="Request header K=V (repeatable).")]
MethodOpt = Annotated[str, typer.Option("--method", help="HTTP method.")]
HostOpt = Annotated[str | None, typer.Option("--host", help="Host header (default: what a client sends).")]
TcpOpt = Annotated[bool, typer.Option("--tcp", help="Plain TCP, not HTTP.")]
EXIT_DEAD_END = 4


def _graph(store: Any, snapshot: str | None, neo4j: str | None, database: str) -> Any:
    from topo.queries.graphapi import open_graph

    return open_graph(store=store, snapshot=snapshot, neo4j=neo4j, database=database)


def _headers(values: list[str]) -> dict[str, str]:
    from topo.errors import TopoError

    out = {}
    for v in values:
        k, sep, val = v.partition("=")
        if not sep or not k:
            raise TopoError(f"--header takes K=V, got {v!r}", 2)
        out[k.strip().lower()] = val
    return out


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
    output: OutputOpt = Fmt.table,
) -> None:
    """Where requests from SRC to DST go: the chain, the weights, each endpoint's share. Exit 4 on a dead end."""
    from topo.queries.path import path as run

    g = _graph(store, snapshot, neo4j, database)
    res = run(g, src, dst, namespace=namespace, port=port, req_path=req_path, headers=_headers(header or []),
              method=method, host=host, tcp=tcp)
    emit(res, output, lambda c: _path_table(c, res))
    raise typer.Exit(0 if res.ok else EXIT_DEAD_END)


def _path_table(console: Any, res: Any) -> None:
    for a in res.answers:
        r = a.request
        console.print(f"[bold]{', '.join(a.pods)}[/bold] → {r['host']} ({r['ip'] or '*'}:{r['port']}) "
                      f"{r['method']} {r['path']}" if r["protocol"] == "http" else
                      f"[bold]{', '.join(a.pods)}[/bold] → {r['ip'] or '*'}:{r['port']} (tcp)")
        for h in a.hops:
            console.print(f"  {h.kind.replace('_', ' '):<13} {h.name}" + (f"  ({h.detail})" if h.detail else ""))
        t = new_table("CLUSTER", "WEIGHT", "ENDPOINT", "SHARE", "POD", "HEALTH")
        for c in a.clusters:
            if not c.endpoints:
                t.add_row(c.name, _pct(c.fraction), "-", _pct(c.share), "-", c.flag or "")
            for e in c.endpoints:
                t.add_row(c.name, _pct(c.fraction), e.address, _pct(e.share), e.pod or "-", e.health)
        if a.clusters:
            console.print(t)
        for d in a.dead_ends:
            console.print(f"  [red]dead end {d.flag}[/red] {_pct(d.share)}: {d.reason}")
        for n in a.notes:
            console.print(f"  note: {n}")


@app.command()
@cli_errors
def reach(
    src: Annotated[str | None, typer.Argument(help="Pod name, prefix or workload.")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Reverse: who sends traffic to this service, cluster, pod or IP.")] = None,
    namespace: NsOpt = None,
    store: StoreOpt = None,
    snapshot: SnapshotOpt = None,
    neo4j: Neo4jOpt = None,
    database: DatabaseOpt = "neo4j",
    output: OutputOpt = Fmt.table,
) -> None:
    """What SRC's proxy routes to; or, with --to, every source that routes to DST."""
    from topo.errors import TopoError
    from topo.queries import reach as q

    if (src is None) == (to is None):
        raise TopoError("give SRC, or --to DST (not both)", 2)
    g = _graph(store, snapshot, neo4j, database)
    if to is not None:
        res_to = q.reach_to(g, to, namespace)
        emit(res_to, output, lambda c: _reach_to_table(c, res_to))
        return
    res = q.reach(g, src or "", namespace)
    emit(res, output, lambda c: _reach_table(c, res))


def _reach_table(console: Any, res: Any) -> None:
    for a in res.answers:
        console.print(f"[bold]{', '.join(a.pods)}[/bold] reaches:")
        t = new_table("DESTINATION", "ROUTE", "MATCH", "CLUSTER", "WEIGHT", "ENDPOINT", "SHARE", "POD")
        for e in a.entries:
            t.add_row(e.destination, e.route, e.match, e.cluster, _pct(e.cluster_fraction),
                      e.endpoint or f"[red]{e.flag}[/red]", _pct(e.share), e.pod or "-")
        console.print(t)


def _reach_to_table(console: Any, res: Any) -> None:
    console.print(f"Sources that route to {res.kind} {res.target}:")
    t = new_table("SOURCE PODS", "DESTINATION", "ROUTE", "CLUSTER", "ENDPOINT", "SHARE")
    for r in res.rows:
        t.add_row(", ".join(r.pods), r.destination, r.route, r.cluster, r.endpoint or "-", _pct(r.share))
    console.print(t)


@app.command()
@cli_errors
def blast(
    target: Annotated[str, typer.Argument(help="Pod, endpoint IP, cluster, service or node.")],
    namespace: NsOpt = None,
    store: StoreOpt = None,
    snapshot: SnapshotOpt = None,
    neo4j: Neo4jOpt = None,
    database: DatabaseOpt = "neo4j",
    output: OutputOpt = Fmt.table,
) -> None:
    """If TARGET's endpoints fail: each source's lost and moved share, worst first."""
    from topo.queries.blast import blast as run

    g = _graph(store, snapshot, neo4j, database)
    res = run(g, target, namespace)
    emit(res, output, lambda c: _blast_table(c, res))


def _blast_table(console: Any, res: Any) -> None:
    console.print(f"If {res.kind} {res.target} fails ({', '.join(res.failed_endpoints)}):")
    t = new_table("SOURCE PODS", "DESTINATION", "ROUTE", "LOST", "MOVED", "OUTRIGHT", "FLAGS")
    for r in res.rows:
        t.add_row(", ".join(r.pods), r.destination, r.route, _pct(r.lost), _pct(r.moved),
                  "yes" if r.fails_outright else "no", ",".join(r.flags))
    console.print(t)
    if not res.rows:
        console.print("No source routes to it.")
