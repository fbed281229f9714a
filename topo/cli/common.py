"""Options and helpers shared by every command group (kept light: no heavy imports)."""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer


class Fmt(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


OutputOpt = Annotated[Fmt, typer.Option("-o", "--output", help="table, json or yaml.")]
StoreOpt = Annotated[
    Path | None,
    typer.Option("--store", envvar="TOPO_STORE", help="Embedded store directory (default: ~/.local/share/topo)."),
]
SnapshotOpt = Annotated[str | None, typer.Option("--snapshot", help="Snapshot name (default: the current one).")]
Neo4jOpt = Annotated[
    str | None, typer.Option("--neo4j", envvar="NEO4J_URI", help="Bolt URI; without it the embedded store is used.")
]
DatabaseOpt = Annotated[str, typer.Option("--database", envvar="NEO4J_DATABASE", help="Neo4j database.")]

F = TypeVar("F", bound=Callable[..., Any])


def one_line(e: BaseException) -> str:
    msg = str(e).strip().splitlines()
    return msg[0] if msg else type(e).__name__


def cli_errors(fn: F) -> F:
    """Turn known failures into one line on stderr and an exit code; never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from topo.errors import TopoError
        from topo.ingest.dump import DumpError
        from topo.ingest.sources import SourceError
        from topo.stores.snapshot import StoreError

        try:
            return fn(*args, **kwargs)
        except TopoError as e:
            err(one_line(e))
            raise typer.Exit(e.code) from None
        except (StoreError, SourceError, DumpError, OSError) as e:
            err(one_line(e))
            raise typer.Exit(1) from None
        except Exception as e:  # a driver error (neo4j) or a bug: still one line
            mod = type(e).__module__ or ""
            if mod.startswith("neo4j"):
                # a server error's `message` is its own text; a driver error's is a generic
                # GQL status ("50N42: Unexpected error…"): its str() says what went wrong
                server = getattr(e, "code", None) and getattr(e, "message", None)
                msg = " ".join(str(server or e or type(e).__name__).split())
                what = {"ServiceUnavailable": "server unavailable: ",
                        "AuthError": "authentication failed (NEO4J_USERNAME, NEO4J_PASSWORD): "}
                err(f"neo4j: {what.get(type(e).__name__, '')}{msg}")
                raise typer.Exit(1) from None
            raise

    return wrapper  # type: ignore[return-value]


def err(msg: str) -> None:
    print(f"topo: {msg}", file=sys.stderr)


def to_plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, list | tuple):
        return [to_plain(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    return obj


def emit(obj: Any, fmt: Fmt, table: Callable[[Any], None]) -> None:
    """Print a result: ``table`` draws it with rich; json/yaml serialise it, keys sorted."""
    if fmt is Fmt.json:
        import orjson

        sys.stdout.write(orjson.dumps(to_plain(obj), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n")
    elif fmt is Fmt.yaml:
        import yaml

        sys.stdout.write(yaml.safe_dump(to_plain(obj), sort_keys=True, allow_unicode=True))
    else:
        from rich.console import Console

        # Never truncate names: a terminal gets folded cells, a pipe gets wide lines.
        width = _term_width() if sys.stdout.isatty() else 400
        table(Console(highlight=False, soft_wrap=False, width=width))


def _term_width() -> int:
    import shutil

    return max(100, shutil.get_terminal_size((160, 40)).columns)


def new_table(*columns: str) -> Any:
    """A plain, kubectl-like table: no borders, cells folded rather than cut."""
    from rich.table import Table

    t = Table(box=None, pad_edge=False, show_edge=False)
    for c in columns:
        t.add_column(c, overflow="fold")
    return t
