"""The what-if replay: the measured stages replayed with other static executor counts (docs/advice.md)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sparkprobe.model import ExecutorReport, WhatIf, WhatIfRow

__all__ = ["what_if"]


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
    at_measured = model(measured_slots)
    return WhatIf(
        measured_wall_seconds=wall_ms / 1000,
        measured_avg_executors=round(measured_execs, 3),
        driver_seconds=driver_ms / 1000,
        model_wall_seconds_at_measured=round(at_measured, 3),
        model_error=round(at_measured / (wall_ms / 1000) - 1, 4),
        executor_cores=cores,
        rows=rows,
    )
