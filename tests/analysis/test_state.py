"""The pure analyzer on hand-made event sequences: every figure checked against arithmetic."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import summary
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
    UnpersistRDD,
)
from sparkprobe.model import IdleCause

DYNAMIC = Conf({"spark.dynamicAllocation.enabled": "true", "spark.dynamicAllocation.minExecutors": "0"})


def rdd(rdd_id: int, replication: int = 1) -> RddInfo:
    return RddInfo(rdd_id, f"rdd{rdd_id}", f"count at job.py:{rdd_id}", (), True, False, replication, 4)


def task(state: AppState, task_id: int, exec_id: str, launch: int, finish: int, *, stage: int = 0,
         partition: int = 0, status: str = "success", run_ms: int | None = None, started: bool = True) -> None:
    if started:
        state.apply(TaskStart(task_id, stage, 0, partition, partition, 0, exec_id, launch))
    state.apply(TaskEnd(task_id, stage, 0, partition, partition, 0, exec_id, launch, finish, status,
                        run_ms=finish - launch if run_ms is None else run_ms))


def block(exec_id: str, block_id: str, mem: int, disk: int = 0, replication: int = 1) -> BlockUpdated:
    return BlockUpdated(block_id, exec_id, mem > 0, disk > 0, False, True, replication, mem, disk)


def started_app(conf: Conf | None = None) -> AppState:
    state = AppState()
    state.apply(AppStart("app-1", "test", "me", 0, "4.3.0"))
    if conf is not None:
        state.apply(conf)
    state.apply(ExecutorAdded("1", "h", 2, 1_000))
    state.apply(ExecutorAdded("2", "h", 2, 1_000))
    return state


def test_busy_idle_and_allocated_core_seconds() -> None:
    state = started_app()
    state.apply(StageSubmitted(0, 0, "s", 3, 2_000, (rdd(5),)))
    # Events in the order Spark posts them: by time.
    state.apply(TaskStart(1, 0, 0, 0, 0, 0, "1", 2_000))
    task(state, 3, "2", 2_000, 2_500, partition=2)
    state.apply(TaskStart(2, 0, 0, 1, 1, 0, "1", 3_000))  # overlaps task 1: still one busy stretch
    task(state, 2, "1", 3_000, 4_000, partition=1, started=False)
    task(state, 1, "1", 2_000, 5_000, started=False)
    state.apply(StageCompleted(0, 0, "s", 3, 5_000))
    state.apply(AppEnd(11_000))
    s = summary(state)
    assert s["allocated_core_seconds"] == 2 * 10 + 2 * 10
    assert s["busy_core_seconds"] == (3 + 1) + 0.5
    assert s["idle_core_seconds"] == 40 - 4.5
    execs = s["executors"]
    # Executor 1: idle 1 s before its first task, busy 2..5 s, idle 5..11 s.
    assert execs["1"]["idle_seconds"] == 1 + 6
    assert execs["2"]["idle_seconds"] == 1 + 8.5
    assert sum(s["idle_by_cause"].values()) == s["idle_executor_seconds"] == 16.5
    # Static allocation: idle while no stage ran is driver_busy, idle during the stage unneeded.
    assert s["idle_by_cause"]["driver_busy"] == 1 + 6 + 1 + 6
    assert s["idle_by_cause"]["unneeded"] == 2.5
    assert s["tasks"]["success"] == 3 and s["tasks"]["running"] == 0


def test_open_intervals_are_measured_to_now_while_running() -> None:
    state = started_app()
    task(state, 1, "1", 2_000, 3_000)
    s = summary(state, now_ms=5_000)
    assert s["running"] and s["executors_active"] == 2 and s["executors_idle"] == 2
    assert s["executors"]["1"]["idle_seconds"] == 1 + 2
    assert s["executor_idle_max_seconds"] == 4  # executor 2, idle since it was added


def test_executor_loss_loses_only_blocks_without_another_replica() -> None:
    state = started_app(DYNAMIC)
    state.apply(StageSubmitted(0, 0, "s", 2, 1_000, (rdd(3), rdd(4, replication=2))))
    state.apply(block("1", "rdd_3_0", 100))
    state.apply(block("1", "rdd_3_1", 50, 7))
    state.apply(block("1", "rdd_4_0", 10))
    state.apply(block("2", "rdd_4_0", 10))
    state.apply(block("2", "rdd_3_2", 30))
    assert summary(state)["cached_bytes"] == {"memory": 200, "disk": 7}
    state.apply(ExecutorRemoved("1", 9_000, "Executor killed by driver."))
    s = summary(state)
    assert (s["cache_lost_blocks"], s["cache_lost_bytes"], s["cache_replicas_lost"]) == (2, 157, 1)
    assert s["cached_bytes"] == {"memory": 40, "disk": 0} and s["cached_blocks"] == 2
    (loss,) = s["losses"]
    assert loss["cause"] == "dynamic_allocation" and loss["reason"] == "Executor killed by driver."
    assert loss["rdds"] == [{"rdd_id": 3, "name": "rdd3", "callsite": "count at job.py:3", "first_stage": "s",
                             "blocks": 2, "memory_bytes": 150, "disk_bytes": 7}]
    assert s["removed_by_reason"] == {"dynamic_allocation": 1}
    assert [f["kind"] for f in s["findings"]] == ["cache_lost"]


def test_recompute_is_counted_and_charged_to_the_rebuilding_task() -> None:
    state = started_app(DYNAMIC)
    state.apply(StageSubmitted(0, 0, "s", 1, 1_000, (rdd(3),)))
    state.apply(block("1", "rdd_3_0", 100))
    state.apply(ExecutorRemoved("1", 9_000, "Executor killed by driver."))
    state.apply(StageSubmitted(1, 0, "again", 1, 10_000, (rdd(3),)))
    state.apply(TaskStart(9, 1, 0, 0, 0, 0, "2", 10_000))
    state.apply(block("2", "rdd_3_0", 100))
    state.apply(TaskEnd(9, 1, 0, 0, 0, 0, "2", 10_000, 10_800, "success", run_ms=700))
    s = summary(state)
    assert (s["cache_recomputed_blocks"], s["cache_recompute_seconds"]) == (1, 0.7)
    # Caching it once more is not another recompute.
    state.apply(block("2", "rdd_3_0", 100))
    assert summary(state)["cache_recomputed_blocks"] == 1


def test_unpersisted_rdds_are_not_lost() -> None:
    state = started_app(DYNAMIC)
    state.apply(block("1", "rdd_7_0", 100))
    state.apply(UnpersistRDD(7))
    state.apply(ExecutorRemoved("1", 9_000, "Executor killed by driver."))
    s = summary(state)
    assert s["cache_lost_blocks"] == 0 and s["losses"] == [] and s["cached_bytes"]["memory"] == 0


def test_decommission_with_a_copy_elsewhere_counts_as_migrated() -> None:
    state = started_app(DYNAMIC)
    state.apply(StageSubmitted(0, 0, "s", 1, 1_000, (rdd(3),)))
    state.apply(block("1", "rdd_3_0", 100))
    state.apply(block("2", "rdd_3_0", 100))  # the migrated copy
    state.apply(ExecutorRemoved("1", 9_000, "Executor decommission."))
    s = summary(state)
    assert (s["cache_migrated_blocks"], s["cache_lost_blocks"], s["cache_replicas_lost"]) == (1, 0, 0)


def test_cache_held_idle_under_dynamic_allocation() -> None:
    state = started_app(DYNAMIC)
    state.apply(block("1", "rdd_3_0", 100))  # dated at the last event: 1 s
    state.apply(ExecutorRemoved("1", 6_000, "Executor killed by driver."))
    state.apply(AppEnd(6_000))
    s = summary(state)
    assert s["executors"]["1"]["idle_by_cause"]["cache_held"] == 5
    assert s["executors"]["2"]["idle_by_cause"]["driver_busy"] == 5
    assert set(s["idle_by_cause"]) == {c.value for c in IdleCause}


def test_resubmitted_and_unseen_tasks_do_not_double_count() -> None:
    state = started_app()
    task(state, 1, "1", 2_000, 3_000)
    state.apply(TaskEnd(1, 0, 0, 0, 0, 0, "1", 2_000, 3_000, "resubmitted"))
    task(state, 2, "2", 4_000, 6_000, started=False)  # its start was never seen
    state.apply(AppEnd(10_000))
    s = summary(state)
    assert s["busy_core_seconds"] == 1 + 2
    assert s["tasks"]["resubmitted"] == 1 and s["tasks"]["success"] == 2
    assert s["executors"]["2"]["idle_seconds"] == 3 + 4


def test_tasks_on_a_removed_executor_stop_running() -> None:
    state = started_app()
    state.apply(TaskStart(1, 0, 0, 0, 0, 0, "1", 2_000))
    state.apply(TaskStart(2, 0, 0, 1, 1, 0, "2", 2_000))
    state.apply(TaskStart(3, 0, 0, 2, 2, 0, "2", 2_000))
    state.apply(ExecutorRemoved("1", 4_000, "Command exited with code 137"))
    state.apply(ExecutorRemoved("2", 4_000, "Command exited with code 137"))
    # Spark's TaskEnd (ExecutorLostFailure) follows the removal: task 1 is clamped at it; task 2
    # ended 200 ms before it, and task 3's end never comes: app end settles it.
    state.apply(TaskEnd(1, 0, 0, 0, 0, 0, "1", 2_000, 4_500, "failed", "ExecutorLostFailure"))
    state.apply(TaskEnd(2, 0, 0, 1, 1, 0, "2", 2_000, 3_800, "failed", "ExecutorLostFailure"))
    assert state.running_tasks() == 1
    state.apply(AppEnd(5_000))
    assert state.running_tasks() == 0
    s = summary(state)
    assert s["executors"]["1"]["busy_core_seconds"] == 2  # clamped at the removal
    assert s["executors"]["1"]["idle_seconds"] == 1
    assert s["executors"]["2"]["busy_core_seconds"] == 1.8 + 2
    assert s["executors"]["2"]["idle_seconds"] == 1
    assert s["removed_by_reason"] == {"failure": 2} and s["tasks"]["failed"] == 2


def test_idle_finding_once_per_stretch() -> None:
    state = started_app()
    state.limits = type(state.limits)(idle_threshold_s=3)
    state.check_idle(now_ms=5_000)
    state.check_idle(now_ms=6_000)
    kinds = [f["exec_id"] for f in summary(state)["findings"] if f["kind"] == "idle_executor"]
    assert kinds == ["1", "2"]


def test_block_manager_removed_first_waits_for_the_executor_removal_cause() -> None:
    from sparkprobe.events import BlockManagerRemoved

    state = started_app(DYNAMIC)
    state.apply(block("1", "rdd_3_0", 100))
    state.apply(BlockManagerRemoved("1", 8_990))
    state.apply(ExecutorRemoved("1", 9_000, "Executor killed by driver."))
    (loss,) = summary(state)["losses"]
    assert (loss["cause"], loss["blocks"], loss["bytes"]) == ("dynamic_allocation", 1, 100)


def test_executors_removed_after_the_app_end_end_with_the_app() -> None:
    # Spark posts the removals of a shutdown after ApplicationEnd; the event log keeps them, the
    # listener (closed at the end) never sends them. Both must give the same figures: none of them.
    from sparkprobe.events import BlockManagerRemoved

    state = started_app(DYNAMIC)
    state.apply(StageSubmitted(0, 0, "s", 1, 1_000, (rdd(3),)))
    state.apply(block("1", "rdd_3_0", 100))
    state.apply(AppEnd(10_000))
    before = summary(state)
    state.apply(BlockManagerRemoved("1", 10_050))
    state.apply(ExecutorRemoved("1", 10_100, "Worker shutting down"))
    state.apply(block("2", "rdd_3_0", 0))
    state.apply(UnpersistRDD(3))
    after = summary(state)
    assert after == before
    assert after["cache_lost_blocks"] == 0 and after["executors_removed"] == 0
    assert after["cached_bytes"] == {"memory": 100, "disk": 0}
    assert after["executors"]["1"]["removed_ms"] is None


def test_idle_threshold_from_the_apps_own_conf() -> None:
    state = started_app(Conf({"spark.sparkprobe.idleThreshold": "2s"}))
    state.check_idle(now_ms=2_500)
    assert summary(state)["findings"] == []
    state.check_idle(now_ms=3_000)
    assert [(f["exec_id"], f["time_ms"]) for f in summary(state)["findings"]] == [("1", 3_000), ("2", 3_000)]


def test_removal_order_between_spark_threads_does_not_change_any_figure() -> None:
    # Spark posts BlockManagerRemoved and ExecutorRemoved from two threads: a listener's queue and
    # the event log's may see them in either order. Every figure must come out the same.
    from sparkprobe.events import BlockManagerRemoved

    def run(order: list[object]) -> dict[str, object]:
        state = started_app(DYNAMIC)
        state.apply(StageSubmitted(0, 0, "s", 1, 1_000, (rdd(3),)))
        state.apply(block("1", "rdd_3_0", 100))
        for event in order:
            state.apply(event)  # type: ignore[arg-type]
        state.apply(AppEnd(12_000))
        return summary(state)

    removed = ExecutorRemoved("1", 9_000, "Executor killed by driver.")
    gone = BlockManagerRemoved("1", 9_001)
    assert run([removed, gone]) == run([gone, removed])


def test_timeline_caps_idle_segments_per_lane_and_per_app() -> None:
    """Many executors with many short gaps: both caps hold, and exactly the gaps at or above the floor stay."""
    from sparkprobe.analysis.timeline import Timeline

    tl = Timeline(max_segments=40, max_total_segments=1_000)
    made: dict[str, list[list[Any]]] = {}
    for exec_id in range(200):
        t = 0
        for gap in range(1, 101 + 10 * exec_id, 1 + exec_id // 20):  # later lanes: fewer, longer gaps
            tl.idle_segment(str(exec_id), t, t + gap, IdleCause.UNNEEDED)
            made.setdefault(str(exec_id), []).append([t, t + gap, "unneeded"])
            t += gap + 10
    out = tl.to_report().to_json()
    lanes, floors = out["idle"], out["idle_min_ms"]
    assert 250 <= sum(len(v) for v in lanes.values()) <= 1_000
    assert all(len(v) <= 40 for v in lanes.values())
    assert set(floors) == set(lanes) == set(made)
    for exec_id, segs in lanes.items():
        assert segs == [s for s in made[exec_id] if s[1] - s[0] >= floors[exec_id]]


def test_timeline_keeps_every_segment_under_the_caps() -> None:
    """Below the caps nothing is dropped and no floor is reported."""
    from sparkprobe.analysis.timeline import Timeline

    tl = Timeline(max_segments=40, max_total_segments=1_000)
    for exec_id in range(10):
        for i in range(30):
            tl.idle_segment(str(exec_id), i * 100, i * 100 + 50, IdleCause.CACHE_HELD)
    out = tl.to_report().to_json()
    assert sum(len(v) for v in out["idle"].values()) == 300
    assert out["idle_min_ms"] == {}


def test_overlapping_driver_stamps_never_make_more_cores_busy_than_exist() -> None:
    """One core, each task's finish stamped after the next one launched (result fetch): busy <= allocated."""
    state = AppState()
    state.apply(AppStart("app-1", "test", "me", 0, "4.3.0"))
    state.apply(ExecutorAdded("1", "h", 1, 0))
    state.apply(StageSubmitted(0, 0, "s", 10, 0, ()))
    for i in range(10):  # task i runs 100 ms from i*100, finish stamped 30 ms into task i+1
        state.apply(TaskStart(i, 0, 0, i, i, 0, "1", i * 100))
        if i > 0:
            task(state, i - 1, "1", (i - 1) * 100, i * 100 + 30, partition=i - 1, started=False)
    task(state, 9, "1", 900, 1_000, partition=9, started=False)
    state.apply(StageCompleted(0, 0, "s", 10, 1_000))
    state.apply(AppEnd(2_000))
    s = summary(state)
    assert s["tasks"]["run_seconds"] == pytest.approx(9 * 0.13 + 0.1)  # task time: the spans, as Spark shows
    assert s["busy_core_seconds"] == pytest.approx(1.0)  # the core was busy 0..1 s, never twice
    assert s["idle_core_seconds"] == pytest.approx(1.0) == s["idle_executor_seconds"]


def test_settings_read_at_every_event_follow_a_later_conf() -> None:
    # The settings the ledgers read at every event come from the conf as it is now: a second conf
    # line (the listener's replay after a reconnect, a late conf) must change them.
    def settings(state: AppState) -> tuple[int, int, bool | None, bool]:
        return state.task_cpus, state.min_executors, state.dynamic_allocation, state.shuffle_tracking

    state = AppState()
    state.apply(Conf({"spark.task.cpus": "1", "spark.dynamicAllocation.enabled": "false"}))
    assert settings(state) == (1, 0, False, False)
    threshold = state.idle_threshold_ms
    state.apply(Conf({
        "spark.task.cpus": "2",
        "spark.dynamicAllocation.enabled": "true",
        "spark.dynamicAllocation.minExecutors": "3",
        "spark.dynamicAllocation.shuffleTracking.enabled": "true",
        "spark.dynamicAllocation.executorIdleTimeout": "600s",
    }))
    assert settings(state) == (2, 3, True, True)
    assert state.idle_threshold_ms == 750_000 != threshold  # the timeout plus a quarter of it
