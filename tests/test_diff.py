"""`topo diff` (by traffic, then config) and `topo snapshots`."""

from __future__ import annotations

import math
import os
from pathlib import Path

import orjson
import pytest
from builders import simple_mesh_dump
from conftest import nx_graph
from typer.testing import CliRunner

from topo.cli import app
from topo.meshgen.demo import demo_mesh
from topo.meshgen.model import Destination, Mesh, Pod, Service, ServicePort, Workload
from topo.meshgen.writer import write_bundle
from topo.queries.diff import diff
from topo.stores.snapshot import SnapshotStore

FQ = "publictest.istio-demo.svc.cluster.local"
V1, V2, BASE = f"outbound|9000|v1|{FQ}", f"outbound|9000|v2|{FQ}", f"outbound|9000||{FQ}"
WORKLOADS = ["istio-demo/integration", "istio-demo/mysql", "istio-demo/publictest-v1", "istio-demo/publictest-v2"]
GONE = "10.244.0.55:9000"  # the third publictest-v1 pod


def split_50_50_minus_one_v1_pod() -> Mesh:
    m = demo_mesh()
    m.virtual_services[0].http[0].route = [Destination(subset="v1", weight=50), Destination(subset="v2", weight=50)]
    v1 = next(w for w in m.workloads if w.name == "publictest-v1")
    assert v1.pods[-1].ip + ":9000" == GONE
    v1.pods = v1.pods[:-1]
    return m


def ingest(store: Path, mesh: Mesh, name: str, tmp: Path) -> None:
    out = tmp / f"bundle-{name}"
    write_bundle(mesh, out)
    r = CliRunner().invoke(app, ["ingest", "--from", str(out), "--store", str(store), "--name", name])
    assert r.exit_code == 0, r.output


@pytest.fixture
def ab(tmp_path: Path) -> Path:
    """One store, two snapshots: a = the example mesh (90/10), b = 50/50 with one v1 pod gone."""
    store = tmp_path / "store"
    ingest(store, demo_mesh(), "a", tmp_path)
    ingest(store, split_50_50_minus_one_v1_pod(), "b", tmp_path)
    return store


def run_json(*args: str) -> dict:
    r = CliRunner().invoke(app, list(args))
    assert r.exit_code == 0, r.output
    doc: dict = orjson.loads(r.stdout)
    return doc


def shares(t: dict) -> dict[tuple[str, str], tuple[float | None, float | None]]:
    def rnd(x: float | None) -> float | None:
        return None if x is None else round(x, 9)
    return {(c["what"], c["name"]): (rnd(c["before"]), rnd(c["after"])) for c in t["changes"]}


# ---------------------------------------------------------------- the acceptance case
def test_diff_90_10_to_50_50_with_one_v1_pod_removed(ab):
    doc = run_json("diff", "a", "b", "--store", str(ab), "-o", "json")
    assert (doc["a"], doc["b"]) == ("a", "b")
    http, tcp = sorted(doc["traffic"], key=lambda t: t["route"] == "(tcp)")
    # Every sidecar in the mesh routes publictest:9000 through the VirtualService, so all four
    # source workloads see the same change, listed once.
    assert http["sources"] == WORKLOADS and http["status"] == "changed"
    assert (http["destination"], http["route"]) == (f"{FQ}:9000", "publictest-route")
    assert shares(http) == {
        ("cluster", "v1"): (0.9, 0.5),
        ("cluster", "v2"): (0.1, 0.5),
        ("endpoint", "10.244.0.53:9000"): (0.3, 0.25),
        ("endpoint", "10.244.0.54:9000"): (0.3, 0.25),
        ("endpoint", "10.244.0.61:9000"): (0.1, 0.5),
        ("endpoint", GONE): (0.3, None),
    }
    assert http["text"] == ("v1 90% → 50%; v2 10% → 50%; 10.244.0.53:9000 30% → 25%; 10.244.0.54:9000 30% → 25%; "
                            f"10.244.0.61:9000 10% → 50%; endpoint {GONE} removed (was 30%)")
    removed = next(c for c in http["changes"] if c["after"] is None)
    assert removed["pod"] == "istio-demo/publictest-v1-kzksqldvqz-zdm6k" and removed["cluster"] == V1
    # The sniffed port's TCP default (no VirtualService: the whole service) loses the pod too.
    assert tcp["sources"] == WORKLOADS and tcp["via"] == "10.1.122.241_9000"
    third = round(1 / 3, 9)
    assert shares(tcp) == {("endpoint", "10.244.0.53:9000"): (0.25, third), ("endpoint", "10.244.0.54:9000"): (0.25, third),
                           ("endpoint", "10.244.0.61:9000"): (0.25, third), ("endpoint", GONE): (0.25, None)}
    assert len(doc["traffic"]) == 2
    # Then the config changes behind them, and nothing else.
    assert [(c["kind"], c["name"], c["change"], c["details"], c["sources"]) for c in doc["config"]] == [
        ("pod", "istio-demo/publictest-v1-kzksqldvqz-zdm6k", "removed", [], ["istio-demo/publictest-v1"]),
        ("route_config", f"{FQ}:9000", "changed", ["route publictest-route: weights v1 90, v2 10 → v1 50, v2 50"],
         WORKLOADS),
        ("cluster", V1, "changed", [f"endpoints −{GONE}"], WORKLOADS),
        ("cluster", BASE, "changed", [f"endpoints −{GONE}"], WORKLOADS),
    ]


def test_diff_table_reads_like_the_change(ab):
    r = CliRunner().invoke(app, ["diff", "a", "b", "--store", str(ab)])
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert ("istio-demo/integration, istio-demo/mysql, istio-demo/publictest-v1 (+1 more) → publictest.istio-demo:9000 "
            "(publictest-route):") in out
    for line in ("v1 90% → 50%", "v2 10% → 50%", "10.244.0.53:9000 30% → 25%", f"endpoint {GONE} removed (was 30%)",
                 # the config change names the VirtualService behind it
                 "route config publictest.istio-demo.svc.cluster.local:9000 (VirtualService istio-demo/publictest) "
                 "changed: route publictest-route: weights "
                 "v1 90, v2 10 → v1 50, v2 50"):
        assert line in out
    assert out.index("Traffic changes") < out.index("Config changes")


def test_current_and_filters(ab):
    full = run_json("diff", "a", "b", "--store", str(ab), "-o", "json")
    assert run_json("diff", "a", "current", "--store", str(ab), "-o", "json")["traffic"] == full["traffic"]
    one = run_json("diff", "a", "b", "integration", "--store", str(ab), "-o", "json")
    assert {tuple(t["sources"]) for t in one["traffic"]} == {("istio-demo/integration",)}
    assert len(one["traffic"]) == 2 and all(c["sources"] == ["istio-demo/integration"] for c in one["config"])
    to_pt = run_json("diff", "a", "b", "-", "publictest:9000", "--store", str(ab), "-o", "json")
    assert len(to_pt["traffic"]) == 2
    assert {c["kind"] for c in to_pt["config"]} == {"route_config", "cluster"}
    to_mysql = run_json("diff", "a", "b", "-", "mysql", "--store", str(ab), "-o", "json")
    assert to_mysql["traffic"] == [] and to_mysql["config"] == []
    by_ip = run_json("diff", "a", "b", "-", "10.244.0.55", "--store", str(ab), "-o", "json")
    assert len(by_ip["traffic"]) == 2
    r = CliRunner().invoke(app, ["diff", "a", "a", "--store", str(ab)])
    assert r.exit_code == 0 and "No change from a to a." in r.stdout


def test_diff_argument_errors(ab):
    r = CliRunner().invoke(app, ["diff", "a", "--store", str(ab)])
    assert r.exit_code == 2 and "A B [SRC] [DST]" in r.output
    r = CliRunner().invoke(app, ["diff", "a", "nope", "--store", str(ab)])
    assert r.exit_code == 2 and "no snapshot 'nope'" in r.output


# ---------------------------------------------------------------- other kinds of change
def test_new_endpoint_lb_policy_and_new_service(tmp_path):
    store = tmp_path / "store"
    ingest(store, demo_mesh(), "a", tmp_path)
    m = demo_mesh()
    v2 = next(w for w in m.workloads if w.name == "publictest-v2")
    v2.pods.append(Pod("publictest-v2-2f7hnnppwq-new01", "10.244.0.62", node=v2.pods[0].node))
    m.destination_rules[0].lb_policy = "ROUND_ROBIN"
    m.services.append(Service("extra", "istio-demo", [ServicePort(7000, "tcp-extra")], vip="10.1.77.7"))
    m.workloads.append(Workload("extra", "istio-demo", app="extra", services=["extra"],
                                pods=[Pod("extra-abcdefghij-zzzzz", "10.244.0.90", node="istio-demo-worker")]))
    ingest(store, m, "b", tmp_path)
    doc = run_json("diff", "a", "b", "istio-demo/integration", "--store", str(store), "-o", "json")
    t = {(x["route"], x["status"]): x for x in doc["traffic"]}
    http = t[("publictest-route", "changed")]
    assert shares(http) == {("endpoint", "10.244.0.61:9000"): (0.1, 0.05), ("endpoint", "10.244.0.62:9000"): (None, 0.05)}
    assert "new endpoint 10.244.0.62:9000 gets 5%" in http["text"]
    new = t[("(tcp)", "added")]
    assert new["destination"] == "extra.istio-demo.svc.cluster.local:7000"
    assert new["text"] == "new route: extra.istio-demo 100% over 1 endpoint"
    cfg = {(c["kind"], c["name"]): c for c in doc["config"]}
    for name in (V1, V2, BASE):
        assert "lb_policy LEAST_REQUEST → ROUND_ROBIN" in cfg[("cluster", name)]["details"]
    assert cfg[("cluster", V2)]["details"][-1] == "endpoints +10.244.0.62:9000"
    assert cfg[("listener", "10.1.77.7_7000")]["change"] == "added"
    assert cfg[("cluster", "outbound|7000||extra.istio-demo.svc.cluster.local")]["change"] == "added"
    # the new workload itself, seen from the whole-mesh diff
    everything = run_json("diff", "a", "b", "--store", str(store), "-o", "json")
    assert any(c["kind"] == "workload" and c["name"] == "istio-demo/extra" and c["change"] == "added"
               for c in everything["config"])


def test_workload_shares_average_over_its_distinct_configs(graph_of, tmp_path):
    """Two pods of one workload, one stale (100% v1): the workload's v1 share is their mean. A is a
    snapshot, B the graph on the backend under test (as `topo diff A --neo4j URI` compares them)."""
    lbl = {"app": "web"}
    before = nx_graph(tmp_path, simple_mesh_dump(pod="web-1", labels=lbl), simple_mesh_dump(pod="web-2", labels=lbl))
    after = graph_of(simple_mesh_dump(pod="web-1", labels=lbl, weights=(50, 50)),
                     simple_mesh_dump(pod="web-2", labels=lbl))
    res = diff(before, after)
    (t,) = res.traffic
    assert t.sources == ["default/web"] and t.route == "split"
    got = {(c.what, c.name): (round(c.before or 0, 9), round(c.after or 0, 9)) for c in t.changes}
    # web-1 went 90/10 → 50/50, web-2 stayed 90/10: the workload moves from 90/10 to 70/30
    assert got[("cluster", "v1")] == (0.9, 0.7) and got[("cluster", "v2")] == (0.1, 0.3)
    assert math.isclose(sum(c.after or 0 for c in t.changes if c.what == "endpoint"), 1.0)


# ---------------------------------------------------------------- against the Neo4j graph
@pytest.mark.neo4j
def test_diff_snapshot_against_real_neo4j(ab, neo4j_db, neo4j_uri, tmp_path):
    from topo.ingest import pipeline, sources
    from topo.stores.neo4jstore import Neo4jLoader

    bundle = tmp_path / "bundle-b"  # written by the fixture
    pipeline.run(sources.from_path(bundle), Neo4jLoader(neo4j_uri))
    doc = run_json("diff", "--neo4j", neo4j_uri, "a", "--store", str(ab), "-o", "json")
    plain = run_json("diff", "a", "b", "--store", str(ab), "-o", "json")
    assert doc["traffic"] == plain["traffic"] and doc["config"] == plain["config"]


# ---------------------------------------------------------------- snapshots
def test_snapshots_list_and_prune(tmp_path):
    store = tmp_path / "store"
    for name in ("z-old", "a-mid", "m-new"):
        ingest(store, demo_mesh(), name, tmp_path)
    snapdir = store / "snapshots"
    for i, name in enumerate(("z-old", "a-mid", "m-new")):  # write times: z-old oldest, whatever the names say
        os.utime(snapdir / f"{name}.json", (1_700_000_000 + i * 60, 1_700_000_000 + i * 60))
    doc = run_json("snapshots", "--store", str(store), "-o", "json")
    assert [(s["name"], s["current"], s["pods"]) for s in doc["snapshots"]] == [
        ("z-old", False, 6), ("a-mid", False, 6), ("m-new", True, 6)]
    assert doc["snapshots"][0]["time"] == "2023-11-14T22:13:20Z" and doc["pruned"] == []
    # make the oldest current: pruning never removes it, and keeps the newest otherwise
    (store / "CURRENT").write_text("z-old\n")
    doc = run_json("snapshots", "--prune", "1", "--store", str(store), "-o", "json")
    assert doc["pruned"] == ["a-mid"]
    assert [(s["name"], s["current"]) for s in doc["snapshots"]] == [("z-old", True), ("m-new", False)]
    assert sorted(p.name for p in snapdir.iterdir()) == ["m-new.heavy", "m-new.json", "z-old.heavy", "z-old.json"]
    doc = run_json("snapshots", "--prune", "0", "--store", str(store), "-o", "json")
    assert doc["pruned"] == ["m-new"] and [s["name"] for s in doc["snapshots"]] == ["z-old"]
    r = CliRunner().invoke(app, ["snapshots", "--store", str(store)])
    assert r.exit_code == 0 and "z-old" in r.stdout and "*" in r.stdout


def test_snapshots_of_an_empty_store(tmp_path):
    r = CliRunner().invoke(app, ["snapshots", "--store", str(tmp_path / "none")])
    assert r.exit_code == 0 and "No snapshot" in r.stdout
    assert SnapshotStore(tmp_path / "none").infos() == []


def test_export_diff_draws_the_changes(ab, tmp_path):
    """`topo export diff`: removed endpoint red and dashed, weight changes labelled, stable DOT."""
    import shutil
    import xml.etree.ElementTree as ET

    from conftest import need

    out = tmp_path / "d.dot"
    r = CliRunner().invoke(app, ["export", "diff", "a", "b", "--store", str(ab), "-o", str(out)])
    assert r.exit_code == 0, r.output + r.stderr
    text = out.read_text()
    assert "90% → 50%" in text and "10% → 50%" in text and "30% → –" in text
    assert "#c62828" in text and "dashed" in text
    again = tmp_path / "e.dot"
    CliRunner().invoke(app, ["export", "diff", "a", "b", "--store", str(ab), "-o", str(again)])
    assert again.read_text() == text
    need(shutil.which("dot") is not None, "Graphviz dot is not installed")
    svg = tmp_path / "d.svg"
    r = CliRunner().invoke(app, ["export", "diff", "a", "b", "--store", str(ab), "-o", str(svg)])
    assert r.exit_code == 0, r.output + r.stderr
    ET.parse(svg)
