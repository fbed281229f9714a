"""Sources: where dump bytes come from. They return raw bytes and never parse.

Directory layout read by ``topo ingest --from DIR`` (also what ``topo collect`` writes):

* one config dump per proxy: ``<pod>.json`` (``/config_dump?include_eds``, or
  ``istioctl proxy-config all <pod> -o json``). Any ``*.json``, ``*.yaml``/``*.yml`` (JSON
  inside) or file named ``config_dump`` counts, in subdirectories too, so an extracted
  ``istioctl bug-report`` works.
* optional ``<pod>.clusters.json``: Envoy ``/clusters?format=json`` for the same proxy,
  used as its endpoint source when the dump was taken without EDS.
* optional ``pods.json`` and ``services.json``: ``kubectl get pods|svc -o json``.
"""

from __future__ import annotations

import os
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


def _is_dump_name(p: Path) -> bool:
    n = p.name
    if n.startswith(".") or n in (PODS, SERVICES) or n.endswith(CLUSTERS_SUFFIX):
        return False
    return n.endswith(_DUMP_SUFFIXES) or n.startswith("config_dump")


def from_path(path: str | os.PathLike[str]) -> Bundle:
    """A file or a directory of dumps."""
    root = Path(path)
    if not root.exists():
        raise SourceError(f"{root}: no such file or directory")
    if root.is_file():
        files = [root]
        base = root.parent
    else:
        base = root
        files = sorted(p for p in root.rglob("*") if p.is_file() and _is_dump_name(p)
                       and not any(part.startswith(".") for part in p.relative_to(root).parts))
        # a directory entry that looks like a dump but is a directory is refused below
        files += sorted(p for p in root.rglob("*") if p.is_dir() and p.name.endswith(_DUMP_SUFFIXES))
    bundle = Bundle(dumps=iter(()), total=len(files), origin=str(root))
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
