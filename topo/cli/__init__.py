"""The `topo` command line: a thin layer over the library. Heavy modules load lazily.

One module per command, named after it; ``show`` and ``export`` are groups of their own.
"""

from __future__ import annotations

import importlib

import typer

from topo.cli import blast, check, collect, cypher, diff, export, ingest, path, reach, search, show, snapshots

assert_ = importlib.import_module("topo.cli.assert")  # `topo assert`: a keyword as a module name

app = typer.Typer(
    name="topo",
    help="One graph of every Istio sidecar's Envoy config: where traffic goes, who reaches what, what a failure costs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
for _m in (ingest, path, reach, blast, search, show, collect, cypher, export, check, diff, assert_, snapshots):
    if _m in (show, export):
        app.add_typer(_m.app, name=_m.__name__.rsplit(".", 1)[-1])
    else:
        app.add_typer(_m.app)


def main() -> None:
    app()
