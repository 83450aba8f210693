"""The per-tenant table of an app's page: who used the executors (docs/tenants.md).

One row per tenant of the report (Spark Connect sessions, users, job tags, job groups, pools, with
``other`` and ``none``), sortable by any figure; a share bar shows each tenant's part of the app's
busy core-seconds. Every string from the data goes through ``esc`` (ids are label values, made
printable and bounded by the analyzer, but still client text).
"""

from __future__ import annotations

from sparkprobe.model import AppReport, TenantKind
from sparkprobe.outputs.html.format import esc, format_bytes, format_duration, format_number, when
from sparkprobe.outputs.html.sections import heading
from sparkprobe.outputs.html.table import Cell, Column, Row, cell, code_cell, num_cell, table

__all__ = ["tenants"]

_KIND_TEXT = {
    TenantKind.SESSION: "Connect session",
    TenantKind.USER: "user",
    TenantKind.TAG: "job tag",
    TenantKind.JOB_GROUP: "job group",
    TenantKind.POOL: "pool",
}


def tenants(report: AppReport, t0: float) -> str:
    """The tenants table, or "" for an app without tenants."""
    if not report.tenants:
        return ""
    columns = (
        Column("kind", cls="nowrap"), Column("tenant"), Column("user"),
        Column("busy core-s", numeric=True), Column("share of busy", numeric=True),
        Column("task time", numeric=True), Column("cached now", numeric=True), Column("cache lost", numeric=True),
        Column("recompute", numeric=True), Column("session start", numeric=True), Column("session end", numeric=True),
    )
    app_busy = report.cores.busy_core_seconds
    rows = []
    for t in report.tenants:
        share = t.busy_core_seconds / app_busy if app_busy > 0 else 0.0
        bar = (
            f'<span class="share" title="{esc(f"{share:.1%}")}">'
            f'<span style="width:{min(share, 1.0) * 100:.1f}%"></span></span> {esc(f"{share:.0%}")}'
        )
        rows.append(Row(
            (
                cell(_KIND_TEXT[t.kind], t.kind.value),
                code_cell(t.id),
                cell(t.user),
                num_cell(t.busy_core_seconds, format_number(t.busy_core_seconds)),
                Cell(bar, share),
                num_cell(t.task_seconds, format_duration(t.task_seconds)),
                num_cell(t.cached_bytes, format_bytes(t.cached_bytes)),
                num_cell(t.cache_lost_bytes, format_bytes(t.cache_lost_bytes)),
                num_cell(t.recompute_seconds, format_duration(t.recompute_seconds)),
                cell(when(t.start_ms, t0) if t.start_ms is not None else "", t.start_ms or 0),
                cell(when(t.end_ms, t0) if t.end_ms is not None else "", t.end_ms or 0),
            ),
            cls="fold" if t.id in ("other", "none") else "",
            data={"kind": t.kind.value, "tenant": t.id},
        ))
    folded = ", ".join(f"{n:,} {kind.value}s" for kind, n in report.tenants_folded.items())
    note = (
        f'<p class="hint">Past --max-tenants, {esc(folded)} were folded into <code>other</code>. </p>'
        if folded else ""
    )
    hint = (
        '<p class="hint">Who used the executors. Sessions, users, job groups and pools each add up to '
        "the app's figures (<code>none</code>: work with no tenant of that kind); a job with several "
        "tags counts for each. A cache loss belongs to the tenant that first cached the RDD, a rebuild "
        "to the tenant whose task did it (docs/tenants.md).</p>"
    )
    return heading("Tenants", len(rows)) + hint + note + table(columns, rows)
