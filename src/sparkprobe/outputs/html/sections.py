"""The parts of an app's page around its charts: cards, tables, advice, what-if, source, warnings.

Each function takes the typed report and returns markup; every string from the data goes through
:func:`~sparkprobe.outputs.html.format.esc` and every table through
:func:`~sparkprobe.outputs.html.table.table`. docs/html-report.md lists what each shows.
"""

from __future__ import annotations

from sparkprobe.model import AppReport, IdleCause
from sparkprobe.outputs.findings import group_findings
from sparkprobe.outputs.html.format import (
    blocks,
    esc,
    format_bytes,
    format_clock,
    format_duration,
    format_number,
    plural,
    when,
)
from sparkprobe.outputs.html.table import Cell, Column, Row, cell, code_cell, num_cell, table
from sparkprobe.outputs.html.timeline import COLOR, REMOVAL_COLOR

__all__ = ["advice", "cards", "findings", "heading", "losses", "source", "uncached_reuse", "warnings", "what_if"]


def heading(title: str, count: int | None = None) -> str:
    """A section heading, with a count in small type."""
    small = f" <small>({count:,})</small>" if count is not None else ""
    return f"<h3>{esc(title)}{small}</h3>"


def _card(title: str, value: str, sub: str, extra: str = "", cls: str = "") -> str:
    return (
        f'<div class="card {cls}"><div class="card-title">{esc(title)}</div>'
        f'<div class="card-value">{value}</div><div class="card-sub">{sub}</div>{extra}</div>'
    )


def _kv(key: str, value: str, swatch: str = "") -> str:
    return f'<li>{swatch}<span class="k">{esc(key)}</span><span class="v">{esc(value)}</span></li>'


def cards(report: AppReport) -> str:
    """The headline cards: idle share, idle time by cause, blocks lost, recomputed, executors, tasks."""
    c, k, t = report.cores, report.cache, report.tasks
    share = c.idle_core_seconds / c.allocated_core_seconds * 100 if c.allocated_core_seconds > 0 else 0.0
    out: list[str] = []
    meter = f'<div class="meter"><span style="width:{min(100.0, max(0.0, share)):.1f}%"></span></div>'
    out.append(
        _card(
            "Idle core share",
            f'<span data-figure="idle_share">{share:.0f}%</span>',
            f"{esc(format_number(c.idle_core_seconds))} of {esc(format_number(c.allocated_core_seconds))} "
            f"core-s allocated were idle; busy {esc(format_number(c.busy_core_seconds))} core-s",
            meter,
            "bad" if share >= 50 else ("warn" if share >= 25 else ""),
        )
    )
    bar_total = sum(c.idle_by_cause.values()) or 1.0
    segs: list[str] = []
    rows: list[str] = []
    for cause, secs in c.idle_by_cause.items():
        if secs <= 0:
            continue
        hatch = " hatch" if cause == IdleCause.CACHE_HELD else ""
        colour = COLOR[cause.value]
        segs.append(
            f'<span class="seg{hatch}" style="width:{secs / bar_total * 100:.2f}%;background-color:{colour}" '
            f'title="{cause.value}: {esc(format_duration(secs))}"></span>'
        )
        swatch = f'<span class="sw{hatch}" style="background-color:{colour}"></span>'
        rows.append(_kv(cause.value, format_duration(secs), swatch))
    out.append(
        _card(
            "Idle executor time",
            f'<span data-figure="idle_executor_seconds">{esc(format_duration(c.idle_executor_seconds))}</span>',
            "executor-seconds with no task running, by cause",
            f'<div class="stack">{"".join(segs)}</div><ul class="kv">{"".join(rows)}</ul>' if segs else "",
        )
    )
    lost_rows = "".join(
        _kv(cause.value, blocks(n) + ("" if k.estimated else f", {format_bytes(nbytes)}"))
        for cause, (n, nbytes) in k.lost_by_cause.items()
    )
    if k.estimated:
        sub = "estimated from tasks (no block updates in the log): sizes unknown"
    else:
        sub = f"{esc(format_bytes(k.lost_bytes))} of cached data lost with executors"
    if k.replicas_lost or k.migrated_blocks:
        sub += f"; {k.replicas_lost} replica(s) lost, {k.migrated_blocks} block(s) migrated"
    out.append(
        _card(
            "Cached blocks lost",
            f'<span data-figure="cache_lost_blocks">{k.lost_blocks:,}</span>'
            + (" <small>estimated</small>" if k.estimated else ""),
            sub,
            f'<ul class="kv">{lost_rows}</ul>' if lost_rows else "",
            "bad" if k.lost_blocks else "",
        )
    )
    uncached = report.uncached_recompute_seconds
    out.append(
        _card(
            "Recomputed",
            f'<span data-figure="cache_recomputed_blocks">{k.recomputed_blocks:,}</span> <small>blocks</small>',
            f"{esc(format_duration(k.recompute_seconds))} of task time rebuilding them (upper bound)"
            + (f"; {esc(format_duration(uncached))} repeating uncached lineages" if uncached > 0 else ""),
        )
    )
    removed_rows = "".join(
        _kv(cause.value, str(n), f'<span class="sw bar" style="background-color:{REMOVAL_COLOR[cause]}"></span>')
        for cause, n in report.removed_by_reason.items()
    )
    out.append(
        _card(
            "Executors",
            f'<span data-figure="executors_added">{report.executors_added}</span> <small>added</small>',
            f"{report.executors_removed} removed before the end"
            + (f", {report.executors_active} active now" if report.running else "")
            + (", by cause:" if removed_rows else ""),
            f'<ul class="kv">{removed_rows}</ul>' if removed_rows else "",
        )
    )
    task_sub = f"{t.failed} failed, {t.killed} killed"
    if t.running:
        task_sub += f", {t.running} running"
    task_sub += f"; {format_duration(t.run_seconds)} of task time"
    out.append(
        _card(
            "Tasks succeeded",
            f'<span data-figure="tasks_success">{t.success:,}</span>',
            esc(task_sub),
            "",
            "warn" if t.failed else "",
        )
    )
    return f'<div class="cards">{"".join(out)}</div>'


def losses(report: AppReport, t0: float) -> str:
    """The cache losses: when, executor, cause, Spark's reason, blocks, bytes, RDDs lost."""
    if not report.losses:
        return ""
    columns = (
        Column("when", numeric=True), Column("executor"), Column("cause", cls="nowrap"),
        Column("Spark reason", cls="reason"), Column("blocks", numeric=True), Column("bytes", numeric=True),
        Column("RDDs (where first used)", sortable=False),
    )
    rows = []
    for loss in report.losses:
        rdds = "".join(
            f'<div class="rdd">RDD {r.rdd_id} <b>{esc(r.name)}</b> <code>{esc(r.first_stage or r.callsite or "?")}'
            f"</code> — {blocks(r.blocks)}, {esc(format_bytes(r.memory_bytes + r.disk_bytes))}</div>"
            for r in loss.rdds
        )
        rows.append(
            Row((
                cell(when(loss.time_ms, t0), loss.time_ms), code_cell(loss.exec_id), cell(loss.cause.value),
                cell(loss.reason), num_cell(loss.blocks), num_cell(loss.bytes, format_bytes(loss.bytes)), Cell(rdds),
            ))
        )
    return heading("Cache losses", len(rows)) + table(columns, rows)


def findings(report: AppReport, t0: float) -> str:
    """Findings grouped by kind (and cause of cache loss), then every finding in a collapsed block."""
    if not report.findings:
        return '<h3>Findings</h3><p class="muted">No findings.</p>'
    made = sum(report.findings_by_kind.values())
    note = (
        f'<p class="muted">{made:,} findings in all; the oldest {made - len(report.findings):,} were not kept.</p>'
        if made > len(report.findings)
        else ""
    )
    groups = group_findings(report)
    group_rows = [
        Row(
            (
                Cell(f'<span class="badge">{esc(g.label)}</span>', g.label),
                num_cell(g.count),
                cell(g.total),
                cell(g.worst.message if g.count == 1 else (
                    g.worst_text if g.worst_label == "worst" else f"{g.worst_label}: {g.worst_text}"
                )),
                cell(g.when(report.start_ms), g.first_ms),
            ),
            cls="finding-group",
            data={"kind": g.kind.value, "cause": g.cause, "count": g.count},
        )
        for g in groups
    ]
    grouped = table(
        (
            Column("kind"), Column("count", numeric=True), Column("in all", sortable=False),
            Column("worst", sortable=False), Column("when (first … last)", cls="nowrap"),
        ),
        group_rows,
        cls="findings-grouped",
    )
    every = table(
        (Column("when", numeric=True), Column("kind"), Column("finding", sortable=False)),
        [
            Row((cell(when(f.time_ms, t0), f.time_ms), Cell(f'<span class="badge">{esc(f.kind.value)}</span>',
                 f.kind.value), cell(f.message)))
            for f in sorted(report.findings, key=lambda f: f.time_ms)
        ],
        cls="findings-all",
        limit=None,
    )
    return (
        heading("Findings", len(report.findings)) + note + grouped
        + f'<details class="findings-all"><summary>All {len(report.findings):,} findings, one per line</summary>'
        f"{every}</details>"
    )


def _core_hours(hours: float) -> str:
    return f"{hours:,.1f} core-hours" if hours >= 1 else f"{hours * 3600:,.0f} core-seconds"


def _evidence_value(value: float) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1 else f"{value:,.1f}"
    return str(value)


def advice(report: AppReport) -> str:
    """Each piece of advice: kind, message, the Spark settings to try, evidence, estimated saving."""
    items = []
    for a in report.advice:
        head = f'<span class="badge">{a.kind.value}</span>'
        if a.saving_core_hours > 0:
            head += f'<span class="saving">saves ≈ {esc(_core_hours(a.saving_core_hours))}</span>'
        conf = ""
        if a.settings:
            lines = "\n".join(f"{k}={v}" for k, v in a.settings.items())
            conf = f'<pre class="settings"><code>{esc(lines)}</code></pre>'
        ev = ""
        if a.evidence:
            ev = '<div class="evidence">evidence: ' + ", ".join(
                f"{esc(k)} <b>{esc(_evidence_value(v))}</b>" for k, v in a.evidence.items()
            ) + "</div>"
        items.append(
            f'<div class="advice-item"><div class="advice-head">{head}</div><p>{esc(a.message)}</p>{conf}{ev}</div>'
        )
    if not items:
        return '<h3>Advice</h3><p class="muted">No advice for this application.</p>'
    return heading("Advice", len(items)) + "".join(items)


def what_if(report: AppReport) -> str:
    """The what-if replay (docs/advice.md): estimated wall time and cost at other executor counts."""
    w = report.what_if
    if w is None or not w.rows:
        return ""
    nearest = min(w.rows, key=lambda r: abs(r.executors - w.measured_avg_executors))
    rows = [
        Row(
            (num_cell(r.executors), num_cell(r.est_wall_seconds, format_duration(r.est_wall_seconds)),
             num_cell(r.est_allocated_core_seconds, format_number(r.est_allocated_core_seconds))),
            cls="measured" if r is nearest else "",
        )
        for r in w.rows
    ]
    model = w.model_wall_seconds_at_measured
    sub = (
        f"Measured: {esc(format_duration(w.measured_wall_seconds))} with {w.measured_avg_executors:.1f} executors "
        f"on average ({plural(w.executor_cores, 'core')} each), of which {esc(format_duration(w.driver_seconds))} "
        "with no stage running. "
        + (
            f"The model gives {esc(format_duration(model))} at the measured count ({w.model_error * 100:+.1f}%)."
            if model is not None and w.model_error is not None
            else "The model has no estimate at the measured count."
        )
    )
    columns = (
        Column("executors", numeric=True), Column("est. wall time", numeric=True),
        Column("est. allocated core-s", numeric=True),
    )
    return (
        f'<h3>What if <small>(model, static allocation)</small></h3><p class="hint">{sub}</p>'
        + table(columns, rows, cls="whatif", limit=None)
    )


def uncached_reuse(report: AppReport) -> str:
    """Lineages computed more than once without a cache: callsite, times, task time of the repeats."""
    if not report.uncached_reuse:
        return ""
    rows = [
        Row((code_cell(u.callsite or "?"), num_cell(u.times, f"{u.times} times"),
             num_cell(u.repeat_task_seconds, format_duration(u.repeat_task_seconds))))
        for u in report.uncached_reuse
    ]
    columns = (
        Column("lineage (callsite)"), Column("computed", numeric=True),
        Column("task time of the repeats", numeric=True),
    )
    return heading("Computed more than once without a cache", len(rows)) + table(columns, rows)


def source(report: AppReport) -> str:
    """How the data was read (folded): log, layout, codecs, lines, bad lines, drops, caps reached."""
    rows: list[tuple[str, str]] = []
    src = report.source
    if src is not None:
        rows += [
            ("log", src.name or "?"),
            ("layout", src.layout or "?"),
            ("codecs", ", ".join(src.codecs) or "none"),
            ("lines / events", f"{src.lines:,} / {src.events:,}"),
            ("in progress", "yes" if src.in_progress else "no"),
        ]
    rows.append(("bad lines", f"{report.bad_lines:,}"))
    if report.listener.offered:
        rows.append(("listener", f"{report.listener.offered:,} events offered, {report.listener.dropped:,} dropped"))
    if report.over_limit:
        rows.append(("over limits", ", ".join(f"{k} {v}" for k, v in report.over_limit.items())))
    body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    return f'<details class="source"><summary>Data source</summary><table class="kvt">{body}</table></details>'


def warnings(report: AppReport, t1: float) -> list[str]:
    """What may make the figures low or partial (plain text; the caller escapes)."""
    out: list[str] = []
    if report.running:
        in_progress = report.source is not None and report.source.in_progress
        if in_progress or report.incomplete:
            out.append(
                "No application end in the data (in-progress log, or the app is still running): "
                f"drawn up to the last event, {format_clock(t1)}."
            )
        else:
            out.append(f"The application is still running: drawn up to {format_clock(t1)}.")
    if report.listener.dropped:
        out.append(f"The listener dropped {report.listener.dropped:,} events: figures may be low.")
    if report.bad_lines:
        out.append(f"{report.bad_lines:,} unreadable log lines were skipped.")
    gaps = report.transport.gaps if report.transport is not None else ()
    if gaps:
        out.append(
            f"Events may be missing in {len(gaps)} time range(s) (listener drops, or the agent joined "
            "the stream late): shaded on the timeline; figures there may be low."
        )
    points = report.timeline.cached_bytes if report.timeline is not None else ()
    if report.cache.estimated:
        out.append(
            "No block updates in this log: cache figures are estimated from tasks (blocks counted, "
            "sizes unknown, replicas not seen; docs/cache-loss.md). Set "
            "spark.eventLog.logBlockUpdates.enabled=true for exact figures."
        )
    elif not points and not report.cache.lost_blocks:
        out.append(
            "No cached-block data: nothing was cached, or the log holds no block updates "
            "(spark.eventLog.logBlockUpdates.enabled=true records them); cache loss cannot be seen "
            "without them."
        )
    return out
