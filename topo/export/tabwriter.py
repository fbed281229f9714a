"""Text output of istioctl's tables: a port of Go's ``text/tabwriter``.

istioctl lays its ``proxy-config`` tables out with ``tabwriter.NewWriter(out, 0, 8, padding, ' ', 0)``;
:func:`render_text` does the same for a :class:`~topo.queries.show.ShowTable`, so the text is
byte-for-byte what istioctl prints for the same config.
"""

from __future__ import annotations

from collections.abc import Sequence

from topo.queries.show import Cell, ShowTable
from topo.util import printable


def tabwrite(text: str, *, minwidth: int = 0, padding: int = 1) -> str:
    """Go ``text/tabwriter`` (padchar ' ', flags 0) applied to ``text``.

    Cells are tab-terminated; the text after a line's last tab is not part of any column and is
    never padded. A column block is a run of consecutive lines that have that cell; its width
    is the widest cell in the block plus ``padding`` (at least ``minwidth``), counted in runes.
    """
    lines = [ln.split("\t") for ln in text.split("\n")]
    if lines[-1][-1] == "":  # at Flush, an empty unterminated last cell is not a cell
        lines[-1].pop()
    out: list[str] = []

    def write_lines(widths: list[int], line0: int, line1: int) -> None:
        for i in range(line0, line1):
            cells = lines[i]
            for j, c in enumerate(cells):
                out.append(c)
                if j < len(widths):
                    out.append(" " * (widths[j] - len(c)))
            if i + 1 < len(lines):
                out.append("\n")

    def fmt(widths: list[int], line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write_lines(widths, line0, this)
            line0 = this
            width = minwidth
            while this < line1 and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + padding)
                this += 1
            fmt([*widths, width], line0, this)
            line0 = this
        write_lines(widths, line0, line1)

    fmt([], 0, len(lines))
    return "".join(out)


def render_text(t: ShowTable) -> str:
    """The table exactly as istioctl prints it (a table without a header: its lines alone); but a
    cell's control characters are shown escaped (``\\t``, ``\\n``, ``\\x1b``), so a name cannot split a
    cell, forge a row or reach the terminal."""
    rows: list[Sequence[Cell]] = [t.header, *t.rows] if t.header else list(t.rows)
    text = "".join("\t".join(printable(c) for c in row) + "\n" for row in rows)
    return tabwrite(text, padding=t.padding)


def full_summary(tables: Sequence[ShowTable]) -> str:
    """``proxy-config all``'s sections, blank-line separated; a section with nothing to say (the
    bootstrap or secrets of a dump without them) is left out."""
    return "\n".join(render_text(t) for t in tables if t.header or t.rows)
