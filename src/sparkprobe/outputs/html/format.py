"""Escaping and formatting for the HTML report: every string from the data goes through :func:`esc`.

Figures are formatted as in the text report (:mod:`sparkprobe.outputs.units`); this module adds
what only markup needs: escaping, short SVG coordinates, and the few phrases several sections share.
"""

from __future__ import annotations

import html
import re

from sparkprobe.model import Loss
from sparkprobe.outputs.units import format_bytes, format_clock, format_duration, format_offset

__all__ = [
    "blocks",
    "coord",
    "esc",
    "exec_sort_key",
    "format_bytes",
    "format_clock",
    "format_duration",
    "format_number",
    "format_offset",
    "loss_text",
    "plural",
    "short",
    "when",
]

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def esc(value: object) -> str:
    """``value`` as text safe in HTML text and in a quoted attribute (control characters replaced)."""
    return html.escape(_CONTROL.sub("\ufffd", str(value)), quote=True)


def coord(x: float) -> str:
    """An SVG coordinate, short: ``12``, ``12.5``, ``12.25``."""
    return f"{x:.2f}".rstrip("0").rstrip(".") if x != int(x) else str(int(x))


def format_number(x: float, digits: int = 1) -> str:
    """A number with thousands separators: ``12,345.6``."""
    return f"{x:,.{digits}f}"


def when(ms: int | None, t0: float) -> str:
    """An event time as an offset from the app's start; a dash when the time is unknown."""
    return "—" if ms is None or ms <= 0 else format_offset(ms - t0)


def plural(n: int, word: str) -> str:
    """``1 block``, ``3 blocks`` (thousands separated)."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def blocks(n: int) -> str:
    """``1 block``, ``1,024 blocks``."""
    return plural(n, "block")


def short(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: max(1, limit - 1)] + "…"


def exec_sort_key(exec_id: str) -> tuple[int, int, str]:
    """Numeric executor ids in numeric order, then the others by name."""
    return (0, int(exec_id), "") if exec_id.isdigit() and len(exec_id) < 19 else (1, 0, exec_id)


def loss_text(loss: Loss, t0: float) -> str:
    """A cache loss in a few lines (tooltips): when, where, how much, why, which RDDs (first 10)."""
    lines = [
        f"cache lost {when(loss.time_ms, t0)} on executor {loss.exec_id}: "
        f"{blocks(loss.blocks)}, {format_bytes(loss.bytes)}",
        f"cause {loss.cause.value}: {loss.reason or 'no reason given'}",
    ]
    for r in loss.rdds[:10]:
        where = r.first_stage or r.callsite or "?"
        lines.append(
            f"RDD {r.rdd_id} {r.name} [{where}]: {blocks(r.blocks)}, {format_bytes(r.memory_bytes + r.disk_bytes)}"
        )
    return "\n".join(lines)
