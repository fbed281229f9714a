"""Goldens for topo's own output: the table and ``-o json`` of path, reach, blast, check and show,
on the bundled example and on two real dumps. ``TOPO_UPDATE_GOLDEN=1`` rewrites them; review the
diff before committing (these files are what a user sees)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from conftest import EXAMPLE, REALDUMPS, ROOT, need
from typer.testing import CliRunner

from topo.cli import app

UPDATE = os.environ.get("TOPO_UPDATE_GOLDEN") == "1"
GOLDEN = ROOT / "tests" / "golden" / "cli"

DSB = "TZ-Zephrus__DeathStarBench"
BOOKINFO = "hpcsc__bookinfo-envoy-config/envoy__config_dump__productpage-v1.json"
DATASETS = {"example": EXAMPLE, "deathstarbench": Path(DSB), "bookinfo": Path(BOOKINFO)}
QUESTIONS: dict[str, list[list[str]]] = {
    "example": [
        ["path", "integration", "publictest"],
        ["path", "integration", "http://publictest:9000/api", "--header", "x-canary=yes"],
        ["path", "publictest-v1", "integration"],
        ["reach", "integration"],
        ["reach", "--to", "publictest"],
        ["reach", "--to", "outbound|9000|v2|publictest.istio-demo.svc.cluster.local"],
        ["blast", "publictest-v2-2f7hnnppwq-7bxfw"],
        ["blast", "publictest"],
        ["check"],
        ["show", "listeners", "integration"],
        ["show", "routes", "integration"],
        ["show", "clusters", "integration"],
        ["show", "endpoints", "integration"],
    ],
    "deathstarbench": [
        ["path", "geo", "reviews.default", "--port", "9080"],
        ["path", "geo", "http://frontend.hr2:5000/hotels"],
        ["reach", "geo"],
        ["reach", "--to", "reviews.default.svc.cluster.local"],
        ["blast", "outbound|9080||reviews.default.svc.cluster.local"],
        ["check"],
        ["show", "routes", "geo"],
        ["show", "clusters", "geo"],
    ],
    "bookinfo": [
        ["path", "productpage", "reviews", "--port", "9080"],
        ["reach", "productpage"],
        ["reach", "--to", "details.bookinfo.svc.cluster.local"],
        ["check"],
        ["show", "listeners", "productpage"],
        ["show", "routes", "productpage"],
    ],
}
# `show -o json` prints the dump's own resources: for a real dump that would be a copy of it
CASES = [(ds, q, fmt) for ds, qs in QUESTIONS.items() for q in qs for fmt in ("table", "json")
         if not (fmt == "json" and q[0] == "show" and ds != "example")]


def _slug(q: list[str]) -> str:
    return re.sub(r"[^A-Za-z0-9.=-]+", "_", " ".join(q)).strip("_")[:100]


@pytest.fixture(scope="module")
def stores() -> dict[str, Path]:
    return {}


def _store(stores: dict[str, Path], ds: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if ds not in stores:
        src = DATASETS[ds]
        if not src.is_absolute():
            need(REALDUMPS.is_dir(), f"{REALDUMPS} is absent")
            src = REALDUMPS / src
        st = tmp_path_factory.mktemp(ds) / "store"
        r = CliRunner().invoke(app, ["ingest", "--from", str(src), "--store", str(st)])
        assert r.exit_code == 0, r.output
        stores[ds] = st
    return stores[ds]


@pytest.mark.parametrize(("ds", "q", "fmt"), CASES, ids=[f"{d}-{_slug(q)}-{f}" for d, q, f in CASES])
def test_output_is_the_golden(stores, tmp_path_factory, ds, q, fmt):
    st = _store(stores, ds, tmp_path_factory)
    r = CliRunner().invoke(app, [*q, "--store", str(st), "-o", fmt], env={"COLUMNS": "200"})
    got = f"exit {r.exit_code}\n{r.stdout}" + (f"--- stderr\n{r.stderr}" if r.stderr else "")
    assert str(st) not in got
    f = GOLDEN / ds / f"{_slug(q)}.{'txt' if fmt == 'table' else 'json'}"
    if UPDATE:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(got)
    assert f.exists(), f"{f} is missing: run with TOPO_UPDATE_GOLDEN=1"
    assert got == f.read_text(), f"{f.relative_to(ROOT)} changed: review, then TOPO_UPDATE_GOLDEN=1 to accept"
