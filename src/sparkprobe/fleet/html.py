"""The fleet HTML report: totals, regressions, a sortable table of apps, groups, a trend per app name.

Built from the HTML package's parts (:mod:`sparkprobe.outputs.html`): :func:`document` (the page,
its Content-Security-Policy, inline style and script: nothing is fetched), :func:`table` (sortable
tables) and :func:`line_chart` (one chart per app name of its runs over time, regressions marked).
The apps table links each app to its own report, the ``analyze`` HTML written beside this one
(``FILE.apps/``) when the app was read in a run that wrote HTML.

Memory stays bounded in the store's size: the apps table holds the :data:`MAX_APPS` apps with the
most idle core-hours (the JSON has them all), and the charts the :data:`MAX_CHARTS` app names with
the most idle core-hours, each with its last :data:`MAX_POINTS` runs; every figure is the store's.
"""

from __future__ import annotations

import heapq
import os
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, TextIO

from sparkprobe.fleet.rank import Group, Regression, recompute_seconds, reverse_text
from sparkprobe.fleet.report import FleetReport
from sparkprobe.fleet.row import AppRow
from sparkprobe.fleet.work import app_report_name
from sparkprobe.outputs.html import document
from sparkprobe.outputs.html.charts import Frame, Plot, line_chart
from sparkprobe.outputs.html.format import coord, esc, format_bytes, format_clock, format_duration
from sparkprobe.outputs.html.table import Cell, Column, Row, cell, code_cell, num_cell, table

__all__ = ["MAX_APPS", "MAX_CHARTS", "MAX_POINTS", "render_fleet_html", "write_html"]

#: Apps in the HTML table (most idle core-hours first); the JSON report lists every app.
MAX_APPS: Final = 5000
#: App names with a trend chart (most idle core-hours first, two runs or more).
MAX_CHARTS: Final = 50
#: Runs drawn per chart (the newest).
MAX_POINTS: Final = 500


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:,.2f}"


def _card(title: str, value: str, sub: str, cls: str = "") -> str:
    return (
        f'<div class="card {cls}"><div class="card-title">{esc(title)}</div>'
        f'<div class="card-value">{value}</div><div class="card-sub">{sub}</div></div>'
    )


def _cards(report: FleetReport) -> str:
    t, c = report.summary.totals, report.counts
    cost = (
        _card("cost", esc(f"{t.cost:,.2f}"), esc(f"allocated core-hours at {report.price_core_hour:g} each"))
        if t.cost is not None and report.price_core_hour is not None
        else ""
    )
    return (
        '<div class="cards fleet-totals">'
        + _card("applications", esc(f"{t.apps:,}"), esc(f"{report.summary.in_progress:,} in progress · "
                                                          f"{report.summary.incomplete:,} incomplete"))
        + _card("idle core-hours", esc(_hours(t.idle_core_seconds)),
                esc(f"{t.idle_share:.0%} of {_hours(t.allocated_core_seconds)} allocated"),
                "bad" if t.idle_share >= 0.5 else "warn" if t.idle_share >= 0.25 else "")
        + _card("cache lost", esc(format_bytes(t.cache_lost_bytes)),
                esc(f"recompute {_hours(t.recompute_seconds)} task-hours"))
        + _card("this run", esc(f"{c.analysed:,} read"),
                esc(f"{c.skipped:,} skipped · {c.failed:,} failed · {c.seconds:,.1f} s"),
                "bad" if c.failed else "")
        + cost
        + "</div>"
    )


@dataclass(slots=True)
class _Collected:
    """What one pass over the store keeps for the page (bounded)."""

    top: list[tuple[float, str, str, AppRow]] = field(default_factory=list)
    series: dict[str, deque[AppRow]] = field(default_factory=dict)


def _collect(by_name: Iterable[AppRow], chart_names: set[str]) -> _Collected:
    got = _Collected()
    for row in by_name:
        item = (row.idle_core_seconds, reverse_text(row.app_id), reverse_text(row.attempt_id), row)
        if len(got.top) < MAX_APPS:
            heapq.heappush(got.top, item)
        elif item[:3] > got.top[0][:3]:
            heapq.heapreplace(got.top, item)
        if row.app_name in chart_names:
            got.series.setdefault(row.app_name, deque(maxlen=MAX_POINTS)).append(row)
    return got


def _app_link(row: AppRow, apps_dir: str | None, base: Path) -> str:
    name = esc(row.app_name or row.app_id or "?")
    if apps_dir is None:
        return name
    target = Path(apps_dir) / app_report_name(row.app_id, row.attempt_id)
    if not target.is_file():
        return name
    href = os.path.relpath(target, base).replace(os.sep, "/")
    return f'<a href="{esc(href)}">{name}</a>'


_APP_COLUMNS: Final = (
    Column("application"), Column("app id", cls="nowrap"), Column("attempt", cls="nowrap"), Column("user"),
    Column("queue"),
    Column("started", cls="nowrap"), Column("duration", numeric=True), Column("allocated core-h", numeric=True),
    Column("idle core-h", numeric=True), Column("idle share", numeric=True), Column("cache lost", numeric=True),
    Column("recompute", numeric=True), Column("findings", numeric=True), Column("status", cls="nowrap"),
)


def _status(row: AppRow) -> Cell:
    if row.in_progress:
        return cell("in progress")
    return cell("incomplete" if row.incomplete else "finished")


def _apps_table(rows: list[AppRow], apps_dir: str | None, base: Path) -> str:
    body = (
        Row(
            (
                Cell(_app_link(r, apps_dir, base), r.app_name), code_cell(r.app_id), cell(r.attempt_id),
                cell(r.user), cell(r.queue), cell(format_clock(r.start_ms), r.start_ms),
                num_cell(r.duration_seconds, format_duration(r.duration_seconds)),
                num_cell(r.allocated_core_seconds, _hours(r.allocated_core_seconds)),
                num_cell(r.idle_core_seconds, _hours(r.idle_core_seconds)),
                num_cell(r.idle_share, f"{r.idle_share:.0%}"),
                num_cell(r.cache_lost_bytes, format_bytes(r.cache_lost_bytes)),
                num_cell(recompute_seconds(r), format_duration(recompute_seconds(r))),
                num_cell(r.findings_count), _status(r),
            ),
            data={"app-id": r.app_id, "attempt-id": r.attempt_id},
        )
        for r in rows
    )
    return table(_APP_COLUMNS, body, cls="fleet-apps")


def _sparkline(runs: deque[AppRow] | None, uid: str) -> str:
    if not runs or len(runs) < 2:
        return ""
    points = [(r.start_ms, r.idle_core_seconds / 3600) for r in runs]
    frame = Frame(width=160, left=2, right=2, top=2, plot_height=30, bottom=2)
    t0, t1 = points[0][0], points[-1][0]
    return line_chart(points, (t0, max(t1, t0 + 1)), uid=uid, cls="spark", label="idle core-hours by run",
                      frame=frame, step=False, axes=False)


def _groups_table(groups: list[Group], what: str, series: dict[str, deque[AppRow]], cost: bool) -> str:
    columns = [
        Column(what), Column("apps", numeric=True), Column("allocated core-h", numeric=True),
        Column("idle core-h", numeric=True), Column("idle share", numeric=True), Column("cache lost", numeric=True),
        Column("recompute", numeric=True), Column("first", cls="nowrap"), Column("last", cls="nowrap"),
    ]
    if cost:
        columns.append(Column("cost", numeric=True))
    if what == "app name":
        columns.append(Column("idle by run", sortable=False))
    rows = []
    for i, g in enumerate(groups):
        cells = [
            cell(g.key or "—", g.key), num_cell(g.apps),
            num_cell(g.allocated_core_seconds, _hours(g.allocated_core_seconds)),
            num_cell(g.idle_core_seconds, _hours(g.idle_core_seconds)),
            num_cell(g.idle_share, f"{g.idle_share:.0%}"),
            num_cell(g.cache_lost_bytes, format_bytes(g.cache_lost_bytes)),
            num_cell(g.recompute_seconds, format_duration(g.recompute_seconds)),
            cell(format_clock(g.first_start_ms), g.first_start_ms),
            cell(format_clock(g.last_start_ms), g.last_start_ms),
        ]
        if cost:
            cells.append(num_cell(g.cost or 0.0, f"{g.cost or 0.0:,.2f}"))
        if what == "app name":
            cells.append(Cell(_sparkline(series.get(g.key), f"s{i}")))
        rows.append(Row(cells, data={"group": g.key}))
    return table(columns, rows, cls=f"fleet-groups group-{what.replace(' ', '-')}")


def _date_label(ms: float, span_ms: float) -> str:
    clock = format_clock(ms)  # 2026-09-21 10:03:00 UTC
    if span_ms >= 3 * 86_400_000:
        return clock[:10]
    if span_ms >= 3_600_000:
        return clock[5:16]
    return clock[11:19]


def _trend(name: str, runs: deque[AppRow], regressions: list[Regression], uid: str) -> str:
    points = [(r.start_ms, r.idle_core_seconds / 3600) for r in runs]
    t0, t1 = points[0][0], max(points[-1][0], points[0][0] + 1)
    flagged = {(g.app_id, g.attempt_id) for g in regressions if g.app_name == name}
    marks = [(r.start_ms, r.idle_core_seconds / 3600) for r in runs if r.key in flagged]
    frame = Frame()

    def overlay(plot: Plot) -> str:
        # Dates under the plot (the chart's own ticks are offsets, hidden by the style).
        y = coord(frame.top + frame.plot_height + 17)
        anchors = ("start", "middle", "middle", "middle", "end")
        dates = "".join(
            f'<text class="date" x="{coord(plot.x(t))}" y="{y}" text-anchor="{anchor}">'
            f"{esc(_date_label(t, t1 - t0))}</text>"
            for anchor, t in zip(anchors, (t0 + (t1 - t0) * i / 4 for i in range(5)), strict=True)
        )
        rings = "".join(
            f'<circle class="regression" cx="{coord(plot.x(t))}" cy="{coord(plot.y(v))}" r="5"/>' for t, v in marks
        )
        return dates + rings

    chart = line_chart(points, (t0, t1), uid=uid, cls="trend", label=f"idle core-hours of {name} by run",
                       frame=frame, step=False, y_format=lambda v: f"{v:.3g}", readout="number",
                       readout_suffix=" idle core-h", overlay=overlay)
    flagged_text = f" · {len(marks):,} regression{'s' if len(marks) != 1 else ''}" if marks else ""
    return (
        f'<div class="trend-box" data-app-name="{esc(name)}"><h4>{esc(name or "—")} <small>'
        f"{len(runs):,} runs, {esc(format_clock(t0))} to {esc(format_clock(points[-1][0]))}{flagged_text}"
        f'</small></h4><div class="chart-box">{chart}</div></div>'
    )


def _regressions_table(regressions: list[Regression]) -> str:
    columns = (Column("application"), Column("app id", cls="nowrap"), Column("attempt"),
               Column("started", cls="nowrap"), Column("what"), Column("factor", numeric=True))
    rows = (
        Row((cell(r.app_name), code_cell(r.app_id), cell(r.attempt_id), cell(format_clock(r.start_ms), r.start_ms),
             cell(r.message), num_cell(r.factor, f"{r.factor:.1f}x")), data={"metric": r.metric})
        for r in regressions
    )
    return table(columns, rows, cls="fleet-regressions")


def _failures_table(failures: list[tuple[str, str]]) -> str:
    columns = (Column("log"), Column("error", cls="reason"))
    return table(columns, (Row((code_cell(log), cell(error))) for log, error in failures), cls="fleet-failures")


_STYLE: Final = (
    "<style>.fleet .tbl{overflow-x:auto}.trend-box h4{margin:14px 0 4px;font-size:13.5px}"
    ".trend-box h4 small{color:var(--muted);"
    "font-weight:400}svg.spark{width:160px}svg .regression{fill:none;stroke:#e03131;stroke-width:2}"
    "svg.trend .line{stroke:#e8590c}svg.trend .dot{fill:#e8590c}svg.trend .tick{display:none}"
    "svg .date{font-size:10.5px;fill:#6c757d}</style>"
)


def render_fleet_html(report: FleetReport, *, apps_dir: str | None = None, base: Path | None = None) -> str:
    """The page (links to per-app reports in ``apps_dir``, relative to ``base``, the page's folder)."""
    s = report.summary
    names = [g for g in s.groups.get("app_name", []) if g.apps >= 2][:MAX_CHARTS]
    got = _collect(report.store.apps(by_name=True), {g.key for g in names})
    top = [item[3] for item in sorted(got.top, key=lambda i: i[:3], reverse=True)]
    cost = s.totals.cost is not None
    body = [_STYLE, '<div class="fleet">', _cards(report)]
    body.append(f'<h3 id="regressions">Regressions <small>({len(report.regressions):,})</small></h3>')
    body.append(
        _regressions_table(report.regressions)
        if report.regressions
        else '<p class="note">No app is far above its app name\'s median of its last runs.</p>'
    )
    shown = f"the {len(top):,} with the most idle core-hours of {s.totals.apps:,}" if s.totals.apps > len(top) else ""
    body.append(f'<h3 id="apps">Applications <small>({s.totals.apps:,}{", " + shown if shown else ""})</small></h3>')
    body.append(_apps_table(top, apps_dir, base or Path.cwd()))
    for key, what in (("app_name", "app name"), ("user", "user"), ("queue", "queue")):
        groups = s.groups.get(key, [])
        body.append(f'<h3 id="by-{key}">By {what} <small>({len(groups):,})</small></h3>')
        body.append(_groups_table(groups, what, got.series, cost))
    body.append(f'<h3 id="trends">Trends <small>(idle core-hours of each run, {len(names):,} app names)</small></h3>')
    if not names:
        body.append('<p class="note">No app name has two runs yet.</p>')
    body.extend(_trend(g.key, got.series[g.key], report.regressions, f"t{i}") for i, g in enumerate(names)
                if g.key in got.series)
    if report.failures:
        body.append(f"<h3>Failures of this run <small>({len(report.failures):,})</small></h3>")
        body.append(_failures_table(report.failures))
    body.append("</div>")
    subtitle = f"fleet · {s.totals.apps:,} applications · {report.store.path.name}"
    return document(f"sparkprobe fleet · {s.totals.apps:,} applications", "".join(body), subtitle)


def write_html(report: FleetReport, stream: TextIO, *, apps_dir: str | None = None) -> None:
    """Write the page to ``stream`` (a file: links are made relative to its folder)."""
    name = getattr(stream, "name", None)
    base = Path(name).parent if isinstance(name, str) else Path.cwd()
    stream.write(render_fleet_html(report, apps_dir=apps_dir, base=base))
