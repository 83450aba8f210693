"""The advisor's grid of candidate policies, and the choice of the cheapest within a wall-time bound.

The grid (docs/advice.md, "The advisor's grid") is built from the run itself: its most executors
alive at once ``E``, its recorded settings, and its driver gaps (the delays between a stage's end
and the next stage's submission, which dynamic allocation must outlast to keep executors):

- static allocation with ``spark.executor.instances`` = 1, 2, 4, ... up to ``2E``, and ``E`` (on a
  standalone master, where the key does not apply, static allocation itself);
- dynamic allocation with ``maxExecutors`` in {``E``, ``ceil(E/2)``}, ``minExecutors`` in {0, the
  recorded floor}, ``executorIdleTimeout`` in {recorded, 60 s, just over the run's long gaps},
  and when the run caches: ``cachedExecutorIdleTimeout`` in {recorded, infinity, just over the
  long gaps}, with and without decommissioning with RDD block migration (Spark 3.1+);
- every dynamic candidate carries its shuffle prerequisite when the app's conf lacks one:
  ``spark.dynamicAllocation.shuffleTracking.enabled=true`` from Spark 3.0 (its default only from
  3.4), ``spark.shuffle.service.enabled=true`` before 3.0.

:func:`choose` keeps the candidates whose predicted wall time is within ``1 + bound`` of the
simulator's replay of the recorded policy (the same model on both sides, so its bias cancels) and
takes the cheapest: by cost when a core-hour price is set, else by allocated core-seconds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from sparkprobe.analysis.policy.policy import Policy, PolicyError, policy_from_conf, spark_line
from sparkprobe.analysis.policy.recorder import Recording
from sparkprobe.model import PolicyFigures

__all__ = ["DEFAULT_WALL_BOUND", "MIN_SAVING_SHARE", "choose", "grid", "with_prerequisites"]

#: The advisor's default bound on the predicted wall time: at most 10 % above the recorded policy's.
DEFAULT_WALL_BOUND = 0.10
#: A candidate must save at least this share of the baseline's cost (and 1 core-second) to be advised.
MIN_SAVING_SHARE = 0.01

_DA = "spark.dynamicAllocation."


def _seconds(ms: float) -> str:
    return f"{max(1, math.ceil(ms / 1000))}s"


def _gap_cover_ms(rec: Recording) -> int | None:
    """A timeout just over the run's long driver gaps (the 90th percentile of gaps of 1 s or more)."""
    gaps = sorted(r.delay_ms for r in rec.stages if r.delay_ms >= 1000)
    if not gaps:
        return None
    p90 = gaps[min(len(gaps) - 1, int(0.9 * len(gaps)))]
    cover = math.ceil(p90 * 1.1 / 5000) * 5000
    return min(cover, 600_000)


def with_prerequisites(recorded: Mapping[str, str], conf: dict[str, str], spark_version: str) -> dict[str, str]:
    """``conf`` plus the shuffle prerequisite dynamic allocation needs on this Spark line, when missing."""
    if conf.get(_DA + "enabled") != "true":
        return conf
    try:
        policy_from_conf(recorded, conf, spark_version=spark_version, master="")
        return conf
    except PolicyError:
        pass
    line = spark_line(spark_version)
    if line is not None and line < (3, 0):
        extra = {"spark.shuffle.service.enabled": "true"}
    else:
        extra = {_DA + "shuffleTracking.enabled": "true"}
    return {**conf, **extra}


def grid(rec: Recording, recorded: Mapping[str, str], spark_version: str) -> list[dict[str, str]]:
    """The candidate policies for this run, as Spark keys (the prerequisites included)."""
    base = rec.recorded_policy
    peak = max(1, rec.peak_executors)
    out: list[dict[str, str]] = []
    if rec.standalone:
        # spark.executor.instances does not apply to a standalone master: one static candidate.
        out.append({_DA + "enabled": "false"})
    else:
        sizes = sorted({n for n in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512) if n <= 2 * peak} | {peak})
        for n in sizes:
            out.append({_DA + "enabled": "false", "spark.executor.instances": str(n)})
    cover = _gap_cover_ms(rec)
    caches = bool(rec.rdds)
    line = spark_line(spark_version)
    rec_min = base.min_executors if base is not None and base.dynamic else 0
    rec_idle = base.idle_timeout_ms if base is not None else 60_000
    rec_cached = base.cached_idle_timeout_ms if base is not None else None
    rec_initial = base.initial_executors if base is not None and base.dynamic else 0
    idles = {_seconds(rec_idle), "60s"}
    if cover is not None:
        idles.add(_seconds(cover))
    cached_options: set[str | None] = {None}
    if caches:
        cached_options |= {"infinity"}
        if cover is not None:
            cached_options.add(_seconds(cover))
        if rec_cached is not None and rec_cached < 2**31 * 1000:
            cached_options.add(_seconds(rec_cached))
    decommission_options = [False, True] if caches and (line is None or line >= (3, 1)) else [False]
    for max_exec in sorted({peak, max(1, math.ceil(peak / 2))}):
        for min_exec in sorted({0, min(rec_min, max_exec)}):
            initial = min(max(rec_initial, min_exec), max_exec)
            for idle in sorted(idles, key=lambda v: int(v[:-1])):
                for cached in sorted(cached_options, key=lambda v: (v is not None, v or "")):
                    for decommission in decommission_options:
                        conf = {
                            _DA + "enabled": "true",
                            _DA + "minExecutors": str(min_exec),
                            _DA + "maxExecutors": str(max_exec),
                            _DA + "initialExecutors": str(initial),
                            _DA + "executorIdleTimeout": idle,
                        }
                        if cached is not None:
                            conf[_DA + "cachedExecutorIdleTimeout"] = cached
                        if decommission:
                            conf["spark.decommission.enabled"] = "true"
                            conf["spark.storage.decommission.enabled"] = "true"
                            conf["spark.storage.decommission.rddBlocks.enabled"] = "true"
                        out.append(with_prerequisites(recorded, conf, spark_version))
    return out


def _price(figures: PolicyFigures) -> float:
    return figures.cost if figures.cost is not None else figures.allocated_core_seconds


def choose(
    baseline: PolicyFigures,
    candidates: Sequence[tuple[Mapping[str, str], Policy, PolicyFigures]],
    wall_bound: float,
) -> int | None:
    """Index of the cheapest candidate within the wall bound that saves enough; None: keep the recorded policy."""
    limit = baseline.wall_seconds * (1 + wall_bound)
    best: int | None = None
    for i, (conf, _policy, figures) in enumerate(candidates):
        if figures.wall_seconds > limit:
            continue
        if best is None:
            best = i
            continue
        b = candidates[best][2]
        key = (_price(figures), figures.wall_seconds, len(conf))
        if key < (_price(b), b.wall_seconds, len(candidates[best][0])):
            best = i
    if best is None:
        return None
    saving = _price(baseline) - _price(candidates[best][2])
    if saving <= 0 or saving < MIN_SAVING_SHARE * _price(baseline):
        return None
    if candidates[best][2].cost is None and saving < 1.0:
        return None
    return best
