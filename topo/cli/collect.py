"""`topo collect`: a cluster's sidecar dumps → a directory that `topo ingest --from` reads."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from topo.cli.common import (
    AllNsOpt,
    ConcurrencyOpt,
    ContextOpt,
    Fmt,
    KubeconfigOpt,
    OutputOpt,
    SelectorOpt,
    TimeoutOpt,
    cli_errors,
    emit,
    err,
    esc,
    make_target,
    progress_bar,
)

app = typer.Typer()


@app.command()
@cli_errors
def collect(
    out: Annotated[Path, typer.Option("--out", help="Directory to write (new or empty).")],
    namespace: Annotated[str | None, typer.Option("-n", "--namespace", help="Namespace to read.")] = None,
    all_namespaces: AllNsOpt = False,
    selector: SelectorOpt = None,
    context: ContextOpt = None,
    kubeconfig: KubeconfigOpt = None,
    concurrency: ConcurrencyOpt = 8,
    timeout: TimeoutOpt = 60.0,
    output: OutputOpt = Fmt.table,
) -> None:
    """Save every sidecar's config dump (with EDS), pods.json and services.json to a directory
    that `topo ingest --from` reads. Exit 0: all read; 3: some pods failed; 1: none read."""
    from topo.ingest import kubectl

    target = make_target(namespace, all_namespaces, selector, context, kubeconfig)
    with progress_bar() as bar:
        res = kubectl.collect(target, out, concurrency=concurrency, timeout=timeout, progress=bar,
                              on_plan=bar.on_plan if bar else None)
    summary = {
        "out": res.out,
        "source": target.describe(),
        "pods_written": len(res.written),
        "bytes": sum(n for _, _, n in res.written),
        "files": [rel for _, rel, _ in res.written] + ["pods.json"] + (["services.json"] if res.services else []),
        "failed": [{"source": s, "reason": r} for s, r in res.refused],
    }
    emit(summary, output, lambda c: _table(c, summary))
    for src, why in res.refused:
        err(f"{src}: {why}")
    raise typer.Exit(res.exit_code)


def _table(console: Any, s: dict[str, Any]) -> None:
    from rich.filesize import decimal

    lists = " and ".join(f for f in ("pods.json", "services.json") if f in s["files"])
    if not s["pods_written"]:
        console.print(f"No sidecar could be read from {esc(s['source'])}; {esc(s['out'])} holds only {lists}.")
    else:
        console.print(f"Wrote {s['pods_written']} sidecar dumps ({decimal(s['bytes'])}) from {esc(s['source'])} "
                      f"to {esc(s['out'])}, with {lists}")
    if s["failed"]:
        console.print(f"{len(s['failed'])} failed (listed on stderr)")
