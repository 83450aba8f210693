"""AppState: the pure analyzer of one Spark application.

Events in (``sparkprobe.events``), figures and findings out. No sockets, files, clocks or logging
here (invariant 4): the only notion of time is the events' own timestamps, and the caller passes
``now_ms`` when it wants an open interval of a still-running app measured.

Memory is bounded (invariant 3): state is kept per executor, per RDD and per cached block, plus the
tasks that are running right now; a finished task leaves only sums behind.

How each figure is computed is documented in docs/figures.md; keep the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sparkprobe.analysis.advice import advise, what_if
from sparkprobe.analysis.causes import classify_removal
from sparkprobe.analysis.timeline import Timeline
from sparkprobe.events import (
    AppEnd,
    AppStart,
    BlockManagerAdded,
    BlockManagerRemoved,
    BlockUpdated,
    Conf,
    Event,
    ExecutorAdded,
    ExecutorRemoved,
    JobEnd,
    JobStart,
    ListenerStats,
    RddInfo,
    StageCompleted,
    StageSubmitted,
    TaskEnd,
    TaskStart,
    UnpersistRDD,
)

__all__ = ["IDLE_CAUSES", "TASK_STATUSES", "AppState", "Limits"]

#: Every idle cause, in the order they are tried (the first that applies wins).
IDLE_CAUSES: tuple[str, ...] = (
    "cache_held",
    "shuffle_held",
    "min_executors",
    "driver_busy",
    "unneeded",
)
#: Every ``TaskEnd.status``; bounded label set.
TASK_STATUSES: tuple[str, ...] = ("success", "failed", "killed", "resubmitted")

#: How many findings an app keeps in full; older ones are dropped (their count is kept by kind).
_MAX_FINDINGS = 500
#: Completed stages kept for the what-if replay.
_MAX_STAGE_ROWS = 20_000


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps that keep one app's state (and its Prometheus series) bounded.

    What goes past a cap is not tracked, and counted in :attr:`AppState.over_limit`.
    """

    max_executors: int = 10_000
    max_rdds: int = 10_000
    max_blocks: int = 1_000_000
    max_running_tasks: int = 1_000_000
    #: An executor idle longer than this (seconds) while the app runs is a finding.
    idle_threshold_s: float = 60.0
    #: An app whose idle share of allocated core-seconds ends at or above this is a finding.
    idle_share: float = 0.5


@dataclass(slots=True)
class _Executor:
    exec_id: str
    host: str
    cores: int
    added_ms: int
    removed_ms: int | None = None
    removed_reason: str = ""
    removed_cause: str = ""
    running: int = 0
    busy_until: int = 0
    # Busy core-time, integrated over event time: at each instant min(task_cpus x tasks running, cores)
    # cores are busy. Driver-side timestamps overlap (a task's finish is stamped when its result is
    # fetched, after the next task on that core was launched), so summing spans could exceed the
    # executor's cores; this never does.
    busy_core_ms: int = 0
    busy_mark: int = 0  # event time up to which busy_core_ms is integrated (the count is `running`)
    # Tasks that ended without a start seen (registered late, start dropped): their spans, capped later.
    untracked_core_ms: int = 0
    idle_ms: int = 0
    # The open idle stretch: since when, and the segment of it attributed to one cause.
    idle_since: int | None = None
    seg_start: int = 0
    seg_cause: str = ""
    idle_by_cause: dict[str, int] = field(default_factory=dict)
    idle_finding_for: int | None = None
    cached_blocks: int = 0
    wrote_shuffle: bool = False


@dataclass(slots=True)
class _Rdd:
    name: str = ""
    callsite: str = ""
    scope: str = ""
    #: Name of the first stage that used it: for PySpark the RDD's own callsite is internal
    #: ("RDD at PythonRDD.scala:53"), the stage name says where the user's action was.
    first_stage: str = ""
    partitions: int = 0
    replication: int = 1
    cached_blocks: int = 0
    mem_bytes: int = 0
    disk_bytes: int = 0


@dataclass(slots=True)
class _RunningTask:
    exec_id: str
    launch: int
    stage_key: tuple[int, int]
    partition: int
    rebuilds: int = 0


def _block_rdd_partition(block_id: str) -> tuple[int, int] | None:
    """``rdd_12_3`` → (12, 3); anything else → None."""
    parts = block_id.split("_")
    if len(parts) != 3 or parts[0] != "rdd":
        return None
    try:
        return int(parts[1]), int(parts[2])
    except ValueError:
        return None


def _as_bool(value: str | None) -> bool | None:
    if value is None:
        return None
    return value.strip().lower() == "true"


def _as_int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


class AppState:
    """Everything sparkprobe knows about one application, updated one event at a time."""

    def __init__(self, app_id: str = "", limits: Limits | None = None) -> None:
        """Start empty; ``app_id`` is replaced by the one in ``AppStart`` when it comes."""
        self.limits = limits or Limits()
        self.app_id = app_id
        self.app_name = ""
        self.user = ""
        self.spark_version = ""
        self.start_ms = 0
        self.end_ms: int | None = None
        self.conf: dict[str, str] = {}
        #: Latest event time seen; dates block updates, which Spark sends without a timestamp.
        self.last_time = 0

        self._executors: dict[str, _Executor] = {}
        self._active_count = 0
        self.executors_added = 0
        self.executors_removed = 0
        self.removed_by_reason: dict[str, int] = {}

        self._running: dict[int, _RunningTask] = {}
        self.tasks_by_status: dict[str, int] = {s: 0 for s in TASK_STATUSES}
        self.task_run_ms = 0
        self.task_cpu_ns = 0
        self.task_gc_ms = 0
        self.shuffle_read_bytes = 0
        self.shuffle_write_bytes = 0
        self.spilled_bytes = 0
        self.input_bytes = 0
        self.output_bytes = 0

        self._stage_rdds: dict[tuple[int, int], frozenset[int]] = {}
        # Uncached reuse: stage lineage signature → [times computed, repeat task ms, stage name].
        self._stage_sig: dict[tuple[int, int], tuple[Any, ...] | None] = {}
        self._stage_task_ms: dict[tuple[int, int], int] = {}
        self._lineages: dict[tuple[Any, ...], list[Any]] = {}
        # Stage id → the callsite of the job that submitted it (while the job runs).
        self._stage_callsite: dict[int, str] = {}
        self._job_stages: dict[int, tuple[int, ...]] = {}
        self.uncached_recompute_ms = 0
        self._active_stages: set[tuple[int, int]] = set()
        # Per stage attempt while it runs: [tasks, Σ task ms, max task ms]; then one row per
        # completed stage [start, end, tasks, Σ ms, max ms] for the what-if (capped).
        self._stage_tasks: dict[tuple[int, int], list[int]] = {}
        self._stage_start: dict[tuple[int, int], int] = {}
        self.completed_stages: list[list[int]] = []
        self.jobs_started = 0
        self.jobs_finished = 0
        self.stages_completed = 0
        self.stages_failed = 0

        # The block map: block id → {executor id → (memory bytes, disk bytes)}.
        self._blocks: dict[str, dict[str, tuple[int, int]]] = {}
        self._blocks_by_exec: dict[str, set[str]] = {}
        self._rdds: dict[int, _Rdd] = {}
        self.cached_mem_bytes = 0
        self.cached_disk_bytes = 0
        self.cached_block_replicas = 0

        # Cache loss.
        self._lost_blocks: set[str] = set()
        self._blocks_gone_early: dict[str, int] = {}
        # Without block updates (event logs written without logBlockUpdates) the block map is
        # estimated from tasks: a successful task of a stage that persists RDD r, on partition p,
        # is taken to have cached (r, p) on its executor. Reported only when no update was seen.
        self.block_updates_seen = False
        self._stage_persisted: dict[tuple[int, int], tuple[int, ...]] = {}
        self._est_blocks: dict[tuple[int, int], str] = {}
        self._est_by_exec: dict[str, set[tuple[int, int]]] = {}
        self._est_lost: set[tuple[int, int]] = set()
        self.est_lost_blocks = 0
        self.est_lost_by_cause: dict[str, list[int]] = {}
        self.est_recomputed_blocks = 0
        self.est_recompute_ms = 0
        self.cache_lost_blocks = 0
        self.cache_lost_bytes = 0
        self.cache_lost_by_cause: dict[str, list[int]] = {}
        self.cache_replicas_lost = 0
        self.cache_migrated_blocks = 0
        self.cache_recomputed_blocks = 0
        self.cache_recompute_ms = 0
        self.cache_recomputed_unattributed = 0
        self.losses: list[dict[str, Any]] = []

        self.timeline = Timeline()
        self.findings: list[dict[str, Any]] = []
        self.findings_by_kind: dict[str, int] = {}
        self._new_findings: list[dict[str, Any]] = []

        # What the listener told about itself (cumulative) and what we could not track.
        self.listener_offered = 0
        self.listener_dropped = 0
        self.listener_processing_ns = 0
        self.listener_reconnects = 0
        self.over_limit: dict[str, int] = {}
        self.events = 0

    # ------------------------------------------------------------------ conf-derived settings
    @property
    def dynamic_allocation(self) -> bool | None:
        """``spark.dynamicAllocation.enabled`` when the app's conf is known, else None."""
        return _as_bool(self.conf.get("spark.dynamicAllocation.enabled"))

    @property
    def idle_threshold_ms(self) -> int:
        """``spark.sparkprobe.idleThreshold`` of the app (a Spark duration), else the agent's limit."""
        from sparkprobe.analysis.advice import spark_seconds

        seconds = spark_seconds(self.conf.get("spark.sparkprobe.idleThreshold"), self.limits.idle_threshold_s)
        return int(seconds * 1000)

    @property
    def task_cpus(self) -> int:
        """``spark.task.cpus`` (default 1): cores one running task occupies."""
        return max(1, _as_int(self.conf.get("spark.task.cpus")) or 1)

    @property
    def min_executors(self) -> int:
        """``spark.dynamicAllocation.minExecutors`` (default 0)."""
        return _as_int(self.conf.get("spark.dynamicAllocation.minExecutors")) or 0

    @property
    def shuffle_tracking(self) -> bool:
        """Whether executors with shuffle output are kept: shuffle tracking on, no external service."""
        tracking = _as_bool(self.conf.get("spark.dynamicAllocation.shuffleTracking.enabled"))
        service = _as_bool(self.conf.get("spark.shuffle.service.enabled"))
        return bool(tracking) and not service

    # ------------------------------------------------------------------ feeding
    def apply(self, event: Event) -> None:
        """Update the state with one event."""
        self.events += 1
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    def take_new_findings(self) -> list[dict[str, Any]]:
        """Findings made since the last call (for exporters that log them as they happen)."""
        new, self._new_findings = self._new_findings, []
        return new

    def _tick(self, time: int) -> None:
        if time > self.last_time:
            self.last_time = time

    def _over(self, what: str) -> None:
        self.over_limit[what] = self.over_limit.get(what, 0) + 1

    def _finding(self, kind: str, time: int, message: str, **details: Any) -> None:
        finding = {"kind": kind, "time_ms": time, "message": message, **details}
        self.findings_by_kind[kind] = self.findings_by_kind.get(kind, 0) + 1
        self.findings.append(finding)
        if len(self.findings) > _MAX_FINDINGS:
            del self.findings[0]
        self._new_findings.append(finding)

    def _on_app_start(self, e: AppStart) -> None:
        self.app_id = e.app_id or self.app_id
        self.app_name = e.app_name
        self.user = e.user
        self.spark_version = e.spark_version or self.spark_version
        self.start_ms = e.time
        self._tick(e.time)

    def _on_app_end(self, e: AppEnd) -> None:
        self._tick(e.time)
        self.end_ms = e.time
        for exec_id, time in sorted(self._blocks_gone_early.items()):
            self._drop_executor_blocks(exec_id, time, "other", "")
        self._blocks_gone_early.clear()
        self._settle_removed_tasks(None)
        execs = self.executor_figures(e.time)
        allocated = sum(x["cores"] * x["lifetime_seconds"] for x in execs.values())
        busy = sum(x["busy_core_seconds"] for x in execs.values())
        if allocated > 0 and (allocated - busy) / allocated >= self.limits.idle_share:
            self._finding(
                "idle_share",
                e.time,
                f"executors sat idle {(allocated - busy) / allocated:.0%} of {allocated:,.0f} allocated core-seconds",
                idle_share=round((allocated - busy) / allocated, 4),
                allocated_core_seconds=round(allocated, 3),
            )
        for ex in self._executors.values():
            if ex.removed_ms is None:
                self._check_idle_finding(ex, e.time)
                self._close_idle(ex, e.time)

    def _on_conf(self, e: Conf) -> None:
        self.conf.update(e.props)

    # ------------------------------------------------------------------ executors and idle time
    def _on_executor_added(self, e: ExecutorAdded) -> None:
        self._tick(e.time)
        known = self._executors.get(e.exec_id)
        if known is not None and (known.removed_ms is None or known.added_ms == e.time):
            # Announced again: attach replays the live executors, and the listener repeats them after
            # every hello (for an agent restarted mid-app). Keep the first; a replay of one already
            # removed (same id, same add time) must not bring it back.
            return
        if known is None and len(self._executors) >= self.limits.max_executors:
            self._over("executors")
            return
        self.executors_added += 1
        self._active_count += 1
        ex = _Executor(e.exec_id, e.host, e.cores, e.time, busy_until=e.time, busy_mark=e.time)
        self._executors[e.exec_id] = ex
        self._open_idle(ex, e.time)
        self._floor_changed(e.time)

    def _on_executor_removed(self, e: ExecutorRemoved) -> None:
        self._tick(e.time)
        ex = self._executors.get(e.exec_id)
        if ex is None or ex.removed_ms is not None:
            return
        cause = classify_removal(e.reason, self.dynamic_allocation)
        self.executors_removed += 1
        self._active_count -= 1
        self.removed_by_reason[cause] = self.removed_by_reason.get(cause, 0) + 1
        ex.removed_reason = e.reason
        ex.removed_cause = cause
        if not ex.running:
            self._check_idle_finding(ex, e.time)
            self._close_idle(ex, e.time)
        # Tasks still running on it end with it: Spark posts their TaskEnd (ExecutorLostFailure)
        # right after, with a finish time that may fall a little before the removal; the time
        # between is idle. _settle_removed_tasks covers a TaskEnd that never comes.
        ex.removed_ms = max(e.time, ex.added_ms)
        self._blocks_gone_early.pop(e.exec_id, None)
        self._drop_executor_blocks(e.exec_id, e.time, cause, e.reason)
        self._estimate_loss(e.exec_id, cause)
        self._floor_changed(e.time)

    def _on_block_manager_added(self, e: BlockManagerAdded) -> None:
        self._tick(e.time)

    def _on_block_manager_removed(self, e: BlockManagerRemoved) -> None:
        self._tick(e.time)
        if not self._blocks_by_exec.get(e.exec_id):
            return
        ex = self._executors.get(e.exec_id)
        if ex is not None and ex.removed_ms is None:
            # Spark may post BlockManagerRemoved just before ExecutorRemoved (seen on 3.5): keep
            # the blocks until the removal says why, so the loss gets its cause (and a
            # decommission its migrations). App end settles any that never got one.
            self._blocks_gone_early[e.exec_id] = e.time
            return
        self._drop_executor_blocks(e.exec_id, e.time, "other", "")

    def _idle_cause(self, ex: _Executor) -> str:
        if self.dynamic_allocation:
            if ex.cached_blocks > 0:
                return "cache_held"
            if ex.wrote_shuffle and self.shuffle_tracking:
                return "shuffle_held"
            if self.active_executors() <= self.min_executors:
                return "min_executors"
        if not self._active_stages:
            return "driver_busy"
        return "unneeded"

    def _open_idle(self, ex: _Executor, time: int) -> None:
        ex.idle_since = time
        ex.seg_start = time
        ex.seg_cause = self._idle_cause(ex)

    def _close_idle(self, ex: _Executor, time: int) -> None:
        if ex.idle_since is None:
            return
        end = max(time, ex.idle_since)
        ex.idle_ms += end - ex.idle_since
        seg_end = max(end, ex.seg_start)
        ex.idle_by_cause[ex.seg_cause] = ex.idle_by_cause.get(ex.seg_cause, 0) + seg_end - ex.seg_start
        self.timeline.idle_segment(ex.exec_id, ex.seg_start, seg_end, ex.seg_cause)
        ex.idle_since = None

    def _resegment(self, ex: _Executor, time: int) -> None:
        """Start a new cause segment of an open idle stretch if the cause has changed."""
        if ex.idle_since is None or ex.removed_ms is not None:
            return
        cause = self._idle_cause(ex)
        if cause != ex.seg_cause:
            at = max(time, ex.seg_start)
            ex.idle_by_cause[ex.seg_cause] = ex.idle_by_cause.get(ex.seg_cause, 0) + at - ex.seg_start
            self.timeline.idle_segment(ex.exec_id, ex.seg_start, at, ex.seg_cause)
            ex.seg_start = at
            ex.seg_cause = cause

    def _floor_changed(self, time: int) -> None:
        """The active count moved: only a crossing of the minExecutors floor changes causes."""
        if self.dynamic_allocation and abs(self._active_count - self.min_executors) <= 1:
            self._resegment_all(time)

    def _resegment_all(self, time: int) -> None:
        for ex in self._executors.values():
            self._resegment(ex, time)

    def _check_idle_finding(self, ex: _Executor, time: int) -> None:
        """An idle stretch that reaches the threshold while the app runs is a finding, once.

        The finding is dated at the instant the threshold was crossed, so a live check (at any
        later scrape) and the offline pass (at the stretch's end) make the identical finding.
        """
        start = ex.idle_since
        if start is None or ex.idle_finding_for == start:
            return
        threshold_ms = self.idle_threshold_ms
        if time - start >= threshold_ms:
            ex.idle_finding_for = start
            self._finding(
                "idle_executor",
                start + threshold_ms,
                f"executor {ex.exec_id} idle for {threshold_ms / 1000:g}s while the app runs",
                exec_id=ex.exec_id,
                idle_since_ms=start,
            )

    def _settle_removed_tasks(self, now_ms: int | None) -> None:
        """Tasks of removed executors whose TaskEnd never came stop running.

        At app end, or live a minute after the removal; they count as busy up to the removal.
        """
        for task_id, task in list(self._running.items()):
            ex = self._executors.get(task.exec_id)
            if ex is None or ex.removed_ms is None:
                continue
            if now_ms is not None and now_ms - ex.removed_ms < 60_000:
                continue
            del self._running[task_id]
            self._advance_busy(ex, ex.removed_ms)
            ex.running = 0
            ex.busy_until = max(ex.busy_until, ex.removed_ms)

    def _advance_busy(self, ex: _Executor, time: int) -> None:
        """Integrate the executor's busy cores up to ``time`` (a time already passed adds nothing)."""
        if time > ex.busy_mark:
            if ex.running:
                ex.busy_core_ms += min(ex.running * self.task_cpus, ex.cores) * (time - ex.busy_mark)
            ex.busy_mark = time

    def check_idle(self, now_ms: int) -> None:
        """Make findings for executors idle past the threshold now (live use; event time otherwise)."""
        if self.end_ms is not None:
            return
        self._settle_removed_tasks(now_ms)
        for ex in self._executors.values():
            if ex.removed_ms is None:
                self._check_idle_finding(ex, now_ms)

    def active_executors(self) -> int:
        """Executors added and not removed."""
        return self._active_count

    # ------------------------------------------------------------------ jobs, stages, tasks
    def _on_job_start(self, e: JobStart) -> None:
        self._tick(e.time)
        self.jobs_started += 1
        if e.callsite and len(self._job_stages) < self.limits.max_rdds:
            self._job_stages[e.job_id] = e.stage_ids
            for stage_id in e.stage_ids:
                self._stage_callsite[stage_id] = e.callsite

    def _on_job_end(self, e: JobEnd) -> None:
        self._tick(e.time)
        self.jobs_finished += 1
        for stage_id in self._job_stages.pop(e.job_id, ()):
            self._stage_callsite.pop(stage_id, None)

    def _remember_rdds(self, rdds: tuple[RddInfo, ...], stage_name: str) -> None:
        for info in rdds:
            rdd = self._rdds.get(info.rdd_id)
            if rdd is None:
                if len(self._rdds) >= self.limits.max_rdds:
                    self._over("rdds")
                    continue
                rdd = self._rdds[info.rdd_id] = _Rdd()
            if not rdd.first_stage:
                rdd.first_stage = stage_name
            rdd.name = info.name
            rdd.callsite = info.callsite
            rdd.scope = info.scope
            rdd.partitions = info.partitions
            if info.use_memory or info.use_disk:
                rdd.replication = info.replication

    def _on_stage_submitted(self, e: StageSubmitted) -> None:
        self._tick(e.time)
        key = (e.stage_id, e.attempt)
        was_idle_app = not self._active_stages
        self._active_stages.add(key)
        self._stage_rdds[key] = frozenset(r.rdd_id for r in e.rdds)
        self._stage_start[key] = e.time or self.last_time
        self._stage_tasks[key] = [0, 0, 0]
        persisted = tuple(r.rdd_id for r in e.rdds if r.use_memory or r.use_disk)
        if persisted:
            self._stage_persisted[key] = persisted
        self._remember_rdds(e.rdds, e.name)
        # A stage that reads or builds a cache is not uncached reuse; others are keyed by their
        # lineage: the stage's RDDs' names, scopes and callsites (RDD ids differ between the
        # actions of a DataFrame, these do not).
        # A stage that starts from shuffle output recomputes nothing upstream: not reuse either.
        skip = any(r.use_memory or r.use_disk or r.name.startswith("Shuffled") for r in e.rdds)
        where = self._stage_callsite.get(e.stage_id) or e.name
        self._stage_sig[key] = (
            None if skip or not e.rdds
            else (where, *((r.name, r.scope, r.callsite) for r in sorted(e.rdds, key=lambda r: r.rdd_id)))
        )
        self.timeline.stage_started(e.stage_id, e.attempt, e.name, e.time or self.last_time)
        if was_idle_app:
            self._resegment_all(e.time or self.last_time)

    def _on_stage_completed(self, e: StageCompleted) -> None:
        self._tick(e.time)
        key = (e.stage_id, e.attempt)
        self._active_stages.discard(key)
        self._stage_rdds.pop(key, None)
        self._stage_persisted.pop(key, None)
        self._count_lineage(key, e)
        start = self._stage_start.pop(key, None)
        tasks = self._stage_tasks.pop(key, None)
        if start is not None and tasks is not None and tasks[0] > 0:
            if len(self.completed_stages) < _MAX_STAGE_ROWS:
                self.completed_stages.append([start, max(start, e.time or self.last_time), *tasks])
            else:
                self._over("stage_rows")
        self._remember_rdds(e.rdds, e.name)
        self.timeline.stage_ended(e.stage_id, e.attempt, e.time or self.last_time, e.failure)
        self.stages_completed += 1
        if e.failure:
            self.stages_failed += 1
        if not self._active_stages:
            self._resegment_all(e.time or self.last_time)

    def _count_lineage(self, key: tuple[int, int], e: StageCompleted) -> None:
        sig = self._stage_sig.pop(key, None)
        task_ms = self._stage_task_ms.pop(key, 0)
        if sig is None or e.failure:
            return
        seen = self._lineages.get(sig)
        if seen is None:
            if len(self._lineages) >= self.limits.max_rdds:
                self._over("lineages")
                return
            self._lineages[sig] = [1, 0, sig[0]]
            return
        seen[0] += 1
        seen[1] += task_ms
        self.uncached_recompute_ms += task_ms
        if seen[0] == 2:
            self._finding(
                "uncached_reuse",
                e.time or self.last_time,
                f"'{seen[2]}' computed the same uncached lineage again: consider cache()/persist()",
                callsite=seen[2],
                stage_id=e.stage_id,
            )

    def uncached_reuse(self) -> list[dict[str, Any]]:
        """Lineages computed more than once without a cache: where, how often, repeat task seconds."""
        return [
            {"callsite": name, "times": n, "repeat_task_seconds": ms / 1000}
            for n, ms, name in sorted(self._lineages.values(), key=lambda v: (-v[1], v[2]))
            if n > 1
        ]

    def _on_task_start(self, e: TaskStart) -> None:
        self._tick(e.launch)
        ex = self._executors.get(e.exec_id)
        if ex is None or ex.removed_ms is not None:
            return
        if len(self._running) >= self.limits.max_running_tasks:
            self._over("running_tasks")
            return
        self._running[e.task_id] = _RunningTask(
            e.exec_id, e.launch, (e.stage_id, e.stage_attempt), e.partition if e.partition >= 0 else e.index
        )
        if ex.running == 0:
            self._check_idle_finding(ex, e.launch)
            self._close_idle(ex, e.launch)
        self._advance_busy(ex, e.launch)
        ex.running += 1

    def _on_task_end(self, e: TaskEnd) -> None:
        self._tick(e.finish)
        status = e.status if e.status in self.tasks_by_status else "failed"
        self.tasks_by_status[status] += 1
        if status == "resubmitted":
            # A finished map task reported again because its output was lost: it did not run again.
            return
        span = max(0, e.finish - e.launch)
        self.task_run_ms += span
        self.task_cpu_ns += e.cpu_ns
        self.task_gc_ms += e.gc_ms
        self.shuffle_read_bytes += e.shuffle_read_bytes
        self.shuffle_write_bytes += e.shuffle_write_bytes
        self.spilled_bytes += e.disk_spilled
        self.input_bytes += e.input_bytes
        self.output_bytes += e.output_bytes

        stage_key = (e.stage_id, e.stage_attempt)
        if status == "success" and stage_key in self._stage_persisted:
            self._estimate_cached(stage_key, e)
        stats = self._stage_tasks.get(stage_key)
        if stats is not None:
            stats[0] += 1
            stats[1] += span
            stats[2] = max(stats[2], span)
        if stage_key in self._stage_sig:
            self._stage_task_ms[stage_key] = self._stage_task_ms.get(stage_key, 0) + span
        running = self._running.pop(e.task_id, None)
        if running is not None and running.rebuilds:
            self.cache_recompute_ms += e.run_ms
        ex = self._executors.get(e.exec_id)
        if ex is None:
            return
        lo = max(e.launch, ex.added_ms)
        hi = e.finish if ex.removed_ms is None else min(e.finish, ex.removed_ms)
        if running is not None:
            self._advance_busy(ex, hi)  # the count drops below, with `running`
        else:
            ex.untracked_core_ms += max(0, hi - lo) * self.task_cpus
        if status == "success" and e.shuffle_write_bytes > 0 and not ex.wrote_shuffle:
            ex.wrote_shuffle = True
            self._resegment(ex, e.finish)
        if ex.removed_ms is not None:
            if running is not None and ex.running > 0:
                ex.running -= 1
                ex.busy_until = max(ex.busy_until, min(hi, ex.removed_ms))
                if ex.running == 0 and ex.busy_until < ex.removed_ms:
                    ex.idle_since = ex.seg_start = ex.busy_until
                    ex.seg_cause = self._idle_cause(ex)
                    self._close_idle(ex, ex.removed_ms)
            return
        if running is not None:
            ex.running = max(0, ex.running - 1)
            ex.busy_until = max(ex.busy_until, e.finish)
            if ex.running == 0:
                self._open_idle(ex, ex.busy_until)
        elif ex.running == 0 and ex.idle_since is not None and e.launch >= ex.idle_since:
            # A task we never saw start (registered late, or its start was dropped): the part of
            # the idle stretch it covered was busy after all.
            self._close_idle(ex, e.launch)
            ex.busy_until = max(ex.busy_until, e.finish)
            self._open_idle(ex, ex.busy_until)

    # ------------------------------------------------------------------ blocks and cache loss
    def _on_block_updated(self, e: BlockUpdated) -> None:
        ids = _block_rdd_partition(e.block_id)
        if ids is None:
            return
        self.block_updates_seen = True
        rdd_id = ids[0]
        time = self.last_time
        stored = (e.use_memory or e.use_disk) and (e.mem_size > 0 or e.disk_size > 0)
        locations = self._blocks.get(e.block_id)
        old = locations.get(e.exec_id) if locations is not None else None
        if old is not None:
            self._remove_location(e.block_id, e.exec_id, rdd_id)
        if not stored:
            return
        if e.exec_id in self._executors and self._executors[e.exec_id].removed_ms is not None:
            return  # a late update from an executor already gone: its blocks went with it
        if locations is None and len(self._blocks) >= self.limits.max_blocks:
            self._over("blocks")
            return
        self._add_location(e.block_id, e.exec_id, rdd_id, e.mem_size, e.disk_size)
        if e.block_id in self._lost_blocks:
            self._lost_blocks.discard(e.block_id)
            self.cache_recomputed_blocks += 1
            self._charge_rebuild(e.exec_id, rdd_id, ids[1])
        ex = self._executors.get(e.exec_id)
        if ex is not None and ex.cached_blocks == 1:
            self._resegment(ex, time)

    def _estimate_cached(self, stage_key: tuple[int, int], e: TaskEnd) -> None:
        partition = e.partition if e.partition >= 0 else e.index
        rebuilt = False
        for rdd_id in self._stage_persisted[stage_key]:
            block = (rdd_id, partition)
            if block in self._est_blocks:
                continue  # already cached: this task read it
            if len(self._est_blocks) >= self.limits.max_blocks:
                self._over("estimated_blocks")
                return
            self._est_blocks[block] = e.exec_id
            self._est_by_exec.setdefault(e.exec_id, set()).add(block)
            if block in self._est_lost:
                self._est_lost.discard(block)
                self.est_recomputed_blocks += 1
                rebuilt = True
        if rebuilt:
            self.est_recompute_ms += e.run_ms

    def _estimate_loss(self, exec_id: str, cause: str) -> None:
        held = self._est_by_exec.pop(exec_id, set())
        for block in held:
            del self._est_blocks[block]
            self._est_lost.add(block)
        if held:
            self.est_lost_blocks += len(held)
            self.est_lost_by_cause.setdefault(cause, [0, 0])[0] += len(held)

    def _charge_rebuild(self, exec_id: str, rdd_id: int, partition: int) -> None:
        for task in self._running.values():
            if (
                task.exec_id == exec_id
                and task.partition == partition
                and rdd_id in self._stage_rdds.get(task.stage_key, frozenset())
            ):
                task.rebuilds += 1
                return
        self.cache_recomputed_unattributed += 1

    def _add_location(self, block_id: str, exec_id: str, rdd_id: int, mem: int, disk: int) -> None:
        self._blocks.setdefault(block_id, {})[exec_id] = (mem, disk)
        self._blocks_by_exec.setdefault(exec_id, set()).add(block_id)
        self.cached_mem_bytes += mem
        self.cached_disk_bytes += disk
        self.cached_block_replicas += 1
        self.timeline.cached_bytes(self.last_time, self.cached_mem_bytes + self.cached_disk_bytes)
        rdd = self._rdds.get(rdd_id)
        if rdd is None and len(self._rdds) < self.limits.max_rdds:
            rdd = self._rdds[rdd_id] = _Rdd()
        if rdd is not None:
            rdd.cached_blocks += 1
            rdd.mem_bytes += mem
            rdd.disk_bytes += disk
        ex = self._executors.get(exec_id)
        if ex is not None:
            ex.cached_blocks += 1

    def _remove_location(
        self, block_id: str, exec_id: str, rdd_id: int, at: int | None = None
    ) -> tuple[int, int]:
        """Drop one copy of a block; ``at`` dates it (default: the latest event time)."""
        locations = self._blocks[block_id]
        mem, disk = locations.pop(exec_id)
        if not locations:
            del self._blocks[block_id]
        held = self._blocks_by_exec.get(exec_id)
        if held is not None:
            held.discard(block_id)
        self.cached_mem_bytes -= mem
        self.cached_disk_bytes -= disk
        self.cached_block_replicas -= 1
        when = self.last_time if at is None else at
        self.timeline.cached_bytes(when, self.cached_mem_bytes + self.cached_disk_bytes)
        rdd = self._rdds.get(rdd_id)
        if rdd is not None:
            rdd.cached_blocks -= 1
            rdd.mem_bytes -= mem
            rdd.disk_bytes -= disk
        ex = self._executors.get(exec_id)
        if ex is not None:
            ex.cached_blocks -= 1
            if ex.cached_blocks == 0:
                self._resegment(ex, when)
        return mem, disk

    def _drop_executor_blocks(self, exec_id: str, time: int, cause: str, reason: str) -> None:
        """An executor is gone: every block on it is lost, unless another replica survives."""
        held = self._blocks_by_exec.get(exec_id, set())
        per_rdd: dict[int, list[int]] = {}
        for block_id in sorted(held):
            ids = _block_rdd_partition(block_id)
            if ids is None:
                continue
            rdd_id = ids[0]
            # Dated by the removal itself: Spark posts BlockManagerRemoved and ExecutorRemoved from
            # two threads, so their order (and so the latest event time) can differ between the
            # listener's queue and the event log's; the removal's own time cannot.
            mem, disk = self._remove_location(block_id, exec_id, rdd_id, at=time)
            if block_id in self._blocks:
                rdd = self._rdds.get(rdd_id)
                if cause == "decommission" and (rdd is None or rdd.replication <= 1):
                    self.cache_migrated_blocks += 1
                else:
                    self.cache_replicas_lost += 1
                continue
            self._lost_blocks.add(block_id)
            acc = per_rdd.setdefault(rdd_id, [0, 0, 0])
            acc[0] += 1
            acc[1] += mem
            acc[2] += disk
        self._blocks_by_exec.pop(exec_id, None)
        if not per_rdd:
            return
        blocks = sum(v[0] for v in per_rdd.values())
        nbytes = sum(v[1] + v[2] for v in per_rdd.values())
        self.cache_lost_blocks += blocks
        self.cache_lost_bytes += nbytes
        by_cause = self.cache_lost_by_cause.setdefault(cause, [0, 0])
        by_cause[0] += blocks
        by_cause[1] += nbytes
        rdds = []
        for rdd_id, (n, mem, disk) in sorted(per_rdd.items()):
            rdd = self._rdds.get(rdd_id) or _Rdd()
            rdds.append(
                {
                    "rdd_id": rdd_id,
                    "name": rdd.name,
                    "callsite": rdd.callsite,
                    "first_stage": rdd.first_stage,
                    "blocks": n,
                    "memory_bytes": mem,
                    "disk_bytes": disk,
                }
            )
        loss = {
            "exec_id": exec_id,
            "time_ms": time,
            "cause": cause,
            "reason": reason,
            "blocks": blocks,
            "bytes": nbytes,
            "rdds": rdds,
        }
        self.losses.append(loss)
        if len(self.losses) > _MAX_FINDINGS:
            del self.losses[0]
        self._finding(
            "cache_lost",
            time,
            f"executor {exec_id} removed ({cause}): {blocks} cached blocks, {nbytes} bytes lost",
            exec_id=exec_id,
            cause=cause,
            reason=reason,
            blocks=blocks,
            bytes=nbytes,
            rdds=[r["rdd_id"] for r in rdds],
        )

    def _on_unpersist(self, e: UnpersistRDD) -> None:
        prefix = f"rdd_{e.rdd_id}_"
        for block_id in [b for b in self._blocks if b.startswith(prefix)]:
            for exec_id in list(self._blocks[block_id]):
                self._remove_location(block_id, exec_id, e.rdd_id)
        self._lost_blocks = {b for b in self._lost_blocks if not b.startswith(prefix)}
        for block in [b for b in self._est_blocks if b[0] == e.rdd_id]:
            self._est_by_exec.get(self._est_blocks.pop(block), set()).discard(block)
        self._est_lost = {b for b in self._est_lost if b[0] != e.rdd_id}

    def _on_listener_stats(self, e: ListenerStats) -> None:
        self.listener_offered = max(self.listener_offered, e.offered)
        self.listener_dropped = max(self.listener_dropped, e.dropped)
        self.listener_processing_ns = max(self.listener_processing_ns, e.processing_ns)
        self.listener_reconnects = max(self.listener_reconnects, e.reconnects)

    # ------------------------------------------------------------------ reading figures
    def now_or_end(self, now_ms: int | None) -> int:
        """The instant open intervals are measured to: app end, else ``now_ms``, else last event."""
        if self.end_ms is not None:
            return self.end_ms
        if now_ms is not None:
            return max(now_ms, self.last_time)
        return self.last_time

    def executor_figures(self, now_ms: int | None = None) -> dict[str, dict[str, Any]]:
        """Per executor: cores, lifetime, busy core-seconds, idle seconds (and by cause), removal."""
        until = self.now_or_end(now_ms)
        cpus = self.task_cpus
        out: dict[str, dict[str, Any]] = {}
        for ex in self._executors.values():
            end = ex.removed_ms if ex.removed_ms is not None else max(until, ex.added_ms)
            # Running tasks are busy up to now (or the removal), so busy only grows between events.
            busy_ms = ex.busy_core_ms + ex.untracked_core_ms
            if ex.running and min(until, end) > ex.busy_mark:
                busy_ms += min(ex.running * cpus, ex.cores) * (min(until, end) - ex.busy_mark)
            busy_ms = min(busy_ms, ex.cores * (end - ex.added_ms))
            idle_ms = ex.idle_ms
            by_cause = dict(ex.idle_by_cause)
            idle_now = 0
            if ex.idle_since is not None and ex.removed_ms is None:
                idle_now = max(0, end - ex.idle_since)
                idle_ms += idle_now
                seg = max(0, end - ex.seg_start)
                by_cause[ex.seg_cause] = by_cause.get(ex.seg_cause, 0) + seg
            out[ex.exec_id] = {
                "host": ex.host,
                "cores": ex.cores,
                "added_ms": ex.added_ms,
                "removed_ms": ex.removed_ms,
                "lifetime_seconds": (end - ex.added_ms) / 1000,
                "busy_core_seconds": busy_ms / 1000,
                "idle_seconds": idle_ms / 1000,
                "idle_now_seconds": idle_now / 1000,
                "idle_by_cause": {c: by_cause.get(c, 0) / 1000 for c in IDLE_CAUSES},
                "removed_reason": ex.removed_reason,
                "removed_cause": ex.removed_cause,
                "running_tasks": ex.running,
                "cached_blocks": ex.cached_blocks,
            }
        return out

    def rdd_figures(self) -> dict[int, dict[str, Any]]:
        """Per RDD that holds cached blocks: name, callsite, blocks, bytes."""
        return {
            rdd_id: {
                "name": r.name,
                "callsite": r.callsite,
                "first_stage": r.first_stage,
                "cached_blocks": r.cached_blocks,
                "memory_bytes": r.mem_bytes,
                "disk_bytes": r.disk_bytes,
            }
            for rdd_id, r in sorted(self._rdds.items())
            if r.cached_blocks > 0
        }

    def cached_blocks(self) -> int:
        """Distinct cached blocks (a replicated block counts once)."""
        return len(self._blocks)

    def running_tasks(self) -> int:
        """Tasks started and not ended."""
        return len(self._running)

    def summary(self, now_ms: int | None = None, *, detail: bool = True) -> dict[str, Any]:
        """All figures of this app, in the report schema's app shape (docs/report-schema.md).

        ``detail=False`` leaves out what only reports need (``timeline``, ``what_if``, ``advice``):
        the Prometheus collector calls this for every app at every scrape.
        """
        execs = self.executor_figures(now_ms)
        allocated = sum(e["cores"] * e["lifetime_seconds"] for e in execs.values())
        busy = sum(e["busy_core_seconds"] for e in execs.values())
        idle_by_cause = {c: sum(e["idle_by_cause"][c] for e in execs.values()) for c in IDLE_CAUSES}
        active = [e for e in execs.values() if e["removed_ms"] is None and self.end_ms is None]
        idle_now = [e for e in active if e["running_tasks"] == 0]
        out = {
            "app_id": self.app_id,
            "app_name": self.app_name,
            "user": self.user,
            "spark_version": self.spark_version,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "running": self.end_ms is None,
            "dynamic_allocation": self.dynamic_allocation,
            "executors_added": self.executors_added,
            "executors_removed": self.executors_removed,
            "removed_by_reason": dict(sorted(self.removed_by_reason.items())),
            "executors_active": len(active),
            "executors_idle": len(idle_now),
            "executor_idle_max_seconds": max((e["idle_now_seconds"] for e in idle_now), default=0.0),
            "allocated_core_seconds": allocated,
            "busy_core_seconds": busy,
            "idle_core_seconds": allocated - busy,
            "idle_executor_seconds": sum(e["idle_seconds"] for e in execs.values()),
            "idle_by_cause": idle_by_cause,
            "cached_bytes": {"memory": self.cached_mem_bytes, "disk": self.cached_disk_bytes},
            "cached_blocks": len(self._blocks),
            "cache_lost_blocks": self.cache_lost_blocks,
            "cache_lost_bytes": self.cache_lost_bytes,
            "cache_lost_by_cause": {c: list(v) for c, v in sorted(self.cache_lost_by_cause.items())},
            "cache_replicas_lost": self.cache_replicas_lost,
            "cache_migrated_blocks": self.cache_migrated_blocks,
            "cache_recomputed_blocks": self.cache_recomputed_blocks,
            "cache_recompute_seconds": self.cache_recompute_ms / 1000,
            "losses": list(self.losses),
            "uncached_reuse": self.uncached_reuse(),
            "uncached_recompute_seconds": self.uncached_recompute_ms / 1000,
            "findings": list(self.findings),
            "findings_by_kind": dict(sorted(self.findings_by_kind.items())),
            "advice": [],
            "what_if": {},
            "bad_lines": 0,
            "tasks": {
                **self.tasks_by_status,
                "running": len(self._running),
                "run_seconds": self.task_run_ms / 1000,
                "cpu_seconds": self.task_cpu_ns / 1e9,
                "gc_seconds": self.task_gc_ms / 1000,
            },
            "jobs": {"started": self.jobs_started, "finished": self.jobs_finished},
            "stages": {"completed": self.stages_completed, "failed": self.stages_failed},
            "rdds": {str(k): v for k, v in self.rdd_figures().items()},
            "listener": {
                "offered": self.listener_offered,
                "dropped": self.listener_dropped,
                "processing_seconds": self.listener_processing_ns / 1e9,
                "reconnects": self.listener_reconnects,
            },
            "over_limit": dict(sorted(self.over_limit.items())),
            "executors": execs,
            "timeline": self.timeline.to_dict() if detail else {},
        }
        if not self.block_updates_seen and (self.est_lost_blocks or self._est_blocks):
            # No block updates in this log: cache figures are the task-based estimate (no sizes).
            out["cache_estimated"] = True
            out["cache_lost_blocks"] = self.est_lost_blocks
            out["cache_lost_bytes"] = 0
            out["cache_lost_by_cause"] = {c: list(v) for c, v in sorted(self.est_lost_by_cause.items())}
            out["cache_recomputed_blocks"] = self.est_recomputed_blocks
            out["cache_recompute_seconds"] = self.est_recompute_ms / 1000
            out["cached_blocks_estimated"] = len(self._est_blocks)
        else:
            out["cache_estimated"] = False
        if detail:
            out["what_if"] = what_if(
                self.completed_stages, execs, self.start_ms, self.now_or_end(now_ms), self.task_cpus
            )
            out["advice"] = advise(out, self.conf, self.timeline.idle)
        return out


_HANDLERS: dict[type, Any] = {
    AppStart: AppState._on_app_start,
    AppEnd: AppState._on_app_end,
    Conf: AppState._on_conf,
    ExecutorAdded: AppState._on_executor_added,
    ExecutorRemoved: AppState._on_executor_removed,
    BlockManagerAdded: AppState._on_block_manager_added,
    BlockManagerRemoved: AppState._on_block_manager_removed,
    BlockUpdated: AppState._on_block_updated,
    UnpersistRDD: AppState._on_unpersist,
    JobStart: AppState._on_job_start,
    JobEnd: AppState._on_job_end,
    StageSubmitted: AppState._on_stage_submitted,
    StageCompleted: AppState._on_stage_completed,
    TaskStart: AppState._on_task_start,
    TaskEnd: AppState._on_task_end,
    ListenerStats: AppState._on_listener_stats,
}
