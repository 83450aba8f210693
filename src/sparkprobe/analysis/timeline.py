"""A bounded record of what happened when, for the HTML report.

Idle stretches per executor, cached bytes over time and stage spans. Event time only; memory is
capped per executor and per app, so a million tasks cost what a thousand cost: when a lane, or the
app as a whole, holds too many idle stretches to draw, the shortest are dropped by raising a floor
on the drawn length (reported as ``idle_min_ms``; the figures themselves never depend on it).
"""

from __future__ import annotations

from array import array
from typing import Any

from sparkprobe.model import IdleCause, IdleSegment, StageSpan, TimelineReport

__all__ = ["Timeline"]


class _Lane:
    """One executor's idle segments, packed: 17 bytes per segment instead of ~140 as Python lists."""

    __slots__ = ("causes", "ends", "floor", "starts")

    def __init__(self) -> None:
        self.starts = array("q")
        self.ends = array("q")
        self.causes = bytearray()  # index into Timeline._cause_names
        self.floor = 0  # this lane's own shortest kept segment (ms), raised by the per-lane cap

    def __len__(self) -> int:
        return len(self.starts)

    def keep_at_least(self, floor: int) -> int:
        """Drop segments shorter than ``floor`` ms; return how many were dropped."""
        kept = [i for i in range(len(self.starts)) if self.ends[i] - self.starts[i] >= floor]
        dropped = len(self.starts) - len(kept)
        if dropped:
            self.starts = array("q", (self.starts[i] for i in kept))
            self.ends = array("q", (self.ends[i] for i in kept))
            self.causes = bytearray(self.causes[i] for i in kept)
        return dropped

    def count_at_least(self, floor: int) -> int:
        return sum(1 for s, e in zip(self.starts, self.ends, strict=True) if e - s >= floor)


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
        self._lanes: dict[str, _Lane] = {}
        self._cause_names: list[IdleCause] = []
        self._cause_codes: dict[IdleCause, int] = {}
        # Floor for every lane, raised when the app as a whole holds too many segments (1k
        # executors x 400 segments would otherwise grow with the task count to tens of MB).
        self._app_min_idle_ms = 0
        self._segments = 0
        self.cached: list[list[int]] = []
        self._point_step = 1
        self._point_skip = 0
        self.stages: list[list[Any]] = []
        self._stage_index: dict[tuple[int, int], int] = {}
        self.stages_dropped = 0

    @property
    def idle(self) -> dict[str, tuple[IdleSegment, ...]]:
        """Idle segments kept, exec id → ``((start_ms, end_ms, cause), ...)`` (a fresh copy)."""
        names = self._cause_names
        return {
            k: tuple((s, e, names[c]) for s, e, c in zip(lane.starts, lane.ends, lane.causes, strict=True))
            for k, lane in self._lanes.items()
        }

    def idle_segment(self, exec_id: str, start: int, end: int, cause: IdleCause) -> None:
        """An executor was idle for ``cause`` from ``start`` to ``end`` (ms)."""
        if end <= start:
            return
        lane = self._lanes.get(exec_id)
        if lane is None:
            lane = self._lanes[exec_id] = _Lane()
        floor = max(lane.floor, self._app_min_idle_ms)
        if end - start < floor:
            return
        code = self._cause_codes.get(cause)
        if code is None:
            if len(self._cause_names) >= 255:
                return  # a byte per cause; the analyzer has a handful
            code = self._cause_codes[cause] = len(self._cause_names)
            self._cause_names.append(cause)
        if lane.starts and lane.ends[-1] == start and lane.causes[-1] == code:
            lane.ends[-1] = end
            return
        lane.starts.append(start)
        lane.ends.append(end)
        lane.causes.append(code)
        self._segments += 1
        if len(lane) > self.max_segments:
            # Too many short gaps to draw: raise this lane's floor until half are gone.
            floor = max(1, floor * 2)
            while lane.count_at_least(floor) > self.max_segments // 2:
                floor *= 2
            self._segments -= lane.keep_at_least(floor)
            lane.floor = floor
        if self._segments > self.max_total_segments:
            self._raise_app_floor()

    def _raise_app_floor(self) -> None:
        """Double the floor for all lanes until at most half of the app-wide cap is left."""
        floor = max(1, self._app_min_idle_ms * 2)
        while sum(lane.count_at_least(floor) for lane in self._lanes.values()) > self.max_total_segments // 2:
            floor *= 2
        self._segments -= sum(lane.keep_at_least(floor) for lane in self._lanes.values())
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

    def to_report(self) -> TimelineReport:
        """The series as the report's immutable :class:`~sparkprobe.model.TimelineReport`."""
        return TimelineReport(
            idle=self.idle,
            idle_min_ms={
                k: max(lane.floor, self._app_min_idle_ms)
                for k, lane in self._lanes.items()
                if lane.floor or self._app_min_idle_ms
            },
            cached_bytes=tuple((t, b) for t, b in self.cached),
            stages=tuple(_stage_span(s) for s in self.stages),
            stages_dropped=self.stages_dropped,
        )


def _stage_span(row: list[Any]) -> StageSpan:
    stage_id, attempt, name, start, end, failure = row
    return (stage_id, attempt, name, start, end, failure)
