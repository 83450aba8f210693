"""Figures for people: bytes, durations, offsets from an app's start, UTC clock times.

Shared by the text report, the HTML report and the ``submit`` console, so a figure reads the same
wherever it is shown. The HTML report's script formats offsets and bytes the same way (its
``rel`` and ``bytes``); keep them in step.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

__all__ = ["format_bytes", "format_clock", "format_duration", "format_offset"]


def _not_finite(x: float) -> str:
    return "?" if math.isnan(x) else ("-∞" if x < 0 else "∞")


def format_bytes(n: float) -> str:
    """Bytes in binary units, one decimal: ``2.3 MiB`` (``512 B`` below a KiB)."""
    if not math.isfinite(n):
        return f"{_not_finite(n)} B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


def format_duration(seconds: float) -> str:
    """A duration: ``850 ms``, ``12.3 s``, ``4 min 05 s``, ``2 h 03 min`` (``∞ s``, ``? s`` if not finite)."""
    if not math.isfinite(seconds):
        return f"{_not_finite(seconds)} s"
    sign = "-" if seconds < 0 else ""
    s = abs(seconds)
    if s < 1:
        return f"{sign}{s * 1000:.0f} ms"
    if s < 60:
        return f"{sign}{s:.1f} s"
    if s < 3600:
        m, sec = divmod(round(s), 60)
        return f"{sign}{m} min {sec:02d} s"
    h, rem = divmod(round(s), 3600)
    return f"{sign}{h} h {rem // 60:02d} min"


def format_offset(ms: float) -> str:
    """An offset from an app's start: ``+12.3s``, ``+4m05s``, ``+1h02m``."""
    if not math.isfinite(ms):
        return _not_finite(ms)
    s = ms / 1000
    sign = "-" if s < 0 else "+"
    s = abs(s)
    if s < 60:
        return f"{sign}{s:.1f}s"
    if s < 3600:
        m, sec = divmod(int(s), 60)
        return f"{sign}{m}m{sec:02d}s"
    h, rem = divmod(int(s), 3600)
    return f"{sign}{h}h{rem // 60:02d}m"


def format_clock(ms: float | None) -> str:
    """An epoch-ms instant as ``2026-09-21 10:03:00 UTC``; ``?`` when unknown or out of range."""
    if ms is None or ms <= 0:
        return "?"
    try:
        return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return "?"
