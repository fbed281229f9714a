"""Hardening: bad input, nothing lost, secrets never stored, names stay data.

1. Bad input: the corpus in tests/badinput/ (written by make_corpus.py from the smallest
   example dump) ingested beside a good dump through the CLI; every wrong type in every
   field the reader uses; the questions on whatever partially valid files ingested.
   (tests/test_fuzz.py mutates real dumps at random.)
2. Nothing lost: ingests SIGKILLed at 20 random points; readers asking `path` while
   ingests replace the snapshot; a Neo4j load that fails or is killed midway; a Neo4j
   server that is down, refuses the credentials, or is named by a bad URI.
3. Secrets: dumps seeded with key material, tokens and passwords, ingested into both
   backends; every stored byte and every output is scanned for them.
4. Injection: names full of Cypher and shell metacharacters stay data: Cypher parameters,
   kubectl argv elements refused before kubectl runs, escaped DOT labels.
5. Names are text: names with Rich markup, terminal escapes and control characters (from
   dumps, file names, the command line) printed by every command as text; diagrams of them
   render and their SVG parses.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from badinput import hostile, make_corpus
from badinput.harness import ask, questions
from builders import simple_mesh_dump
from conftest import EXAMPLE, ROOT, meshgen
from typer.testing import CliRunner

from topo.cli import app
from topo.cli.common import to_plain
from topo.ingest import pipeline, sources
from topo.ingest.dump import DumpError
from topo.ingest.transform import transform_bytes
from topo.queries import path as pathq
from topo.stores import open_graph
from topo.stores.snapshot import SnapshotStore

BADINPUT = ROOT / "tests" / "badinput"
CORPUS = BADINPUT / "corpus"
GOOD = EXAMPLE / "integration-86924652-bfsfs.json"


def topo(*args: Any, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python -m topo ...` as a user runs it: a separate process, its exit code and output."""
    return subprocess.run([sys.executable, "-m", "topo", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, cwd=ROOT)


def no_traceback(r: Any) -> None:
    out = (r.stdout or "") + (r.stderr or "")
    assert "Traceback" not in out, out[-3000:]


def one_line_error(r: Any, prefix: str = "topo: ") -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(prefix), r.stderr
    return lines[0]


def manifest() -> dict[str, dict[str, str]]:
    return json.loads((BADINPUT / "MANIFEST.json").read_text())


def path_weights(doc: dict[str, Any]) -> list[tuple[str, int]]:
    return sorted((c["name"], c["weight"]) for a in doc["answers"] for c in a["clusters"])


# ============================================================================ 1. bad input


def test_corpus_is_what_its_script_writes_and_small():
    assert make_corpus.main(["--check"]) == 0, "rerun tests/badinput/make_corpus.py"
    size = sum(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file())
    assert size < 2 * 1024 * 1024, size
    m = manifest()
    names = set(m)
    for must in ("missing-configs.json", "unknown-types.json", "duplicate-names.json", "cluster-header-self.json",
                 "string-1mb.json", "deep-arrays-100k.json", "invalid-utf8.json", "empty.json", "a-directory.json",
                 "port-negative.json", "weight-zero.json", "weight-2p32.json"):
        assert must in names, must
    assert sum(n.startswith("truncated-") for n in names) >= 20
    assert {n[len("wrongtype-"):-len(".json")].replace("at-", "@") for n in names if n.startswith("wrongtype-")} \
        == set(make_corpus.READER_KEYS)
    assert (CORPUS / "a-directory.json").is_dir()
    assert len((CORPUS / "string-1mb.json").read_bytes()) > 1_000_000


@pytest.fixture(scope="module")
def corpus_ingest(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    """The corpus and one good dump in one directory, ingested by `python -m topo ingest`."""
    base = tmp_path_factory.mktemp("corpus")
    src, store = base / "in", base / "store"
    shutil.copytree(CORPUS, src)
    shutil.copy(GOOD, src)
    r = topo("ingest", "--from", src, "--store", store, "-o", "json")
    return src, store, r


def test_corpus_ingest_refuses_each_bad_file_in_one_line(corpus_ingest):
    src, store, r = corpus_ingest
    no_traceback(r)
    assert r.returncode == pipeline.EXIT_PARTIAL, r.stderr[-2000:]
    summary = json.loads(r.stdout)
    refused = {Path(x["source"]).name: x["reason"] for x in summary["refused"]}
    # stderr: exactly one line per refused file, naming it
    lines = r.stderr.splitlines()
    assert len(lines) == len(refused)
    for ln in lines:
        assert ln.startswith(f"topo: {src}/"), ln
        name = ln[len(f"topo: {src}/"):].split(": ", 1)[0]
        assert name in refused, ln
    for name, reason in refused.items():
        assert reason and "\n" not in reason and len(reason) < 300, (name, reason)
    m = manifest()
    for name, info in m.items():
        if info["expect"] == "refused":
            assert name in refused, f"{name} ({info['what']}) should be refused"
        elif info["expect"] in ("ingested", "kube"):
            assert name not in refused, f"{name} ({info['what']}) was refused: {refused.get(name)}"
    # every file that was not refused is a pod in the snapshot (the later of two files wins)
    snap = SnapshotStore(store).load()
    sources_ = {Path(p["source"]).name for p in snap.nodes["Pod"]}
    dumps = {n for n, i in m.items() if i["expect"] not in ("kube", "companion")} | {GOOD.name}
    assert dumps - set(refused) - {"duplicate-pod-a.json"} == sources_
    # what was read around is recorded as a note (a warning) on the file
    noted = {n[len(f"{src}/"):].split(": ", 1)[0] for n in summary["notes"] if n.startswith(f"{src}/")}
    for name in ("wrongtype-port_value.json", "wrongtype-domains.json", "wrongtype-filter_chains.json",
                 "wrongtype-prefix.json", "wrongtype-headers.json", "port-negative.json", "port-huge.json",
                 "weight-2p64.json", "configs-junk-entries.json", "unknown-type-extra.json", "duplicate-pod-b.json"):
        assert name in noted, name
    assert GOOD.name not in noted
    print(f"\ncorpus: {len(m)} entries, {len(refused)} refused in one line, {len(sources_) - 1} bad files ingested, "
          f"{len(noted)} of them with a recorded warning")


def test_the_good_pod_beside_the_corpus_answers(corpus_ingest):
    _src, store, _r = corpus_ingest
    r = topo("path", "integration", "publictest", "--store", store, "-o", "json")
    no_traceback(r)
    assert r.returncode == 0, r.stderr
    assert path_weights(json.loads(r.stdout)) == [
        ("outbound|9000|v1|publictest.istio-demo.svc.cluster.local", 90),
        ("outbound|9000|v2|publictest.istio-demo.svc.cluster.local", 10)]


def test_questions_on_what_ingested_from_the_corpus(corpus_ingest):
    """path, reach, blast and show on every pod that a bad file left: answers or one line."""
    _src, store, _r = corpus_ingest
    snap = SnapshotStore(store).load()
    pods = sorted(p["id"] for p in snap.nodes["Pod"])
    qs = [q for p in pods for q in questions(p, ["publictest", "mysql:3306", "10.1.122.241:9000"])]
    qs += [["reach", "--to", "publictest"], ["blast", "publictest"], ["blast", "10.244.0.70"]]
    n, crashes = ask(store, qs)
    assert not crashes, crashes
    # and a few as separate processes, with the worst of the corpus
    for args in (["path", "m-string-1mb", "publictest", "-o", "json"],
                 ["path", "m-cluster-header-self", "publictest", "--header", "x-cluster=anything"],
                 ["path", "m-weight-2p64", "publictest"], ["show", "all", "m-string-1mb", "-o", "json"],
                 ["blast", "m-duplicate-names"], ["reach", "m-port-huge"]):
        r = topo(*args, "--store", store)
        no_traceback(r)
        assert r.returncode in (0, 2, 4), (args, r.stderr)
    print(f"\ncorpus: {n} questions on {len(pods)} pods, no crash")


def test_every_field_the_reader_uses_with_every_wrong_type(tmp_path):
    """The full base dump with one field's every occurrence set to one wrong value, for
    every field x every wrong value: a one-line DumpError or rows that store."""
    base = make_corpus.renamed(make_corpus.base(), "m-matrix")
    n = refused = 0
    for key in make_corpus.READER_KEYS:
        for w in make_corpus.WRONG:
            doc = make_corpus._walk(orjson.loads(orjson.dumps(base)), lambda k, v, key=key, w=w: w if k == key else v)
            data = make_corpus.b(doc)
            n += 1
            try:
                res = transform_bytes(data, f"{key}.json")
            except DumpError as e:
                assert str(e) and "\n" not in str(e), (key, w, str(e))
                refused += 1
                continue
            orjson.dumps(res.rows.nodes)  # storable: no value orjson (or Neo4j) cannot hold
            for label, bucket in res.rows.nodes.items():
                for props in bucket.values():
                    for k, v in props.items():
                        assert not (isinstance(v, int) and not -(2**63) <= v < 2**63), (key, w, label, k)
    assert n == len(make_corpus.READER_KEYS) * len(make_corpus.WRONG)
    print(f"\nwrong types: {n} dumps, {refused} refused in one line, {n - refused} read")


@pytest.mark.neo4j
def test_corpus_into_neo4j(neo4j_db, neo4j_uri, tmp_path):
    """The same corpus into Neo4j: huge numbers, 1 MB strings and twins load; questions answer."""
    from topo.stores.neo4jgraph import CypherGraph
    from topo.stores.neo4jstore import Neo4jLoader

    src = tmp_path / "in"
    shutil.copytree(CORPUS, src)
    shutil.copy(GOOD, src)
    res = pipeline.run(sources.from_path(src), Neo4jLoader(neo4j_uri))
    assert res.exit_code == pipeline.EXIT_PARTIAL
    cy = CypherGraph(neo4j_uri)
    got = pathq.path(cy, "integration", "publictest")
    assert sorted((c.name, c.weight) for c in got.answers[0].clusters)[0][1] == 90
    cy.close()
    pods = ["m-weight-2p64", "m-port-huge", "m-string-1mb", "m-cluster-header-self", "m-duplicate-names",
            "m-wrongtype-weight", "m-wrongtype-match"]
    qs = [q for p in pods for q in questions(p, ["publictest", "mysql:3306"])]
    n, crashes = ask(None, qs, backend=["--neo4j", neo4j_uri])
    assert not crashes, crashes


# ============================================================================ 2. nothing lost


@pytest.fixture(scope="module")
def medium_mesh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 services, 60 pods: an ingest takes about a second."""
    return meshgen(tmp_path_factory.mktemp("medium") / "m", "random", "--services", "30", "--pods", "60", "--seed", "1")


def _snapshot_files(st: SnapshotStore) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in st.snapdir.iterdir() if not p.name.startswith(".")}


def test_sigkill_at_20_random_points_keeps_the_previous_snapshot(medium_mesh, tmp_path):
    st = SnapshotStore(tmp_path / "store")
    first = topo("ingest", "--from", medium_mesh, "--store", st.root, "--name", "before")
    assert first.returncode == 0, first.stderr
    before = _snapshot_files(st)
    g = open_graph(store=st.root)
    pod = g.pods()[0]["id"]
    svc = next(s for s in g.services() if s["ports"])
    want = orjson.dumps(to_plain(pathq.path(g, pod, svc["fqdn"], port=svc["ports"][0])))
    # time one ingest, to spread the kills over it (this only picks the delays; nothing is
    # asserted about time)
    t0 = time.monotonic()
    topo("ingest", "--from", medium_mesh, "--store", tmp_path / "timing")
    span = time.monotonic() - t0
    rng = random.Random(20)
    outcomes = {"old": 0, "new": 0}
    prev = "before"
    for i in range(20):
        p = subprocess.Popen([sys.executable, "-m", "topo", "ingest", "--from", str(medium_mesh), "--store",
                              str(st.root), "--name", f"run{i}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if i % 2 == 0:  # anywhere in the run
            time.sleep(rng.uniform(0, span * 1.2))
        else:  # while the snapshot is being written: once a temporary file appears
            while p.poll() is None and not any(f.name.endswith(".tmp") for d in (st.root, st.snapdir)
                                               for f in d.iterdir()):
                time.sleep(0.001)
            time.sleep(rng.uniform(0, 0.03))
        p.send_signal(signal.SIGKILL)
        p.wait()
        cur = st.current_name()
        assert cur in (prev, f"run{i}"), cur  # the previous snapshot, or the new one, complete
        outcomes["old" if cur == prev else "new"] += 1
        now = _snapshot_files(st)
        for name, data in before.items():  # snapshots are never touched once written
            assert now[name] == data, name
        assert set(now) - set(before) <= {f"run{i}.json", f"run{i}.heavy"}, sorted(now)
        before, prev = now, cur
        for name in st.names():  # every snapshot listed is whole
            snap = st.load(name)
            assert len(snap.nodes["Pod"]) == 60
        g = open_graph(store=st.root)
        assert orjson.dumps(to_plain(pathq.path(g, pod, svc["fqdn"], port=svc["ports"][0]))) == want
    print(f"\nkills: 20 survived ({outcomes['old']} left the previous snapshot current, "
          f"{outcomes['new']} came after the new one was complete and current)")


READER = r"""
import sys, orjson
from topo.cli.common import to_plain
from topo.stores import open_graph
from topo.queries.path import path
store, stop, out = sys.argv[1], sys.argv[2], sys.argv[3]
answers, n, errors = {}, 0, []
import os
while not os.path.exists(stop):
    try:
        a = orjson.dumps(to_plain(path(open_graph(store=store), "integration", "publictest")), option=orjson.OPT_SORT_KEYS)
        answers[a] = answers.get(a, 0) + 1
    except Exception as e:  # any error is a failure of the test
        errors.append(f"{type(e).__name__}: {e}")
    n += 1
open(out, "wb").write(orjson.dumps({"n": n, "answers": [[k.decode(), v] for k, v in answers.items()], "errors": errors}))
"""


def _two_meshes(tmp: Path, bulk: Path) -> tuple[Path, Path]:
    """The demo with publictest split 90/10 (A) and 50/50 (B), each beside the medium mesh's
    dumps so an ingest takes about a second."""
    out = []
    for name, weights in (("a", (90, 10)), ("b", (50, 50))):
        d = tmp / name
        shutil.copytree(EXAMPLE, d)
        shutil.copytree(bulk, d / "bulk")
        for f in d.glob("*.json"):
            f.write_bytes(f.read_bytes().replace(b'"weight": 90', f'"weight": {weights[0]}'.encode())
                          .replace(b'"weight": 10', f'"weight": {weights[1]}'.encode()))
        out.append(d)
    return out[0], out[1]


def _answer(store: Path) -> bytes:
    return orjson.dumps(to_plain(pathq.path(open_graph(store=store), "integration", "publictest")),
                        option=orjson.OPT_SORT_KEYS)


def test_readers_see_a_whole_snapshot_while_ingests_replace_it(medium_mesh, tmp_path):
    a, b = _two_meshes(tmp_path, medium_mesh)
    st = tmp_path / "store"
    want = {}
    for d in (a, b):
        r = topo("ingest", "--from", d, "--store", st)
        assert r.returncode == 0, r.stderr
        want[d.name] = _answer(st)
    assert want["a"] != want["b"]
    stop = tmp_path / "stop"
    readers = [subprocess.Popen([sys.executable, "-c", READER, str(st), str(stop), str(tmp_path / f"r{i}.json")])
               for i in range(2)]
    # and one reader in this process, in a thread
    seen: dict[bytes, int] = {}
    errors: list[str] = []

    def inproc() -> None:
        while not stop.exists():
            try:
                ans = _answer(st)
                seen[ans] = seen.get(ans, 0) + 1
            except Exception as e:
                errors.append(repr(e))

    t = threading.Thread(target=inproc)
    t.start()
    ingests = 0
    try:
        for d in (a, b) * 2:
            r = topo("ingest", "--from", d, "--store", st)
            assert r.returncode == 0, r.stderr
            ingests += 1
            SnapshotStore(st).prune(3)  # old snapshots go while readers may hold them
    finally:
        stop.write_text("")
        t.join()
        for p in readers:
            p.wait(timeout=60)
    total = sum(seen.values())
    assert not errors, errors[:3]
    assert set(seen) <= set(want.values())
    for i in range(2):
        res = json.loads((tmp_path / f"r{i}.json").read_text())
        assert not res["errors"], res["errors"][:3]
        assert {k.encode() for k, _ in res["answers"]} <= set(want.values())
        total += res["n"]
    assert total > 0
    print(f"\nreaders: {total} answers during {ingests} ingests, each the old or the new snapshot's, no error")


# ---------------------------------------------------------------------------- Neo4j


def _neo4j_answer(uri: str) -> bytes:
    from topo.stores.neo4jgraph import CypherGraph

    cy = CypherGraph(uri)
    try:
        return orjson.dumps(to_plain(pathq.path(cy, "integration", "publictest")), option=orjson.OPT_SORT_KEYS)
    finally:
        cy.close()


def _graph_sets(driver: Any) -> tuple[set[str], set[str]]:
    nodes = driver.execute_query("MATCH (n) RETURN labels(n)[0] AS l, properties(n) AS p", database_="neo4j").records
    rels = driver.execute_query("MATCH (a)-[r]->(b) RETURN type(r) AS t, properties(r) AS p, "
                                "properties(a) AS a, properties(b) AS b", database_="neo4j").records

    def clean(p: dict[str, Any]) -> str:
        return orjson.dumps({k: v for k, v in p.items() if k != "lastupdated"}, option=orjson.OPT_SORT_KEYS).decode()

    return ({r["l"] + clean(r["p"]) for r in nodes},
            {r["t"] + clean(r["p"]) + clean(r["a"]) + clean(r["b"]) for r in rels})


def _small_meshes(tmp: Path) -> tuple[Path, Path]:
    """The demo at 90/10 (A) and at 50/50 without mysql (B): new resources and a gone pod."""
    a = tmp / "na"
    shutil.copytree(EXAMPLE, a)
    b = tmp / "nb"
    shutil.copytree(EXAMPLE, b)
    (b / "mysql-bccnp7tz2l-qnqr8.json").unlink()
    for f in b.glob("*.json"):
        f.write_bytes(f.read_bytes().replace(b'"weight": 90', b'"weight": 50').replace(b'"weight": 10', b'"weight": 50'))
    return a, b


class Boom(Exception):
    pass


@pytest.mark.neo4j
def _load_b_then_a(neo4j_db, neo4j_uri, tmp_path):
    """Both small meshes' answers, B's graph as a fresh load leaves it, and A loaded last."""
    from topo.stores.neo4jstore import Neo4jLoader

    a, b = _small_meshes(tmp_path)
    pipeline.run(sources.from_path(b), Neo4jLoader(neo4j_uri))
    want_b, sets_b = _neo4j_answer(neo4j_uri), _graph_sets(neo4j_db)
    neo4j_db.execute_query("MATCH (n) DETACH DELETE n", database_="neo4j")
    pipeline.run(sources.from_path(a), Neo4jLoader(neo4j_uri))
    return a, b, _neo4j_answer(neo4j_uri), want_b, sets_b


def test_neo4j_load_failing_midway_keeps_the_previous_answers(neo4j_db, neo4j_uri, tmp_path, monkeypatch):
    """B fails after k write batches, for k across the whole load: questions answer as
    after A (or, once B's Pods are being written, as after B); the next complete run
    leaves exactly what a fresh load of it leaves."""
    from topo.stores.neo4jstore import Neo4jLoader

    a, b, want_a, want_b, sets_b = _load_b_then_a(neo4j_db, neo4j_uri, tmp_path)
    assert want_a != want_b

    calls: list[str] = []
    real_run = Neo4jLoader._run

    def counting(self: Any, driver: Any, query: str, **params: Any) -> None:
        if "UNWIND $rows" in query:
            calls.append(query)
        real_run(self, driver, query, **params)

    monkeypatch.setattr(Neo4jLoader, "_run", counting)
    pipeline.run(sources.from_path(b), Neo4jLoader(neo4j_uri, batch=20))
    batches = list(calls)
    first_pod = next(i for i, q in enumerate(batches) if "MERGE (n:Pod" in q)
    assert first_pod > len(batches) // 2  # Pods come last
    results = {"old": 0, "new": 0}
    for k in sorted({1, 2, 5, first_pod // 2, first_pod - 1, first_pod, first_pod + 1, len(batches) - 1}):
        neo4j_db.execute_query("MATCH (n) DETACH DELETE n", database_="neo4j")
        monkeypatch.setattr(Neo4jLoader, "_run", real_run)
        pipeline.run(sources.from_path(a), Neo4jLoader(neo4j_uri))
        n = [0]

        def failing(self: Any, driver: Any, query: str, _n: list[int] = n, _k: int = k, **params: Any) -> None:
            if "UNWIND $rows" in query:
                if _n[0] == _k:
                    raise Boom(f"load interrupted after {_k} batches")
                _n[0] += 1
            real_run(self, driver, query, **params)

        monkeypatch.setattr(Neo4jLoader, "_run", failing)
        with pytest.raises(Boom):
            pipeline.run(sources.from_path(b), Neo4jLoader(neo4j_uri, batch=20))
        got = _neo4j_answer(neo4j_uri)
        if k <= first_pod:
            assert got == want_a, k  # B's Pods were not written: A's answers stand
        else:
            assert got in (want_a, want_b), k
        results["old" if got == want_a else "new"] += 1
        # B's leftovers are there until a complete run cleans them up, and only them
        monkeypatch.setattr(Neo4jLoader, "_run", real_run)
        pipeline.run(sources.from_path(b), Neo4jLoader(neo4j_uri))
        assert _neo4j_answer(neo4j_uri) == want_b
        assert _graph_sets(neo4j_db) == sets_b, k
    print(f"\nneo4j: {len(results) and sum(results.values())} interrupted loads: "
          f"{results['old']} answered as before, {results['new']} (inside the Pod batches) as the new run; "
          "each next complete run left exactly a fresh load's graph")


@pytest.mark.neo4j
def test_neo4j_ingest_killed_midway(neo4j_db, neo4j_uri, tmp_path):
    """`topo ingest --neo4j` SIGKILLed at random points of its load: the graph answers as
    before or as the new run, never half of one; then a complete run cleans up."""
    from topo.stores.neo4jstore import Neo4jLoader

    a, b, want_a, want_b, sets_b = _load_b_then_a(neo4j_db, neo4j_uri, tmp_path)
    t0 = time.monotonic()
    r = topo("ingest", "--from", a, "--neo4j", neo4j_uri, env={"TOPO_NEO4J_BATCH": "20"})
    assert r.returncode == 0, r.stderr
    span = time.monotonic() - t0
    rng = random.Random(4)
    for _ in range(5):
        p = subprocess.Popen([sys.executable, "-m", "topo", "ingest", "--from", str(b), "--neo4j", neo4j_uri],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env={**os.environ, "TOPO_NEO4J_BATCH": "20"})
        time.sleep(rng.uniform(span * 0.3, span))
        p.send_signal(signal.SIGKILL)
        p.wait()
        assert _neo4j_answer(neo4j_uri) in (want_a, want_b)
        pipeline.run(sources.from_path(a), Neo4jLoader(neo4j_uri))
        assert _neo4j_answer(neo4j_uri) == want_a
    pipeline.run(sources.from_path(b), Neo4jLoader(neo4j_uri))
    assert _graph_sets(neo4j_db) == sets_b


@pytest.mark.neo4j
def test_neo4j_cleanup_spares_a_run_that_started_later(neo4j_db, neo4j_uri, tmp_path, monkeypatch):
    """Cleanup removes what older runs left, never the nodes of a run with a later tag
    (one that may still be loading)."""
    import topo.stores.neo4jstore as ns

    a, b = _small_meshes(tmp_path)
    pipeline.run(sources.from_path(a), ns.Neo4jLoader(neo4j_uri))
    sets_a = _graph_sets(neo4j_db)
    later = time.time() + 3600
    real_time = ns.time.time
    monkeypatch.setattr(ns.time, "time", lambda: later)
    real_run = ns.Neo4jLoader._run

    def failing(self: Any, driver: Any, query: str, **params: Any) -> None:
        if "MERGE (n:Pod" in query:
            raise Boom("still loading")
        real_run(self, driver, query, **params)

    monkeypatch.setattr(ns.Neo4jLoader, "_run", failing)
    with pytest.raises(Boom):
        pipeline.run(sources.from_path(b), ns.Neo4jLoader(neo4j_uri))
    monkeypatch.setattr(ns.Neo4jLoader, "_run", real_run)
    monkeypatch.setattr(ns.time, "time", real_time)
    in_flight = {r["id"] for r in neo4j_db.execute_query(
        "MATCH (n) WHERE n.lastupdated = $t RETURN elementId(n) AS id", {"t": int(later * 1000)},
        database_="neo4j").records}
    assert in_flight
    pipeline.run(sources.from_path(a), ns.Neo4jLoader(neo4j_uri))  # an earlier tag: spares them
    left = {r["id"] for r in neo4j_db.execute_query(
        "MATCH (n) WHERE elementId(n) IN $ids RETURN elementId(n) AS id", {"ids": sorted(in_flight)},
        database_="neo4j").records}
    assert left == in_flight  # (those A shares now carry A's tag; none was removed)
    assert _graph_sets(neo4j_db) != sets_a
    # that run was abandoned: the next run with a greater tag cleans its leftovers up
    monkeypatch.setattr(ns.time, "time", lambda: later + 1)
    pipeline.run(sources.from_path(a), ns.Neo4jLoader(neo4j_uri))
    assert _graph_sets(neo4j_db) == sets_a


@pytest.mark.neo4j
def test_neo4j_tags_increase_when_the_clock_is_behind(neo4j_db, neo4j_uri, tmp_path, monkeypatch):
    """A run from a host whose clock is an hour behind still cleans up after the last one."""
    import topo.stores.neo4jstore as ns

    a, b = _small_meshes(tmp_path)
    pipeline.run(sources.from_path(a), ns.Neo4jLoader(neo4j_uri))
    sets_a = _graph_sets(neo4j_db)
    neo4j_db.execute_query("MATCH (n) DETACH DELETE n", database_="neo4j")
    pipeline.run(sources.from_path(b), ns.Neo4jLoader(neo4j_uri))
    behind = time.time() - 3600
    monkeypatch.setattr(ns.time, "time", lambda: behind)
    pipeline.run(sources.from_path(a), ns.Neo4jLoader(neo4j_uri))
    assert _graph_sets(neo4j_db) == sets_a  # mysql back, the 50/50 split gone


# ---------------------------------------------------------------------------- Neo4j down, refused, misnamed


@pytest.fixture
def refusing_bolt_server() -> Iterator[str]:
    """A stand-in Bolt server on 127.0.0.1 that refuses every login as Neo4j does (the test
    server runs with auth disabled, so it cannot refuse credentials itself)."""

    def s(x: str) -> bytes:
        b = x.encode()
        return (bytes([0x80 | len(b)]) if len(b) < 16 else b"\xd0" + bytes([len(b)])) + b

    def message(signature: int, fields: dict[str, str]) -> bytes:
        body = bytes([0xB1, signature, 0xA0 | len(fields)]) + b"".join(s(k) + s(v) for k, v in fields.items())
        return struct.pack(">H", len(body)) + body + b"\x00\x00"

    success = message(0x70, {"server": "Neo4j/5.26.0", "connection_id": "bolt-1"})
    failure = message(0x7F, {"code": "Neo.ClientError.Security.Unauthorized",
                             "message": "The client is unauthorized due to authentication failure."})

    def read_message(c: socket.socket) -> None:
        while True:
            (n,) = struct.unpack(">H", c.recv(2, socket.MSG_WAITALL))
            if n == 0:
                return
            c.recv(n, socket.MSG_WAITALL)
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except (TimeoutError, OSError):
                continue
            try:
                c.settimeout(5)
                c.recv(20, socket.MSG_WAITALL)  # magic + 4 version proposals
                c.sendall(b"\x00\x00\x04\x05")  # Bolt 5.4: HELLO, then credentials in LOGON
                read_message(c)
                c.sendall(success)
                read_message(c)
                c.sendall(failure)
                c.recv(1024)
            except (OSError, struct.error):
                pass
            finally:
                c.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield f"bolt://127.0.0.1:{srv.getsockname()[1]}"
    stop.set()
    t.join(timeout=5)
    srv.close()


COMMANDS = {
    "ingest": ["ingest", "--from", str(EXAMPLE)],
    "path": ["path", "integration", "publictest"],
    "cypher": ["cypher", "MATCH (n) RETURN count(n) AS c"],
}
CREDS = {"NEO4J_USERNAME": "neo4j", "NEO4J_PASSWORD": "not-the-password"}


@pytest.mark.parametrize("cmd", sorted(COMMANDS))
def test_neo4j_down_is_one_line(cmd):
    for env in ({}, CREDS):
        for uri in ("bolt://127.0.0.1:1", "neo4j://127.0.0.1:1"):
            r = topo(*COMMANDS[cmd], "--neo4j", uri, env=env)
            no_traceback(r)
            assert r.returncode == 1, r.stderr
            assert one_line_error(r).startswith("topo: neo4j: server unavailable: "), r.stderr


@pytest.mark.parametrize("cmd", sorted(COMMANDS))
def test_neo4j_wrong_credentials_is_one_line(cmd, refusing_bolt_server):
    r = topo(*COMMANDS[cmd], "--neo4j", refusing_bolt_server, env=CREDS)
    no_traceback(r)
    assert r.returncode == 1, r.stderr
    line = one_line_error(r)
    assert line.startswith("topo: neo4j: authentication failed") and "unauthorized" in line, line


@pytest.mark.parametrize("uri", ["http://127.0.0.1:7474", "neo4j://[::1", "bolt://127.0.0.1:port", "bolt://"])
@pytest.mark.parametrize("cmd", sorted(COMMANDS))
def test_bad_neo4j_uri_is_one_line(cmd, uri):
    r = topo(*COMMANDS[cmd], "--neo4j", uri)
    no_traceback(r)
    assert r.returncode == 2, r.stderr
    assert one_line_error(r).startswith("topo: invalid Neo4j URI"), r.stderr


@pytest.mark.neo4j
def test_credentials_against_the_test_server_are_ignored(neo4j_db, neo4j_uri):
    """The test server runs with auth disabled: it accepts any credentials (so wrong ones
    are tested against the stand-in above)."""
    r = topo("cypher", "RETURN 1 AS one", "--neo4j", neo4j_uri, "-o", "json", env=CREDS)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [{"one": 1}]


# ============================================================================ 3. secrets


SECRETS = {
    "PEM private key (SecretsConfigDump)": "MIIEpAIBAAKCAQEAtopoPEMsecretA1b2C3d4",
    "PEM private key (cluster TLS)": "MIIEvQIBADANBgtopoClusterPEMx7y8",
    "inline_bytes key": "dG9wb0lOTElORUJZVEVTc2VjcmV0",
    "generic secret": "dG9wb0dFTkVSSUNzZWNyZXQ",
    "bearer token (ext_authz)": "topoBEARERextauthzQ9w8e7",
    "bearer token (lua inline_code)": "topoBEARERluaZ1x2c3",
    "JWT (lua inline_code)": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0b3BvIn0.topoJWTsigK9j8",
    "lua local password": "topoLUApasswordV4b5",
    "redis auth_password": "topoPASSWORDredisP4ss",
    "TLS key password": "topoPASSWORDfieldHunter2",
    "basic auth header (vhost)": "dG9wbzpiYXNpY3NlY3JldA",
    "bearer token (route header match)": "topoBEARERrouteM5n6",
    "x-api-key header": "topoAPIKEYheaderR2d2",
    # issue 17 item 4: what the scrubber missed
    "X-Vault-Token header to add (route)": "topoVAULTtokenHdr7q",
    "x-api-key exact matcher": "topoAPIKEYmatchK3y9",
    "cookie exact matcher": "topoCOOKIEsessionC00k",
    "access_token query parameter matcher": "topoQUERYtokenQ1w2",
    "Wasm plugin configuration": "topoWASMpluginW4sm",
    "Wasm VM environment value": "topoWASMenvE5n6",
    "Lua source_codes": "topoLUAsourceCodes8",
    "JWT in a route's path regex": "topoJWTregexR3g",  # the signature of a JWT whose dots the regex escapes
    "JWT in a header prefix matcher": "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJwcmVmaXgifQ.topoJWTprefixP7x",
    "private key quoted by error_state.details": "MIIEowIBAAKCAQEAtopoERRORdetailsKey4",
    "inline_bytes quoted by error_state.details": "dG9wb0VSUk9SaW5saW5lYnl0ZXNzZWNyZXRrZXltYXRlcmlhbA==",
    "camelCase privateKey.inlineBytes": "dG9wb0NBTUVMQ0FTRXByaXZhdGVrZXk=",
    "camelCase privateKeyPassword.inlineString": "topoCAMELpasswordPw9",
    "exact_match_map key (listener matcher)": "topoMAPKEYbearerM4p",
    "password in a URI userinfo": "topoURIpasswordU5r",
}
# the exact matchers' values, which `topo path --header` must still match
MATCHED = {"x-api-key": SECRETS["x-api-key exact matcher"], "cookie": f"session={SECRETS['cookie exact matcher']}"}


def _pem(body: str) -> str:
    return f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----\n"


def seeded_dump() -> dict[str, Any]:
    """The integration pod's dump with key material, tokens and passwords where Envoy
    dumps carry them."""
    s = SECRETS
    doc = orjson.loads(GOOD.read_bytes())
    for c in doc["configs"]:
        t = c["@type"].rsplit(".", 1)[-1]
        if t == "SecretsConfigDump":
            c["dynamic_active_secrets"] = [
                {"name": "default", "secret": {
                    "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret", "name": "default",
                    "tls_certificate": {
                        "certificate_chain": {"inline_string": "-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n"},
                        "private_key": {"inline_string": _pem(s["PEM private key (SecretsConfigDump)"])}}}},
                {"name": "token", "secret": {"name": "token", "generic_secret": {
                    "secret": {"inline_bytes": s["generic secret"]}}}}]
        elif t == "ClustersConfigDump":
            for item in c["dynamic_active_clusters"]:
                if item["cluster"]["name"].startswith("outbound|9000|v1|"):
                    item["cluster"]["transport_socket"] = {"name": "envoy.transport_sockets.tls", "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
                        "common_tls_context": {"tls_certificates": [
                            {"certificate_chain": {"inline_string": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"},
                             "private_key": {"inline_string": _pem(s["PEM private key (cluster TLS)"])},
                             "password": {"inline_string": s["TLS key password"]}},
                            {"private_key": {"inline_bytes": s["inline_bytes key"]}}]}}}
        elif t == "ListenersConfigDump":
            for item in c["dynamic_listeners"]:
                lst = item["active_state"]["listener"]
                for fc in lst.get("filter_chains", []):
                    for f in fc.get("filters", []):
                        tc = f.get("typed_config", {})
                        if "HttpConnectionManager" in tc.get("@type", ""):
                            tc["http_filters"] = [
                                {"name": "envoy.filters.http.ext_authz", "typed_config": {
                                    "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz",
                                    "grpc_service": {"envoy_grpc": {"cluster_name": "outbound|9000||authz"},
                                                     "initial_metadata": [{"key": "authorization",
                                                                           "value": f"Bearer {s['bearer token (ext_authz)']}"}]}}},
                                {"name": "envoy.filters.http.lua", "typed_config": {
                                    "@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua",
                                    "inline_code": (
                                        "function envoy_on_request(h)\n"
                                        f"  local password = \"{s['lua local password']}\"\n"
                                        f"  h:headers():add(\"authorization\", \"Bearer {s['bearer token (lua inline_code)']}\")\n"
                                        f"  h:headers():add(\"x-jwt\", \"{s['JWT (lua inline_code)']}\")\nend\n")}},
                                {"name": "envoy.filters.http.wasm", "typed_config": {
                                    "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
                                    "config": {"name": "auth-plugin", "configuration": {
                                        "@type": "type.googleapis.com/google.protobuf.StringValue",
                                        "value": json.dumps({"header": "x-auth", "apiKey": s["Wasm plugin configuration"]})},
                                        "vm_config": {"runtime": "envoy.wasm.runtime.v8", "environment_variables": {
                                            "key_values": {"UPSTREAM": s["Wasm VM environment value"]}},
                                            "code": {"remote": {"http_uri": {
                                                "uri": f"https://oci:{s['password in a URI userinfo']}@registry.example/p.wasm",
                                                "cluster": "outbound|443||registry", "timeout": "5s"}}}}}}},
                                {"name": "envoy.filters.http.lua", "typed_config": {
                                    "@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua",
                                    "source_codes": {"auth.lua": {"inline_string": f"local k = '{s['Lua source_codes']}'"}}}},
                                {"name": "envoy.filters.http.router", "typed_config": {
                                    "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}]
                        if "TcpProxy" in tc.get("@type", ""):
                            fc["filters"].insert(0, {"name": "envoy.filters.network.redis_proxy", "typed_config": {
                                "@type": "type.googleapis.com/envoy.extensions.filters.network.redis_proxy.v3.RedisProxy",
                                "stat_prefix": "r", "downstream_auth_password": {"inline_string": s["redis auth_password"]}}})
                            break
        elif t == "RoutesConfigDump":
            for item in c["dynamic_route_configs"]:
                for vh in item["route_config"]["virtual_hosts"]:
                    vh["request_headers_to_add"] = [
                        {"header": {"key": "Authorization", "value": f"Basic {s['basic auth header (vhost)']}"}},
                        {"header": {"key": "x-api-key", "value": s["x-api-key header"]}}]
                    first = vh["routes"][0]
                    to = first.get("route", {"cluster": "PassthroughCluster"})
                    vh["routes"][:0] = [
                        {"name": "admins", "match": {"prefix": "/", "headers": [
                            {"name": "authorization", "string_match": {"exact": f"Bearer {s['bearer token (route header match)']}"}}]},
                         "route": to},
                        {"name": "api-key", "match": {"prefix": "/", "headers": [
                            {"name": "x-api-key", "exact_match": MATCHED["x-api-key"]}]}, "route": to,
                         "response_headers_to_add": [{"header": {"key": "X-Vault-Token",
                                                                 "value": s["X-Vault-Token header to add (route)"]}}]},
                        {"name": "cookie", "match": {"prefix": "/", "headers": [
                            {"name": "cookie", "string_match": {"exact": MATCHED["cookie"]}}]}, "route": to},
                        {"name": "query-token", "match": {"prefix": "/q", "query_parameters": [
                            {"name": "access_token", "string_match": {"exact": s["access_token query parameter matcher"]}}]},
                         "route": to},
                        {"name": "jwt-regex", "match": {"safe_regex": {
                            "regex": "/cb/eyJhbGciOiJSUzI1NiJ9\\.eyJzdWIiOiJyZWdleCJ9\\." + s["JWT in a route's path regex"]
                                     + "/.*"}}, "route": to},
                        {"name": "jwt-prefix", "match": {"prefix": "/", "headers": [
                            {"name": "x-forwarded-for-user", "string_match": {
                                "prefix": s["JWT in a header prefix matcher"]}}]}, "route": to}]
    # a push Envoy rejected, its reason quoting the key; a chain matcher keyed by a credential;
    # camelCase fields inside a snake_case dump
    for c in doc["configs"]:
        if c["@type"].endswith("ListenersConfigDump"):
            item = c["dynamic_listeners"][0]
            item["error_state"] = {"details": (
                "Proto constraint validation failed (CommonTlsContextValidationError.TlsCertificates): "
                f"private_key {{ inline_string: \"-----BEGIN RSA PRIVATE KEY-----\\n{s['private key quoted by error_state.details']}"
                f"\\n-----END RSA PRIVATE KEY-----\\n\" }} password {{ inline_bytes: "
                f"\"{s['inline_bytes quoted by error_state.details']}\" }}"),
                "failed_configuration": {"name": item["name"]}}
            lst = item["active_state"]["listener"]
            lst["filter_chain_matcher"] = {"matcher_tree": {
                "input": {"name": "auth", "typed_config": {
                    "@type": "type.googleapis.com/envoy.type.matcher.v3.HttpRequestHeaderMatchInput",
                    "header_name": "authorization"}},
                "exact_match_map": {"map": {f"Bearer {s['exact_match_map key (listener matcher)']}": {
                    "action": {"name": "chain", "typed_config": {"@type": "type.googleapis.com/google.protobuf.StringValue",
                                                                 "value": "admin-chain"}}}}}}}
        elif c["@type"].endswith("ClustersConfigDump"):
            for item in c["dynamic_active_clusters"]:
                if item["cluster"]["name"].startswith("outbound|9000|v2|"):
                    item["cluster"]["transport_socket"] = {"name": "tls", "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
                        "commonTlsContext": {"tlsCertificates": [{
                            "privateKey": {"inlineBytes": s["camelCase privateKey.inlineBytes"]},
                            "privateKeyPassword": {"inlineString": s["camelCase privateKeyPassword.inlineString"]}}]}}}
    return doc


def _found(blob: bytes | str, where: str) -> list[str]:
    text = blob if isinstance(blob, str) else blob.decode("utf-8", "replace")
    return [f"{what} in {where}" for what, v in SECRETS.items() if v in text]


def _outputs(backend: list[str], tmp: Path) -> list[tuple[str, str]]:
    """Every question's output, table and JSON, and every DOT file `topo export` writes."""
    qs = [["path", "integration", "publictest"], ["path", "integration", "publictest", "--header",
                                                  f"authorization=Bearer {SECRETS['bearer token (route header match)']}"],
          ["path", "integration", "mysql:3306"], ["reach", "integration"], ["reach", "--to", "publictest"],
          ["blast", "publictest"], ["check"], ["path", "integration", "publictest", "--header",
                                               f"x-api-key={MATCHED['x-api-key']}"]]
    qs += [["show", s, "integration"] for s in ("all", "listeners", "routes", "clusters", "endpoints")]
    qs += [[*q, "-o", f] for q in list(qs) for f in ("json", "yaml")]
    out = []
    runner = CliRunner()
    for q in qs:
        r = runner.invoke(app, [*q, *backend])
        assert r.exception is None or isinstance(r.exception, SystemExit), (q, r.exception)
        # the route-header question carries the token in its own request: leave its echo out
        text = r.stdout.replace(f"Bearer {SECRETS['bearer token (route header match)']}", "(the request)")
        text = text.replace(MATCHED["x-api-key"], "(the request)")
        out.append((" ".join(q), text + r.stderr))
    try:
        from topo.cli import export  # noqa: F401 (the export owner's command, when present)
    except ImportError:
        return out
    for q in (["path", "integration", "publictest"], ["egress", "integration"], ["mesh"], ["blast", "publictest"]):
        dot = tmp / f"{q[0]}.dot"
        r = runner.invoke(app, ["export", *q, *backend, "-o", str(dot)])
        assert r.exception is None or isinstance(r.exception, SystemExit), (q, r.exception)
        if dot.exists():
            out.append((f"export {' '.join(q)} (DOT)", dot.read_text()))
    return out


def test_secrets_never_stored_in_the_snapshot_nor_shown(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "integration-86924652-bfsfs.json").write_bytes(orjson.dumps(seeded_dump(), option=orjson.OPT_INDENT_2))
    shutil.copy(EXAMPLE / "pods.json", src)
    shutil.copy(EXAMPLE / "services.json", src)
    assert len(_found((src / "integration-86924652-bfsfs.json").read_bytes(), "input")) == len(SECRETS)
    store = tmp_path / "store"
    r = topo("ingest", "--from", src, "--store", store, "-o", "json")
    assert r.returncode == 0, r.stderr
    found = _found(r.stdout + r.stderr, "ingest output")
    files = [p for p in store.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} >= {".json", ".heavy"}
    for p in files:
        found += _found(p.read_bytes(), str(p.relative_to(store)))
    outputs = _outputs(["--store", str(store)], tmp_path)
    for where, text in outputs:
        found += _found(text, where)
    print(f"\nsecrets (snapshot): {len(SECRETS)} seeded, {len(files)} store files and {len(outputs)} outputs "
          f"scanned, secrets found: {len(found)}")
    assert found == [], "\n".join(found)


@pytest.mark.neo4j
def test_secrets_never_stored_in_neo4j_nor_shown(neo4j_db, neo4j_uri, tmp_path):
    from topo.stores.neo4jstore import Neo4jLoader

    src = tmp_path / "in"
    src.mkdir()
    (src / "integration-86924652-bfsfs.json").write_bytes(orjson.dumps(seeded_dump()))
    res = pipeline.run(sources.from_path(src), Neo4jLoader(neo4j_uri))
    assert res.exit_code == 0
    found: list[str] = []
    n = 0
    for q in ("MATCH (x) RETURN labels(x)[0] AS kind, properties(x) AS p",
              "MATCH ()-[x]->() RETURN type(x) AS kind, properties(x) AS p"):
        for rec in neo4j_db.execute_query(q, database_="neo4j").records:
            for k, v in rec["p"].items():
                for s in v if isinstance(v, list) else [v]:
                    if isinstance(s, str):
                        n += 1
                        found += _found(s, f"{rec['kind']}.{k}")
    outputs = _outputs(["--neo4j", neo4j_uri], tmp_path)
    for where, text in outputs:
        found += _found(text, where)
    print(f"\nsecrets (neo4j): {n} string properties and {len(outputs)} outputs scanned, secrets found: {len(found)}")
    assert found == [], "\n".join(found)


def test_exact_matchers_on_sensitive_headers_still_match_by_hash(graph_of):
    """An exact matcher on a sensitive header keeps a salted hash, not the value: `--header`
    with the right value takes that route, a wrong one does not, on both backends (item 4)."""
    from topo.model import secrets

    g = graph_of(seeded_dump())
    token = f"Bearer {SECRETS['bearer token (route header match)']}"

    def route(headers: dict[str, str], p: str = "/") -> str:
        got = pathq.path(g, "integration", "publictest", headers=headers, req_path=p)
        return next(h.name for h in got.answers[0].hops if h.kind == "route")

    assert route({}) == "publictest-route"
    assert route({"authorization": token}) == "admins"
    assert route({"authorization": token + "x"}) != "admins"
    assert route({"authorization": token.upper()}) != "admins"  # exact is case-sensitive
    assert route({"x-api-key": MATCHED["x-api-key"]}) == "api-key"
    assert route({"x-api-key": "guess"}) != "api-key"
    assert route({"cookie": MATCHED["cookie"]}) == "cookie"
    assert route({}, f"/q?access_token={SECRETS['access_token query parameter matcher']}") == "query-token"
    assert route({}, "/q?access_token=guess") != "query-token"
    # what is stored in the route's place: <redacted> and a hash
    pod = next(p for p in g.pods() if p["name"].startswith("integration"))
    stored = {r["name"]: r["match"] for rc in g.route_configs(pod["config"]) for vh in g.vhosts(rc["key"])
              for r in g.routes(vh["key"])}
    for name in ("admins", "api-key", "cookie", "query-token"):
        assert secrets.HIDDEN in stored[name] and "pbkdf2-sha256$" in stored[name], stored[name]
    assert not _found("".join(stored.values()), "routes")


KUBE_SECRETS = {
    "env value": "topoENVvalueDbPass1",
    "env value (init container)": "topoENVinitValue2",
    "last-applied annotation": "topoLASTappliedEnv3",
    "bearer token in an annotation": "topoANNOTATIONbearer4",
    "password in container args": "topoARGSpassword5",
}


def test_a_file_that_is_not_json_is_named_without_quoting_it(tmp_path):
    """A link to a credentials file among the dumps: one line naming the file, not its content
    (item 4; it printed the first 60 characters)."""
    creds = tmp_path / "credentials"
    creds.write_text("aws_secret_access_key = topoCREDSfileLine1\n")
    table = tmp_path / "table.txt"
    table.write_text("NAME      DOMAINS     MATCH     topoTABLEsecret2\n")
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(GOOD, d)
    (d / "creds.json").symlink_to(creds)
    (d / "table.json").symlink_to(table)
    (d / "token.json").write_text("token=topoPLAINsecret3")
    r = topo("ingest", "--from", d, "--store", tmp_path / "s")
    no_traceback(r)
    assert r.returncode == pipeline.EXIT_PARTIAL, r.stderr
    for name in ("creds.json", "table.json", "token.json"):
        assert len([ln for ln in r.stderr.splitlines() if f"/{name}: " in ln]) == 1, r.stderr
    for marker in ("topoCREDSfileLine1", "aws_secret", "topoTABLEsecret2", "topoPLAINsecret3", "token="):
        assert marker not in r.stdout + r.stderr, r.stderr


def test_collect_writes_no_secret_and_reads_back_the_same(tmp_path, monkeypatch):
    """`topo collect` writes pods.json without environment values, credentials in annotations or
    arguments, and dumps scrubbed as an ingest stores them; the bundle reads back to the same
    answers, hashed header matchers included (item 4)."""
    import test_live

    bundle = tmp_path / "bundle"
    shutil.copytree(EXAMPLE, bundle)
    (bundle / GOOD.name).write_bytes(orjson.dumps(seeded_dump()))
    pods = orjson.loads((bundle / "pods.json").read_bytes())
    k = KUBE_SECRETS
    for item in pods["items"]:
        spec = item["spec"]
        spec["containers"][0]["env"] = [{"name": "DB_URL", "value": k["env value"]},
                                        {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "db", "key": "p"}}}]
        spec["containers"][0]["args"] = ["--verbose", f"--password={k['password in container args']}"]
        spec.setdefault("initContainers", []).append({"name": "init", "image": "x",
                                                      "env": [{"name": "X", "value": k["env value (init container)"]}]})
        item["metadata"].setdefault("annotations", {}).update({
            "kubectl.kubernetes.io/last-applied-configuration": json.dumps({"env": k["last-applied annotation"]}),
            "example.com/auth": f"Bearer {k['bearer token in an annotation']}"})
    (bundle / "pods.json").write_bytes(orjson.dumps(pods))
    fake = test_live.Fake(monkeypatch, tmp_path, bundle)
    runner = CliRunner()
    out = tmp_path / "out"
    r = runner.invoke(app, ["collect", "-n", "istio-demo", "--out", str(out)])
    assert r.exit_code == 0, r.stderr
    found: list[str] = []
    for p in sorted(out.rglob("*")):
        text = p.read_text()
        found += _found(text, p.name)
        found += [f"{what} in {p.name}" for what, v in KUBE_SECRETS.items() if v in text]
    found += _found(r.stdout + r.stderr, "collect's output")
    assert found == [], "\n".join(found)
    written = orjson.loads((out / "pods.json").read_bytes())["items"][0]["spec"]["containers"][0]
    assert written["env"][1]["valueFrom"] == {"secretKeyRef": {"name": "db", "key": "p"}}  # a reference stays
    assert written["args"][0] == "--verbose"
    for src in (["--from", str(out)], ["-n", "istio-demo"]):
        store = tmp_path / src[0].strip("-")
        assert runner.invoke(app, ["ingest", *src, "--store", str(store)]).exit_code == 0
    ans = [runner.invoke(app, ["path", "integration", "publictest", "--header", f"x-api-key={MATCHED['x-api-key']}",
                               "--store", str(tmp_path / s), "-o", "json"]).stdout for s in ("from", "n")]
    # (the same answer; only the content keys of the resources that held a secret differ)
    ans = [re.sub(r'"config": "[0-9a-f]+"', "", a) for a in ans]
    assert ans[0] == ans[1] and '"api-key"' in ans[0]
    assert fake.execs()


# ============================================================================ 4. injection


WEIRD = 'we"ird`-{x}\'--//pod MATCH (n) DETACH DELETE n'


@pytest.mark.neo4j
def test_cypher_metacharacters_via_the_cli_stay_data(neo4j_db, neo4j_uri, tmp_path):
    d = tmp_path / "w"
    d.mkdir()
    (d / "weird.json").write_bytes(orjson.dumps(simple_mesh_dump(pod=WEIRD, labels={"app": "x`}{\"", "v": "'; //"})))
    r = topo("ingest", "--from", d, "--neo4j", neo4j_uri)
    assert r.returncode == 0, r.stderr
    before = neo4j_db.execute_query("MATCH (n) RETURN count(n) AS c", database_="neo4j").records[0]["c"]
    q = "MATCH (p:Pod) WHERE p.name = $n RETURN p.name AS name, p.labels AS labels"
    for value in (WEIRD, '{"a": "}"}', "x' OR 1=1 //", "$n", "`n`"):
        r = topo("cypher", q, "--param", f"n={value}", "--neo4j", neo4j_uri, "-o", "json")
        assert r.returncode == 0, r.stderr
        got = json.loads(r.stdout)
        assert [g["name"] for g in got] == ([WEIRD] if value == WEIRD else []), (value, got)
    # a parameter name with metacharacters is only a key of the parameter map
    r = topo("cypher", "RETURN 1 AS one", "--param", "x`}) DETACH DELETE (n=1", "--neo4j", neo4j_uri, "-o", "json")
    assert r.returncode == 0 and json.loads(r.stdout) == [{"one": 1}], r.stderr
    r = topo("path", "default/" + WEIRD, "svc", "--neo4j", neo4j_uri, "-o", "json")
    assert r.returncode == 0, r.stderr
    assert path_weights(json.loads(r.stdout)) == [("outbound|8080|v1|svc.default.svc.cluster.local", 90),
                                                  ("outbound|8080|v2|svc.default.svc.cluster.local", 10)]
    after = neo4j_db.execute_query("MATCH (n) RETURN count(n) AS c", database_="neo4j").records[0]["c"]
    assert after == before


def test_cypher_metacharacters_in_the_snapshot_backend(tmp_path):
    d = tmp_path / "w"
    d.mkdir()
    (d / "weird.json").write_bytes(orjson.dumps(simple_mesh_dump(pod=WEIRD)))
    r = topo("ingest", "--from", d, "--store", tmp_path / "s")
    assert r.returncode == 0, r.stderr
    r = topo("path", "default/" + WEIRD, "svc", "--store", tmp_path / "s", "-o", "json")
    assert r.returncode == 0, r.stderr
    assert len(path_weights(json.loads(r.stdout))) == 2


HOSTILE_PODS = ["--kubeconfig=/tmp/evil", "-n", "$(id)", "a;touch pwned", "p`x`", "a b", "UPPER", "x" * 300]


def test_hostile_pod_names_from_the_cluster_never_reach_kubectl_exec(tmp_path, monkeypatch):
    """Pod names come from the cluster's own answer: names kubectl could take for a flag or a
    shell could expand are refused, each in one line, and never passed to `kubectl exec`."""
    import test_live

    bundle = tmp_path / "bundle"
    shutil.copytree(EXAMPLE, bundle)
    pods = orjson.loads((bundle / "pods.json").read_bytes())
    template = pods["items"][0]
    for name in HOSTILE_PODS:
        item = orjson.loads(orjson.dumps(template))
        item["metadata"]["name"] = name
        pods["items"].append(item)
    hostile_ns = orjson.loads(orjson.dumps(template))
    hostile_ns["metadata"]["namespace"] = "--all-namespaces"
    pods["items"].append(hostile_ns)
    (bundle / "pods.json").write_bytes(orjson.dumps(pods))
    fake = test_live.Fake(monkeypatch, tmp_path, bundle)
    argvs: list[list[str]] = []
    import topo.ingest.kubectl as kc

    real = kc._run

    def spy(argv: list[str], timeout: float) -> Any:
        assert isinstance(argv, list) and all(isinstance(a, str) for a in argv)
        argvs.append(argv)
        return real(argv, timeout)

    monkeypatch.setattr(kc, "_run", spy)
    r = CliRunner().invoke(app, ["ingest", "-A", "--store", str(fake.store)])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert r.exit_code == pipeline.EXIT_PARTIAL, r.stderr
    refused = [ln for ln in r.stderr.splitlines() if "invalid pod or namespace name" in ln]
    assert len(refused) == len(HOSTILE_PODS) + 1, r.stderr
    execs = [a for a in argvs if "exec" in a]
    for argv in execs:
        assert argv[argv.index("exec") + 1] not in HOSTILE_PODS, argv
        assert argv[argv.index("-n") + 1] == "istio-demo", argv
    assert len({a[a.index("exec") + 1] for a in execs}) == 6  # the six real pods


def test_dot_label_escaping(tmp_path):
    """A pod named to break out of a DOT label renders as valid DOT with one node for it."""
    try:
        from topo.cli import export  # noqa: F401
    except ImportError:
        pytest.skip("topo export is not there")
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    evil = '"];evil[label="x'
    d = tmp_path / "in"
    d.mkdir()
    (d / "evil.json").write_bytes(orjson.dumps(simple_mesh_dump(pod=evil, labels={"app": evil})))
    store = tmp_path / "s"
    assert topo("ingest", "--from", d, "--store", store).returncode == 0
    for q in (["path", "default/" + evil, "svc"], ["egress", "default/" + evil], ["mesh"]):
        out = tmp_path / f"{q[0]}.dot"
        r = topo("export", *q, "--store", store, "-o", out)
        assert r.returncode == 0, r.stderr
        plain = subprocess.run(["dot", "-Tplain", str(out)], capture_output=True, text=True)
        assert plain.returncode == 0 and not plain.stderr, plain.stderr
        names = [ln.split(" ", 2)[1] for ln in plain.stdout.splitlines() if ln.startswith("node ")]
        assert "evil" not in names, names
        assert any("evil" in ln for ln in plain.stdout.splitlines() if ln.startswith("node ")), q


# ============================================================================ 5. names are text


@pytest.fixture
def hostile_graph(backend, tmp_path) -> tuple[dict[str, str], list[str], list[list[str]]]:
    """The hostile example (tests/badinput/hostile.py) ingested through the CLI on the backend
    under test; its names, graph options and the ingest's outputs to scan."""
    names = hostile.hostile_example(EXAMPLE, tmp_path / "in")
    if backend == "neo4j":
        import conftest

        opts = ["--neo4j", conftest.NEO4J_URI]
        CliRunner().invoke(app, ["cypher", "MATCH (n) DETACH DELETE n"])  # (read-only: refused; wiped below)
        from topo.stores.neo4jstore import connect

        driver = connect(conftest.NEO4J_URI)
        driver.execute_query("MATCH (n) DETACH DELETE n", database_="neo4j")
        driver.close()
    else:
        opts = ["--store", str(tmp_path / "store")]
    ingests = [["ingest", "--from", str(tmp_path / "in"), *opts, *o] for o in ([], ["-o", "json"], ["-o", "yaml"])]
    return names, opts, ingests


def test_hostile_names_print_as_text_on_every_command(hostile_graph, backend, request):
    """Names with markup, terminal escapes and control characters, from the dumps, the file names
    and the command line: every command prints them as text (no ESC byte, no raw control
    character, the markup as written) in tables, messages and on stderr; JSON and YAML keep
    their own escaping. Items 1 and 2 of issue 17."""
    if backend == "neo4j":
        request.getfixturevalue("neo4j_graphs").loaded = None  # this test replaces the server's graph
    names, opts, ingests = hostile_graph
    runner = CliRunner()
    problems: list[str] = []
    if backend == "networkx":  # a plain snapshot first, for `topo diff`
        plain = runner.invoke(app, ["ingest", "--from", str(EXAMPLE), *opts, "--name", "plain"])
        assert plain.exit_code == 0, plain.stderr
    for q in ingests:
        r = runner.invoke(app, q)
        assert r.exit_code == pipeline.EXIT_PARTIAL, (q, r.stdout, r.stderr)  # the file that is not a dump
        assert "F1[bold]B[link=x]L:warning:\\x1b[2J" in r.stderr, r.stderr
        problems += hostile.check_result(r, q)
    qs = hostile.commands(names)
    if backend == "networkx":
        store = opts[1]
        cur = SnapshotStore(store).current_name()
        qs += [["diff", "plain", cur, *o] for o in ([], ["-o", "json"])]
        qs += [["diff", cur, "plain", "integration", "publictest", *o] for o in ([], ["-o", "yaml"])]
        qs += [["diff", "--behavior", "plain", cur, *o] for o in ([], ["-o", "json"])]
        checks = Path(store).parent / "checks.yaml"
        checks.write_text(f"- {{name: {json.dumps(hostile.hostile('A1'))}, from: integration, to: publictest, "
                          f"reaches: 100%}}\n- {{from: integration, no-dead-ends: true}}\n"
                          f"- {{from: {json.dumps(hostile.hostile('Z9'))}, to: publictest, reaches: 100%}}\n")
        qs += [["assert", str(checks), *o] for o in ([], ["-o", "json"])]
        qs += [["snapshots"], ["snapshots", "-o", "json"], ["diff", "plain", hostile.hostile("Z9")]]
        where = ["--store", store]
    else:
        qs += [["cypher", "MATCH (r:Route) RETURN r.name AS name ORDER BY name", *o] for o in ([], ["-o", "json"])]
        qs += [["cypher", "RETURN $x AS `[bold]c[/bold]`", "--param", "x=" + hostile.hostile("Z9")],
               ["cypher", hostile.hostile("Z9")]]
        where = opts
    n, more = hostile.run_all(lambda q: runner.invoke(app, [*q, *where]), qs)
    problems += more
    # the names are there to be scanned: the tables print the hostile route, subset and pod
    table = runner.invoke(app, ["path", "integration", "publictest", *opts]).stdout
    assert table.count("Z1[bold]B[/bold][link=x]L[/link][/]:warning:\\x1b[2J") == 1, table
    # the subset's cluster: its three endpoint rows, and the line with its Istio objects and settings
    assert table.count("Z2[bold]") == 4 and "Z3[bold]" in table, table
    print(f"\nhostile names ({backend}): {n + len(ingests)} commands, problems: {len(problems)}")
    assert not problems, "\n".join(problems[:20])


def test_a_newline_or_tab_in_a_name_forges_no_row(graph_of, tmp_path):
    """`show` tables (istioctl's layout) and Rich tables: one resource is one line (item 2)."""
    from topo.export.tabwriter import render_text
    from topo.queries.show import ClusterFilter, RouteFilter, cluster_table, route_table

    doc = simple_mesh_dump()
    for c in doc["configs"]:
        for item in c.get("dynamic_active_clusters", []):
            item["cluster"]["name"] += "\nFORGED\tROW 1 2 3"
        for item in c.get("dynamic_route_configs", []):
            item["route_config"]["virtual_hosts"][0]["name"] += "\nFORGED\tVHOST"
    g = graph_of(doc)
    for t in (cluster_table(g, "client-abc", ClusterFilter()), route_table(g, "client-abc", RouteFilter("", True))):
        text = render_text(t)
        lines = text.splitlines()
        assert len(lines) == len(t.rows) + 1, text
        assert not [ln for ln in lines if ln.startswith("FORGED")], text
        assert "\\nFORGED\\t" in text
    store = tmp_path / "s"
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "d.json").write_bytes(orjson.dumps(doc))
    assert CliRunner().invoke(app, ["ingest", "--from", str(tmp_path / "in"), "--store", str(store)]).exit_code == 0
    out = CliRunner().invoke(app, ["reach", "client-abc", "--store", str(store)]).stdout
    assert not [ln for ln in out.splitlines() if ln.lstrip().startswith("FORGED")], out
    assert "\\nFORGED\\tVHOST" in out


def test_diagrams_of_hostile_names_render_and_the_svg_parses(tmp_path):
    """A NUL in a name broke `dot`, an ESC made the SVG invalid XML (item 3): every diagram of
    the hostile example is written as DOT without control characters and as SVG that parses."""
    import xml.etree.ElementTree as ET

    if shutil.which("dot") is None:
        pytest.fail("Graphviz's dot is needed (make test installs it)")
    names = hostile.hostile_example(EXAMPLE, tmp_path / "in")
    store = str(tmp_path / "s")
    runner = CliRunner()
    runner.invoke(app, ["ingest", "--from", str(EXAMPLE), "--store", store, "--name", "plain"])
    r = runner.invoke(app, ["ingest", "--from", str(tmp_path / "in"), "--store", store, "--name", "hostile"])
    assert r.exit_code == pipeline.EXIT_PARTIAL, r.stderr
    raw = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]")  # (DOT indents with tabs)
    n = 0
    for q in (["path", "integration", "publictest"], ["path", "integration", "publictest", "--path", names["prefix"]],
              ["path", "publictest-v2", "publictest"], ["egress", "integration"], ["egress", "integration", "--detail"],
              ["mesh"], ["blast", "10.244.0.61"], ["blast", names["pod"]], ["diff", "plain", "hostile"]):
        for suffix in (".dot", ".svg"):
            out = tmp_path / f"d{n}{suffix}"
            n += 1
            r = runner.invoke(app, ["export", *q, "--store", store, "-o", str(out)])
            assert r.exit_code == 0, (q, r.stderr, r.exception)
            text = out.read_text()
            assert not raw.search(text), (q, suffix, raw.search(text))
            if suffix == ".svg":
                root = ET.fromstring(out.read_bytes())
                shown = "".join(root.itertext())
                assert "Z" not in shown or "\\x1b[2J" in shown, q
    print(f"\nhostile diagrams: {n} written, every SVG parses")


# ============================================================================ 6. numbers and URLs


def _huge_weights_dump() -> dict[str, Any]:
    """One route whose two entries name one cluster with 2^62 each (summed: 2^63, past int64),
    one at 2^31 + 2^31 (past Envoy's uint32 sum), a TCP split summing past 2^63, and a route
    config that stays valid beside them."""
    from builders import TCP, listener

    doc = simple_mesh_dump()
    fq = "svc.default.svc.cluster.local"
    c1, c2 = f"outbound|8080|v1|{fq}", f"outbound|8080|v2|{fq}"
    for c in doc["configs"]:
        if c["@type"].endswith("RoutesConfigDump"):
            vh = c["dynamic_route_configs"][0]["route_config"]["virtual_hosts"][0]
            vh["routes"][:0] = [
                {"name": "int64", "match": {"prefix": "/a"}, "route": {"weighted_clusters": {"clusters": [
                    {"name": c1, "weight": 2**62}, {"name": c1, "weight": 2**62}]}}},
                {"name": "uint32", "match": {"prefix": "/b"}, "route": {"weighted_clusters": {"clusters": [
                    {"name": c1, "weight": 2**31}, {"name": c2, "weight": 2**31}]}}}]
        if c["@type"].endswith("ListenersConfigDump"):
            c["dynamic_listeners"].append({"name": "10.96.0.11_3306", "active_state": {"listener": listener(
                "10.96.0.11_3306", "10.96.0.11", 3306, [{"filters": [{"name": "envoy.filters.network.tcp_proxy",
                                                                        "typed_config": {"@type": TCP, "stat_prefix": "x",
                    "weighted_clusters": {"clusters": [{"name": c1, "weight": 2**62 + 1},
                                                       {"name": c2, "weight": 2**62 + 1}]}}}]}])}})
    return doc


def test_weights_past_what_envoy_allows_are_refused_with_a_note(graph_of, backend, tmp_path, request):
    """Weights that sum past 2^63 crashed the snapshot encoder and the Neo4j loader (item 5):
    Envoy refuses weighted clusters whose sum passes 4294967295, so topo keeps such a route as
    never matching and such a TCP split as going nowhere, each with a note; the rest answers."""
    doc = _huge_weights_dump()
    g = graph_of(doc)  # stores on the backend under test
    ok = pathq.path(g, "client-abc", "svc", port=8080)
    assert sorted((c.name.split("|")[2], c.weight) for c in ok.answers[0].clusters) == [("v1", 90), ("v2", 10)]
    for p in ("/a", "/b"):  # the refused routes never match: the split route answers
        got = pathq.path(g, "client-abc", "svc", port=8080, req_path=p)
        assert next(h.name for h in got.answers[0].hops if h.kind == "route") == "split", p
    tcp = pathq.path(g, "client-abc", "10.96.0.11:3306", tcp=True)
    assert not tcp.answers[0].clusters
    d = tmp_path / "in"
    d.mkdir()
    (d / "huge.json").write_bytes(orjson.dumps(doc))
    import conftest

    opts = ["--store", str(tmp_path / "s")] if backend == "networkx" else ["--neo4j", conftest.NEO4J_URI]
    if backend == "neo4j":
        request.getfixturevalue("neo4j_graphs").loaded = None  # the ingest below replaces the server's graph
    r = CliRunner().invoke(app, ["ingest", "--from", str(d), *opts, "-o", "json"])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert r.exit_code == 0, r.stderr
    notes = json.loads(r.stdout)["notes"]
    assert sum("past Envoy's limit of 4294967295" in n for n in notes) == 3, notes


@pytest.mark.parametrize("dst", ["http://[::1", "http://host:abc/", "http://host:99999999/", "http://host:0/",
                                 "publictest:99999", "publictest:0", "[::1", "[::1]:x", "http://:80/"])
def test_bad_urls_and_ports_are_one_line(dst):
    """A URL or address that does not parse, or a port outside 1-65535: one line, exit 2 (item 6)."""
    r = CliRunner().invoke(app, ["path", "integration", dst, "--store", str(EXAMPLE_STORE())])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert r.exit_code == 2, (dst, r.stdout, r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("topo: "), r.stderr


@pytest.mark.parametrize("args", [["path", "integration", "publictest", "--port", "-1"],
                                  ["path", "integration", "publictest", "--port", "65536"],
                                  ["path", "integration", "publictest", "--port", "0"],
                                  ["export", "path", "integration", "publictest", "--port", "70000", "-o", "x.dot"],
                                  ["show", "listeners", "integration", "--port", "-1"],
                                  ["show", "clusters", "integration", "--port", "65536"]])
def test_ports_outside_the_range_are_refused_everywhere(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, [*args, "--store", str(EXAMPLE_STORE())])
    assert r.exit_code == 2, (args, r.stdout)
    assert not (tmp_path / "x.dot").exists()
    # and the library refuses it too
    with pytest.raises(Exception, match="not a port number"):
        pathq.path(open_graph(store=EXAMPLE_STORE()), "integration", "publictest", port=-1)


_EXAMPLE_STORE: list[Path] = []


def EXAMPLE_STORE() -> Path:  # noqa: N802
    """The example ingested once into a store of its own."""
    if not _EXAMPLE_STORE:
        import tempfile

        from conftest import ingest

        _EXAMPLE_STORE.append(ingest(EXAMPLE, Path(tempfile.mkdtemp(prefix="topo-example-")) / "store"))
    return _EXAMPLE_STORE[0]


# ============================================================================ 7. what a --from directory holds


def test_fifos_links_and_unreadable_directories_each_get_a_line(tmp_path, monkeypatch):
    """A FIFO named dump.json, link loops, a dangling link, a link to /dev/zero and an unreadable
    subdirectory were skipped without a word while ingest said every file was read (item 10):
    each is one line, the exit is 3, nothing waits on the FIFO and the good dump is read."""
    import socket as socketmod

    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    (d / "locked").mkdir()
    shutil.copy(GOOD, d)
    os.mkfifo(d / "dump.json")
    os.mkfifo(d / "sub" / "no-name")
    (d / "loop-a.json").symlink_to("loop-b.json")
    (d / "loop-b.json").symlink_to("loop-a.json")
    (d / "dangling.json").symlink_to("gone.json")
    (d / "zero.json").symlink_to("/dev/zero")
    (d / "sub" / "up").symlink_to("..")
    sock = socketmod.socket(socketmod.AF_UNIX)
    sock.bind(str(d / "sock.json"))
    (d / "locked" / "x.json").write_bytes(GOOD.read_bytes())
    os.chmod(d / "locked", 0)
    want = {"dump.json": "FIFO", "sub/no-name": "FIFO", "loop-a.json": "loop", "loop-b.json": "loop",
            "dangling.json": "dangling", "zero.json": "character device", "sub/up": "loop", "sock.json": "socket",
            "locked": "cannot be read"}
    try:
        import topo.ingest.sources as src

        real = os.scandir

        def scandir(path: Any) -> Any:  # (as root, mode 0 does not lock a directory)
            if Path(path).name == "locked":
                raise PermissionError(13, "Permission denied")
            return real(path)

        monkeypatch.setattr(src.os, "scandir", scandir)
        r = CliRunner().invoke(app, ["ingest", "--from", str(d), "--store", str(tmp_path / "s"), "-o", "json"])
    finally:
        os.chmod(d / "locked", 0o755)
        sock.close()
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert r.exit_code == pipeline.EXIT_PARTIAL, r.stderr
    lines = r.stderr.splitlines()
    for name, why in want.items():
        mine = [ln for ln in lines if ln.startswith(f"topo: {d}/{name}: ")]
        assert len(mine) == 1 and why in mine[0], (name, lines)
    assert len(lines) == len(want), lines
    assert json.loads(r.stdout)["pods"] == 1
    # and as a separate process, with a real FIFO and /dev/zero behind the names: no wait
    r = topo("ingest", "--from", d, "--store", tmp_path / "s2", timeout=60)
    no_traceback(r)
    assert r.returncode == pipeline.EXIT_PARTIAL


# ============================================================================ 8. damaged stores, racing writers


def _store_copy(tmp_path: Path) -> SnapshotStore:
    dst = tmp_path / "store"
    shutil.copytree(EXAMPLE_STORE(), dst)
    return SnapshotStore(dst)


def _pod(st: SnapshotStore) -> str:
    return sorted(r["id"] for r in st.load().nodes["Pod"])[0]


def test_a_corrupted_byte_in_a_segment_is_one_line_and_check_finds_it(tmp_path):
    """One changed byte inside a segment gave an orjson.JSONDecodeError traceback (item 7): the
    segment's checksum says so in one line naming the snapshot, and `snapshots --check` finds it."""
    st = _store_copy(tmp_path)
    pod = _pod(st)
    name = st.current_name()
    assert name is not None
    f = st.snapdir / f"{name}.json"
    snap = st.load()
    sid, (off, n, _crc) = next((k, v) for k, v in sorted(snap._index.items()) if k.startswith("N|Pod|"))
    data = bytearray(f.read_bytes())
    data[off + n // 2] = ord("{") if data[off + n // 2] != ord("{") else ord("[")  # breaks the JSON
    f.write_bytes(bytes(data))
    r = topo("show", "routes", pod, "--store", st.root)
    no_traceback(r)
    line = one_line_error(r)
    assert f"snapshot {name} is damaged" in line and "topo snapshots --check" in line
    r = topo("snapshots", "--check", "--store", st.root, "-o", "json")
    no_traceback(r)
    assert r.returncode == 1
    assert list(json.loads(r.stdout)["damaged"]) == [name]
    # the same byte changed to one that still parses: the checksum, not the parser, finds it
    data = bytearray(f.read_bytes())
    i = off + next(j for j in range(n) if chr(data[off + j]).isalpha())
    data[i] = ord("x") if data[i] != ord("x") else ord("y")
    f.write_bytes(bytes(data))
    assert any("checksum" in p for p in st.check(name))


def test_a_truncated_heavy_file_is_one_line(tmp_path):
    st = _store_copy(tmp_path)
    pod = _pod(st)
    h = st.snapdir / f"{st.current_name()}.heavy"
    h.write_bytes(h.read_bytes()[: h.stat().st_size // 2])
    r = topo("show", "routes", pod, "--store", st.root, "-o", "json")
    no_traceback(r)
    assert "is damaged (its .heavy file does not parse: truncated?)" in one_line_error(r)
    r = topo("snapshots", "--check", "--store", st.root)
    assert r.returncode == 1 and "damaged" in r.stdout


@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "directory"])
def test_a_snapshot_that_is_not_a_regular_file_is_never_read(tmp_path, kind):
    """A snapshot file that is a link to /dev/zero exhausted memory, a FIFO hung the reader (item 7):
    only regular files of bounded size are read, and the refusal is one line."""
    st = _store_copy(tmp_path)
    f = st.snapdir / f"{st.current_name()}.json"
    f.unlink()
    if kind == "dev-zero":
        f.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(f)
    else:
        f.mkdir()
    for args in (["path", "productpage", "reviews", "--store", st.root], ["snapshots", "--store", st.root]):
        r = topo(*args, timeout=60)
        no_traceback(r)
        if args[0] == "path":
            assert "cannot be read (not a regular file" in one_line_error(r) or "is a directory" in r.stderr


def test_two_ingests_at_the_same_second_keep_both_snapshots(tmp_path, monkeypatch):
    """Two concurrent ingests picked the same UTC-time name and one snapshot was lost (item 8):
    names are chosen under the store's lock, so every save keeps its own."""
    from topo.stores import snapshot as snapmod

    st = SnapshotStore(tmp_path / "store")
    monkeypatch.setattr(snapmod.time, "strftime", lambda *_a: "20260101T000000Z")
    names: list[str] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            names.append(SnapshotStore(st.root).save(_good_rows(), {"pods": 1}))
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(names)) == 8 and sorted(st.names()) == sorted(names)
    assert st.current_name() in names
    for n in names:
        assert st.check(n) == []


def _good_rows() -> Any:
    """GOOD's rows, fresh each time (a save takes the heavy properties out of the rows it writes)."""
    return pipeline.run(sources.from_path(GOOD), _NoLoad()).rows


class _NoLoad:
    """A loader that keeps the rows (pipeline.run with nothing written)."""

    def save(self, rows: Any, meta: dict[str, Any]) -> str:
        return "-"

    def describe(self) -> str:
        return "-"


def test_name_of_an_existing_snapshot_needs_replace(tmp_path):
    st = tmp_path / "store"
    assert topo("ingest", "--from", GOOD, "--store", st, "--name", "base").returncode == 0
    before = (st / "snapshots" / "base.json").read_bytes()
    r = topo("ingest", "--from", EXAMPLE, "--store", st, "--name", "base")
    no_traceback(r)
    assert r.returncode == 2
    assert one_line_error(r) == f"topo: snapshot base exists in {st}: choose another --name, or --replace it"
    assert (st / "snapshots" / "base.json").read_bytes() == before
    r = topo("ingest", "--from", EXAMPLE, "--store", st, "--name", "base", "--replace")
    assert r.returncode == 0 and (st / "snapshots" / "base.json").read_bytes() != before


def test_prune_spares_current_and_young_snapshots(tmp_path):
    st = _store_copy(tmp_path)
    cur = st.current_name()
    young = st.save(_good_rows(), {}, name="young")
    (st.root / "CURRENT").write_text(f"{cur}\n")
    old = time.time() - 3600
    os.utime(st.snapdir / f"{cur}.json", (old, old))
    # keep 0: the current one stays whatever its age, the one written a moment ago stays too
    assert st.prune(0) == []
    assert sorted(st.names()) == sorted([cur, young])
    assert st.prune(0, grace=0) == [young]


def test_a_reader_keeps_its_snapshot_when_a_replace_swaps_the_files(tmp_path):
    """A reader's lazy read of the .heavy file after a prune or a `--name` re-ingest mixed two
    snapshots (item 8): the reader holds both files from the start, and a pair whose generation
    ids differ is never read as one snapshot."""
    st = _store_copy(tmp_path)
    name = st.current_name()
    assert name is not None
    pod = _pod(st)
    g = open_graph(store=st.root)
    before = {k: g.raw("Pod", k) for k in [pod]}
    # the same name, other content (--replace), then the old files pruned
    st.save(_good_rows(), {}, name=name, replace=True)
    heavy_now = st.load(name).heavy()
    assert heavy_now != g.lg.snap.heavy()  # the reader still reads its own generation
    assert {k: g.raw("Pod", k) for k in [pod]} == before
    g.close()
    # a .json of one generation beside the .heavy of another: refused, never mixed
    other = tmp_path / "other"
    SnapshotStore(other).save(_good_rows(), {}, name=name)
    shutil.copy(other / "snapshots" / f"{name}.heavy", st.snapdir / f"{name}.heavy")
    shutil.copy(EXAMPLE_STORE() / "snapshots" / f"{name}.json", st.snapdir / f"{name}.json")
    r = topo("show", "routes", pod, "--store", st.root, "-o", "json")
    no_traceback(r)
    assert "its .heavy file belongs to another snapshot" in one_line_error(r)
