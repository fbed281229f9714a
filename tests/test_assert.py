"""`topo assert FILE` (issue 16 item 6): expectations, exit codes, JUnit XML, bad files; both backends.

Expected shares come from the conformance scenarios' YAML (canary-split: 90/10 over v1 and v2;
subset-missing-nc: 80 to v1, 20 to the missing v3, NC; no-catch-all: `/` matches no route, NR).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import orjson
import pytest
from conftest import EXAMPLE, ROOT
from typer.testing import CliRunner

from topo.cli import app
from topo.errors import TopoError
from topo.queries.assertions import evaluate, parse_file, parse_share

CONF = ROOT / "tests" / "conformance"
CLIENT = "demo/client"


def run(g, text: str):
    return evaluate(g, parse_file(text))


def checks(res) -> list[tuple[bool, str, str]]:
    return [(c.ok, c.check, c.actual) for r in res.results for c in r.checks]


def test_shares_reaches_and_outcomes_on_the_canary(graph_of):
    g = graph_of(CONF / "canary-split" / "dumps")
    res = run(g, f"""
- {{from: {CLIENT}, to: web, share: {{v1: 90%, v2: 10%±0.5}}}}
- {{from: {CLIENT}, to: web, reaches: 100%, outcome: ok, no-dead-ends: true}}
- {{from: {CLIENT}, to: web, share: {{v2: 20%}}}}
""")
    assert [r.ok for r in res.results] == [True, True, False]
    assert res.results[2].checks[0].actual == "10%"
    assert (res.passed, res.failed, res.ok) == (2, 1, False)


def test_a_missing_subset_fails_with_its_dead_end(graph_of):
    g = graph_of(CONF / "subset-missing-nc" / "dumps")
    res = run(g, f"""
- {{from: {CLIENT}, to: web, share: {{v1: 80%, v3: 0%, NC: 20%}}}}
- {{from: {CLIENT}, to: web, reaches: 100%}}
- {{from: {CLIENT}, search: {{outcome: NC, count: 1}}}}
- {{search: {{outcome: NC, count: 0}}}}
""")
    assert [r.ok for r in res.results] == [True, False, True, False]
    (reaches,) = res.results[1].checks
    assert reaches.actual == "80%" and any("NC 20%" in d for d in reaches.details)
    v3 = next(c for c in res.results[0].checks if c.check == "share v3")
    assert v3.details == ["routed 20% but dies there (NC)"]
    assert any("topo path" in d for d in res.results[3].checks[0].details)


def test_outcome_flag_and_no_dead_ends_over_classes(graph_of):
    g = graph_of(CONF / "no-catch-all" / "dumps")
    res = run(g, f"""
- {{from: {CLIENT}, to: web, path: /, outcome: NR}}
- {{from: {CLIENT}, to: web, path: /v1/items, outcome: ok}}
- {{from: {CLIENT}, to: web, headers: {{x-beta: "1"}}, outcome: ok}}
- {{from: {CLIENT}, no-dead-ends: true}}
""")
    assert [r.ok for r in res.results] == [True, True, True, False]
    assert "NR 100%" in res.results[3].checks[0].details[0]


def test_an_unknown_source_fails_that_expectation_only(graph_of):
    res = run(graph_of(EXAMPLE), """
- {from: nobody, to: publictest, reaches: 100%}
- {from: istio-demo/integration, to: publictest:9000, reaches: 100%}
""")
    assert [r.ok for r in res.results] == [False, True]
    assert "nobody" in res.results[0].error


@pytest.mark.parametrize("text,msg", [
    ("- {from: a, to: b, reaches: 100%", "not valid YAML"),
    ("{}", "a list of expectations"),
    ("- {from: a, to: b, reach: 100%}", "unknown key 'reach'"),
    ("- {from: a, to: b}", "has no check"),
    ("- {from: a, share: {v2: 10%}}", "share needs `to`"),
    ("- {from: a, to: b, share: {v2: lots}}", "not a share"),
    ("- {from: a, to: b, reaches: 150}", "fraction up to 1"),
    ("- {search: {count: 0}}", "search takes"),
])
def test_bad_files_are_one_line_errors(text, msg):
    with pytest.raises(TopoError, match=msg) as e:
        parse_file(text)
    assert e.value.code == 2 and "\n" not in str(e.value)


def test_share_specs():
    assert parse_share("10%±1") == ("=", 0.1, 0.01)
    assert parse_share(">= 99.5%") == (">=", 0.995, 0.0)
    assert parse_share("0.25") == ("=", 0.25, 0.0)
    assert parse_share("10 % +- 2") == ("=", 0.1, 0.02)


def test_cli_exit_codes_json_and_junit(cli_graph, tmp_path):
    opts = cli_graph(CONF / "subset-missing-nc" / "dumps")
    good = tmp_path / "good.yaml"
    good.write_text(f"- {{from: {CLIENT}, to: web, share: {{NC: 20%}}}}\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"- name: \"canary <&> \\x01 all delivered\"\n  from: {CLIENT}\n  to: web\n  reaches: 100%\n"
                   f"- {{from: {CLIENT}, to: web, share: {{v1: 80%}}}}\n")
    r = CliRunner().invoke(app, ["assert", str(good), *opts])
    assert r.exit_code == 0, r.output
    assert "PASS #1" in r.stdout and "1 passed, 0 failed" in r.stdout
    junit = tmp_path / "out" / "junit.xml"
    junit.parent.mkdir()
    r = CliRunner().invoke(app, ["assert", str(bad), *opts, "--junit", str(junit), "-o", "json"])
    assert r.exit_code == 1, r.output
    doc = orjson.loads(r.stdout)
    assert (doc["passed"], doc["failed"]) == (1, 1)
    root = ET.fromstring(junit.read_bytes())
    suite = root.find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "1"
    cases = suite.findall("testcase")
    assert cases[0].get("name", "").startswith("#1 canary <&> \ufffd all delivered")
    fail = cases[0].find("failure")
    assert fail is not None and "expected 100%, got 80%" in (fail.get("message") or "")
    assert cases[1].find("failure") is None
    missing = CliRunner().invoke(app, ["assert", str(tmp_path / "none.yaml"), *opts])
    assert missing.exit_code == 2 and "cannot read" in missing.output and "Traceback" not in missing.output


def test_named_snapshot(tmp_path):
    store = tmp_path / "s"
    r = CliRunner()
    assert r.invoke(app, ["ingest", "--from", str(CONF / "canary-split" / "dumps"), "--store", str(store),
                          "--name", "good"]).exit_code == 0
    assert r.invoke(app, ["ingest", "--from", str(CONF / "subset-missing-nc" / "dumps"), "--store", str(store),
                          "--name", "bad"]).exit_code == 0
    f = tmp_path / "x.yaml"
    f.write_text(f"- {{from: {CLIENT}, to: web, reaches: 100%}}\n")
    assert r.invoke(app, ["assert", str(f), "--store", str(store), "--snapshot", "good"]).exit_code == 0
    out = r.invoke(app, ["assert", str(f), "--store", str(store)])
    assert out.exit_code == 1 and "current snapshot" in out.stdout


def test_readme_and_ci_doc_examples_parse():
    """The YAML shown in docs/ci.md and the README is a valid expectations file."""
    import re

    for doc in (ROOT / "docs" / "ci.md", ROOT / "README.md"):
        blocks = [b for b in re.findall(r"```yaml\n(.*?)```", Path(doc).read_text(), re.S)
                  if "run:" not in b and any(k in b for k in ("reaches:", "share:", "search:"))]
        assert blocks, doc
        for b in blocks:
            assert parse_file(b)
