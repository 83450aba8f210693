"""Per-executor, core, cache, loss, finding, task and source figures of one app."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sparkprobe.model._enums import FindingKind, IdleCause, PeakArea, RemovalCause, RequestArea, _enum_map

#: A finding's kind-specific detail value.
DetailValue = int | float | str | bool | None | tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ExecutorReport:
    """One executor's figures (docs/figures.md, "Executors")."""

    exec_id: str
    host: str
    cores: int
    added_ms: int
    removed_ms: int | None
    lifetime_seconds: float
    busy_core_seconds: float
    idle_seconds: float
    idle_now_seconds: float
    idle_by_cause: Mapping[IdleCause, float]
    removed_reason: str
    removed_cause: RemovalCause | None
    running_tasks: int
    cached_blocks: int
    #: What it was given (bytes by area, docs/figures.md "Memory"); empty in a headline report.
    requested_memory: Mapping[RequestArea, int] = field(default_factory=dict)
    #: Its peaks as Spark names them (``JVMHeapMemory``...: the REST API's ``peakMemoryMetrics``).
    peak_memory: Mapping[str, int] = field(default_factory=dict)
    #: Its peaks by area; None where not measured.
    peak_memory_by_area: Mapping[PeakArea, int | None] = field(default_factory=dict)
    #: Its resource profile (0: the default one).
    profile_id: int = 0

    def to_json(self) -> dict[str, Any]:
        """The executor's entry in the report's ``executors`` object (keyed by ``exec_id`` there)."""
        return {
            "host": self.host,
            "cores": self.cores,
            "added_ms": self.added_ms,
            "removed_ms": self.removed_ms,
            "lifetime_seconds": self.lifetime_seconds,
            "busy_core_seconds": self.busy_core_seconds,
            "idle_seconds": self.idle_seconds,
            "idle_now_seconds": self.idle_now_seconds,
            "idle_by_cause": _enum_map(self.idle_by_cause),
            "removed_reason": self.removed_reason,
            "removed_cause": self.removed_cause.value if self.removed_cause is not None else "",
            "running_tasks": self.running_tasks,
            "cached_blocks": self.cached_blocks,
            "requested_memory": _enum_map(self.requested_memory),
            "peak_memory": dict(self.peak_memory),
            "peak_memory_by_area": _enum_map(self.peak_memory_by_area),
            "profile_id": self.profile_id,
        }


@dataclass(frozen=True, slots=True)
class CoreFigures:
    """The app's core ledger: allocated, busy and idle core-seconds, and idle time by cause."""

    allocated_core_seconds: float
    busy_core_seconds: float
    idle_core_seconds: float
    idle_executor_seconds: float
    #: Every cause, summing to ``idle_executor_seconds`` (executor-seconds).
    idle_by_cause: Mapping[IdleCause, float]
    #: Cores of the executors alive now (0 once the app ended).
    cores_active: int
    #: Idle core-seconds by cause (each idle executor-second x the executor's cores); the rest of
    #: ``idle_core_seconds`` is cores left free while the executor ran tasks.
    idle_core_seconds_by_cause: Mapping[IdleCause, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LostRdd:
    """What one removal lost of one RDD."""

    rdd_id: int
    name: str
    callsite: str
    first_stage: str
    blocks: int
    memory_bytes: int
    disk_bytes: int


@dataclass(frozen=True, slots=True)
class Loss:
    """One executor removal that lost cached data (the last replica of at least one block)."""

    exec_id: str
    time_ms: int
    cause: RemovalCause
    reason: str
    blocks: int
    bytes: int
    rdds: tuple[LostRdd, ...]

    def to_json(self) -> dict[str, Any]:
        """The loss as in the report's ``losses``."""
        return {
            "exec_id": self.exec_id,
            "time_ms": self.time_ms,
            "cause": self.cause.value,
            "reason": self.reason,
            "blocks": self.blocks,
            "bytes": self.bytes,
            "rdds": [
                {
                    "rdd_id": r.rdd_id,
                    "name": r.name,
                    "callsite": r.callsite,
                    "first_stage": r.first_stage,
                    "blocks": r.blocks,
                    "memory_bytes": r.memory_bytes,
                    "disk_bytes": r.disk_bytes,
                }
                for r in self.rdds
            ],
        }


@dataclass(frozen=True, slots=True)
class CacheFigures:
    """The app's cache ledger: what is cached now, what was lost, what rebuilding it cost.

    With ``estimated`` (an event log without block updates) the lost and recomputed figures are the
    task-based estimate of docs/cache-loss.md and ``blocks_estimated`` the blocks it thinks cached.
    """

    memory_bytes: int
    disk_bytes: int
    blocks: int
    lost_blocks: int
    lost_bytes: int
    #: Removal cause → (blocks, bytes) lost.
    lost_by_cause: Mapping[RemovalCause, tuple[int, int]]
    replicas_lost: int
    migrated_blocks: int
    recomputed_blocks: int
    recompute_seconds: float
    estimated: bool
    blocks_estimated: int | None = None


@dataclass(frozen=True, slots=True)
class UncachedReuse:
    """A lineage computed more than once without a cache."""

    callsite: str
    times: int
    repeat_task_seconds: float


@dataclass(frozen=True, slots=True)
class Finding:
    """Something worth a person's attention, dated in event time."""

    kind: FindingKind
    time_ms: int
    message: str
    #: Kind-specific details (``exec_id``, ``cause``, ``bytes``...), flattened into the JSON object.
    details: Mapping[str, DetailValue] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The finding as in the report's ``findings``."""
        out: dict[str, Any] = {"kind": self.kind.value, "time_ms": self.time_ms, "message": self.message}
        for key, value in self.details.items():
            out[key] = list(value) if isinstance(value, tuple) else value
        return out


#: One idle stretch drawn in the timeline: (start_ms, end_ms, cause).
IdleSegment = tuple[int, int, IdleCause]


#: One stage span: (stage_id, attempt, name, start_ms, end_ms or None while running, failure).
StageSpan = tuple[int, int, str, int, int | None, str]


@dataclass(frozen=True, slots=True)
class TimelineReport:
    """Bounded series for the HTML report (docs/report-schema.md, ``timeline``)."""

    idle: Mapping[str, tuple[IdleSegment, ...]]
    idle_min_ms: Mapping[str, int]
    cached_bytes: tuple[tuple[int, int], ...]
    stages: tuple[StageSpan, ...]
    stages_dropped: int

    def to_json(self) -> dict[str, Any]:
        """The report's ``timeline`` object."""
        return {
            "idle": {k: [[s, e, c.value] for s, e, c in segs] for k, segs in self.idle.items()},
            "idle_min_ms": dict(self.idle_min_ms),
            "cached_bytes": [list(p) for p in self.cached_bytes],
            "stages": [list(s) for s in self.stages],
            "stages_dropped": self.stages_dropped,
        }


@dataclass(frozen=True, slots=True)
class TaskFigures:
    """Task attempts by how they ended, and their time."""

    success: int
    failed: int
    killed: int
    resubmitted: int
    running: int
    #: Σ (finish - launch) of attempts that ran: Spark's task time.
    run_seconds: float
    cpu_seconds: float
    gc_seconds: float


@dataclass(frozen=True, slots=True)
class RddReport:
    """An RDD that holds cached blocks now."""

    rdd_id: int
    name: str
    callsite: str
    first_stage: str
    cached_blocks: int
    memory_bytes: int
    disk_bytes: int


@dataclass(frozen=True, slots=True)
class ListenerFigures:
    """What the listener told about itself (live; zeros offline)."""

    offered: int
    dropped: int
    processing_seconds: float
    reconnects: int


@dataclass(frozen=True, slots=True)
class Transport:
    """What the agent knows of a live app's stream, beyond its events."""

    events_received: int
    closed_by_timeout: bool
    #: Event-time ranges [from_ms, to_ms] in which events may be missing.
    gaps: tuple[tuple[int, int], ...]
    #: Lines received inside the listener's replays (after each hello): not in ``events_received``.
    events_replayed: int = 0


@dataclass(frozen=True, slots=True)
class BadLineSample:
    """Where one of the first bad lines of an event log was, and why it was bad."""

    part: str
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """How an event log was read (offline only)."""

    name: str
    layout: str
    in_progress: bool
    codecs: tuple[str, ...]
    lines: int
    events: int
    ignored: int
    truncated_last_line: bool
    bytes_compressed: int
    bytes_decompressed: int
    bad_lines: int
    bad_line_samples: tuple[BadLineSample, ...]
    #: Bad lines skipped for being longer than the reader's line limit (docs/fleet.md, "Bad input").
    too_long: int = 0
