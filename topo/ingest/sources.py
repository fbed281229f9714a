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

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

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
    if path.is_dir():
        raise OSError("is a directory, not a file")
    size = path.stat().st_size
    if size > MAX_FILE:
        raise OSError(f"{size} bytes is larger than the {MAX_FILE} byte limit")
    return path.read_bytes()


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
        with p.open("rb") as fh:
            return sniff(fh.read(SNIFF))
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"


def from_path(path: str | os.PathLike[str]) -> Bundle:
    """A file or a directory of dumps."""
    root = Path(path)
    if not root.exists():
        raise SourceError(f"{root}: no such file or directory")
    bundle_skipped: list[tuple[str, str]] = []
    if root.is_file():
        files = [root]
        base = root.parent
    else:
        base = root
        files = []
        for p in sorted(root.rglob("*")):
            if any(part.startswith(".") for part in p.relative_to(root).parts) or not p.is_file():
                continue
            if _is_dump_name(p):
                files.append(p)
            elif not _is_companion(p):
                # a file of another name is read when its first bytes are a config dump's
                why = _sniff_file(p)
                if why is None:
                    files.append(p)
                else:
                    bundle_skipped.append((str(p), why))
        # a directory entry that looks like a dump but is a directory is refused below
        files += sorted(p for p in root.rglob("*") if p.is_dir() and p.name.endswith(_DUMP_SUFFIXES))
    bundle = Bundle(dumps=iter(()), total=len(files), origin=str(root), skipped=bundle_skipped)
    for name in (PODS, SERVICES):
        p = base / name
        if root.is_dir() and p.is_file():
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
            if comp.is_file() and comp != f:
                try:
                    clusters = _read(comp)
                except OSError as e:
                    bundle.refused.append((str(comp), e.strerror or str(e)))
            yield RawDump(source=disp, data=data, clusters=clusters)

    bundle.dumps = gen()
    return bundle
