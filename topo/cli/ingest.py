"""`topo ingest`: dumps → graph."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from topo.cli.common import (
    AllNsOpt,
    ConcurrencyOpt,
    ContextOpt,
    DatabaseOpt,
    Fmt,
    KubeconfigOpt,
    Neo4jOpt,
    OutputOpt,
    SelectorOpt,
    StoreOpt,
    TimeoutOpt,
    cli_errors,
    emit,
    err,
    esc,
    make_target,
    new_table,
    progress_bar,
)

app = typer.Typer()


@app.command()
@cli_errors
def ingest(
    from_: Annotated[Path | None, typer.Option("--from", help="A dump file or a directory of dumps.")] = None,
    namespace: Annotated[str | None, typer.Option("-n", "--namespace", help="Live: read this namespace via kubectl.")] = None,
    all_namespaces: AllNsOpt = False,
    selector: SelectorOpt = None,
    context: ContextOpt = None,
    kubeconfig: KubeconfigOpt = None,
    concurrency: ConcurrencyOpt = 8,
    timeout: TimeoutOpt = 60.0,
    store: StoreOpt = None,
    name: Annotated[str | None, typer.Option("--name", help="Name the snapshot (default: UTC time).")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="With --name: overwrite the snapshot of that name.")] = False,
    neo4j: Neo4jOpt = None,
    database: DatabaseOpt = "neo4j",
    output: OutputOpt = Fmt.table,
) -> None:
    """Read config dumps into the graph, from --from DIR or live with -n NAMESPACE / -A (kubectl).
    Exit 0: all read; 3: some files or pods refused; 1: nothing read."""
    from topo.ingest import kubectl, pipeline, sources
    from topo.stores import open_loader

    kube_only = {"-A": all_namespaces, "-l": selector, "--context": context, "--kubeconfig": kubeconfig}
    if from_ is not None:
        extra = [k for k, v in kube_only.items() if v]
        if extra:
            err(f"{', '.join(extra)} go with -n NAMESPACE / -A (live ingest), not with --from")
            raise typer.Exit(2)
    elif namespace is None and not all_namespaces:
        err("give --from DIR (saved dumps), or -n NAMESPACE / -A to read a cluster live through kubectl")
        raise typer.Exit(2)
    if from_ is not None:
        bundle = sources.from_path(from_)
        loader = open_loader(store=store, neo4j=neo4j, database=database, name=name, replace=replace)
        res = pipeline.run(bundle, loader)
    else:
        target = make_target(namespace, all_namespaces, selector, context, kubeconfig)
        target.validate()  # bad names: exit 2 before opening the store or calling kubectl
        loader = open_loader(store=store, neo4j=neo4j, database=database, name=name, replace=replace)
        with progress_bar() as bar:
            bundle = kubectl.from_kubectl(target, concurrency=concurrency, timeout=timeout, progress=bar,
                                          on_plan=bar.on_plan if bar else None)
            res = pipeline.run(bundle, loader)
    summary = pipeline.summary_dict(res)
    summary["store"] = loader.describe()
    emit(summary, output, lambda c: _table(c, summary))
    for src, why in res.skipped:
        err(f"{src}: skipped: {why}")
    for src, why in res.refused:
        err(f"{src}: {why}")
    raise typer.Exit(res.exit_code)


def _table(console: Any, s: dict[str, Any]) -> None:
    if not s["pods"]:
        console.print("Nothing ingested; the store was left as it was.")
        return
    console.print(f"Ingested {s['pods']} pods ({s['proxy_configs']} distinct proxy configs) into {esc(s['store'])}"
                  + (f", snapshot {esc(s['snapshot'])}" if s["snapshot"] else ""))
    t = new_table("RESOURCE", "IN DUMPS", "IN GRAPH (DISTINCT)")
    d, g = s["in_dumps"], s["in_graph"]
    t.add_row("pods", str(s["pods"]), str(s["pods"]))
    for k, label in (("listeners", "listeners"), ("route_configs", "route configs"), ("clusters", "clusters"),
                     ("endpoints", "endpoints")):
        t.add_row(label, str(d[k]), str(g[k]))
    t.add_row("services", "", str(g["services"]))
    console.print(t)
    console.print(f"graph: {s['nodes']} nodes, {s['relationships']} relationships")
    for n in s["notes"]:
        console.print(f"note: {esc(n)}")
