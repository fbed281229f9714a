"""Write a diagram to a file, the format taken from the file's suffix.

``.dot`` (or ``.gv``) is the DOT text itself and needs nothing else; ``.svg``, ``.png`` and
``.pdf`` run Graphviz's ``dot``, and say how to install it when it is missing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import graphviz

from topo.errors import TopoError

FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}
MISSING_DOT = ("Graphviz's dot is not installed (needed for .{fmt}): apt-get install graphviz "
               "(macOS: brew install graphviz), or write a .dot file")


def format_for(path: Path) -> str:
    """The output format named by ``path``'s suffix; no suffix means SVG."""
    suffix = path.suffix.lower()
    if not suffix:
        return "svg"
    if suffix not in FORMATS:
        raise TopoError(f"cannot write {suffix} files: use .svg, .png, .pdf or .dot", 2)
    return FORMATS[suffix]


def source(dg: graphviz.Digraph) -> str:
    """The DOT text: sorted and free of timestamps and paths, so equal answers give equal bytes."""
    return dg.source


def render(dg: graphviz.Digraph, fmt: str) -> bytes:
    if fmt == "dot":
        return source(dg).encode()
    if shutil.which("dot") is None:
        raise TopoError(MISSING_DOT.format(fmt=fmt), 1)
    try:
        return dg.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise TopoError(MISSING_DOT.format(fmt=fmt), 1) from None
    except graphviz.CalledProcessError as e:
        why = (e.stderr or b"").decode(errors="replace").strip().splitlines()
        raise TopoError(f"dot -T{fmt} failed: {why[0] if why else e}", 1) from None


def write(dg: graphviz.Digraph, path: Path) -> None:
    path.write_bytes(render(dg, format_for(path)))
