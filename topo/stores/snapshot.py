"""The embedded store: snapshots of rows on disk, written atomically.

Layout of a store directory::

    STORE/
      CURRENT                    # name of the current snapshot (replaced atomically)
      .lock                      # held (flock) while a writer names, writes or prunes snapshots
      snapshots/<name>.json      # immutable once written: rows, in checksummed segments
      snapshots/<name>.heavy     # the raw resources; its generation id matches the .json's

A snapshot is first written to a temporary file in the same directory, flushed and
fsynced, then renamed into place; only then is CURRENT replaced, the same way.
A reader follows CURRENT to a complete file, so it sees the old snapshot or the new
one and never half of one; an ingest killed at any point leaves the old one current.
A reader opens both files of its snapshot at once and keeps them open, and checks that their
generation ids agree, so a later prune or ``--replace`` cannot mix two snapshots under it.
Writers take the store's lock to pick a name, write and move CURRENT, and ``prune`` takes it too,
so two ingests never pick one name and a prune never removes what CURRENT is about to name.

The store is ``--store PATH``, else ``$TOPO_STORE``, else ``$XDG_DATA_HOME/topo``
(``~/.local/share/topo``).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import re
import secrets
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from topo.errors import TopoError
from topo.model.rows import Rows
from topo.model.schema import SCHEMA
from topo.util import atomic_write as _atomic_write
from topo.util import open_regular

FORMAT = "topo-snapshot/4"
SUFFIXES = (".json", ".heavy")  # the files of one snapshot
SHARD = 2  # a row or a relationship source lives in the segment named by its key's first characters
MAX_SNAPSHOT = 4 << 30  # a snapshot file larger than this is not read (a link to /dev/zero, a damaged store)
PRUNE_GRACE = 60.0  # seconds: a snapshot younger than this is never pruned (TOPO_PRUNE_GRACE)


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
                 heavy: Callable[[], dict[str, dict[str, dict[str, Any]]]] = lambda: {},
                 on_close: Callable[[], None] = lambda: None) -> None:
        self.name = name
        self.meta = meta
        self.heavy = heavy  # reads the heavy properties ({label: {key: {prop: value}}}) when a command needs them
        self._on_close = on_close
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

    def close(self) -> None:
        """Release the files the snapshot holds (its .heavy file, kept open from the start so that a
        later prune or re-ingest cannot swap it under a reader)."""
        self._on_close()

    def _seg(self, sid: str) -> Any:
        got = self._parsed.get(sid)
        if got is None:
            span = self._index.get(sid)
            if span is None or self._data is None:
                return None
            got = self._parsed[sid] = parse_segment(self.name, sid, self._data, span)
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


def damaged(name: str, what: str) -> StoreError:
    return StoreError(f"snapshot {name} is damaged ({what}): `topo snapshots --check` verifies every snapshot")


def parse_segment(name: str, sid: str, data: memoryview, span: Any) -> Any:
    """One segment of a snapshot file, checked: its bytes against the checksum the index keeps
    (CRC-32; a snapshot older than the checksums has none), then its JSON and its shape."""
    try:
        off, n = int(span[0]), int(span[1])
    except (TypeError, ValueError, IndexError):
        raise damaged(name, f"the index entry of segment {sid}") from None
    if off < 0 or n < 0 or off + n > len(data):
        raise damaged(name, f"segment {sid} lies past the end of the file: truncated?")
    raw = data[off:off + n]
    if len(span) > 2 and zlib.crc32(raw) != span[2]:
        raise damaged(name, f"segment {sid} does not match its checksum")
    try:
        got = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise damaged(name, f"segment {sid} does not parse") from None
    kind = sid.split("|", 1)[0]
    if kind == "N" and not (isinstance(got, list) and all(isinstance(r, dict) for r in got)) \
            or kind == "R" and not isinstance(got, dict):
        raise damaged(name, f"segment {sid} has the wrong shape")
    if kind == "N":
        label = sid.split("|")[1]
        nt = next((x for x in SCHEMA.nodes if x.label == label), None)
        if nt is None or any(not isinstance(r.get(nt.key), str) for r in got):
            raise damaged(name, f"segment {sid} holds rows without their key")
    return got


def _parse_head(name: str, path: Path, data: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """A snapshot file's index and meta, read through its head (the rest stays bytes)."""
    if len(data) > MAX_SNAPSHOT:
        raise StoreError(f"snapshot {name} is larger than {MAX_SNAPSHOT} bytes: not read")
    m = _HEAD.match(data[:80])
    if not m:
        try:
            orjson.loads(data)
        except orjson.JSONDecodeError:
            raise StoreError(f"snapshot {path} is not valid JSON: `topo snapshots --check` verifies every "
                             "snapshot") from None
        raise StoreError(f"{path} is not a topo snapshot")
    fmt = m.group(1).decode()
    if fmt != FORMAT or not m.group(2):
        raise StoreError(f"{path} is {fmt}, this topo reads {FORMAT}: run `topo ingest` again")
    try:
        view = memoryview(data)
        index = orjson.loads(view[int(m.group(2)):-1])
        off, n = index.pop("meta")[:2]
        meta = orjson.loads(view[off:off + n])
    except (orjson.JSONDecodeError, ValueError, KeyError, TypeError, AttributeError):
        raise damaged(name, "its index does not parse") from None
    if not isinstance(index, dict):
        raise damaged(name, "its index does not parse")
    return index, meta if isinstance(meta, dict) else {}


def _heavy_generation(f: BinaryIO) -> str | None:
    """The generation id at the head of a .heavy file (None for a file older than generation ids)."""
    f.seek(0)
    m = re.match(rb'\{"generation":"([0-9a-f]{1,64})"', f.read(96))
    return m.group(1).decode() if m else None


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

    ``index`` maps each segment to its [offset, length, CRC-32] in the file, and ``index_at`` (a
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
        index[sid] = [pos, len(b), zlib.crc32(b)]
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

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """The store's writer lock (``STORE/.lock``, flock): naming, writing and moving CURRENT, and
        pruning, happen one at a time across processes."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError as e:
            raise StoreError(f"cannot lock store {self.root}: {e.strerror or e}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # (releases the lock)

    def save(self, rows: Rows, meta: dict[str, Any], name: str | None = None, *, replace: bool = False) -> str:
        """Write rows as a new snapshot and make it current. Returns its name.

        Without ``name`` the snapshot is named by UTC time, with a suffix when that name is taken
        (by an ingest a moment ago or one running beside this one). A ``name`` that exists is
        refused unless ``replace``."""
        if name is not None and not _NAME.match(name):
            raise StoreError(f"invalid snapshot name {name!r}: use letters, digits, '.', '_' and '-'")
        try:
            self.snapdir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot create store {self.root}: {e.strerror}") from None
        generation = secrets.token_hex(8)
        nodes: dict[str, list[dict[str, Any]]] = {}
        heavy: dict[str, dict[str, dict[str, Any]]] = {}
        for nt in SCHEMA.nodes:
            hp = [p.name for p in nt.props if p.heavy]
            rows_ = rows.node_rows(nt.label)
            if hp:
                heavy[nt.label] = {r[nt.key]: {h: r.pop(h) for h in hp} for r in rows_}
            nodes[nt.label] = rows_
        doc = encode({**meta, "generation": generation}, segments(nodes, rels_by_source(rows)))
        heavy_doc = b'{"generation":"' + generation.encode() + b'","heavy":' + orjson.dumps(heavy) + b"}"
        with self.lock():
            if name is None:
                name = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
                base, n = name, 1
                while any((self.snapdir / f"{name}{x}").exists() for x in SUFFIXES):
                    n += 1
                    name = f"{base}-{n}"
            elif not replace and (self.snapdir / f"{name}.json").exists():
                raise TopoError(f"snapshot {name} exists in {self.root}: choose another --name, or --replace it", 2)
            try:
                # heavy properties first: the light file is what makes a snapshot exist
                _atomic_write(self.snapdir / f"{name}.heavy", heavy_doc)
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

    def _open(self, path: Path) -> tuple[BinaryIO, int]:
        try:
            return open_regular(path, MAX_SNAPSHOT)
        except FileNotFoundError:
            raise
        except OSError as e:
            raise StoreError(f"snapshot {path.name} in {self.snapdir} cannot be read ({e.strerror or e}): "
                             "`topo snapshots --check` verifies every snapshot") from None

    def load(self, name: str | None = None) -> Snapshot:
        """A snapshot (the current one without ``name``), with both of its files held open.

        CURRENT may move between reading it and opening the files (an ingest, a prune), and a
        ``--replace`` may swap one file between the two opens: then the generation ids differ and
        the pair is opened again."""
        for attempt in range(5):
            path = self.path_of(name)
            try:
                f, _size = self._open(path)
            except FileNotFoundError:
                if name is not None or attempt == 4:
                    raise StoreError(f"snapshot {path.name} not found in {self.snapdir}") from None
                continue
            with f:
                data = f.read(MAX_SNAPSHOT + 1)
            snap_name = path.name[:-5]
            index, meta = _parse_head(snap_name, path, data)
            gen = meta.get("generation")
            try:
                hf: BinaryIO | None = self._open(self.snapdir / f"{snap_name}.heavy")[0]
            except FileNotFoundError:
                hf = None
                if gen is not None:  # (a snapshot older than generation ids may have no heavy file)
                    if attempt < 4:
                        continue
                    raise damaged(snap_name, "its .heavy file is missing") from None
            if gen is not None and hf is not None and _heavy_generation(hf) != gen:
                hf.close()
                if attempt < 4:
                    continue
                raise damaged(snap_name, "its .heavy file belongs to another snapshot")
            return Snapshot(snap_name, meta, data=data, index=index,
                            heavy=functools.partial(self._read_heavy, snap_name, hf),
                            on_close=(hf.close if hf is not None else lambda: None))
        raise StoreError(f"snapshot {name or 'CURRENT'} kept changing while it was opened: try again")

    def check(self, name: str) -> list[str]:
        """What is wrong with one snapshot: every segment read and checked against its checksum,
        the heavy file parsed and matched with the snapshot's generation (empty: nothing)."""
        try:
            snap = self.load(name)
        except (StoreError, TopoError) as e:
            return [str(e)]
        problems: list[str] = []
        try:
            for sid in sorted(snap._index):
                try:
                    snap._seg(sid)
                except StoreError as e:
                    problems.append(str(e))
            try:
                snap.heavy()
            except StoreError as e:
                problems.append(str(e))
        finally:
            snap.close()
        return problems

    def meta(self, name: str) -> dict[str, Any]:
        """A snapshot's ``meta``, read through its index without reading the rest of the file."""
        try:
            f, _size = open_regular(self.path_of(name), MAX_SNAPSHOT)
            with f:
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

    def _read_heavy(self, name: str, f: BinaryIO | None) -> dict[str, dict[str, dict[str, Any]]]:
        """Heavy properties (raw resources) of a snapshot: {label: {key: {prop: value}}}, from the
        .heavy file opened with the snapshot."""
        if f is None:
            return {}
        try:
            f.seek(0)
            doc = orjson.loads(f.read(MAX_SNAPSHOT + 1))
        except OSError as e:
            raise damaged(name, f"its .heavy file cannot be read: {e.strerror or e}") from None
        except orjson.JSONDecodeError:
            raise damaged(name, "its .heavy file does not parse: truncated?") from None
        if isinstance(doc, dict) and "generation" in doc:
            doc = doc.get("heavy")
        if not isinstance(doc, dict) or not all(isinstance(v, dict) for v in doc.values()):
            raise damaged(name, "its .heavy file has the wrong shape")
        return doc

    def by_age(self) -> list[str]:
        """Snapshot names, oldest first by write time (then by name)."""
        out = []
        for n in self.names():
            try:
                out.append((os.stat(self.snapdir / f"{n}.json").st_mtime, n))
            except OSError:
                continue
        return [n for _t, n in sorted(out)]

    def prune(self, keep: int, grace: float | None = None) -> list[str]:
        """Delete all but the newest ``keep`` snapshots (by write time): never the current one and
        never one younger than ``grace`` seconds (TOPO_PRUNE_GRACE, default 60), which an ingest
        or a reader may be about to use. Holds the store's lock, so CURRENT cannot move meanwhile."""
        if grace is None:
            try:
                grace = float(os.environ.get("TOPO_PRUNE_GRACE", PRUNE_GRACE))
            except ValueError:
                grace = PRUNE_GRACE
        if not self.snapdir.is_dir():
            return []
        with self.lock():
            cur = self.current_name()
            now = time.time()
            aged = []
            for n in self.names():
                try:
                    aged.append((os.stat(self.snapdir / f"{n}.json").st_mtime, n))
                except OSError:
                    continue
            aged.sort()
            drop = [n for t, n in aged[: max(len(aged) - keep, 0)] if n != cur and now - t >= grace]
            for n in drop:
                for suffix in SUFFIXES:
                    try:
                        (self.snapdir / f"{n}{suffix}").unlink()
                    except FileNotFoundError:
                        pass
        return drop
