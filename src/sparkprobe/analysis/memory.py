"""The memory ledger: what each executor was given, what it used, and the byte-seconds in between.

Owned by :class:`sparkprobe.analysis.state.AppState`. It keeps, per executor (and for the driver),
the highest value of each of Spark's executor metrics seen (:data:`sparkprobe.events.EXECUTOR_METRIC_NAMES`),
the resource profiles, and each executor's profile: bounded by the executor cap. The figures
(docs/figures.md, "Memory") are computed when a report is built, from the executor ledger's
lifetimes and idle time:

- **requested**, per area, the way Spark sizes the executor for its cluster manager
  (:func:`executor_request`, following Spark's ``ResourceProfile.getResourcesForClusterManager``);
- **peak** per area, the largest of the executor's reported values;
- **allocated** byte-seconds = container x lifetime, **idle** byte-seconds = container x the
  executor's idle time (split by the same causes as the core ledger), **unused while busy** =
  (container - peak footprint) x the time it ran tasks.

Heartbeat peaks are counted only for stages that are running (as Spark's event log keeps them), so
a live stream and the event log of the same run give the same peaks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sparkprobe.analysis.settings import MemorySettings
from sparkprobe.events import EXECUTOR_METRIC_NAMES, ExecutorAdded, ExecutorMetrics, ResourceProfileAdded
from sparkprobe.model import (
    DriverMemory,
    ExecutorReport,
    IdleCause,
    MemoryFigures,
    MemoryRemoval,
    PeakArea,
    RemovalCause,
    RequestArea,
)

if TYPE_CHECKING:
    from sparkprobe.analysis.executors import Executor
    from sparkprobe.analysis.state import AppState

__all__ = [
    "DRIVER",
    "MIB",
    "ExecutorMemory",
    "MemoryLedger",
    "MemoryTotals",
    "Request",
    "driver_request",
    "executor_request",
    "executor_requests",
    "footprint",
    "memory_figures",
    "peak_areas",
    "removal_area",
]

MIB = 1 << 20
#: The executor id Spark gives the driver's own metrics.
DRIVER = "driver"
#: Resource profiles kept per app (Spark apps define a handful; a flood is cut off and counted).
MAX_PROFILES = 1_000

_KNOWN = frozenset(EXECUTOR_METRIC_NAMES)

#: Request = bytes by area.
Request = dict[RequestArea, int]


# ---------------------------------------------------------------------------------------- requests
def _overhead_mib(explicit: int | None, heap_mib: int, factor: float, minimum: int) -> int:
    # Spark's ResourceProfile.calculateOverHeadMemory: the value set, else factor x heap truncated
    # to whole MiB, at least the minimum.
    if explicit is not None:
        return explicit
    return max(int(factor * heap_mib), minimum)


def executor_request(
    settings: MemorySettings,
    profiles: Mapping[int, ResourceProfileAdded],
    profile_id: int = 0,
) -> Request:
    """What an executor of resource profile ``profile_id`` is given, in bytes by area.

    The default profile's amounts are Spark's ``ResourceProfileAdded`` for profile 0 when it was
    seen (it holds what Spark made of the conf), else the conf with Spark's defaults. A custom
    profile replaces the amounts it names; its overhead, when it names none, is computed from the
    *default* profile's heap, as Spark's ``getResourcesForClusterManager`` does. The container is
    heap + overhead + off-heap + PySpark memory on YARN, Kubernetes and unknown masters (PySpark
    memory only for Python apps: when ``spark.yarn.isPython`` / ``spark.kubernetes.resource.type``
    are unknown, an app that sets ``spark.executor.pyspark.memory`` is taken as one); a standalone
    Worker (and ``local-cluster``) sets aside the heap only, and no overhead is reserved there.
    """
    manager = settings.cluster_manager
    default = profiles.get(0)
    d = default.executor if default is not None else {}
    if manager == "local":
        # local[N]: the driver's JVM runs the tasks (Spark 3.x logs it as executor "driver").
        heap = settings.driver_memory_mib
    else:
        heap = d.get("memory", settings.executor_memory_mib or 1024)
    explicit_overhead = d["memoryOverhead"] if "memoryOverhead" in d else settings.executor_overhead_mib
    # Profile 0's offHeap is already 0 unless spark.memory.offHeap.enabled (Utils.executorOffHeapMemorySizeAsMb).
    offheap = d.get("offHeap", settings.offheap_mib)
    pyspark = d.get("pyspark.memory", settings.pyspark_mib or 0)
    overhead = _overhead_mib(explicit_overhead, heap, settings.executor_overhead_factor,
                             settings.executor_min_overhead_mib)
    custom = profiles.get(profile_id) if profile_id != 0 else None
    if custom is not None:
        c = custom.executor
        heap = c.get("memory", heap)
        overhead = c.get("memoryOverhead", overhead)
        pyspark = c.get("pyspark.memory", pyspark)
        if "offHeap" in c:  # ResourceProfile.executorOffHeapMemorySizeAsMb: 0 unless enabled
            offheap = c["offHeap"] if settings.offheap_enabled else 0
    if settings.python_app is False:
        pyspark = 0  # Spark adds PySpark memory for Python apps only
    if manager in ("standalone", "local"):
        overhead = 0
        container = heap
    else:
        container = heap + overhead + offheap + pyspark
    return {
        RequestArea.HEAP: heap * MIB,
        RequestArea.OVERHEAD: overhead * MIB,
        RequestArea.OFFHEAP: offheap * MIB,
        RequestArea.PYSPARK: pyspark * MIB,
        RequestArea.CONTAINER: container * MIB,
    }


def driver_request(settings: MemorySettings) -> Request:
    """What the driver is given, in bytes by area.

    Overhead is reserved only where the driver runs in a container of its own: YARN cluster mode
    (the application master's container, ``Client``) and Kubernetes cluster mode (the driver pod,
    ``BasicDriverFeatureStep``); elsewhere the driver is a process the user started, its container
    its heap (``spark.driver.memory``).
    """
    heap = settings.driver_memory_mib
    manager = settings.cluster_manager
    overhead = 0
    if settings.cluster_mode and manager in ("yarn", "kubernetes"):
        overhead = _overhead_mib(settings.driver_overhead_mib, heap, settings.driver_overhead_factor,
                                 settings.driver_min_overhead_mib)
    return {
        RequestArea.HEAP: heap * MIB,
        RequestArea.OVERHEAD: overhead * MIB,
        RequestArea.OFFHEAP: 0,
        RequestArea.PYSPARK: 0,
        RequestArea.CONTAINER: (heap + overhead) * MIB,
    }


# ---------------------------------------------------------------------------------------- peaks
def peak_areas(peaks: Mapping[str, int]) -> dict[PeakArea, int | None]:
    """The areas of one process's metric peaks; None where not measured.

    Measured means the process reported its heap (``JVMHeapMemory``, never 0 in a live JVM); the
    process-tree areas need ``ProcessTreeJVMRSSMemory`` too (0 when
    ``spark.executor.processTreeMetrics.enabled`` is off). ``execution`` and ``storage`` add the
    on- and off-heap peaks, each the highest value seen (an upper bound of their sum at any instant).
    """
    g = peaks.get
    jvm = g("JVMHeapMemory", 0) > 0
    rss = g("ProcessTreeJVMRSSMemory", 0) > 0

    def area(value: int, measured: bool) -> int | None:
        return value if measured else None

    return {
        PeakArea.JVM_HEAP: area(g("JVMHeapMemory", 0), jvm),
        PeakArea.JVM_OFFHEAP: area(g("JVMOffHeapMemory", 0), jvm),
        PeakArea.EXECUTION: area(g("OnHeapExecutionMemory", 0) + g("OffHeapExecutionMemory", 0), jvm),
        PeakArea.STORAGE: area(g("OnHeapStorageMemory", 0) + g("OffHeapStorageMemory", 0), jvm),
        PeakArea.PROCESS_RSS: area(g("ProcessTreeJVMRSSMemory", 0), rss),
        PeakArea.PYTHON_RSS: area(g("ProcessTreePythonRSSMemory", 0), rss),
        PeakArea.OTHER_RSS: area(g("ProcessTreeOtherRSSMemory", 0), rss),
    }


def footprint(peaks: Mapping[str, int]) -> int | None:
    """The most memory the executor's processes held at once, as well as the peaks tell; None unmeasured.

    With process-tree metrics: the JVM's, the Python workers' and other children's RSS peaks added.
    Without: the JVM's heap, non-heap, direct and mapped pools in use (less than its RSS, so the
    unused memory this leaves is an upper bound).
    """
    g = peaks.get
    if g("ProcessTreeJVMRSSMemory", 0) > 0:
        return g("ProcessTreeJVMRSSMemory", 0) + g("ProcessTreePythonRSSMemory", 0) + g("ProcessTreeOtherRSSMemory", 0)
    if g("JVMHeapMemory", 0) > 0:
        return g("JVMHeapMemory", 0) + g("JVMOffHeapMemory", 0) + g("DirectPoolMemory", 0) + g("MappedPoolMemory", 0)
    return None


# ------------------------------------------------------------------------------- memory removals
_DIRECT = re.compile(r"direct buffer memory", re.IGNORECASE)
_METASPACE = re.compile(r"metaspace|compressed class space", re.IGNORECASE)
_CONTAINER = re.compile(
    r"exceeding (physical |virtual )?memory limits|OOMKilled|killed by the os|container.*oom", re.IGNORECASE
)


def removal_area(reason: str) -> str:
    """Which area ran out, from the removal's reason text (one of :class:`MemoryRemoval`'s areas)."""
    if _CONTAINER.search(reason):
        return "container"
    if _DIRECT.search(reason):
        return "offheap"
    if _METASPACE.search(reason):
        return "jvm_offheap"
    return "heap"


# ---------------------------------------------------------------------------------------- the ledger
class MemoryLedger:
    """Peaks per executor and for the driver, resource profiles, and each executor's profile."""

    def __init__(self, app: AppState) -> None:
        self._app = app
        #: Executor id (or ``driver``) → Spark metric name → the highest value seen.
        self.peaks: dict[str, dict[str, int]] = {}
        self.profiles: dict[int, ResourceProfileAdded] = {}
        self.profile_of: dict[str, int] = {}
        #: Heartbeat peaks of stages not running any more (Spark's event log drops them too).
        self.heartbeats_outside_stages = 0
        #: Executor id -> what its peaks give (areas, footprint, memory peaks), computed at the first
        #: report after they last rose: a scrape does not redo it for every executor.
        self._derived: dict[str, tuple[dict[PeakArea, int | None], int | None, dict[str, int]]] = {}

    def derived(self, exec_id: str) -> tuple[dict[PeakArea, int | None], int | None, dict[str, int]]:
        """``peak_areas``, ``footprint`` and the memory metrics of ``exec_id``'s peaks (shared: do not mutate)."""
        got = self._derived.get(exec_id)
        if got is None:
            peaks = self.peaks.get(exec_id, {})
            got = self._derived[exec_id] = (peak_areas(peaks), footprint(peaks), _memory_peaks(peaks))
        return got

    def executor_added(self, e: ExecutorAdded) -> None:
        """Remember the executor's resource profile."""
        if e.profile_id and e.exec_id in self._app.executors.by_id:
            self.profile_of[e.exec_id] = e.profile_id

    def profile_added(self, e: ResourceProfileAdded) -> None:
        """A resource profile (the default one is 0)."""
        if e.profile_id not in self.profiles and len(self.profiles) >= MAX_PROFILES:
            self._app.over("resource_profiles")
            return
        self.profiles[e.profile_id] = e

    def metrics(self, e: ExecutorMetrics) -> None:
        """Keep the highest value of each metric of ``e``'s executor."""
        app = self._app
        if e.source == "heartbeat" and e.stage_id >= 0 and (e.stage_id, e.stage_attempt) not in app.stages.active:
            # The post-stage heartbeat of an executor: Spark's event log does not keep it, so the
            # live figure must not either (docs/decisions.md).
            self.heartbeats_outside_stages += 1
            return
        peaks = self.peaks.get(e.exec_id)
        if peaks is None:
            known = e.exec_id == DRIVER or e.exec_id in app.executors.by_id
            if not known and len(self.peaks) >= app.limits.max_executors:
                app.over("executor_metrics")
                return
            peaks = self.peaks[e.exec_id] = {}
        raised = False
        for name, value in e.metrics.items():
            if name in _KNOWN and value > peaks.get(name, 0):
                peaks[name] = value
                raised = True
        if raised:
            self._derived.pop(e.exec_id, None)
            app.executors.changed(e.exec_id)  # a removed executor's settled figures are stale


@dataclass(frozen=True, slots=True)
class ExecutorMemory:
    """One executor's memory figures, for its report record."""

    requested: Request
    peak_metrics: dict[str, int]
    peak: dict[PeakArea, int | None]


def _memory_peaks(peaks: Mapping[str, int]) -> dict[str, int]:
    return {k: v for k, v in peaks.items() if k.endswith("Memory")}


@dataclass(slots=True)
class MemoryTotals:
    """The memory figures summed over a set of executors (integer byte-ms: any order, the same sums).

    :func:`memory_figures` sums every executor into one; a headline report starts from the totals
    of the removed executors, settled once (:mod:`sparkprobe.analysis.settled`), and adds the rest.
    """

    allocated: int = 0
    idle: int = 0
    unused: int = 0
    idle_by_cause: dict[IdleCause, int] = field(default_factory=lambda: dict.fromkeys(IdleCause, 0))
    peak: dict[PeakArea, int | None] = field(default_factory=lambda: dict.fromkeys(PeakArea))
    measured: int = 0
    busy_executors: int = 0
    process_tree: bool = False
    removals: list[MemoryRemoval] = field(default_factory=list)

    def copy(self) -> MemoryTotals:
        """An independent copy (the settled totals stay as they are)."""
        return MemoryTotals(self.allocated, self.idle, self.unused, dict(self.idle_by_cause), dict(self.peak),
                            self.measured, self.busy_executors, self.process_tree, list(self.removals))

    def add(
        self, state: AppState, ex: Executor, request: Request, until: int
    ) -> tuple[dict[PeakArea, int | None], dict[str, int]]:
        """Add executor ``ex`` (given ``request``) measured to ``until``; its peak areas and memory peaks (shared)."""
        exec_ledger = state.executors
        container = request[RequestArea.CONTAINER]
        lifetime = exec_ledger.end_of(ex, until) - ex.added_ms
        ex_idle = ex.idle_ms + exec_ledger.idle_now_ms(ex, until)
        busy = max(0, lifetime - ex_idle)
        self.allocated += container * lifetime
        self.idle += container * ex_idle
        idle_by_cause = self.idle_by_cause
        for cause, ms in exec_ledger.idle_by_cause_ms(ex, until).items():
            idle_by_cause[cause] += container * ms
        if busy > 0 or ex.running:
            self.busy_executors += 1
        areas, used, memory_peaks = state.memory.derived(ex.exec_id)
        if used is not None:
            self.measured += 1
            self.unused += max(0, container - used) * busy
        if areas[PeakArea.PROCESS_RSS] is not None:
            self.process_tree = True
        peak = self.peak
        for area, value in areas.items():
            if value is not None:
                known = peak[area]
                peak[area] = value if known is None else max(known, value)
        if ex.removed_cause is RemovalCause.MEMORY and ex.removed_ms is not None:
            area_out = removal_area(ex.removed_reason)
            self.removals.append(MemoryRemoval(ex.exec_id, ex.removed_ms, area_out, ex.removed_reason))
        return areas, memory_peaks


def executor_requests(state: AppState) -> Callable[[int], Request]:
    """What an executor of a profile is given, for this report (each profile computed once)."""
    settings = MemorySettings(state.conf, state.spark_version)
    profiles = state.memory.profiles
    requests: dict[int, Request] = {}

    def request_of(profile: int) -> Request:
        request = requests.get(profile)
        if request is None:
            request = requests[profile] = executor_request(settings, profiles, profile)
        return request

    return request_of


def memory_figures(
    state: AppState,
    until: int,
    executors: list[ExecutorReport] | None = None,
    *,
    totals: MemoryTotals | None = None,
    pending: Iterable[Executor] | None = None,
) -> tuple[MemoryFigures, dict[str, ExecutorMemory]]:
    """The app's memory ledger measured to ``until``, and each executor's figures by id.

    ``executors`` (the detail report's records) is not needed: the figures are taken from the
    executor ledger directly, so a headline report has them too. A headline report passes the
    settled removed executors' ``totals`` and the ``pending`` executors to add to them (then the
    per-executor figures are left empty); by default every executor is summed.
    """
    settings = MemorySettings(state.conf, state.spark_version)
    ledger = state.memory
    exec_ledger = state.executors
    request_of = executor_requests(state)
    default_request = request_of(0)
    requested_active = dict.fromkeys(RequestArea, 0)
    per_executor: dict[str, ExecutorMemory] = {}
    app_running = state.end_ms is None
    t = MemoryTotals() if totals is None else totals
    active_by_profile: dict[int, int] = {}
    for ex in exec_ledger.by_id.values() if pending is None else pending:
        profile = ledger.profile_of.get(ex.exec_id, 0)
        request = request_of(profile)
        if ex.removed_ms is None and app_running:
            active_by_profile[profile] = active_by_profile.get(profile, 0) + 1
        areas, memory_peaks = t.add(state, ex, request, until)
        if pending is None:  # the detail report's records: their own copies
            per_executor[ex.exec_id] = ExecutorMemory(request, dict(memory_peaks), dict(areas))
    for profile, count in active_by_profile.items():
        for request_area, size in request_of(profile).items():
            requested_active[request_area] += count * size
    driver_peaks = ledger.peaks.get(DRIVER, {})
    measured = t.measured
    notes = _notes(settings, measured, t.busy_executors, t.process_tree, len(exec_ledger.by_id))
    figures = MemoryFigures(
        available=measured > 0,
        cluster_manager=settings.cluster_manager,
        requested=default_request,
        requested_active=requested_active,
        peak=t.peak,
        allocated_byte_seconds=t.allocated / 1000,
        idle_byte_seconds=t.idle / 1000,
        idle_by_cause_byte_seconds={c: v / 1000 for c, v in t.idle_by_cause.items()},
        unused_busy_byte_seconds=t.unused / 1000 if measured else None,
        memory_removals=tuple(sorted(t.removals, key=lambda r: (r.time_ms, r.exec_id))),
        driver=DriverMemory(driver_request(settings), peak_areas(driver_peaks), _memory_peaks(driver_peaks)),
        executors_measured=measured,
        executors_busy=t.busy_executors,
        process_tree=t.process_tree,
        notes=notes,
    )
    return figures, per_executor


def _notes(
    settings: MemorySettings, measured: int, busy: int, process_tree: bool, executors: int
) -> tuple[str, ...]:
    notes: list[str] = []
    if not measured:
        notes.append(
            "memory peaks unavailable: no executor reported its memory (Spark 3.0+ sends executor "
            "metrics; event logs keep them with spark.eventLog.logStageExecutorMetrics=true, and in "
            "each task's end from Spark 3.1)"
        )
    elif measured < busy:
        notes.append(f"only {measured} of the {busy} executors that ran tasks reported their memory")
    if measured and not process_tree:
        notes.append(
            "process memory (RSS, Python workers) unavailable: spark.executor.processTreeMetrics.enabled is off"
        )
    if settings.cluster_manager == "unknown" and executors:
        notes.append("spark.master unknown: the container is sized as YARN and Kubernetes size it")
    return tuple(notes)
