"""Reports: the text a person reads in a terminal, and the versioned JSON document.

The JSON shape is ``docs/report-schema.md``, made by :meth:`sparkprobe.model.AppReport.to_json`;
bump :data:`~sparkprobe.model.REPORT_SCHEMA` on any incompatible change.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable, Mapping
from typing import TextIO

from sparkprobe.model import (
    REPORT_SCHEMA,
    AppReport,
    IncompleteReason,
    PeakArea,
    PolicyFigures,
    RequestArea,
)
from sparkprobe.outputs.findings import group_findings
from sparkprobe.outputs.units import format_bytes

__all__ = ["REPORT_SCHEMA", "format_bytes", "format_policy_whatif", "format_text", "policy_label", "to_json",
           "write_json"]

_INCOMPLETE_TEXT = {
    IncompleteReason.LISTENER_DROPS: "the listener dropped events",
    IncompleteReason.GAPS: "events are missing from parts of the stream",
    IncompleteReason.CLOSED_BY_TIMEOUT: "the driver went away without ApplicationEnd",
    IncompleteReason.NO_APPLICATION_END: "the log has no ApplicationEnd: figures end at its last event",
    IncompleteReason.TAKEN_OVER: "this agent took the app over mid-run: core-seconds, tasks and losses start then",
}


def format_text(app: AppReport) -> str:
    """One app's report for a terminal: headline waste and loss first, then findings and advice."""
    lines: list[str] = []
    name = app.app_name or "?"
    attempt = f", attempt {app.attempt_id}" if app.attempt_id else ""
    lines.append(f"== {name} ({app.app_id or 'no app id'}{attempt}), Spark {app.spark_version or '?'}")
    c, k, t = app.cores, app.cache, app.tasks
    alloc = c.allocated_core_seconds
    idle = c.idle_core_seconds
    share = (idle / alloc * 100) if alloc > 0 else 0.0
    lines.append(
        f"  idle cores      {idle:,.1f} of {alloc:,.1f} core-seconds allocated ({share:.0f}% idle); "
        f"busy {c.busy_core_seconds:,.1f}"
    )
    causes = ", ".join(f"{cause.value} {s:,.1f}s" for cause, s in c.idle_by_cause.items() if s > 0)
    lines.append(
        f"  idle executors  {c.idle_executor_seconds:,.1f} executor-seconds" + (f" ({causes})" if causes else "")
    )
    lines.append(
        f"  cache lost      {k.lost_blocks} blocks, {format_bytes(k.lost_bytes)}; "
        f"recomputed {k.recomputed_blocks} blocks in {k.recompute_seconds:,.1f}s"
        + (" (estimated from tasks: the log has no block updates)" if k.estimated else "")
    )
    removed = ", ".join(f"{cause.value} {n}" for cause, n in app.removed_by_reason.items())
    lines.append(
        f"  executors       {app.executors_added} added, {app.executors_removed} removed"
        + (f" ({removed})" if removed else "")
    )
    lines.append(
        f"  tasks           {t.success} succeeded, {t.failed} failed, {t.killed} killed; "
        f"{t.run_seconds:,.1f}s of task time"
    )
    lines.extend(_memory_lines(app))
    if app.bad_lines:
        lines.append(f"  bad lines       {app.bad_lines} skipped (counted, not used)")
    for reason in app.incomplete_reasons:
        lines.append(f"  INCOMPLETE      {_INCOMPLETE_TEXT[reason]}")
    for loss in app.losses:
        rdds = "; ".join(
            f"RDD {r.rdd_id} {r.name or ''} [{r.first_stage or r.callsite or '?'}] "
            f"{r.blocks} blocks {format_bytes(r.memory_bytes + r.disk_bytes)}"
            for r in loss.rdds
        )
        lines.append(f"  loss: executor {loss.exec_id} ({loss.cause.value}: {loss.reason!r}): {rdds}")
    lines.extend(_tenant_lines(app))
    if app.findings:
        # One line per kind (and per cause of cache loss): dozens of "executor N idle" lines say less.
        lines.append("  findings:")
        for group in group_findings(app):
            when = group.when(app.start_ms)
            if group.count == 1:
                lines.append(f"    - [{group.label}] {group.worst.message} ({when})")
                continue
            total = f": {group.total}" if group.total else ""
            lines.append(
                f"    - [{group.label}] {group.headline()}{total}; {group.worst_label} {group.worst_text}; {when}"
            )
        made = sum(app.findings_by_kind.values())
        if made > len(app.findings):
            lines.append(f"    ({made} findings in all; the oldest {made - len(app.findings)} were not kept)")
    if app.advice:
        lines.append("  advice:")
        lines.extend(f"    - {a.message}" for a in app.advice)
    lines.extend(format_policy_whatif(app))
    return "\n".join(lines)


def policy_label(conf: Mapping[str, str]) -> str:
    """A policy's Spark keys, short: ``maxExecutors=1, cachedExecutorIdleTimeout=60s``."""
    if not conf:
        return "(Spark's defaults)"
    return ", ".join(
        f"{k.removeprefix('spark.dynamicAllocation.').removeprefix('spark.')}={v}" for k, v in conf.items()
    )


def format_policy_whatif(app: AppReport) -> list[str]:
    """The policy what-if as a small table (docs/advice.md): the recorded run, then each policy."""
    if not app.policy_whatif:
        reason = app.policy_whatif_unavailable
        return [f"  policy what-if  not available: {reason}"] if reason else []
    out = [
        "  policy what-if (predicted by the policy simulator; * = the advisor's choice):",
        f"    {'policy':<58} {'wall s':>8} {'alloc core-s':>12} {'busy':>8} {'idle':>8} {'lost':>5} {'recomp s':>8}",
    ]

    def row(label: str, f: PolicyFigures | None, mark: str) -> str:
        if f is None:
            return f"  {mark} {label[:58]:<58} {'-':>8}"
        return (
            f"  {mark} {label[:58]:<58} {f.wall_seconds:>8,.1f} {f.allocated_core_seconds:>12,.1f} "
            f"{f.busy_core_seconds:>8,.1f} {f.idle_core_seconds:>8,.1f} {f.cache_lost_blocks:>5} "
            f"{f.recompute_seconds:>8,.1f}"
        )

    for r in app.policy_whatif:
        mark = "*" if r.recommended else " "
        if r.baseline:
            out.append(row("recorded run, measured", r.measured, " "))
            out.append(row("recorded policy, replayed", r.predicted, mark))
        elif r.error:
            out.append(f"    {policy_label(r.conf)[:58]:<58} refused: {r.error}")
        else:
            out.append(row(policy_label(r.conf), r.predicted, mark))
    return out


def _memory_lines(app: AppReport) -> list[str]:
    """The memory ledger and, with prices, the cost (docs/figures.md, "Memory" and "Cost")."""
    m = app.memory
    if m is None:
        return []
    req = m.requested
    out = [
        f"  memory asked    {format_bytes(req[RequestArea.CONTAINER])} per executor ({m.cluster_manager}: heap "
        f"{format_bytes(req[RequestArea.HEAP])}, overhead {format_bytes(req[RequestArea.OVERHEAD])}, off-heap "
        f"{format_bytes(req[RequestArea.OFFHEAP])}, PySpark {format_bytes(req[RequestArea.PYSPARK])})"
    ]
    if m.available:
        peaks = ", ".join(
            f"{area.value} {format_bytes(v)}" for area in PeakArea if (v := m.peak[area]) is not None
        )
        out.append(f"  memory peak     {peaks} ({m.executors_measured} of {len(app.executors) or m.executors_busy} "
                   "executors measured)")
    else:
        out.append("  memory peak     unavailable (no executor reported its memory)")
    gib_h = 1 / (1 << 30) / 3600
    idle_causes = ", ".join(
        f"{cause.value} {v * gib_h:,.2f}" for cause, v in m.idle_by_cause_byte_seconds.items() if v > 0
    )
    unused = (f"; unused while busy {m.unused_busy_byte_seconds * gib_h:,.2f}"
              if m.unused_busy_byte_seconds is not None else "")
    out.append(
        f"  memory GiB-h    {m.allocated_byte_seconds * gib_h:,.2f} allocated, {m.idle_byte_seconds * gib_h:,.2f} idle"
        + (f" ({idle_causes})" if idle_causes else "") + unused
    )
    for removal in m.memory_removals:
        out.append(f"  memory loss     executor {removal.exec_id} ran out of {removal.area}: {removal.reason!r}")
    if app.cost is not None:
        c = app.cost
        parts = ", ".join(f"{k} {v:,.4f}" for k, v in c.by_resource.items())
        out.append(f"  cost            {c.total:,.4f} ({parts}); wasted {c.wasted:,.4f}")
    out.extend(f"  note            {note}" for note in m.notes)
    return out


#: Tenants listed per kind in the text report (the JSON has them all).
TEXT_TENANTS_PER_KIND = 10


def _tenant_lines(app: AppReport) -> list[str]:
    """Who used the executors: the busiest tenants of each kind (docs/tenants.md)."""
    if not app.tenants:
        return []
    lines = ["  tenants (busy core-s, task s, cached now, cache lost, recompute s):"]
    shown: dict[str, int] = {}
    for t in app.tenants:
        kind = t.kind.value
        shown[kind] = shown.get(kind, 0) + 1
        if shown[kind] > TEXT_TENANTS_PER_KIND and t.id not in ("other", "none"):
            continue
        who = t.id + (f" ({t.user})" if t.user and t.user != t.id else "")
        lines.append(
            f"    {kind:<9} {who[:48]:<48} {t.busy_core_seconds:>10,.1f} {t.task_seconds:>10,.1f} "
            f"{format_bytes(t.cached_bytes):>10} {format_bytes(t.cache_lost_bytes):>10} {t.recompute_seconds:>8,.1f}"
        )
    for kind, n in app.tenants_folded.items():
        lines.append(f"    {n} {kind.value} tenants folded into 'other' (--max-tenants)")
    return lines


def to_json(apps: Iterable[AppReport]) -> str:
    """The versioned JSON report document for these apps (the text :func:`write_json` writes)."""
    return json.dumps(
        {"schema": REPORT_SCHEMA, "apps": [a.to_json() for a in apps]}, indent=2, sort_keys=True, default=str
    )


def write_json(apps: Iterable[AppReport], stream: TextIO) -> None:
    """Write the same document as :func:`to_json` to ``stream`` one app at a time, ending with a newline.

    Only one app's JSON object is held in memory at a time (``apps`` may be a generator), so a
    report of many big apps never exists whole.
    """
    stream.write('{\n  "apps": [')
    first = True
    for app in apps:
        text = json.dumps(app.to_json(), indent=2, sort_keys=True, default=str)
        stream.write(("\n" if first else ",\n") + textwrap.indent(text, "    "))
        first = False
    stream.write("]" if first else "\n  ]")
    stream.write(f',\n  "schema": {REPORT_SCHEMA}\n}}\n')
