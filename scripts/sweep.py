#!/usr/bin/env python3
"""Ask topo a fixed set of questions and write every answer to a directory, to compare two versions.

    .venv/bin/python scripts/sweep.py OUT [--realdumps ../shared/realdumps]
    diff -r OUT_BEFORE OUT_AFTER        # nothing printed: the same answers, byte for byte

Datasets: the bundled example, a generated mesh (meshgen random, seed 7) and, when present,
every real dump of ../shared/realdumps ingested as one store. Questions: path from each source
pod to each service (first 8 per pod), reach, reach --to and blast of every service and of pods,
check (all, per namespace) and the four show tables, each as ``-o json`` and as a table. Each answer
is one file holding the command, its exit code, stdout and stderr.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from typer.testing import CliRunner

from topo.cli import app

ROOT = Path(__file__).resolve().parent.parent


def _graph(store: Path):  # the embedded graph of a store, wherever this version keeps open_graph
    try:
        from topo.stores import open_graph
    except ImportError:
        from topo.queries.graphapi import open_graph  # type: ignore[no-redef]
    return open_graph(store=store)


def questions(store: Path, pods_per_ns: int, dsts_per_pod: int) -> list[list[str]]:
    g = _graph(store)
    pods = g.pods()
    services = g.services()
    qs: list[list[str]] = [["check"]]
    per_ns: dict[str, list[dict]] = {}
    for p in pods:
        per_ns.setdefault(p["namespace"], []).append(p)
    for ns in sorted(per_ns):
        if ns:
            qs.append(["check", "-n", ns])
        for p in per_ns[ns][:pods_per_ns]:
            src = p["id"]
            qs.append(["reach", src])
            for t in ("listeners", "routes", "clusters", "endpoints"):
                qs.append(["show", t, src])
            qs.append(["blast", src])
            qs.append(["reach", "--to", src])
            for s in services[:dsts_per_pod]:
                ports = sorted(set(s["ports"] or []))
                qs.append(["path", src, s["fqdn"], *(["--port", str(ports[0])] if len(ports) > 1 else [])])
    for s in services:
        qs.append(["reach", "--to", s["fqdn"]])
        qs.append(["blast", s["fqdn"]])
    return qs


def run(args: list[str], store: Path) -> dict:
    r = CliRunner().invoke(app, [*args, "--store", str(store)], env={"COLUMNS": "200", "NEO4J_URI": None})
    return {"args": args, "exit": r.exit_code, "stdout": r.stdout, "stderr": r.stderr}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--realdumps", type=Path, default=ROOT.parent / "shared" / "realdumps")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="topo-sweep-"))
    mesh = tmp / "mesh"
    subprocess.run([sys.executable, "-m", "topo.meshgen", "random", "--services", "12", "--pods", "40",
                    "--seed", "7", "--out", str(mesh)], check=True, capture_output=True)
    datasets = {"example": (ROOT / "examples" / "istio-demo", 9, 6), "mesh": (mesh, 2, 5)}
    if a.realdumps.is_dir():
        datasets["realdumps"] = (a.realdumps, 9, 8)
    total = 0
    for name, (src, per_ns, per_pod) in datasets.items():
        store = tmp / f"store-{name}"
        ing = run(["ingest", "--from", str(src), "--name", "sweep"], store)
        ing = json.loads(json.dumps(ing).replace(str(tmp), "TMP"))
        out = a.out / name
        out.mkdir(parents=True, exist_ok=True)
        (out / "000-ingest.json").write_text(json.dumps(ing, indent=1, sort_keys=True))
        for i, q in enumerate(questions(store, per_ns, per_pod), 1):
            for fmt in ("json", "table"):
                res = run([*q, "-o", fmt], store)
                (out / f"{i:03d}-{fmt}.json").write_text(json.dumps(res, indent=1, sort_keys=True))
                total += 1
    print(f"{total} answers in {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
