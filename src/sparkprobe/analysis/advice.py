"""Allocation advice: pure functions of an app's typed figures.

The rules are documented in docs/advice.md; keep the two in step. :func:`advise` reads the
analyzer's figures (the core and cache ledgers, the executors, the idle segments), never the
report it becomes part of.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from sparkprobe.analysis.settings import AppSettings
from sparkprobe.model import (
    Advice,
    AdviceKind,
    CacheFigures,
    CoreFigures,
    ExecutorReport,
    IdleCause,
    IdleSegment,
)

__all__ = ["advise"]

#: Idle share of allocated core-seconds above which an app counts as over-provisioned.
_IDLE_SHARE = 0.30


def _core_hours(core_seconds: float) -> float:
    return round(core_seconds / 3600, 4)


def advise(
    cores: CoreFigures,
    cache: CacheFigures,
    executors: Sequence[ExecutorReport],
    executors_added: int,
    dynamic_allocation: bool | None,
    settings: AppSettings,
    idle_segments: Mapping[str, Sequence[IdleSegment]],
) -> tuple[Advice, ...]:
    """Advice in Spark's own configuration keys, each with its evidence and estimated saving."""
    advice: list[Advice] = []
    allocated = cores.allocated_core_seconds
    if allocated <= 0:
        return ()
    idle = max(0.0, cores.idle_core_seconds)
    share = idle / allocated
    by_cause = cores.idle_by_cause
    exec_cores = {e.exec_id: e.cores for e in executors}
    dynamic = dynamic_allocation is True
    idle_timeout = settings.executor_idle_timeout_s
    max_alive = _max_concurrent(executors)

    if not dynamic and share >= _IDLE_SHARE:
        # What dynamic allocation would have released: every idle stretch past the idle timeout.
        releasable = sum(
            max(0.0, (end - start) / 1000 - idle_timeout) * exec_cores.get(exec_id, 1)
            for exec_id, segs in idle_segments.items()
            for start, end, cause in segs
            if cause in (IdleCause.DRIVER_BUSY, IdleCause.UNNEEDED)
        )
        advice.append(Advice(
            kind=AdviceKind.ENABLE_DYNAMIC_ALLOCATION,
            settings={
                "spark.dynamicAllocation.enabled": "true",
                "spark.dynamicAllocation.minExecutors": "0",
                "spark.dynamicAllocation.maxExecutors": str(max_alive),
                "spark.dynamicAllocation.executorIdleTimeout": f"{idle_timeout:g}s",
            },
            message=(
                f"static allocation sat idle {share:.0%} of {allocated:,.0f} allocated core-seconds "
                f"(driver_busy {by_cause[IdleCause.DRIVER_BUSY]:,.1f}s, "
                f"unneeded {by_cause[IdleCause.UNNEEDED]:,.1f} executor-s): "
                f"enable dynamic allocation (min 0, max {max_alive}); idle stretches past "
                f"{idle_timeout:g}s would have been released"
            ),
            evidence={"idle_share": round(share, 4), "driver_busy_seconds": by_cause[IdleCause.DRIVER_BUSY],
                      "unneeded_seconds": by_cause[IdleCause.UNNEEDED]},
            saving_core_hours=_core_hours(releasable),
        ))

    held = by_cause[IdleCause.CACHE_HELD]
    if dynamic and held > 0:
        held_core_s = sum(
            (e - s) / 1000 * exec_cores.get(exec_id, 1)
            for exec_id, segs in idle_segments.items() for s, e, cause in segs if cause is IdleCause.CACHE_HELD
        )
        recompute = cache.recompute_seconds
        cached_timeout = settings.cached_idle_timeout
        settings_out: dict[str, str]
        if cache.lost_blocks and recompute < held_core_s:
            message = (
                f"executors held for their cache sat idle {held_core_s:,.1f} core-seconds, while rebuilding "
                f"the cache lost when they went cost {recompute:,.1f}s of task time: releasing is cheaper; "
                f"to keep the data too, migrate it on release"
            )
            settings_out = {"spark.decommission.enabled": "true",
                            "spark.storage.decommission.enabled": "true",
                            "spark.storage.decommission.rddBlocks.enabled": "true"}
            saving = held_core_s - recompute
        elif cache.lost_blocks:
            message = (
                f"losing cached blocks cost {recompute:,.1f}s of recompute, more than the {held_core_s:,.1f} "
                f"core-seconds the executors sat idle holding them: hold them longer than "
                f"cachedExecutorIdleTimeout={cached_timeout}, or migrate them on release"
            )
            settings_out = {"spark.dynamicAllocation.cachedExecutorIdleTimeout": "a value above the gap between jobs",
                            "spark.decommission.enabled": "true",
                            "spark.storage.decommission.rddBlocks.enabled": "true"}
            saving = recompute - held_core_s
        else:
            message = (
                f"executors held for their cache sat idle {held_core_s:,.1f} core-seconds "
                f"(cachedExecutorIdleTimeout={cached_timeout}); no cache was lost, so the rebuild cost "
                f"of releasing them is not measured yet: lower the timeout if reuse is rare, or migrate on release"
            )
            settings_out = {"spark.dynamicAllocation.cachedExecutorIdleTimeout": "lower than now",
                            "spark.storage.decommission.rddBlocks.enabled": "true"}
            saving = 0.0
        advice.append(Advice(
            kind=AdviceKind.CACHE_HELD_TRADEOFF,
            settings=settings_out,
            message=message,
            evidence={"cache_held_core_seconds": round(held_core_s, 3), "recompute_seconds": recompute,
                      "cache_lost_blocks": cache.lost_blocks},
            saving_core_hours=_core_hours(max(0.0, saving)),
        ))

    if dynamic and by_cause[IdleCause.MIN_EXECUTORS] > 0.2 * max(cores.idle_executor_seconds, 1e-9):
        floor = settings.min_executors_text
        advice.append(Advice(
            kind=AdviceKind.LOWER_MIN_EXECUTORS,
            settings={"spark.dynamicAllocation.minExecutors": "lower than " + floor},
            message=f"the minExecutors={floor} floor kept executors idle {by_cause[IdleCause.MIN_EXECUTORS]:,.1f}s",
            evidence={"min_executors_seconds": by_cause[IdleCause.MIN_EXECUTORS]},
            saving_core_hours=_core_hours(by_cause[IdleCause.MIN_EXECUTORS] * _mode(exec_cores.values())),
        ))

    if dynamic and by_cause[IdleCause.SHUFFLE_HELD] > 0.2 * max(cores.idle_executor_seconds, 1e-9):
        advice.append(Advice(
            kind=AdviceKind.SHUFFLE_TRACKING_TIMEOUT,
            settings={"spark.dynamicAllocation.shuffleTracking.timeout": "e.g. 10min"},
            message=(
                f"executors holding shuffle output sat idle {by_cause[IdleCause.SHUFFLE_HELD]:,.1f}s: a shuffle "
                f"tracking timeout (or an external shuffle service) lets dynamic allocation release them"
            ),
            evidence={"shuffle_held_seconds": by_cause[IdleCause.SHUFFLE_HELD]},
            saving_core_hours=_core_hours(by_cause[IdleCause.SHUFFLE_HELD] * _mode(exec_cores.values())),
        ))

    lifetimes = sorted(e.lifetime_seconds for e in executors)
    median_life = lifetimes[len(lifetimes) // 2] if lifetimes else 0.0
    if dynamic and lifetimes and executors_added > 2 * max_alive and median_life < 2 * idle_timeout:
        advice.append(Advice(
            kind=AdviceKind.KEEP_STATIC_FOR_BURSTS,
            settings={"spark.dynamicAllocation.enabled": "false",
                      "spark.executor.instances": str(max_alive)},
            message=(
                f"{executors_added} executors were started for at most {max_alive} alive at once, "
                f"median lifetime {median_life:,.1f}s: short bursts pay executor start-up "
                f"each time; static allocation (or a longer executorIdleTimeout) fits better"
            ),
            evidence={"executors_added": executors_added, "max_alive": max_alive},
            saving_core_hours=0.0,
        ))
    return tuple(advice)


def _mode(values: Iterable[int]) -> int:
    found = Counter(values).most_common(1)
    return int(found[0][0]) if found else 1


def _max_concurrent(executors: Sequence[ExecutorReport]) -> int:
    edges: list[tuple[int, int]] = []
    for ex in executors:
        edges.append((ex.added_ms, 1))
        if ex.removed_ms is not None:
            edges.append((ex.removed_ms, -1))
    alive = peak = 0
    for _, step in sorted(edges, key=lambda e: (e[0], e[1])):
        alive += step
        peak = max(peak, alive)
    return max(peak, 1)
