"""AppState: the pure analyzer of one Spark application, coordinator of its ledgers.

Events in (``sparkprobe.events``), state and findings out; :func:`sparkprobe.analysis.report.build_report`
turns the state into the typed report. No sockets, files, clocks or logging here (invariant 4): the
only notion of time is the events' own timestamps, and a caller passes ``now_ms`` when it wants an
open interval of a still-running app measured.

Who owns what (each a module of its own):

- :class:`~sparkprobe.analysis.executors.ExecutorLedger`: executors, busy cores, idle time by cause;
- :class:`~sparkprobe.analysis.tasks.TaskLedger`: running attempts and task sums;
- :class:`~sparkprobe.analysis.stages.StageLedger`: jobs, stages, stage rows, uncached reuse;
- :class:`~sparkprobe.analysis.storage.StorageLedger`: the block map, cache loss and rebuilds;
- :class:`~sparkprobe.analysis.memory.MemoryLedger`: memory peaks, resource profiles;
- :class:`~sparkprobe.analysis.tenants.TenantLedger`: who (session, user, tag...) used what;
- :class:`~sparkprobe.analysis.findings.FindingLog` and :class:`~sparkprobe.analysis.timeline.Timeline`.

This class holds the app's identity and settings, dispatches each event, and orders the ledgers'
updates where one event concerns several. Memory is bounded (invariant 3): state is kept per
executor, per RDD and per cached block, plus the tasks running now.

How each figure is computed is documented in docs/figures.md; keep the two in step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sparkprobe.analysis.causes import classify_removal
from sparkprobe.analysis.executors import ExecutorLedger
from sparkprobe.analysis.findings import FindingLog
from sparkprobe.analysis.memory import MemoryLedger
from sparkprobe.analysis.policy.recorder import PolicyRecorder
from sparkprobe.analysis.settings import AppSettings
from sparkprobe.analysis.stages import StageLedger
from sparkprobe.analysis.storage import StorageLedger
from sparkprobe.analysis.tasks import TaskLedger
from sparkprobe.analysis.tenants import TenantLedger
from sparkprobe.analysis.timeline import Timeline
from sparkprobe.events import (
    AppEnd,
    AppStart,
    BlockManagerAdded,
    BlockManagerRemoved,
    BlockUpdated,
    Conf,
    ConnectServerStarted,
    Event,
    ExecutorAdded,
    ExecutorMetrics,
    ExecutorRemoved,
    JobEnd,
    JobStart,
    ListenerStats,
    ReplayEnd,
    ReplayStart,
    ResourceProfileAdded,
    SessionClosed,
    SessionStarted,
    StageCompleted,
    StageSubmitted,
    TaskEnd,
    TaskStart,
    UnpersistRDD,
)
from sparkprobe.model import Finding, FindingKind, TaskStatus

__all__ = ["AppState", "Limits"]


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
    #: Prices for apps that set none (``spark.sparkprobe.price.*``): per core-hour and per GiB-hour
    #: of executor memory; None makes no money figure (the agent's and analyze's ``--price-*``).
    price_core_hour: float | None = None
    price_gib_hour: float | None = None
    #: Tenants kept per kind (sessions, users, tags...); the rest fold into ``other`` (docs/tenants.md).
    max_tenants: int = 50


class AppState:
    """Everything sparkprobe knows about one application, updated one event at a time."""

    def __init__(self, app_id: str = "", limits: Limits | None = None) -> None:
        """Start empty; ``app_id`` is replaced by the one in ``AppStart`` when it comes."""
        self.limits = limits or Limits()
        self.app_id = app_id
        self.app_name = ""
        self.user = ""
        self.spark_version = ""
        self.attempt_id = ""
        self.start_ms = 0
        self.end_ms: int | None = None
        #: ``ApplicationEnd`` came. Executors still running then end with the app: their removal
        #: at shutdown (posted after it, and never sent live) is neither a removal nor a loss.
        self.app_ended = False
        self.conf: dict[str, str] = {}
        self.settings = AppSettings(self.conf)
        #: Latest event time seen; dates block updates, which Spark sends without a timestamp.
        self.last_time = 0
        self.events = 0

        self.timeline = Timeline()
        self.findings = FindingLog()
        self.executors = ExecutorLedger(self)
        self.tasks = TaskLedger()
        self.stages = StageLedger(self)
        self.storage = StorageLedger(self)
        #: What the policy simulator needs of the run (docs/advice.md).
        self.policy = PolicyRecorder(self)
        self.memory = MemoryLedger(self)
        self.tenants = TenantLedger(self)

        # What the listener told about itself (cumulative) and what we could not track.
        self.listener_offered = 0
        self.listener_dropped = 0
        self.listener_processing_ns = 0
        self.listener_reconnects = 0
        self.over_limit: dict[str, int] = {}
        #: Event time from which this state's time-integrated figures count, when it took the app
        #: over mid-run (a replay with ``resumed``: another agent held the app before); else None.
        self.joined_ms: int | None = None

    # ------------------------------------------------------------------ settings the ledgers use
    @property
    def dynamic_allocation(self) -> bool | None:
        """``spark.dynamicAllocation.enabled`` when the app's conf is known, else None."""
        return self.settings.dynamic_allocation

    @property
    def idle_threshold_ms(self) -> int:
        """Idle stretch (ms) past which an executor is a finding (``spark.sparkprobe.idleThreshold``).

        Under dynamic allocation an executor idle for ``executorIdleTimeout`` is released by design
        (Spark takes a few more seconds to do it), so only one idle past that, with a grace of a
        quarter of the timeout and at least 10 s, is a finding: one kept by cached blocks, shuffle
        data or the ``minExecutors`` floor (docs/advice.md).
        """
        threshold = self.settings.idle_threshold_ms(self.limits.idle_threshold_s)
        if self.dynamic_allocation:
            timeout_ms = int(self.settings.executor_idle_timeout_s * 1000)
            threshold = max(threshold, timeout_ms + max(10_000, timeout_ms // 4))
        return threshold

    @property
    def task_cpus(self) -> int:
        """``spark.task.cpus`` (default 1)."""
        return self.settings.task_cpus

    @property
    def min_executors(self) -> int:
        """``spark.dynamicAllocation.minExecutors`` (default 0)."""
        return self.settings.min_executors

    @property
    def shuffle_tracking(self) -> bool:
        """Executors with shuffle output are kept (shuffle tracking on, no external shuffle service)."""
        return self.settings.shuffle_tracking

    # ------------------------------------------------------------------ feeding
    def apply(self, event: Event) -> None:
        """Update the state with one event."""
        self.events += 1
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    def take_new_findings(self) -> list[Finding]:
        """Findings made since the last call (for exporters that log them as they happen)."""
        return self.findings.take_new()

    def over(self, what: str) -> None:
        """Something went past a cap and is not tracked: count it."""
        self.over_limit[what] = self.over_limit.get(what, 0) + 1

    def _tick(self, time: int) -> None:
        if time > self.last_time:
            self.last_time = time

    def _on_app_start(self, e: AppStart) -> None:
        self.app_id = e.app_id or self.app_id
        self.app_name = e.app_name
        self.user = e.user
        self.spark_version = e.spark_version or self.spark_version
        self.attempt_id = e.attempt_id or self.attempt_id
        self.start_ms = e.time
        self._tick(e.time)

    def _on_app_end(self, e: AppEnd) -> None:
        self._tick(e.time)
        self.end_ms = e.time
        self.app_ended = True
        self.storage.app_ended()
        self.settle_removed_tasks(None)
        ledger = self.executors
        allocated_ms = busy_ms = 0
        for ex in ledger.by_id.values():
            allocated_ms += ex.cores * ledger.counted_ms(ex, e.time)
            busy_ms += ledger.busy_core_ms(ex, e.time)
        if allocated_ms > 0 and (allocated_ms - busy_ms) / allocated_ms >= self.limits.idle_share:
            share = (allocated_ms - busy_ms) / allocated_ms
            self.findings.add(
                FindingKind.IDLE_SHARE,
                e.time,
                f"executors sat idle {share:.0%} of {allocated_ms / 1000:,.0f} allocated core-seconds",
                idle_share=round(share, 4),
                allocated_core_seconds=round(allocated_ms / 1000, 3),
            )
        for ex in ledger.by_id.values():
            if ex.removed_ms is None:
                ledger.check_idle_finding(ex, e.time)
                ledger.close_idle(ex, e.time)

    def close_unended(self) -> None:
        """Close an app whose driver went away without ``ApplicationEnd``, at its last event.

        Nothing is judged or settled: no end-of-app finding, and losses still waiting for their
        executor's removal stay unsettled, because the app may well go on elsewhere (its listener
        moved to another agent). The figures are those the app showed since it went silent.
        """
        if self.end_ms is not None:
            return
        self.end_ms = self.last_time
        for ex in self.executors.by_id.values():
            if ex.removed_ms is None:
                self.executors.close_idle(ex, self.last_time)

    def _on_replay_start(self, e: ReplayStart) -> None:
        # A replay is what the driver knows now; the lines it carries are applied like any other
        # (each handler ignores what it knows already). A state that begins with a resumed replay
        # took the app over: what happened before e.time went to another agent.
        if e.resumed and self.events == 1 and self.joined_ms is None:
            self.joined_ms = e.time

    def _on_replay_end(self, e: ReplayEnd) -> None:
        return

    def _on_conf(self, e: Conf) -> None:
        self.conf.update(e.props)

    def _on_listener_stats(self, e: ListenerStats) -> None:
        self.listener_offered = max(self.listener_offered, e.offered)
        self.listener_dropped = max(self.listener_dropped, e.dropped)
        self.listener_processing_ns = max(self.listener_processing_ns, e.processing_ns)
        self.listener_reconnects = max(self.listener_reconnects, e.reconnects)

    # ------------------------------------------------------------------ executors
    def _on_executor_added(self, e: ExecutorAdded) -> None:
        self._tick(e.time)
        if self.executors.add(e):
            self.policy.executor_added(e.time, e.profile_id)
            self.memory.executor_added(e)

    def _on_executor_metrics(self, e: ExecutorMetrics) -> None:
        self.memory.metrics(e)

    def _on_resource_profile_added(self, e: ResourceProfileAdded) -> None:
        self.memory.profile_added(e)

    def _on_executor_removed(self, e: ExecutorRemoved) -> None:
        if self.app_ended:
            return
        self._tick(e.time)
        removal = classify_removal(e.reason, self.dynamic_allocation)
        known = self.executors.get(e.exec_id)
        if known is not None and known.removed_ms is None:
            self.policy.executor_removing(e.exec_id, e.time, removal.cause)
        ex = self.executors.remove(e.exec_id, e.time, e.reason, removal.cause)
        if ex is None:
            return
        self.storage.executor_removed(e.exec_id, e.time, removal, e.reason)
        self.executors.floor_changed(e.time)

    def _on_block_manager_added(self, e: BlockManagerAdded) -> None:
        self._tick(e.time)

    def _on_block_manager_removed(self, e: BlockManagerRemoved) -> None:
        if self.app_ended:
            return
        self._tick(e.time)
        self.storage.block_manager_removed(e.exec_id, e.time)

    def settle_removed_tasks(self, now_ms: int | None) -> None:
        """Tasks of removed executors whose TaskEnd never came stop running.

        At app end, or live a minute after the removal; they count as busy up to the removal.
        """
        for task_id, task in list(self.tasks.running.items()):
            ex = self.executors.get(task.exec_id)
            if ex is None or ex.removed_ms is None:
                continue
            if now_ms is not None and now_ms - ex.removed_ms < 60_000:
                continue
            del self.tasks.running[task_id]
            self.executors.advance_busy(ex, ex.removed_ms)
            self.tenants.task_released(task_id)
            ex.running = 0
            ex.busy_until = max(ex.busy_until, ex.removed_ms)

    def check_idle(self, now_ms: int) -> None:
        """Make findings for executors idle past the threshold now (live use; event time otherwise)."""
        if self.end_ms is not None:
            return
        self.settle_removed_tasks(now_ms)
        for ex in self.executors.by_id.values():
            if ex.removed_ms is None:
                self.executors.check_idle_finding(ex, now_ms)

    def active_executors(self) -> int:
        """Executors added and not removed."""
        return self.executors.active_count

    # ------------------------------------------------------------------ jobs, stages, tasks
    def _on_job_start(self, e: JobStart) -> None:
        self._tick(e.time)
        self.stages.job_started(e)
        self.policy.job_started(e)
        self.tenants.job_started(e)

    def _on_job_end(self, e: JobEnd) -> None:
        self._tick(e.time)
        self.stages.job_ended(e)
        self.policy.job_ended(e)
        self.tenants.job_ended(e)

    def _on_stage_submitted(self, e: StageSubmitted) -> None:
        e = self.tenants.scrub_stage(e)  # a Connect stage is named after the request's plan: docs/tenants.md
        self._tick(e.time)
        if (e.stage_id, e.attempt) in self.stages.active:
            return  # running already: repeated by a replay
        time = e.time or self.last_time
        was_idle_app = self.stages.submitted(e, time)
        self.policy.stage_submitted(e, time)
        self.storage.remember_rdds(e.rdds, e.name)
        self.tenants.stage_submitted(e)
        self.timeline.stage_started(e.stage_id, e.attempt, e.name, time)
        if was_idle_app:
            self.executors.resegment_all(time)

    def _on_stage_completed(self, e: StageCompleted) -> None:
        e = self.tenants.scrub_stage(e)
        self._tick(e.time)
        time = e.time or self.last_time
        none_running = self.stages.completed(e, time)
        self.policy.stage_completed(e, time)
        self.storage.remember_rdds(e.rdds, e.name)
        self.timeline.stage_ended(e.stage_id, e.attempt, time, e.failure)
        if none_running:
            self.executors.resegment_all(time)

    def _on_task_start(self, e: TaskStart) -> None:
        self._tick(e.launch)
        ex = self.executors.get(e.exec_id)
        if ex is None or ex.removed_ms is not None or e.task_id in self.tasks.running:
            return  # (a task already running: repeated by a replay)
        if len(self.tasks.running) >= self.limits.max_running_tasks:
            self.over("running_tasks")
            return
        self.tasks.started(e)
        self.executors.task_started(ex, e.launch)
        self.policy.task_started(e)
        if self.tenants.charged:
            self.tenants.task_started(e.task_id, e.exec_id, e.stage_id)

    def _on_task_end(self, e: TaskEnd) -> None:
        self._tick(e.finish)
        status = self.tasks.ended(e)
        if status is TaskStatus.RESUBMITTED:
            return
        stage_key = (e.stage_id, e.stage_attempt)
        if e.updated_blocks:
            self.storage.task_updated_blocks(e)
        persisted = self.stages.persisted.get(stage_key)
        computed: tuple[int, ...] = ()
        est_rebuilt = self.storage.est_recomputed_blocks
        if status is TaskStatus.SUCCESS and persisted is not None:
            computed = self.storage.estimate_cached(persisted, e)
        est_rebuilt = self.storage.est_recomputed_blocks - est_rebuilt
        self.policy.task_ended(e, status, computed)
        self.stages.task_ended(stage_key, max(0, e.finish - e.launch))
        running = self.tasks.running.pop(e.task_id, None)
        self.storage.task_ended(running, e)
        ex = self.executors.get(e.exec_id)
        tenants = self.tenants
        if tenants.charged:
            tenants.task_ended(e, running, ex, est_rebuilt > 0)
        if ex is None:
            return
        wrote_shuffle = status is TaskStatus.SUCCESS and e.shuffle_write_bytes > 0
        self.executors.task_ended(ex, e.launch, e.finish, running is not None, wrote_shuffle)
        if running is not None and tenants.charged:
            tenants.task_released(e.task_id)

    # ------------------------------------------------------------------ Spark Connect sessions
    def _on_session_started(self, e: SessionStarted) -> None:
        self._tick(e.time)
        if self.tenants.session_started(e):
            self.executors.resegment_all(e.time)  # idle stops being "no session"

    def _on_connect_server_started(self, e: ConnectServerStarted) -> None:
        self._tick(e.time)
        self.tenants.connect_server_started()
        self.executors.resegment_all(e.time)  # idle with no session open becomes "no session"

    def _on_session_closed(self, e: SessionClosed) -> None:
        self._tick(e.time)
        if self.tenants.session_closed(e):
            self.executors.resegment_all(e.time)  # idle becomes "no session"

    # ------------------------------------------------------------------ blocks
    def _on_block_updated(self, e: BlockUpdated) -> None:
        if self.app_ended:  # blocks dropped at shutdown: the app's cache ended with it
            return
        self.storage.block_updated(e)

    def _on_unpersist(self, e: UnpersistRDD) -> None:
        if self.app_ended:
            return
        self.storage.unpersisted(e.rdd_id)
        self.policy.unpersisted(e.rdd_id, self.last_time)

    # ------------------------------------------------------------------ reading
    def now_or_end(self, now_ms: int | None) -> int:
        """The instant open intervals are measured to: app end, else ``now_ms``, else last event."""
        if self.end_ms is not None:
            return self.end_ms
        if now_ms is not None:
            return max(now_ms, self.last_time)
        return self.last_time

    def cached_blocks(self) -> int:
        """Distinct cached blocks (a replicated block counts once)."""
        return self.storage.blocks

    def running_tasks(self) -> int:
        """Tasks started and not ended."""
        return len(self.tasks.running)


_HANDLERS: dict[type, Callable[[AppState, Any], None]] = {
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
    ExecutorMetrics: AppState._on_executor_metrics,
    ResourceProfileAdded: AppState._on_resource_profile_added,
    SessionStarted: AppState._on_session_started,
    SessionClosed: AppState._on_session_closed,
    ConnectServerStarted: AppState._on_connect_server_started,
    ReplayStart: AppState._on_replay_start,
    ReplayEnd: AppState._on_replay_end,
}
