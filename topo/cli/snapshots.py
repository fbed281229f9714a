"""`topo snapshots`: the embedded store's snapshots; `--prune` keeps the newest."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from topo.cli.common import Fmt, OutputOpt, StoreOpt, cli_errors, emit, esc, new_table

app = typer.Typer()


@app.command()
@cli_errors
def snapshots(
    prune: Annotated[int | None, typer.Option("--prune", metavar="KEEP", min=0,
                                              help="Delete all but the newest KEEP snapshots (never the current one).")] = None,
    store: StoreOpt = None,
    output: OutputOpt = Fmt.table,
) -> None:
    """The embedded store's snapshots, oldest first: name, current marker, pods, when written."""
    from topo.stores.snapshot import SnapshotStore

    st = SnapshotStore(store)
    pruned = st.prune(prune) if prune is not None else []
    res = {"store": str(st.root), "snapshots": st.infos(), "pruned": pruned}
    emit(res, output, lambda c: _table(c, res))


def _table(console: Any, res: dict[str, Any]) -> None:
    for n in res["pruned"]:
        console.print(f"pruned {esc(n)}")
    if not res["snapshots"]:
        console.print(f"No snapshot in {esc(res['store'])}: run `topo ingest --from DIR` first.")
        return
    t = new_table("NAME", "CURRENT", "PODS", "WRITTEN", "ORIGIN")
    for s in res["snapshots"]:
        t.add_row(s.name, "*" if s.current else "", "-" if s.pods is None else str(s.pods), s.time, s.origin)
    console.print(t)
