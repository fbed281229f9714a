"""Dedup across pods, the snapshot store's atomicity, and exit codes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
from builders import simple_mesh_dump

from topo.ingest import pipeline, sources
from topo.stores import SnapshotLoader
from topo.stores.snapshot import SnapshotStore

RESOURCE_LABELS = ("ProxyConfig", "Listener", "FilterChain", "RouteConfig", "VirtualHost", "Route", "Cluster", "Endpoint")


def _write_copies(dirpath: Path, doc: dict, n: int) -> None:
    dirpath.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        d = orjson.loads(orjson.dumps(doc))
        boot = d["configs"][0]["bootstrap"]["node"]
        boot["id"] = f"sidecar~10.9.{i // 250}.{i % 250}~copy-{i}.default~default.svc.cluster.local"
        boot["metadata"]["NAME"] = f"copy-{i}"
        boot["metadata"]["INSTANCE_IPS"] = f"10.9.{i // 250}.{i % 250}"
        (dirpath / f"copy-{i}.json").write_bytes(orjson.dumps(d))


def test_dedup_synthetic(tmp_path):
    _write_copies(tmp_path / "d", simple_mesh_dump(), 100)
    res = pipeline.transform_all(sources.from_path(tmp_path / "d"))
    one = pipeline.transform_all(sources.from_path(tmp_path / "d" / "copy-0.json"))
    assert len(res.rows.nodes["Pod"]) == 100
    for label in RESOURCE_LABELS:
        assert len(res.rows.nodes[label]) == len(one.rows.nodes[label]), label


def test_dedup_real_dump(realdumps, tmp_path):
    """N renamed copies of one real dump: N Pod nodes and one set of resource nodes."""
    doc = orjson.loads((realdumps / "TZ-Zephrus__DeathStarBench/config_dump.json").read_bytes())
    _write_copies(tmp_path / "d", doc, 20)
    res = pipeline.transform_all(sources.from_path(tmp_path / "d"))
    one = pipeline.transform_all(sources.from_path(tmp_path / "d" / "copy-0.json"))
    assert len(res.rows.nodes["Pod"]) == 20
    for label in RESOURCE_LABELS:
        assert len(res.rows.nodes[label]) == len(one.rows.nodes[label]), label
    n_one = sum(len(v) for v in one.rows.rels.values())
    n_all = sum(len(v) for v in res.rows.rels.values())
    assert n_all == n_one + 19  # one USES_CONFIG per extra pod


def test_snapshot_roundtrip_and_current(tmp_path):
    st = SnapshotStore(tmp_path / "s")
    res = pipeline.run(sources.from_path(_one(tmp_path)), SnapshotLoader(st, "first"))
    assert res.snapshot == "first" and st.current_name() == "first"
    snap = st.load()
    assert len(snap.nodes["Pod"]) == 1
    assert {r["id"] for r in snap.nodes["Pod"]} == set(res.rows.nodes["Pod"])


def test_snapshot_segments_load_on_demand(tmp_path):
    """The file is one JSON document; a reader parses its index, then only the segments asked for."""
    st = SnapshotStore(tmp_path / "s")
    _write_copies(tmp_path / "d", simple_mesh_dump(), 30)
    res = pipeline.run(sources.from_path(tmp_path / "d"), SnapshotLoader(st, "many"))
    raw = (st.snapdir / "many.json").read_bytes()
    doc = orjson.loads(raw)  # valid JSON as a whole
    assert doc["format"] == "topo-snapshot/4" and doc["meta"] == st.load().meta
    snap = st.load()
    assert snap._parsed == {}
    pod = sorted(res.rows.nodes["Pod"])[0]
    assert snap.row("Pod", pod)["id"] == pod
    assert 0 < len(snap._parsed) < len(doc["index"]) - 1
    # everything at once gives what was written
    assert {r["id"] for r in snap.nodes["Pod"]} == set(res.rows.nodes["Pod"])
    assert sum(len(v) for v in snap.rel_sources("HAS_ENDPOINT").values()) == len(res.rows.rels["HAS_ENDPOINT"])
    # a damaged index is one line, not a traceback
    (st.snapdir / "many.json").write_bytes(raw[:-40] + b"}")
    try:
        st.load()
    except Exception as e:
        assert type(e).__name__ == "StoreError" and "damaged" in str(e)
    else:
        raise AssertionError("a damaged snapshot loaded")


def _one(tmp_path: Path) -> Path:
    p = tmp_path / "in"
    p.mkdir(exist_ok=True)
    (p / "client-abc.json").write_bytes(orjson.dumps(simple_mesh_dump()))
    return p


def test_nothing_ingested_keeps_the_store(tmp_path):
    st = SnapshotStore(tmp_path / "s")
    pipeline.run(sources.from_path(_one(tmp_path)), SnapshotLoader(st, "good"))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.json").write_bytes(b"{not json")
    res = pipeline.run(sources.from_path(bad), SnapshotLoader(st, None))
    assert res.exit_code == pipeline.EXIT_NOTHING and res.snapshot == ""
    assert st.current_name() == "good" and st.names() == ["good"]


def test_exit_codes_partial(tmp_path):
    d = _one(tmp_path)
    (d / "broken.json").write_bytes(b"")
    (d / "dir.json").mkdir()
    res = pipeline.run(sources.from_path(d), None)
    assert res.exit_code == pipeline.EXIT_PARTIAL
    reasons = dict(res.refused)
    assert any("empty file" in r for r in reasons.values())
    assert any("directory" in r for r in reasons.values())


KILLER = r"""
import sys, orjson
from topo.ingest import pipeline, sources
from topo.stores.snapshot import SnapshotStore
from topo.stores import SnapshotLoader
import topo.stores.snapshot as snap
orig = snap._atomic_write
def slow(path, data):
    # write half of the file by hand, then stall: the parent SIGKILLs us here
    if path.name.endswith(".json"):
        with open(path.parent / ("." + path.name + ".partial.tmp"), "wb") as f:
            f.write(data[: len(data) // 2]); f.flush()
        print("WRITING", flush=True)
        import time; time.sleep(60)
    return orig(path, data)
snap._atomic_write = slow
pipeline.run(sources.from_path(sys.argv[1]), SnapshotLoader(SnapshotStore(sys.argv[2]), None))
"""


def test_sigkill_midway_leaves_previous_snapshot(tmp_path):
    st = SnapshotStore(tmp_path / "s")
    pipeline.run(sources.from_path(_one(tmp_path)), SnapshotLoader(st, "before"))
    before = (st.snapdir / "before.json").read_bytes()
    other = tmp_path / "other"
    other.mkdir()
    (other / "other-1.json").write_bytes(orjson.dumps(simple_mesh_dump(pod="other-1", weights=(50, 50))))
    p = subprocess.Popen([sys.executable, "-c", KILLER, str(other), str(st.root)], stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None
    line = p.stdout.readline()
    assert line.strip() == "WRITING"
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert st.current_name() == "before"
    assert (st.snapdir / "before.json").read_bytes() == before
    assert st.names() == ["before"]
    assert len(st.load().nodes["Pod"]) == 1


def test_sigkill_at_random_points(tmp_path):
    """Kill real ingests at several moments; the previous snapshot stays current and intact."""
    st = SnapshotStore(tmp_path / "s")
    src = tmp_path / "many"
    _write_copies(src, simple_mesh_dump(), 200)
    pipeline.run(sources.from_path(_one(tmp_path)), SnapshotLoader(st, "before"))
    before = (st.snapdir / "before.json").read_bytes()
    for delay in (0.05, 0.15, 0.3, 0.5, 0.8):
        p = subprocess.Popen([sys.executable, "-m", "topo", "ingest", "--from", str(src), "--store", str(st.root)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        cur = st.current_name()
        assert cur is not None
        snap = st.load()  # whatever is current is whole
        if cur == "before":
            assert (st.snapdir / "before.json").read_bytes() == before
        else:
            assert len(snap.nodes["Pod"]) == 200


def test_resource_cache_gives_the_same_rows_as_no_cache(tmp_path):
    """The ingest-wide resource cache skips rebuilding rows; the merged result must not change."""
    from topo.ingest.transform import transform_bytes
    from topo.model.rows import Rows

    d = tmp_path / "m"
    subprocess.run([sys.executable, "-m", "topo.meshgen", "random", "--services", "8", "--pods", "12",
                    "--seed", "5", "--out", str(d)], check=True, capture_output=True)
    cached = pipeline.transform_all(sources.from_path(d)).rows
    plain = Rows()
    for raw in sources.from_path(d).dumps:
        plain.merge(transform_bytes(raw.data, raw.source, raw.clusters).rows)
    pipeline.link(plain)
    b = sources.from_path(d)
    res = pipeline.IngestResult(rows=plain)
    pipeline.enrich(res, b.pods_json, b.services_json)
    pipeline.link(plain)
    assert cached.nodes == plain.nodes
    assert cached.rels == plain.rels


def test_two_workers_give_the_same_rows(tmp_path, monkeypatch):
    d = tmp_path / "m"
    subprocess.run([sys.executable, "-m", "topo.meshgen", "random", "--services", "6", "--pods", "10",
                    "--seed", "9", "--out", str(d)], check=True, capture_output=True)
    one = pipeline.transform_all(sources.from_path(d))
    monkeypatch.setenv("TOPO_WORKERS", "2")
    two = pipeline.transform_all(sources.from_path(d))
    assert one.rows.nodes == two.rows.nodes and one.rows.rels == two.rows.rels
    assert [f.pod for f in one.files] == [f.pod for f in two.files]
