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

from topo.errors import TopoError
from topo.model.rows import Rows
from topo.model.schema import SCHEMA
from topo.util import atomic_write as _atomic_write

FORMAT = "topo-snapshot/4"
SUFFIXES = (".json", ".heavy")  # the files of one snapshot
SHARD = 2  # a row or a relationship source lives in the segment named by its key's first characters


class StoreError(Exception):
    """A store or snapshot problem, with a one-line message."""


def default_store() -> Path:
    env = os.environ.get("TOPO_STORE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "topo"


def shard_of(key: str) -> str:
    """Child keys start with their parent's (``<listener>/<i>``, ``<route config>/<vh>/<r>``),
    so a listener's chains, or a route config's virtual hosts and routes, share a segment."""
    return key[:SHARD]


def _nseg(label: str, shard: str) -> str:
    return f"N|{label}|{shard}"


def _rseg(type_: str, shard: str) -> str:
    return f"R|{type_}|{shard}"


class Snapshot:
    """Node rows by label; relationships by type, then by source key: ``[[dst, props], …]``.

    Both are cut into segments by key prefix (:func:`shard_of`), and a segment is parsed
    the first time something in it is asked for: a question reads the segments its hops
    reach, not the whole graph (topo.stores.nxgraph). ``nodes`` and ``rels`` give
    everything at once."""

    def __init__(self, name: str, meta: dict[str, Any], *,
                 data: bytes | None = None, index: dict[str, list[int]] | None = None,
                 parsed: dict[str, Any] | None = None,
                 heavy: Callable[[], dict[str, dict[str, dict[str, Any]]]] = lambda: {}) -> None:
        self.name = name
        self.meta = meta
        self.heavy = heavy  # reads the heavy properties ({label: {key: {prop: value}}}) when a command needs them
        self._data = memoryview(data) if data is not None else None
        self._index = index or {}
        self._parsed: dict[str, Any] = parsed or {}
        self._by_prefix: dict[str, list[str]] = {}
        for sid in (*self._index, *self._parsed):
            lst = self._by_prefix.setdefault(sid.rsplit("|", 1)[0], [])
            if sid not in lst:
                lst.append(sid)
        self._rows: dict[str, dict[str, dict[str, Any]]] = {}
        self._rels: dict[str, dict[str, list[list[Any]]]] = {}

    def _seg(self, sid: str) -> Any:
        got = self._parsed.get(sid)
        if got is None:
            span = self._index.get(sid)
            if span is None or self._data is None:
                return None
            got = self._parsed[sid] = orjson.loads(self._data[span[0]:span[0] + span[1]])
        return got

    # ---- nodes
    def _keyed(self, label: str, sid: str) -> dict[str, dict[str, Any]] | None:
        """A node segment as rows by key (parsed and keyed on first use)."""
        seg = self._seg(sid)
        if isinstance(seg, list):
            kname = SCHEMA.node(label).key
            seg = self._parsed[sid] = {r[kname]: r for r in seg}
        return seg

    def row(self, label: str, key: str) -> dict[str, Any] | None:
        """One node row, parsing only its segment."""
        whole = self._rows.get(label)
        if whole is not None:
            return whole.get(key)
        seg = self._keyed(label, _nseg(label, shard_of(key)))
        return seg.get(key) if seg else None

    def rows(self, label: str) -> dict[str, dict[str, Any]]:
        """Every row of a label, by key."""
        got = self._rows.get(label)
        if got is None:
            got = {}
            for sid in self._by_prefix.get(f"N|{label}", ()):
                got.update(self._keyed(label, sid) or {})
            self._rows[label] = got
        return got

    @property
    def nodes(self) -> dict[str, list[dict[str, Any]]]:
        return {nt.label: [r for _k, r in sorted(self.rows(nt.label).items())] for nt in SCHEMA.nodes}

    # ---- relationships
    def out(self, type_: str, src: str) -> list[list[Any]]:
        """``src``'s outgoing relationships of one type, parsing only their segment."""
        whole = self._rels.get(type_)
        if whole is not None:
            return whole.get(src, [])
        seg = self._seg(_rseg(type_, shard_of(src)))
        return seg.get(src, []) if seg else []

    def rel_sources(self, type_: str) -> dict[str, list[list[Any]]]:
        """Every relationship of one type, by source key."""
        got = self._rels.get(type_)
        if got is None:
            got = {}
            for sid in self._by_prefix.get(f"R|{type_}", ()):
                got.update(self._seg(sid) or {})
            self._rels[type_] = got
        return got

    @property
    def rels(self) -> dict[str, dict[str, list[list[Any]]]]:
        return {rt.type: self.rel_sources(rt.type) for rt in SCHEMA.rels}

    def rel_rows(self, type_: str) -> list[dict[str, Any]]:
        """One type's relationships as flat rows (``src``, ``dst`` and properties)."""
        return [{"src": src, "dst": dst, **(props or {})}
                for src, out in self.rel_sources(type_).items() for dst, props in out]


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


def segments(nodes: dict[str, list[dict[str, Any]]], rels: dict[str, dict[str, list[list[Any]]]]) -> dict[str, Any]:
    """Node rows and relationships cut into segments by key prefix (see :class:`Snapshot`)."""
    out: dict[str, Any] = {}
    for nt in SCHEMA.nodes:
        for r in nodes.get(nt.label, ()):
            out.setdefault(_nseg(nt.label, shard_of(r[nt.key])), []).append(r)
    for type_, by_src in rels.items():
        for src, lst in by_src.items():
            out.setdefault(_rseg(type_, shard_of(src)), {})[src] = lst
    return out


def encode(meta: dict[str, Any], segs: dict[str, Any]) -> bytes:
    """One snapshot file: valid JSON, ``{"format", "index_at", "meta", "segments": […], "index": {…}}``.

    ``index`` maps each segment to its [offset, length] in the file, and ``index_at`` (a
    fixed-width string at the top) says where ``index`` starts, so a reader parses the
    index and then only the segments it needs."""
    pre = b'{"format":"' + FORMAT.encode() + b'","index_at":"%012d","meta":'
    mb = orjson.dumps(meta)
    head = pre + mb + b',"segments":['
    parts: list[bytes] = []
    index: dict[str, list[int]] = {"meta": [len(pre % 0), len(mb)]}  # segment names all hold a "|"
    pos = len(head % 0)
    for sid in sorted(segs):
        if parts:
            parts.append(b",")
            pos += 1
        b = orjson.dumps(segs[sid])
        index[sid] = [pos, len(b)]
        parts.append(b)
        pos += len(b)
    tail = b'],"index":'
    at = pos + len(tail)
    return b"".join([head % at, *parts, tail, orjson.dumps(index), b"}"])


_HEAD = re.compile(rb'^\{"format":"(topo-snapshot/[^"]*)"(?:,"index_at":"(\d{12})")?')


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$")


@dataclass
class SnapshotInfo:
    name: str
    current: bool
    pods: int | None
    time: str  # when it was written (UTC, from the file)
    origin: str


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
        doc = encode(meta, segments(nodes, rels_by_source(rows)))
        try:
            # heavy properties first: the light file is what makes a snapshot exist
            _atomic_write(self.snapdir / f"{name}.heavy", orjson.dumps(heavy))
            _atomic_write(self.snapdir / f"{name}.json", doc)
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
        m = _HEAD.match(data[:80])
        if not m:
            try:
                orjson.loads(data)
            except orjson.JSONDecodeError:
                raise StoreError(f"snapshot {path} is not valid JSON") from None
            raise StoreError(f"{path} is not a topo snapshot")
        fmt = m.group(1).decode()
        if fmt != FORMAT or not m.group(2):
            raise StoreError(f"{path} is {fmt}, this topo reads {FORMAT}: run `topo ingest` again")
        try:
            view = memoryview(data)
            index = orjson.loads(view[int(m.group(2)):-1])
            off, n = index.pop("meta")
            meta = orjson.loads(view[off:off + n])
        except (orjson.JSONDecodeError, ValueError, KeyError, TypeError):
            raise StoreError(f"snapshot {path} is damaged (its index does not parse)") from None
        name = path.name[:-5]
        return Snapshot(name, meta if isinstance(meta, dict) else {}, data=data, index=index,
                        heavy=lambda: self.load_heavy(name))

    def meta(self, name: str) -> dict[str, Any]:
        """A snapshot's ``meta``, read through its index without reading the rest of the file."""
        try:
            with open(self.path_of(name), "rb") as f:
                m = _HEAD.match(f.read(80))
                if not m or not m.group(2):
                    return {}
                f.seek(int(m.group(2)))
                index = orjson.loads(f.read()[:-1])
                off, n = index["meta"]
                f.seek(off)
                meta = orjson.loads(f.read(n))
        except (OSError, orjson.JSONDecodeError, ValueError, KeyError, TypeError, StoreError):
            return {}
        return meta if isinstance(meta, dict) else {}

    def infos(self) -> list[SnapshotInfo]:
        """Every snapshot, oldest first (by write time, then name)."""
        cur = self.current_name()
        out = []
        for n in self.names():
            try:
                mtime = os.stat(self.snapdir / f"{n}.json").st_mtime
            except OSError:
                continue
            meta = self.meta(n)
            pods = meta.get("pods")
            out.append((mtime, SnapshotInfo(n, n == cur, pods if isinstance(pods, int) else None,
                                            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(mtime)),
                                            str(meta.get("origin") or ""))))
        out.sort(key=lambda x: (x[0], x[1].name))
        return [i for _t, i in out]

    def resolve(self, name: str) -> str:
        """A snapshot name as a user gives it: ``current`` names the current snapshot (unless a
        snapshot is literally called that)."""
        names = self.names()
        if name in names:
            return name
        if name == "current":
            cur = self.current_name()
            if cur is None:
                raise TopoError(f"no current snapshot in {self.root}", 2)
            return cur
        hint = ", ".join(names[-5:]) or "none"
        raise TopoError(f"no snapshot {name!r} in {self.root} (latest: {hint}; `topo snapshots` lists them)", 2)

    def load_heavy(self, name: str) -> dict[str, dict[str, dict[str, Any]]]:
        """Heavy properties (raw resources) of a snapshot: {label: {key: {prop: value}}}."""
        try:
            heavy: dict[str, dict[str, dict[str, Any]]] = orjson.loads((self.snapdir / f"{name}.heavy").read_bytes())
            return heavy
        except FileNotFoundError:
            return {}

    def by_age(self) -> list[str]:
        """Snapshot names, oldest first by write time (then by name)."""
        out = []
        for n in self.names():
            try:
                out.append((os.stat(self.snapdir / f"{n}.json").st_mtime, n))
            except OSError:
                continue
        return [n for _t, n in sorted(out)]

    def prune(self, keep: int) -> list[str]:
        """Delete all but the newest ``keep`` snapshots (by write time), never the current one."""
        cur = self.current_name()
        names = self.by_age()
        drop = [n for n in names[: max(len(names) - keep, 0)] if n != cur]
        for n in drop:
            for suffix in SUFFIXES:
                try:
                    (self.snapdir / f"{n}{suffix}").unlink()
                except FileNotFoundError:
                    pass
        return drop


