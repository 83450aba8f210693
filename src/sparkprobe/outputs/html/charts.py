"""Chart building blocks: the time scale, axes and ticks, and a small SVG line chart over time.

:func:`line_chart` draws one series against time (a step line, or points joined by lines) with
value ticks, a time axis and the crosshair the page script moves; the cached-bytes chart of each
app is one (:func:`cached_bytes_chart`). A new chart (memory over time, a trend per app name in a
fleet report) is another call with its own :class:`Frame` and value format (docs/html-report.md,
"Adding a section").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sparkprobe.model import AppReport
from sparkprobe.outputs.html.format import coord, esc, format_bytes, loss_text

__all__ = [
    "LEFT",
    "LOSS_COLOR",
    "PLOT_WIDTH",
    "WIDTH",
    "Frame",
    "Plot",
    "TimeScale",
    "cached_bytes_chart",
    "line_chart",
    "nice_ticks",
    "time_axis",
]

#: Geometry shared by the app's charts (SVG user units; an SVG scales to its box), so their time
#: axes line up: one rasterisation column of the timeline per unit of plot width.
WIDTH = 1200
LEFT = 132
RIGHT = 20
PLOT_WIDTH = WIDTH - LEFT - RIGHT

LOSS_COLOR = "#e03131"


@dataclass(frozen=True, slots=True)
class TimeScale:
    """Maps event time (epoch ms) ``t0``..``t1`` to x from ``left`` over ``width`` units."""

    t0: float
    t1: float
    left: float = LEFT
    width: float = PLOT_WIDTH

    def x(self, t: float) -> float:
        """The x of time ``t``, clamped to the plot."""
        span = self.t1 - self.t0
        frac = (t - self.t0) / span if span > 0 else 0.0
        return self.left + min(1.0, max(0.0, frac)) * self.width

    def col(self, t: float) -> float:
        """Time ``t`` in plot columns from the left edge (not clamped)."""
        span = self.t1 - self.t0
        return (t - self.t0) / span * self.width if span > 0 else 0.0

    @property
    def ms_per_col(self) -> float:
        """Milliseconds one plot column covers."""
        return (self.t1 - self.t0) / self.width

    def data_attrs(self) -> str:
        """The attributes the page script reads to map the mouse to time (``data-t0``...)."""
        return (
            f'data-t0="{self.t0:.0f}" data-t1="{self.t1:.0f}" data-x0="{coord(self.left)}" '
            f'data-pw="{coord(self.width)}"'
        )


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


def time_axis(scale: TimeScale, y_text: float, y0: float = 0, y1: float = 0, grid: bool = False) -> str:
    """Tick labels at round offsets from ``t0`` (``30s``, ``2m30s``, ``1h``) at ``y_text``.

    With ``grid``, a vertical grid line from ``y0`` to ``y1`` at each tick.
    """
    span_s = (scale.t1 - scale.t0) / 1000
    step = _time_step(span_s)
    parts: list[str] = []
    k = 0
    while k * step <= span_s + 1e-9 and k < 200:
        sec = k * step
        x = coord(scale.x(scale.t0 + sec * 1000))
        if grid:
            parts.append(f'<line class="grid" x1="{x}" x2="{x}" y1="{coord(y0)}" y2="{coord(y1)}"/>')
        parts.append(f'<text class="tick" x="{x}" y="{coord(y_text)}">{esc(_tick_label(sec, step))}</text>')
        k += 1
    return "".join(parts)


def nice_ticks(max_value: float, *, binary: bool = False) -> tuple[float, list[float]]:
    """A round top value at or above ``max_value`` and up to 5 ticks from 0 to it.

    ``binary`` picks the unit in powers of 1024 first (bytes: ticks at 256 MiB, not 268 MB).
    """
    if max_value <= 0:
        return 1.0, [0.0, 1.0]
    unit = 1.0
    while binary and max_value / unit >= 1024 and unit < 1024**5:
        unit *= 1024
    scaled = max_value / unit
    mag = 10 ** math.floor(math.log10(scaled))
    step = mag
    for mult in (1, 2, 2.5, 5, 10):
        step = mult * mag
        if scaled / step <= 4:
            break
    top = math.ceil(scaled / step - 1e-9) * step
    return top * unit, [i * step * unit for i in range(round(top / step) + 1)]


@dataclass(frozen=True, slots=True)
class Frame:
    """Where a chart's plot sits in its SVG: the width, the margins and the plot's height."""

    width: float = WIDTH
    left: float = LEFT
    right: float = RIGHT
    top: float = 14
    plot_height: float = 130
    bottom: float = 26

    @property
    def plot_width(self) -> float:
        """Width of the plot area."""
        return self.width - self.left - self.right

    @property
    def height(self) -> float:
        """Height of the whole SVG."""
        return self.top + self.plot_height + self.bottom


@dataclass(frozen=True, slots=True)
class Plot:
    """A chart's coordinate system, handed to an overlay so it can draw marks in it."""

    scale: TimeScale
    frame: Frame
    vmax: float

    def x(self, t: float) -> float:
        """The x of event time ``t``."""
        return self.scale.x(t)

    def y(self, v: float) -> float:
        """The y of value ``v`` (0 at the plot's bottom, ``vmax`` at its top)."""
        f = self.frame
        return f.top + f.plot_height - (v / self.vmax) * f.plot_height


def line_chart(
    points: Sequence[tuple[int, float]],
    t_range: tuple[float, float],
    *,
    uid: str,
    cls: str,
    label: str,
    frame: Frame = Frame(),
    step: bool = True,
    y_format: Callable[[float], str] = str,
    binary: bool = False,
    readout: str = "number",
    readout_suffix: str = "",
    axes: bool = True,
    overlay: Callable[[Plot], str] | None = None,
) -> str:
    """One series of ``(time_ms, value)`` points against time, as an SVG.

    ``step`` draws a step line (a value holds until the next point; 0 before the first; the last
    runs to the end of ``t_range``) over a filled area; otherwise points joined by straight lines,
    with a dot each while there are 60 or fewer. ``y_format`` labels the value ticks (``binary``:
    ticks in powers of 1024). ``readout`` (``bytes``, ``number`` or ``percent``) is how the page
    script shows the value under the crosshair, followed by ``readout_suffix``. ``axes`` False
    drops ticks and grid (a sparkline). ``overlay`` draws marks on top, given the :class:`Plot`.
    The SVG has class ``chart`` and ``cls``, the id ``{uid}-{cls}``, and ``data-points``.
    """
    pts = sorted(((t, max(0.0, v)) for t, v in points), key=lambda p: p[0])
    scale = TimeScale(t_range[0], t_range[1], frame.left, frame.plot_width)
    vmax, ticks = nice_ticks(max((v for _, v in pts), default=0.0), binary=binary)
    plot = Plot(scale, frame, vmax)
    data = ";".join(f"{t:.0f},{v:.0f}" if v == int(v) else f"{t:.0f},{v:.4g}" for t, v in pts)
    parts: list[str] = [
        f'<svg class="chart {esc(cls)}" id="{esc(uid)}-{esc(cls)}" viewBox="0 0 {coord(frame.width)} '
        f'{coord(frame.height)}" role="img" aria-label="{esc(label)}" {scale.data_attrs()} '
        f'data-readout="{esc(readout)}" data-suffix="{esc(readout_suffix)}" data-points="{data}">'
    ]
    right = frame.left + frame.plot_width
    if axes:
        for v in ticks:
            y = coord(plot.y(v))
            parts.append(
                f'<line class="grid" x1="{coord(frame.left)}" x2="{coord(right)}" y1="{y}" y2="{y}"/>'
                f'<text class="ytick" x="{coord(frame.left - 8)}" y="{coord(plot.y(v) + 3.5)}">'
                f"{esc(y_format(v))}</text>"
            )
        parts.append(time_axis(scale, frame.top + frame.plot_height + 17))
    base = coord(plot.y(0))
    if step:
        d = [f"M{coord(frame.left)} {base}"]
        d.extend(f"H{coord(plot.x(t))}V{coord(plot.y(v))}" for t, v in pts)
        d.append(f"H{coord(right)}")
        line = "".join(d)
        parts.append(f'<path class="line-area" d="{line}V{base}H{coord(frame.left)}Z"/>')
        parts.append(f'<path class="line" d="{line}"/>')
    elif pts:
        line = "M" + "L".join(f"{coord(plot.x(t))} {coord(plot.y(v))}" for t, v in pts)
        parts.append(f'<path class="line" d="{line}"/>')
        if len(pts) <= 60:
            parts.extend(
                f'<circle class="dot" cx="{coord(plot.x(t))}" cy="{coord(plot.y(v))}" r="2.5"/>' for t, v in pts
            )
    if overlay is not None:
        parts.append(overlay(plot))
    bottom = coord(frame.top + frame.plot_height)
    parts.append(
        f'<line class="xhair" x1="0" x2="0" y1="{coord(frame.top)}" y2="{bottom}" visibility="hidden"/>'
        f'<text class="xhair-label" x="0" y="{coord(frame.top + 10)}" visibility="hidden"></text></svg>'
    )
    return "".join(parts)


def cached_bytes_chart(report: AppReport, scale: TimeScale, uid: str) -> str:
    """Cached bytes (memory + disk, all replicas) over time as a step line; each loss a red mark."""
    points = report.timeline.cached_bytes if report.timeline is not None else ()
    losses = report.losses

    def loss_marks(plot: Plot) -> str:
        top = plot.frame.top
        marks: list[str] = []
        for loss in losses:
            x = plot.x(loss.time_ms)
            # Many losses: the triangles alone (a line each would paint the chart red).
            line = (
                f'<line x1="{coord(x)}" x2="{coord(x)}" y1="{coord(top)}" '
                f'y2="{coord(top + plot.frame.plot_height)}"/>'
                if len(losses) <= 30
                else ""
            )
            marks.append(
                f'<g class="loss-line"><title>{esc(loss_text(loss, scale.t0))}</title>{line}'
                f'<path d="M{coord(x - 5)} {coord(top - 8)}H{coord(x + 5)}L{coord(x)} {coord(top)}Z"/></g>'
            )
        return "".join(marks)

    return line_chart(
        [(t, float(b)) for t, b in points],
        (scale.t0, scale.t1),
        uid=uid,
        cls="cached",
        label="cached bytes over time",
        y_format=format_bytes,
        binary=True,
        readout="bytes",
        readout_suffix=" cached",
        overlay=loss_marks,
    )
