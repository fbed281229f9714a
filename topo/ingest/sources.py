"""Sources: where dump bytes come from. They return raw bytes and never parse.

Directory layout read by ``topo ingest --from DIR`` (also what ``topo collect`` writes):

* one config dump per proxy: ``<pod>.json`` (``/config_dump?include_eds``, or
  ``istioctl proxy-config all <pod> -o json``). Any ``*.json``, ``*.yaml``/``*.yml`` (JSON
  inside) or file named ``config_dump…`` counts, in subdirectories too, so an extracted
  ``istioctl bug-report`` works; so does a file of any other name whose first bytes are a
  config dump's (a JSON object with ``configs``). Every other file is skipped with one line
  saying why (:attr:`Bundle.skipped`); hidden files and folders are left alone.
* optional ``<pod>.clusters.json``: Envoy ``/clusters?format=json`` for the same proxy,
  used as its endpoint source when the dump was taken without EDS.
* optional ``pods.json`` and ``services.json``: ``kubectl get pods|svc -o json``.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from topo.util import open_regular, read_regular

MAX_FILE = 512 * 1024 * 1024
_DUMP_SUFFIXES = (".json", ".yaml", ".yml")
CLUSTERS_SUFFIX = ".clusters.json"
PODS = "pods.json"
SERVICES = "services.json"


@dataclass
class RawDump:
    source: str  # a display name: the file path, or kubectl's pod
    data: bytes
    clusters: bytes | None = None


@dataclass
class Bundle:
    """Everything an ingest reads. ``dumps`` is consumed once (it may stream)."""

    dumps: Iterator[RawDump]
    total: int
    pods_json: bytes | None = None
    services_json: bytes | None = None
    refused: list[tuple[str, str]] = field(default_factory=list)
    # files of a --from directory that are not read, and why (they do not make the ingest partial)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    origin: str = ""


class SourceError(Exception):
    """The source as a whole cannot be read (one line)."""


def _read(path: Path) -> bytes:
    """A regular file's bytes, at most MAX_FILE; a FIFO, a device, a directory, a link loop or a
    dangling link is an OSError saying which (never read, never waited on)."""
    return read_regular(path, MAX_FILE)


def _is_companion(p: Path) -> bool:
    n = p.name
    return n in (PODS, SERVICES) or n.endswith(CLUSTERS_SUFFIX)


def _is_dump_name(p: Path) -> bool:
    n = p.name
    if n.startswith(".") or _is_companion(p):
        return False
    return n.endswith(_DUMP_SUFFIXES) or n.startswith("config_dump")


SNIFF = 64 * 1024


def sniff(head: bytes) -> str | None:
    """None when the first bytes of a file look like a config dump (a JSON object with a
    ``configs`` key near its start, maybe after a BOM or a ``pilot-agent request`` status line),
    else why the file is not one, in a few words."""
    if not head.strip():
        return "an empty file"
    body = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    if b"\x00" in body[:512] or sum(c < 9 for c in body[:512]) > 2:
        return "binary data, not a config dump"
    if re.match(rb"^[A-Z][A-Z ]+(?:\t| {2,})[A-Z]", body.lstrip()):
        return "a text table (istioctl output?), not a config dump"
    if body.find(b"{") < 0:
        return "text without JSON, not a config dump"
    if b'"configs"' not in body:
        return "not a config dump (no `configs` near its start)"
    return None


def _sniff_file(p: Path) -> str | None:
    try:
        fh, _size = open_regular(p, MAX_FILE)
        with fh:
            return sniff(fh.read(SNIFF))
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"


def _walk(root: Path, refused: list[tuple[str, str]], skipped: list[tuple[str, str]],
          seen: dict[tuple[int, int], Path] | None = None, up: tuple[tuple[int, int], ...] = ()) -> Iterator[Path]:
    """Every regular file under ``root`` (hidden entries left alone), sorted, following links to
    directories once each; what cannot be walked or read is one line in ``refused``: an
    unreadable directory, a link loop, a dangling link, a FIFO, socket or device."""
    seen = {} if seen is None else seen
    try:
        st = os.stat(root)
        entries = sorted(os.scandir(root), key=lambda d: d.name)
    except OSError as oe:
        refused.append((str(root), f"a directory that cannot be read ({oe.strerror or oe})"))
        return
    me = (st.st_dev, st.st_ino)
    seen.setdefault(me, root)
    up = (*up, me)
    # links to directories after the rest, so a directory inside is read under its own name
    for e in [d for d in entries if not d.is_symlink()] + [d for d in entries if d.is_symlink()]:
        if e.name.startswith("."):
            continue
        p = Path(e.path)
        try:
            st = os.stat(e.path)
        except OSError as err:
            why = ("a symbolic link loop" if err.errno == errno.ELOOP
                   else f"a dangling symbolic link (to {os.readlink(e.path)})" if e.is_symlink()
                   else f"cannot be read ({err.strerror or err})")
            refused.append((str(p), why))
            continue
        if stat.S_ISDIR(st.st_mode):
            ident = (st.st_dev, st.st_ino)
            if ident in up:
                refused.append((str(p), f"a symbolic link loop (back to {seen.get(ident, root)})"))
            elif ident in seen:
                skipped.append((str(p), f"the directory {seen[ident]} again, read once"))
            elif p.name.endswith(_DUMP_SUFFIXES) and not e.is_symlink():
                yield p  # a directory named like a dump: refused when read, in one line
            else:
                seen[ident] = p
                yield from _walk(p, refused, skipped, seen, up)
        elif stat.S_ISREG(st.st_mode):
            yield p
        else:
            kind = {stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a character device",
                    stat.S_IFBLK: "a block device"}.get(stat.S_IFMT(st.st_mode), "not a regular file")
            refused.append((str(p), f"not a regular file ({kind})"))


def from_path(path: str | os.PathLike[str]) -> Bundle:
    """A file or a directory of dumps."""
    root = Path(path)
    if not root.exists():
        raise SourceError(f"{root}: no such file or directory")
    bundle_skipped: list[tuple[str, str]] = []
    walk_refused: list[tuple[str, str]] = []
    if not root.is_dir():
        files = [root]  # (a FIFO or a device given by name is refused when read)
        base = root.parent
    else:
        base = root
        files = []
        for p in _walk(root, walk_refused, bundle_skipped):
            if p.is_dir() or _is_dump_name(p):
                files.append(p)
            elif not _is_companion(p):
                # a file of another name is read when its first bytes are a config dump's
                why = _sniff_file(p)
                if why is None:
                    files.append(p)
                else:
                    bundle_skipped.append((str(p), why))
        # (a directory entry named like a dump is refused when read, below)
    bundle = Bundle(dumps=iter(()), total=len(files), origin=str(root), skipped=bundle_skipped,
                    refused=walk_refused)
    for name in (PODS, SERVICES):
        p = base / name
        if root.is_dir() and (p.exists() or p.is_symlink()):
            try:
                data = _read(p)
            except OSError as e:
                bundle.refused.append((str(p), e.strerror or str(e)))
                continue
            if name == PODS:
                bundle.pods_json = data
            else:
                bundle.services_json = data

    def gen() -> Iterator[RawDump]:
        for f in files:
            disp = str(f)
            try:
                data = _read(f)
            except OSError as e:
                bundle.refused.append((disp, e.strerror or str(e)))
                continue
            stem = f.name
            for s in _DUMP_SUFFIXES:
                if stem.endswith(s):
                    stem = stem[: -len(s)]
                    break
            comp = f.with_name(stem + CLUSTERS_SUFFIX)
            clusters = None
            if (comp.exists() or comp.is_symlink()) and comp != f:
                try:
                    clusters = _read(comp)
                except OSError as e:
                    bundle.refused.append((str(comp), e.strerror or str(e)))
            yield RawDump(source=disp, data=data, clusters=clusters)

    bundle.dumps = gen()
    return bundle
