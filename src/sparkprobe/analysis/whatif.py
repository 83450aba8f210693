"""The what-ifs (docs/advice.md): the measured stages at other static executor counts, and other policies.

:func:`what_if` is the quick replay of busy periods with another static executor count;
:func:`policy_whatif` runs the policy simulator (:mod:`sparkprobe.analysis.policy`) for the
recorded policy and each asked-for one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace

from sparkprobe.analysis.policy import Policy, PolicyError, Recording, policy_from_conf
from sparkprobe.analysis.policy.simulator import Memo, simulate_memo
from sparkprobe.model import ExecutorReport, PolicyFigures, PolicyRow, WhatIf, WhatIfRow

__all__ = ["policy_whatif", "what_if", "with_cost"]


def _as_recorded(policy: Policy) -> Policy:
    """The recorded policy, keyed apart from a what-if of the same keys in a memo."""
    return replace(policy, conf={"<recorded>": "1"})


def _periods(stages: Sequence[Sequence[int]]) -> list[list[int]]:
    """Merge overlapping stage spans into busy periods: [start, end, Σ task ms, max task ms]."""
    periods: list[list[int]] = []
    for start, end, _n, total, longest in sorted(tuple(s) for s in stages):
        if periods and start <= periods[-1][1]:
            p = periods[-1]
            p[1] = max(p[1], end)
            p[2] += total
            p[3] = max(p[3], longest)
        else:
            periods.append([start, end, total, longest])
    return periods


def _alive_cores(executors: Sequence[ExecutorReport], start: int, end: int, until: int) -> float:
    """Core-milliseconds of executors alive within [start, end]."""
    total = 0.0
    for ex in executors:
        lo = max(start, ex.added_ms)
        hi = min(end, ex.removed_ms if ex.removed_ms is not None else until)
        if hi > lo:
            total += ex.cores * (hi - lo)
    return total


def what_if(
    stages: Sequence[Sequence[int]],
    executors: Sequence[ExecutorReport],
    start_ms: int,
    end_ms: int,
    task_cpus: int,
) -> WhatIf | None:
    """Replay the measured stages with other executor counts; None without stages to replay.

    Model: the app alternates driver time (no stage running, unchanged by executors) and busy
    periods (overlapping stages merged). A busy period with ``S`` task slots takes
    ``max(longest task, Σ task time / S)``. Returned: the measured wall time and average executor
    count during busy periods, the model at that count (its error is the model's honesty check),
    and estimates for other counts with their allocated core-seconds under static allocation.
    ``stages`` are rows ``[start, end, tasks, Σ task ms, max task ms]``.
    """
    wall_ms = max(0, end_ms - start_ms)
    periods = _periods(stages)
    if not periods or not executors or wall_ms == 0:
        return None
    cores = Counter(ex.cores for ex in executors).most_common(1)[0][0] or 1
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
    rows = tuple(
        WhatIfRow(
            executors=n,
            est_wall_seconds=round(model(n * cores / task_cpus), 3),
            est_allocated_core_seconds=round(n * cores * model(n * cores / task_cpus), 3),
        )
        for n in counts
        if n <= max(peak, 1)
    )
    # No executor core alive during the busy periods (a local[...] app's driver runs the tasks):
    # there is no measured count to check the model at, so no figure rather than an infinity.
    at_measured = model(measured_slots) if measured_slots > 0 else None
    return WhatIf(
        measured_wall_seconds=wall_ms / 1000,
        measured_avg_executors=round(measured_execs, 3),
        driver_seconds=driver_ms / 1000,
        model_wall_seconds_at_measured=None if at_measured is None else round(at_measured, 3),
        model_error=None if at_measured is None else round(at_measured / (wall_ms / 1000) - 1, 4),
        executor_cores=cores,
        rows=rows,
    )


def with_cost(figures: PolicyFigures, price_core_hour: float | None) -> PolicyFigures:
    """``figures`` with its cost at ``price_core_hour`` (unchanged without a price)."""
    if price_core_hour is None:
        return figures
    return replace(figures, cost=round(figures.allocated_core_seconds / 3600 * price_core_hour, 6))


def policy_whatif(
    recording: Recording,
    groups: Sequence[Mapping[str, str]],
    measured: PolicyFigures,
    *,
    recorded_conf: Mapping[str, str],
    spark_version: str,
    price_core_hour: float | None = None,
    memo: Memo | None = None,
) -> tuple[tuple[PolicyRow, ...], str]:
    """The policy what-if rows (the recorded run first) and, when there are none, why.

    Each group is a set of Spark keys laid over the app's recorded conf; a group Spark would refuse
    (``validateSettings``) gets a row with its ``error`` instead of figures.
    """
    if recording.unavailable:
        return (), recording.unavailable
    if recording.recorded_policy is None:
        try:
            policy_from_conf(recorded_conf, spark_version=spark_version)
        except PolicyError as exc:
            return (), f"the recorded settings cannot be replayed: {exc}"
        return (), "the recorded settings cannot be replayed"
    baseline = with_cost(simulate_memo(memo, recording, _as_recorded(recording.recorded_policy)), price_core_hour)
    rows = [PolicyRow(
        conf=dict(recording.recorded_policy.conf),
        predicted=baseline,
        baseline=True,
        measured=with_cost(measured, price_core_hour),
    )]
    for group in groups:
        try:
            policy = policy_from_conf(recorded_conf, group, spark_version=spark_version)
        except PolicyError as exc:
            rows.append(PolicyRow(conf=dict(group), predicted=None, error=str(exc)))
            continue
        figures = simulate_memo(memo, recording, policy)
        rows.append(PolicyRow(conf=dict(group), predicted=with_cost(figures, price_core_hour)))
    return tuple(rows), ""
