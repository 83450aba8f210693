"""Removed executors' figures, computed once: a headline report costs O(executors not settled).

A Prometheus scrape builds the headline report of every app it holds, and an app under dynamic
allocation removes executors all its life (issue 16: 100 apps x 256 executors, swinging). The core
and memory figures of a removed executor stop changing once no task of it is counted running and
its idle stretch is closed: such an executor is *settled*, summed here once (integer ms and
byte-ms, so the sums are exact in any order) and not visited again.

A settled executor can still change: a late task end, a late memory peak, an executor re-added
under the same id, another size for its resource profile (a conf or profile seen late). The
ledgers call :meth:`ExecutorLedger.changed` then, and the settled sums are rebuilt from every
executor at the next headline report, so the figures are always those of summing every executor,
which is what a detail report does (tests/analysis/test_settled.py checks both ways agree).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sparkprobe.analysis.memory import MemoryTotals, Request, executor_requests
from sparkprobe.model import IdleCause, RequestArea

if TYPE_CHECKING:
    from collections.abc import Callable

    from sparkprobe.analysis.executors import Executor, ExecutorLedger
    from sparkprobe.analysis.state import AppState

__all__ = ["CoreTotals", "HeadlineParts", "Settled", "headline_parts"]


@dataclass(slots=True)
class CoreTotals:
    """The core figures summed over a set of executors (integer ms)."""

    allocated_ms: int = 0
    busy_ms: int = 0
    idle_ms: int = 0
    idle_by_cause_ms: dict[IdleCause, int] = field(default_factory=lambda: dict.fromkeys(IdleCause, 0))
    idle_core_ms_by_cause: dict[IdleCause, int] = field(default_factory=lambda: dict.fromkeys(IdleCause, 0))

    def copy(self) -> CoreTotals:
        """An independent copy (the settled totals stay as they are)."""
        return CoreTotals(self.allocated_ms, self.busy_ms, self.idle_ms, dict(self.idle_by_cause_ms),
                          dict(self.idle_core_ms_by_cause))

    def add(self, ledger: ExecutorLedger, ex: Executor, until: int) -> tuple[int, int, int, int, dict[IdleCause, int]]:
        """Add ``ex`` measured to ``until``; its (lifetime, busy core, idle, idle now) ms and idle by cause."""
        lifetime_ms = ledger.counted_ms(ex, until)
        ex_busy_ms = ledger.busy_core_ms(ex, until)
        now_idle_ms = ledger.idle_now_ms(ex, until)
        ex_idle_ms = ex.idle_ms + now_idle_ms
        by_cause = ledger.idle_by_cause_ms(ex, until)
        self.allocated_ms += ex.cores * lifetime_ms
        self.busy_ms += ex_busy_ms
        self.idle_ms += ex_idle_ms
        idle_by_cause_ms = self.idle_by_cause_ms
        idle_core_ms_by_cause = self.idle_core_ms_by_cause
        for cause, ms in by_cause.items():
            idle_by_cause_ms[cause] += ms
            idle_core_ms_by_cause[cause] += ms * ex.cores
        return lifetime_ms, ex_busy_ms, ex_idle_ms, now_idle_ms, by_cause


@dataclass(slots=True)
class Settled:
    """The sums of an app's settled executors, and what they were computed with."""

    reopened: int
    core: CoreTotals = field(default_factory=CoreTotals)
    memory: MemoryTotals = field(default_factory=MemoryTotals)
    #: Resource profile -> the container size its executors were summed with.
    containers: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HeadlineParts:
    """What a headline report adds up: the settled sums (copies) and the executors still to add."""

    core: CoreTotals
    memory: MemoryTotals
    pending: list[Executor]
    request_of: Callable[[int], Request]


def _is_settled(ex: Executor) -> bool:
    return ex.removed_ms is not None and ex.running == 0 and ex.idle_since is None


def headline_parts(state: AppState, until: int) -> HeadlineParts:
    """Settle what can be settled now, and return the sums with the executors not settled.

    Mutates only the ledger's memo (``unsettled``, ``settled``): the figures are those of summing
    every executor measured to ``until``.
    """
    ledger = state.executors
    request_of = executor_requests(state)
    settled = ledger.settled
    if not (
        isinstance(settled, Settled)
        and settled.reopened == ledger.reopened
        and all(request_of(p)[RequestArea.CONTAINER] == size for p, size in settled.containers.items())
    ):
        settled = ledger.settled = Settled(ledger.reopened)
        ledger.unsettled = dict(ledger.by_id)
    profile_of = state.memory.profile_of
    pending: list[Executor] = []
    settled_now = False
    for exec_id, ex in ledger.unsettled.items():
        if _is_settled(ex):
            profile = profile_of.get(exec_id, 0)
            request = request_of(profile)
            settled.containers[profile] = request[RequestArea.CONTAINER]
            settled.core.add(ledger, ex, until)
            settled.memory.add(state, ex, request, until)
            settled_now = True
        else:
            pending.append(ex)
    if settled_now:
        # A new dict, not deletions: a dict keeps the slots of deleted keys, and iterating it would
        # stay O(executors ever added).
        ledger.unsettled = {ex.exec_id: ex for ex in pending}
    return HeadlineParts(settled.core.copy(), settled.memory.copy(), pending, request_of)
