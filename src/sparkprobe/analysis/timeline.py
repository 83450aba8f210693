"""A bounded record of what happened when, for the HTML report.

Idle stretches per executor, cached bytes over time and stage spans. Event time only; memory is
capped per executor and per app, so a million tasks cost what a thousand cost: when a lane, or the
app as a whole, holds too many idle stretches to draw, the shortest are dropped by raising a floor
on the drawn length (reported as ``idle_min_ms``; the figures themselves never depend on it).
"""

from __future__ import annotations

from typing import Any

__all__ = ["Timeline"]


class Timeline:
    """Bounded time series for the report; see :meth:`to_dict` for the shape."""

    def __init__(
        self,
        max_segments: int = 400,
        max_points: int = 2000,
        max_stages: int = 2000,
        max_total_segments: int = 20_000,
    ) -> None:
        """Caps: idle segments kept per executor, cached-bytes points, stage spans, idle segments in all."""
        self.max_segments = max_segments
        self.max_points = max_points
        self.max_stages = max_stages
        self.max_total_segments = max_total_segments
        self.idle: dict[str, list[list[Any]]] = {}
        self._min_idle_ms: dict[str, int] = {}
        # Floor for every lane, raised when the app as a whole holds too many segments (1k
        # executors x 400 segments would otherwise cost ~60 MB and grow with the task count).
        self._app_min_idle_ms = 0
        self._segments = 0
        self.cached: list[list[int]] = []
        self._point_step = 1
        self._point_skip = 0
        self.stages: list[list[Any]] = []
        self._stage_index: dict[tuple[int, int], int] = {}
        self.stages_dropped = 0

    def idle_segment(self, exec_id: str, start: int, end: int, cause: str) -> None:
        """An executor was idle for ``cause`` from ``start`` to ``end`` (ms)."""
        if end <= start:
            return
        floor = max(self._min_idle_ms.get(exec_id, 0), self._app_min_idle_ms)
        if end - start < floor:
            return
        lane = self.idle.setdefault(exec_id, [])
        if lane and lane[-1][1] == start and lane[-1][2] == cause:
            lane[-1][1] = end
            return
        lane.append([start, end, cause])
        self._segments += 1
        if len(lane) > self.max_segments:
            # Too many short gaps to draw: raise this lane's floor until half are gone.
            floor = max(1, floor * 2)
            while True:
                kept = [s for s in lane if s[1] - s[0] >= floor]
                if len(kept) <= self.max_segments // 2:
                    break
                floor *= 2
            self._segments -= len(lane) - len(kept)
            lane[:] = kept
            self._min_idle_ms[exec_id] = floor
        if self._segments > self.max_total_segments:
            self._raise_app_floor()

    def _raise_app_floor(self) -> None:
        """Double the floor for all lanes until at most half of the app-wide cap is left."""
        floor = max(1, self._app_min_idle_ms * 2)
        while True:
            kept = {k: [s for s in lane if s[1] - s[0] >= floor] for k, lane in self.idle.items()}
            total = sum(len(lane) for lane in kept.values())
            if total <= self.max_total_segments // 2:
                break
            floor *= 2
        for k, lane in kept.items():
            self.idle[k][:] = lane
        self._segments = total
        self._app_min_idle_ms = floor

    def cached_bytes(self, time: int, total: int) -> None:
        """Cached bytes (all replicas) changed to ``total`` at ``time``."""
        if self.cached and self.cached[-1][0] == time:
            self.cached[-1][1] = total
            return
        self._point_skip += 1
        if self._point_skip < self._point_step and self.cached:
            self.cached[-1] = [time, total]
            return
        self._point_skip = 0
        self.cached.append([time, total])
        if len(self.cached) > self.max_points:
            self.cached = self.cached[::2]
            self._point_step *= 2

    def stage_started(self, stage_id: int, attempt: int, name: str, time: int) -> None:
        """A stage attempt was submitted."""
        if len(self.stages) >= self.max_stages:
            self.stages_dropped += 1
            return
        self._stage_index[(stage_id, attempt)] = len(self.stages)
        self.stages.append([stage_id, attempt, name, time, None, ""])

    def stage_ended(self, stage_id: int, attempt: int, time: int, failure: str) -> None:
        """A stage attempt completed (``failure`` empty on success)."""
        i = self._stage_index.pop((stage_id, attempt), None)
        if i is not None:
            self.stages[i][4] = time
            self.stages[i][5] = failure[:200]

    def to_dict(self) -> dict[str, Any]:
        """The series as plain lists (the report's ``timeline``).

        ``idle``: exec id → [[start_ms, end_ms, cause]]; ``cached_bytes``: [[time_ms, bytes]];
        ``stages``: [[stage_id, attempt, name, start_ms, end_ms|None, failure]].
        """
        return {
            "idle": {k: [list(s) for s in v] for k, v in self.idle.items()},
            "idle_min_ms": {k: max(self._min_idle_ms.get(k, 0), self._app_min_idle_ms) for k in self.idle}
            if self._app_min_idle_ms
            else dict(self._min_idle_ms),
            "cached_bytes": [list(p) for p in self.cached],
            "stages": [list(s) for s in self.stages],
            "stages_dropped": self.stages_dropped,
        }
