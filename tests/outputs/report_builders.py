"""Typed reports for the output tests: real AppStates fed events, and the recorded real logs."""

from __future__ import annotations

import pytest

from conftest import EVENTLOGS
from sparkprobe.analysis.report import build_report
from sparkprobe.analysis.state import AppState
from sparkprobe.events import (
    AppEnd,
    AppStart,
    BlockUpdated,
    Conf,
    ExecutorAdded,
    ExecutorRemoved,
    RddInfo,
    StageCompleted,
    StageSubmitted,
    TaskEnd,
    TaskStart,
)
from sparkprobe.model import AppReport, Transport
from sparkprobe.offline import analyze_source
from sparkprobe.sources.eventlog import discover

RECORDED = EVENTLOGS / "recorded"
PUBLIC = EVENTLOGS / "public"
needs_logs = pytest.mark.skipif(not RECORDED.is_dir(), reason=f"recorded event logs not found at {RECORDED}")
needs_public = pytest.mark.skipif(not PUBLIC.is_dir(), reason=f"public event logs not found at {PUBLIC}")
RECORDED_LOGS = ["spark-3.5.9-lz4", "spark-3.5.9-snappy", "spark-4.0.1-plain", "spark-4.0.1-rolling-zstd"]
#: EMR, 32 executors, 136 idle_executor findings (the log issue 14 names).
EMR_LOG = "application_1640227485896_0002.zstd"
HOSTILE = "<script>alert(1)</script>"
PWN = "document.documentElement.setAttribute('data-pwned','1')"
BASE = 1_790_000_000_000  # epoch ms


def log_report(path: str) -> AppReport:
    """The report of the one application in a real event log."""
    (source,) = discover([path])
    return analyze_source(source)


def recorded(name: str) -> AppReport:
    """A recorded cache-loss log (4 executors, losses under dynamic allocation)."""
    return log_report(str(RECORDED / name))


def synthetic(
    n: int, *, name: str = "synthetic", ended: bool = True, hostile: bool = False, dynamic: bool = True,
    exec_prefix: str = "", transport: Transport | None = None,
) -> AppReport:
    """The report of :func:`synthetic_state` (measured to its end, or to the last event while running)."""
    state, now_ms = synthetic_state(
        n, name=name, ended=ended, hostile=hostile, dynamic=dynamic, exec_prefix=exec_prefix
    )
    return build_report(state, now_ms, transport=transport)


def synthetic_state(
    n: int, *, name: str = "synthetic", ended: bool = True, hostile: bool = False, dynamic: bool = True,
    exec_prefix: str = "",
) -> tuple[AppState, int | None]:
    """A real AppState fed n executors: tasks, a cached block each, every third removed; and its "now".

    Big ones run with dynamic allocation off: the analyzer's idle-cause check under dynamic
    allocation counts active executors for every executor at every executor change (O(n²) per event).
    ``hostile`` puts markup in every string the events carry; ``exec_prefix`` goes before each
    executor id.
    """
    evil = '"><svg onload=alert(1)><img src=x onerror="' + PWN + '">' if hostile else ""
    ids = [f"{exec_prefix}{i}" for i in range(n)]
    state = AppState()
    state.apply(AppStart(f"app-syn{evil}", name, f"me{evil}", BASE, "4.3.0"))
    state.apply(Conf({"spark.dynamicAllocation.enabled": str(dynamic).lower(),
                      "spark.dynamicAllocation.minExecutors": "0"}))
    rdd = RddInfo(7, f"cached{evil}", f"count at job.py:7{evil}", (), True, False, 1, n)
    for i, exec_id in enumerate(ids):
        state.apply(ExecutorAdded(exec_id, f"host-{i % 20}{evil}", 2, BASE + 1_000 + i * 50))
    stage_name = f"count at job.py:7 </title></svg>{evil}"
    t_stage = BASE + 1_000 + n * 50 + 1_000
    state.apply(StageSubmitted(0, 0, stage_name, n, t_stage, (rdd,)))
    for i, exec_id in enumerate(ids):
        launch = t_stage + (i % 10) * 100
        state.apply(TaskStart(i, 0, 0, i, i, 0, exec_id, launch))
        state.apply(BlockUpdated(f"rdd_7_{i}", exec_id, True, False, False, True, 1, 10_000 + i, 0))
        state.apply(TaskEnd(i, 0, 0, i, i, 0, exec_id, launch, launch + 5_000, "success", run_ms=5_000))
    t_done = t_stage + 7_000
    state.apply(StageCompleted(0, 0, stage_name, n, t_done, rdds=(rdd,)))
    for i in range(0, n, 3):
        state.apply(ExecutorRemoved(ids[i], t_done + 10_000 + i * 10, f"Executor killed by driver.{evil}"))
    state.apply(StageSubmitted(1, 0, f"second stage{evil}", 1, t_done + 20_000, ()))
    if ended:
        state.apply(StageCompleted(1, 0, f"second stage{evil}", 1, t_done + 25_000, f"boom{evil}"))
        state.apply(AppEnd(t_done + 40_000))
        return state, None
    return state, t_done + 40_000


#: How long each executor of :func:`idle_stretches` sits idle before its second task (seconds).
STRETCHES_S = (90, 120, 150)


def idle_stretches() -> AppReport:
    """Three executors idle 90 s, 120 s and 150 s (threshold 60 s), then busy to the end.

    Three more executors are removed holding a cached block each: 3 and 4 by failures (4 holds the
    bigger block), 5 for another reason. Idle seconds past the threshold: 30 + 60 + 90 = 180; the
    longest stretch is executor 2's, 150 s.
    """
    state = AppState()
    state.apply(AppStart("app-idle", "idle stretches", "me", BASE, "4.3.0"))
    state.apply(Conf({"spark.dynamicAllocation.enabled": "false"}))
    rdd = RddInfo(3, "kept", "persist at job.py:3", (), True, False, 1, 6)
    for i in range(6):
        state.apply(ExecutorAdded(str(i), f"host-{i}", 1, BASE + 1_000))
    state.apply(StageSubmitted(0, 0, "first", 6, BASE + 1_000, (rdd,)))
    for i in range(6):
        state.apply(TaskStart(i, 0, 0, i, i, 0, str(i), BASE + 1_000))
        state.apply(BlockUpdated(f"rdd_3_{i}", str(i), True, False, False, True, 1, 1_000 * (i + 1), 0))
        state.apply(TaskEnd(i, 0, 0, i, i, 0, str(i), BASE + 1_000, BASE + 2_000 + i * 1_000, "success"))
    state.apply(StageCompleted(0, 0, "first", 6, BASE + 7_000, rdds=(rdd,)))
    state.apply(ExecutorRemoved("3", BASE + 8_000, "Command exited with code 137"))
    state.apply(ExecutorRemoved("4", BASE + 9_000, "Command exited with code 137"))
    state.apply(ExecutorRemoved("5", BASE + 10_000, "Executor killed by driver."))
    end = BASE + 2_000 + 2 * 1_000 + STRETCHES_S[-1] * 1_000 + 1_000
    state.apply(StageSubmitted(1, 0, "second", 3, BASE + 2_000 + STRETCHES_S[0] * 1_000, ()))
    launches = [BASE + 2_000 + i * 1_000 + idle_s * 1_000 for i, idle_s in enumerate(STRETCHES_S)]
    for i, launch in enumerate(launches):
        state.apply(TaskStart(10 + i, 1, 0, i, i, 0, str(i), launch))
    for i, launch in enumerate(launches):
        state.apply(TaskEnd(10 + i, 1, 0, i, i, 0, str(i), launch, end, "success"))
    state.apply(StageCompleted(1, 0, "second", 3, end))
    state.apply(AppEnd(end + 500))
    return build_report(state)
