"""The executor timeline: one lane per executor, drawn column by column, with markers and stages.

Each lane is rasterised at the chart's resolution (a pixel column takes the state that covers most
of its time; equal neighbours become one rectangle), so the SVG stays small whatever the number of
idle segments. Above :data:`MAX_LANES` executors, executors are grouped into lanes in order of
addition. docs/html-report.md ("The executor timeline") describes every mark; keep the two in step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sparkprobe.model import AppReport, ExecutorReport, IdleCause, Loss, RemovalCause, StageSpan
from sparkprobe.outputs.html.charts import LEFT, LOSS_COLOR, PLOT_WIDTH, WIDTH, TimeScale, time_axis
from sparkprobe.outputs.html.format import (
    coord,
    esc,
    exec_sort_key,
    format_duration,
    format_number,
    format_offset,
    loss_text,
    short,
)

__all__ = ["COLOR", "MAX_LANES", "REMOVAL_COLOR", "STATES", "executor_lanes", "legend", "time_range", "timeline_svg"]

#: At most this many lanes per timeline; above it, executors are grouped (in order of addition).
MAX_LANES = 500

#: Drawing states: key, fill colour, legend text. "busy", the idle causes, and two fallbacks.
STATES: tuple[tuple[str, str, str], ...] = (
    ("busy", "#4c6ef5", "busy (a task running)"),
    (IdleCause.CACHE_HELD.value, "#f76707", "idle: holds cached blocks"),
    (IdleCause.SHUFFLE_HELD.value, "#ae3ec9", "idle: holds shuffle output"),
    (IdleCause.MIN_EXECUTORS.value, "#12b886", "idle: kept by minExecutors"),
    (IdleCause.DRIVER_BUSY.value, "#fab005", "idle: no stage running (driver)"),
    (IdleCause.UNNEEDED.value, "#adb5bd", "idle: stage running, no task here"),
    (IdleCause.NO_SESSION.value, "#f783ac", "idle: no Spark Connect session open"),
    ("other", "#ced4da", "idle: other cause"),
    ("alive", "#a5b4fc", "alive (no idle data)"),
)
COLOR = {key: color for key, color, _ in STATES}
_LABEL = {key: label for key, _, label in STATES}

#: Removal marker colour by cause.
REMOVAL_COLOR = {
    RemovalCause.DYNAMIC_ALLOCATION: "#212529",
    RemovalCause.DECOMMISSION: "#1864ab",
    RemovalCause.FAILURE: "#c2255c",
    RemovalCause.MEMORY: "#5f3dc4",
    RemovalCause.PREEMPTED: "#0b7285",
    RemovalCause.OTHER: "#868e96",
}

_MAX_STAGE_ROWS = 5
_STAGE_ROW_H = 16


def time_range(report: AppReport) -> tuple[float, float]:
    """From the app's start (or the first known time) to its end (or the last known time)."""
    times: list[float] = []
    for ex in report.executors:
        times.append(ex.added_ms)
        times.append(ex.removed_ms if ex.removed_ms is not None else ex.added_ms + ex.lifetime_seconds * 1000)
    if report.timeline is not None:
        for _, _, _, start, end, _ in report.timeline.stages:
            times.extend(t for t in (start, end) if t is not None and t > 0)
        times.extend(t for t, _ in report.timeline.cached_bytes if t > 0)
    times.extend(x.time_ms for x in report.losses if x.time_ms > 0)
    times.extend(x.time_ms for x in report.findings if x.time_ms > 0)
    t0 = float(report.start_ms) if report.start_ms > 0 else min(times, default=0.0)
    t0 = min([t0, *times])
    end = report.end_ms
    t1 = float(end) if end is not None and end > 0 else max(times, default=t0)
    t1 = max([t1, *times])
    if t1 - t0 < 1:
        t1 = t0 + 1000
    return t0, t1


# ---------------------------------------------------------------------------------------- executor lanes
@dataclass(slots=True)
class Lane:
    """One executor as drawn: its lifetime, idle segments by state key, the still-open stretch."""

    ex: ExecutorReport
    added: float
    end: float
    idle: list[tuple[float, float, str]] = field(default_factory=list)
    open_idle: tuple[float, float, str] | None = None

    @property
    def exec_id(self) -> str:
        """The executor's id."""
        return self.ex.exec_id


def executor_lanes(report: AppReport, t1: float) -> list[Lane]:
    """The executors in order of addition, with idle segments (and a running app's open stretch)."""
    idle_map = report.timeline.idle if report.timeline is not None else {}
    out: list[Lane] = []
    for ex in report.executors:
        end = float(ex.removed_ms) if ex.removed_ms is not None else ex.added_ms + ex.lifetime_seconds * 1000
        lane = Lane(ex, ex.added_ms, max(end, ex.added_ms))
        recorded: dict[str, float] = {}
        for s, e, cause in idle_map.get(ex.exec_id, ()):
            if e > s:
                lane.idle.append((s, e, cause.value))
                recorded[cause.value] = recorded.get(cause.value, 0.0) + (e - s)
        idle_now = ex.idle_now_seconds * 1000
        if ex.removed_ms is None and idle_now > 0:
            # The open idle stretch of a running app is not in the timeline yet (it is recorded when
            # it closes): draw it from the figures. Its cause is the one whose figure exceeds what the
            # timeline holds; the recorded part of the stretch (earlier causes) is drawn already.
            start = max([lane.end - idle_now] + [e for _, e, _ in lane.idle if e > lane.end - idle_now])
            if lane.end > start:
                residual = {c.value: v * 1000 - recorded.get(c.value, 0.0) for c, v in ex.idle_by_cause.items()}
                key = max(residual, key=lambda c: residual[c], default="other")
                lane.open_idle = (start, lane.end, key if residual.get(key, 0) > 0 else "other")
        out.append(lane)
    out.sort(key=lambda x: (x.added, exec_sort_key(x.exec_id)))
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


def _rasterize(members: Sequence[Lane], scale: TimeScale, has_idle: bool) -> list[_Run]:
    """Per pixel column, what the lane's executors did most of that time; runs of equal columns.

    Without idle data (a report without a timeline) a live column is "alive", not "busy".
    """
    n = PLOT_WIDTH
    alive = _Cover(n)
    idle: dict[str, _Cover] = {}
    for lane in members:
        alive.add(scale.col(lane.added), scale.col(lane.end))
        segs = list(lane.idle)
        if lane.open_idle is not None:
            segs.append(lane.open_idle)
        for s, e, key in segs:
            s, e = max(s, lane.added), min(e, lane.end)
            if e > s:
                idle.setdefault(key, _Cover(n)).add(scale.col(s), scale.col(e))
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


def _causes_text(by_cause: Mapping[str, float]) -> str:
    return ", ".join(f"{c} {format_duration(v)}" for c, v in by_cause.items() if v > 0)


def _by_cause(ex: ExecutorReport) -> dict[str, float]:
    return {c.value: v for c, v in ex.idle_by_cause.items()}


def _lane_title(members: Sequence[Lane], scale: TimeScale, grouped: bool) -> str:
    if not grouped:
        ex = members[0].ex
        lines = [f"executor {ex.exec_id} on {ex.host or '?'} · {ex.cores} core{'s' if ex.cores != 1 else ''}"]
        span = f"added {format_offset(ex.added_ms - scale.t0)}"
        if ex.removed_ms is not None:
            cause = ex.removed_cause.value if ex.removed_cause is not None else "?"
            span += f", removed {format_offset(ex.removed_ms - scale.t0)}"
            span += f" ({cause}: {ex.removed_reason or 'no reason given'})"
        else:
            span += ", still active at the end of the data"
        lines.append(span)
        causes = _causes_text(_by_cause(ex))
        lines.append(
            f"lifetime {format_duration(ex.lifetime_seconds)}, busy {format_number(ex.busy_core_seconds)} core-s, "
            f"idle {format_duration(ex.idle_seconds)}" + (f" ({causes})" if causes else "")
        )
        if ex.cached_blocks > 0:
            lines.append(f"cached blocks held at the end: {ex.cached_blocks}")
        return "\n".join(lines)
    first, last = members[0], members[-1]
    idle_total: dict[str, float] = {}
    for lane in members:
        for c, v in _by_cause(lane.ex).items():
            idle_total[c] = idle_total.get(c, 0.0) + v
    removed = sum(1 for lane in members if lane.ex.removed_ms is not None)
    causes = _causes_text(idle_total)
    return "\n".join(
        [
            f"{len(members)} executors, {first.exec_id} … {last.exec_id} (grouped in order of addition)",
            f"added {format_offset(first.added - scale.t0)} … {format_offset(last.added - scale.t0)}, "
            f"{removed} removed",
            f"busy {format_number(sum(lane.ex.busy_core_seconds for lane in members))} core-s, "
            f"idle {format_duration(sum(lane.ex.idle_seconds for lane in members))}"
            + (f" ({causes})" if causes else ""),
            "each pixel shows what most of these executors did then",
        ]
    )


def _stage_rows(stages: Iterable[tuple[float, float, StageSpan]]) -> list[tuple[int, float, float, StageSpan]]:
    """Pack stage spans into rows greedily (at most _MAX_STAGE_ROWS; the last ones may overlap)."""
    ends: list[float] = []
    out: list[tuple[int, float, float, StageSpan]] = []
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


def _stages_svg(rows: list[tuple[int, float, float, StageSpan]], scale: TimeScale, top: float) -> str:
    parts = [f'<text class="track-label" x="{LEFT - 10}" y="{coord(top + 11)}">stages</text><g class="stages">']
    for row, s, e, st in rows:
        stage_id, attempt, name, _, end, failure = st
        x0, x1 = scale.x(s), scale.x(e)
        w = max(1.0, x1 - x0 - (1 if x1 - x0 > 3 else 0))  # a hairline gap between neighbours
        y = top + row * _STAGE_ROW_H
        running = end is None
        cls = "stage" + (" failed" if failure else "") + (" running" if running else "")
        title = f"stage {stage_id}.{attempt}: {name}\n{format_offset(s - scale.t0)} → " + (
            "still running" if running else f"{format_offset(e - scale.t0)} ({format_duration((e - s) / 1000)})"
        )
        if failure:
            title += f"\nfailed: {failure}"
        parts.append(
            f'<g class="{cls}" data-stage="{stage_id}"><title>{esc(title)}</title>'
            f'<rect x="{coord(x0)}" y="{coord(y + 1)}" width="{coord(w)}" height="{_STAGE_ROW_H - 3}" rx="2"/>'
        )
        chars = int((w - 6) / 6.4)
        if chars >= 4:
            # A nested <svg> clips the label to its stage's box.
            parts.append(
                f'<svg x="{coord(x0)}" y="{coord(y)}" width="{coord(w)}" height="{_STAGE_ROW_H}">'
                f'<text x="3" y="11.5">{esc(short(f"{stage_id}: {name}", chars))}</text></svg>'
            )
        parts.append("</g>")
    parts.append("</g>")
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class _LaneBox:
    y: float
    height: float
    pad: float

    @property
    def marker_h(self) -> float:
        return max(self.height - self.pad, 7.0)


def _lane_svg(
    members: Sequence[Lane], box: _LaneBox, scale: TimeScale, *, uid: str, grouped: bool, striped: bool,
    has_idle: bool, losses: Mapping[str, Sequence[Loss]],
) -> str:
    """One lane: its runs of states, then the removal and loss markers of its executors."""
    y, lane_h, pad = box.y, box.height, box.pad
    if grouped:
        attrs = (
            f'data-exec="{esc(members[0].exec_id)}" data-exec-last="{esc(members[-1].exec_id)}" '
            f'data-count="{len(members)}"'
        )
    else:
        attrs = f'data-exec="{esc(members[0].exec_id)}" data-count="1"'
    parts = [f'<g class="lane{" group" if grouped else ""}" {attrs}>']
    parts.append(f"<title>{esc(_lane_title(members, scale, grouped))}</title>")
    if striped:
        parts.append(f'<rect class="track" x="{LEFT}" y="{coord(y)}" width="{PLOT_WIDTH}" height="{coord(lane_h)}"/>')
    for run in _rasterize(members, scale, has_idle):
        fill = f"url(#{uid}-hatch)" if run.state == IdleCause.CACHE_HELD.value else COLOR[run.state]
        parts.append(
            f'<rect class="run s-{run.state}" x="{coord(LEFT + run.c0)}" y="{coord(y + pad / 2)}" '
            f'width="{run.c1 - run.c0}" height="{coord(lane_h - pad)}" fill="{fill}"'
        )
        if run.state in ("busy", "alive"):
            parts.append("/>")
            continue
        t_a = scale.t0 + run.c0 * scale.ms_per_col
        t_b = scale.t0 + run.c1 * scale.ms_per_col
        per_cause = {k: v * scale.ms_per_col / 1000 for k, v in sorted(run.idle_cols.items())}
        title = (
            f"{_LABEL[run.state]}\n{format_offset(t_a - scale.t0)} → {format_offset(t_b - scale.t0)}: "
            f"idle {_causes_text(per_cause)}"
        )
        if any(lane.open_idle and lane.open_idle[1] > t_a for lane in members):
            title += "\n(the last stretch is still open: idle at the end of the data)"
        parts.append(f"><title>{esc(title)}</title></rect>")
    for lane in members:
        ex = lane.ex
        if ex.removed_ms is not None:
            cause = ex.removed_cause or RemovalCause.OTHER
            x = scale.x(ex.removed_ms)
            title = (
                f"executor {ex.exec_id} removed {format_offset(ex.removed_ms - scale.t0)}\n"
                f"cause {cause.value}: {ex.removed_reason or 'no reason given'}"
            )
            parts.append(
                f'<rect class="removal-marker" data-exec="{esc(ex.exec_id)}" data-cause="{cause.value}" '
                f'data-t="{ex.removed_ms}" x="{coord(x - 1.5)}" y="{coord(y + pad / 2)}" width="3" '
                f'height="{coord(box.marker_h)}" fill="{REMOVAL_COLOR[cause]}"><title>{esc(title)}</title></rect>'
            )
        for loss in losses.get(ex.exec_id, ()):
            x = scale.x(loss.time_ms)
            # At the lane's top, pointing down at the instant: the removal bar stays visible below.
            size = min(12.0, max(7.0, (lane_h - pad) * 0.6))
            ty = y + pad / 2
            parts.append(
                f'<path class="loss-marker" data-exec="{esc(ex.exec_id)}" data-t="{loss.time_ms}" '
                f'data-blocks="{loss.blocks}" '
                f'd="M{coord(x - size / 2)} {coord(ty)}H{coord(x + size / 2)}L{coord(x)} {coord(ty + size)}Z" '
                f'fill="{LOSS_COLOR}"><title>{esc(loss_text(loss, scale.t0))}</title></path>'
            )
    parts.append("</g>")
    return "".join(parts)


def timeline_svg(report: AppReport, scale: TimeScale, lanes_in: list[Lane], uid: str) -> tuple[str, str]:
    """Draw the executor timeline SVG; also return a note on how (grouping, dropped data)."""
    n = len(lanes_in)
    per_lane = math.ceil(n / MAX_LANES) if n > MAX_LANES else 1
    lanes = [lanes_in[i : i + per_lane] for i in range(0, n, per_lane)]
    grouped = per_lane > 1
    nl = len(lanes)
    lane_h = min(24.0, max(1.6, 800.0 / nl)) if nl else 0.0
    pad = lane_h * 0.2 if lane_h >= 6 else 0.0

    timeline = report.timeline
    has_idle = timeline is not None
    stage_items = [
        (float(st[3]), float(st[4]) if st[4] is not None and st[4] >= st[3] else scale.t1, st)
        for st in (timeline.stages if timeline is not None else ())
        if st[3] > 0
    ]
    rows = _stage_rows(stage_items)
    n_rows = max((r for r, *_ in rows), default=-1) + 1

    top_axis = 22.0
    stage_top = top_axis + 6
    lanes_top = stage_top + n_rows * _STAGE_ROW_H + (10 if n_rows else 0)
    lanes_h = nl * lane_h
    bottom_axis = lanes_h > 260
    height = lanes_top + lanes_h + (26 if bottom_axis else 8)

    parts = [
        f'<svg class="chart tl" id="{uid}-tl" viewBox="0 0 {WIDTH} {coord(height)}" role="img" '
        f'aria-label="executor timeline" {scale.data_attrs()} data-lanes="{nl}" data-per-lane="{per_lane}">',
        f'<defs><pattern id="{uid}-hatch" patternUnits="userSpaceOnUse" width="6" height="6" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="{COLOR[IdleCause.CACHE_HELD.value]}"/>'
        '<rect width="2.2" height="6" fill="#a93d00" fill-opacity="0.55"/></pattern></defs>',
        time_axis(scale, 14, top_axis, lanes_top + lanes_h, grid=True),
        f'<text class="track-label" x="{LEFT - 10}" y="14">since start</text>',
    ]
    if bottom_axis:
        parts.append(time_axis(scale, lanes_top + lanes_h + 18))
    if n_rows:
        parts.append(_stages_svg(rows, scale, stage_top))

    # Lanes, bottom first: a marker may overflow a thin lane downwards and stays on top.
    losses: dict[str, list[Loss]] = {}
    for loss in report.losses:
        losses.setdefault(loss.exec_id, []).append(loss)
    label_every = next((k for k in (1, 2, 5, 10, 20, 50, 100) if k * lane_h >= 12), 100)
    labels: list[str] = []
    parts.append('<g class="lanes">')
    for i in range(nl - 1, -1, -1):
        members = lanes[i]
        y = lanes_top + i * lane_h
        parts.append(
            _lane_svg(
                members, _LaneBox(y, lane_h, pad), scale, uid=uid, grouped=grouped,
                striped=i % 2 == 1 or nl <= 12, has_idle=has_idle, losses=losses,
            )
        )
        if i % label_every == 0:
            if grouped:
                text = f"{short(members[0].exec_id, 8)}\u2013{short(members[-1].exec_id, 8)}"
            else:
                text = "exec " + short(members[0].exec_id, 12)
            size = min(11.0, max(9.0, lane_h * 0.6))
            labels.append(
                f'<text class="lane-label" x="{LEFT - 10}" y="{coord(y + lane_h / 2 + size * 0.35)}" '
                f'font-size="{coord(size)}">{esc(text)}</text>'
            )
    parts.append("</g>")
    parts.extend(labels)
    for g0, g1 in report.transport.gaps if report.transport is not None else ():
        if g1 < g0:
            continue
        gx0 = scale.x(g0)
        gw = max(2.0, scale.x(g1) - gx0)
        title = f"events may be missing {format_offset(g0 - scale.t0)} → {format_offset(g1 - scale.t0)}"
        parts.append(
            f'<rect class="gap-shade" x="{coord(gx0)}" y="{coord(top_axis)}" width="{coord(gw)}" '
            f'height="{coord(lanes_top + lanes_h - top_axis)}"/>'
            f'<rect class="gap" x="{coord(gx0)}" y="{coord(top_axis - 4)}" width="{coord(gw)}" height="5">'
            f"<title>{esc(title)}</title></rect>"
        )
    parts.append(
        f'<line class="xhair" x1="0" x2="0" y1="{coord(top_axis)}" y2="{coord(lanes_top + lanes_h)}" '
        'visibility="hidden"/>'
        f'<text class="xhair-label" x="0" y="{coord(top_axis - 8)}" visibility="hidden"></text></svg>'
    )
    return "".join(parts), _notes(report, lanes_in, nl, per_lane, set(losses))


def _notes(report: AppReport, lanes: list[Lane], nl: int, per_lane: int, loss_execs: set[str]) -> str:
    """What the reader should know about how the timeline was drawn."""
    notes: list[str] = []
    if per_lane > 1:
        notes.append(
            f"{len(lanes)} executors, more than {MAX_LANES} lanes: each lane groups {per_lane} executors in order "
            f"of addition ({nl} lanes); a pixel shows what most of the lane's executors did at that time."
        )
    orphans = loss_execs - {lane.exec_id for lane in lanes}
    if orphans:
        notes.append(
            f"{len(orphans)} loss(es) on executors not in the figures (e.g. the driver's block manager): "
            "listed in the table below, not drawn."
        )
    timeline = report.timeline
    floors = [v for v in timeline.idle_min_ms.values() if v > 0] if timeline is not None else []
    if floors:
        notes.append(
            f"{len(floors)} executor(s) had too many idle gaps to keep: gaps shorter than "
            f"{format_duration(max(floors) / 1000)} or less are drawn as busy."
        )
    if lanes and timeline is None:
        notes.append("The data has no idle segments (no timeline): lanes show lifetimes only.")
    if timeline is not None and timeline.stages_dropped:
        notes.append(f"{timeline.stages_dropped} stage(s) past the timeline's cap are not drawn.")
    return " ".join(notes)


def legend(uid: str) -> str:
    """The timeline's legend: a button per state (clicking one fades the others), then the markers."""
    items: list[str] = []
    for key, color, label in STATES:
        if key in ("other", "alive"):
            continue
        hatch = " hatch" if key == IdleCause.CACHE_HELD.value else ""
        items.append(
            f'<button type="button" class="lg" data-state="{key}" aria-pressed="false">'
            f'<span class="sw{hatch}" style="background-color:{color}"></span>{esc(label)}</button>'
        )
    items.append(
        f'<span class="lg-static"><span class="sw tri" style="color:{LOSS_COLOR}">▼</span>cached blocks lost</span>'
    )
    for cause, color in REMOVAL_COLOR.items():
        items.append(
            f'<span class="lg-static"><span class="sw bar" style="background-color:{color}"></span>'
            f"removed: {cause.value}</span>"
        )
    return f'<div class="legend" id="{uid}-legend">{"".join(items)}</div>'
