"""The fleet's worker processes: each reads whole logs into rows (:func:`~sparkprobe.fleet.work.analyze_task`).

The pool itself (spawned workers, an address-space cap, a dead worker's log a failure of its own)
is :class:`sparkprobe._workers.Workers`, which ``analyze --jobs`` uses too.
"""

from __future__ import annotations

import functools

from sparkprobe._workers import Workers
from sparkprobe.fleet.work import LogResult, LogTask, analyze_task
from sparkprobe.sources.eventlog import ReadLimits

__all__ = ["WorkerPool"]


def _died(task: LogTask, how: str) -> LogResult:
    return LogResult(task.identity, None, f"the worker reading it died ({how})", 0.0)


class WorkerPool(Workers[LogTask, LogResult]):
    """``jobs`` fleet workers; a log that needs more than ``memory_bytes`` of address space fails alone."""

    def __init__(self, jobs: int, read_limits: ReadLimits | None = None, memory_bytes: int = 0) -> None:
        self.read_limits = read_limits or ReadLimits()
        super().__init__(
            jobs, functools.partial(analyze_task, read_limits=self.read_limits), _died,
            memory_bytes=memory_bytes, name="sparkprobe-fleet-worker",
        )
