"""Reports: the text a person reads in a terminal, and the versioned JSON document.

The JSON shape is ``docs/report-schema.md``; bump :data:`REPORT_SCHEMA` on any incompatible change.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

__all__ = ["REPORT_SCHEMA", "format_bytes", "format_text", "to_json", "write_json"]

#: Version of the JSON report document.
REPORT_SCHEMA = 1


def format_bytes(n: float) -> str:
    """Bytes for people: ``2.3 MiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def format_text(app: dict[str, Any]) -> str:
    """One app's report for a terminal: headline waste and loss first, then findings and advice."""
    lines: list[str] = []
    name = app.get("app_name") or "?"
    lines.append(f"== {name} ({app.get('app_id') or 'no app id'}), Spark {app.get('spark_version') or '?'}")
    alloc = app["allocated_core_seconds"]
    idle = app["idle_core_seconds"]
    share = (idle / alloc * 100) if alloc > 0 else 0.0
    lines.append(
        f"  idle cores      {idle:,.1f} of {alloc:,.1f} core-seconds allocated ({share:.0f}% idle); "
        f"busy {app['busy_core_seconds']:,.1f}"
    )
    causes = ", ".join(f"{c} {s:,.1f}s" for c, s in app["idle_by_cause"].items() if s > 0)
    idle_s = app["idle_executor_seconds"]
    lines.append(f"  idle executors  {idle_s:,.1f} executor-seconds" + (f" ({causes})" if causes else ""))
    lines.append(
        f"  cache lost      {app['cache_lost_blocks']} blocks, {format_bytes(app['cache_lost_bytes'])}; "
        f"recomputed {app['cache_recomputed_blocks']} blocks in {app['cache_recompute_seconds']:,.1f}s"
    )
    removed = ", ".join(f"{k} {v}" for k, v in app["removed_by_reason"].items())
    lines.append(
        f"  executors       {app['executors_added']} added, {app['executors_removed']} removed"
        + (f" ({removed})" if removed else "")
    )
    t = app["tasks"]
    lines.append(
        f"  tasks           {t['success']} succeeded, {t['failed']} failed, {t['killed']} killed; "
        f"{t['run_seconds']:,.1f}s of task time"
    )
    if app.get("bad_lines"):
        lines.append(f"  bad lines       {app['bad_lines']} skipped (counted, not used)")
    if app.get("incomplete"):
        lines.append("  INCOMPLETE      events are missing (listener drops or app closed by timeout)")
    for loss in app["losses"]:
        rdds = "; ".join(
            f"RDD {r['rdd_id']} {r['name'] or ''} [{r.get('first_stage') or r['callsite'] or '?'}] "
            f"{r['blocks']} blocks {format_bytes(r['memory_bytes'] + r['disk_bytes'])}"
            for r in loss["rdds"]
        )
        lines.append(f"  loss: executor {loss['exec_id']} ({loss['cause']}: {loss['reason']!r}): {rdds}")
    if app["findings"]:
        lines.append("  findings:")
        lines.extend(f"    - [{f['kind']}] {f['message']}" for f in app["findings"])
    if app["advice"]:
        lines.append("  advice:")
        lines.extend(f"    - {a['message']}" for a in app["advice"])
    return "\n".join(lines)


def to_json(apps: list[dict[str, Any]]) -> str:
    """The versioned JSON report document for these apps."""
    return json.dumps({"schema": REPORT_SCHEMA, "apps": apps}, indent=2, sort_keys=True, default=str)


def write_json(apps: list[dict[str, Any]], stream: TextIO) -> None:
    """Write the same document as :func:`to_json` to ``stream`` piece by piece, ending with a newline.

    The text of a big report is never held whole in memory (for a 1k-executor app the one-string
    form was the largest allocation of ``sparkprobe analyze``).
    """
    json.dump({"schema": REPORT_SCHEMA, "apps": apps}, stream, indent=2, sort_keys=True, default=str)
    stream.write("\n")
