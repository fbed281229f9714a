"""Rules of the code base that a change could silently break: the layers, the schema, the CLI's weight."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from topo.model import schema
from topo.stores import cypher

ROOT = Path(__file__).resolve().parent.parent
TOPO = ROOT / "topo"

# ---------------------------------------------------------------- layers
# cli → ingest, stores, queries, export; ingest, stores and queries → model; export → queries and
# model; model → nothing. queries also reach the hop interface in stores (MeshGraph), and every layer
# but the model may use the two leaf modules topo.util and topo.errors ("base").
ALLOWED = {
    "cli": {"ingest", "stores", "queries", "export", "model", "base"},
    "ingest": {"model", "base"},
    "stores": {"model", "base"},
    "queries": {"stores", "model", "base"},
    "export": {"queries", "model", "base"},
    "model": set(),
    "meshgen": set(),
    "base": {"base"},
    "main": {"cli"},
}
# the arrows the layering issue names, each of which the check must catch (see the test below)
FORBIDDEN = [("ingest", t) for t in ("queries", "export", "cli", "stores")] + \
    [("queries", t) for t in ("cli", "export", "ingest")] + [("export", t) for t in ("ingest", "stores")] + \
    [("model", t) for t in ("base", "ingest", "stores", "queries", "export", "cli")] + \
    [("stores", t) for t in ("queries", "ingest")]
EXAMPLE_MODULE = {"ingest": "topo.ingest.pipeline", "queries": "topo.queries.path", "export": "topo.export.dot",
                  "model": "topo.model.names", "stores": "topo.stores.snapshot"}
TARGET_MODULE = {"base": "topo.util", "ingest": "topo.ingest.transform", "stores": "topo.stores.snapshot",
                 "queries": "topo.queries.reach", "export": "topo.export.style", "cli": "topo.cli.common",
                 "model": "topo.model.rows"}


def layer(module: str) -> str | None:
    """The layer of a topo module (None outside topo)."""
    parts = module.split(".")
    if parts[0] != "topo":
        return None
    if len(parts) == 1:
        return "base"
    if parts[1] in ("util", "errors"):
        return "base"
    if parts[1] == "__main__":
        return "main"
    return parts[1]


def module_of(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(module: str, source: str, is_package: bool = False) -> list[tuple[int, str]]:
    """Every module ``source`` imports, anywhere in it (functions' lazy imports and TYPE_CHECKING too)."""
    out = []
    pkg = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                base = ".".join([*up, *([base] if base else [])])
            out.append((node.lineno, base))
            # `from topo.stores import cypher` imports the module topo.stores.cypher too
            out += [(node.lineno, f"{base}.{a.name}") for a in node.names if base.startswith("topo")]
    return out


def violations(sources: dict[str, tuple[str, bool]]) -> list[str]:
    """``module:line imports target (layer → layer)`` for every import ALLOWED does not permit."""
    known = set(sources)
    out = []
    for module, (source, is_pkg) in sorted(sources.items()):
        src_layer = layer(module)
        seen: set[tuple[int, str]] = set()
        for line, target in imports(module, source, is_pkg):
            if target not in known and target.rpartition(".")[0] in known and target.startswith("topo."):
                target = target.rpartition(".")[0]  # a name imported from a module, not a module
            dst = layer(target)
            if dst is None or src_layer is None or dst == src_layer or (line, dst) in seen:
                continue
            if dst not in ALLOWED[src_layer]:
                seen.add((line, dst))
                out.append(f"{module}:{line} imports {target} ({src_layer} → {dst})")
    return out


def tree() -> dict[str, tuple[str, bool]]:
    return {module_of(p): (p.read_text(), p.name == "__init__.py") for p in sorted(TOPO.rglob("*.py"))}


def test_layers_hold():
    assert violations(tree()) == []


@pytest.mark.parametrize(("src", "dst"), FORBIDDEN)
def test_each_forbidden_arrow_is_caught(src, dst):
    """Adding any one forbidden import, at the top or lazily inside a function, fails the check."""
    sources = tree()
    mod = EXAMPLE_MODULE[src]
    text, is_pkg = sources[mod]
    target = TARGET_MODULE[dst]
    top = f"import {target}\n" + text
    lazy = text + f"\n\ndef _lazy():\n    from {target.rpartition('.')[0]} import {target.rpartition('.')[2]}\n"
    for bad in (top, lazy):
        got = violations({**sources, mod: (bad, is_pkg)})
        assert len(got) == 1 and got[0].startswith(f"{mod}:") and f"({src} → {dst})" in got[0], got


def test_model_imports_nothing_of_topo_at_run_time():
    code = ("import sys, topo.model.schema, topo.model.rows, topo.model.names, topo.model.secrets; "
            "bad = sorted(m for m in sys.modules if m.startswith('topo.') and not m.startswith('topo.model')); "
            "print(bad); sys.exit(1 if bad else 0)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


# ---------------------------------------------------------------- the schema says it once
def test_docs_schema_is_generated_from_the_model():
    assert (ROOT / "docs" / "schema.md").read_text() == schema.markdown(), "run `make docs`"


def test_schema_declarations_drive_the_cypher():
    s = schema.SCHEMA
    assert set(s.set_kinds) == {"listener", "route_config", "cluster"}
    assert {r.type for r in s.by_name} == {"HANDS_OFF", "USES_ROUTE_CONFIG", "TCP_TO", "ROUTES_TO", "MIRRORS_TO"}
    # every by-name relationship has its cleanup, every held label its orphan statement, and
    # every indexed property its index
    for r in s.by_name:
        assert any(st.startswith(f"MATCH (a:{r.src})-[r:{r.type}]->") for st in cypher.CLEANUP), r.type
    for nt in s.nodes:
        if nt.cleanup == "held":
            assert any(st.startswith(f"MATCH (n:{nt.label}) ") for st in cypher.CLEANUP), nt.label
        for p in nt.props:
            if p.index:
                assert f"FOR (n:{nt.label}) ON (n.{p.name})" in " ".join(cypher.indexes())
    # parts go with their owner: a listener's chains, a route config's vhosts and routes
    assert [r.type for r in s.set_path("Route")] == ["HAS_ROUTE", "HAS_VHOST", "HAS_ROUTE_CONFIG"]


def test_generated_cypher_takes_values_only_as_parameters():
    stmts = cypher.constraints() + cypher.indexes() + cypher.CLEANUP
    stmts += [cypher.merge_nodes(n.label) for n in schema.SCHEMA.nodes]
    stmts += [cypher.merge_rels(r.type) for r in schema.SCHEMA.rels]
    for s in stmts:
        # no quoted literal but the empty string: every value is a $parameter or a row field
        assert "'" not in s.replace("''", ""), s
        assert '"' not in s, s


# ---------------------------------------------------------------- the CLI
def test_ingest_never_imports_neo4j_or_queries():
    code = ("import sys, topo.ingest.pipeline, topo.ingest.kubectl, topo.ingest.sources, topo.ingest.transform; "
            "bad = [m for m in sys.modules if m == 'neo4j' or m.startswith('neo4j.') or m.startswith('topo.queries')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_help_does_not_import_heavy_modules():
    code = ("import sys, topo.cli; heavy = [m for m in ('neo4j', 'networkx', 'graphviz', 'rich', 'orjson', 'yaml') "
            "if m in sys.modules]; print(heavy); sys.exit(1 if heavy else 0)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_command_files_are_named_after_their_commands():
    from topo.cli import app

    files = {p.stem for p in (TOPO / "cli").glob("*.py")} - {"__init__", "common"}
    top = {c.name or c.callback.__name__ for g in app.registered_groups if not g.name
           for c in g.typer_instance.registered_commands}
    groups = {g.name for g in app.registered_groups if g.name}
    assert files == (top | groups), (files, top, groups)


def test_no_cli_module_imports_another_ones_private_names():
    for p in (TOPO / "cli").glob("*.py"):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("topo.cli"):
                assert not [a.name for a in node.names if a.name.startswith("_")], (p.name, node.module)


def test_help_defaults_survive_rich_markup():
    """Square brackets are Rich markup: a help text's "[default: /]" used to vanish from --help."""
    import re

    from typer.testing import CliRunner

    from topo.cli import app

    out = CliRunner().invoke(app, ["path", "--help"], env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"}).output
    text = re.sub(r"\s+", " ", out)
    assert "Request path (default: /)." in text and "Snapshot name (default: the current one)." in text
