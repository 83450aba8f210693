"""The executor ledger: lifetimes, busy cores, idle stretches and their causes (docs/figures.md).

Owned by :class:`sparkprobe.analysis.state.AppState`, which feeds it in event order and lends it
what it needs of the other ledgers (the app's settings, whether a stage runs, the findings log).
Times are integer event-time milliseconds, so every sum is exact whatever order it is taken in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sparkprobe.events import ExecutorAdded
from sparkprobe.model import FindingKind, IdleCause, RemovalCause

if TYPE_CHECKING:
    from sparkprobe.analysis.state import AppState

__all__ = ["Executor", "ExecutorLedger"]


@dataclass(slots=True)
class Executor:
    """One executor as the analyzer tracks it (mutable; reports copy it into ``ExecutorReport``)."""

    exec_id: str
    host: str
    cores: int
    added_ms: int
    removed_ms: int | None = None
    removed_reason: str = ""
    removed_cause: RemovalCause | None = None
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
    seg_cause: IdleCause = IdleCause.UNNEEDED
    idle_by_cause: dict[IdleCause, int] = field(default_factory=dict)
    idle_finding_for: int | None = None
    cached_blocks: int = 0
    wrote_shuffle: bool = False
    #: Event time its figures count from: ``added_ms``, or later when the state took the app over
    #: mid-run (:attr:`AppState.joined_ms`) and knows nothing of the time before.
    counted_from_ms: int = 0


class ExecutorLedger:
    """Every executor of one app, and the per-executor integration of busy and idle time."""

    def __init__(self, app: AppState) -> None:
        self._app = app
        self.by_id: dict[str, Executor] = {}
        self.active_count = 0
        self.added = 0
        self.removed = 0
        self.removed_by_cause: dict[RemovalCause, int] = {}
        #: Executors whose figures a headline report computes each time; the others are removed,
        #: settled, and summed once in ``settled`` (:mod:`sparkprobe.analysis.settled`).
        self.unsettled: dict[str, Executor] = {}
        #: Bumped when a settled executor changes (a late task end, a late peak): the settled sums
        #: are then rebuilt at the next headline report.
        self.reopened = 0
        self.settled: object | None = None  # a settled.Settled, owned by that module

    def get(self, exec_id: str) -> Executor | None:
        """The executor with this id (alive or removed), if tracked."""
        return self.by_id.get(exec_id)

    # ------------------------------------------------------------------ added / removed
    def add(self, e: ExecutorAdded) -> bool:
        """Register an executor; False when it was already known or is past the cap."""
        known = self.by_id.get(e.exec_id)
        if known is not None and (known.removed_ms is None or known.added_ms == e.time):
            # Announced again: attach replays the live executors, and the listener repeats them after
            # every hello (for an agent restarted mid-app). Keep the first; a replay of one already
            # removed (same id, same add time) must not bring it back.
            return False
        if known is None and len(self.by_id) >= self._app.limits.max_executors:
            self._app.over("executors")
            return False
        self.added += 1
        self.active_count += 1
        joined = self._app.joined_ms
        start = e.time if joined is None else max(e.time, joined)
        ex = Executor(e.exec_id, e.host, e.cores, e.time, busy_until=start, busy_mark=start, counted_from_ms=start)
        if known is not None:
            self.changed(e.exec_id)  # the removed one it replaces may be in the settled sums
        self.by_id[e.exec_id] = ex
        self.unsettled[e.exec_id] = ex
        self.open_idle(ex, start)
        self.floor_changed(start)
        return True

    def remove(self, exec_id: str, time: int, reason: str, cause: RemovalCause) -> Executor | None:
        """Mark an executor removed at ``time``; None when unknown or removed already."""
        ex = self.by_id.get(exec_id)
        if ex is None or ex.removed_ms is not None:
            return None
        self.removed += 1
        self.active_count -= 1
        self.removed_by_cause[cause] = self.removed_by_cause.get(cause, 0) + 1
        ex.removed_reason = reason
        ex.removed_cause = cause
        if not ex.running:
            self.check_idle_finding(ex, time)
            self.close_idle(ex, time)
        # Tasks still running on it end with it: Spark posts their TaskEnd (ExecutorLostFailure)
        # right after, with a finish time that may fall a little before the removal; the time
        # between is idle. AppState.settle_removed_tasks covers a TaskEnd that never comes.
        ex.removed_ms = max(time, ex.added_ms)
        return ex

    def changed(self, exec_id: str) -> None:
        """Something the figures of ``exec_id`` depend on changed after it may have been settled."""
        if exec_id not in self.unsettled and exec_id in self.by_id:
            self.reopened += 1

    # ------------------------------------------------------------------ idle stretches and causes
    def idle_cause(self, ex: Executor) -> IdleCause:
        """The cause an idle second of ``ex`` has right now (the first that applies)."""
        app = self._app
        if app.dynamic_allocation:
            if ex.cached_blocks > 0:
                return IdleCause.CACHE_HELD
            # The floor keeps an executor whatever shuffle data it holds: a shorter shuffle
            # tracking timeout would not release it, so the floor is the cause.
            if self.active_count <= app.min_executors:
                return IdleCause.MIN_EXECUTORS
            if ex.wrote_shuffle and app.shuffle_tracking:
                return IdleCause.SHUFFLE_HELD
        if not app.stages.active:
            return IdleCause.NO_SESSION if app.tenants.no_session_active else IdleCause.DRIVER_BUSY
        return IdleCause.UNNEEDED

    def open_idle(self, ex: Executor, time: int) -> None:
        """``ex`` became idle at ``time``."""
        ex.idle_since = time
        ex.seg_start = time
        ex.seg_cause = self.idle_cause(ex)

    def close_idle(self, ex: Executor, time: int) -> None:
        """``ex``'s idle stretch (if any) ended at ``time``."""
        if ex.idle_since is None:
            return
        end = max(time, ex.idle_since)
        ex.idle_ms += end - ex.idle_since
        seg_end = max(end, ex.seg_start)
        ex.idle_by_cause[ex.seg_cause] = ex.idle_by_cause.get(ex.seg_cause, 0) + seg_end - ex.seg_start
        self._app.timeline.idle_segment(ex.exec_id, ex.seg_start, seg_end, ex.seg_cause)
        if ex.idle_finding_for == ex.idle_since:
            self._app.findings.idle_stretch_ended(ex.exec_id, ex.idle_since, end)
        ex.idle_since = None

    def resegment(self, ex: Executor, time: int) -> None:
        """Start a new cause segment of an open idle stretch if the cause has changed."""
        if ex.idle_since is None or ex.removed_ms is not None:
            return
        cause = self.idle_cause(ex)
        if cause != ex.seg_cause:
            at = max(time, ex.seg_start)
            ex.idle_by_cause[ex.seg_cause] = ex.idle_by_cause.get(ex.seg_cause, 0) + at - ex.seg_start
            self._app.timeline.idle_segment(ex.exec_id, ex.seg_start, at, ex.seg_cause)
            ex.seg_start = at
            ex.seg_cause = cause

    def resegment_all(self, time: int) -> None:
        """Something every executor's cause depends on changed (a stage started or ended)."""
        for ex in self.by_id.values():
            self.resegment(ex, time)

    def floor_changed(self, time: int) -> None:
        """The active count moved: only a crossing of the minExecutors floor changes causes."""
        app = self._app
        if app.dynamic_allocation and abs(self.active_count - app.min_executors) <= 1:
            self.resegment_all(time)

    def check_idle_finding(self, ex: Executor, time: int) -> None:
        """An idle stretch that reaches the threshold while the app runs is a finding, once.

        The finding is dated at the instant the threshold was crossed, so a live check (at any
        later scrape) and the offline pass (at the stretch's end) make the identical finding.
        """
        start = ex.idle_since
        if start is None or ex.idle_finding_for == start:
            return
        threshold_ms = self._app.idle_threshold_ms
        if time - start >= threshold_ms:
            ex.idle_finding_for = start
            self._app.findings.add(
                FindingKind.IDLE_EXECUTOR,
                start + threshold_ms,
                f"executor {ex.exec_id} idle for {threshold_ms / 1000:g}s while the app runs",
                exec_id=ex.exec_id,
                idle_since_ms=start,
            )

    # ------------------------------------------------------------------ busy time
    def advance_busy(self, ex: Executor, time: int) -> None:
        """Integrate the executor's busy cores up to ``time`` (a time already passed adds nothing)."""
        if time > ex.busy_mark:
            if ex.running:
                core_ms = min(ex.running * self._app.task_cpus, ex.cores) * (time - ex.busy_mark)
                ex.busy_core_ms += core_ms
                tenants = self._app.tenants
                if tenants.charged:
                    tenants.split_busy(ex, core_ms)  # shared among the running tasks' tenants
            ex.busy_mark = time

    def task_started(self, ex: Executor, launch: int) -> None:
        """A tracked task attempt was launched on ``ex``."""
        if ex.removed_ms is not None:
            self.changed(ex.exec_id)
        if ex.running == 0:
            self.check_idle_finding(ex, launch)
            self.close_idle(ex, launch)
        self.advance_busy(ex, launch)
        ex.running += 1

    def task_ended(self, ex: Executor, launch: int, finish: int, tracked: bool, wrote_shuffle: bool) -> None:
        """A task attempt on ``ex`` ended; ``tracked``: its start was seen (it is counted running)."""
        if ex.removed_ms is not None:
            self.changed(ex.exec_id)
        lo = max(launch, ex.counted_from_ms)
        hi = finish if ex.removed_ms is None else min(finish, ex.removed_ms)
        if tracked:
            self.advance_busy(ex, hi)  # the count drops below, with `running`
        else:
            ex.untracked_core_ms += max(0, hi - lo) * self._app.task_cpus
        if wrote_shuffle and not ex.wrote_shuffle:
            ex.wrote_shuffle = True
            self.resegment(ex, finish)
        if ex.removed_ms is not None:
            if tracked and ex.running > 0:
                ex.running -= 1
                ex.busy_until = max(ex.busy_until, min(hi, ex.removed_ms))
                if ex.running == 0 and ex.busy_until < ex.removed_ms:
                    ex.idle_since = ex.seg_start = ex.busy_until
                    ex.seg_cause = self.idle_cause(ex)
                    self.close_idle(ex, ex.removed_ms)
            return
        if tracked:
            ex.running = max(0, ex.running - 1)
            ex.busy_until = max(ex.busy_until, finish)
            if ex.running == 0:
                self.open_idle(ex, ex.busy_until)
        elif ex.running == 0 and ex.idle_since is not None and launch >= ex.idle_since:
            # A task we never saw start (registered late, or its start was dropped): the part of
            # the idle stretch it covered was busy after all.
            self.close_idle(ex, launch)
            ex.busy_until = max(ex.busy_until, finish)
            self.open_idle(ex, ex.busy_until)

    # ------------------------------------------------------------------ reading
    def busy_core_ms(self, ex: Executor, until: int) -> int:
        """Busy core-ms of ``ex`` up to ``until`` (running tasks count as busy up to it)."""
        end = self.end_of(ex, until)
        busy = ex.busy_core_ms + ex.untracked_core_ms
        if ex.running and min(until, end) > ex.busy_mark:
            busy += min(ex.running * self._app.task_cpus, ex.cores) * (min(until, end) - ex.busy_mark)
        return min(busy, ex.cores * max(0, end - ex.counted_from_ms))

    @staticmethod
    def end_of(ex: Executor, until: int) -> int:
        """Where the lifetime of ``ex`` ends when measured to ``until``."""
        return ex.removed_ms if ex.removed_ms is not None else max(until, ex.counted_from_ms)

    @classmethod
    def counted_ms(cls, ex: Executor, until: int) -> int:
        """The part of the lifetime of ``ex`` its figures cover, measured to ``until`` (ms)."""
        return max(0, cls.end_of(ex, until) - ex.counted_from_ms)

    @staticmethod
    def idle_now_ms(ex: Executor, until: int) -> int:
        """Length of the open idle stretch of a live executor at ``until`` (0 when busy or removed)."""
        if ex.idle_since is None or ex.removed_ms is not None:
            return 0
        return max(0, max(until, ex.counted_from_ms) - ex.idle_since)

    def idle_by_cause_ms(self, ex: Executor, until: int) -> dict[IdleCause, int]:
        """Idle ms of ``ex`` by cause up to ``until``, the open segment included."""
        by_cause = dict(ex.idle_by_cause)
        if ex.idle_since is not None and ex.removed_ms is None:
            seg = max(0, self.end_of(ex, until) - ex.seg_start)
            by_cause[ex.seg_cause] = by_cause.get(ex.seg_cause, 0) + seg
        return by_cause
