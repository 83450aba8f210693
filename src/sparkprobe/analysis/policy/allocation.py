"""Spark's dynamic-allocation rules, replayed in event time (docs/advice.md cites the sources).

:class:`TargetRule` is ``ExecutorAllocationManager``'s target arithmetic for the default resource
profile (``updateAndSyncNumExecutorsTarget``, ``addExecutors``, ``decrementExecutors``,
``doUpdateRequest``, ``onSchedulerBacklogged``, ``onSchedulerQueueEmpty``,
``maxNumExecutorsNeededPerResourceProfile``); :func:`idle_deadline` is ``ExecutorMonitor``'s
``Tracker.updateTimeout``. Both the simulator and the recorder (which replays the recorded run to
measure how long executors took to arrive once asked for) use them, so the two cannot disagree.

Spark evaluates its rules on a 100 ms polling thread (``intervalMillis``); :func:`next_poll` rounds a
deadline up to that grid, counted from the app's start.
"""

from __future__ import annotations

import math

from sparkprobe.analysis.policy.policy import INFINITE_MS, Policy

__all__ = ["POLL_MS", "TargetRule", "idle_deadline", "next_poll"]

#: ``ExecutorAllocationManager.intervalMillis``: the schedule() period.
POLL_MS = 100


def next_poll(start_ms: int, at_ms: int) -> int:
    """The first schedule() tick at or after ``at_ms`` (ticks every :data:`POLL_MS` from ``start_ms``)."""
    if at_ms <= start_ms:
        return start_ms
    return start_ms + -(-(at_ms - start_ms) // POLL_MS) * POLL_MS


def idle_deadline(policy: Policy, idle_since: int, has_cache: bool, has_shuffle: bool) -> int | None:
    """When an idle executor times out (``Tracker.updateTimeout``); None for never.

    The executor idle timeout applies without cached blocks or shuffle data; with either, the
    smaller of the cached idle timeout (when it has blocks) and the shuffle tracking timeout (when
    it has shuffle data), both counted from the same idle start.
    """
    if has_cache or (has_shuffle and policy.shuffle_tracking):
        cache_t = policy.cached_idle_timeout_ms if has_cache else INFINITE_MS
        shuffle_t = policy.shuffle_timeout_ms if has_shuffle and policy.shuffle_tracking else INFINITE_MS
        timeout = min(cache_t, shuffle_t)
    else:
        timeout = policy.idle_timeout_ms
    if timeout >= INFINITE_MS:
        return None
    return idle_since + timeout


class TargetRule:
    """The executor target of ``ExecutorAllocationManager`` and its exponential ramp-up."""

    __slots__ = ("add_time", "initializing", "policy", "target", "tasks_per_executor", "to_add")

    def __init__(self, policy: Policy, tasks_per_executor: int) -> None:
        """Start as Spark does: target = initial executors, one to add next, initializing."""
        self.policy = policy
        self.tasks_per_executor = max(1, tasks_per_executor)
        self.target = policy.initial_executors
        self.to_add = 1
        #: When executors should next be added (a backlog timer), None when not set.
        self.add_time: int | None = None
        #: Until the first stage is submitted or an executor times out, the target is left alone.
        self.initializing = True

    def stage_submitted(self, now: int) -> None:
        """``onStageSubmitted``: initializing ends and the backlog timer starts if unset."""
        self.initializing = False
        self.backlogged(now)

    def backlogged(self, now: int) -> None:
        """``onSchedulerBacklogged``: tasks wait; add executors after the backlog timeout."""
        if self.add_time is None:
            self.add_time = now + self.policy.backlog_timeout_ms

    def queue_empty(self) -> None:
        """``onSchedulerQueueEmpty``: no task waits any more; the ramp-up starts over."""
        self.add_time = None
        self.to_add = 1

    def max_needed(self, pending: int, running: int) -> int:
        """Executors that would run every pending and running task at once (``executorAllocationRatio`` applied)."""
        return math.ceil((pending + running) * self.policy.allocation_ratio / self.tasks_per_executor)

    def update(self, now: int, pending: int, running: int, executors: int) -> int:
        """One schedule() pass over the target; returns its change (positive: executors to ask for).

        ``executors``: executors registered now (``executorCountWithResourceProfile``).
        """
        if self.initializing:
            return 0
        policy = self.policy
        needed = self.max_needed(pending, running)
        if needed < self.target:
            old = self.target
            self.target = max(needed, policy.min_executors)
            self.to_add = 1
            return self.target - old
        if self.add_time is not None and now >= self.add_time:
            old = self.target
            if old >= policy.max_executors:
                self.to_add = 1
                return 0
            target = max(old, executors) + self.to_add
            target = min(target, needed)
            target = max(min(target, policy.max_executors), policy.min_executors)
            delta = target - old
            self.target = target
            if delta == 0:
                self.to_add = 1
                return 0
            if delta > 0:
                self.to_add = self.to_add * 2 if delta == self.to_add else 1
                self.add_time = now + policy.sustained_backlog_timeout_ms
            return delta
        return 0
