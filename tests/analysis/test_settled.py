"""A headline report sums removed executors once (analysis/settled.py) and gives every figure a
detail report gives by summing every executor: on real logs at many points, and when a settled
executor changes late (a task end, a memory peak, the same id added again, a profile sized late)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from conftest import EVENTLOGS
from sparkprobe.analysis.report import build_report
from sparkprobe.analysis.state import AppState
from sparkprobe.events import (
    AppStart,
    Conf,
    ExecutorAdded,
    ExecutorMetrics,
    ExecutorRemoved,
    ResourceProfileAdded,
    StageCompleted,
    StageSubmitted,
    TaskEnd,
    TaskStart,
)
from sparkprobe.sources.eventlog import LogReader, discover

LOGS = ["recorded", "public/eventlog_3nodes_12cores_exec_removed", "public/eventlog_4nodes_8cores_dynamic_alloc.zstd",
        "public/application_1640227485896_0002.zstd"]


def _headline_figures(state: AppState, now_ms: int, *, detail: bool) -> dict[str, Any]:
    r = build_report(state, now_ms, detail=detail)
    return {
        "cores": r.cores,
        # A detail report adds the memory advisor's evidence note: not a figure.
        "memory": replace(r.memory, notes=tuple(n for n in r.memory.notes if n in _BASE_NOTES(state, now_ms))),
        "active": r.executors_active,
        "idle": r.executors_idle,
        "idle_max": r.executor_idle_max_seconds,
        "cost": r.cost,
    }


def _BASE_NOTES(state: AppState, now_ms: int) -> tuple[str, ...]:  # noqa: N802 - reads as a constant
    from sparkprobe.analysis.memory import memory_figures

    return memory_figures(state, state.now_or_end(now_ms))[0].notes


def _agree(state: AppState, now_ms: int) -> None:
    headline = _headline_figures(state, now_ms, detail=False)
    assert headline == _headline_figures(state, now_ms, detail=True)


def _sources() -> list[Any]:
    out = []
    for name in LOGS:
        path = EVENTLOGS / name
        if path.exists():
            out += discover([path])
    return out


@pytest.mark.parametrize("source", _sources(), ids=lambda s: s.name)
def test_headline_reports_at_many_points_of_real_logs_agree_with_summing_every_executor(source: Any) -> None:
    events = list(LogReader(source).events())
    state = AppState()
    step = max(1, len(events) // 12)
    settled_any = False
    for i, event in enumerate(events):
        state.apply(event)
        if i % step == step - 1:
            _agree(state, state.last_time + 1234)
            settled_any = settled_any or len(state.executors.unsettled) < len(state.executors.by_id)
    _agree(state, state.last_time + 1234)
    removed = sum(1 for ex in state.executors.by_id.values() if ex.removed_ms is not None)
    assert settled_any or removed == 0


def _task(state: AppState, task_id: int, exec_id: str, launch: int, finish: int, *, start: bool = True) -> None:
    if start:
        state.apply(TaskStart(task_id, 0, 0, task_id, task_id, 0, exec_id, launch))
    state.apply(TaskEnd(task_id, 0, 0, task_id, task_id, 0, exec_id, launch, finish, "success", run_ms=finish - launch))


def test_a_settled_executor_that_changes_late_is_summed_again() -> None:
    state = AppState()
    state.apply(AppStart("app-s", "settle", "me", 0, "4.0.1"))
    state.apply(Conf({"spark.master": "yarn", "spark.executor.memory": "2g",
                      "spark.dynamicAllocation.enabled": "true"}))
    for exec_id in ("1", "2", "3"):
        state.apply(ExecutorAdded(exec_id, "h", 2, 100))
    state.apply(StageSubmitted(0, 0, "s", 10, 1_000))
    _task(state, 1, "1", 1_000, 5_000)
    _task(state, 2, "2", 1_000, 9_000)
    state.apply(ExecutorMetrics("1", {"JVMHeapMemory": 300 << 20}, 0, 0, "task"))
    state.apply(ExecutorRemoved("1", 20_000, "idle"))
    _agree(state, 25_000)
    assert "1" not in state.executors.unsettled  # settled at that report
    _agree(state, 26_000)
    _task(state, 3, "1", 2_000, 6_000, start=False)  # a late task end the start of which was never seen
    _agree(state, 27_000)
    state.apply(ExecutorMetrics("1", {"JVMHeapMemory": 900 << 20, "ProcessTreeJVMRSSMemory": 1 << 30}, 0, 0, "task"))
    _agree(state, 28_000)
    state.apply(ExecutorAdded("1", "h2", 4, 30_000))  # the same id again, a new executor
    _agree(state, 31_000)
    _task(state, 4, "1", 31_000, 33_000)
    state.apply(ExecutorRemoved("1", 40_000, "idle"))
    state.apply(ExecutorRemoved("2", 40_000, "Container killed by YARN for exceeding physical memory limits"))
    _agree(state, 41_000)
    state.apply(ResourceProfileAdded(0, {"memory": 8192, "cores": 2}))  # the default profile's sizes, late
    _agree(state, 42_000)
    state.apply(Conf({"spark.executor.memoryOverhead": "1g"}))
    _agree(state, 43_000)
    state.apply(StageCompleted(0, 0, "s", 10, 44_000))
    _agree(state, 45_000)
