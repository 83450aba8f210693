"""A small generic table: typed columns, escaped cells, sortable by a click, long lists folded.

Every table of the report is one :func:`table` call: columns say how they align and sort, cells
carry their markup and the value they sort by (``data-sort``). The page script sorts the rows of a
table when its header is clicked (numbers as numbers, text as text), across the folded rest too;
without the script the table reads the same, unsorted. Nothing is fetched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sparkprobe.outputs.html.format import esc

__all__ = ["MAX_LISTED", "Cell", "Column", "Row", "cell", "code_cell", "num_cell", "table"]

#: Rows shown before the rest of a table is folded into a collapsed block.
MAX_LISTED = 60


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its header text, how it aligns and sorts, and a class for its cells."""

    header: str
    #: Right-aligned, tabular figures; sorts by the cells' numbers.
    numeric: bool = False
    sortable: bool = True
    #: Extra class of the column's cells (``nowrap``, ``reason``).
    cls: str = ""


@dataclass(frozen=True, slots=True)
class Cell:
    """A cell's markup (already escaped) and the value it sorts by (None: its text)."""

    markup: str
    sort: float | str | None = None


@dataclass(frozen=True, slots=True)
class Row:
    """A row of cells, with an optional class (``measured`` highlights a row) and ``data-*`` attributes."""

    cells: Sequence[Cell]
    cls: str = ""
    #: ``{"kind": "cache_lost"}`` becomes ``data-kind="cache_lost"`` (escaped): hooks for tests and tools.
    data: Mapping[str, object] = field(default_factory=dict)


def cell(value: object, sort: float | str | None = None) -> Cell:
    """A cell showing ``value`` as escaped text."""
    return Cell(esc(value), sort)


def code_cell(value: object) -> Cell:
    """A cell showing ``value`` in monospace (ids, callsites), sorting by the text."""
    return Cell(f"<code>{esc(value)}</code>", str(value))


def num_cell(value: float, shown: str | None = None) -> Cell:
    """A cell showing ``shown`` (default: ``value`` with separators), sorting by ``value``."""
    return Cell(esc(shown if shown is not None else f"{value:,}"), value)


def _head(columns: Sequence[Column]) -> str:
    out: list[str] = []
    for c in columns:
        cls = ' class="num"' if c.numeric else ""
        if c.sortable:
            kind = "num" if c.numeric else "text"
            out.append(
                f'<th{cls} data-sort-type="{kind}" aria-sort="none">'
                f'<button type="button" class="sort">{esc(c.header)}</button></th>'
            )
        else:
            out.append(f"<th{cls}>{esc(c.header)}</th>")
    return f"<thead><tr>{''.join(out)}</tr></thead>"


def _row(columns: Sequence[Column], row: Row) -> str:
    tds: list[str] = []
    for column, c in zip(columns, row.cells, strict=True):
        classes = " ".join(x for x in ("num" if column.numeric else "", column.cls) if x)
        attrs = f' class="{classes}"' if classes else ""
        if c.sort is not None:
            value = f"{c.sort:.17g}" if isinstance(c.sort, float) else str(c.sort)
            attrs += f' data-sort="{esc(value)}"'
        tds.append(f"<td{attrs}>{c.markup}</td>")
    attrs = f' class="{esc(row.cls)}"' if row.cls else ""
    attrs += "".join(f' data-{esc(k)}="{esc(v)}"' for k, v in row.data.items())
    return f"<tr{attrs}>{''.join(tds)}</tr>"


def table(
    columns: Sequence[Column], rows: Iterable[Row], *, cls: str = "", limit: int | None = MAX_LISTED
) -> str:
    """The rows as a table; past ``limit`` rows (None: no limit) the rest folds into a ``<details>``.

    The markup: ``div.tbl[data-limit]`` holding ``table.data`` (and ``details.more`` with a second
    table of the same columns for the rest); sortable headers are ``th[data-sort-type]`` buttons.
    """
    body = [_row(columns, r) for r in rows]
    head = _head(columns)
    classes = f"data {cls}".strip()
    shown = body if limit is None else body[:limit]
    parts = [
        f'<div class="tbl" data-limit="{len(shown)}">',
        f'<table class="{esc(classes)}">{head}<tbody>{"".join(shown)}</tbody></table>',
    ]
    if len(body) > len(shown):
        rest = body[len(shown) :]
        parts.append(
            f'<details class="more"><summary>{len(rest):,} more</summary>'
            f'<table class="{esc(classes)}">{head}<tbody>{"".join(rest)}</tbody></table></details>'
        )
    parts.append("</div>")
    return "".join(parts)
