"""The `topo` command line: a thin layer over the library. Heavy modules load lazily."""

from __future__ import annotations

import typer

from topo.cli import check_cmd, export_cmd, ingest_cmd, live_cmd, neo4j_cmd, query_cmd, show_cmd

app = typer.Typer(
    name="topo",
    help="One graph of every Istio sidecar's Envoy config: where traffic goes, who reaches what, what a failure costs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(ingest_cmd.app)
app.add_typer(query_cmd.app)
app.add_typer(show_cmd.app, name="show")
app.add_typer(live_cmd.app)
app.add_typer(neo4j_cmd.app)
app.add_typer(export_cmd.app, name="export")
app.add_typer(check_cmd.app)


def main() -> None:
    app()
