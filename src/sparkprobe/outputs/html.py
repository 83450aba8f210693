"""The HTML report: one self-contained file with an executor timeline per application.

:func:`render_html` turns app summaries (``AppState.summary()`` / ``offline.analyze_source``, the
report schema's app shape) into a single HTML document: inline CSS, inline SVG, a little inline
JavaScript for the crosshair and the legend; no fonts, images or scripts are fetched, and a
Content-Security-Policy forbids any fetch. Every string that comes from the data (app names,
removal reasons, RDD callsites, stage names, executor ids) is HTML-escaped.

How each part is drawn is documented in docs/html-report.md; keep the two in step. The renderer
reads the summary only: it computes no figure of its own beyond what the drawing needs (pixel
coverage of the idle segments, the open idle stretch of a running app).
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sparkprobe._version import __version__
from sparkprobe.model import AppReport

__all__ = ["MAX_LANES", "render_html"]

#: At most this many lanes per timeline; above it, executors are grouped (in order of addition).
MAX_LANES = 500

# Drawing states: key, fill colour, legend text. "busy" and the idle causes of analysis/state.py.
_STATES: tuple[tuple[str, str, str], ...] = (
    ("busy", "#4c6ef5", "busy (a task running)"),
    ("cache_held", "#f76707", "idle: holds cached blocks"),
    ("shuffle_held", "#ae3ec9", "idle: holds shuffle output"),
    ("min_executors", "#12b886", "idle: kept by minExecutors"),
    ("driver_busy", "#fab005", "idle: no stage running (driver)"),
    ("unneeded", "#adb5bd", "idle: stage running, no task here"),
    ("other", "#ced4da", "idle: other cause"),
    ("alive", "#a5b4fc", "alive (no idle data)"),
)
_COLOR = {key: color for key, color, _ in _STATES}
_LABEL = {key: label for key, _, label in _STATES}
_KNOWN_CAUSES = frozenset(key for key, _, _ in _STATES) - {"busy", "other", "alive"}

_REMOVAL_COLOR = {
    "dynamic_allocation": "#212529",
    "decommission": "#1864ab",
    "failure": "#c2255c",
    "other": "#868e96",
}
_LOSS_COLOR = "#e03131"

# Geometry of the charts (SVG user units; the SVGs scale to the page width).
_W = 1200
_LEFT = 132
_RIGHT = 20
_PLOT = _W - _LEFT - _RIGHT  # one rasterisation column per unit
_MAX_STAGE_ROWS = 5
_STAGE_ROW_H = 16
_MAX_LISTED = 60  # findings / losses shown before the rest goes into a collapsed block

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# ---------------------------------------------------------------------------------------- helpers
def _e(value: object) -> str:
    """Escape anything for HTML text or a quoted attribute (control characters replaced)."""
    return html.escape(_CONTROL.sub("\ufffd", str(value)), quote=True)


def _num(value: object, default: float = 0.0) -> float:
    """Return a finite float from whatever the summary holds (None, str, bool → default)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    f = float(value)
    return f if math.isfinite(f) else default


def _opt_num(value: object) -> float | None:
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _seq(value: object) -> Sequence[Any]:
    return value if isinstance(value, (list, tuple)) else ()


def _f(x: float) -> str:
    """Format a coordinate, short."""
    return f"{x:.2f}".rstrip("0").rstrip(".") if x != int(x) else str(int(x))


def _fmt_bytes(n: float) -> str:
    """Binary units, one decimal."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


def _fmt_secs(s: float) -> str:
    """Format a duration for people: 850 ms, 12.3 s, 4 min 05 s, 2 h 03 min."""
    sign = "-" if s < 0 else ""
    s = abs(s)
    if s < 1:
        return f"{sign}{s * 1000:.0f} ms"
    if s < 60:
        return f"{sign}{s:.1f} s"
    if s < 3600:
        m, sec = divmod(round(s), 60)
        return f"{sign}{m} min {sec:02d} s"
    h, rem = divmod(round(s), 3600)
    return f"{sign}{h} h {rem // 60:02d} min"


def _fmt_num(x: float, digits: int = 1) -> str:
    return f"{x:,.{digits}f}"


def _fmt_rel(ms: float) -> str:
    """Format an offset from app start: +12.3s, +4m05s, +1h02m (as the page's script does)."""
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


def _when(ms: object, t0: float) -> str:
    """Format an event time as an offset from the start; a dash when the time is missing."""
    t = _opt_num(ms)
    return "—" if t is None or t <= 0 else _fmt_rel(t - t0)


def _fmt_clock(ms: float | None) -> str:
    if ms is None or ms <= 0:
        return "?"
    try:
        return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return "?"


def _exec_sort_key(exec_id: str) -> tuple[int, int, str]:
    return (0, int(exec_id), "") if exec_id.isdigit() and len(exec_id) < 19 else (1, 0, exec_id)


def _blocks(n: object) -> str:
    count = int(_num(n))
    return f"{count:,} block{'' if count == 1 else 's'}"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(1, limit - 1)] + "…"


def _state_key(cause: object) -> str:
    c = str(cause)
    return c if c in _KNOWN_CAUSES else "other"


# ---------------------------------------------------------------------------------------- time axis
_STEPS_S = (
    0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600,
    7200, 10800, 21600, 43200, 86400,
)


def _time_step(span_s: float, max_ticks: int = 10) -> float:
    for step in _STEPS_S:
        if span_s / step <= max_ticks:
            return step
    step = float(_STEPS_S[-1])
    while span_s / step > max_ticks:
        step *= 2
    return step


def _tick_label(sec: float, step: float) -> str:
    if sec == 0:
        return "0"
    if sec < 60:
        digits = 0 if step >= 1 else (1 if step >= 0.1 else 2)
        return f"{sec:.{digits}f}s"
    total = round(sec)
    if total < 3600:
        m, s = divmod(total, 60)
        return f"{m}m" if s == 0 else f"{m}m{s:02d}s"
    h, rem = divmod(total, 3600)
    m = rem // 60
    return f"{h}h" if m == 0 else f"{h}h{m:02d}m"


def _byte_ticks(max_bytes: float) -> tuple[float, list[float]]:
    """Return a nice top value and the tick values for a bytes axis."""
    if max_bytes <= 0:
        return 1.0, [0.0, 1.0]
    unit = 1.0
    while max_bytes / unit >= 1024 and unit < 1024**5:
        unit *= 1024
    scaled = max_bytes / unit
    mag = 10 ** math.floor(math.log10(scaled)) if scaled > 0 else 1
    step = mag
    for mult in (1, 2, 2.5, 5, 10):
        step = mult * mag
        if scaled / step <= 4:
            break
    top = math.ceil(scaled / step - 1e-9) * step
    ticks = [i * step * unit for i in range(round(top / step) + 1)]
    return top * unit, ticks


@dataclass(slots=True)
class _Scale:
    t0: float
    t1: float

    def x(self, t: float) -> float:
        span = self.t1 - self.t0
        frac = (t - self.t0) / span if span > 0 else 0.0
        return _LEFT + min(1.0, max(0.0, frac)) * _PLOT

    def col(self, t: float) -> float:
        span = self.t1 - self.t0
        return (t - self.t0) / span * _PLOT if span > 0 else 0.0

    @property
    def ms_per_col(self) -> float:
        return (self.t1 - self.t0) / _PLOT


def _time_range(app: Mapping[str, Any]) -> tuple[float, float]:
    """From app start (or the first known time) to app end (or the last known time)."""
    times: list[float] = []
    for info in _map(app.get("executors")).values():
        info = _map(info)
        added = _opt_num(info.get("added_ms"))
        if added is None:
            continue
        times.append(added)
        removed = _opt_num(info.get("removed_ms"))
        times.append(removed if removed is not None else added + _num(info.get("lifetime_seconds")) * 1000)
    timeline = _map(app.get("timeline"))
    for st in _seq(timeline.get("stages")):
        st = _seq(st)
        times.extend(t for t in (_opt_num(v) for v in st[3:5]) if t is not None and t > 0)
    for point in _seq(timeline.get("cached_bytes")):
        t = _opt_num(_seq(point)[0]) if _seq(point) else None
        if t is not None and t > 0:
            times.append(t)
    for item in list(_seq(app.get("losses"))) + list(_seq(app.get("findings"))):
        t = _opt_num(_map(item).get("time_ms"))
        if t is not None and t > 0:
            times.append(t)
    start = _num(app.get("start_ms"))
    end = _opt_num(app.get("end_ms"))
    t0 = start if start > 0 else min(times, default=0.0)
    if times:
        t0 = min(t0, min(times))
    t1 = end if end is not None and end > 0 else max(times, default=t0)
    t1 = max(t1, max(times, default=t1))
    if t1 - t0 < 1:
        t1 = t0 + 1000
    return t0, t1


# ---------------------------------------------------------------------------------------- executor lanes
@dataclass(slots=True)
class _Exec:
    exec_id: str
    info: Mapping[str, Any]
    added: float
    end: float
    removed: float | None
    idle: list[tuple[float, float, str]] = field(default_factory=list)
    open_idle: tuple[float, float, str] | None = None


def _executors(app: Mapping[str, Any], t1: float) -> list[_Exec]:
    """Executors in order of addition, with their idle segments (and the open one of a running app)."""
    idle_map = _map(_map(app.get("timeline")).get("idle"))
    out: list[_Exec] = []
    for raw_id, raw_info in _map(app.get("executors")).items():
        exec_id = str(raw_id)
        info = _map(raw_info)
        added = _opt_num(info.get("added_ms"))
        if added is None:
            continue
        removed = _opt_num(info.get("removed_ms"))
        if removed is not None:
            end = removed
        elif "lifetime_seconds" in info:
            end = added + _num(info.get("lifetime_seconds")) * 1000
        else:
            end = t1
        end = max(end, added)
        ex = _Exec(exec_id, info, added, end, removed)
        recorded: dict[str, float] = {}
        for seg in _seq(idle_map.get(raw_id, idle_map.get(exec_id))):
            seg = _seq(seg)
            if len(seg) < 3:
                continue
            s, e = _opt_num(seg[0]), _opt_num(seg[1])
            if s is None or e is None or e <= s:
                continue
            cause = str(seg[2])
            ex.idle.append((s, e, cause))
            recorded[cause] = recorded.get(cause, 0.0) + (e - s)
        idle_now = _num(info.get("idle_now_seconds")) * 1000
        if removed is None and idle_now > 0:
            # The open idle stretch of a running app is not in the timeline yet (it is recorded when
            # it closes): draw it from the figures. Its cause is the one whose figure exceeds what the
            # timeline holds; the recorded part of the stretch (earlier causes) is drawn already.
            start = end - idle_now
            start = max([start] + [e for _, e, _ in ex.idle if e > start])
            if end > start:
                by_cause = _map(info.get("idle_by_cause"))
                residual = {str(c): _num(v) * 1000 - recorded.get(str(c), 0.0) for c, v in by_cause.items()}
                cause = max(residual, key=lambda c: residual[c], default="other")
                ex.open_idle = (start, end, cause if residual.get(cause, 0) > 0 else "other")
        out.append(ex)
    out.sort(key=lambda x: (x.added, _exec_sort_key(x.exec_id)))
    return out


class _Cover:
    """How much of each pixel column an interval set covers (0..1 per member, summed)."""

    __slots__ = ("diff", "part")

    def __init__(self, n: int) -> None:
        self.diff = [0.0] * (n + 1)
        self.part = [0.0] * n

    def add(self, a: float, b: float) -> None:
        n = len(self.part)
        a = max(0.0, a)
        b = min(float(n), b)
        if b <= a:
            return
        ia, ib = int(a), int(b)
        if ia == ib:
            self.part[ia] += b - a
            return
        self.part[ia] += ia + 1 - a
        self.diff[ia + 1] += 1
        self.diff[ib] -= 1
        if ib < n:
            self.part[ib] += b - ib

    def values(self) -> list[float]:
        out: list[float] = []
        run = 0.0
        for d, p in zip(self.diff, self.part, strict=False):
            run += d
            out.append(run + p)
        return out


@dataclass(slots=True)
class _Run:
    c0: int
    c1: int
    state: str
    idle_cols: dict[str, float]


def _rasterize(members: Sequence[_Exec], scale: _Scale, has_idle: bool = True) -> list[_Run]:
    """Per pixel column, what the lane's executors did most of that time; runs of equal columns.

    Without idle data (a summary without a timeline) a live column is "alive", not "busy".
    """
    n = _PLOT
    alive = _Cover(n)
    idle: dict[str, _Cover] = {}
    for ex in members:
        alive.add(scale.col(ex.added), scale.col(ex.end))
        segs = list(ex.idle)
        if ex.open_idle is not None:
            segs.append(ex.open_idle)
        for s, e, cause in segs:
            s, e = max(s, ex.added), min(e, ex.end)
            if e > s:
                key = _state_key(cause)
                if key not in idle:
                    idle[key] = _Cover(n)
                idle[key].add(scale.col(s), scale.col(e))
    alive_v = alive.values()
    idle_v = {k: c.values() for k, c in idle.items()}
    runs: list[_Run] = []
    for col in range(n):
        a = alive_v[col]
        if a <= 1e-9:
            state = ""
        else:
            state, best = ("busy" if has_idle else "alive"), a - sum(v[col] for v in idle_v.values())
            for key, values in idle_v.items():
                if values[col] > best:
                    state, best = key, values[col]
        if runs and runs[-1].state == state and runs[-1].c1 == col:
            run = runs[-1]
            run.c1 = col + 1
        else:
            run = _Run(col, col + 1, state, {})
            runs.append(run)
        for key, values in idle_v.items():
            if values[col] > 0:
                run.idle_cols[key] = run.idle_cols.get(key, 0.0) + values[col]
    return [r for r in runs if r.state]


def _causes_text(by_cause: Mapping[str, Any], unit_s: float = 1.0) -> str:
    parts = [f"{c} {_fmt_secs(_num(v) * unit_s)}" for c, v in by_cause.items() if _num(v) > 0]
    return ", ".join(parts)


def _lane_title(members: Sequence[_Exec], scale: _Scale, aggregated: bool) -> str:
    if not aggregated:
        ex = members[0]
        info = ex.info
        cores = int(_num(info.get("cores")))
        lines = [
            f"executor {ex.exec_id} on {info.get('host') or '?'} · {cores} core{'s' if cores != 1 else ''}",
        ]
        span = f"added {_fmt_rel(ex.added - scale.t0)}"
        if ex.removed is not None:
            span += f", removed {_fmt_rel(ex.removed - scale.t0)}"
            cause = info.get("removed_cause") or "?"
            span += f" ({cause}: {info.get('removed_reason') or 'no reason given'})"
        else:
            span += ", still active at the end of the data"
        lines.append(span)
        causes = _causes_text(_map(info.get("idle_by_cause")))
        lines.append(
            f"lifetime {_fmt_secs(_num(info.get('lifetime_seconds')))}, "
            f"busy {_fmt_num(_num(info.get('busy_core_seconds')))} core-s, "
            f"idle {_fmt_secs(_num(info.get('idle_seconds')))}" + (f" ({causes})" if causes else "")
        )
        if _num(info.get("cached_blocks")) > 0:
            lines.append(f"cached blocks held at the end: {int(_num(info.get('cached_blocks')))}")
        return "\n".join(lines)
    first, last = members[0], members[-1]
    idle_total: dict[str, float] = {}
    for ex in members:
        for c, v in _map(ex.info.get("idle_by_cause")).items():
            idle_total[str(c)] = idle_total.get(str(c), 0.0) + _num(v)
    removed = sum(1 for ex in members if ex.removed is not None)
    causes = _causes_text(idle_total)
    return "\n".join(
        [
            f"{len(members)} executors, {first.exec_id} … {last.exec_id} (grouped in order of addition)",
            f"added {_fmt_rel(first.added - scale.t0)} … {_fmt_rel(last.added - scale.t0)}, "
            f"{removed} removed",
            f"busy {_fmt_num(sum(_num(ex.info.get('busy_core_seconds')) for ex in members))} core-s, "
            f"idle {_fmt_secs(sum(_num(ex.info.get('idle_seconds')) for ex in members))}"
            + (f" ({causes})" if causes else ""),
            "each pixel shows what most of these executors did then",
        ]
    )


def _loss_title(loss: Mapping[str, Any], t0: float) -> str:
    lines = [
        f"cache lost {_when(loss.get('time_ms'), t0)} on executor {loss.get('exec_id')}: "
        f"{_blocks(loss.get('blocks'))}, {_fmt_bytes(_num(loss.get('bytes')))}",
        f"cause {loss.get('cause') or '?'}: {loss.get('reason') or 'no reason given'}",
    ]
    for r in _seq(loss.get("rdds"))[:10]:
        r = _map(r)
        where = r.get("first_stage") or r.get("callsite") or "?"
        lines.append(
            f"RDD {r.get('rdd_id')} {r.get('name') or ''} [{where}]: {_blocks(r.get('blocks'))}, "
            f"{_fmt_bytes(_num(r.get('memory_bytes')) + _num(r.get('disk_bytes')))}"
        )
    return "\n".join(lines)


_Stage = tuple[float, float, Sequence[Any]]


def _stage_rows(stages: Iterable[_Stage]) -> list[tuple[int, float, float, Sequence[Any]]]:
    """Pack stage spans into rows greedily (at most _MAX_STAGE_ROWS; the last ones may overlap)."""
    ends: list[float] = []
    out: list[tuple[int, float, float, Sequence[Any]]] = []
    for s, e, st in sorted(stages, key=lambda x: (x[0], x[1])):
        row = next((i for i, end in enumerate(ends) if end <= s), -1)
        if row < 0:
            if len(ends) < _MAX_STAGE_ROWS:
                ends.append(e)
                row = len(ends) - 1
            else:
                row = min(range(len(ends)), key=lambda i: ends[i])
        ends[row] = max(ends[row], e)
        out.append((row, s, e, st))
    return out


def _axis(parts: list[str], scale: _Scale, y_text: float, y0: float, y1: float, grid: bool) -> None:
    span_s = (scale.t1 - scale.t0) / 1000
    step = _time_step(span_s)
    k = 0
    while k * step <= span_s + 1e-9 and k < 200:
        sec = k * step
        x = scale.x(scale.t0 + sec * 1000)
        if grid:
            parts.append(f'<line class="grid" x1="{_f(x)}" x2="{_f(x)}" y1="{_f(y0)}" y2="{_f(y1)}"/>')
        parts.append(f'<text class="tick" x="{_f(x)}" y="{_f(y_text)}">{_e(_tick_label(sec, step))}</text>')
        k += 1


def _timeline_svg(app: Mapping[str, Any], scale: _Scale, execs: list[_Exec], uid: str) -> tuple[str, str]:
    """Draw the executor timeline SVG; also return a note on how (grouping, dropped data)."""
    n = len(execs)
    per_lane = math.ceil(n / MAX_LANES) if n > MAX_LANES else 1
    lanes = [execs[i : i + per_lane] for i in range(0, n, per_lane)]
    aggregated = per_lane > 1
    nl = len(lanes)
    lane_h = min(24.0, max(1.6, 800.0 / nl)) if nl else 0.0
    pad = lane_h * 0.2 if lane_h >= 6 else 0.0

    timeline = _map(app.get("timeline"))
    has_idle = isinstance(timeline.get("idle"), Mapping)
    stage_items: list[tuple[float, float, Sequence[Any]]] = []
    for st in _seq(timeline.get("stages")):
        st = _seq(st)
        if len(st) < 5:
            continue
        s = _opt_num(st[3])
        if s is None or s <= 0:
            continue
        e = _opt_num(st[4])
        stage_items.append((s, e if e is not None and e >= s else scale.t1, st))
    rows = _stage_rows(stage_items)
    n_rows = max((r for r, *_ in rows), default=-1) + 1

    top_axis = 22.0
    stage_top = top_axis + 6
    stage_h = n_rows * _STAGE_ROW_H
    lanes_top = stage_top + stage_h + (10 if n_rows else 0)
    lanes_h = nl * lane_h
    bottom_axis = lanes_h > 260
    height = lanes_top + lanes_h + (26 if bottom_axis else 8)

    parts: list[str] = []
    parts.append(
        f'<svg class="chart tl" id="{uid}-tl" viewBox="0 0 {_W} {_f(height)}" role="img" '
        f'aria-label="executor timeline" data-t0="{scale.t0:.0f}" data-t1="{scale.t1:.0f}" '
        f'data-x0="{_LEFT}" data-pw="{_PLOT}" data-lanes="{nl}" data-per-lane="{per_lane}">'
    )
    parts.append(
        f'<defs><pattern id="{uid}-hatch" patternUnits="userSpaceOnUse" width="6" height="6" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="{_COLOR["cache_held"]}"/>'
        '<rect width="2.2" height="6" fill="#a93d00" fill-opacity="0.55"/></pattern></defs>'
    )
    _axis(parts, scale, 14, top_axis, lanes_top + lanes_h, grid=True)
    parts.append(f'<text class="track-label" x="{_LEFT - 10}" y="14">since start</text>')
    if bottom_axis:
        _axis(parts, scale, lanes_top + lanes_h + 18, 0, 0, grid=False)

    # Stages along the time axis.
    if n_rows:
        parts.append(f'<text class="track-label" x="{_LEFT - 10}" y="{_f(stage_top + 11)}">stages</text>')
        parts.append('<g class="stages">')
        for row, s, e, st in rows:
            x0, x1 = scale.x(s), scale.x(e)
            w = max(1.0, x1 - x0 - (1 if x1 - x0 > 3 else 0))  # a hairline gap between neighbours
            y = stage_top + row * _STAGE_ROW_H
            failure = str(st[5]) if len(st) > 5 and st[5] else ""
            running = _opt_num(st[4]) is None
            cls = "stage" + (" failed" if failure else "") + (" running" if running else "")
            name = str(st[2])
            title = f"stage {st[0]}.{st[1]}: {name}\n{_fmt_rel(s - scale.t0)} → " + (
                "still running" if running else f"{_fmt_rel(e - scale.t0)} ({_fmt_secs((e - s) / 1000)})"
            )
            if failure:
                title += f"\nfailed: {failure}"
            parts.append(
                f'<g class="{cls}" data-stage="{_e(st[0])}"><title>{_e(title)}</title>'
                f'<rect x="{_f(x0)}" y="{_f(y + 1)}" width="{_f(w)}" height="{_STAGE_ROW_H - 3}" rx="2"/>'
            )
            chars = int((w - 6) / 6.4)
            if chars >= 4:
                # A nested <svg> clips the label to its stage's box.
                label = _short(f"{st[0]}: {name}", chars)
                parts.append(
                    f'<svg x="{_f(x0)}" y="{_f(y)}" width="{_f(w)}" height="{_STAGE_ROW_H}">'
                    f'<text x="3" y="11.5">{_e(label)}</text></svg>'
                )
            parts.append("</g>")
        parts.append("</g>")

    # Lanes, bottom first: a marker may overflow a thin lane downwards and stays on top.
    label_every = next((k for k in (1, 2, 5, 10, 20, 50, 100) if k * lane_h >= 12), 100)
    loss_by_exec: dict[str, list[Mapping[str, Any]]] = {}
    for loss in _seq(app.get("losses")):
        loss = _map(loss)
        loss_by_exec.setdefault(str(loss.get("exec_id")), []).append(loss)
    lane_of = {ex.exec_id: i for i, members in enumerate(lanes) for ex in members}
    parts.append('<g class="lanes">')
    label_parts: list[str] = []
    marker_h = max(lane_h - pad, 7.0)
    for i in range(nl - 1, -1, -1):
        members = lanes[i]
        y = lanes_top + i * lane_h
        if aggregated:
            attrs = (
                f'data-exec="{_e(members[0].exec_id)}" data-exec-last="{_e(members[-1].exec_id)}" '
                f'data-count="{len(members)}"'
            )
        else:
            attrs = f'data-exec="{_e(members[0].exec_id)}" data-count="1"'
        parts.append(f'<g class="lane{" group" if aggregated else ""}" {attrs}>')
        parts.append(f"<title>{_e(_lane_title(members, scale, aggregated))}</title>")
        if i % 2 == 1 or nl <= 12:
            parts.append(
                f'<rect class="track" x="{_LEFT}" y="{_f(y)}" width="{_PLOT}" height="{_f(lane_h)}"/>'
            )
        for run in _rasterize(members, scale, has_idle):
            ry, rh = y + pad / 2, lane_h - pad
            fill = f"url(#{uid}-hatch)" if run.state == "cache_held" else _COLOR[run.state]
            parts.append(
                f'<rect class="run s-{run.state}" x="{_f(_LEFT + run.c0)}" y="{_f(ry)}" '
                f'width="{run.c1 - run.c0}" height="{_f(rh)}" fill="{fill}"'
            )
            if run.state in ("busy", "alive"):
                parts.append("/>")
                continue
            t_a = scale.t0 + run.c0 * scale.ms_per_col
            t_b = scale.t0 + run.c1 * scale.ms_per_col
            per_cause = {k: v * scale.ms_per_col / 1000 for k, v in sorted(run.idle_cols.items())}
            title = (
                f"{_LABEL[run.state]}\n{_fmt_rel(t_a - scale.t0)} → {_fmt_rel(t_b - scale.t0)}: "
                f"idle {_causes_text(per_cause)}"
            )
            if any(ex.open_idle and ex.open_idle[1] > t_a for ex in members):
                title += "\n(the last stretch is still open: idle at the end of the data)"
            parts.append(f"><title>{_e(title)}</title></rect>")
        for ex in members:
            if ex.removed is not None:
                cause = str(ex.info.get("removed_cause") or "other")
                color = _REMOVAL_COLOR.get(cause, _REMOVAL_COLOR["other"])
                x = scale.x(ex.removed)
                title = (
                    f"executor {ex.exec_id} removed {_fmt_rel(ex.removed - scale.t0)}\n"
                    f"cause {cause}: {ex.info.get('removed_reason') or 'no reason given'}"
                )
                parts.append(
                    f'<rect class="removal-marker" data-exec="{_e(ex.exec_id)}" data-cause="{_e(cause)}" '
                    f'data-t="{ex.removed:.0f}" '
                    f'x="{_f(x - 1.5)}" y="{_f(y + pad / 2)}" width="3" height="{_f(marker_h)}" '
                    f'fill="{color}"><title>{_e(title)}</title></rect>'
                )
            for loss in loss_by_exec.get(ex.exec_id, []):
                x = scale.x(_num(loss.get("time_ms")))
                # At the lane's top, pointing down at the instant: the removal bar stays visible below.
                size = min(12.0, max(7.0, (lane_h - pad) * 0.6))
                ty = y + pad / 2
                parts.append(
                    f'<path class="loss-marker" data-exec="{_e(ex.exec_id)}" '
                    f'data-t="{_num(loss.get("time_ms")):.0f}" data-blocks="{int(_num(loss.get("blocks")))}" '
                    f'd="M{_f(x - size / 2)} {_f(ty)}H{_f(x + size / 2)}L{_f(x)} {_f(ty + size)}Z" '
                    f'fill="{_LOSS_COLOR}"><title>{_e(_loss_title(loss, scale.t0))}</title></path>'
                )
        parts.append("</g>")
        if i % label_every == 0:
            if aggregated:
                text = f"{_short(members[0].exec_id, 8)}\u2013{_short(members[-1].exec_id, 8)}"
            else:
                text = "exec " + _short(members[0].exec_id, 12)
            size = min(11.0, max(9.0, lane_h * 0.6))
            label_parts.append(
                f'<text class="lane-label" x="{_LEFT - 10}" y="{_f(y + lane_h / 2 + size * 0.35)}" '
                f'font-size="{_f(size)}">{_e(text)}</text>'
            )
    parts.append("</g>")
    parts.extend(label_parts)
    for gap in (_seq(g) for g in _seq(app.get("gaps"))):
        g0, g1 = (_opt_num(gap[0]), _opt_num(gap[1])) if len(gap) >= 2 else (None, None)
        if g0 is None or g1 is None or g1 < g0:
            continue
        gx0, gx1 = scale.x(g0), scale.x(g1)
        gw = max(2.0, gx1 - gx0)
        title = f"events may be missing {_fmt_rel(g0 - scale.t0)} → {_fmt_rel(g1 - scale.t0)}"
        parts.append(
            f'<rect class="gap-shade" x="{_f(gx0)}" y="{_f(top_axis)}" width="{_f(gw)}" '
            f'height="{_f(lanes_top + lanes_h - top_axis)}"/>'
            f'<rect class="gap" x="{_f(gx0)}" y="{_f(top_axis - 4)}" width="{_f(gw)}" height="5">'
            f"<title>{_e(title)}</title></rect>"
        )
    parts.append(
        f'<line class="xhair" x1="0" x2="0" y1="{_f(top_axis)}" y2="{_f(lanes_top + lanes_h)}" '
        'visibility="hidden"/>'
        f'<text class="xhair-label" x="0" y="{_f(top_axis - 8)}" visibility="hidden"></text>'
    )
    parts.append("</svg>")

    notes: list[str] = []
    if aggregated:
        notes.append(
            f"{n} executors, more than {MAX_LANES} lanes: each lane groups {per_lane} executors in order of "
            f"addition ({nl} lanes); a pixel shows what most of the lane's executors did at that time."
        )
    orphans = [
        exec_id for exec_id in loss_by_exec if exec_id not in lane_of
    ]
    if orphans:
        notes.append(
            f"{len(orphans)} loss(es) on executors not in the figures (e.g. the driver's block manager): "
            "listed in the table below, not drawn."
        )
    floors = [_num(v) for v in _map(timeline.get("idle_min_ms")).values() if _num(v) > 0]
    if floors:
        notes.append(
            f"{len(floors)} executor(s) had too many idle gaps to keep: gaps shorter than "
            f"{_fmt_secs(max(floors) / 1000)} or less are drawn as busy."
        )
    if execs and not has_idle:
        notes.append("The data has no idle segments (no timeline): lanes show lifetimes only.")
    dropped = int(_num(timeline.get("stages_dropped")))
    if dropped:
        notes.append(f"{dropped} stage(s) past the timeline's cap are not drawn.")
    return "".join(parts), " ".join(notes)


def _cached_svg(app: Mapping[str, Any], scale: _Scale, uid: str) -> str:
    """Draw cached bytes (all replicas) over time as a step line; losses as red marks."""
    points: list[tuple[float, float]] = []
    for p in _seq(_map(app.get("timeline")).get("cached_bytes")):
        p = _seq(p)
        if len(p) >= 2:
            t, v = _opt_num(p[0]), _opt_num(p[1])
            if t is not None and v is not None:
                points.append((t, max(0.0, v)))
    points.sort(key=lambda p: p[0])
    top_pad, plot_h, bottom = 14.0, 130.0, 26.0
    height = top_pad + plot_h + bottom
    vmax, ticks = _byte_ticks(max((v for _, v in points), default=0.0))

    def y(v: float) -> float:
        return top_pad + plot_h - (v / vmax) * plot_h

    parts: list[str] = [
        f'<svg class="chart cached" id="{uid}-cached" viewBox="0 0 {_W} {_f(height)}" role="img" '
        f'aria-label="cached bytes over time" data-t0="{scale.t0:.0f}" data-t1="{scale.t1:.0f}" '
        f'data-x0="{_LEFT}" data-pw="{_PLOT}" '
        f'data-points="{";".join(f"{t:.0f},{v:.0f}" for t, v in points)}">'
    ]
    for v in ticks:
        yy = y(v)
        parts.append(
            f'<line class="grid" x1="{_LEFT}" x2="{_LEFT + _PLOT}" y1="{_f(yy)}" y2="{_f(yy)}"/>'
            f'<text class="ytick" x="{_LEFT - 8}" y="{_f(yy + 3.5)}">{_e(_fmt_bytes(v))}</text>'
        )
    _axis(parts, scale, top_pad + plot_h + 17, 0, 0, grid=False)
    # Step line: the value holds until the next point; 0 before the first, last value to the end.
    d_line = [f"M{_f(_LEFT)} {_f(y(0))}"]
    for t, v in points:
        d_line.append(f"H{_f(scale.x(t))}V{_f(y(v))}")
    d_line.append(f"H{_f(_LEFT + _PLOT)}")
    line = "".join(d_line)
    base = _f(y(0))
    parts.append(f'<path class="cached-area" d="{line}V{base}H{_f(_LEFT)}Z"/>')
    parts.append(f'<path class="cached-line" d="{line}"/>')
    losses = [_map(x) for x in _seq(app.get("losses"))]
    for loss in losses:
        x = scale.x(_num(loss.get("time_ms")))
        # Many losses: the triangles alone (a line each would paint the chart red).
        line = (
            f'<line x1="{_f(x)}" x2="{_f(x)}" y1="{_f(top_pad)}" y2="{_f(top_pad + plot_h)}"/>'
            if len(losses) <= 30 else ""
        )
        parts.append(
            f'<g class="loss-line"><title>{_e(_loss_title(loss, scale.t0))}</title>{line}'
            f'<path d="M{_f(x - 5)} {_f(top_pad - 8)}H{_f(x + 5)}L{_f(x)} {_f(top_pad)}Z"/></g>'
        )
    parts.append(
        f'<line class="xhair" x1="0" x2="0" y1="{_f(top_pad)}" y2="{_f(top_pad + plot_h)}" '
        'visibility="hidden"/>'
        f'<text class="xhair-label" x="0" y="{_f(top_pad + 10)}" visibility="hidden"></text></svg>'
    )
    return "".join(parts)


# ---------------------------------------------------------------------------------------- page parts
def _legend(uid: str) -> str:
    items: list[str] = []
    for key, color, label in _STATES:
        if key in ("other", "alive"):
            continue
        style = "" if key != "cache_held" else " hatch"
        items.append(
            f'<button type="button" class="lg" data-state="{key}" aria-pressed="false">'
            f'<span class="sw{style}" style="background-color:{color}"></span>{_e(label)}</button>'
        )
    items.append(
        f'<span class="lg-static"><span class="sw tri" style="color:{_LOSS_COLOR}">▼</span>'
        "cached blocks lost</span>"
    )
    for cause, color in _REMOVAL_COLOR.items():
        items.append(
            f'<span class="lg-static"><span class="sw bar" style="background-color:{color}"></span>'
            f"removed: {_e(cause)}</span>"
        )
    return f'<div class="legend" id="{uid}-legend">{"".join(items)}</div>'


def _card(title: str, value: str, sub: str, extra: str = "", cls: str = "") -> str:
    return (
        f'<div class="card {cls}"><div class="card-title">{_e(title)}</div>'
        f'<div class="card-value">{value}</div><div class="card-sub">{sub}</div>{extra}</div>'
    )


def _cards(app: Mapping[str, Any]) -> str:
    alloc = _num(app.get("allocated_core_seconds"))
    idle_core = _num(app.get("idle_core_seconds"))
    busy = _num(app.get("busy_core_seconds"))
    share = idle_core / alloc * 100 if alloc > 0 else 0.0
    cards: list[str] = []
    level = "bad" if share >= 50 else ("warn" if share >= 25 else "")
    meter = f'<div class="meter"><span style="width:{min(100.0, max(0.0, share)):.1f}%"></span></div>'
    cards.append(
        _card(
            "Idle core share",
            f'<span data-figure="idle_share">{share:.0f}%</span>',
            f"{_e(_fmt_num(idle_core))} of {_e(_fmt_num(alloc))} core-s allocated were idle; "
            f"busy {_e(_fmt_num(busy))} core-s",
            meter,
            level,
        )
    )
    by_cause = _map(app.get("idle_by_cause"))
    total_idle = _num(app.get("idle_executor_seconds"))
    bar_total = sum(_num(v) for v in by_cause.values()) or 1.0
    segs = []
    rows = []
    for cause, v in by_cause.items():
        secs = _num(v)
        key = _state_key(cause)
        if secs <= 0:
            continue
        hatch = " hatch" if key == "cache_held" else ""
        segs.append(
            f'<span class="seg{hatch}" style="width:{secs / bar_total * 100:.2f}%;'
            f'background-color:{_COLOR[key]}" '
            f'title="{_e(cause)}: {_e(_fmt_secs(secs))}"></span>'
        )
        rows.append(
            f'<li><span class="sw{hatch}" style="background-color:{_COLOR[key]}"></span>'
            f'<span class="k">{_e(cause)}</span><span class="v">{_e(_fmt_secs(secs))}</span></li>'
        )
    extra = f'<div class="stack">{"".join(segs)}</div><ul class="kv">{"".join(rows)}</ul>' if segs else ""
    cards.append(
        _card(
            "Idle executor time",
            f'<span data-figure="idle_executor_seconds">{_e(_fmt_secs(total_idle))}</span>',
            "executor-seconds with no task running, by cause",
            extra,
        )
    )
    lost_blocks = int(_num(app.get("cache_lost_blocks")))
    estimated = bool(app.get("cache_estimated"))
    lost_rows = ""
    for c, v in _map(app.get("cache_lost_by_cause")).items():
        pair = _seq(v)
        text = _blocks(pair[0] if pair else 0)
        if not estimated:
            text += f", {_fmt_bytes(_num(pair[1] if len(pair) > 1 else 0))}"
        lost_rows += f'<li><span class="k">{_e(c)}</span><span class="v">{_e(text)}</span></li>'
    if estimated:
        sub = "estimated from tasks (no block updates in the log): sizes unknown"
    else:
        sub = f"{_e(_fmt_bytes(_num(app.get('cache_lost_bytes'))))} of cached data lost with executors"
    replicas = int(_num(app.get("cache_replicas_lost")))
    migrated = int(_num(app.get("cache_migrated_blocks")))
    if replicas or migrated:
        sub += f"; {replicas} replica(s) lost, {migrated} block(s) migrated"
    cards.append(
        _card(
            "Cached blocks lost",
            f'<span data-figure="cache_lost_blocks">{lost_blocks:,}</span>'
            + (" <small>estimated</small>" if estimated else ""),
            sub,
            f'<ul class="kv">{lost_rows}</ul>' if lost_rows else "",
            "bad" if lost_blocks else "",
        )
    )
    cards.append(
        _card(
            "Recomputed",
            '<span data-figure="cache_recomputed_blocks">'
            f'{int(_num(app.get("cache_recomputed_blocks"))):,}</span>'
            ' <small>blocks</small>',
            f"{_e(_fmt_secs(_num(app.get('cache_recompute_seconds'))))} of task time rebuilding them "
            "(upper bound)"
            + (
                f"; {_e(_fmt_secs(_num(app.get('uncached_recompute_seconds'))))} repeating uncached lineages"
                if _num(app.get("uncached_recompute_seconds")) > 0
                else ""
            ),
        )
    )
    removed_rows = "".join(
        f'<li><span class="sw bar" style="background-color:'
        f'{_REMOVAL_COLOR.get(str(c), _REMOVAL_COLOR["other"])}"></span>'
        f'<span class="k">{_e(c)}</span><span class="v">{int(_num(v))}</span></li>'
        for c, v in _map(app.get("removed_by_reason")).items()
    )
    active = int(_num(app.get("executors_active")))
    cards.append(
        _card(
            "Executors",
            f'<span data-figure="executors_added">{int(_num(app.get("executors_added")))}</span>'
            " <small>added</small>",
            f"{int(_num(app.get('executors_removed')))} removed before the end"
            + (f", {active} active now" if app.get("running") else "")
            + (", by cause:" if removed_rows else ""),
            f'<ul class="kv">{removed_rows}</ul>' if removed_rows else "",
        )
    )
    t = _map(app.get("tasks"))
    failed, killed = int(_num(t.get("failed"))), int(_num(t.get("killed")))
    task_sub = f"{failed} failed, {killed} killed"
    if _num(t.get("running")):
        task_sub += f", {int(_num(t.get('running')))} running"
    task_sub += f"; {_fmt_secs(_num(t.get('run_seconds')))} of task time"
    cards.append(
        _card(
            "Tasks succeeded",
            f'<span data-figure="tasks_success">{int(_num(t.get("success"))):,}</span>',
            _e(task_sub),
            "",
            "warn" if failed else "",
        )
    )
    return f'<div class="cards">{"".join(cards)}</div>'


def _losses_table(app: Mapping[str, Any], t0: float) -> str:
    losses = [_map(x) for x in _seq(app.get("losses"))]
    if not losses:
        return ""
    rows = []
    for loss in losses:
        rdds = []
        for r in _seq(loss.get("rdds")):
            r = _map(r)
            where = r.get("first_stage") or r.get("callsite") or "?"
            rdds.append(
                f'<div class="rdd">RDD {_e(r.get("rdd_id"))} <b>{_e(r.get("name") or "")}</b> '
                f'<code>{_e(where)}</code> — {_blocks(r.get("blocks"))}, '
                f'{_e(_fmt_bytes(_num(r.get("memory_bytes")) + _num(r.get("disk_bytes"))))}</div>'
            )
        rows.append(
            f'<tr><td class="num">{_e(_when(loss.get("time_ms"), t0))}</td>'
            f'<td><code>{_e(loss.get("exec_id"))}</code></td>'
            f'<td class="nowrap">{_e(loss.get("cause") or "?")}</td>'
            f'<td class="reason">{_e(loss.get("reason") or "")}</td>'
            f'<td class="num">{int(_num(loss.get("blocks")))}</td>'
            f'<td class="num">{_e(_fmt_bytes(_num(loss.get("bytes"))))}</td><td>{"".join(rdds)}</td></tr>'
        )
    return _maybe_collapsed(
        "Cache losses",
        '<table class="data"><thead><tr><th>when</th><th>executor</th><th>cause</th><th>Spark reason</th>'
        '<th class="num">blocks</th><th class="num">bytes</th><th>RDDs (where first used)</th></tr></thead>'
        "<tbody>{rows}</tbody></table>",
        rows,
    )


def _maybe_collapsed(title: str, template: str, rows: list[str]) -> str:
    head = f"<h3>{_e(title)} <small>({len(rows)})</small></h3>"
    if len(rows) <= _MAX_LISTED:
        return head + template.format(rows="".join(rows))
    shown = template.format(rows="".join(rows[:_MAX_LISTED]))
    rest = template.format(rows="".join(rows[_MAX_LISTED:]))
    return (
        f"{head}{shown}<details><summary>{len(rows) - _MAX_LISTED} more</summary>{rest}</details>"
    )


def _findings(app: Mapping[str, Any], t0: float) -> str:
    findings = [_map(x) for x in _seq(app.get("findings"))]
    by_kind = _map(app.get("findings_by_kind"))
    if not findings:
        return '<h3>Findings</h3><p class="muted">No findings.</p>'
    rows = [
        f'<tr><td class="num">{_e(_when(f.get("time_ms"), t0))}</td>'
        f'<td><span class="badge">{_e(f.get("kind") or "?")}</span></td>'
        f"<td>{_e(f.get('message') or '')}</td></tr>"
        for f in sorted(findings, key=lambda f: _num(f.get("time_ms")))
    ]
    total = sum(int(_num(v)) for v in by_kind.values())
    note = ""
    if total > len(findings):
        note = (
            f'<p class="muted">{total} findings in all; the oldest {total - len(findings)} '
            "were not kept.</p>"
        )
    return note + _maybe_collapsed(
        "Findings",
        '<table class="data"><thead><tr><th>when</th><th>kind</th><th>finding</th></tr></thead>'
        "<tbody>{rows}</tbody></table>",
        rows,
    )


def _fmt_core_hours(hours: float) -> str:
    return f"{hours:,.1f} core-hours" if hours >= 1 else f"{hours * 3600:,.0f} core-seconds"


def _fmt_value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1 else f"{value:,.1f}"
    return str(value)


def _advice(app: Mapping[str, Any]) -> str:
    """Each piece of advice: kind, message, the Spark settings to try, evidence, estimated saving."""
    items = []
    for a in _seq(app.get("advice")):
        if not isinstance(a, Mapping):
            items.append(f'<div class="advice-item"><p>{_e(a)}</p></div>')
            continue
        head = f'<span class="badge">{_e(a.get("kind") or "advice")}</span>'
        saving = _num(a.get("saving_core_hours"))
        if saving > 0:
            head += f'<span class="saving">saves ≈ {_e(_fmt_core_hours(saving))}</span>'
        settings = _map(a.get("settings"))
        conf = ""
        if settings:
            lines = "\n".join(f"{k}={v}" for k, v in settings.items())
            conf = f'<pre class="settings"><code>{_e(lines)}</code></pre>'
        evidence = _map(a.get("evidence"))
        ev = ""
        if evidence:
            ev = '<div class="evidence">evidence: ' + ", ".join(
                f"{_e(k)} <b>{_e(_fmt_value(v))}</b>" for k, v in evidence.items()
            ) + "</div>"
        items.append(
            f'<div class="advice-item"><div class="advice-head">{head}</div>'
            f"<p>{_e(a.get('message') or '')}</p>{conf}{ev}</div>"
        )
    if not items:
        return '<h3>Advice</h3><p class="muted">No advice for this application.</p>'
    return f'<h3>Advice <small>({len(items)})</small></h3>{"".join(items)}'


def _what_if(app: Mapping[str, Any]) -> str:
    """Show the what-if replay (docs/advice.md): estimated wall time and cost at other executor counts."""
    w = _map(app.get("what_if"))
    rows = [_map(r) for r in _seq(w.get("rows"))]
    if not rows:
        return ""
    measured = _num(w.get("measured_avg_executors"))
    nearest = min(rows, key=lambda r: abs(_num(r.get("executors")) - measured))
    body = "".join(
        ('<tr class="measured">' if r is nearest else "<tr>")
        + f'<td class="num">{int(_num(r.get("executors")))}</td>'
        f'<td class="num">{_e(_fmt_secs(_num(r.get("est_wall_seconds"))))}</td>'
        f'<td class="num">{_e(_fmt_num(_num(r.get("est_allocated_core_seconds"))))}</td></tr>'
        for r in rows
    )
    error = _num(w.get("model_error")) * 100
    cores = int(_num(w.get("executor_cores")))
    sub = (
        f"Measured: {_e(_fmt_secs(_num(w.get('measured_wall_seconds'))))} with {measured:.1f} executors "
        f"on average ({cores} core{'' if cores == 1 else 's'} each), of which "
        f"{_e(_fmt_secs(_num(w.get('driver_seconds'))))} with no stage running. The model gives "
        f"{_e(_fmt_secs(_num(w.get('model_wall_seconds_at_measured'))))} at the measured count "
        f"({error:+.1f}%)."
    )
    return (
        '<h3>What if <small>(model, static allocation)</small></h3>'
        f'<p class="hint">{sub}</p>'
        '<table class="data whatif"><thead><tr><th class="num">executors</th>'
        '<th class="num">est. wall time</th>'
        f'<th class="num">est. allocated core-s</th></tr></thead><tbody>{body}</tbody></table>'
    )


def _uncached(app: Mapping[str, Any]) -> str:
    reuse = [_map(r) for r in _seq(app.get("uncached_reuse"))]
    if not reuse:
        return ""
    rows = [
        f'<tr><td><code>{_e(r.get("callsite") or "?")}</code></td>'
        f'<td class="num">{int(_num(r.get("times")))} times</td>'
        f'<td class="num">{_e(_fmt_secs(_num(r.get("repeat_task_seconds"))))}</td></tr>'
        for r in reuse
    ]
    return _maybe_collapsed(
        "Computed more than once without a cache",
        '<table class="data"><thead><tr><th>lineage (callsite)</th><th class="num">computed</th>'
        '<th class="num">task time of the repeats</th></tr></thead><tbody>{rows}</tbody></table>',
        rows,
    )


def _source(app: Mapping[str, Any]) -> str:
    src = _map(app.get("source"))
    rows: list[tuple[str, str]] = []
    if src:
        rows += [
            ("log", str(src.get("name") or "?")),
            ("layout", str(src.get("layout") or "?")),
            ("codecs", ", ".join(str(c) for c in _seq(src.get("codecs"))) or "none"),
            ("lines / events", f"{int(_num(src.get('lines'))):,} / {int(_num(src.get('events'))):,}"),
            ("in progress", "yes" if src.get("in_progress") else "no"),
        ]
    rows.append(("bad lines", f"{int(_num(app.get('bad_lines'))):,}"))
    listener = _map(app.get("listener"))
    if _num(listener.get("offered")):
        rows.append(
            ("listener", f"{int(_num(listener.get('offered'))):,} events offered, "
                         f"{int(_num(listener.get('dropped'))):,} dropped")
        )
    over = _map(app.get("over_limit"))
    if over:
        rows.append(("over limits", ", ".join(f"{k} {int(_num(v))}" for k, v in over.items())))
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return (
        '<details class="source"><summary>Data source</summary>'
        f'<table class="kvt">{body}</table></details>'
    )


def _warnings(app: Mapping[str, Any], t1: float) -> list[str]:
    out: list[str] = []
    if app.get("end_ms") is None:
        if _map(app.get("source")).get("in_progress") or app.get("incomplete"):
            out.append(
                f"No application end in the data (in-progress log, or the app is still running): "
                f"drawn up to the last event, {_fmt_clock(t1)}."
            )
        else:
            out.append(f"The application is still running: drawn up to {_fmt_clock(t1)}.")
    dropped = int(_num(_map(app.get("listener")).get("dropped")))
    if dropped:
        out.append(f"The listener dropped {dropped:,} events: figures may be low.")
    if int(_num(app.get("bad_lines"))):
        out.append(f"{int(_num(app.get('bad_lines'))):,} unreadable log lines were skipped.")
    gaps = [g for g in (_seq(x) for x in _seq(app.get("gaps"))) if len(g) >= 2]
    if gaps:
        out.append(
            f"Events may be missing in {len(gaps)} time range(s) (listener drops, or the agent joined "
            "the stream late): shaded on the timeline; figures there may be low."
        )
    no_points = not _seq(_map(app.get("timeline")).get("cached_bytes"))
    if app.get("cache_estimated"):
        out.append(
            "No block updates in this log: cache figures are estimated from tasks (blocks counted, "
            "sizes unknown, replicas not seen; docs/cache-loss.md). Set "
            "spark.eventLog.logBlockUpdates.enabled=true for exact figures."
        )
    elif no_points and not int(_num(app.get("cache_lost_blocks"))):
        out.append(
            "No cached-block data: nothing was cached, or the log holds no block updates "
            "(spark.eventLog.logBlockUpdates.enabled=true records them); cache loss cannot be seen "
            "without them."
        )
    return out


def _app_section(app: Mapping[str, Any], index: int) -> str:
    uid = f"a{index}"
    t0, t1 = _time_range(app)
    scale = _Scale(t0, t1)
    execs = _executors(app, t1)
    name = str(app.get("app_name") or "(unnamed application)")
    app_id = str(app.get("app_id") or "no app id")
    running = app.get("end_ms") is None
    status = (
        '<span class="pill run">running / incomplete</span>'
        if running
        else '<span class="pill ok">finished</span>'
    )
    da = app.get("dynamic_allocation")
    da_text = "dynamic allocation on" if da is True else ("dynamic allocation off" if da is False else "")
    meta = [
        f"<code>{_e(app_id)}</code>",
        f"Spark {_e(app.get('spark_version') or '?')}",
        f"user {_e(app.get('user') or '?')}",
        f"started {_e(_fmt_clock(_opt_num(app.get('start_ms')) or t0))}",
        f"{'ran' if not running else 'observed'} {_e(_fmt_secs((t1 - t0) / 1000))}",
    ]
    if da_text:
        meta.append(_e(da_text))
    parts: list[str] = [
        f'<section class="app" id="app-{index}" data-app-id="{_e(app_id)}">',
        f'<header class="app-head"><h2>{_e(name)} {status}</h2>'
        f'<div class="meta">{" · ".join(meta)}</div></header>',
    ]
    warns = _warnings(app, t1)
    if warns:
        parts.append('<div class="notes">' + "".join(f"<p>{_e(w)}</p>" for w in warns) + "</div>")
    parts.append(_cards(app))
    parts.append("<h3>Executor timeline</h3>")
    stages = _seq(_map(app.get("timeline")).get("stages"))
    has_stages = any(len(_seq(s)) >= 5 and _num(_seq(s)[3]) > 0 for s in stages)
    if execs or has_stages:
        svg, note = _timeline_svg(app, scale, execs, uid)
        parts.append(_legend(uid))
        parts.append(
            '<p class="hint">One lane per executor, from its addition to its removal (or the end). '
            "Hover anything for details; click a legend entry to highlight it.</p>"
        )
        if not execs:
            parts.append(
                '<p class="muted">No executor was recorded (local mode runs tasks inside the driver).</p>'
            )
        parts.append(f'<div class="chart-box">{svg}</div>')
        if note:
            parts.append(f'<p class="note">{_e(note)}</p>')
    else:
        parts.append('<p class="muted">No executors and no stages in the data: nothing to draw.</p>')
    parts.append("<h3>Cached bytes over time <small>(all replicas, memory + disk)</small></h3>")
    if _seq(_map(app.get("timeline")).get("cached_bytes")):
        parts.append(f'<div class="chart-box">{_cached_svg(app, scale, uid)}</div>')
    elif app.get("cache_estimated"):
        parts.append(
            '<p class="muted">No block updates in the data: cached bytes over time are unknown '
            "(cache figures are estimated from tasks).</p>"
        )
    else:
        parts.append('<p class="muted">No block updates in the data.</p>')
    parts.append(_losses_table(app, t0))
    parts.append(_uncached(app))
    what_if = _what_if(app)
    if what_if:
        parts.append(f'<div class="two"><div>{_advice(app)}</div><div>{what_if}</div></div>')
    else:
        parts.append(_advice(app))
    parts.append(_findings(app, t0))
    parts.append(_source(app))
    parts.append("</section>")
    return "".join(parts)


def _toc(apps: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for i, app in enumerate(apps):
        alloc = _num(app.get("allocated_core_seconds"))
        share = _num(app.get("idle_core_seconds")) / alloc * 100 if alloc > 0 else 0.0
        t0, t1 = _time_range(app)
        status = "running" if app.get("end_ms") is None else "finished"
        rows.append(
            f'<tr><td><a href="#app-{i}">{_e(app.get("app_name") or "(unnamed)")}</a></td>'
            f'<td><code>{_e(app.get("app_id") or "")}</code></td><td class="nowrap">{status}</td>'
            f'<td class="num">{_e(_fmt_secs((t1 - t0) / 1000))}</td>'
            f'<td class="num">{share:.0f}%</td>'
            f'<td class="num">{int(_num(app.get("cache_lost_blocks"))):,}</td>'
            f'<td class="num">{len(_map(app.get("executors")))}</td></tr>'
        )
    return (
        '<nav class="toc"><table class="data"><thead><tr><th>application</th><th>id</th><th>status</th>'
        '<th class="num">duration</th>'
        '<th class="num">idle cores</th><th class="num">blocks lost</th><th class="num">executors</th>'
        "</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></nav>"
    )


_CSS = """
:root{--fg:#212529;--muted:#6c757d;--line:#dee2e6;--bg:#f4f6f8;--card:#fff;--accent:#364fc7}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);
 font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:.92em}
.top{background:#1f2937;color:#f8f9fa;padding:14px 28px;display:flex;align-items:baseline;gap:16px}
.top h1{font-size:18px;margin:0;font-weight:600;letter-spacing:.2px}
.top .sub{color:#adb5bd;font-size:13px}
main{max-width:1320px;margin:0 auto;padding:18px 28px 40px}
section.app{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:18px 22px;
 margin:0 0 26px;box-shadow:0 1px 2px rgba(0,0,0,.04)}
.app-head h2{margin:0;font-size:20px;font-weight:650;word-break:break-word}
.meta{color:var(--muted);font-size:13px;margin-top:3px}
.pill{display:inline-block;font-size:11px;font-weight:600;border-radius:999px;padding:2px 9px;
 vertical-align:middle;margin-left:6px;text-transform:uppercase;letter-spacing:.4px}
.pill.ok{background:#e6fcf5;color:#087f5b}.pill.run{background:#fff4e6;color:#d9480f}
h3{font-size:15px;margin:22px 0 8px;font-weight:650}h3 small{color:var(--muted);font-weight:400}
.cards{display:grid;grid-template-columns:repeat(3,1fr);gap:12px;margin-top:14px}
@media (max-width:900px){.cards{grid-template-columns:repeat(2,1fr)}}
.card{border:1px solid var(--line);border-radius:8px;padding:11px 13px;background:#fcfcfd;
 border-top:3px solid #ced4da}
.card.warn{border-top-color:#fab005}.card.bad{border-top-color:#e03131}
.card-title{font-size:11.5px;text-transform:uppercase;letter-spacing:.5px;color:var(--muted);font-weight:600}
.card-value{font-size:26px;font-weight:650;margin:2px 0;font-variant-numeric:tabular-nums}
.card-value small{font-size:13px;color:var(--muted);font-weight:500}
.card-sub{font-size:12.5px;color:#495057}
.meter{height:6px;background:#e9ecef;border-radius:3px;margin-top:8px;overflow:hidden}
.meter span{display:block;height:100%;background:#e8590c}
.stack{display:flex;height:8px;border-radius:3px;overflow:hidden;margin-top:8px;background:#e9ecef}
.kv{list-style:none;margin:6px 0 0;padding:0;font-size:12.5px}
.kv li{display:flex;align-items:center;gap:6px}.kv .k{flex:1;color:#495057}
.kv .v{font-variant-numeric:tabular-nums}
.sw{display:inline-block;width:11px;height:11px;border-radius:2px;flex:none;vertical-align:-1px}
.sw.bar{width:4px;height:12px;border-radius:1px}.sw.tri{width:auto;height:auto;font-size:11px;line-height:1}
.hatch{background-image:repeating-linear-gradient(135deg,rgba(120,40,0,.5) 0 2px,transparent 2px 5px)}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12.5px;margin:2px 0 6px;align-items:center}
.legend .lg,.legend .lg-static{display:inline-flex;align-items:center;gap:6px;color:#343a40}
.legend .lg{border:1px solid transparent;background:none;border-radius:5px;padding:2px 6px;margin:0 -6px;
 font:inherit;cursor:pointer}
.legend .lg:hover{border-color:var(--line)}
.legend .lg[aria-pressed="true"]{border-color:#868e96;background:#f1f3f5}
.hint,.note,.muted{color:var(--muted);font-size:12.5px;margin:4px 0}
.note{background:#f8f9fa;border-left:3px solid #adb5bd;padding:5px 9px}
.notes{margin:12px 0 0}
.notes p{margin:4px 0;background:#fff9db;border-left:3px solid #fab005;padding:6px 10px;font-size:13px}
.chart-box{border:1px solid var(--line);border-radius:8px;padding:6px 4px;background:#fff}
svg.chart{display:block;width:100%;height:auto;font-family:inherit}
svg .tick,svg .ytick{font-size:10.5px;fill:#6c757d}svg .tick{text-anchor:middle}svg .ytick{text-anchor:end}
svg .grid{stroke:#edf0f2;stroke-width:1}
svg .track{fill:#f8f9fa}
svg .lane-label{fill:#495057;text-anchor:end;font-family:ui-monospace,Menlo,Consolas,monospace}
svg .track-label{fill:#868e96;font-size:10.5px;text-anchor:end;text-transform:uppercase;letter-spacing:.4px}
svg .stage rect{fill:#dbe4ff;stroke:#91a7ff;stroke-width:.8}
svg .stage text{font-size:10px;fill:#364fc7;pointer-events:none}
svg .stage.failed rect{fill:#ffe3e3;stroke:#e03131}svg .stage.failed text{fill:#c92a2a}
svg .stage.running rect{stroke-dasharray:3 2}
svg .stage:hover rect{stroke:#364fc7;stroke-width:1.4}
svg .loss-marker{stroke:#fff;stroke-width:1.2;paint-order:stroke}
svg .removal-marker{stroke:#fff;stroke-width:.6}
svg .lane:hover .track{fill:#eef2ff}
svg .cached-area{fill:rgba(247,103,7,.13)}svg .cached-line{fill:none;stroke:#e8590c;stroke-width:1.8}
svg .loss-line line{stroke:#e03131;stroke-width:1;stroke-dasharray:4 3}svg .loss-line path{fill:#e03131}
svg .xhair{stroke:#343a40;stroke-width:1;stroke-dasharray:2 2;pointer-events:none}
svg .xhair-label{font-size:11px;fill:#212529;pointer-events:none;font-weight:600;
 paint-order:stroke;stroke:#fff;stroke-width:3px}
table.data{border-collapse:collapse;width:100%;font-size:13px}
table.data th{text-align:left;font-weight:600;color:#495057;border-bottom:2px solid var(--line);
 padding:5px 8px}
table.data td{border-bottom:1px solid #f1f3f5;padding:5px 8px;vertical-align:top;word-break:break-word}
table.data .num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.reason{color:#495057;min-width:160px;max-width:300px}
table.data td.nowrap{white-space:nowrap;word-break:normal}
.rdd{margin:1px 0}.rdd code{color:#495057}
.badge{display:inline-block;font-size:11px;padding:1px 7px;border-radius:4px;background:#e9ecef;color:#343a40;
 white-space:nowrap}
.two{display:grid;grid-template-columns:3fr 2fr;gap:24px}
@media (max-width:900px){.two{grid-template-columns:1fr}}
.advice-item{border:1px solid var(--line);border-left:3px solid var(--accent);border-radius:6px;
 padding:8px 12px;margin:0 0 10px;font-size:13px;background:#fcfcfd}
.advice-item p{margin:6px 0}.advice-head{display:flex;gap:10px;align-items:center}
.saving{font-size:12px;color:#087f5b;font-weight:600}
pre.settings{background:#f1f3f5;border-radius:4px;padding:6px 9px;margin:6px 0;font-size:12px;
 overflow-x:auto;white-space:pre-wrap;word-break:break-all}
.evidence{color:var(--muted);font-size:12px}.evidence b{color:#495057;font-weight:600}
table.whatif{width:auto;min-width:60%}table.whatif tr.measured td{background:#edf2ff;font-weight:600}
svg .gap-shade{fill:rgba(73,80,87,.10);pointer-events:none}svg .gap{fill:#868e96}
details.source{margin-top:16px;font-size:13px}details.source summary{cursor:pointer;color:var(--muted)}
.kvt th{text-align:left;color:var(--muted);font-weight:500;padding:2px 14px 2px 0}
nav.toc{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:10px 16px;
 margin-bottom:20px}
footer{color:var(--muted);font-size:12px;text-align:center;padding:10px}
.empty{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:30px;text-align:center}
@media print{body{background:#fff}section.app{break-inside:avoid-page;box-shadow:none}}
"""

# The focus filter: with a legend entry pressed, every other state fades.
_CSS += "".join(
    f'.app[data-focus="{k}"] .tl .run:not(.s-{k}){{opacity:.15}}' for k, _, _ in _STATES
)

# Installed first, in <head>: any later error is recorded in the DOM (tests read it headless).
_JS_ERRORS = """
(function(){var r=document.documentElement;function note(m){var p=r.getAttribute('data-sparkprobe-errors');
r.setAttribute('data-sparkprobe-errors',(p?p+' | ':'')+m);}
window.addEventListener('error',function(e){note(String(e.message||e.type));});
window.addEventListener('unhandledrejection',function(e){
 note('unhandled rejection: '+String(e.reason));});})();
"""

_JS = """
(function(){
'use strict';
function rel(ms){var s=ms/1000,sign=s<0?'-':'+';s=Math.abs(s);
 if(s<60)return sign+s.toFixed(1)+'s';
 if(s<3600){var m=Math.floor(s/60),x=Math.floor(s%60);return sign+m+'m'+(x<10?'0':'')+x+'s';}
 var h=Math.floor(s/3600),mm=Math.floor((s%3600)/60);return sign+h+'h'+(mm<10?'0':'')+mm+'m';}
function bytes(n){var u=['B','KiB','MiB','GiB','TiB','PiB'],i=0;
 while(Math.abs(n)>=1024&&i<u.length-1){n/=1024;i++;}
 return i?n.toFixed(1)+' '+u[i]:n.toFixed(0)+' B';}
function points(svg){var raw=svg.getAttribute('data-points');if(!raw)return null;
 return raw.split(';').map(function(p){var a=p.split(',');return [+a[0],+a[1]];});}
function valueAt(pts,t){var v=0;for(var i=0;i<pts.length&&pts[i][0]<=t;i++)v=pts[i][1];return v;}
var sections=document.querySelectorAll('section.app');
Array.prototype.forEach.call(sections,function(sec){
 var charts=Array.prototype.slice.call(sec.querySelectorAll('svg.chart[data-t0]'));
 var data=charts.map(function(svg){return {svg:svg,
  t0:+svg.getAttribute('data-t0'),t1:+svg.getAttribute('data-t1'),
  x0:+svg.getAttribute('data-x0'),pw:+svg.getAttribute('data-pw'),pts:points(svg),
  line:svg.querySelector('.xhair'),label:svg.querySelector('.xhair-label')};});
 function hide(){data.forEach(function(d){if(d.line){d.line.setAttribute('visibility','hidden');
  d.label.setAttribute('visibility','hidden');}});}
 function show(t){data.forEach(function(d){if(!d.line)return;var x=d.x0+(t-d.t0)/(d.t1-d.t0)*d.pw;
  d.line.setAttribute('x1',x);d.line.setAttribute('x2',x);d.line.setAttribute('visibility','visible');
  var text=rel(t-d.t0);if(d.pts)text+='  '+bytes(valueAt(d.pts,t))+' cached';
  d.label.textContent=text;var right=x>d.x0+d.pw*0.8;d.label.setAttribute('x',right?x-6:x+6);
  d.label.setAttribute('text-anchor',right?'end':'start');d.label.setAttribute('visibility','visible');});}
 data.forEach(function(d){
  d.svg.addEventListener('mousemove',function(ev){var m=d.svg.getScreenCTM();if(!m)return;
   var p=d.svg.createSVGPoint();p.x=ev.clientX;p.y=ev.clientY;var q=p.matrixTransform(m.inverse());
   if(q.x<d.x0||q.x>d.x0+d.pw||!(d.t1>d.t0)){hide();return;}
   show(d.t0+(q.x-d.x0)/d.pw*(d.t1-d.t0));});
  d.svg.addEventListener('mouseleave',hide);});
 Array.prototype.forEach.call(sec.querySelectorAll('.legend .lg'),function(btn){
  btn.addEventListener('click',function(){var s=btn.getAttribute('data-state');
   var on=sec.getAttribute('data-focus')===s;
   Array.prototype.forEach.call(sec.querySelectorAll('.legend .lg'),function(b){
    b.setAttribute('aria-pressed','false');});
   if(on){sec.removeAttribute('data-focus');}
   else{sec.setAttribute('data-focus',s);btn.setAttribute('aria-pressed','true');}
  });});
});
document.documentElement.setAttribute('data-sparkprobe-js','ok');
})();
"""

_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


def render_html(reports: Sequence[AppReport], *, title: str | None = None) -> str:
    """Render app reports as one self-contained HTML document.

    Each app gets its headline figures, an executor timeline (SVG: one lane per executor, busy and
    idle-by-cause shading, cache-loss and removal markers, stages), a cached-bytes chart, its cache
    losses, findings and advice. Nothing is fetched when the file is opened (inline CSS, SVG and
    script; a Content-Security-Policy forbids fetches). Every string from the data is escaped.
    ``title`` overrides the document title.
    """
    apps = [r.to_json() for r in reports]
    if title is None:
        if len(apps) == 1:
            title = f"sparkprobe · {apps[0].get('app_name') or apps[0].get('app_id') or 'application'}"
        else:
            title = f"sparkprobe report · {len(apps)} applications"
    body: list[str] = []
    if len(apps) > 1:
        body.append(_toc(apps))
    if not apps:
        body.append('<div class="empty">No application in this report.</div>')
    body.extend(_app_section(app, i) for i, app in enumerate(apps))
    n = len(apps)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="sparkprobe {_e(__version__)}">'
        f"<title>{_e(title)}</title>"
        f"<script>{_JS_ERRORS}</script><style>{_CSS}</style></head><body>"
        f'<div class="top"><h1>sparkprobe</h1><span class="sub">executor idle time &amp; cache loss · '
        f"{n} application{'s' if n != 1 else ''}</span></div>"
        f"<main>{''.join(body)}</main>"
        f'<footer>sparkprobe {_e(__version__)} · figures as defined in docs/figures.md and docs/cache-loss.md'
        "</footer>"
        f"<script>{_JS}</script></body></html>\n"
    )
