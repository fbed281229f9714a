"""The one place the diagrams' look is decided: shapes and colours per kind, subset colours,
the legend, and the escaping every user-supplied string goes through.

Labels are plain DOT strings, never HTML-like labels and never ``record`` shapes: a name
holding ``" < > { | } & \\``, a newline or any control character is escaped by :func:`text` and shows literally.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from graphviz.quoting import nohtml

from topo.util import pct as util_pct
from topo.util import printable

FONT = "Helvetica"
FONTSIZE = "12"
EDGE_FONTSIZE = "11"
RED = "#c62828"
ORANGE = "#e65100"
GREY = "#616161"
INK = "#212121"
SPLIT = "#0d47a1"  # an edge whose traffic is split (mesh)
PLAIN = "#9e9e9e"  # an edge with plain routing (mesh)

GRAPH_ATTRS = {
    "rankdir": "LR",
    "fontname": FONT,
    "fontsize": "14",
    "labeljust": "l",
    "nodesep": "0.25",
    "ranksep": "0.55",
    "newrank": "true",
    "pad": "0.2",
    "bgcolor": "white",
}
NODE_ATTRS = {"fontname": FONT, "fontsize": FONTSIZE, "style": "filled", "color": GREY, "fontcolor": INK,
              "margin": "0.12,0.06", "penwidth": "1.2"}
EDGE_ATTRS = {"fontname": FONT, "fontsize": EDGE_FONTSIZE, "color": GREY, "fontcolor": INK, "arrowsize": "0.7"}


@dataclass(frozen=True)
class Kind:
    title: str  # the legend's word for it
    shape: str
    fill: str
    border: str
    style: str = "filled"
    extra: tuple[tuple[str, str], ...] = ()


KINDS: dict[str, Kind] = {
    "pod": Kind("pod", "box", "#e3f2fd", "#1565c0", "filled,rounded"),
    "workload": Kind("workload", "box3d", "#e3f2fd", "#1565c0"),
    "listener": Kind("listener", "box", "#ede7f6", "#5e35b1"),
    "chain": Kind("filter chain", "box", "#f3e5f5", "#8e24aa", "filled,diagonals"),
    "route_config": Kind("route config", "folder", "#fff8e1", "#f9a825"),
    "vhost": Kind("virtual host", "tab", "#fffde7", "#c0a000"),
    "route": Kind("route", "note", "#fff3e0", "#ef6c00"),
    "cluster": Kind("cluster", "component", "#f5f5f5", GREY),
    "endpoint": Kind("endpoint", "ellipse", "#ffffff", GREY),
    "service": Kind("service", "box", "#e8f5e9", "#2e7d32", "filled,rounded,bold"),
    "dead_end": Kind("dead end", "octagon", "#ffebee", RED, "filled,bold", (("margin", "0.02,0.02"),)),
    # what the dump cannot tell (no EDS) or topo does not follow (an unsupported filter): neither
    # delivered nor dead
    "unknown": Kind("unknown", "note", "#fafafa", GREY, "filled,dashed"),
    "mirror": Kind("mirror (copy)", "component", "#ffffff", GREY, "dashed"),
    "target": Kind("failed target", "box", "#ffebee", RED, "filled,bold", (("peripheries", "2"),)),
    "more": Kind("more", "plaintext", "#ffffff", GREY, "solid"),
}

# Subset colours: a fixed palette, no red or orange (they mean "fails" and "moves").
PALETTE = ("#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7b7d1e", "#3949ab")


def subset_colour(subset: str) -> str:
    """The same colour for a subset name in every diagram; grey for "no subset".

    Version names ``v1``, ``v2`` … take the palette in order (so v1..v8 never share a colour);
    any other name picks by hash."""
    if not subset:
        return GREY
    m = re.fullmatch(r"v(\d{1,6})", subset)
    if m:
        return PALETTE[(int(m[1]) - 1) % len(PALETTE)]
    return PALETTE[int(hashlib.sha1(subset.encode()).hexdigest(), 16) % len(PALETTE)]


def tint(colour: str, keep: float = 0.16) -> str:
    """A pale fill of ``colour`` (``keep`` of it over white)."""
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(255 - (255 - c) * keep):02x}" for c in (r, g, b))


def node_attrs(kind: str, subset: str | None = None) -> dict[str, str]:
    k = KINDS[kind]
    out = {"shape": k.shape, "style": k.style, "fillcolor": k.fill, "color": k.border, **dict(k.extra)}
    if kind == "dead_end" or kind == "target":
        out["fontcolor"] = RED
    if subset is not None and kind in ("cluster", "endpoint"):
        c = subset_colour(subset)
        out.update(color=c, fillcolor=tint(c), penwidth="2")
    return out


# ---------------------------------------------------------------- text
def text(s: object) -> str:
    """One user string as DOT label text: control characters shown escaped (``\\x1b``, ``\\n``:
    :func:`topo.util.printable`; a NUL breaks dot and an ESC makes the SVG invalid XML), then
    backslashes doubled (so ``\\n``, ``\\N``, ``\\G`` … stay literal) and ``&`` as ``&amp;``
    (Graphviz decodes entities in labels). The ``"`` quoting is left to
    :func:`graphviz.quoting.quote`, which the result is marked to get."""
    return printable(s).replace("\\", "\\\\").replace("&", "&amp;")


def label(*lines: object, left: bool = False) -> str:
    """Several user strings, one per line, escaped; never treated as an HTML-like label.
    ``left``: each line left-justified (a caption)."""
    kept = [text(x) for x in lines if x is not None and x != ""]
    if left:
        return nohtml("".join(x + "\\l" for x in kept))
    return nohtml("\\n".join(kept))


SEPARATORS = "./|:_-"


def fold(name: str, width: int = 30) -> list[str]:
    """A long name on several lines: ``ns/`` | ``pod``, ``host.ns`` | ``.svc.cluster.local:port``,
    else broken after a separator (``./|:_-``) as late as ``width`` allows."""
    if len(name) <= width:
        return [name]
    i = name.find("/")
    if 0 < i < len(name) - 1:
        return [name[:i + 1], *fold(name[i + 1:], width)]
    i = name.find(".svc.")
    if i > 0:
        return [*fold(name[:i], width), *fold(name[i:], width)] if i < len(name) - 5 else [name]
    cut = max(name.rfind(c, 8, width) for c in SEPARATORS)
    if cut < 0:
        found = [j for j in (name.find(c, width) for c in SEPARATORS) if 0 <= j < len(name) - 1]
        if not found:
            return [name]
        cut = min(found)
    return [name[:cut + 1], *fold(name[cut + 1:], width)]


def pct(x: float) -> str:
    """Diagram labels carry two decimals."""
    return util_pct(x, 2)


def legend_entries(kinds: Iterable[str], subsets: Iterable[str]) -> list[tuple[str, str, dict[str, str]]]:
    """(id, label, attrs) of the legend's nodes: each kind drawn, then each subset colour used."""
    out = []
    for k in KINDS:
        if k in set(kinds) and k != "more":
            out.append((f"legend_{k}", KINDS[k].title, node_attrs(k)))
    for i, s in enumerate(sorted(set(subsets))):
        c = subset_colour(s)
        out.append((f"legend_subset{i + 1}", f"subset {s}" if s else "no subset",
                    {**node_attrs("cluster"), "color": c, "fillcolor": tint(c), "penwidth": "2"}))
    return out
