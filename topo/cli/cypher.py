"""`topo cypher`: a read-only Cypher pass-through for power users."""

from __future__ import annotations

from typing import Annotated

import typer

from topo.cli.common import DatabaseOpt, Fmt, Neo4jOpt, OutputOpt, cli_errors, emit, new_table

app = typer.Typer()


@app.command()
@cli_errors
def cypher(
    query: Annotated[str, typer.Argument(help="A read-only Cypher query; values as $parameters.")],
    param: Annotated[list[str] | None, typer.Option("--param", help="Parameter k=v (v parsed as JSON if it can be).")] = None,
    neo4j: Neo4jOpt = None,
    database: DatabaseOpt = "neo4j",
    output: OutputOpt = Fmt.table,
) -> None:
    """Run a read-only Cypher query against the Neo4j backend (writes are refused by the server)."""
    from topo.errors import TopoError
    from topo.stores.neo4jstore import read_query

    if not neo4j:
        raise TopoError("topo cypher needs --neo4j URI (or NEO4J_URI)", 2)
    rows = read_query(neo4j, database, query, _params(param or []))
    emit(rows, output, lambda c: _table(c, rows))


def _params(values: list[str]) -> dict[str, object]:
    import orjson

    from topo.errors import TopoError

    out: dict[str, object] = {}
    for v in values:
        k, sep, raw = v.partition("=")
        if not sep or not k:
            raise TopoError(f"--param takes k=v, got {v!r}", 2)
        try:
            out[k] = orjson.loads(raw)
        except orjson.JSONDecodeError:
            out[k] = raw
    return out


def _table(console: object, rows: list[dict[str, object]]) -> None:
    cols = list(rows[0]) if rows else []
    t = new_table(*cols)
    for r in rows:
        t.add_row(*(str(r[c]) for c in cols))
    console.print(t)  # type: ignore[attr-defined]
    console.print(f"({len(rows)} rows)")  # type: ignore[attr-defined]
