"""Reports: the text a person reads in a terminal, and the versioned JSON document.

The JSON shape is ``docs/report-schema.md``, made by :meth:`sparkprobe.model.AppReport.to_json`;
bump :data:`~sparkprobe.model.REPORT_SCHEMA` on any incompatible change.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable
from typing import TextIO

from sparkprobe.model import REPORT_SCHEMA, AppReport, IncompleteReason
from sparkprobe.outputs.findings import group_findings
from sparkprobe.outputs.units import format_bytes

__all__ = ["REPORT_SCHEMA", "format_bytes", "format_text", "to_json", "write_json"]

_INCOMPLETE_TEXT = {
    IncompleteReason.LISTENER_DROPS: "the listener dropped events",
    IncompleteReason.GAPS: "events are missing from parts of the stream",
    IncompleteReason.CLOSED_BY_TIMEOUT: "the driver went away without ApplicationEnd",
    IncompleteReason.NO_APPLICATION_END: "the log has no ApplicationEnd: figures end at its last event",
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
    return "\n".join(lines)


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
