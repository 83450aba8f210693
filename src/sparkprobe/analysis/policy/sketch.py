"""A bounded, deterministic summary of task durations: log-spaced buckets with a count and a sum each.

The policy simulator replays a stage's tasks on other executors, so it needs their durations, not
only their sum; keeping every duration would grow with the task count (invariant 3). A
:class:`DurationSketch` keeps, per bucket ``[g^k, g^(k+1))`` ms (``g`` = :data:`GROWTH`), how many
durations fell in it and their exact sum, so a stage of a million tasks costs at most
:data:`MAX_BUCKETS` pairs. Expanding it back gives the right count, the exact total and durations
within a factor ``g`` of the real ones (each bucket's durations are replaced by their mean, which
lies in the bucket), whatever the order the tasks came in. docs/advice.md states the error this
brings to a replayed stage.
"""

from __future__ import annotations

import math
from array import array

__all__ = ["GROWTH", "MAX_BUCKETS", "DurationSketch"]

#: Ratio between the bounds of consecutive buckets: durations in one bucket differ by less than 25 %.
GROWTH = 1.25
_LOG_GROWTH = math.log(GROWTH)
#: Buckets a sketch may hold: 1 ms to ~27 days (durations beyond fold into the last bucket).
MAX_BUCKETS = 96


def _bucket(ms: int) -> int:
    if ms <= 1:
        return 0
    return min(MAX_BUCKETS - 1, 1 + int(math.log(ms) / _LOG_GROWTH))


class DurationSketch:
    """Counts and sums of durations (integer ms) per log-spaced bucket; exact count, sum and max."""

    __slots__ = ("_counts", "_sums", "count", "max_ms", "min_ms", "total_ms")

    def __init__(self) -> None:
        """An empty sketch."""
        self._counts: dict[int, int] = {}
        self._sums: dict[int, int] = {}
        self.count = 0
        self.total_ms = 0
        self.max_ms = 0
        self.min_ms = 0

    def add(self, ms: int) -> None:
        """Record one duration (negative ones count as 0)."""
        ms = max(0, ms)
        k = _bucket(ms)
        self._counts[k] = self._counts.get(k, 0) + 1
        self._sums[k] = self._sums.get(k, 0) + ms
        self.min_ms = ms if self.count == 0 else min(self.min_ms, ms)
        self.count += 1
        self.total_ms += ms
        self.max_ms = max(self.max_ms, ms)

    @property
    def mean_ms(self) -> float:
        """The mean duration (0 when empty)."""
        return self.total_ms / self.count if self.count else 0.0

    def frozen(self) -> FrozenSketch:
        """An immutable, compact copy (what a completed stage keeps)."""
        keys = sorted(self._counts)
        return FrozenSketch(
            array("q", (self._counts[k] for k in keys)),
            array("q", (self._sums[k] for k in keys)),
            self.max_ms,
            self.min_ms,
        )


class FrozenSketch:
    """A completed stage's sketch: per occupied bucket (ascending) a count and a sum, and the extremes."""

    __slots__ = ("counts", "max_ms", "min_ms", "sums")

    def __init__(self, counts: array[int], sums: array[int], max_ms: int, min_ms: int) -> None:
        """Built by :meth:`DurationSketch.frozen`."""
        self.counts = counts
        self.sums = sums
        self.max_ms = max_ms
        self.min_ms = min_ms

    @property
    def count(self) -> int:
        """How many durations it holds."""
        return sum(self.counts)

    @property
    def total_ms(self) -> int:
        """Their exact sum."""
        return sum(self.sums)

    @property
    def mean_ms(self) -> float:
        """Their mean (0 when empty)."""
        n = self.count
        return self.total_ms / n if n else 0.0

    def durations(self) -> list[int]:
        """The durations back, longest first: each bucket's count at its mean, sums kept exact.

        The longest duration is given back exactly (it bounds a stage's length however many
        executors run it); the rest of its bucket shares what remains of the bucket's sum.
        """
        out: list[int] = []
        last = len(self.counts) - 1
        for i in range(last, -1, -1):
            n, total = self.counts[i], self.sums[i]
            if n <= 0:
                continue
            if i == last:
                out.append(self.max_ms)
                n -= 1
                total -= self.max_ms
                if n == 0:
                    continue
            base, extra = divmod(max(0, total), n)
            out.extend(base + 1 if j < extra else base for j in range(n))
        return out
