"""Hostile names: dumps whose names carry Rich markup, terminal escapes and control characters,
every command run on them, and a scan of what they print.

Shared by tests/test_hardening.py (one fixed hostile copy of the example, on both backends) and
the soak fuzzer (tests/soak/test_hostile_soak.py: seeded random mutations). A name is data: what
a command prints must hold no ESC byte and no other raw control character (a newline only as a
line end), and markup in a name must print as the brackets it is made of.
"""

from __future__ import annotations

import random
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

# markup Rich would read (a style, a link, a bare closing tag that has nothing to close, an
# emoji code), then what a terminal would act on: a screen clear, a title change, an OSC 8
# link, BEL, NUL, C1 CSI, a right-to-left override, newline, tab, carriage return
MARKUP = "[bold]B[/bold][link=x]L[/link][/]:warning:"
CONTROLS = "\x1b[2J\x1b]0;T\x07\x1b]8;;x\x07O\x1b]8;;\x07\x00\x9b\u202e\n\tq\r"
# a file name holds no NUL and no slash, so no closing tag: its markup opens a style and a link
FILE_MARKUP = "[bold]B[link=x]L:warning:"
FILE_CONTROLS = CONTROLS.replace("\x00", "")


def hostile(tag: str) -> str:
    """A hostile fragment: ``Z<n>`` (a marker the scan counts), the markup, the control characters."""
    return f"{tag}{MARKUP}{CONTROLS}"


def hostile_file(tag: str) -> str:
    """A hostile fragment of a file name: ``F<n>``, markup, control characters."""
    return f"{tag}{FILE_MARKUP}{FILE_CONTROLS}"


# characters a table or a message may never print raw, written out here rather than taken from
# topo.util.printable: C0 but the newline that ends a line, DEL, C1, bidirectional controls,
# line and paragraph separators, lone surrogates, U+FFFE and U+FFFF
_RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]")
# each marker is followed by its markup, as written (the case aside: --method is upper-cased)
MARKERS = ((re.compile(r"Z\d+(?=\[)", re.I), MARKUP.lower()), (re.compile(r"F\d+(?=\[)", re.I), FILE_MARKUP.lower()))


def scan(text: str, where: str, *, structured: bool = False) -> list[str]:
    """What is wrong with one command's output. ``structured``: JSON or YAML, whose own
    escaping is kept (no raw C0 control, no ESC); otherwise text, where every tag is followed by
    the markup as written."""
    out = []
    if "\x1b" in text:
        out.append(f"{where}: an ESC byte at {text.index(chr(27))}: {text[max(text.index(chr(27)) - 40, 0):][:80]!r}")
    if structured:
        raw = [c for c in text if ord(c) < 0x20 and c not in "\n"]
        if raw:
            out.append(f"{where}: raw control characters {sorted(set(raw))!r}")
        return out
    m = _RAW.search(text)
    if m:
        out.append(f"{where}: raw {m[0]!r} at {m.start()}: {text[max(m.start() - 40, 0):][:80]!r}")
    if "\u26a0" in text:
        out.append(f"{where}: an emoji code was rendered")
    low = text.lower()
    for tags, markup in MARKERS:
        found = [m.end() for m in tags.finditer(text)]
        broken = [i for i in found if not low.startswith(markup, i)]
        if broken:
            out.append(f"{where}: {len(found)} hostile names printed, {len(broken)} without their markup as written: "
                       f"{text[max(broken[0] - 20, 0):][:120]!r}")
    return out


# ---------------------------------------------------------------- a hostile copy of the example
def _sub(o: Any, subs: list[tuple[str, str]]) -> Any:
    if isinstance(o, dict):
        return {_sub(k, subs): _sub(v, subs) for k, v in o.items()}
    if isinstance(o, list):
        return [_sub(v, subs) for v in o]
    if isinstance(o, str):
        for a, b in subs:
            if a in o:
                o = o.replace(a, b)
        return o
    return o


V2_POD = "publictest-v2-2f7hnnppwq-7bxfw"


def hostile_example(example: Path, out: Path) -> dict[str, str]:
    """The example with hostile names where a question reaches them: the route publictest-route,
    subset v1 (every cluster name and reference), the v2 pod, a route to a cluster that does not
    exist (a dead end, a `check` finding), a listener whose last push was rejected with a hostile
    error, and a file of that name that is not a dump. Returns the names to ask about."""
    names = {
        "route": "publictest-route" + hostile("Z1"),
        "subset": "v1" + hostile("Z2"),
        "pod": "publictest-v2" + hostile("Z3") + "-2f7hnnppwq-7bxfw",
        "missing": "outbound|9000|gone" + hostile("Z4") + "|publictest.istio-demo.svc.cluster.local",
        "prefix": "/x" + hostile("Z5"),
        "error": "rejected: " + hostile("Z6"),
        "file": "bad" + hostile_file("F1") + ".json",
    }
    subs = [("publictest-route", names["route"]), ("|v1|", "|" + names["subset"] + "|"),
            (V2_POD, names["pod"])]
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for f in sorted(example.glob("*.json")):
        doc = _sub(orjson.loads(f.read_bytes()), subs)
        if f.name.startswith("integration-"):
            _add_dead_end(doc, names)
        (out / f.name.replace(V2_POD, "publictest-v2" + hostile_file("F2"))).write_bytes(orjson.dumps(doc))
    (out / names["file"]).write_bytes(b"not a dump")
    return names


def _configs(doc: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [c for c in doc["configs"] if c["@type"].endswith(kind)]


def _add_dead_end(doc: dict[str, Any], names: dict[str, str]) -> None:
    for c in _configs(doc, "RoutesConfigDump"):
        for item in c.get("dynamic_route_configs", []):
            for vh in item["route_config"].get("virtual_hosts", []):
                if vh["name"].startswith("publictest."):
                    vh["routes"].insert(0, {"name": "gone" + hostile("Z8"), "match": {"prefix": names["prefix"]},
                                            "route": {"cluster": names["missing"]}})
    for c in _configs(doc, "ListenersConfigDump"):
        lst = c["dynamic_listeners"][0]
        lst["error_state"] = {"details": names["error"], "failed_configuration": {"name": lst["name"]}}


def commands(names: dict[str, str], pod: str = "integration") -> list[list[str]]:
    """Every question command on the hostile example, each as table, JSON and YAML. Names the
    user types are hostile too (--host, --path, --method, --header, a URL, SRC, DST, TARGET)."""
    h = hostile("Z9")
    qs = [["path", pod, "publictest"], ["path", pod, "publictest", "--path", names["prefix"]],
          ["path", pod, "publictest", "--host", "publictest" + h, "--method", "GET" + h, "--header", "x-h=" + h,
           "--path", "/" + h],
          ["path", pod, "http://publictest:9000/p" + h], ["path", pod, h], ["path", h, "publictest"],
          ["path", "publictest-v2", "publictest"],
          ["reach", pod], ["reach", "--to", "publictest"], ["reach", "--to", h], ["reach", "publictest-v2"],
          ["blast", "10.244.0.61"], ["blast", "publictest-v2"], ["blast", names["pod"]], ["blast", names["missing"]], ["blast", h],
          ["show", "all", pod], ["show", "listeners", pod], ["show", "routes", pod], ["show", "clusters", pod],
          ["show", "endpoints", pod], ["show", "endpoints", pod, "--outlier"], ["show", "routes", pod, "--name", h],
          ["show", "clusters", "publictest-v2"], ["show", "all", h],
          ["check"], ["check", "--pod", pod], ["check", "--pod", h],
          # issue 16's questions: request classes, locality what-ifs
          ["search", pod, "--outcome", "all"], ["search", "-A"], ["search", pod, "--outcome", "NC" + h], ["search", h],
          ["blast", "--zone", h], ["blast", "--node", h], ["path", pod, "publictest", "--from-zone", h]]
    return [[*q, *o] for q in qs for o in ([], ["-o", "json"], ["-o", "yaml"])]


def run_all(invoke: Callable[[list[str]], Any], qs: list[list[str]]) -> tuple[int, list[str]]:
    """Run each command (``invoke`` returns a CliRunner result); returns (how many, problems)."""
    problems: list[str] = []
    for q in qs:
        problems += check_result(invoke(q), q)
    return len(qs), problems


def check_result(r: Any, q: list[str]) -> list[str]:
    """A CliRunner result of command ``q``: no exception but an exit, no traceback, clean
    stdout and stderr."""
    where = " ".join(map(repr, q))[:200]
    out: list[str] = []
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        out.append(f"{where}: {type(r.exception).__name__}: {str(r.exception)[:200]}")
    structured = any(a in ("json", "yaml") and b in ("-o", "--output") for a, b in zip(q[1:], q, strict=False))
    for name, text in (("stdout", r.stdout), ("stderr", r.stderr)):
        if "Traceback" in text:
            out.append(f"{where}: a traceback on {name}")
        out += scan(text, f"{where} ({name})", structured=structured and name == "stdout")
    return out


def mutate(doc: Any, rng: random.Random, n: int) -> Any:
    """``n`` strings of a dump (names, domains, paths, header names …) with a hostile fragment
    inserted at a random place (the fuzzer's mutation; references may then dangle, as they may
    in a real dump)."""
    slots: list[tuple[Any, Any]] = []
    stack = [doc]
    while stack:
        c = stack.pop()
        items = c.items() if isinstance(c, dict) else enumerate(c) if isinstance(c, list) else ()
        for k, v in items:
            if isinstance(v, str) and k not in ("@type", "type_url"):
                slots.append((c, k))
            elif isinstance(v, dict | list):
                stack.append(v)
    for i, (c, k) in enumerate(rng.sample(slots, min(n, len(slots)))):
        v = c[k]
        at = rng.randint(0, len(v))
        c[k] = v[:at] + hostile(f"Z{100 + i}") + v[at:]
    return doc
