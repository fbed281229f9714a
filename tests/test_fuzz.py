"""Structural fuzzing of real config dumps (hypothesis).

A seed dump (the examples; ../shared/realdumps when present) gets up to four structural
mutations (delete a key, replace a value with another JSON type, duplicate list items) and
then maybe a byte-level one (truncate, flip bytes). Whatever comes out:

* ``transform_bytes`` returns rows or raises ``DumpError`` with a one-line message, and
  nothing else;
* a full ingest of it (snapshot store) either refuses it or stores it, and then every
  question (path, reach, blast, show, through the CLI) answers or fails with one line.

`make test` runs a short, derandomized version (50 examples on the examples, 20 on the
real dumps). ``TOPO_FUZZ_MINUTES=5`` turns each test into a random search of that many
minutes; the number of examples tried is printed (``-s``) and appended to
``$TOPO_FUZZ_REPORT`` when set.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from badinput.harness import ask, questions
from conftest import EXAMPLE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from topo.ingest import pipeline
from topo.ingest.dump import DumpError
from topo.ingest.sources import Bundle, RawDump
from topo.ingest.transform import transform_bytes
from topo.stores import SnapshotLoader
from topo.stores.snapshot import SnapshotStore

MINUTES = float(os.environ.get("TOPO_FUZZ_MINUTES", "0") or 0)
EXAMPLE_SEEDS = sorted(p for p in EXAMPLE.glob("*.json") if p.name not in ("pods.json", "services.json"))
FIXED_DESTS = ["publictest", "mysql:3306", "10.1.122.241:9000"]

_parsed: dict[Path, Any] = {}


def _doc(path: Path) -> Any:
    if path not in _parsed:
        from topo.ingest.dump import parse_json

        _parsed[path] = parse_json(path.read_bytes())
    return _parsed[path]


def _dumps(doc: Any) -> bytes:
    try:
        return orjson.dumps(doc)
    except TypeError:  # integers beyond 64 bits, or nesting past orjson's limit
        return json.dumps(doc, separators=(",", ":")).encode()


# ---------------------------------------------------------------- mutations
def _slots(doc: Any) -> tuple[list[tuple[Any, Any]], list[tuple[dict[str, Any], str]], list[list[Any]]]:
    """Every (container, key-or-index), the dict entries among them, and the non-empty lists."""
    slots: list[tuple[Any, Any]] = []
    entries: list[tuple[dict[str, Any], str]] = []
    lists: list[list[Any]] = []
    stack = [doc]
    while stack:
        c = stack.pop()
        if isinstance(c, dict):
            for k, v in c.items():
                slots.append((c, k))
                entries.append((c, k))
                stack.append(v)
        elif isinstance(c, list):
            if c:
                lists.append(c)
            for i, v in enumerate(c):
                slots.append((c, i))
                stack.append(v)
    return slots, entries, lists


NAMES = ["outbound|9000|v1|publictest.istio-demo.svc.cluster.local", "PassthroughCluster", "0.0.0.0", "*",
         "10.1.122.241", "publictest.istio-demo.svc.cluster.local:9000", "virtualOutbound", "", "/", "a" * 300,
         "x`}{'\"//", "type.googleapis.com/envoy.admin.v3.ListenersConfigDump"]
JSON_VALUES = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1, 2**32, 2**32 + 1, 2**63 - 1, 2**63, 2**64 + 1, 65536]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12), st.sampled_from(NAMES),
    st.just([]), st.just({}),
    st.lists(st.one_of(st.none(), st.integers(), st.text(max_size=4)), max_size=3),
    st.dictionaries(st.sampled_from(["name", "value", "port_value", "x", "@type"]),
                    st.one_of(st.none(), st.integers(), st.text(max_size=4)), max_size=2),
)


def mutate(data: st.DataObject, doc: Any) -> tuple[bytes, list[str]]:
    doc = orjson.loads(orjson.dumps(doc))  # a private copy
    log: list[str] = []
    for _ in range(data.draw(st.integers(min_value=0, max_value=4), label="structural mutations")):
        slots, entries, lists = _slots(doc)
        kind = data.draw(st.sampled_from(["delete", "retype", "duplicate"]), label="kind")
        if kind == "delete" and entries:
            c, k = entries[data.draw(st.integers(0, len(entries) - 1), label="entry")]
            del c[k]
            log.append(f"delete {k!r}")
        elif kind == "duplicate" and lists:
            lst = lists[data.draw(st.integers(0, len(lists) - 1), label="list")]
            i = data.draw(st.integers(0, len(lst) - 1), label="item")
            times = data.draw(st.integers(1, 3), label="times")
            lst[i:i] = [orjson.loads(_dumps(lst[i])) for _ in range(times)]
            log.append(f"duplicate item {i} x{times}")
        elif slots:
            c, k = slots[data.draw(st.integers(0, len(slots) - 1), label="slot")]
            c[k] = data.draw(JSON_VALUES, label="value")
            log.append(f"set {k!r} = {c[k]!r:.60}")
    raw = _dumps(doc)
    tail = data.draw(st.sampled_from(["none", "none", "none", "truncate", "flip"]), label="bytes")
    if tail == "truncate" and raw:
        n = data.draw(st.integers(0, len(raw) - 1), label="cut")
        raw = raw[:n]
        log.append(f"truncate at {n}")
    elif tail == "flip" and raw:
        b = bytearray(raw)
        for _ in range(data.draw(st.integers(1, 8), label="flips")):
            i = data.draw(st.integers(0, len(b) - 1), label="at")
            b[i] ^= data.draw(st.integers(1, 255), label="mask")
        raw = bytes(b)
        log.append("flip bytes")
    return raw, log


# ---------------------------------------------------------------- the property
STATS = {"examples": 0, "refused": 0, "ingested": 0, "questions": 0}


def check(raw: bytes, log: list[str], ask_questions: bool = True) -> None:
    STATS["examples"] += 1
    try:
        transform_bytes(raw, "fuzz.json")
    except DumpError as e:
        msg = str(e)
        assert msg and "\n" not in msg, (msg, log)
        STATS["refused"] += 1
        return
    # no other exception may escape: hypothesis reports it with the mutation log
    with tempfile.TemporaryDirectory() as tmp:
        st_ = SnapshotStore(Path(tmp) / "s")
        res = pipeline.run(Bundle(dumps=iter([RawDump("fuzz.json", raw)]), total=1), SnapshotLoader(st_, "s"))
        assert len(res.files) == 1, (res.refused, log)
        STATS["ingested"] += 1
        if not ask_questions:
            return
        snap = st_.load()
        pod = snap.nodes["Pod"][0]["id"]
        svc = [f"{s['fqdn']}:{s['ports'][0]}" for s in snap.nodes.get("Service", []) if s.get("ports")][:2]
        qs = questions(pod, FIXED_DESTS[:1] + svc)
        n, crashes = ask(st_.root, qs)
        STATS["questions"] += n
        assert not crashes, (crashes, log)


def _report(name: str, t0: float) -> None:
    line = (f"fuzz {name}: {STATS['examples']} examples ({STATS['refused']} refused, {STATS['ingested']} ingested), "
            f"{STATS['questions']} questions, {time.monotonic() - t0:.0f} s")
    print(line)
    if os.environ.get("TOPO_FUZZ_REPORT"):
        with open(os.environ["TOPO_FUZZ_REPORT"], "a") as f:
            f.write(line + "\n")


SHORT = settings(max_examples=50, derandomize=True, deadline=None, database=None, print_blob=True,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                        HealthCheck.function_scoped_fixture])


def _run(seeds: list[Path], name: str, short_examples: int, ask_questions: bool = True) -> None:
    for k in STATS:
        STATS[k] = 0

    def prop() -> Any:
        @given(data=st.data())
        def fuzz(data: st.DataObject) -> None:
            seed = seeds[data.draw(st.integers(0, len(seeds) - 1), label="seed")]
            raw, log = mutate(data, _doc(seed))
            check(raw, [seed.name, *log], ask_questions)

        return fuzz

    t0 = time.monotonic()
    if not MINUTES:
        settings(SHORT, max_examples=short_examples)(prop())()
    else:  # a random search until the time is up, in rounds of 200 examples
        deadline = t0 + MINUTES * 60
        while time.monotonic() < deadline:
            settings(SHORT, max_examples=200, derandomize=False)(prop())()
    _report(name, t0)


def test_fuzz_example_dumps() -> None:
    _run(EXAMPLE_SEEDS, "examples", 50)


def test_fuzz_real_dumps(realdumps: Path) -> None:
    seeds = sorted(p for p in realdumps.rglob("*") if p.suffix in (".json", ".yaml") and p.is_file()
                   and (MINUTES or p.stat().st_size < 400_000))
    assert seeds
    # real dumps are larger: the short run tries fewer of them
    _run(seeds, "realdumps", 20)


@pytest.mark.parametrize("seed", EXAMPLE_SEEDS[:1], ids=lambda p: p.stem)
def test_unmutated_seed_ingests(seed: Path) -> None:
    """The property holds trivially on the untouched seed: it ingests and answers."""
    check(seed.read_bytes(), [seed.name])
    assert STATS["ingested"] >= 1


# ---------------------------------------------------------------- the shared parse
def _outcome(warm: bytes, data: bytes, cache: dict | None) -> Any:
    """The rows of an ingest of ``warm`` then ``data`` (or ``data``'s refusal)."""
    from topo.model.rows import Rows

    rows = Rows()
    rows.merge(transform_bytes(warm, "warm.json", None, cache).rows)
    try:
        rows.merge(transform_bytes(data, "x.json", None, cache).rows)
    except DumpError as e:
        return ("refused", str(e))
    return ("rows", rows.nodes, rows.rels)


@settings(max_examples=60 if not MINUTES else 10**9, deadline=None, derandomize=not MINUTES,
          suppress_health_check=list(HealthCheck))
@given(seed=st.sampled_from(EXAMPLE_SEEDS), edits=st.lists(
    st.tuples(st.sampled_from(["drop", "dup", "dedent", "indent", "brace"]), st.integers(0, 10**6)),
    min_size=1, max_size=3))
def test_line_edits_parse_the_same_shared_or_not(seed, edits):
    """Ingest cuts pretty-printed dumps into resources by their lines (parse_chunked): whatever
    is done to those lines, the outcome must be the plain parse's, rows or refusal alike."""
    lines = seed.read_bytes().split(b"\n")
    for op, at in edits:
        i = at % len(lines)
        if op == "drop":
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "dedent":
            lines[i] = lines[i][1:]
        elif op == "indent":
            lines[i] = b" " + lines[i]
        else:
            lines.insert(i, lines[i][: len(lines[i]) - len(lines[i].lstrip())] + b"}")
    data = b"\n".join(lines)
    # the intact dump first, so that the shared parse has resources to reuse
    assert _outcome(seed.read_bytes(), data, {}) == _outcome(seed.read_bytes(), data, None)
