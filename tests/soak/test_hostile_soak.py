"""The seeded hostile-name and secret-marker fuzzer (`make soak`; issue 17).

Each seed takes the example's `integration` dump with every secret of tests/test_hardening.py's
SECRETS planted where Envoy keeps them (seeded_dump), inserts hostile fragments (Rich markup,
terminal escapes, control characters: tests/badinput/hostile.py) into randomly chosen strings,
ingests it beside the rest of the example into the embedded store and into the real Neo4j, and
runs every question command on it as table, JSON and YAML on both backends. Whatever comes out:

* no command raises (any exit code is fine), no traceback;
* no ESC byte and no raw control character on stdout or stderr (JSON and YAML keep their own
  escaping), markup printed as the brackets it is made of;
* no secret in the store's files, in Neo4j's properties, or in any output.

``TOPO_SOAK_SEEDS`` (default 12) seeds, from ``TOPO_SOAK_SEED0`` (default 1): a failure names
its seed, which reproduces it.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from badinput import hostile
from conftest import EXAMPLE
from test_hardening import SECRETS, _found, seeded_dump
from typer.testing import CliRunner

from topo.cli import app

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not os.environ.get("TOPO_SOAK"), reason="soak test: `make soak` (TOPO_SOAK=1)")]

SEEDS = int(os.environ.get("TOPO_SOAK_SEEDS", "12"))
SEED0 = int(os.environ.get("TOPO_SOAK_SEED0", "1"))
POD = "integration-86924652-bfsfs.json"


def _commands() -> list[list[str]]:
    h = hostile.hostile("Z9")
    qs = [["path", "integration", "publictest"], ["path", "integration", "mysql:3306"],
          ["path", "integration", "publictest", "--host", "publictest" + h, "--path", "/" + h, "--header", "x-h=" + h],
          ["path", "integration", "http://publictest:9000/p" + h], ["path", "integration", h],
          ["reach", "integration"], ["reach", "--to", "publictest"], ["reach", "--to", h],
          ["blast", "publictest"], ["blast", h], ["check"], ["check", "--pod", "integration"],
          *(["show", s, "integration"] for s in ("all", "listeners", "routes", "clusters", "endpoints"))]
    return [[*q, *o] for q in qs for o in ([], ["-o", "json"], ["-o", "yaml"])]


def _bundle(tmp: Path, seed: int) -> Path:
    rng = random.Random(seed)
    doc = hostile.mutate(seeded_dump(), rng, rng.randint(1, 40))
    src = tmp / f"in-{seed}"
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns("README*"))
    (src / POD).write_bytes(orjson.dumps(doc))
    return src


def _neo4j_strings(driver: Any) -> list[str]:
    out = []
    for q in ("MATCH (x) RETURN properties(x) AS p", "MATCH ()-[x]->() RETURN properties(x) AS p"):
        for rec in driver.execute_query(q, database_="neo4j").records:
            for v in rec["p"].values():
                out += [s for s in (v if isinstance(v, list) else [v]) if isinstance(s, str)]
    return out


def test_hostile_names_and_secrets_on_every_command_both_backends(tmp_path, neo4j_db, neo4j_uri):
    runner = CliRunner()
    problems: list[str] = []
    commands = _commands()
    ran = 0
    for seed in range(SEED0, SEED0 + SEEDS):
        src = _bundle(tmp_path, seed)
        store = tmp_path / f"store-{seed}"
        neo4j_db.execute_query("MATCH (n) DETACH DELETE n", database_="neo4j")
        for where, backend in (("snapshot", ["--store", str(store)]), ("neo4j", ["--neo4j", neo4j_uri])):
            r = runner.invoke(app, ["ingest", "--from", str(src), *backend])
            problems += [f"seed {seed} {where}: {p}" for p in hostile.check_result(r, ["ingest"])]
            problems += [f"seed {seed} {where}: {p}" for p in _found(r.stdout + r.stderr, "ingest output")]
            for q in commands:
                res = runner.invoke(app, [*q, *backend])
                ran += 1
                problems += [f"seed {seed} {where}: {p}" for p in hostile.check_result(res, q)]
                # a secret the request itself carries is not a leak; none of these requests carry one
                problems += [f"seed {seed} {where}: {p}" for p in _found(res.stdout + res.stderr, " ".join(q)[:80])]
        for f in store.rglob("*"):
            if f.is_file():
                problems += [f"seed {seed}: {p}" for p in _found(f.read_bytes(), str(f.relative_to(store)))]
        for s in _neo4j_strings(neo4j_db):
            problems += [f"seed {seed}: {p}" for p in _found(s, "a Neo4j property")]
        shutil.rmtree(src)
    print(f"\nhostile soak: {SEEDS} seeds, {len(SECRETS)} secrets planted in each, {ran} commands on both backends, "
          f"{len(problems)} problems")
    assert not problems, "\n".join(problems[:40])
