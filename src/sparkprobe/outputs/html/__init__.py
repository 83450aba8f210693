"""The HTML report: one self-contained file with an executor timeline per application.

:func:`render_html` turns typed app reports (:class:`~sparkprobe.model.AppReport`, from
``build_report`` or ``offline.analyze_source``) into a single HTML document: the package's
``style.css`` and ``report.js`` inlined, SVG drawn here; no fonts, images or scripts are fetched,
and a Content-Security-Policy forbids any fetch. Every string that comes from the data is escaped.

The parts: :mod:`.timeline` (the executor timeline), :mod:`.charts` (time scale, axes, a line
chart; the cached-bytes chart), :mod:`.table` (sortable tables), :mod:`.sections` (cards, tables,
advice), :mod:`.format` (escaping and figures). How each part is drawn is docs/html-report.md;
keep the two in step. The renderer computes no figure of its own beyond what the drawing needs
(pixel coverage of idle segments, the open idle stretch of a running app, findings grouped).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from importlib import resources

from sparkprobe._version import __version__
from sparkprobe.model import AppReport
from sparkprobe.outputs.html import sections
from sparkprobe.outputs.html.charts import TimeScale, cached_bytes_chart
from sparkprobe.outputs.html.format import esc, format_clock, format_duration
from sparkprobe.outputs.html.memory import memory_ledger
from sparkprobe.outputs.html.policy import policy_whatif
from sparkprobe.outputs.html.table import Cell, Column, Row, cell, code_cell, num_cell, table
from sparkprobe.outputs.html.tenants import tenants
from sparkprobe.outputs.html.timeline import MAX_LANES, executor_lanes, legend, time_range, timeline_svg

__all__ = ["MAX_LANES", "render_html"]

#: Inline style and script only, nothing from anywhere (``img-src data:`` for the browser's own icons).
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


@functools.cache
def asset(name: str) -> str:
    """A file shipped beside this module (``style.css``, ``errors.js``, ``report.js``), as text."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


def _app_section(report: AppReport, index: int) -> str:
    uid = f"a{index}"
    t0, t1 = time_range(report)
    scale = TimeScale(t0, t1)
    lanes = executor_lanes(report, t1)
    status = (
        '<span class="pill run">running / incomplete</span>'
        if report.running
        else '<span class="pill ok">finished</span>'
    )
    da = report.dynamic_allocation
    meta = [
        f"<code>{esc(report.app_id or 'no app id')}</code>",
        f"Spark {esc(report.spark_version or '?')}",
        f"user {esc(report.user or '?')}",
        f"started {esc(format_clock(report.start_ms or t0))}",
        f"{'observed' if report.running else 'ran'} {esc(format_duration((t1 - t0) / 1000))}",
    ]
    if da is not None:
        meta.append("dynamic allocation on" if da else "dynamic allocation off")
    parts: list[str] = [
        f'<section class="app" id="app-{index}" data-app-id="{esc(report.app_id or "no app id")}">',
        f'<header class="app-head"><h2>{esc(report.app_name or "(unnamed application)")} {status}</h2>'
        f'<div class="meta">{" · ".join(meta)}</div></header>',
    ]
    warns = sections.warnings(report, t1)
    if warns:
        parts.append('<div class="notes">' + "".join(f"<p>{esc(w)}</p>" for w in warns) + "</div>")
    parts.append(sections.cards(report))
    parts.append(memory_ledger(report))
    parts.append("<h3>Executor timeline</h3>")
    stages = report.timeline.stages if report.timeline is not None else ()
    if lanes or any(st[3] > 0 for st in stages):
        svg, note = timeline_svg(report, scale, lanes, uid)
        parts.append(legend(uid))
        parts.append(
            '<p class="hint">One lane per executor, from its addition to its removal (or the end). '
            "Hover anything for details; click a legend entry to highlight it.</p>"
        )
        if not lanes:
            parts.append('<p class="muted">No executor was recorded (local mode runs tasks inside the driver).</p>')
        parts.append(f'<div class="chart-box">{svg}</div>')
        if note:
            parts.append(f'<p class="note">{esc(note)}</p>')
    else:
        parts.append('<p class="muted">No executors and no stages in the data: nothing to draw.</p>')
    parts.append("<h3>Cached bytes over time <small>(all replicas, memory + disk)</small></h3>")
    if report.timeline is not None and report.timeline.cached_bytes:
        parts.append(f'<div class="chart-box">{cached_bytes_chart(report, scale, uid)}</div>')
    elif report.cache.estimated:
        parts.append(
            '<p class="muted">No block updates in the data: cached bytes over time are unknown '
            "(cache figures are estimated from tasks).</p>"
        )
    else:
        parts.append('<p class="muted">No block updates in the data.</p>')
    parts.append(sections.losses(report, t0))
    parts.append(tenants(report, t0))
    parts.append(sections.uncached_reuse(report))
    what_if = sections.what_if(report)
    if what_if:
        parts.append(f'<div class="two"><div>{sections.advice(report)}</div><div>{what_if}</div></div>')
    else:
        parts.append(sections.advice(report))
    parts.append(policy_whatif(report))
    parts.append(sections.findings(report, t0))
    parts.append(sections.source(report))
    parts.append("</section>")
    return "".join(parts)


def _contents(reports: Sequence[AppReport]) -> str:
    """The table of contents of a page of several apps (sortable)."""
    rows = []
    for i, r in enumerate(reports):
        alloc = r.cores.allocated_core_seconds
        share = r.cores.idle_core_seconds / alloc * 100 if alloc > 0 else 0.0
        t0, t1 = time_range(r)
        name = r.app_name or "(unnamed)"
        rows.append(
            Row((
                Cell(f'<a href="#app-{i}">{esc(name)}</a>', name), code_cell(r.app_id),
                cell("running" if r.running else "finished"),
                num_cell((t1 - t0) / 1000, format_duration((t1 - t0) / 1000)), num_cell(share, f"{share:.0f}%"),
                num_cell(r.cache.lost_blocks), num_cell(len(r.executors)),
            ))
        )
    columns = (
        Column("application"), Column("id"), Column("status", cls="nowrap"), Column("duration", numeric=True),
        Column("idle cores", numeric=True), Column("blocks lost", numeric=True), Column("executors", numeric=True),
    )
    return f'<nav class="toc">{table(columns, rows, limit=None)}</nav>'


def document(title: str, body: str, subtitle: str) -> str:
    """A complete page around ``body`` (markup): head with the CSP, style and scripts, top bar, footer.

    Any page of sparkprobe (one app, many, a fleet) is made with this, so each stays one file that
    fetches nothing and runs the same script (crosshair, legend, sortable tables).
    """
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="sparkprobe {esc(__version__)}">'
        f"<title>{esc(title)}</title>"
        f"<script>{asset('errors.js')}</script><style>{asset('style.css')}</style></head><body>"
        f'<div class="top"><h1>sparkprobe</h1><span class="sub">{esc(subtitle)}</span></div>'
        f"<main>{body}</main>"
        f"<footer>sparkprobe {esc(__version__)} · figures as defined in docs/figures.md and docs/cache-loss.md"
        "</footer>"
        f"<script>{asset('report.js')}</script></body></html>\n"
    )


def render_html(reports: Sequence[AppReport], *, title: str | None = None) -> str:
    """Render app reports as one self-contained HTML document.

    Each app gets its headline figures, an executor timeline (SVG: one lane per executor, busy and
    idle-by-cause shading, cache-loss and removal markers, stages), a cached-bytes chart, its cache
    losses, findings and advice. Nothing is fetched when the file is opened (inline CSS, SVG and
    script; a Content-Security-Policy forbids fetches). Every string from the data is escaped.
    ``title`` overrides the document title.
    """
    n = len(reports)
    if title is None:
        if n == 1:
            title = f"sparkprobe · {reports[0].app_name or reports[0].app_id or 'application'}"
        else:
            title = f"sparkprobe report · {n} applications"
    body: list[str] = []
    if n > 1:
        body.append(_contents(reports))
    if not reports:
        body.append('<div class="empty">No application in this report.</div>')
    body.extend(_app_section(r, i) for i, r in enumerate(reports))
    return document(title, "".join(body), f"executor idle time & cache loss · {n} application{'s' if n != 1 else ''}")
