"""Memory advice in Spark's own keys: pure functions of an app's memory ledger (docs/advice.md, "Memory").

One piece of advice per key (``spark.executor.memory``, ``spark.executor.memoryOverhead``,
``spark.memory.offHeap.size``, ``spark.executor.pyspark.memory``, ``spark.driver.memory``), each
with the measured peaks, the value the headroom rule gives, a risk word and the saving in
GiB-hours (what the app's executors would not have held, had they been that size). An app that
lost an executor to memory is never told to use less of anything: it is told to raise the area
that ran out. When the evidence is thin a note of the ledger says so, and what to turn on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from sparkprobe.analysis.memory import MIB, ExecutorMemory, driver_request, executor_request
from sparkprobe.analysis.settings import MemorySettings
from sparkprobe.events import ResourceProfileAdded
from sparkprobe.model import Advice, AdviceKind, ExecutorReport, MemoryFigures, PeakArea, RequestArea

__all__ = ["HEADROOM", "STEP_MIB", "advise_memory", "evidence_note", "suggest_mib"]

#: The headroom rule: a suggestion is the measured need x this, rounded up to :data:`STEP_MIB`.
HEADROOM = 1.25
#: Suggestions are whole multiples of this many MiB.
STEP_MIB = 256
#: Advise a lower value only when it is at most this share of the current one (a 20% cut or more).
LOWER_BELOW = 0.8
#: Spark's reserved heap (``UnifiedMemoryManager``'s 300 MiB) and default ``spark.memory.fraction``.
_RESERVED_MIB = 300
_MEMORY_FRACTION = 0.6
#: Spark refuses an executor heap under 1.5 x the reserved memory (450 MiB): never suggest less.
_MIN_HEAP_MIB = 512
_MIN_OVERHEAD_MIB = 384
#: An executor busy this long reported at least a dozen heartbeats (every 10 s by default).
_WELL_MEASURED_S = 120.0
_THIN_S = 30.0
_GIB = float(1 << 30)


def suggest_mib(need_bytes: float, minimum_mib: int = 0) -> int:
    """The headroom rule: ``need x HEADROOM``, rounded up to a multiple of ``STEP_MIB`` MiB."""
    mib = need_bytes * HEADROOM / MIB
    return max(minimum_mib, math.ceil(mib / STEP_MIB) * STEP_MIB)


def _size(mib: int) -> str:
    """A Spark size string: whole GiB as ``4g``, else MiB (``3584m``)."""
    return f"{mib // 1024}g" if mib % 1024 == 0 else f"{mib}m"


def _gib(nbytes: float) -> str:
    return f"{nbytes / _GIB:,.2f} GiB"


_RESOURCE = {
    "spark.executor.memory": "memory",
    "spark.executor.memoryOverhead": "memoryOverhead",
    "spark.memory.offHeap.size": "offHeap",
    "spark.executor.pyspark.memory": "pyspark.memory",
}


class _Context:
    """What every rule reads: the figures, the app's settings, its executors' lifetimes."""

    def __init__(
        self,
        memory: MemoryFigures,
        per_executor: Mapping[str, ExecutorMemory],
        executors: Sequence[ExecutorReport],
        conf: Mapping[str, str],
        spark_version: str,
        profiles: Mapping[int, ResourceProfileAdded],
        app_seconds: float,
    ) -> None:
        self.memory = memory
        self.per_executor = per_executor
        self.executors = executors
        self.conf = conf
        self.spark_version = spark_version
        self.profiles = profiles
        self.settings = MemorySettings(conf, spark_version)
        self.app_seconds = app_seconds
        measured = [e for e in executors if per_executor.get(e.exec_id) and per_executor[e.exec_id].peak_metrics]
        busy = sorted(max(0.0, e.lifetime_seconds - e.idle_seconds) for e in measured)
        self.median_busy_s = busy[len(busy) // 2] if busy else 0.0
        self.lost_to_memory = bool(memory.memory_removals)

    def peak(self, area: PeakArea) -> int | None:
        return self.memory.peak[area]

    def max_over(self, names: Sequence[str]) -> int:
        """The largest per-executor sum of these metric peaks."""
        return max((sum(m.peak_metrics.get(n, 0) for n in names) for m in self.per_executor.values()), default=0)

    def risk(self) -> str:
        m = self.memory
        if m.executors_measured >= m.executors_busy and self.median_busy_s >= _WELL_MEASURED_S:
            return "low"
        if 2 * m.executors_measured >= m.executors_busy and self.median_busy_s >= _THIN_S:
            return "medium"
        return "high"

    def gib_hours_saved(self, key: str, mib: int) -> float:
        """GiB-hours the executors of the default profile would not have held with ``key`` = ``mib``."""
        conf = dict(self.conf)
        conf[key] = f"{mib}m" if key != "spark.memory.offHeap.size" else str(mib * MIB)
        profiles = dict(self.profiles)
        default = profiles.get(0)
        if default is not None and key in _RESOURCE:
            executor = dict(default.executor)
            executor[_RESOURCE[key]] = mib
            profiles[0] = ResourceProfileAdded(0, executor, default.task_cpus)
        settings = MemorySettings(conf, self.spark_version)
        requests: dict[int, int] = {}
        saved = 0.0
        for ex in self.executors:
            old = ex.requested_memory.get(RequestArea.CONTAINER, 0)
            new = requests.get(ex.profile_id)
            if new is None:
                request = executor_request(settings, profiles, ex.profile_id)
                new = requests[ex.profile_id] = request[RequestArea.CONTAINER]
            saved += (old - new) * ex.lifetime_seconds
        return round(saved / _GIB / 3600, 4)


def _advice(
    kind: AdviceKind, key: str, mib: int, message: str, evidence: dict[str, float], risk: str, gib_hours: float,
    value: str | None = None,
) -> Advice:
    """Advice setting ``key`` to ``mib`` MiB (or to ``value`` as written)."""
    conf = {key: _size(mib) if value is None else value}
    return Advice(
        kind=kind,
        settings=conf,
        message=message,
        evidence=evidence,
        saving_core_hours=0.0,
        conf=conf,
        saving={"core_hours": 0.0, "gib_hours": gib_hours},
        risk=risk,
    )


def _current_heap_mib(c: _Context) -> int:
    return c.memory.requested[RequestArea.HEAP] // MIB


def _heap(c: _Context) -> Advice | None:
    heap_peak = c.peak(PeakArea.JVM_HEAP)
    current = _current_heap_mib(c)
    key = "spark.executor.memory"
    removals = [r for r in c.memory.memory_removals if r.area == "heap"]
    if removals:
        need = max(current * 1.5 * MIB / HEADROOM, float(heap_peak or 0))
        mib = max(suggest_mib(need, _MIN_HEAP_MIB), current + STEP_MIB)
        first = removals[0]
        return _advice(
            AdviceKind.EXECUTOR_MEMORY, key, mib,
            f"{len(removals)} executor(s) ran out of heap (executor {first.exec_id}: {first.reason[:120]!r}): "
            f"raise spark.executor.memory from {_size(current)} to {_size(mib)}"
            + (f" (the heap peaked at {_gib(heap_peak)} before)" if heap_peak else ""),
            {"memory_removals": len(removals), "heap_peak_bytes": float(heap_peak or 0),
             "current_bytes": float(current * MIB)},
            "low", c.gib_hours_saved(key, mib),
        )
    if heap_peak is None or c.lost_to_memory:
        return None
    unified = c.max_over(("OnHeapUnifiedMemory",))
    need = max(float(heap_peak), unified / _MEMORY_FRACTION + _RESERVED_MIB * MIB)
    mib = suggest_mib(need, _MIN_HEAP_MIB)
    if mib > LOWER_BELOW * current:
        return None
    return _advice(
        AdviceKind.EXECUTOR_MEMORY, key, mib,
        f"executor heaps peaked at {_gib(heap_peak)} of {_size(current)} (Spark's execution and storage "
        f"memory at {_gib(unified)}): spark.executor.memory={_size(mib)} keeps {HEADROOM - 1:.0%} headroom",
        {"heap_peak_bytes": float(heap_peak), "unified_peak_bytes": float(unified),
         "current_bytes": float(current * MIB)},
        c.risk(), c.gib_hours_saved(key, mib),
    )


def _python_rss(c: _Context) -> int:
    return c.peak(PeakArea.PYTHON_RSS) or 0


def _overhead_need(c: _Context, without_python: bool) -> float | None:
    """The most memory an executor used outside its heap, off-heap pool and PySpark limit (bytes)."""
    if not c.memory.process_tree:
        return None
    s = c.settings
    pyspark_set = s.pyspark_mib is not None
    need = 0.0
    for ex in c.executors:
        m = c.per_executor.get(ex.exec_id)
        if m is None or not m.peak_metrics.get("ProcessTreeJVMRSSMemory"):
            continue
        p = m.peak_metrics
        heap = ex.requested_memory.get(RequestArea.HEAP, 0)
        non_heap = p.get("JVMOffHeapMemory", 0) + p.get("DirectPoolMemory", 0) + p.get("MappedPoolMemory", 0)
        jvm_outside_heap = max(p.get("ProcessTreeJVMRSSMemory", 0) - heap, non_heap)
        jvm_outside_heap -= p.get("OffHeapUnifiedMemory", 0)  # Spark's off-heap pool has its own area
        python = 0 if (pyspark_set or without_python) else p.get("ProcessTreePythonRSSMemory", 0)
        need = max(need, max(0, jvm_outside_heap) + python + p.get("ProcessTreeOtherRSSMemory", 0))
    return need


def _overhead(c: _Context, python_moved: bool) -> Advice | None:
    if c.memory.cluster_manager in ("standalone", "local"):
        return None  # no overhead is reserved there: the key changes nothing
    current = c.memory.requested[RequestArea.OVERHEAD] // MIB
    key = "spark.executor.memoryOverhead"
    need = _overhead_need(c, python_moved)
    removals = [r for r in c.memory.memory_removals if r.area in ("container", "offheap", "jvm_offheap")]
    if removals:
        base = max(current * 1.5 * MIB / HEADROOM, need or 0.0)
        mib = max(suggest_mib(base, _MIN_OVERHEAD_MIB), current + STEP_MIB)
        first = removals[0]
        return _advice(
            AdviceKind.EXECUTOR_MEMORY_OVERHEAD, key, mib,
            f"{len(removals)} executor(s) outgrew their container outside the heap ({first.area}; executor "
            f"{first.exec_id}: {first.reason[:120]!r}): raise spark.executor.memoryOverhead from "
            f"{_size(current)} to {_size(mib)}",
            {"memory_removals": len(removals), "outside_heap_peak_bytes": need or 0.0,
             "current_bytes": float(current * MIB)},
            "low", c.gib_hours_saved(key, mib),
        )
    if need is None or c.lost_to_memory:
        return None
    mib = suggest_mib(need, _MIN_OVERHEAD_MIB)
    if current * MIB < need:
        return _advice(
            AdviceKind.EXECUTOR_MEMORY_OVERHEAD, key, mib,
            f"executors used up to {_gib(need)} outside the heap, more than the {_size(current)} overhead: "
            f"raise spark.executor.memoryOverhead to {_size(mib)} before the cluster manager kills one",
            {"outside_heap_peak_bytes": need, "current_bytes": float(current * MIB)},
            "low", c.gib_hours_saved(key, mib),
        )
    if mib > LOWER_BELOW * current:
        return None
    return _advice(
        AdviceKind.EXECUTOR_MEMORY_OVERHEAD, key, mib,
        f"executors used at most {_gib(need)} outside the heap (process RSS) of a {_size(current)} overhead: "
        f"spark.executor.memoryOverhead={_size(mib)}",
        {"outside_heap_peak_bytes": need, "current_bytes": float(current * MIB)},
        # RSS is sampled: never lower risk than medium.
        "high" if c.risk() == "high" else "medium", c.gib_hours_saved(key, mib),
    )


def _pyspark(c: _Context) -> Advice | None:
    python = _python_rss(c)
    if not python:
        return None
    s = c.settings
    key = "spark.executor.pyspark.memory"
    current = s.pyspark_mib
    mib = suggest_mib(python, STEP_MIB)
    evidence = {"python_rss_peak_bytes": float(python)}
    if current is None:
        container = c.memory.requested[RequestArea.CONTAINER]
        if python < 256 * MIB and python < 0.1 * container:
            return None
        where = ("out of spark.executor.memoryOverhead" if c.memory.cluster_manager not in ("standalone", "local")
                 else "beside the executor's heap, with no limit")
        return _advice(
            AdviceKind.PYSPARK_MEMORY, key, mib,
            f"Python workers held up to {_gib(python)} {where}: give them their own limit, "
            f"spark.executor.pyspark.memory={_size(mib)} (not more heap: Python memory is outside the JVM)",
            evidence, "low" if c.risk() != "high" else "medium", c.gib_hours_saved(key, mib),
        )
    evidence["current_bytes"] = float(current * MIB)
    if python > 0.9 * current * MIB:
        mib = max(mib, current + STEP_MIB)
        return _advice(
            AdviceKind.PYSPARK_MEMORY, key, mib,
            f"Python workers reached {_gib(python)} of their {_size(current)} limit: raise "
            f"spark.executor.pyspark.memory to {_size(mib)}",
            evidence, "low", c.gib_hours_saved(key, mib),
        )
    if c.lost_to_memory or mib > LOWER_BELOW * current:
        return None
    return _advice(
        AdviceKind.PYSPARK_MEMORY, key, mib,
        f"Python workers peaked at {_gib(python)} of their {_size(current)} limit: "
        f"spark.executor.pyspark.memory={_size(mib)}",
        evidence, "high" if c.risk() == "high" else "medium", c.gib_hours_saved(key, mib),
    )


def _offheap(c: _Context) -> Advice | None:
    s = c.settings
    current = c.memory.requested[RequestArea.OFFHEAP] // MIB
    if not s.offheap_enabled or not current or c.lost_to_memory or not c.memory.available:
        return None
    used = c.max_over(("OffHeapExecutionMemory", "OffHeapStorageMemory"))
    key = "spark.memory.offHeap.size"
    evidence = {"offheap_peak_bytes": float(used), "current_bytes": float(current * MIB)}
    if used == 0:
        return _advice(
            AdviceKind.OFFHEAP_SIZE, "spark.memory.offHeap.enabled", 0,
            f"Spark's off-heap memory ({_size(current)} per executor) was never used: turn it off",
            evidence, c.risk(), c.gib_hours_saved(key, 0), value="false",
        )
    mib = suggest_mib(used, STEP_MIB)
    if mib > LOWER_BELOW * current:
        return None
    return _advice(
        AdviceKind.OFFHEAP_SIZE, key, mib,
        f"Spark's off-heap memory peaked at {_gib(used)} of {_size(current)}: spark.memory.offHeap.size={mib * MIB}",
        evidence, c.risk(), c.gib_hours_saved(key, mib), value=str(mib * MIB),
    )


def _driver(c: _Context) -> Advice | None:
    peak = c.memory.driver.peak[PeakArea.JVM_HEAP]
    if peak is None or c.lost_to_memory or c.memory.cluster_manager == "local":
        return None
    s = c.settings
    current = s.driver_memory_mib
    mib = suggest_mib(peak, 1024)
    if mib > LOWER_BELOW * current:
        return None
    old = driver_request(s)[RequestArea.CONTAINER]
    new = driver_request(MemorySettings({**c.conf, "spark.driver.memory": f"{mib}m"}, c.spark_version))
    saved = (old - new[RequestArea.CONTAINER]) * c.app_seconds / _GIB / 3600
    return _advice(
        AdviceKind.DRIVER_MEMORY, "spark.driver.memory", mib,
        f"the driver's heap peaked at {_gib(peak)} of {_size(current)}: spark.driver.memory={_size(mib)} "
        f"(the driver runs the whole app: collect()s of big results need more)",
        {"driver_heap_peak_bytes": float(peak), "current_bytes": float(current * MIB)},
        "high" if c.risk() == "high" else "medium", round(saved, 4),
    )


def evidence_note(c: _Context, advised: bool) -> str:
    """Why the memory evidence is thin and which Spark keys would measure it ("" when it is not).

    A note of the memory ledger, not advice: turning a metric on saves nothing by itself.
    """
    m = c.memory
    if not c.executors:
        return ""
    turn_on: dict[str, str] = {}
    reasons: list[str] = []
    if not m.available:
        return ""  # the ledger's own note says so, and what to turn on
    if c.risk() == "high":
        reasons.append(
            f"{m.executors_measured} of {m.executors_busy} busy executors reported memory, for a median "
            f"{c.median_busy_s:,.0f}s of tasks (peaks are sampled at each heartbeat, every 10 s by default)"
        )
        turn_on["spark.executor.metrics.pollingInterval"] = "1s"
    if not m.process_tree and m.cluster_manager not in ("standalone", "local"):
        turn_on["spark.executor.processTreeMetrics.enabled"] = "true"
        reasons.append(
            "process-tree metrics are off, so the memory used outside the heap (overhead, Python) is unknown"
        )
    if not reasons or not turn_on:
        return ""
    return (
        "memory evidence is thin: " + "; ".join(reasons)
        + (": the memory advice carries risk 'high'" if advised else "")
        + ". Turn on " + ", ".join(f"{k}={v}" for k, v in turn_on.items()) + " to measure"
    )


def advise_memory(
    memory: MemoryFigures,
    per_executor: Mapping[str, ExecutorMemory],
    executors: Sequence[ExecutorReport],
    conf: Mapping[str, str],
    spark_version: str,
    profiles: Mapping[int, ResourceProfileAdded],
    app_seconds: float,
) -> tuple[tuple[Advice, ...], str]:
    """Memory advice for one app (docs/advice.md, "Memory") and the evidence note ("" when none).

    Advice that would lower a size is kept only when it saves GiB-hours (a ``local[...]`` app or an
    unknown container saves nothing measurable); a raise is a correction with its cost stated
    (a negative saving), given only for a measured need above the setting or a loss to memory.

    ``executors`` are the detail report's records (lifetimes, requests, profiles); ``conf`` the
    app's forwarded properties; ``app_seconds`` its duration (what the driver was held for).
    """
    c = _Context(memory, per_executor, executors, conf, spark_version, profiles, app_seconds)
    advice: list[Advice] = []
    pyspark = _pyspark(c)
    heap = _heap(c)
    for found in (heap, _overhead(c, python_moved=pyspark is not None and c.settings.pyspark_mib is None),
                  _offheap(c), pyspark, _driver(c)):
        if found is not None and found.saving.get("gib_hours", 0.0) != 0.0:
            advice.append(found)
    return tuple(advice), evidence_note(c, advised=any(a.risk == "high" for a in advice))
