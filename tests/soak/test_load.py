"""Load: 8 concurrent processes asking `path` of a 1,000-pod snapshot (`make soak`).

Skipped unless TOPO_SOAK=1: this lives under tests/ (so it shares conftest.py and the
harness) but `make test` must stay fast, so each module here is marked and skipped there.

The mesh: ``python -m topo.meshgen random --services 1000 --pods 1000 --workloads 200 --lean``
(a few GB; generated into a temporary directory and deleted afterwards). Set
``TOPO_SOAK_MESH=DIR`` to reuse a mesh already generated (it is then left in place),
``TOPO_SOAK_PODS`` for another size (services = pods, workloads = pods / 5), and
``TOPO_SOAK_STORE=DIR`` to keep the ingested store there (and reuse it on the next run).

(a) cold: 8 processes, each running ``TOPO_SOAK_COLD`` (default 25) ``topo path`` commands
    one after the other, each a new Python process that loads the snapshot;
(b) warm: 8 processes, each loading the snapshot once and asking the 200 questions
    in-process through the library (a fresh lazy graph per question).

Every answer is compared with the one computed beforehand by this process, alone. The
figures (answers, p50, p99) are printed (run with -s) and appended to
``$TOPO_SOAK_REPORT`` when set. No timing is asserted.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not os.environ.get("TOPO_SOAK"), reason="soak test: `make soak` (TOPO_SOAK=1)")]

PODS = int(os.environ.get("TOPO_SOAK_PODS", "1000"))
PROCS = 8
QUESTIONS = 200
# A cold `topo path` on the 1,000-pod snapshot loads a 120 MB file: about 3.5 s and 1.2 GB each
# on the 2-core machines, so 8 x 200 of them would take some 40 minutes of CPU; 8 x 25 by default.
COLD = int(os.environ.get("TOPO_SOAK_COLD", "25"))


def report(line: str) -> None:
    print(line)
    if os.environ.get("TOPO_SOAK_REPORT"):
        with open(os.environ["TOPO_SOAK_REPORT"], "a") as f:
            f.write(line + "\n")


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


@pytest.fixture(scope="module")
def big_store() -> Any:
    keep = os.environ.get("TOPO_SOAK_STORE")  # reuse (or fill, and keep) this store
    if keep and (Path(keep) / "CURRENT").is_file():
        report(f"soak: reusing the snapshot in {keep}")
        yield Path(keep)
        return
    tmp = Path(tempfile.mkdtemp(prefix="topo-soak-"))
    mesh = Path(os.environ["TOPO_SOAK_MESH"]) if os.environ.get("TOPO_SOAK_MESH") else tmp / "mesh"
    try:
        if not os.environ.get("TOPO_SOAK_MESH"):
            t0 = time.monotonic()
            subprocess.run([sys.executable, "-m", "topo.meshgen", "random", "--services", str(PODS), "--pods", str(PODS),
                            "--workloads", str(max(PODS // 5, 1)), "--lean", "--seed", "1", "--out", str(mesh)],
                           check=True, capture_output=True)
            size = sum(p.stat().st_size for p in mesh.rglob("*") if p.is_file())
            report(f"soak: generated a {PODS}-pod mesh, {size / 1e9:.1f} GB, in {time.monotonic() - t0:.0f} s")
        store = Path(keep) if keep else tmp / "store"
        t0 = time.monotonic()
        r = subprocess.run([sys.executable, "-m", "topo", "ingest", "--from", str(mesh), "--store", str(store),
                            "--name", "soak", "-o", "json"], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr[-2000:]
        s = json.loads(r.stdout)
        snap = sum(p.stat().st_size for p in (store / "snapshots").iterdir())
        report(f"soak: ingested {s['pods']} pods ({s['proxy_configs']} proxy configs, {s['nodes']} nodes, "
               f"{s['relationships']} relationships) in {time.monotonic() - t0:.0f} s; snapshot {snap / 1e6:.0f} MB")
        if not os.environ.get("TOPO_SOAK_MESH"):
            shutil.rmtree(mesh)  # the dumps are not needed any more: free the disk now
        yield store
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def expected(big_store: Path) -> list[tuple[str, str, int, bytes]]:
    """200 (src, fqdn, port) questions and their answers, computed here, one at a time."""
    from topo.cli.common import to_plain
    from topo.queries.path import path
    from topo.stores.nxgraph import NxGraph
    from topo.stores.snapshot import SnapshotStore

    snap = SnapshotStore(big_store).load()
    pods = sorted(p["id"] for p in snap.nodes["Pod"])
    dests = sorted((s["fqdn"], p) for s in snap.nodes["Service"] for p in s.get("ports") or [] if s["kind"] == "kubernetes")
    rng = random.Random(7)
    out = []
    for _ in range(QUESTIONS):
        src = rng.choice(pods)
        fqdn, port = rng.choice(dests)
        ans = to_plain(path(NxGraph(snap), src, fqdn, port=port))
        out.append((src, fqdn, port, orjson.dumps(ans, option=orjson.OPT_SORT_KEYS)))
    ok = sum(all(not x["dead_ends"] for x in orjson.loads(a)["answers"]) for *_, a in out)
    report(f"soak: {QUESTIONS} questions over {len(pods)} pods and {len(dests)} service ports "
           f"({ok} without a dead end)")
    return out


WARM = r"""
import sys, time, orjson
from topo.cli.common import to_plain
from topo.stores.nxgraph import NxGraph
from topo.queries.path import path
from topo.stores.snapshot import SnapshotStore
store, qfile, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
qs = orjson.loads(open(qfile, "rb").read())
import random
random.Random(seed).shuffle(qs)
t0 = time.perf_counter()
snap = SnapshotStore(store).load()
load = time.perf_counter() - t0
res = {"load": load, "times": [], "wrong": [], "errors": []}
for src, fqdn, port, want in qs:
    t = time.perf_counter()
    try:
        got = orjson.dumps(to_plain(path(NxGraph(snap), src, fqdn, port=port)), option=orjson.OPT_SORT_KEYS)
    except Exception as e:
        res["errors"].append(f"{src} {fqdn}:{port}: {type(e).__name__}: {e}")
        continue
    res["times"].append(time.perf_counter() - t)
    if got.decode() != want:
        res["wrong"].append(f"{src} {fqdn}:{port}")
sys.stdout.write(orjson.dumps(res).decode())
"""

COLD_WORKER = r"""
import sys, time, json, subprocess, random
store, qfile, seed, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
qs = json.load(open(qfile))
random.Random(seed).shuffle(qs)
res = {"times": [], "wrong": [], "errors": []}
for src, fqdn, port, want in qs[:n]:
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "topo", "path", src, fqdn, "--port", str(port), "--store", store,
                        "-o", "json"], capture_output=True, text=True)
    res["times"].append(time.perf_counter() - t)
    if p.returncode not in (0, 4) or "Traceback" in p.stderr:
        res["errors"].append(f"{src} {fqdn}:{port}: exit {p.returncode}: {p.stderr[-300:]}")
    elif json.loads(p.stdout) != json.loads(want):
        res["wrong"].append(f"{src} {fqdn}:{port}")
print(json.dumps(res))
"""


def _run_workers(script: str, args: list[str]) -> list[dict[str, Any]]:
    procs = [subprocess.Popen([sys.executable, "-c", script, *args[:2], str(i), *args[2:]], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(PROCS)]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=6 * 3600)
        assert p.returncode == 0, stderr[-2000:]
        out.append(json.loads(stdout))
    return out


def _check(results: list[dict[str, Any]], n_each: int, what: str) -> None:
    times = [t for r in results for t in r["times"]]
    errors = [e for r in results for e in r["errors"]]
    wrong = [w for r in results for w in r["wrong"]]
    answered = len(times) - len(wrong)
    report(f"soak {what}: {PROCS} processes x {n_each} queries: {answered}/{PROCS * n_each} answered correctly, "
           f"{len(wrong)} wrong, {len(errors)} errors; per query p50 {pct(times, 0.5) * 1000:.0f} ms, "
           f"p99 {pct(times, 0.99) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms")
    assert not errors, errors[:5]
    assert not wrong, wrong[:5]
    assert answered == PROCS * n_each


def test_warm_8_processes_200_queries_each(big_store, expected, tmp_path):
    qfile = tmp_path / "q.json"
    qfile.write_bytes(orjson.dumps([[s, f, p, a.decode()] for s, f, p, a in expected]))
    results = _run_workers(WARM, [str(big_store), str(qfile)])
    loads = [r["load"] for r in results]
    report(f"soak warm: snapshot load per process p50 {pct(loads, 0.5):.1f} s, max {max(loads):.1f} s")
    _check(results, QUESTIONS, "warm (in-process, library)")


def test_cold_8_processes(big_store, expected, tmp_path):
    qfile = tmp_path / "q.json"
    qfile.write_text(json.dumps([[s, f, p, a.decode()] for s, f, p, a in expected]))
    results = _run_workers(COLD_WORKER, [str(big_store), str(qfile), str(COLD)])
    _check(results, COLD, "cold (`topo path` processes)")
