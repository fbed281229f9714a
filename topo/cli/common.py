"""Options and helpers shared by every command group (kept light: no heavy imports).

The graph options (``--store``, ``--snapshot``, ``--neo4j``, ``--database``), a request's options
(``--port``, ``--path``, ``--header``, ``--method``, ``--host``, ``--tcp``, ``--tls``, ``--sni``) and kubectl's
(``--context``, ``-l`` …) are declared once here; a command takes them as one parameter
(``graph: GraphOpts``, ``req: RequestOpts``) through :func:`with_graph` and :func:`with_request`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import sys
from collections.abc import Callable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

if TYPE_CHECKING:
    from topo.ingest.kubectl import Plan, Target
    from topo.stores.hops import MeshGraph


class Fmt(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


OutputOpt = Annotated[Fmt, typer.Option("-o", "--output", help="table, json or yaml.")]
NsOpt = Annotated[str | None, typer.Option("-n", "--namespace", help="Namespace of SRC.")]
SrcArg = Annotated[str, typer.Argument(help="Pod name, unique pod-name prefix, or workload.")]
DstArg = Annotated[str, typer.Argument(help="Service name, FQDN, VIP, IP:PORT or URL.")]
DatabaseOpt = Annotated[str, typer.Option("--database", envvar="NEO4J_DATABASE", help="Neo4j database.")]
StoreOpt = Annotated[
    Path | None,
    typer.Option("--store", envvar="TOPO_STORE", help="Embedded store directory (default: ~/.local/share/topo)."),
]
Neo4jOpt = Annotated[
    str | None, typer.Option("--neo4j", envvar="NEO4J_URI", help="Bolt URI; without it the embedded store is used.")
]

F = TypeVar("F", bound=Callable[..., Any])


# ---------------------------------------------------------------- option bundles
def _bundle(fn: F, name: str, extra: list[inspect.Parameter], make: Callable[..., Any]) -> F:
    """Replace ``fn``'s parameter ``name`` by the options ``extra``; the wrapper builds the value
    with ``make(**those options)``. typer reads the new signature."""
    sig = inspect.signature(fn, eval_str=True)
    names = [p.name for p in extra]

    @functools.wraps(fn)
    def wrapper(**kwargs: Any) -> Any:
        kwargs[name] = make(**{n: kwargs.pop(n) for n in names})
        return fn(**kwargs)

    # typer passes every parameter by name, so all are keyword-only here and the bundle's options
    # stand where its parameter stood (--help lists them in that place)
    params: list[inspect.Parameter] = []
    for p in sig.parameters.values():
        params += extra if p.name == name else [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)]
    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper  # type: ignore[return-value]


def _opt(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


@dataclasses.dataclass(frozen=True)
class GraphOpts:
    """Where a question reads the graph: Neo4j when ``neo4j`` is a Bolt URI, else a snapshot."""

    store: Path | None = None
    snapshot: str | None = None
    neo4j: str | None = None
    database: str = "neo4j"

    def open(self) -> MeshGraph:
        """The graph, as a context manager: ``with graph.open() as g:``."""
        from topo.stores import open_graph

        return open_graph(store=self.store, snapshot=self.snapshot, neo4j=self.neo4j, database=self.database)


def with_graph(fn: F) -> F:
    """The command takes ``graph: GraphOpts``, given on the command line as the four graph options."""
    return _bundle(fn, "graph", [
        _opt("store", StoreOpt, None),
        _opt("snapshot", Annotated[str | None, typer.Option(
            "--snapshot", help="Snapshot name (default: the current one).")], None),
        _opt("neo4j", Neo4jOpt, None),
        _opt("database", DatabaseOpt, "neo4j"),
    ], GraphOpts)


@dataclasses.dataclass(frozen=True)
class RequestOpts:
    """The request of `topo path` beyond SRC and DST."""

    port: int | None = None
    path: str | None = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    method: str = "GET"
    host: str | None = None
    tcp: bool = False
    tls: bool = False
    sni: str | None = None

    def kwargs(self) -> dict[str, Any]:
        """As :func:`topo.queries.path.path` takes them."""
        return {"port": self.port, "req_path": self.path, "headers": self.headers, "method": self.method,
                "host": self.host, "tcp": self.tcp, "tls": self.tls, "sni": self.sni}


def _headers(values: list[str] | None) -> dict[str, str]:
    from topo.errors import TopoError

    out = {}
    for v in values or []:
        k, sep, val = v.partition("=")
        if not sep or not k:
            raise TopoError(f"--header takes K=V, got {v!r}", 2)
        out[k.strip().lower()] = val
    return out


def _request(port: int | None, req_path: str | None, header: list[str] | None, method: str, host: str | None,
             tcp: bool, tls: bool, sni: str | None) -> RequestOpts:
    return RequestOpts(port, req_path, _headers(header), method, host, tcp, tls, sni)


def with_request(fn: F) -> F:
    """The command takes ``req: RequestOpts``, given as --port, --path, --header, --method, --host, --tcp,
    --tls, --sni."""
    return _bundle(fn, "req", [
        _opt("port", Annotated[int | None, typer.Option("--port", min=1, max=65535, help="Destination port.")], None),
        _opt("req_path", Annotated[str | None, typer.Option("--path", help="Request path (default: /).")], None),
        _opt("header", Annotated[list[str] | None, typer.Option(
            "--header", help="Request header K=V (repeatable).")], None),
        _opt("method", Annotated[str, typer.Option("--method", help="HTTP method.")], "GET"),
        _opt("host", Annotated[str | None, typer.Option(
            "--host", help="Host header (default: what a client sends).")], None),
        _opt("tcp", Annotated[bool, typer.Option("--tcp", help="Plain TCP, not HTTP.")], False),
        _opt("tls", Annotated[bool, typer.Option(
            "--tls", help="The client starts TLS (SNI: the host it dials); https:// does the same.")], False),
        _opt("sni", Annotated[str | None, typer.Option(
            "--sni", help="TLS with this server name (SNI); implies --tls.")], None),
    ], _request)


# ---------------------------------------------------------------- kubectl (ingest -n, collect)
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


class ProgressBar:
    """A rich progress bar on stderr: pods done, failed, bytes. Thread-safe (rich locks)."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.failed = 0
        self.nbytes = 0
        self.progress = Progress(
            TextColumn("reading sidecars"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"), TextColumn("{task.fields[size]}"), TimeElapsedColumn(),
            console=console(stderr=True), transient=True,
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
def progress_bar() -> Iterator[ProgressBar | None]:
    """A bar only when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    bar = ProgressBar()
    try:
        yield bar
    finally:
        bar.stop()


# ---------------------------------------------------------------- errors and output
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
    """One line on stderr: ``topo: msg``, its control characters shown escaped (a message quotes
    names from dumps, file names and kubectl's stderr)."""
    from topo.util import printable

    print(f"topo: {printable(msg)}", file=sys.stderr)


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
        # Never truncate names: a terminal gets folded cells, a pipe gets wide lines.
        width = _term_width() if sys.stdout.isatty() else 400
        table(console(width))


def console(width: int | None = None, stderr: bool = False) -> Any:
    """A Rich console that reads markup only where topo writes it: no emoji codes (``:warning:``
    in a name stays text), no highlighting. Names go into what it prints through :func:`esc`."""
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False, width=width, emoji=False, stderr=stderr)


def _term_width() -> int:
    import shutil

    return max(100, shutil.get_terminal_size((160, 40)).columns)


def esc(s: Any) -> str:
    """A name (from a dump, a file, the user, a server) as text inside a Rich markup string:
    control characters shown escaped (``\\x1b``, ``\\n``: :func:`topo.util.printable`) and
    brackets printed, never read as markup. Every value a command interpolates into what it
    prints goes through here; table cells do by themselves (:func:`new_table`)."""
    from rich.markup import escape

    from topo.util import printable

    return escape(printable(s))


def styled(s: Any, style: str) -> Any:
    """A table cell in ``style`` whose text is ``s`` as it is (no markup read in it)."""
    from rich.text import Text

    from topo.util import printable

    return Text(printable(s), style=style)


def first(items: list[str], n: int = 3) -> str:
    """``a, b, c (+4 more)``."""
    head = ", ".join(items[:n])
    return head + (f" (+{len(items) - n} more)" if len(items) > n else "")


def new_table(*columns: str) -> Any:
    """A plain, kubectl-like table: no borders, cells folded rather than cut. A cell given as a
    string is text (control characters escaped, brackets literal); one row is one row, whatever
    a name holds. For a styled cell pass :func:`styled`."""
    from rich.table import Table
    from rich.text import Text

    from topo.util import printable

    class _TextTable(Table):
        def add_row(self, *cells: Any, **kw: Any) -> None:
            super().add_row(*(Text(printable(c)) if isinstance(c, str) else c for c in cells), **kw)

    t = _TextTable(box=None, pad_edge=False, show_edge=False)
    for c in columns:
        t.add_column(Text(printable(c)), overflow="fold")
    return t
