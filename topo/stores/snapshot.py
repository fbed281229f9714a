"""The embedded store: snapshots of rows on disk, written atomically.

Layout of a store directory::

    STORE/
      CURRENT                    # name of the current snapshot (replaced atomically)
      snapshots/<name>.json      # immutable once written

A snapshot is first written to a temporary file in the same directory, flushed and
fsynced, then renamed into place; only then is CURRENT replaced, the same way.
A reader follows CURRENT to a complete file, so it sees the old snapshot or the new
one and never half of one; an ingest killed at any point leaves the old one current.

The store is ``--store PATH``, else ``$TOPO_STORE``, else ``$XDG_DATA_HOME/topo``
(``~/.local/share/topo``).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from topo.rows import Rows
from topo.schema import SCHEMA
from topo.util import atomic_write as _atomic_write

FORMAT = "topo-snapshot/3"


class StoreError(Exception):
    """A store or snapshot problem, with a one-line message."""


def default_store() -> Path:
    env = os.environ.get("TOPO_STORE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "topo"


@dataclass
class Snapshot:
    """Node rows by label; relationships by type, then by source key: ``[[dst, props], …]``.

    Grouping relationships by source on disk is what lets the embedded backend load only
    the part of the graph a question walks (topo.stores.nxstore)."""

    name: str
    meta: dict[str, Any]
    nodes: dict[str, list[dict[str, Any]]]
    rels: dict[str, dict[str, list[list[Any]]]]
    # Reads the heavy properties ({label: {key: {prop: value}}}) when a command needs them.
    heavy: Callable[[], dict[str, dict[str, dict[str, Any]]]] = lambda: {}

    def rel_rows(self, type_: str) -> list[dict[str, Any]]:
        """One type's relationships as flat rows (``src``, ``dst`` and properties)."""
        return [{"src": src, "dst": dst, **(props or {})}
                for src, out in self.rels.get(type_, {}).items() for dst, props in out]


def rels_by_source(rows: Rows) -> dict[str, dict[str, list[list[Any]]]]:
    """Relationships as a snapshot stores them: by type, then by source key, ``[[dst, props], …]``."""
    rels: dict[str, dict[str, list[list[Any]]]] = {}
    for rt in SCHEMA.rels:
        by_src: dict[str, list[list[Any]]] = {}
        for r in rows.rel_rows(rt.type):
            src, dst = r.pop("src"), r.pop("dst")
            by_src.setdefault(src, []).append([dst, r or None])
        rels[rt.type] = by_src
    return rels


def snapshot_of(rows: Rows, name: str = "memory") -> Snapshot:
    """Rows as an in-memory snapshot (heavy properties kept inline), without touching disk."""
    return Snapshot(name, {}, {nt.label: rows.node_rows(nt.label) for nt in SCHEMA.nodes}, rels_by_source(rows))


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$")


class SnapshotStore:
    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root else default_store()

    @property
    def snapdir(self) -> Path:
        return self.root / "snapshots"

    def current_name(self) -> str | None:
        try:
            name = (self.root / "CURRENT").read_text().strip()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise StoreError(f"cannot read {self.root / 'CURRENT'}: {e.strerror}") from None
        return name or None

    def names(self) -> list[str]:
        if not self.snapdir.is_dir():
            return []
        return sorted(p.name[:-5] for p in self.snapdir.glob("*.json") if not p.name.startswith("."))

    def save(self, rows: Rows, meta: dict[str, Any], name: str | None = None) -> str:
        """Write rows as a new snapshot and make it current. Returns its name."""
        if name is not None and not _NAME.match(name):
            raise StoreError(f"invalid snapshot name {name!r}: use letters, digits, '.', '_' and '-'")
        try:
            self.snapdir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot create store {self.root}: {e.strerror}") from None
        if name is None:
            name = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            base, n = name, 1
            while (self.snapdir / f"{name}.json").exists():
                n += 1
                name = f"{base}-{n}"
        nodes: dict[str, list[dict[str, Any]]] = {}
        heavy: dict[str, dict[str, dict[str, Any]]] = {}
        for nt in SCHEMA.nodes:
            hp = [p.name for p in nt.props if p.heavy]
            rows_ = rows.node_rows(nt.label)
            if hp:
                heavy[nt.label] = {r[nt.key]: {h: r.pop(h) for h in hp} for r in rows_}
            nodes[nt.label] = rows_
        doc = {"format": FORMAT, "meta": meta, "nodes": nodes, "rels": rels_by_source(rows)}
        try:
            # heavy properties first: the light file is what makes a snapshot exist
            _atomic_write(self.snapdir / f"{name}.heavy", orjson.dumps(heavy))
            _atomic_write(self.snapdir / f"{name}.json", orjson.dumps(doc))
            _atomic_write(self.root / "CURRENT", (name + "\n").encode())
        except OSError as e:
            raise StoreError(f"cannot write snapshot in {self.root}: {e.strerror}") from None
        return name

    def path_of(self, name: str | None = None) -> Path:
        if name is None:
            name = self.current_name()
            if name is None:
                raise StoreError(f"no snapshot in {self.root}: run `topo ingest --from DIR` first")
        if not _NAME.match(name):
            raise StoreError(f"invalid snapshot name {name!r}")
        return self.snapdir / f"{name}.json"

    def load(self, name: str | None = None) -> Snapshot:
        # CURRENT may move between reading it and opening the file (pruning); retry once.
        for attempt in range(3):
            path = self.path_of(name)
            try:
                data = path.read_bytes()
                break
            except FileNotFoundError:
                if name is not None or attempt == 2:
                    raise StoreError(f"snapshot {path.name} not found in {self.snapdir}") from None
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise StoreError(f"snapshot {path} is not valid JSON") from None
        if not isinstance(doc, dict) or not str(doc.get("format", "")).startswith("topo-snapshot/"):
            raise StoreError(f"{path} is not a topo snapshot")
        if doc["format"] != FORMAT:
            raise StoreError(f"{path} is {doc['format']}, this topo reads {FORMAT}: run `topo ingest` again")
        name = path.name[:-5]
        return Snapshot(name=name, meta=doc.get("meta", {}), nodes=doc["nodes"], rels=doc["rels"],
                        heavy=lambda: self.load_heavy(name))

    def load_heavy(self, name: str) -> dict[str, dict[str, dict[str, Any]]]:
        """Heavy properties (raw resources) of a snapshot: {label: {key: {prop: value}}}."""
        try:
            heavy: dict[str, dict[str, dict[str, Any]]] = orjson.loads((self.snapdir / f"{name}.heavy").read_bytes())
            return heavy
        except FileNotFoundError:
            return {}

    def prune(self, keep: int) -> list[str]:
        cur = self.current_name()
        names = self.names()
        drop = [n for n in names[: max(len(names) - keep, 0)] if n != cur]
        for n in drop:
            for suffix in (".json", ".heavy"):
                try:
                    (self.snapdir / f"{n}{suffix}").unlink()
                except FileNotFoundError:
                    pass
        return drop


