"""Allocation advice: pure functions of an app's typed figures and its recorded run.

The rules are documented in docs/advice.md; keep the two in step. :func:`advise` reads the
analyzer's figures (the core and cache ledgers, the executors, the idle segments) and, when the
run can be replayed, the policy simulator's predictions (:mod:`sparkprobe.analysis.policy`),
never the report it becomes part of. Every piece of advice:

- is about what Spark can do for this app: no dynamic-allocation advice for a ``local[...]``
  master (Spark never enables it there, ``Utils.isDynamicAllocationEnabled``);
- carries settings Spark accepts on the app's version, prerequisites included (the shuffle
  prerequisite of dynamic allocation; decommissioning only from Spark 3.1);
- is given only where its saving is positive: predicted by the simulator for its exact settings
  when the run can be replayed, else estimated from the idle segments.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from sparkprobe.analysis.policy import (
    DEFAULT_WALL_BOUND,
    Policy,
    PolicyError,
    Recording,
    choose,
    grid,
    policy_from_conf,
    with_prerequisites,
)
from sparkprobe.analysis.policy.policy import is_local_master, spark_line
from sparkprobe.analysis.policy.simulator import MAX_SIMULATED_TASKS, Memo, simulate_memo
from sparkprobe.analysis.settings import AppSettings
from sparkprobe.analysis.whatif import with_cost
from sparkprobe.model import (
    Advice,
    AdviceKind,
    CacheFigures,
    CoreFigures,
    ExecutorReport,
    IdleCause,
    IdleSegment,
    PolicyFigures,
    PolicyRow,
)

__all__ = ["GRID_UNITS", "PolicyContext", "advise", "recommended_row"]

#: Idle share of allocated core-seconds above which an app counts as over-provisioned.
_IDLE_SHARE = 0.30
#: Task units the advisor's whole grid may replay (each candidate gets its share, at least 2,000).
GRID_UNITS = 60_000
_DA = "spark.dynamicAllocation."


def _core_hours(core_seconds: float) -> float:
    return round(core_seconds / 3600, 4)


@dataclass(frozen=True, slots=True)
class PolicyContext:
    """What the advisor needs to replay the run: the recording, its baseline prediction, the bound."""

    recording: Recording
    #: The simulator's replay of the recorded policy (what candidates are compared with).
    baseline: PolicyFigures
    recorded_conf: Mapping[str, str]
    spark_version: str
    wall_bound: float = DEFAULT_WALL_BOUND
    price_core_hour: float | None = None
    #: Replays already made for this state (reused, never changed).
    memo: Memo | None = None
    #: Evaluate the advisor's grid (a finished app, or an event log); a running live app gets the
    #: rules' own replays only, so a report asked for mid-run stays cheap.
    grid: bool = True

    def predict(
        self, conf: Mapping[str, str], max_units: int = MAX_SIMULATED_TASKS
    ) -> tuple[Policy, PolicyFigures] | None:
        """The simulator's figures under ``conf`` laid over the app's; None when Spark would refuse it."""
        try:
            policy = policy_from_conf(self.recorded_conf, conf, spark_version=self.spark_version)
        except PolicyError:
            return None
        figures = simulate_memo(self.memo, self.recording, policy, max_units)
        return policy, with_cost(figures, self.price_core_hour)

    def saving_core_seconds(self, figures: PolicyFigures) -> float:
        """Allocated core-seconds saved against the replayed baseline."""
        return self.baseline.allocated_core_seconds - figures.allocated_core_seconds

    def wall_change(self, figures: PolicyFigures) -> float:
        """Relative change of the predicted wall time against the replayed baseline."""
        base = self.baseline.wall_seconds
        return figures.wall_seconds / base - 1 if base > 0 else 0.0


def _predicted_text(ctx: PolicyContext, figures: PolicyFigures) -> str:
    return (
        f"predicted: wall {figures.wall_seconds:,.1f}s ({ctx.wall_change(figures):+.0%}), "
        f"{figures.allocated_core_seconds:,.0f} core-seconds allocated "
        f"(now {ctx.baseline.allocated_core_seconds:,.0f}), {figures.cache_lost_blocks} cached blocks lost"
    )


def advise(
    cores: CoreFigures,
    cache: CacheFigures,
    executors: Sequence[ExecutorReport],
    executors_added: int,
    dynamic_allocation: bool | None,
    settings: AppSettings,
    idle_segments: Mapping[str, Sequence[IdleSegment]],
    policy: PolicyContext | None = None,
    *,
    conf: Mapping[str, str] | None = None,
    spark_version: str = "",
) -> tuple[Advice, ...]:
    """Advice in Spark's own configuration keys, each with its evidence and saving (docs/advice.md).

    ``conf`` (the app's recorded Spark keys) and ``spark_version`` decide the prerequisites its
    settings need; ``policy`` lets the simulator predict each one's saving.
    """
    allocated = cores.allocated_core_seconds
    if allocated <= 0 or is_local_master(settings.master):
        return ()
    rules = _Rules(cores, cache, executors, executors_added, dynamic_allocation is True, settings, idle_segments,
                   policy, conf or {}, spark_version)
    advice = [a for a in (
        rules.enable_dynamic_allocation(),
        rules.cache_held_tradeoff(),
        rules.lower_min_executors(),
        rules.shuffle_tracking_timeout(),
        rules.keep_static_for_bursts(),
    ) if a is not None]
    best = rules.allocation_policy()
    if best is not None and all(dict(a.conf) != dict(best.conf) for a in advice):
        advice.append(best)
    return tuple(advice)


def recommended_row(advice: Sequence[Advice]) -> PolicyRow | None:
    """The ``allocation_policy`` advice as a what-if row (flagged recommended), if there is one."""
    for a in advice:
        if a.kind is AdviceKind.ALLOCATION_POLICY:
            return PolicyRow(conf=dict(a.conf), predicted=a.predicted, recommended=True)
    return None


class _Rules:
    """The advice rules over one app's figures (one method per advice kind)."""

    def __init__(
        self,
        cores: CoreFigures,
        cache: CacheFigures,
        executors: Sequence[ExecutorReport],
        executors_added: int,
        dynamic: bool,
        settings: AppSettings,
        idle_segments: Mapping[str, Sequence[IdleSegment]],
        policy: PolicyContext | None,
        conf: Mapping[str, str],
        spark_version: str,
    ) -> None:
        self.cores = cores
        self.cache = cache
        self.executors = executors
        self.executors_added = executors_added
        self.dynamic = dynamic
        self.settings = settings
        self.segments = idle_segments
        self.ctx = policy
        self.exec_cores = {e.exec_id: e.cores for e in executors}
        self.max_alive = _max_concurrent(executors)
        self.conf = conf
        self.version = spark_version
        self.line = spark_line(spark_version)

    # ------------------------------------------------------------------ helpers
    def _simulated(
        self, kind: AdviceKind, settings: dict[str, str], message: str, evidence: dict[str, float],
        fallback_saving_core_s: float | None,
    ) -> Advice | None:
        """The advice with its simulated saving (or the fallback estimate without a replay); None if ≤ 0."""
        ctx = self.ctx
        conf = with_prerequisites(self.conf, dict(settings), self.version)
        if ctx is not None:
            predicted = ctx.predict(conf)
            if predicted is None:
                return None
            _, figures = predicted
            saving = ctx.saving_core_seconds(figures)
            if saving < 1.0 or ctx.wall_change(figures) > ctx.wall_bound:
                return None  # no saving, or one bought with a slower job than the bound allows
            return Advice(kind, conf, f"{message}; {_predicted_text(ctx, figures)}", evidence,
                          _core_hours(saving), conf=conf, predicted=figures)
        if fallback_saving_core_s is None or fallback_saving_core_s < 1.0:
            return None
        return Advice(kind, conf, message, evidence, _core_hours(fallback_saving_core_s), conf=conf)

    def segs(self, *causes: IdleCause) -> Iterable[tuple[str, float]]:
        """(executor id, seconds) of every kept idle segment of these causes."""
        for exec_id, segs in self.segments.items():
            for start, end, cause in segs:
                if cause in causes:
                    yield exec_id, (end - start) / 1000

    def gap_timeout(self) -> str | None:
        """A timeout just over the run's long driver gaps, as a Spark value (None without replay)."""
        ctx = self.ctx
        if ctx is None:
            return None
        gaps = sorted(r.delay_ms for r in ctx.recording.stages if r.delay_ms >= 1000)
        if not gaps:
            return None
        p90 = gaps[min(len(gaps) - 1, int(0.9 * len(gaps)))]
        return f"{max(5, math.ceil(p90 * 1.1 / 5000) * 5)}s"

    # ------------------------------------------------------------------ the rules
    def enable_dynamic_allocation(self) -> Advice | None:
        cores, by_cause = self.cores, self.cores.idle_by_cause
        allocated = cores.allocated_core_seconds
        share = max(0.0, cores.idle_core_seconds) / allocated
        if self.dynamic or share < _IDLE_SHARE or not self.conf:
            return None  # dynamic already, busy enough, or its settings unknown (static is not shown)
        idle_timeout = self.settings.executor_idle_timeout_s
        releasable = sum(
            max(0.0, seconds - idle_timeout) * self.exec_cores.get(exec_id, 1)
            for exec_id, seconds in self.segs(IdleCause.DRIVER_BUSY, IdleCause.UNNEEDED)
        )
        settings = {
            _DA + "enabled": "true",
            _DA + "minExecutors": "0",
            _DA + "maxExecutors": str(self.max_alive),
            _DA + "executorIdleTimeout": f"{idle_timeout:g}s",
        }
        message = (
            f"static allocation sat idle {share:.0%} of {allocated:,.0f} allocated core-seconds "
            f"(driver_busy {by_cause[IdleCause.DRIVER_BUSY]:,.1f}s, "
            f"unneeded {by_cause[IdleCause.UNNEEDED]:,.1f} executor-s): "
            f"enable dynamic allocation (min 0, max {self.max_alive}, idle timeout {idle_timeout:g}s)"
        )
        return self._simulated(
            AdviceKind.ENABLE_DYNAMIC_ALLOCATION, settings, message,
            {"idle_share": round(share, 4), "driver_busy_seconds": by_cause[IdleCause.DRIVER_BUSY],
             "unneeded_seconds": by_cause[IdleCause.UNNEEDED], "releasable_core_seconds": round(releasable, 3)},
            releasable,
        )

    def cache_held_tradeoff(self) -> Advice | None:
        by_cause, cache = self.cores.idle_by_cause, self.cache
        if not self.dynamic or by_cause[IdleCause.CACHE_HELD] <= 0:
            return None
        held_core_s = sum(s * self.exec_cores.get(e, 1) for e, s in self.segs(IdleCause.CACHE_HELD))
        recompute = cache.recompute_seconds
        cached_timeout = self.settings.cached_idle_timeout
        can_migrate = self.line is None or self.line >= (3, 1)
        migrate = {"spark.decommission.enabled": "true", "spark.storage.decommission.enabled": "true",
                   "spark.storage.decommission.rddBlocks.enabled": "true"}
        evidence = {"cache_held_core_seconds": round(held_core_s, 3), "recompute_seconds": recompute,
                    "cache_lost_blocks": cache.lost_blocks}
        if cache.lost_blocks and recompute > held_core_s:
            # Losing the cache cost more than holding it: hold it through the gaps.
            timeout = self.gap_timeout() or "infinity"
            settings = {_DA + "cachedExecutorIdleTimeout": timeout}
            message = (
                f"losing cached blocks cost {recompute:,.1f}s of recompute, more than the {held_core_s:,.1f} "
                f"core-seconds executors sat idle holding them: hold them longer "
                f"(cachedExecutorIdleTimeout {cached_timeout} → {timeout})"
            )
        elif can_migrate:
            # Holding costs more than rebuilding (or nothing was lost yet): release sooner, keep the data.
            settings = {**migrate, _DA + "cachedExecutorIdleTimeout": f"{self.settings.executor_idle_timeout_s:g}s"}
            message = (
                f"executors held for their cache sat idle {held_core_s:,.1f} core-seconds "
                f"(rebuilding what was lost cost {recompute:,.1f}s): release them after the executor idle "
                f"timeout and migrate their blocks to the executors that stay"
            )
        else:
            return None
        fallback = (recompute - held_core_s) if cache.lost_blocks and recompute > held_core_s else (
            held_core_s - recompute if cache.lost_blocks else None)
        return self._simulated(AdviceKind.CACHE_HELD_TRADEOFF, settings, message, evidence, fallback)

    def lower_min_executors(self) -> Advice | None:
        by_cause, cores = self.cores.idle_by_cause, self.cores
        floor_s = by_cause[IdleCause.MIN_EXECUTORS]
        if not self.dynamic or floor_s <= 0.2 * max(cores.idle_executor_seconds, 1e-9):
            return None
        floor = self.settings.min_executors
        if floor <= 0:
            return None
        target = floor // 2
        message = f"the minExecutors={floor} floor kept executors idle {floor_s:,.1f}s: lower it to {target}"
        return self._simulated(
            AdviceKind.LOWER_MIN_EXECUTORS, {_DA + "minExecutors": str(target)}, message,
            {"min_executors_seconds": floor_s},
            floor_s * _mode(self.exec_cores.values()) * (floor - target) / floor,
        )

    def shuffle_tracking_timeout(self) -> Advice | None:
        by_cause, cores = self.cores.idle_by_cause, self.cores
        held = by_cause[IdleCause.SHUFFLE_HELD]
        if not self.dynamic or held <= 0.2 * max(cores.idle_executor_seconds, 1e-9):
            return None
        if self.line is not None and self.line < (3, 0):
            return None  # shuffle tracking exists from Spark 3.0
        timeout = self.gap_timeout() or "600s"
        idle_timeout = self.settings.executor_idle_timeout_s
        beyond = sum(
            max(0.0, s - max(idle_timeout, float(timeout[:-1]))) * self.exec_cores.get(e, 1)
            for e, s in self.segs(IdleCause.SHUFFLE_HELD)
        )
        message = (
            f"executors holding shuffle output sat idle {held:,.1f}s: a shuffle tracking timeout of {timeout} "
            f"lets dynamic allocation release them once no running job needs their shuffle data"
        )
        return self._simulated(
            AdviceKind.SHUFFLE_TRACKING_TIMEOUT, {_DA + "shuffleTracking.timeout": timeout}, message,
            {"shuffle_held_seconds": held}, beyond,
        )

    def keep_static_for_bursts(self) -> Advice | None:
        lifetimes = sorted(e.lifetime_seconds for e in self.executors)
        if not self.dynamic or not lifetimes:
            return None
        median_life = lifetimes[len(lifetimes) // 2]
        idle_timeout = self.settings.executor_idle_timeout_s
        if self.executors_added <= 2 * self.max_alive or median_life >= 2 * idle_timeout:
            return None
        message = (
            f"{self.executors_added} executors were started for at most {self.max_alive} alive at once, "
            f"median lifetime {median_life:,.1f}s: short bursts pay executor start-up each time; "
            f"static allocation fits better"
        )
        static = {_DA + "enabled": "false"}
        if not _standalone(self.settings.master):  # the key does not apply to a standalone master
            static["spark.executor.instances"] = str(self.max_alive)
        return self._simulated(
            AdviceKind.KEEP_STATIC_FOR_BURSTS,
            static,
            message, {"executors_added": self.executors_added, "max_alive": self.max_alive},
            None,
        )

    def allocation_policy(self) -> Advice | None:
        """The cheapest policy of the grid within the wall bound (docs/advice.md, "The advisor's grid")."""
        ctx = self.ctx
        if ctx is None or not ctx.grid:
            return None
        confs = grid(ctx.recording, ctx.recorded_conf, ctx.spark_version)
        # The grid is replayed coarser than one what-if (its work is bounded, GRID_UNITS), the
        # baseline at the same resolution; the choice is then replayed in full.
        units = max(2_000, GRID_UNITS // max(1, len(confs)))
        recorded = ctx.recording.recorded_policy
        assert recorded is not None
        coarse = simulate_memo(ctx.memo, ctx.recording, replace(recorded, conf={"<recorded>": "1"}), units)
        coarse_base = with_cost(coarse, ctx.price_core_hour)
        candidates = []
        for conf in confs:
            predicted = ctx.predict(conf, max_units=units)
            if predicted is not None:
                candidates.append((conf, predicted[0], predicted[1]))
        best = choose(coarse_base, candidates, ctx.wall_bound)
        if best is None:
            return None
        conf = candidates[best][0]
        full = ctx.predict(conf)
        assert full is not None
        figures = full[1]
        saving = ctx.saving_core_seconds(figures)
        if choose(ctx.baseline, [(conf, full[0], figures)], ctx.wall_bound) is None:
            return None  # the full replay no longer saves enough within the bound
        message = (
            f"the cheapest of {len(candidates)} policies within +{ctx.wall_bound:.0%} wall time: "
            + ", ".join(f"{k}={v}" for k, v in conf.items())
            + f"; {_predicted_text(ctx, figures)}"
        )
        evidence = {
            "baseline_wall_seconds": ctx.baseline.wall_seconds,
            "baseline_allocated_core_seconds": ctx.baseline.allocated_core_seconds,
            "candidates": len(candidates),
            "wall_bound": ctx.wall_bound,
        }
        return Advice(AdviceKind.ALLOCATION_POLICY, dict(conf), message, evidence, _core_hours(saving),
                      conf=dict(conf), predicted=figures)


def _standalone(master: str) -> bool:
    return master.strip().startswith(("spark://", "local-cluster"))


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

