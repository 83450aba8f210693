"""Rank a fleet's apps, group them, and flag regressions against each app name's own history.

Pure functions over :class:`~sparkprobe.fleet.row.AppRow` iterables, in one pass each and in
memory bounded by what they return (the top ``n`` of each ranking, one aggregate per group, the
last :data:`HISTORY` runs of the app name being read), so a store of any size can be summarised.

Rankings (docs/fleet.md, "Ranking"): idle core-hours, cache lost, recompute time (lost cache
rebuilt plus uncached reuse), and cost when a core-hour price is given. Idle GiB-hours join them
once the report carries memory figures.

Regressions: an app whose figure is at least ``factor`` times the median of the previous
:data:`HISTORY` runs of the same app name (at least :data:`MIN_HISTORY` of them), with the median
taken no lower than the rule's ``floor`` so that a history of near-zero values does not make
every small change a regression. In-progress apps are neither judged nor part of a history.
"""

from __future__ import annotations

import heapq
import statistics
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from sparkprobe.fleet.row import AppRow

__all__ = [
    "GROUP_BY",
    "HISTORY",
    "MIN_HISTORY",
    "RANKINGS",
    "RULES",
    "Group",
    "Ranked",
    "Regression",
    "Rule",
    "Summary",
    "find_regressions",
    "reverse_text",
    "summarize",
]

#: Runs of an app name a figure is compared with, and how many must exist.
HISTORY: Final = 10
MIN_HISTORY: Final = 3


def recompute_seconds(row: AppRow) -> float:
    """Task time spent computing data again: lost cache rebuilt, plus uncached lineages reused."""
    return row.recompute_seconds + row.uncached_recompute_seconds


#: Ranking name → what ranks an app (higher first). ``cost`` is added when a price is given.
RANKINGS: Final[dict[str, Callable[[AppRow], float]]] = {
    "idle_core_seconds": lambda r: r.idle_core_seconds,
    "cache_lost_bytes": lambda r: float(r.cache_lost_bytes),
    "recompute_seconds": recompute_seconds,
}

#: Grouping name → the row's key for it.
GROUP_BY: Final[dict[str, Callable[[AppRow], str]]] = {
    "app_name": lambda r: r.app_name,
    "user": lambda r: r.user,
    "queue": lambda r: r.queue,
}


@dataclass(frozen=True, slots=True)
class Ranked:
    """One app in a ranking: its key, name and the figure it is ranked by."""

    app_id: str
    attempt_id: str
    app_name: str
    value: float


@dataclass(slots=True)
class Group:
    """The apps sharing one app name, user or queue, summed."""

    key: str
    apps: int = 0
    allocated_core_seconds: float = 0.0
    idle_core_seconds: float = 0.0
    cache_lost_bytes: int = 0
    recompute_seconds: float = 0.0
    cost: float | None = None
    first_start_ms: int = 0
    last_start_ms: int = 0

    @property
    def idle_share(self) -> float:
        """Idle core-seconds over allocated ones."""
        return self.idle_core_seconds / self.allocated_core_seconds if self.allocated_core_seconds > 0 else 0.0

    def add(self, row: AppRow, price: float | None) -> None:
        """Count one more app."""
        self.apps += 1
        self.allocated_core_seconds += row.allocated_core_seconds
        self.idle_core_seconds += row.idle_core_seconds
        self.cache_lost_bytes += row.cache_lost_bytes
        self.recompute_seconds += recompute_seconds(row)
        if price is not None:
            self.cost = (self.cost or 0.0) + row.allocated_core_seconds / 3600 * price
        self.first_start_ms = row.start_ms if self.apps == 1 else min(self.first_start_ms, row.start_ms)
        self.last_start_ms = max(self.last_start_ms, row.start_ms)


@dataclass(slots=True)
class Summary:
    """What :func:`summarize` found: totals, the top apps of each ranking, every group."""

    totals: Group = field(default_factory=lambda: Group("all"))
    rankings: dict[str, list[Ranked]] = field(default_factory=dict)
    groups: dict[str, list[Group]] = field(default_factory=dict)
    in_progress: int = 0
    incomplete: int = 0


def summarize(rows: Iterable[AppRow], *, top: int = 10, price_core_hour: float | None = None) -> Summary:
    """Totals, the ``top`` apps of every ranking, and every group (largest idle core-hours first)."""
    rankings = dict(RANKINGS)
    if price_core_hour is not None:
        price = price_core_hour
        rankings["cost"] = lambda r: r.allocated_core_seconds / 3600 * price
    heaps: dict[str, list[tuple[float, str, str, Ranked]]] = {name: [] for name in rankings}
    groups: dict[str, dict[str, Group]] = {name: {} for name in GROUP_BY}
    summary = Summary()
    for row in rows:
        summary.totals.add(row, price_core_hour)
        summary.in_progress += row.in_progress
        summary.incomplete += row.incomplete
        for name, value_of in rankings.items():
            value = value_of(row)
            if value <= 0:
                continue
            # Ties broken by key, smallest first, so the ranking does not depend on reading order.
            ranked = Ranked(*row.key, row.app_name, value)
            item = (value, reverse_text(row.app_id), reverse_text(row.attempt_id), ranked)
            heap = heaps[name]
            if len(heap) < top:
                heapq.heappush(heap, item)
            elif item[:3] > heap[0][:3]:
                heapq.heapreplace(heap, item)
        for name, key_of in GROUP_BY.items():
            key = key_of(row)
            group = groups[name].get(key)
            if group is None:
                group = groups[name][key] = Group(key)
            group.add(row, price_core_hour)
    summary.rankings = {
        name: [item[3] for item in sorted(heap, key=lambda i: i[:3], reverse=True)] for name, heap in heaps.items()
    }
    summary.groups = {
        name: sorted(found.values(), key=lambda g: (-g.idle_core_seconds, g.key)) for name, found in groups.items()
    }
    return summary


def reverse_text(text: str) -> str:
    """A key that sorts ``text`` in reverse: ties broken smallest-first inside a max-ranking."""
    return "".join(chr(0x10FFFF - ord(c)) for c in text) + "\U0010ffff"


@dataclass(frozen=True, slots=True)
class Rule:
    """Flag ``metric`` at ``factor`` times its median of the last runs (the median at least ``floor``)."""

    metric: str
    factor: float
    floor: float
    label: str
    unit: str


#: The regression rules, in the order they are reported.
RULES: Final[tuple[Rule, ...]] = (
    Rule("idle_share", 3.0, 0.05, "idle share", "share"),
    Rule("idle_core_seconds", 3.0, 600.0, "idle core-seconds", "core-seconds"),
    Rule("duration_seconds", 2.0, 60.0, "wall time", "seconds"),
    Rule("recompute_seconds", 3.0, 10.0, "recompute time", "seconds"),
    Rule("cache_lost_bytes", 3.0, float(64 << 20), "cache lost", "bytes"),
)


def _figure(row: AppRow, metric: str) -> float:
    return recompute_seconds(row) if metric == "recompute_seconds" else float(getattr(row, metric))


@dataclass(frozen=True, slots=True)
class Regression:
    """An app whose ``metric`` is ``factor`` times the median of its app name's last ``runs`` runs."""

    app_id: str
    attempt_id: str
    app_name: str
    start_ms: int
    metric: str
    value: float
    median: float
    runs: int
    factor: float
    message: str


def _describe(rule: Rule, value: float) -> str:
    if rule.unit == "share":
        return f"{value:.0%}"
    if rule.unit == "bytes":
        return f"{value / 2**20:,.1f} MiB"
    return f"{value:,.1f}"


def find_regressions(rows_by_name: Iterable[AppRow]) -> list[Regression]:
    """Every regression, for rows ordered by (app name, start time): a streaming pass."""
    found: list[Regression] = []
    name: str | None = None
    history: deque[AppRow] = deque(maxlen=HISTORY)
    for row in rows_by_name:
        if row.app_name != name:
            name, history = row.app_name, deque(maxlen=HISTORY)
        if row.in_progress:
            continue
        if len(history) >= MIN_HISTORY:
            for rule in RULES:
                value = _figure(row, rule.metric)
                median = statistics.median(_figure(r, rule.metric) for r in history)
                base = max(median, rule.floor)
                if value >= rule.factor * base:
                    factor = value / base
                    found.append(Regression(
                        row.app_id, row.attempt_id, row.app_name, row.start_ms, rule.metric, value, median,
                        len(history), factor,
                        f"{rule.label} {_describe(rule, value)} is {factor:.1f}x its median "
                        f"{_describe(rule, median)} over the last {len(history)} runs",
                    ))
        history.append(row)
    return found
