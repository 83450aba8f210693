"""Allocation advice and the what-if replay: pure functions of an app's figures.

The model and the rules are documented in docs/advice.md; keep the two in step.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["advise", "spark_seconds", "what_if"]

#: Spark's default ``spark.dynamicAllocation.executorIdleTimeout`` (seconds).
_DEFAULT_IDLE_TIMEOUT_S = 60.0
#: Idle share of allocated core-seconds above which an app counts as over-provisioned.
_IDLE_SHARE = 0.30


def spark_seconds(value: str | None, default: float) -> float:
    """Spark time strings (``60s``, ``5min``, ``500ms``, ``2h``, bare numbers = seconds)."""
    if not value:
        return default
    text = value.strip().lower()
    for suffix, factor in (("ms", 0.001), ("min", 60.0), ("s", 1.0), ("m", 60.0), ("h", 3600.0), ("d", 86400.0)):
        if text.endswith(suffix):
            try:
                return float(text[: -len(suffix)]) * factor
            except ValueError:
                return default
    try:
        return float(text)
    except ValueError:
        return default


def _periods(stages: list[list[int]]) -> list[list[int]]:
    """Merge overlapping stage spans into busy periods: [start, end, Σ task ms, max task ms]."""
    periods: list[list[int]] = []
    for start, end, _n, total, longest in sorted(stages):
        if periods and start <= periods[-1][1]:
            p = periods[-1]
            p[1] = max(p[1], end)
            p[2] += total
            p[3] = max(p[3], longest)
        else:
            periods.append([start, end, total, longest])
    return periods


def _alive_cores(executors: dict[str, dict[str, Any]], start: int, end: int, until: int) -> float:
    """Core-milliseconds of executors alive within [start, end]."""
    total = 0.0
    for ex in executors.values():
        lo = max(start, ex["added_ms"])
        hi = min(end, ex["removed_ms"] if ex["removed_ms"] is not None else until)
        if hi > lo:
            total += ex["cores"] * (hi - lo)
    return total


def what_if(
    stages: list[list[int]],
    executors: dict[str, dict[str, Any]],
    start_ms: int,
    end_ms: int,
    task_cpus: int,
) -> dict[str, Any]:
    """Replay the measured stages with other executor counts.

    Model: the app alternates driver time (no stage running, unchanged by executors) and busy
    periods (overlapping stages merged). A busy period with ``S`` task slots takes
    ``max(longest task, Σ task time / S)``. Returned: the measured wall time and average executor
    count during busy periods, the model at that count (its error is the model's honesty check),
    and estimates for other counts with their allocated core-seconds under static allocation.
    """
    wall_ms = max(0, end_ms - start_ms)
    periods = _periods(stages)
    if not periods or not executors or wall_ms == 0:
        return {}
    cores = Counter(ex["cores"] for ex in executors.values()).most_common(1)[0][0] or 1
    busy_ms = sum(p[1] - p[0] for p in periods)
    driver_ms = max(0, wall_ms - busy_ms)
    core_ms = sum(_alive_cores(executors, p[0], p[1], end_ms) for p in periods)
    measured_slots = core_ms / busy_ms / task_cpus if busy_ms > 0 else 0.0
    measured_execs = measured_slots * task_cpus / cores

    def model(slots: float) -> float:
        if slots <= 0:
            return float("inf")
        return (driver_ms + sum(max(p[3], p[2] / slots) for p in periods)) / 1000

    peak = max(1, round(max(measured_execs, 1) * 2))
    counts = sorted({1, 2, 4, 8, 16, 32, 64, 128, 256, max(1, round(measured_execs)), peak})
    rows = [
        {
            "executors": n,
            "est_wall_seconds": round(model(n * cores / task_cpus), 3),
            "est_allocated_core_seconds": round(n * cores * model(n * cores / task_cpus), 3),
        }
        for n in counts
        if n <= max(peak, 1)
    ]
    at_measured = model(measured_slots)
    return {
        "measured_wall_seconds": wall_ms / 1000,
        "measured_avg_executors": round(measured_execs, 3),
        "driver_seconds": driver_ms / 1000,
        "model_wall_seconds_at_measured": round(at_measured, 3),
        "model_error": round(at_measured / (wall_ms / 1000) - 1, 4),
        "executor_cores": cores,
        "rows": rows,
    }


def _core_hours(core_seconds: float) -> float:
    return round(core_seconds / 3600, 4)


def advise(
    app: dict[str, Any], conf: dict[str, str], idle_segments: dict[str, list[list[Any]]]
) -> list[dict[str, Any]]:
    """Advice in Spark's own configuration keys, each with its evidence and estimated saving."""
    advice: list[dict[str, Any]] = []
    allocated = app["allocated_core_seconds"]
    if allocated <= 0:
        return advice
    idle = max(0.0, app["idle_core_seconds"])
    share = idle / allocated
    by_cause = app["idle_by_cause"]
    executors = app["executors"]
    cores = {e: v["cores"] for e, v in executors.items()}
    dynamic = app.get("dynamic_allocation") is True
    idle_timeout = spark_seconds(conf.get("spark.dynamicAllocation.executorIdleTimeout"), _DEFAULT_IDLE_TIMEOUT_S)
    max_alive = _max_concurrent(executors)

    if not dynamic and share >= _IDLE_SHARE:
        # What dynamic allocation would have released: every idle stretch past the idle timeout.
        releasable = sum(
            max(0.0, (end - start) / 1000 - idle_timeout) * cores.get(exec_id, 1)
            for exec_id, segs in idle_segments.items()
            for start, end, cause in segs
            if cause in ("driver_busy", "unneeded")
        )
        advice.append({
            "kind": "enable_dynamic_allocation",
            "settings": {
                "spark.dynamicAllocation.enabled": "true",
                "spark.dynamicAllocation.minExecutors": "0",
                "spark.dynamicAllocation.maxExecutors": str(max_alive),
                "spark.dynamicAllocation.executorIdleTimeout": f"{idle_timeout:g}s",
            },
            "message": (
                f"static allocation sat idle {share:.0%} of {allocated:,.0f} allocated core-seconds "
                f"(driver_busy {by_cause['driver_busy']:,.1f}s, unneeded {by_cause['unneeded']:,.1f} executor-s): "
                f"enable dynamic allocation (min 0, max {max_alive}); idle stretches past "
                f"{idle_timeout:g}s would have been released"
            ),
            "evidence": {"idle_share": round(share, 4), "driver_busy_seconds": by_cause["driver_busy"],
                         "unneeded_seconds": by_cause["unneeded"]},
            "saving_core_hours": _core_hours(releasable),
        })

    held = by_cause["cache_held"]
    if dynamic and held > 0:
        held_core_s = sum(
            (e - s) / 1000 * cores.get(exec_id, 1)
            for exec_id, segs in idle_segments.items() for s, e, cause in segs if cause == "cache_held"
        )
        recompute = app["cache_recompute_seconds"]
        cached_timeout = conf.get("spark.dynamicAllocation.cachedExecutorIdleTimeout", "infinity")
        if app["cache_lost_blocks"] and recompute < held_core_s:
            message = (
                f"executors held for their cache sat idle {held_core_s:,.1f} core-seconds, while rebuilding "
                f"the cache lost when they went cost {recompute:,.1f}s of task time: releasing is cheaper; "
                f"to keep the data too, migrate it on release"
            )
            settings = {"spark.decommission.enabled": "true",
                        "spark.storage.decommission.enabled": "true",
                        "spark.storage.decommission.rddBlocks.enabled": "true"}
            saving = held_core_s - recompute
        elif app["cache_lost_blocks"]:
            message = (
                f"losing cached blocks cost {recompute:,.1f}s of recompute, more than the {held_core_s:,.1f} "
                f"core-seconds the executors sat idle holding them: hold them longer than "
                f"cachedExecutorIdleTimeout={cached_timeout}, or migrate them on release"
            )
            settings = {"spark.dynamicAllocation.cachedExecutorIdleTimeout": "a value above the gap between jobs",
                        "spark.decommission.enabled": "true",
                        "spark.storage.decommission.rddBlocks.enabled": "true"}
            saving = recompute - held_core_s
        else:
            message = (
                f"executors held for their cache sat idle {held_core_s:,.1f} core-seconds "
                f"(cachedExecutorIdleTimeout={cached_timeout}); no cache was lost, so the rebuild cost "
                f"of releasing them is not measured yet: lower the timeout if reuse is rare, or migrate on release"
            )
            settings = {"spark.dynamicAllocation.cachedExecutorIdleTimeout": "lower than now",
                        "spark.storage.decommission.rddBlocks.enabled": "true"}
            saving = 0.0
        advice.append({
            "kind": "cache_held_tradeoff",
            "settings": settings,
            "message": message,
            "evidence": {"cache_held_core_seconds": round(held_core_s, 3), "recompute_seconds": recompute,
                         "cache_lost_blocks": app["cache_lost_blocks"]},
            "saving_core_hours": _core_hours(max(0.0, saving)),
        })

    if dynamic and by_cause["min_executors"] > 0.2 * max(app["idle_executor_seconds"], 1e-9):
        floor = conf.get("spark.dynamicAllocation.minExecutors", "0")
        advice.append({
            "kind": "lower_min_executors",
            "settings": {"spark.dynamicAllocation.minExecutors": "lower than " + floor},
            "message": f"the minExecutors={floor} floor kept executors idle {by_cause['min_executors']:,.1f}s",
            "evidence": {"min_executors_seconds": by_cause["min_executors"]},
            "saving_core_hours": _core_hours(by_cause["min_executors"] * _mode(cores.values())),
        })

    if dynamic and by_cause["shuffle_held"] > 0.2 * max(app["idle_executor_seconds"], 1e-9):
        advice.append({
            "kind": "shuffle_tracking_timeout",
            "settings": {"spark.dynamicAllocation.shuffleTracking.timeout": "e.g. 10min"},
            "message": (
                f"executors holding shuffle output sat idle {by_cause['shuffle_held']:,.1f}s: a shuffle "
                f"tracking timeout (or an external shuffle service) lets dynamic allocation release them"
            ),
            "evidence": {"shuffle_held_seconds": by_cause["shuffle_held"]},
            "saving_core_hours": _core_hours(by_cause["shuffle_held"] * _mode(cores.values())),
        })

    lifetimes = sorted(e["lifetime_seconds"] for e in executors.values())
    median_life = lifetimes[len(lifetimes) // 2] if lifetimes else 0.0
    if dynamic and lifetimes and app["executors_added"] > 2 * max_alive and median_life < 2 * idle_timeout:
        advice.append({
            "kind": "keep_static_for_bursts",
            "settings": {"spark.dynamicAllocation.enabled": "false",
                         "spark.executor.instances": str(max_alive)},
            "message": (
                f"{app['executors_added']} executors were started for at most {max_alive} alive at once, "
                f"median lifetime {lifetimes[len(lifetimes) // 2]:,.1f}s: short bursts pay executor start-up "
                f"each time; static allocation (or a longer executorIdleTimeout) fits better"
            ),
            "evidence": {"executors_added": app["executors_added"], "max_alive": max_alive},
            "saving_core_hours": 0.0,
        })
    return advice


def _mode(values: Any) -> int:
    found = Counter(values).most_common(1)
    return int(found[0][0]) if found else 1


def _max_concurrent(executors: dict[str, dict[str, Any]]) -> int:
    edges: list[tuple[int, int]] = []
    for ex in executors.values():
        edges.append((ex["added_ms"], 1))
        if ex["removed_ms"] is not None:
            edges.append((ex["removed_ms"], -1))
    alive = peak = 0
    for _, step in sorted(edges, key=lambda e: (e[0], e[1])):
        alive += step
        peak = max(peak, alive)
    return max(peak, 1)
