"""Rules of the code base that a change could silently break."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from topo import schema
from topo.stores import cypher

ROOT = Path(__file__).resolve().parent.parent


def test_docs_schema_is_generated_from_the_model():
    assert (ROOT / "docs" / "schema.md").read_text() == schema.markdown(), "run `make docs`"


def test_ingest_never_imports_neo4j_or_queries():
    code = ("import sys, topo.ingest.pipeline, topo.ingest.kubectl, topo.ingest.sources, topo.ingest.transform; "
            "bad = [m for m in sys.modules if m == 'neo4j' or m.startswith('neo4j.') or m.startswith('topo.queries')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_help_does_not_import_heavy_modules():
    code = ("import sys, topo.cli; heavy = [m for m in ('neo4j', 'networkx', 'graphviz', 'orjson', 'yaml') "
            "if m in sys.modules]; print(heavy); sys.exit(1 if heavy else 0)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_generated_cypher_takes_values_only_as_parameters():
    stmts = cypher.constraints() + cypher.indexes() + cypher.CLEANUP
    stmts += [cypher.merge_nodes(n.label) for n in schema.SCHEMA.nodes]
    stmts += [cypher.merge_rels(r.type) for r in schema.SCHEMA.rels]
    for s in stmts:
        # no quoted literal but the empty string: every value is a $parameter or a row field
        assert "'" not in s.replace("''", ""), s
        assert '"' not in s, s


def test_help_defaults_survive_rich_markup():
    """Square brackets are Rich markup: a help text's "[default: /]" used to vanish from --help."""
    import re

    from typer.testing import CliRunner

    from topo.cli import app

    out = CliRunner().invoke(app, ["path", "--help"], env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"}).output
    text = re.sub(r"\s+", " ", out)
    assert "Request path (default: /)." in text and "Snapshot name (default: the current one)." in text
