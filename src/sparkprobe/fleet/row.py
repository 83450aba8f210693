"""One application of a fleet: :class:`AppRow`, the headline of its report as one flat record.

A row is what the state store keeps per (app id, attempt), what ``--spark`` tasks send back and
write as Parquet, and what the fleet report ranks. Every figure is copied from the
:class:`~sparkprobe.model.AppReport` of ``sparkprobe analyze`` of the same log (made by the same
:func:`~sparkprobe.offline.analyze_source`), so a fleet figure and an ``analyze`` figure cannot
differ. :data:`COLUMNS` is the one list of the row's fields and their types: the SQLite table,
the Parquet schema and docs/fleet.md follow it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Final

from sparkprobe.model import AppReport

__all__ = ["COLUMNS", "MAX_ROW_FINDINGS", "NULLABLE", "AppRow", "row_from_report"]

#: Findings a row keeps (the first ones, in event time); ``findings_by_kind`` counts them all.
MAX_ROW_FINDINGS: Final = 50


@dataclass(frozen=True, slots=True)
class AppRow:
    """The fleet's record of one application attempt (docs/fleet.md, "Rows")."""

    app_id: str
    attempt_id: str
    app_name: str
    user: str
    queue: str
    spark_version: str
    #: The log's identity: its path, or the History Server URL it was downloaded from.
    log: str
    start_ms: int
    end_ms: int | None
    in_progress: bool
    duration_seconds: float
    dynamic_allocation: bool | None
    executors_added: int
    executors_removed: int
    allocated_core_seconds: float
    busy_core_seconds: float
    idle_core_seconds: float
    idle_executor_seconds: float
    idle_share: float
    idle_cache_held_seconds: float
    idle_shuffle_held_seconds: float
    idle_min_executors_seconds: float
    idle_driver_busy_seconds: float
    idle_unneeded_seconds: float
    cache_lost_blocks: int
    cache_lost_bytes: int
    cache_estimated: bool
    recompute_seconds: float
    uncached_recompute_seconds: float
    tasks_succeeded: int
    tasks_failed: int
    task_seconds: float
    events: int
    bad_lines: int
    too_long: int
    log_bytes: int
    incomplete: bool
    findings_count: int
    #: Kind → count of every finding (JSON object in SQLite and Parquet).
    findings_by_kind: Mapping[str, int] = field(default_factory=dict)
    #: The first :data:`MAX_ROW_FINDINGS` findings: ``{"kind", "time_ms", "message"}``.
    findings: tuple[Mapping[str, Any], ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        """The store's key: (app id, attempt id)."""
        return (self.app_id, self.attempt_id)

    def to_json(self) -> dict[str, Any]:
        """The row as the JSON report's ``apps`` element (plain dicts and lists)."""
        out = asdict(self)
        out["findings_by_kind"] = dict(self.findings_by_kind)
        out["findings"] = [dict(f) for f in self.findings]
        return out

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> AppRow:
        """The row back from :meth:`to_json` (keys it does not know are ignored)."""
        values = {c: doc[c] for c in COLUMNS if c in doc}
        values["findings_by_kind"] = dict(values.get("findings_by_kind") or {})
        values["findings"] = tuple(dict(f) for f in values.get("findings") or ())
        return cls(**values)

    def encoded(self) -> dict[str, Any]:
        """The row with its nested fields as JSON text (one SQLite or Parquet cell each)."""
        out = self.to_json()
        out["findings_by_kind"] = json.dumps(out["findings_by_kind"], sort_keys=True)
        out["findings"] = json.dumps(out["findings"], sort_keys=True)
        return out

    @classmethod
    def decoded(cls, values: Mapping[str, Any]) -> AppRow:
        """The row back from :meth:`encoded` (SQLite gives 0/1 for booleans: typed back here)."""
        doc = dict(values)
        doc["findings_by_kind"] = json.loads(doc["findings_by_kind"] or "{}")
        doc["findings"] = json.loads(doc["findings"] or "[]")
        for name, kind in COLUMNS.items():
            if kind == "bool" and doc.get(name) is not None:
                doc[name] = bool(doc[name])
        return cls.from_json(doc)


def _column_kind(annotation: str) -> str:
    for kind in ("bool", "int", "float", "str"):
        if annotation.startswith(kind):
            return kind
    return "json"


#: Field name → ``str``, ``int``, ``float``, ``bool`` or ``json`` (nested, stored as JSON text);
#: ``| None`` fields are nullable: ``end_ms`` and ``dynamic_allocation``.
COLUMNS: Final[dict[str, str]] = {f.name: _column_kind(str(f.type)) for f in fields(AppRow)}
NULLABLE: Final[frozenset[str]] = frozenset(f.name for f in fields(AppRow) if "None" in str(f.type))


def row_from_report(report: AppReport, log: str) -> AppRow:
    """The fleet row of an ``analyze`` report (``log`` is the identity of the log it was read from)."""
    c, k, t, s = report.cores, report.cache, report.tasks, report.source
    by_cause = {cause.value: seconds for cause, seconds in c.idle_by_cause.items()}
    end = report.end_ms
    if end is not None:
        duration = max(0, end - report.start_ms) / 1000
    else:  # to the last event, as every other figure of a log without an end
        duration = report.what_if.measured_wall_seconds if report.what_if is not None else 0.0
    return AppRow(
        app_id=report.app_id,
        attempt_id=report.attempt_id,
        app_name=report.app_name,
        user=report.user,
        queue=report.queue,
        spark_version=report.spark_version,
        log=log,
        start_ms=report.start_ms,
        end_ms=end,
        in_progress=bool(s.in_progress) if s is not None else False,
        duration_seconds=duration,
        dynamic_allocation=report.dynamic_allocation,
        executors_added=report.executors_added,
        executors_removed=report.executors_removed,
        allocated_core_seconds=c.allocated_core_seconds,
        busy_core_seconds=c.busy_core_seconds,
        idle_core_seconds=c.idle_core_seconds,
        idle_executor_seconds=c.idle_executor_seconds,
        idle_share=c.idle_core_seconds / c.allocated_core_seconds if c.allocated_core_seconds > 0 else 0.0,
        idle_cache_held_seconds=by_cause.get("cache_held", 0.0),
        idle_shuffle_held_seconds=by_cause.get("shuffle_held", 0.0),
        idle_min_executors_seconds=by_cause.get("min_executors", 0.0),
        idle_driver_busy_seconds=by_cause.get("driver_busy", 0.0),
        idle_unneeded_seconds=by_cause.get("unneeded", 0.0),
        cache_lost_blocks=k.lost_blocks,
        cache_lost_bytes=k.lost_bytes,
        cache_estimated=k.estimated,
        recompute_seconds=k.recompute_seconds,
        uncached_recompute_seconds=report.uncached_recompute_seconds,
        tasks_succeeded=t.success,
        tasks_failed=t.failed,
        task_seconds=t.run_seconds,
        events=s.events if s is not None else 0,
        bad_lines=report.bad_lines,
        too_long=s.too_long if s is not None else 0,
        log_bytes=s.bytes_compressed if s is not None else 0,
        incomplete=report.incomplete,
        findings_count=sum(report.findings_by_kind.values()),
        findings_by_kind={kind.value: n for kind, n in report.findings_by_kind.items()},
        findings=tuple(
            {"kind": f.kind.value, "time_ms": f.time_ms, "message": f.message}
            for f in report.findings[:MAX_ROW_FINDINGS]
        ),
    )
