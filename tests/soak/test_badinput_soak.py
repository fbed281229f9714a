"""Every wrong type in every field the reader uses, each ingested and then questioned
(`make soak`; tests/test_hardening.py checks only the transform of the same dumps)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import orjson
import pytest
from badinput import make_corpus
from badinput.harness import ask, questions

from topo.ingest import pipeline
from topo.ingest.sources import Bundle, RawDump
from topo.stores import SnapshotLoader
from topo.stores.snapshot import SnapshotStore

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not os.environ.get("TOPO_SOAK"), reason="soak test: `make soak` (TOPO_SOAK=1)")]


def test_every_wrong_type_ingested_and_questioned():
    base = make_corpus.renamed(make_corpus.base(), "m-matrix")
    n = asked = 0
    crashes: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for key in make_corpus.READER_KEYS:
            for i, w in enumerate(make_corpus.WRONG):
                doc = make_corpus._walk(orjson.loads(orjson.dumps(base)), lambda k, v, key=key, w=w: w if k == key else v)
                st = SnapshotStore(Path(tmp) / f"{n}")
                res = pipeline.run(Bundle(dumps=iter([RawDump(f"{key}-{i}.json", make_corpus.b(doc))]), total=1),
                                   SnapshotLoader(st, "s"))
                n += 1
                for _src, why in res.refused:
                    assert why and "\n" not in why
                if not res.files:
                    continue
                pods = sorted(p["id"] for p in st.load().nodes["Pod"])
                qs = [q for p in pods for q in questions(p, ["publictest", "mysql:3306", "10.1.122.241:9000"])]
                k, c = ask(st.root, qs)
                asked += k
                for msg, which in c.items():
                    crashes.setdefault(msg, []).extend(f"{key}={w!r}: {q}" for q in which[:2])
    print(f"\nsoak wrong types: {n} dumps ingested or refused, {asked} questions, {len(crashes)} kinds of crash")
    assert not crashes, crashes
