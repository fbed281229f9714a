"""`topo export`: the diagrams of path, egress, mesh and blast (DOT goldens, SVG, escaping, CLI), on both backends."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import graphviz
import pytest
from builders import simple_mesh_dump
from conftest import EXAMPLE, ROOT, need
from typer.testing import CliRunner

from topo.cli import app
from topo.errors import TopoError
from topo.export import dot, render, style
from topo.queries.blast import blast
from topo.queries.mesh import mesh_model
from topo.queries.path import path
from topo.queries.reach import reach

GOLDEN = Path(__file__).resolve().parent / "golden" / "export"
UPDATE = os.environ.get("TOPO_UPDATE_GOLDEN") == "1"
SVG = "{http://www.w3.org/2000/svg}"
KINDS = ("path", "egress", "mesh", "blast")
CLI_ARGS = {
    "path": ["path", "integration", "publictest"],
    "egress": ["egress", "integration"],
    "mesh": ["mesh"],
    "blast": ["blast", "publictest-v2-2f7hnnppwq-7bxfw"],
}
WEIRD = 'we"ird<b>{x}|&\\n'  # a literal backslash-n, not a newline


def build(g, kind: str) -> graphviz.Digraph:
    if kind == "path":
        return dot.path_graph(path(g, "integration", "publictest"))
    if kind == "egress":
        return dot.egress_graph(reach(g, "integration"))
    if kind == "mesh":
        return dot.mesh_graph(mesh_model(g))
    return dot.blast_graph(blast(g, "publictest-v2-2f7hnnppwq-7bxfw"))


def need_dot() -> None:
    need(shutil.which("dot") is not None, "Graphviz dot is not installed")


def svg_of(dg: graphviz.Digraph) -> ET.Element:
    return ET.fromstring(render.render(dg, "svg"))


def node_ids(source: str) -> set[str]:
    return set(re.findall(r"^\s*(n\d{4}|legend_\w+) \[", source, flags=re.M))


def titles(root: ET.Element) -> set[str]:
    return {t.text or "" for g in root.iter(f"{SVG}g") if g.get("class") == "node" for t in g.iter(f"{SVG}title")}


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


# ---------------------------------------------------------------- DOT
@pytest.mark.parametrize("kind", KINDS)
def test_golden_dot(demo_graph, kind):
    got = render.source(build(demo_graph, kind))
    f = GOLDEN / f"{kind}.dot"
    if UPDATE:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(got)
    assert f.exists(), f"{f} is missing: run with TOPO_UPDATE_GOLDEN=1"
    assert got == f.read_text(), f"{kind}.dot changed: review, then TOPO_UPDATE_GOLDEN=1 to accept"


@pytest.mark.parametrize("kind", KINDS)
def test_dot_is_byte_identical_twice(demo_graph, kind):
    a, b = render.render(build(demo_graph, kind), "dot"), render.render(build(demo_graph, kind), "dot")
    assert a == b
    assert b"/tmp" not in a and str(ROOT).encode() not in a  # no absolute paths


def test_dot_is_identical_across_hash_seeds(tmp_path):
    script = ("import sys; sys.path.insert(0, 'tests')\n"
              "from test_export import build, KINDS\n"
              "from topo.stores import open_graph\n"
              f"g = open_graph(store={str(tmp_path / 's')!r})\n"
              "print('\\n'.join(build(g, k).source for k in KINDS))\n")
    assert CliRunner().invoke(app, ["ingest", "--from", str(EXAMPLE), "--store", str(tmp_path / "s")]).exit_code == 0
    outs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        outs.append(subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True,
                                   capture_output=True, text=True).stdout)
    assert outs[0] == outs[1]


def test_path_dot_content(demo_graph):
    src = build(demo_graph, "path").source
    assert 'label="90%"' in src and 'label="10%"' in src
    v1, v2 = style.subset_colour("v1"), style.subset_colour("v2")
    assert v1 != v2
    # the 90% edge and the v1 cluster share v1's colour
    assert re.search(rf'label="90%" color="{v1}"', src)
    assert re.search(rf'label="outbound\|9000\|v1\|\\npublictest.istio-demo\\n.svc.cluster.local" color="{v1}"', src)
    assert '"10.244.0.61:9000\\n10%"' in src  # the endpoint shows its share
    assert "subgraph cluster_legend" in src and "legend_endpoint" in src
    assert "<" not in re.sub(r"label=\"[^\"]*\"", "", src)  # no HTML-like labels anywhere


def test_path_dead_ends_are_red(graph_of):
    g = graph_of(simple_mesh_dump(v2=[]))  # v2's cluster has no endpoints: 10% dies (UH)
    src = dot.path_graph(path(g, "client-abc", "svc")).source
    dead = re.search(r'(n\d{4}) \[label="UH · 10%\\nno endpoints in the cluster"[^\]]*fontcolor="#c62828"', src)
    assert dead, src
    assert re.search(rf"n\d{{4}} -> {dead[1]} \[color=\"{style.RED}\"", src)
    assert "10% of requests die" in src
    # an address nothing listens for leaves through PassthroughCluster: every request is a dead end
    src = dot.path_graph(path(g, "client-abc", "10.9.9.9:9999")).source
    assert "PassthroughCluster · 100%" in src and "every request dies" in src


def test_one_cluster_per_source_config(graph_of):
    g = graph_of(simple_mesh_dump(pod="client-a", ip="10.0.0.1"),
              simple_mesh_dump(pod="client-b", ip="10.0.0.2", weights=(50, 50)))
    res = path(g, "client", "svc")
    assert len(res.answers) == 2
    src = dot.path_graph(res).source
    assert src.count("subgraph cluster_0") == 2
    assert "config 1 of 2" in src and "config 2 of 2" in src
    assert 'label="50%"' in src and 'label="90%"' in src


def test_egress_collapses_large_pods(demo_graph):
    r = reach(demo_graph, "integration")
    src = dot.egress_graph(r, collapse_over=1).source
    assert 'label="2 routes"' in src and "one edge per service" in src
    assert "shape=note" not in src  # no route nodes once collapsed
    assert "shape=note" in dot.egress_graph(r, collapse_over=1, detail=True).source
    detailed = dot.egress_graph(r).source
    assert detailed.count("subgraph cluster_") == 1 + 1 + 3  # answer, legend, one per service


def test_mesh_edges_and_namespace_filter(demo_graph):
    src = dot.mesh_graph(mesh_model(demo_graph)).source
    assert src.count('label="v1 90% / v2 10%"') == 4  # every workload's proxy splits publictest 90/10
    assert "→ publictest-v1 (v1)" in src and "→ publictest-v2 (v2)" in src
    filtered = dot.mesh_graph(mesh_model(demo_graph, "istio-demo")).source
    assert filtered == src.replace("topo mesh (all namespaces):", "topo mesh -n istio-demo:")
    with pytest.raises(TopoError, match="namespace nope"):
        mesh_model(demo_graph, "nope")


def test_blast_labels(demo_graph):
    src = build(demo_graph, "blast").source
    assert src.count(f'label="loses 10% UH" color="{style.RED}"') == 3
    assert src.count(f'label="25% moves" color="{style.ORANGE}"') == 3
    assert re.search(r'label="pod\\npublictest-v2-2f7hnnppwq-7bxfw\\nfails:\\n10.244.0.61:9000"[^\]]*'
                     r'peripheries=2', src)


def test_label_escaping():
    q = graphviz.quoting.quote
    assert q(style.label('a"b\\c&<d>')) == '"a\\"b\\\\c&amp;<d>"'
    assert q(style.label("<b>x</b>")) == '"<b>x</b>"'  # never an HTML-like label
    # lines are the label's own; a newline or another control character inside a name shows
    # escaped, as in the tables, and never reaches dot (a NUL breaks it, an ESC breaks the SVG's XML)
    assert q(style.label("x\ny", "z")) == '"x\\\\ny\\nz"'
    assert q(style.label("a\x00b\x1b[2J\tc")) == '"a\\\\x00b\\\\x1b[2J\\\\tc"'
    assert q(style.label('end\\"')) == '"end\\\\\\""'
    assert q(style.label("\\N \\G \\l")) == '"\\\\N \\\\G \\\\l"'  # escString sequences stay literal


def test_subset_colours_are_fixed():
    assert [style.subset_colour(f"v{i}") for i in range(1, 9)] == list(style.PALETTE)
    assert style.subset_colour("canary") == style.subset_colour("canary") in style.PALETTE
    assert style.subset_colour("") == style.GREY


# ---------------------------------------------------------------- SVG
@pytest.mark.parametrize("kind", KINDS)
def test_svg_renders(demo_graph, kind):
    need_dot()
    dg = build(demo_graph, kind)
    root = svg_of(dg)
    assert root.tag == f"{SVG}svg"
    assert titles(root) == node_ids(dg.source)
    words = " ".join(texts(root))
    expect = {
        "path": ["integration-86924652-bfsfs", "90%", "10%", "10.244.0.61:9000", "publictest-route"],
        "egress": ["publictest.istio-demo.svc.cluster.local", "mysql.istio-demo.svc.cluster.local", "90%"],
        "mesh": ["namespace istio-demo", "publictest-v1", "v1 90% / v2 10%", "→ publictest-v2 (v2)"],
        "blast": ["loses 10% UH", "25% moves", "10.244.0.61:9000"],
    }[kind]
    for w in expect:
        assert w in words, (w, words)


def test_metacharacters_show_literally(graph_of):
    need_dot()
    doc = simple_mesh_dump(pod=WEIRD, v2=[])
    rc = doc["configs"][-1]["dynamic_route_configs"][0]["route_config"]
    route_name = 'r"<i>&amp;\\N{|}\nsecond'  # quote, tag, an entity, an escString, braces, a newline
    rc["virtual_hosts"][0]["routes"][0]["name"] = route_name
    g = graph_of(doc)
    pod_id = f"default/{WEIRD}"
    for dg in (dot.path_graph(path(g, pod_id, "svc")), dot.egress_graph(reach(g, pod_id)), dot.mesh_graph(mesh_model(g)),
               dot.blast_graph(blast(g, "10.1.0.1"))):
        root = svg_of(dg)  # parses as XML
        assert not [e for e in root.iter() if e.tag.split("}")[-1] in ("b", "i")]  # no injected element
        assert titles(root) == node_ids(dg.source)
        lines = texts(root)
        if "topo mesh" in lines[0]:
            assert any(WEIRD in t for t in lines), lines  # the workload, named after the pod
            continue
        assert any(t == WEIRD or WEIRD in t for t in lines), lines
        if "topo blast" in lines[0]:
            continue
        # the entity is not decoded, the newline shows as \\n (as in the tables) and breaks no line
        assert any(t.endswith('r"<i>&amp;\\N{|}\\nsecond') for t in lines), lines


# ---------------------------------------------------------------- CLI
@pytest.fixture
def cli_store(cli_graph) -> list[str]:
    """The example on the backend under test, as graph options of `topo export`."""
    return cli_graph(EXAMPLE)


@pytest.mark.parametrize("kind", KINDS)
def test_cli_dot(cli_store, tmp_path, kind):
    out = tmp_path / f"{kind}.dot"
    r = CliRunner().invoke(app, ["export", *CLI_ARGS[kind], *cli_store, "-o", str(out)])
    assert r.exit_code == 0, r.output + r.stderr
    assert out.read_text() == (GOLDEN / f"{kind}.dot").read_text()


@pytest.mark.parametrize("suffix", [".svg", ".png", ".pdf", ""])
@pytest.mark.parametrize("kind", KINDS)
def test_cli_rendered(cli_store, tmp_path, kind, suffix):
    need_dot()
    out = tmp_path / f"{kind}{suffix}"
    r = CliRunner().invoke(app, ["export", *CLI_ARGS[kind], *cli_store, "-o", str(out)])
    assert r.exit_code == 0, r.output + r.stderr
    data = out.read_bytes()
    if suffix == ".png":
        assert data.startswith(b"\x89PNG")
    elif suffix == ".pdf":
        assert data.startswith(b"%PDF")
    else:  # .svg, and no suffix means SVG
        assert ET.fromstring(data).tag == f"{SVG}svg"


def test_cli_without_dot(cli_store, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert shutil.which("dot") is None
    r = CliRunner().invoke(app, ["export", "path", "integration", "publictest", *cli_store,
                                 "-o", str(tmp_path / "p.svg")])
    assert r.exit_code == 1
    assert r.stderr.count("\n") == 1 and "apt-get install graphviz" in r.stderr
    assert not (tmp_path / "p.svg").exists()
    # DOT needs no Graphviz
    r = CliRunner().invoke(app, ["export", "path", "integration", "publictest", *cli_store,
                                 "-o", str(tmp_path / "p.dot")])
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "p.dot").read_text().startswith("digraph topo {")
    with pytest.raises(TopoError, match="apt-get install graphviz"):
        render.render(graphviz.Digraph(), "png")


def test_cli_errors_are_one_line(cli_store, tmp_path):
    r = CliRunner().invoke(app, ["export", "mesh", *cli_store, "-o", str(tmp_path / "m.jpg")])
    assert r.exit_code == 2 and r.stderr == "topo: cannot write .jpg files: use .svg, .png, .pdf or .dot\n"
    r = CliRunner().invoke(app, ["export", "path", "nobody", "publictest", *cli_store,
                                 "-o", str(tmp_path / "p.dot")])
    assert r.exit_code == 2 and r.stderr.count("\n") == 1
    r = CliRunner().invoke(app, ["export", "mesh", *cli_store, "-o", str(tmp_path / "no" / "dir.dot")])
    assert r.exit_code == 1 and r.stderr.count("\n") == 1


def test_docs_diagrams_are_current(demo_graph):
    """docs/path.svg and docs/mesh.svg are `make docs` output: same nodes as today's DOT."""
    for kind in ("path", "mesh"):
        f = ROOT / "docs" / f"{kind}.svg"
        need(f.exists(), f"{f} is missing: run make docs")
        assert titles(ET.parse(f).getroot()) == node_ids(build(demo_graph, kind).source), f"run make docs ({kind})"
