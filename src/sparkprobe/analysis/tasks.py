"""The task ledger: attempts running now, and the sums finished attempts leave behind.

No per-task history is kept (invariant 3): a finished attempt only adds to counters.
"""

from __future__ import annotations

from dataclasses import dataclass

from sparkprobe.events import TaskEnd, TaskStart
from sparkprobe.model import TaskStatus

__all__ = ["RunningTask", "TaskLedger"]


@dataclass(slots=True)
class RunningTask:
    """A task attempt started and not ended yet."""

    exec_id: str
    launch: int
    stage_key: tuple[int, int]
    partition: int
    #: Lost cached blocks this attempt has cached again (its run time is then recompute cost).
    rebuilds: int = 0


class TaskLedger:
    """Running attempts by task id, and counts and sums of the finished ones."""

    def __init__(self) -> None:
        self.running: dict[int, RunningTask] = {}
        self.by_status: dict[TaskStatus, int] = dict.fromkeys(TaskStatus, 0)
        self.run_ms = 0
        self.cpu_ns = 0
        self.gc_ms = 0
        self.shuffle_read_bytes = 0
        self.shuffle_write_bytes = 0
        self.spilled_bytes = 0
        self.input_bytes = 0
        self.output_bytes = 0

    def started(self, e: TaskStart) -> None:
        """Track a launched attempt (the caller checked its executor and the cap)."""
        partition = e.partition if e.partition >= 0 else e.index
        self.running[e.task_id] = RunningTask(e.exec_id, e.launch, (e.stage_id, e.stage_attempt), partition)

    def ended(self, e: TaskEnd) -> TaskStatus:
        """Count an ended attempt; its status (an unknown one counts as ``failed``)."""
        try:
            status = TaskStatus(e.status)
        except ValueError:
            status = TaskStatus.FAILED
        self.by_status[status] += 1
        if status is TaskStatus.RESUBMITTED:
            # A finished map task reported again because its output was lost: it did not run again.
            return status
        self.run_ms += max(0, e.finish - e.launch)
        self.cpu_ns += e.cpu_ns
        self.gc_ms += e.gc_ms
        self.shuffle_read_bytes += e.shuffle_read_bytes
        self.shuffle_write_bytes += e.shuffle_write_bytes
        self.spilled_bytes += e.disk_spilled
        self.input_bytes += e.input_bytes
        self.output_bytes += e.output_bytes
        return status
