"""The Neo4j backend on a real server: parity with networkx, idempotence, cleanup, parameters."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import orjson
import pytest
from builders import simple_mesh_dump, two_versions_dumps
from conftest import EXAMPLE, ROOT, meshgen

from topo.cli.common import to_plain
from topo.errors import TopoError
from topo.ingest import pipeline, sources
from topo.queries import assertions, behavior, blast, check, mesh, path, reach, search, show
from topo.stores import SnapshotLoader
from topo.stores.neo4jgraph import CypherGraph
from topo.stores.neo4jstore import Neo4jLoader, read_query
from topo.stores.nxgraph import NxGraph
from topo.stores.snapshot import SnapshotStore

pytestmark = pytest.mark.neo4j


def both(src: Path, tmp: Path, uri: str) -> tuple[NxGraph, CypherGraph]:
    st = SnapshotStore(tmp / "store")
    res = pipeline.run(sources.from_path(src), SnapshotLoader(st, None))
    assert res.files
    pipeline.run(sources.from_path(src), Neo4jLoader(uri))
    return NxGraph(st.load()), CypherGraph(uri)


def norm(obj):
    """Plain data with floats rounded, for comparing answers across backends."""
    if isinstance(obj, float):
        return round(obj, 9)
    if isinstance(obj, dict):
        return {k: norm(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [norm(v) for v in obj]
    return obj


def answer(fn, *args, **kw):
    try:
        return norm(to_plain(fn(*args, **kw)))
    except TopoError as e:
        return f"error: {e}"


def questions(g: NxGraph):
    sources_ = {}
    for p in g.pods():
        sources_.setdefault(p["config"], p["id"])
    dests = [(s["fqdn"], port) for s in g.services() for port in sorted(set(s["ports"] or []))]
    return sorted(sources_.values()), dests, [s["fqdn"] for s in g.services()]


def assert_parity(nx: NxGraph, cy: CypherGraph) -> int:
    srcs, dests, services = questions(nx)
    assert srcs and dests
    n = 0
    for s in srcs:
        for fqdn, port in dests:
            a = answer(path.path, nx, s, fqdn, port=port)
            b = answer(path.path, cy, s, fqdn, port=port)
            assert a == b, (s, fqdn, port)
            n += 1
        assert answer(reach.reach, nx, s) == answer(reach.reach, cy, s), s
        n += 1
        for table in (show.listener_table, show.route_table, show.cluster_table, show.endpoint_table,
                      show.endpoint_status_table):
            assert answer(table, nx, s) == answer(table, cy, s), (table.__name__, s)
            n += 1
        assert answer(search.search, nx, s, ["all"]) == answer(search.search, cy, s, ["all"]), s
        n += 1
    for svc in services:
        assert answer(reach.reach_to, nx, svc) == answer(reach.reach_to, cy, svc), svc
        assert answer(blast.blast, nx, svc) == answer(blast.blast, cy, svc), svc
        n += 2
    # the locality what-ifs, for every zone and region the graph knows
    localities = sorted(set(nx.endpoint_localities()) | {p["locality"] for p in nx.pods() if p["locality"]})
    assert localities == sorted(set(cy.endpoint_localities()) | {p["locality"] for p in cy.pods() if p["locality"]})
    for loc in localities:
        region, _, rest = loc.partition("/")
        zone = f"{region}/{rest.split('/')[0]}" if rest else ""
        for kw in ({"zone": zone} if zone else {}), {"region": region}:
            if kw:
                assert answer(blast.blast, nx, **kw) == answer(blast.blast, cy, **kw), kw
                n += 1
        if zone:
            for s in srcs:
                for fqdn, port in dests[:3]:
                    assert answer(path.path, nx, s, fqdn, port=port, from_zone=zone) == \
                        answer(path.path, cy, s, fqdn, port=port, from_zone=zone), (s, zone)
                    n += 1
    assert answer(check.check, nx) == answer(check.check, cy)
    assert answer(mesh.mesh_model, nx) == answer(mesh.mesh_model, cy)
    assert answer(search.search, nx, None, ["dead"]) == answer(search.search, cy, None, ["dead"])
    items = [{"from": s, "to": f"{fqdn}:{port}", "reaches": "100%"} for s in srcs[:3] for fqdn, port in dests[:3]]
    items += [{"search": {"outcome": "NC,UH", "count": 0}}, {"from": srcs[0], "no-dead-ends": True}]
    assert answer(assertions.evaluate, nx, items) == answer(assertions.evaluate, cy, items)
    return n + 5


def test_parity_on_the_example(neo4j_db, neo4j_uri, tmp_path):
    nx, cy = both(EXAMPLE, tmp_path, neo4j_uri)
    assert assert_parity(nx, cy) > 10
    # and the seed's answer itself, from Cypher
    r = path.path(cy, "integration", "publictest")
    fr = {c.name.split("|")[2]: c.fraction for c in r.answers[0].clusters}
    assert fr == {"v1": 0.9, "v2": 0.1}


@pytest.mark.parametrize("scenario", ["locality-failover", "locality-distribute", "fault-injection",
                                      "registry-only-egress", "header-path-match"])
def test_parity_on_conformance_scenarios(neo4j_db, neo4j_uri, tmp_path, scenario):
    nx, cy = both(ROOT / "tests" / "conformance" / scenario / "dumps", tmp_path, neo4j_uri)
    assert assert_parity(nx, cy) > 10


def test_parity_of_behavior_diff(neo4j_db, neo4j_uri, tmp_path):
    """diff --behavior from snapshot A to B, with B on each backend."""
    from test_behavior import broken_example

    a_store = SnapshotStore(tmp_path / "a")
    pipeline.run(sources.from_path(EXAMPLE), SnapshotLoader(a_store, None))
    nx_b, cy_b = both(broken_example(tmp_path / "broken"), tmp_path, neo4j_uri)
    a = NxGraph(a_store.load())
    got = answer(behavior.behavior_diff, a, nx_b)
    assert got == answer(behavior.behavior_diff, a, cy_b)
    assert got["changes"][0]["rank"] == "broken"


@pytest.mark.parametrize("seed,services,pods,workloads", [(1, 6, 10, 4), (2, 10, 16, 6), (3, 14, 24, 8)])
def test_parity_on_generated_meshes(neo4j_db, neo4j_uri, tmp_path, seed, services, pods, workloads):
    src = meshgen(tmp_path / "mesh", "random", "--services", str(services), "--pods", str(pods),
                  "--workloads", str(workloads), "--seed", str(seed))
    nx, cy = both(src, tmp_path, neo4j_uri)
    assert assert_parity(nx, cy) > 20


def test_parity_of_sets_order_and_picks(neo4j_db, neo4j_uri, tmp_path):
    """A config's members in dump order, and a name two entries carry (topo.model.schema's picks)."""
    from test_sets import with_inbound

    a, b = two_versions_dumps()
    src = tmp_path / "dumps"
    src.mkdir()
    for i, doc in enumerate((a, b, with_inbound(simple_mesh_dump(pod="gamma-1", ip="10.0.0.3"), 7003))):
        (src / f"d{i}.json").write_bytes(orjson.dumps(doc))
    nx, cy = both(src, tmp_path, neo4j_uri)
    for p in nx.pods():
        c = p["config"]
        for hop in ("listeners", "config_clusters", "route_configs"):
            assert [x["key"] for x in getattr(nx, hop)(c)] == [x["key"] for x in getattr(cy, hop)(c)], hop
    ends = {pod: [e.address for e in path.path(cy, pod, "svc", port=8080).answers[0].endpoints]
            for pod in ("a-1", "b-1")}
    assert ends == {"a-1": ["10.1.0.1:8080"], "b-1": ["10.1.0.9:8080"]}
    assert assert_parity(nx, cy) > 5


def counts(driver) -> tuple[int, int]:
    n = driver.execute_query("MATCH (n) RETURN count(n) AS c", database_="neo4j").records[0]["c"]
    r = driver.execute_query("MATCH ()-[r]->() RETURN count(r) AS c", database_="neo4j").records[0]["c"]
    return n, r


def graph_sets(driver):
    nodes = driver.execute_query(
        "MATCH (n) RETURN labels(n)[0] AS l, properties(n) AS p", database_="neo4j").records
    rels = driver.execute_query(
        "MATCH (a)-[r]->(b) RETURN type(r) AS t, elementId(a) AS a, elementId(b) AS b, properties(r) AS p",
        database_="neo4j").records
    ns = {(r["l"], orjson.dumps({k: v for k, v in r["p"].items() if k != "lastupdated"},
                                option=orjson.OPT_SORT_KEYS)) for r in nodes}
    rs = {(r["t"], orjson.dumps({k: v for k, v in r["p"].items() if k != "lastupdated"},
                                option=orjson.OPT_SORT_KEYS)) for r in rels}
    return ns, len(rels), rs


def test_idempotent_reingest_and_cleanup(neo4j_db, neo4j_uri, tmp_path):
    pipeline.run(sources.from_path(EXAMPLE), Neo4jLoader(neo4j_uri))
    first = counts(neo4j_db)
    sets1 = graph_sets(neo4j_db)
    pipeline.run(sources.from_path(EXAMPLE), Neo4jLoader(neo4j_uri))
    assert counts(neo4j_db) == first
    assert graph_sets(neo4j_db) == sets1
    # the same counts as the embedded snapshot of the same input
    snap = pipeline.transform_all(sources.from_path(EXAMPLE))
    assert first == snap.rows.count()

    # a changed mesh: one publictest-v1 pod removed (its dump, its pods.json entry, its endpoints)
    changed = tmp_path / "changed"
    shutil.copytree(EXAMPLE, changed)
    victim = sorted(p for p in changed.glob("publictest-v1-*.json"))[0]
    victim_name = victim.stem
    victim.unlink()
    want = pipeline.transform_all(sources.from_path(changed))
    pipeline.run(sources.from_path(changed), Neo4jLoader(neo4j_uri))
    assert counts(neo4j_db) == want.rows.count()
    gone = neo4j_db.execute_query("MATCH (p:Pod) WHERE p.name = $n RETURN count(p) AS c", {"n": victim_name},
                                  database_="neo4j").records[0]["c"]
    assert gone == 0
    pods_left = neo4j_db.execute_query("MATCH (p:Pod) RETURN count(p) AS c", database_="neo4j").records[0]["c"]
    assert pods_left == len(want.rows.nodes["Pod"])


def test_cleanup_is_scoped_to_the_ingested_namespace(neo4j_db, neo4j_uri, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "p.json").write_bytes(orjson.dumps(simple_mesh_dump(pod="client-a", ns="team-a")))
    (b / "p.json").write_bytes(orjson.dumps(simple_mesh_dump(pod="client-b", ns="team-b", weights=(50, 50))))
    pipeline.run(sources.from_path(a), Neo4jLoader(neo4j_uri))
    pipeline.run(sources.from_path(b), Neo4jLoader(neo4j_uri))
    ids = {r["id"] for r in read_query(neo4j_uri, "neo4j", "MATCH (p:Pod) RETURN p.id AS id", {})}
    assert ids == {"team-a/client-a", "team-b/client-b"}
    cy = CypherGraph(neo4j_uri)
    fr = {c.name: c.fraction for c in path.path(cy, "client-a", "svc.default", namespace="team-a").answers[0].clusters}
    assert sorted(fr.values()) == [0.1, 0.9]


WEIRD = 'we"ird`-{x}\'--//pod MATCH (n) DETACH DELETE n'


def test_names_travel_as_parameters(neo4j_db, neo4j_uri, tmp_path):
    d = tmp_path / "w"
    d.mkdir()
    doc = simple_mesh_dump(pod=WEIRD, labels={"app": "x`}{\"", "version": "'; DROP"})
    (d / "weird.json").write_bytes(orjson.dumps(doc))
    res = pipeline.run(sources.from_path(d), Neo4jLoader(neo4j_uri))
    assert res.files
    cy = CypherGraph(neo4j_uri)
    (pod,) = cy.pods()
    assert pod["name"] == WEIRD and orjson.loads(pod["labels"])["app"] == "x`}{\""
    r = path.path(cy, "default/" + WEIRD, "svc")
    assert math.isclose(sum(e.share for e in r.answers[0].endpoints), 1.0)
    got = read_query(neo4j_uri, "neo4j", "MATCH (p:Pod {name: $n}) RETURN p.name AS name", {"n": WEIRD})
    assert got == [{"name": WEIRD}]
    assert counts(neo4j_db)[0] > 5  # the "DETACH DELETE" in the name did nothing


def test_read_only_passthrough_refuses_writes(neo4j_db, neo4j_uri):
    import neo4j

    with pytest.raises(neo4j.exceptions.ClientError):
        read_query(neo4j_uri, "neo4j", "CREATE (n:Oops) RETURN n", {})
    assert read_query(neo4j_uri, "neo4j", "MATCH (n:Oops) RETURN count(n) AS c", {}) == [{"c": 0}]


def test_cli_ingest_and_path_on_neo4j(neo4j_db, neo4j_uri):
    from typer.testing import CliRunner

    from topo.cli import app

    r = CliRunner().invoke(app, ["ingest", "--from", str(EXAMPLE), "--neo4j", neo4j_uri])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["path", "integration", "publictest", "--neo4j", neo4j_uri, "-o", "json"])
    assert r.exit_code == 0, r.output
    doc = orjson.loads(r.stdout)
    assert {c["weight"] for c in doc["answers"][0]["clusters"]} == {90, 10}


def test_server_down_is_one_line(tmp_path):
    from typer.testing import CliRunner

    from topo.cli import app

    r = CliRunner().invoke(app, ["path", "a", "b", "--neo4j", "bolt://127.0.0.1:1"])
    assert r.exit_code == 1
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("topo: neo4j:")


def test_readme_cypher_runs_on_the_example(neo4j_db, neo4j_uri, tmp_path):
    """The README's Cypher (the `topo cypher` line and the Browser query) against the example."""
    import re

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    (chain,) = re.findall(r"```cypher\n(.*?)```", readme, re.S)
    line = re.search(r"topo cypher '(.*?)' --param s=v2", readme, re.S)
    assert line
    pipeline.run(sources.from_path(EXAMPLE), Neo4jLoader(neo4j_uri))
    rows = read_query(neo4j_uri, "neo4j", line.group(1), {"s": "v2"})
    assert rows and all(r["c.name"] == "outbound|9000|v2|publictest.istio-demo.svc.cluster.local" for r in rows)
    got = read_query(neo4j_uri, "neo4j", chain, {})
    # the seed: v1 90 and v2 10, ending on the publictest pods (three v1 endpoints, one v2)
    weights = {r["c"]["subset"]: r["t.weight"] for r in got}
    assert weights == {"v1": 90, "v2": 10}
    assert sorted(r["e"]["address"] for r in got if r["c"]["subset"] == "v1")[0] == "10.244.0.53:9000"
