"""The typed report model: immutable records out of the analyzer, like Spark's ``api.v1``.

:func:`sparkprobe.analysis.report.build_report` is the one function that makes an
:class:`AppReport`; every output (Prometheus, Pushgateway, text, JSON, HTML, ``Probe.snapshot()``)
reads these records. :meth:`AppReport.to_json` is the only place the report's plain dicts are made;
their shape is docs/report-schema.md (version :data:`REPORT_SCHEMA`, held to this module by a test).

Bounded label sets (idle causes, removal causes, task statuses, finding and advice kinds) are enums,
so a Prometheus label can only take the values declared here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

__all__ = [
    "REPORT_SCHEMA",
    "Advice",
    "AdviceKind",
    "AgentHealth",
    "AppReport",
    "BadLineSample",
    "CacheFigures",
    "CoreFigures",
    "CostFigures",
    "DetailValue",
    "DriverMemory",
    "ExecutorReport",
    "Finding",
    "FindingKind",
    "IdleCause",
    "IncompleteReason",
    "ListenerFigures",
    "Loss",
    "LostRdd",
    "MemoryFigures",
    "MemoryRemoval",
    "PeakArea",
    "PolicyFigures",
    "PolicyRow",
    "RddReport",
    "RemovalCause",
    "RequestArea",
    "SourceInfo",
    "TaskFigures",
    "TaskStatus",
    "TenantKind",
    "TenantReport",
    "TimelineReport",
    "Transport",
    "UncachedReuse",
    "WasteCause",
    "WhatIf",
    "WhatIfRow",
]

#: Version of the JSON report document (docs/report-schema.md): it only grows within a version.
REPORT_SCHEMA = 1


class IdleCause(str, Enum):
    """Why an executor sat idle; the first that applies wins (docs/figures.md)."""

    CACHE_HELD = "cache_held"
    SHUFFLE_HELD = "shuffle_held"
    MIN_EXECUTORS = "min_executors"
    DRIVER_BUSY = "driver_busy"
    UNNEEDED = "unneeded"
    #: A Spark Connect server with no client session open and no stage running (docs/tenants.md).
    NO_SESSION = "no_session"


class RemovalCause(str, Enum):
    """Why an executor went away, classified from Spark's free text (docs/cache-loss.md)."""

    DYNAMIC_ALLOCATION = "dynamic_allocation"
    DECOMMISSION = "decommission"
    FAILURE = "failure"
    #: Out of memory: the JVM (exit 52, OutOfMemoryError) or the container (YARN's or Kubernetes' limit).
    MEMORY = "memory"
    #: Taken back by the cluster manager (YARN preemption, Kubernetes pod deletion or eviction).
    PREEMPTED = "preempted"
    OTHER = "other"


class TaskStatus(str, Enum):
    """How a task attempt ended (``TaskEnd.status``)."""

    SUCCESS = "success"
    FAILED = "failed"
    KILLED = "killed"
    RESUBMITTED = "resubmitted"


class FindingKind(str, Enum):
    """What a finding is about."""

    CACHE_LOST = "cache_lost"
    IDLE_EXECUTOR = "idle_executor"
    IDLE_SHARE = "idle_share"
    UNCACHED_REUSE = "uncached_reuse"


class AdviceKind(str, Enum):
    """Which piece of advice (docs/advice.md)."""

    ENABLE_DYNAMIC_ALLOCATION = "enable_dynamic_allocation"
    CACHE_HELD_TRADEOFF = "cache_held_tradeoff"
    LOWER_MIN_EXECUTORS = "lower_min_executors"
    SHUFFLE_TRACKING_TIMEOUT = "shuffle_tracking_timeout"
    KEEP_STATIC_FOR_BURSTS = "keep_static_for_bursts"
    #: The cheapest policy of the advisor's grid within the wall-time bound (docs/advice.md).
    ALLOCATION_POLICY = "allocation_policy"
    #: Memory (docs/advice.md, "Memory"): one per Spark key, up or down.
    EXECUTOR_MEMORY = "executor_memory"
    EXECUTOR_MEMORY_OVERHEAD = "executor_memory_overhead"
    OFFHEAP_SIZE = "offheap_size"
    PYSPARK_MEMORY = "pyspark_memory"
    DRIVER_MEMORY = "driver_memory"


class IncompleteReason(str, Enum):
    """Why an app's figures may miss events (``incomplete_reasons``)."""

    #: The listener reported events it could not send (queue full, agent unreachable).
    LISTENER_DROPS = "listener_drops"
    #: The agent joined a stream that had been sending to another agent, or events went missing.
    GAPS = "gaps"
    #: The driver disconnected without ``ApplicationEnd``; the agent closed the app itself.
    CLOSED_BY_TIMEOUT = "closed_by_timeout"
    #: The event log has no ``ApplicationEnd`` (still running, crashed, or a Databricks log).
    NO_APPLICATION_END = "no_application_end"
    #: This agent took the app over mid-run (its listener came from another agent, or this agent
    #: restarted): core-seconds, idle, task counts and sums, losses, rebuilds and findings start at
    #: ``figures_from_ms``; executors, their cores and the cached blocks come from the replay.
    TAKEN_OVER = "taken_over"


class RequestArea(str, Enum):
    """What an executor (or the driver) was given, by area (docs/figures.md, "Memory")."""

    HEAP = "heap"
    OVERHEAD = "overhead"
    OFFHEAP = "offheap"
    PYSPARK = "pyspark"
    #: What the cluster manager reserves for it (YARN container, Kubernetes pod limit, Worker memory).
    CONTAINER = "container"


class PeakArea(str, Enum):
    """Where memory was used, from Spark's executor metrics peaks (docs/figures.md, "Memory")."""

    JVM_HEAP = "jvm_heap"
    JVM_OFFHEAP = "jvm_offheap"
    EXECUTION = "execution"
    STORAGE = "storage"
    PROCESS_RSS = "process_rss"
    PYTHON_RSS = "python_rss"
    OTHER_RSS = "other_rss"


class WasteCause(str, Enum):
    """What wasted cost is charged to: the idle causes, and what busy executors held but did not use."""

    CACHE_HELD = "cache_held"
    SHUFFLE_HELD = "shuffle_held"
    MIN_EXECUTORS = "min_executors"
    DRIVER_BUSY = "driver_busy"
    UNNEEDED = "unneeded"
    NO_SESSION = "no_session"
    #: Cores free and memory unused while the executor ran tasks (docs/figures.md, "Cost").
    UNUSED_WHILE_BUSY = "unused_while_busy"


class TenantKind(str, Enum):
    """Who a share of an app's work is attributed to (docs/tenants.md)."""

    #: A Spark Connect session (its jobs carry Connect's operation tag).
    SESSION = "session"
    #: The user of a Spark Connect session (``user_id`` of the client's connection string).
    USER = "user"
    #: A job tag: ``SparkSession.addTag`` (classic or Connect) or ``SparkContext.addJobTag``.
    TAG = "tag"
    #: A job group (``SparkContext.setJobGroup``, ``spark.jobGroup.id``).
    JOB_GROUP = "job_group"
    #: A fair-scheduler pool (``spark.scheduler.pool``).
    POOL = "pool"


#: A finding's kind-specific detail value.
DetailValue = int | float | str | bool | None | tuple[int, ...]


def _enum_map(values: Mapping[Any, Any]) -> dict[str, Any]:
    return {(k.value if isinstance(k, Enum) else k): v for k, v in values.items()}


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


@dataclass(frozen=True, slots=True)
class PolicyFigures:
    """What a run costs under one allocation policy: measured, or predicted by the policy simulator."""

    wall_seconds: float
    allocated_core_seconds: float
    busy_core_seconds: float
    idle_core_seconds: float
    cache_lost_blocks: int
    recompute_seconds: float
    executors_added: int = 0
    peak_executors: int = 0
    #: Allocated core-hours times ``spark.sparkprobe.price.coreHour``; None without a price.
    cost: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The figures as in ``policy_whatif[].predicted`` / ``measured`` and ``advice[].predicted``."""
        out: dict[str, Any] = {
            "wall_seconds": self.wall_seconds,
            "allocated_core_seconds": self.allocated_core_seconds,
            "busy_core_seconds": self.busy_core_seconds,
            "idle_core_seconds": self.idle_core_seconds,
            "cache_lost_blocks": self.cache_lost_blocks,
            "recompute_seconds": self.recompute_seconds,
            "executors_added": self.executors_added,
            "peak_executors": self.peak_executors,
        }
        if self.cost is not None:
            out["cost"] = self.cost
        return out


@dataclass(frozen=True, slots=True)
class PolicyRow:
    """One policy of the what-if (docs/advice.md): its Spark keys and what the simulator predicts.

    The first row of a report's ``policy_whatif`` is the recorded run (``baseline``): its
    ``measured`` figures, and the simulator's replay of its own policy (the model's check).
    """

    conf: Mapping[str, str]
    predicted: PolicyFigures | None
    baseline: bool = False
    measured: PolicyFigures | None = None
    #: The advisor's choice among its grid (on the baseline row when no candidate beats it).
    recommended: bool = False
    #: Why this policy could not be predicted (Spark would refuse it, or the run cannot be replayed).
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        """The row as in the report's ``policy_whatif``."""
        out: dict[str, Any] = {
            "conf": dict(self.conf),
            "predicted": self.predicted.to_json() if self.predicted is not None else None,
            "baseline": self.baseline,
            "recommended": self.recommended,
        }
        if self.measured is not None:
            out["measured"] = self.measured.to_json()
        if self.error:
            out["error"] = self.error
        return out


@dataclass(frozen=True, slots=True)
class Advice:
    """A recommendation in Spark's own configuration keys, with its evidence and estimated saving.

    ``conf`` is the complete policy to run with (its prerequisites included) and ``predicted`` what
    the policy simulator predicts under it, when the advice is an allocation policy it could replay.
    """

    kind: AdviceKind
    settings: Mapping[str, str]
    message: str
    evidence: Mapping[str, float]
    saving_core_hours: float
    #: Spark key → suggested value (the keys of ``settings`` when empty: the core advice's).
    conf: Mapping[str, str] = field(default_factory=dict)
    #: What the policy simulator predicts under ``conf`` (allocation advice it could replay).
    predicted: PolicyFigures | None = None
    #: The estimated saving: ``core_hours``, ``gib_hours`` (negative: the advice costs more, as
    #: raising memory after an out-of-memory loss does) and, with prices, ``cost``.
    saving: Mapping[str, float] = field(default_factory=dict)
    #: How likely the change is to hurt the job: ``low``, ``medium``, ``high`` (memory advice).
    risk: str = ""

    def to_json(self) -> dict[str, Any]:
        """The advice as in the report's ``advice``."""
        return {
            "kind": self.kind.value,
            "settings": dict(self.settings),
            "message": self.message,
            "evidence": dict(self.evidence),
            "saving_core_hours": self.saving_core_hours,
            "conf": dict(self.conf or self.settings),
            "predicted": self.predicted.to_json() if self.predicted is not None else None,
            "saving": dict(self.saving) if self.saving else {"core_hours": self.saving_core_hours},
            "risk": self.risk,
        }


@dataclass(frozen=True, slots=True)
class WhatIfRow:
    """The replay's estimate at one static executor count."""

    executors: int
    est_wall_seconds: float
    est_allocated_core_seconds: float


@dataclass(frozen=True, slots=True)
class WhatIf:
    """The measured stages replayed with other static executor counts (docs/advice.md)."""

    measured_wall_seconds: float
    measured_avg_executors: float
    driver_seconds: float
    #: None when no executor core was alive during the busy periods (nothing to check the model at).
    model_wall_seconds_at_measured: float | None
    model_error: float | None
    executor_cores: int
    rows: tuple[WhatIfRow, ...]

    def to_json(self) -> dict[str, Any]:
        """The report's ``what_if`` object."""
        return {
            "measured_wall_seconds": self.measured_wall_seconds,
            "measured_avg_executors": self.measured_avg_executors,
            "driver_seconds": self.driver_seconds,
            "model_wall_seconds_at_measured": self.model_wall_seconds_at_measured,
            "model_error": self.model_error,
            "executor_cores": self.executor_cores,
            "rows": [
                {
                    "executors": r.executors,
                    "est_wall_seconds": r.est_wall_seconds,
                    "est_allocated_core_seconds": r.est_allocated_core_seconds,
                }
                for r in self.rows
            ],
        }


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


@dataclass(frozen=True, slots=True)
class MemoryRemoval:
    """An executor removed for memory, and which area ran out (docs/figures.md, "Memory")."""

    exec_id: str
    time_ms: int
    #: ``heap`` (OutOfMemoryError, exit 52), ``offheap`` (direct buffers), ``jvm_offheap``
    #: (metaspace), ``container`` (the cluster manager's limit: YARN, Kubernetes ``OOMKilled``).
    area: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        """The removal as in ``memory.memory_removals``."""
        return {"exec_id": self.exec_id, "time_ms": self.time_ms, "area": self.area, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class DriverMemory:
    """The driver's memory: what it was given and its peaks (from its own heartbeats)."""

    requested: Mapping[RequestArea, int]
    peak: Mapping[PeakArea, int | None]
    #: As Spark names them; empty when the driver's metrics were not seen.
    peak_metrics: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class MemoryFigures:
    """The app's memory ledger (docs/figures.md, "Memory"); bytes and byte-seconds.

    ``available`` is False when no executor reported its memory (the log predates Spark 3.0, or
    its executors never sent a peak): the peaks are then None and ``unused_busy_byte_seconds`` is
    None, never a zero that would read as "nothing used".
    """

    available: bool
    cluster_manager: str
    #: What one executor of the default resource profile is given.
    requested: Mapping[RequestArea, int]
    #: Summed over the executors alive now (0 once the app ended).
    requested_active: Mapping[RequestArea, int]
    #: The largest of the executors' peaks, per area; None where no executor measured it.
    peak: Mapping[PeakArea, int | None]
    allocated_byte_seconds: float
    idle_byte_seconds: float
    idle_by_cause_byte_seconds: Mapping[IdleCause, float]
    #: (container - peak footprint) x time running tasks, over the measured executors.
    unused_busy_byte_seconds: float | None
    memory_removals: tuple[MemoryRemoval, ...]
    driver: DriverMemory
    executors_measured: int
    #: Executors that ran a task (the ones a peak can be expected of).
    executors_busy: int
    #: Some executor reported process-tree RSS (``spark.executor.processTreeMetrics.enabled``).
    process_tree: bool
    #: Why a figure is missing or thin, in words.
    notes: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The app's ``memory`` object."""
        return {
            "available": self.available,
            "cluster_manager": self.cluster_manager,
            "requested": _enum_map(self.requested),
            "requested_active": _enum_map(self.requested_active),
            "peak": _enum_map(self.peak),
            "allocated_byte_seconds": self.allocated_byte_seconds,
            "idle_byte_seconds": self.idle_byte_seconds,
            "idle_by_cause_byte_seconds": _enum_map(self.idle_by_cause_byte_seconds),
            "unused_busy_byte_seconds": self.unused_busy_byte_seconds,
            "memory_removals": [r.to_json() for r in self.memory_removals],
            "driver": {
                "requested": _enum_map(self.driver.requested),
                "peak": _enum_map(self.driver.peak),
                "peak_memory": dict(self.driver.peak_metrics),
            },
            "executors_measured": self.executors_measured,
            "executors_busy": self.executors_busy,
            "process_tree": self.process_tree,
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class CostFigures:
    """Money: the ledgers x the user's prices (docs/figures.md, "Cost"). Never made without a price."""

    price_core_hour: float | None
    price_gib_hour: float | None
    #: ``cores`` and ``memory`` (only the resources with a price).
    by_resource: Mapping[str, float]
    total: float
    wasted_by_cause: Mapping[WasteCause, float]
    wasted: float

    def to_json(self) -> dict[str, Any]:
        """The app's ``cost`` object."""
        return {
            "price_core_hour": self.price_core_hour,
            "price_gib_hour": self.price_gib_hour,
            "by_resource": dict(self.by_resource),
            "total": self.total,
            "wasted_by_cause": _enum_map(self.wasted_by_cause),
            "wasted": self.wasted,
        }


@dataclass(frozen=True, slots=True)
class TenantReport:
    """One tenant's share of an app (docs/tenants.md); ``id`` ``other`` is the fold, ``none`` the rest.

    ``start_ms``/``end_ms`` are a session's start and close (None when not seen, and for other kinds).
    """

    kind: TenantKind
    id: str
    user: str
    task_seconds: float
    busy_core_seconds: float
    cache_lost_bytes: int
    recompute_seconds: float
    cached_bytes: int
    start_ms: int | None = None
    end_ms: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The tenant as an element of the report's ``tenants``."""
        return {
            "kind": self.kind.value,
            "id": self.id,
            "user": self.user,
            "task_seconds": self.task_seconds,
            "busy_core_seconds": self.busy_core_seconds,
            "cache_lost_bytes": self.cache_lost_bytes,
            "recompute_seconds": self.recompute_seconds,
            "cached_bytes": self.cached_bytes,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
        }


@dataclass(frozen=True, slots=True)
class AppReport:
    """Everything sparkprobe reports about one application (docs/report-schema.md, "App").

    Built by :func:`sparkprobe.analysis.report.build_report` only. A headline report (``detail``
    False, what a scrape or a push needs) has no ``executors``, ``timeline``, ``what_if`` nor
    ``advice``.
    """

    app_id: str
    #: ``App Attempt ID`` (YARN and Kubernetes cluster mode retry the driver); empty when none.
    attempt_id: str
    app_name: str
    user: str
    spark_version: str
    start_ms: int
    end_ms: int | None
    dynamic_allocation: bool | None
    executors_added: int
    executors_removed: int
    removed_by_reason: Mapping[RemovalCause, int]
    executors_active: int
    executors_idle: int
    executor_idle_max_seconds: float
    cores: CoreFigures
    cache: CacheFigures
    losses: tuple[Loss, ...]
    uncached_reuse: tuple[UncachedReuse, ...]
    uncached_recompute_seconds: float
    findings: tuple[Finding, ...]
    findings_by_kind: Mapping[FindingKind, int]
    tasks: TaskFigures
    jobs_started: int
    jobs_finished: int
    stages_completed: int
    stages_failed: int
    rdds: tuple[RddReport, ...]
    listener: ListenerFigures
    over_limit: Mapping[str, int]
    incomplete_reasons: tuple[IncompleteReason, ...]
    detail: bool
    executors: tuple[ExecutorReport, ...] = ()
    timeline: TimelineReport | None = None
    what_if: WhatIf | None = None
    advice: tuple[Advice, ...] = ()
    #: Live apps only.
    transport: Transport | None = None
    #: Event logs only.
    source: SourceInfo | None = None
    #: The policy what-if (docs/advice.md): the recorded run first, then the asked-for policies.
    policy_whatif: tuple[PolicyRow, ...] = ()
    #: Why there is no policy what-if ("" when there is one, or when the report has no detail).
    policy_whatif_unavailable: str = ""
    #: The memory ledger (headline reports too: /metrics shows it).
    memory: MemoryFigures | None = None
    #: Only when the user gave a price (``--price-core-hour``, ``spark.sparkprobe.price.*``).
    cost: CostFigures | None = None
    #: Per-tenant shares (sessions, users, tags, job groups, pools: docs/tenants.md), headline too.
    tenants: tuple[TenantReport, ...] = ()
    #: Kind → distinct tenants folded into ``other`` past ``--max-tenants``.
    tenants_folded: Mapping[TenantKind, int] = field(default_factory=dict)
    #: When this agent took the app over mid-run: the event time its time-integrated figures start
    #: at (``IncompleteReason.TAKEN_OVER``); None when they cover the whole app.
    figures_from_ms: int | None = None
    #: ``spark.yarn.queue``, else ``spark.kubernetes.namespace``; empty when the conf names neither.
    queue: str = ""

    @property
    def running(self) -> bool:
        """No ``ApplicationEnd`` seen (yet)."""
        return self.end_ms is None

    @property
    def incomplete(self) -> bool:
        """The figures miss events (``incomplete_reasons`` says why)."""
        return bool(self.incomplete_reasons)

    @property
    def bad_lines(self) -> int:
        """Lines of the event log that could not be used (0 live)."""
        return self.source.bad_lines if self.source is not None else 0

    def to_json(self) -> dict[str, Any]:
        """The app as one element of the JSON report's ``apps`` (docs/report-schema.md)."""
        c, k, t = self.cores, self.cache, self.tasks
        out: dict[str, Any] = {
            "app_id": self.app_id,
            "attempt_id": self.attempt_id,
            "app_name": self.app_name,
            "user": self.user,
            "spark_version": self.spark_version,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "running": self.running,
            "dynamic_allocation": self.dynamic_allocation,
            "executors_added": self.executors_added,
            "executors_removed": self.executors_removed,
            "removed_by_reason": _enum_map(self.removed_by_reason),
            "executors_active": self.executors_active,
            "executors_idle": self.executors_idle,
            "executor_idle_max_seconds": self.executor_idle_max_seconds,
            "cores_active": c.cores_active,
            "allocated_core_seconds": c.allocated_core_seconds,
            "busy_core_seconds": c.busy_core_seconds,
            "idle_core_seconds": c.idle_core_seconds,
            "idle_executor_seconds": c.idle_executor_seconds,
            "idle_by_cause": _enum_map(c.idle_by_cause),
            "cached_bytes": {"memory": k.memory_bytes, "disk": k.disk_bytes},
            "cached_blocks": k.blocks,
            "cache_lost_blocks": k.lost_blocks,
            "cache_lost_bytes": k.lost_bytes,
            "cache_lost_by_cause": {cause.value: list(v) for cause, v in k.lost_by_cause.items()},
            "cache_replicas_lost": k.replicas_lost,
            "cache_migrated_blocks": k.migrated_blocks,
            "cache_recomputed_blocks": k.recomputed_blocks,
            "cache_recompute_seconds": k.recompute_seconds,
            "cache_estimated": k.estimated,
            "losses": [loss.to_json() for loss in self.losses],
            "uncached_reuse": [
                {"callsite": u.callsite, "times": u.times, "repeat_task_seconds": u.repeat_task_seconds}
                for u in self.uncached_reuse
            ],
            "uncached_recompute_seconds": self.uncached_recompute_seconds,
            "findings": [f.to_json() for f in self.findings],
            "findings_by_kind": _enum_map(self.findings_by_kind),
            "advice": [a.to_json() for a in self.advice],
            "what_if": self.what_if.to_json() if self.what_if is not None else {},
            "policy_whatif": [row.to_json() for row in self.policy_whatif],
            "policy_whatif_unavailable": self.policy_whatif_unavailable,
            "bad_lines": self.bad_lines,
            "incomplete": self.incomplete,
            "incomplete_reasons": [r.value for r in self.incomplete_reasons],
            "tasks": {
                "success": t.success,
                "failed": t.failed,
                "killed": t.killed,
                "resubmitted": t.resubmitted,
                "running": t.running,
                "run_seconds": t.run_seconds,
                "cpu_seconds": t.cpu_seconds,
                "gc_seconds": t.gc_seconds,
            },
            "jobs": {"started": self.jobs_started, "finished": self.jobs_finished},
            "stages": {"completed": self.stages_completed, "failed": self.stages_failed},
            "rdds": {
                str(r.rdd_id): {
                    "name": r.name,
                    "callsite": r.callsite,
                    "first_stage": r.first_stage,
                    "cached_blocks": r.cached_blocks,
                    "memory_bytes": r.memory_bytes,
                    "disk_bytes": r.disk_bytes,
                }
                for r in self.rdds
            },
            "listener": {
                "offered": self.listener.offered,
                "dropped": self.listener.dropped,
                "processing_seconds": self.listener.processing_seconds,
                "reconnects": self.listener.reconnects,
            },
            "over_limit": dict(self.over_limit),
            "executors": {e.exec_id: e.to_json() for e in self.executors},
            "timeline": self.timeline.to_json() if self.timeline is not None else {},
            "memory": self.memory.to_json() if self.memory is not None else {},
            "cost": self.cost.to_json() if self.cost is not None else None,
            "tenants": [t.to_json() for t in self.tenants],
            "tenants_folded": _enum_map(self.tenants_folded),
            "figures_from_ms": self.figures_from_ms,
            "queue": self.queue,
        }
        if k.blocks_estimated is not None:
            out["cached_blocks_estimated"] = k.blocks_estimated
        if self.transport is not None:
            out["events_received"] = self.transport.events_received
            out["closed_by_timeout"] = self.transport.closed_by_timeout
            out["gaps"] = [list(g) for g in self.transport.gaps]
            out["events_replayed"] = self.transport.events_replayed
        if self.source is not None:
            s = self.source
            out["source"] = {
                "name": s.name,
                "layout": s.layout,
                "in_progress": s.in_progress,
                "codecs": list(s.codecs),
                "lines": s.lines,
                "events": s.events,
                "ignored": s.ignored,
                "truncated_last_line": s.truncated_last_line,
                "bytes_compressed": s.bytes_compressed,
                "bytes_decompressed": s.bytes_decompressed,
                "bad_line_samples": [{"part": b.part, "line": b.line, "reason": b.reason} for b in s.bad_line_samples],
                "too_long": s.too_long,
            }
        return out


@dataclass(frozen=True, slots=True)
class AgentHealth:
    """The agent's own figures (its self-metrics, as node_exporter reports its scrapes and losses)."""

    #: Lines the agent could not use, by reason (``json``, ``schema``, ``unknown_kind``, ``too_long``).
    bad_lines: Mapping[str, int]
    #: Connections refused at the hello, by reason.
    rejected: Mapping[str, int]
    connections_open: int
    connections_total: int
    apps_held: int
    apps_over_limit: int
    #: Failed TLS handshakes on the event port; None when the port is plain TCP.
    tls_handshake_failures: int | None
