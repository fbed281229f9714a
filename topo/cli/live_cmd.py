"""`topo collect`: a cluster's sidecar dumps → a directory; shared kubectl options for `topo ingest -n`."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from topo.cli.common import Fmt, OutputOpt, cli_errors, emit, err

if TYPE_CHECKING:
    from topo.ingest.kubectl import Plan, Target

app = typer.Typer()

ContextOpt = Annotated[str | None, typer.Option("--context", help="kubeconfig context (default: the current one).")]
KubeconfigOpt = Annotated[str | None, typer.Option("--kubeconfig", help="kubeconfig file (default: kubectl's).")]
SelectorOpt = Annotated[str | None, typer.Option("-l", "--selector", help="Only pods matching this label selector.")]
AllNsOpt = Annotated[bool, typer.Option("-A", "--all-namespaces", help="Every namespace.")]
ConcurrencyOpt = Annotated[int, typer.Option("--concurrency", min=1, max=64, help="Pods read at once.")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", min=1.0, help="Seconds per kubectl call.")]


def make_target(namespace: str | None, all_namespaces: bool, selector: str | None, context: str | None,
                kubeconfig: str | None) -> Target:
    from topo.ingest.kubectl import Target

    return Target(namespace=namespace, all_namespaces=all_namespaces, selector=selector, context=context,
                  kubeconfig=kubeconfig)


class _Bar:
    """A rich progress bar on stderr: pods done, failed, bytes. Thread-safe (rich locks)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.failed = 0
        self.nbytes = 0
        self.progress = Progress(
            TextColumn("reading sidecars"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"), TextColumn("{task.fields[size]}"), TimeElapsedColumn(),
            console=Console(stderr=True), transient=True,
        )
        self.task = self.progress.add_task("pods", total=None, failed=0, size="0 B")

    def on_plan(self, plan: Plan) -> None:
        self.progress.update(self.task, total=len(plan.pods))
        self.progress.start()

    def done(self, source: str, ok: bool, nbytes: int) -> None:
        from rich.filesize import decimal

        if not ok:
            self.failed += 1
        self.nbytes += nbytes
        self.progress.update(self.task, advance=1, failed=self.failed, size=decimal(self.nbytes))

    def stop(self) -> None:
        self.progress.stop()


@contextlib.contextmanager
def progress_bar() -> Iterator[_Bar | None]:
    """A bar only when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    bar = _Bar()
    try:
        yield bar
    finally:
        bar.stop()


def live_bundle(target: Target, *, concurrency: int, timeout: float, bar: _Bar | None) -> Any:
    from topo.ingest import kubectl

    return kubectl.from_kubectl(target, concurrency=concurrency, timeout=timeout, progress=bar,
                                on_plan=bar.on_plan if bar else None)


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
        console.print(f"No sidecar could be read from {s['source']}; {s['out']} holds only {lists}.")
    else:
        console.print(f"Wrote {s['pods_written']} sidecar dumps ({decimal(s['bytes'])}) from {s['source']} "
                      f"to {s['out']}, with {lists}")
    if s["failed"]:
        console.print(f"{len(s['failed'])} failed (listed on stderr)")
