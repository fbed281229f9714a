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
    check: Annotated[bool, typer.Option("--check", help="Read every segment of every snapshot and verify it; "
                                        "exit 1 when one is damaged.")] = False,
    store: StoreOpt = None,
    output: OutputOpt = Fmt.table,
) -> None:
    """The embedded store's snapshots, oldest first: name, current marker, pods, when written.

    Example: topo snapshots --prune 5; topo snapshots --check"""
    from topo.stores.snapshot import SnapshotStore

    st = SnapshotStore(store)
    pruned = st.prune(prune) if prune is not None else []
    res: dict[str, Any] = {"store": str(st.root), "snapshots": st.infos(), "pruned": pruned}
    if check:
        res["damaged"] = {s.name: p for s in res["snapshots"] if (p := st.check(s.name))}
    emit(res, output, lambda c: _table(c, res))
    if res.get("damaged"):
        raise typer.Exit(1)


def _table(console: Any, res: dict[str, Any]) -> None:
    for n in res["pruned"]:
        console.print(f"pruned {esc(n)}")
    if not res["snapshots"]:
        console.print(f"No snapshot in {esc(res['store'])}: run `topo ingest --from DIR` first.")
        return
    checked = "damaged" in res
    t = new_table("NAME", "CURRENT", "PODS", "WRITTEN", "ORIGIN", *(["CHECK"] if checked else []))
    for s in res["snapshots"]:
        t.add_row(s.name, "*" if s.current else "", "-" if s.pods is None else str(s.pods), s.time, s.origin,
                  *([("damaged" if s.name in res["damaged"] else "ok")] if checked else []))
    console.print(t)
    for name, problems in sorted(res.get("damaged", {}).items()):
        for p in problems:
            console.print(f"{esc(name)}: {esc(p)}")
