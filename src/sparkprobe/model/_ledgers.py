"""The memory ledger, cost, and the tenants' shares of an app."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sparkprobe.model._enums import IdleCause, PeakArea, RequestArea, TenantKind, WasteCause, _enum_map


@dataclass(frozen=True, slots=True)
class MemoryRemoval:
    """An executor removed for memory, and which area ran out (docs/figures.md, "Memory")."""

    exec_id: str
    time_ms: int
    #: ``heap`` (OutOfMemoryError, exit 52), ``offheap`` (direct buffers), ``jvm_offheap``
    #: (metaspace), ``container`` (the cluster manager's limit: YARN, Kubernetes ``OOMKilled``).
    area: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        """The removal as in ``memory.memory_removals``."""
        return {"exec_id": self.exec_id, "time_ms": self.time_ms, "area": self.area, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class DriverMemory:
    """The driver's memory: what it was given and its peaks (from its own heartbeats)."""

    requested: Mapping[RequestArea, int]
    peak: Mapping[PeakArea, int | None]
    #: As Spark names them; empty when the driver's metrics were not seen.
    peak_metrics: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class MemoryFigures:
    """The app's memory ledger (docs/figures.md, "Memory"); bytes and byte-seconds.

    ``available`` is False when no executor reported its memory (the log predates Spark 3.0, or
    its executors never sent a peak): the peaks are then None and ``unused_busy_byte_seconds`` is
    None, never a zero that would read as "nothing used".
    """

    available: bool
    cluster_manager: str
    #: What one executor of the default resource profile is given.
    requested: Mapping[RequestArea, int]
    #: Summed over the executors alive now (0 once the app ended).
    requested_active: Mapping[RequestArea, int]
    #: The largest of the executors' peaks, per area; None where no executor measured it.
    peak: Mapping[PeakArea, int | None]
    allocated_byte_seconds: float
    idle_byte_seconds: float
    idle_by_cause_byte_seconds: Mapping[IdleCause, float]
    #: (container - peak footprint) x time running tasks, over the measured executors.
    unused_busy_byte_seconds: float | None
    memory_removals: tuple[MemoryRemoval, ...]
    driver: DriverMemory
    executors_measured: int
    #: Executors that ran a task (the ones a peak can be expected of).
    executors_busy: int
    #: Some executor reported process-tree RSS (``spark.executor.processTreeMetrics.enabled``).
    process_tree: bool
    #: Why a figure is missing or thin, in words.
    notes: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The app's ``memory`` object."""
        return {
            "available": self.available,
            "cluster_manager": self.cluster_manager,
            "requested": _enum_map(self.requested),
            "requested_active": _enum_map(self.requested_active),
            "peak": _enum_map(self.peak),
            "allocated_byte_seconds": self.allocated_byte_seconds,
            "idle_byte_seconds": self.idle_byte_seconds,
            "idle_by_cause_byte_seconds": _enum_map(self.idle_by_cause_byte_seconds),
            "unused_busy_byte_seconds": self.unused_busy_byte_seconds,
            "memory_removals": [r.to_json() for r in self.memory_removals],
            "driver": {
                "requested": _enum_map(self.driver.requested),
                "peak": _enum_map(self.driver.peak),
                "peak_memory": dict(self.driver.peak_metrics),
            },
            "executors_measured": self.executors_measured,
            "executors_busy": self.executors_busy,
            "process_tree": self.process_tree,
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class CostFigures:
    """Money: the ledgers x the user's prices (docs/figures.md, "Cost"). Never made without a price."""

    price_core_hour: float | None
    price_gib_hour: float | None
    #: ``cores`` and ``memory`` (only the resources with a price).
    by_resource: Mapping[str, float]
    total: float
    wasted_by_cause: Mapping[WasteCause, float]
    wasted: float

    def to_json(self) -> dict[str, Any]:
        """The app's ``cost`` object."""
        return {
            "price_core_hour": self.price_core_hour,
            "price_gib_hour": self.price_gib_hour,
            "by_resource": dict(self.by_resource),
            "total": self.total,
            "wasted_by_cause": _enum_map(self.wasted_by_cause),
            "wasted": self.wasted,
        }


@dataclass(frozen=True, slots=True)
class TenantReport:
    """One tenant's share of an app (docs/tenants.md); ``id`` ``other`` is the fold, ``none`` the rest.

    ``start_ms``/``end_ms`` are a session's start and close (None when not seen, and for other kinds).
    """

    kind: TenantKind
    id: str
    user: str
    task_seconds: float
    busy_core_seconds: float
    cache_lost_bytes: int
    recompute_seconds: float
    cached_bytes: int
    start_ms: int | None = None
    end_ms: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The tenant as an element of the report's ``tenants``."""
        return {
            "kind": self.kind.value,
            "id": self.id,
            "user": self.user,
            "task_seconds": self.task_seconds,
            "busy_core_seconds": self.busy_core_seconds,
            "cache_lost_bytes": self.cache_lost_bytes,
            "recompute_seconds": self.recompute_seconds,
            "cached_bytes": self.cached_bytes,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
        }
