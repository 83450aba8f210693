"""The one place the analyzer reads an application's Spark properties (invariant 5).

The listener and the event-log reader forward only the keys of :data:`sparkprobe.events.CONF_KEYS`;
:class:`AppSettings` turns them into typed settings with Spark's own defaults. Every
``spark.sparkprobe.*`` key read here is listed in docs/configuration.md.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "DEFAULT_EXECUTOR_IDLE_TIMEOUT_S",
    "PRICE_CORE_HOUR_KEY",
    "PRICE_GIB_HOUR_KEY",
    "AppSettings",
    "MemorySettings",
    "price",
    "spark_bool",
    "spark_bytes",
    "spark_float",
    "spark_int",
    "spark_mib",
    "spark_seconds",
]

#: Spark's default ``spark.dynamicAllocation.executorIdleTimeout`` (seconds).
DEFAULT_EXECUTOR_IDLE_TIMEOUT_S = 60.0


def spark_seconds(value: str | None, default: float) -> float:
    """Spark time strings (``60s``, ``5min``, ``500ms``, ``2h``, bare numbers = seconds)."""
    if not value:
        return default
    text = value.strip().lower()
    for suffix, factor in (("ms", 0.001), ("min", 60.0), ("s", 1.0), ("m", 60.0), ("h", 3600.0), ("d", 86400.0)):
        if text.endswith(suffix):
            try:
                return float(text[: -len(suffix)]) * factor
            except ValueError:
                return default
    try:
        return float(text)
    except ValueError:
        return default


def spark_bool(value: str | None) -> bool | None:
    """A Spark boolean property (``true``/``false``, any case); None when unset."""
    if value is None:
        return None
    return value.strip().lower() == "true"


def spark_int(value: str | None) -> int | None:
    """A Spark integer property; None when unset or not an integer."""
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


class AppSettings:
    """Typed view of one app's forwarded Spark properties (read live from the conf it wraps)."""

    def __init__(self, conf: Mapping[str, str]) -> None:
        """``conf``: the app's allow-listed properties (read at each access, so later updates count)."""
        self._conf = conf

    def get(self, key: str, default: str | None = None) -> str | None:
        """The raw value of a forwarded key (for advice that quotes the user's own setting)."""
        return self._conf.get(key, default)

    @property
    def dynamic_allocation(self) -> bool | None:
        """``spark.dynamicAllocation.enabled`` when the app's conf is known, else None.

        False for a ``local``/``local[...]`` master whatever the key says: Spark never enables
        dynamic allocation there (``Utils.isDynamicAllocationEnabled``).
        """
        enabled = spark_bool(self._conf.get("spark.dynamicAllocation.enabled"))
        if enabled:
            master = self._conf.get("spark.master", "").strip()
            if master == "local" or master.startswith("local["):
                return False
        return enabled

    def idle_threshold_ms(self, default_s: float) -> int:
        """``spark.sparkprobe.idleThreshold`` of the app (a Spark duration), else ``default_s`` (the agent's)."""
        seconds = spark_seconds(self._conf.get("spark.sparkprobe.idleThreshold"), default_s)
        return int(seconds * 1000)

    @property
    def task_cpus(self) -> int:
        """``spark.task.cpus`` (default 1): cores one running task occupies."""
        return max(1, spark_int(self._conf.get("spark.task.cpus")) or 1)

    @property
    def min_executors(self) -> int:
        """``spark.dynamicAllocation.minExecutors`` (default 0)."""
        return spark_int(self._conf.get("spark.dynamicAllocation.minExecutors")) or 0

    @property
    def shuffle_tracking(self) -> bool:
        """Whether executors with shuffle output are kept: shuffle tracking on, no external service."""
        tracking = spark_bool(self._conf.get("spark.dynamicAllocation.shuffleTracking.enabled"))
        service = spark_bool(self._conf.get("spark.shuffle.service.enabled"))
        return bool(tracking) and not service

    @property
    def executor_idle_timeout_s(self) -> float:
        """``spark.dynamicAllocation.executorIdleTimeout`` in seconds (default 60)."""
        return spark_seconds(
            self._conf.get("spark.dynamicAllocation.executorIdleTimeout"), DEFAULT_EXECUTOR_IDLE_TIMEOUT_S
        )

    @property
    def cached_idle_timeout(self) -> str:
        """``spark.dynamicAllocation.cachedExecutorIdleTimeout`` as set (default ``infinity``)."""
        return self._conf.get("spark.dynamicAllocation.cachedExecutorIdleTimeout", "infinity")

    @property
    def min_executors_text(self) -> str:
        """``spark.dynamicAllocation.minExecutors`` as set (default ``0``)."""
        return self._conf.get("spark.dynamicAllocation.minExecutors", "0")

    @property
    def master(self) -> str:
        """``spark.master`` as set (empty when unknown)."""
        return self._conf.get("spark.master", "")

    @property
    def queue(self) -> str:
        """Where the app ran, for grouping a fleet: ``spark.yarn.queue``, else ``spark.kubernetes.namespace``.

        Empty when the app's conf names neither (Spark's own defaults are not assumed: an unset
        queue is not evidence of the ``default`` queue on a cluster with placement rules).
        """
        return self._conf.get("spark.yarn.queue") or self._conf.get("spark.kubernetes.namespace") or ""


# ---------------------------------------------------------------------------------------- memory
#: Spark's suffixes of a size string (``JavaUtils.byteStringAs``: case-insensitive, integer amounts).
_SIZE_SUFFIXES = {
    "b": 1, "k": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "g": 1 << 30, "gb": 1 << 30,
    "t": 1 << 40, "tb": 1 << 40, "p": 1 << 50, "pb": 1 << 50,
}
_MIB = 1 << 20


def spark_bytes(value: str | None, default_unit: int) -> int | None:
    """A Spark size string in bytes (``512m``, ``28g``; a bare number is in ``default_unit`` bytes).

    Spark accepts integer amounts only (``1.5g`` is refused); anything it would refuse is None.
    """
    if value is None:
        return None
    text = value.strip().lower()
    digits = len(text) - len(text.lstrip("0123456789"))
    number, suffix = text[:digits], text[digits:].strip()
    if not number:
        return None
    if not suffix:
        return int(number) * default_unit
    factor = _SIZE_SUFFIXES.get(suffix)
    return int(number) * factor if factor is not None else None


def spark_mib(value: str | None) -> int | None:
    """A Spark size whose bare numbers mean MiB (``spark.executor.memory``...), in whole MiB (floor)."""
    size = spark_bytes(value, _MIB)
    return None if size is None else size // _MIB


def spark_float(value: str | None) -> float | None:
    """A Spark double property; None when unset or not a number."""
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if number == number and number not in (float("inf"), float("-inf")) else None


def _major(spark_version: str) -> int:
    head = spark_version.split(".", 1)[0]
    return int(head) if head.isdigit() else 0


class MemorySettings:
    """The memory keys of one app, typed with Spark's defaults (docs/figures.md, "Memory").

    Every size is in MiB, as Spark's own resource code counts them. ``spark_version`` decides what
    Spark reads: ``spark.executor.minMemoryOverhead`` and ``spark.driver.minMemoryOverhead`` exist
    from Spark 4.0 on (3.x uses a fixed 384 MiB).
    """

    def __init__(self, conf: Mapping[str, str], spark_version: str) -> None:
        """``conf``: the app's forwarded properties; ``spark_version``: as the app reported it."""
        self._conf = conf
        self._major = _major(spark_version)

    def _mib(self, *keys: str) -> int | None:
        for key in keys:  # the first key set wins (Spark's alternative, deprecated names follow)
            if key in self._conf:
                return spark_mib(self._conf[key])
        return None

    @property
    def cluster_manager(self) -> str:
        """``yarn``, ``kubernetes``, ``standalone`` (also ``local-cluster``), ``local`` or ``unknown``."""
        master = (self._conf.get("spark.master") or "").strip().lower()
        if master.startswith("yarn"):
            return "yarn"
        if master.startswith("k8s://"):
            return "kubernetes"
        if master.startswith(("spark://", "local-cluster")):
            return "standalone"
        if master.startswith("local"):
            return "local"
        return "unknown"

    @property
    def cluster_mode(self) -> bool:
        """``spark.submit.deployMode`` is ``cluster`` (the driver runs in a container of its own)."""
        return (self._conf.get("spark.submit.deployMode") or "client").strip().lower() == "cluster"

    @property
    def python_app(self) -> bool | None:
        """Whether the app runs Python: ``spark.yarn.isPython`` or ``spark.kubernetes.resource.type``.

        None when neither key is known (they are set by ``spark-submit`` on YARN and Kubernetes only).
        """
        yarn = spark_bool(self._conf.get("spark.yarn.isPython"))
        kind = self._conf.get("spark.kubernetes.resource.type")
        if yarn is None and kind is None:
            return None
        return bool(yarn) or (kind or "").strip().lower() == "python"

    @property
    def non_jvm_app(self) -> bool:
        """A Python or R app on Kubernetes (``spark.kubernetes.resource.type``), whose driver gets 0.4."""
        return (self._conf.get("spark.kubernetes.resource.type") or "").strip().lower() in ("python", "r")

    @property
    def executor_memory_mib(self) -> int | None:
        """``spark.executor.memory`` as set (None when unset: Spark's default is 1 GiB)."""
        return self._mib("spark.executor.memory")

    @property
    def executor_overhead_mib(self) -> int | None:
        """``spark.executor.memoryOverhead`` (or ``spark.yarn.executor.memoryOverhead``) as set."""
        return self._mib("spark.executor.memoryOverhead", "spark.yarn.executor.memoryOverhead")

    @property
    def executor_overhead_factor(self) -> float:
        """The factor of the heap the cluster manager adds as overhead when none is set.

        ``spark.executor.memoryOverheadFactor`` (default 0.1); on Kubernetes, when that is unset,
        ``spark.kubernetes.memoryOverheadFactor`` (default 0.1), as ``BasicExecutorFeatureStep`` does.
        """
        factor = spark_float(self._conf.get("spark.executor.memoryOverheadFactor"))
        if factor is None and self.cluster_manager == "kubernetes":
            factor = spark_float(self._conf.get("spark.kubernetes.memoryOverheadFactor"))
        return 0.1 if factor is None else factor

    @property
    def executor_min_overhead_mib(self) -> int:
        """``spark.executor.minMemoryOverhead`` on Spark 4+ (default 384 MiB); 384 MiB before."""
        if self._major >= 4:
            return self._mib("spark.executor.minMemoryOverhead") or 384
        return 384

    @property
    def offheap_mib(self) -> int:
        """``spark.memory.offHeap.size`` when ``spark.memory.offHeap.enabled``, else 0.

        The size's bare numbers are bytes (Spark's ``bytesConf(BYTE)``), counted in whole MiB as
        ``Utils.executorOffHeapMemorySizeAsMb`` does.
        """
        if not spark_bool(self._conf.get("spark.memory.offHeap.enabled")):
            return 0
        size = spark_bytes(self._conf.get("spark.memory.offHeap.size"), 1)
        return 0 if size is None else size // _MIB

    @property
    def offheap_enabled(self) -> bool:
        """``spark.memory.offHeap.enabled``."""
        return bool(spark_bool(self._conf.get("spark.memory.offHeap.enabled")))

    @property
    def pyspark_mib(self) -> int | None:
        """``spark.executor.pyspark.memory`` as set."""
        return self._mib("spark.executor.pyspark.memory")

    @property
    def process_tree_metrics(self) -> bool | None:
        """``spark.executor.processTreeMetrics.enabled`` (default false); None when the conf is unknown."""
        if not self._conf:
            return None
        return bool(spark_bool(self._conf.get("spark.executor.processTreeMetrics.enabled")))

    @property
    def driver_memory_mib(self) -> int:
        """``spark.driver.memory`` (default 1 GiB)."""
        return self._mib("spark.driver.memory") or 1024

    @property
    def driver_overhead_mib(self) -> int | None:
        """``spark.driver.memoryOverhead`` (or ``spark.yarn.driver.memoryOverhead``) as set."""
        return self._mib("spark.driver.memoryOverhead", "spark.yarn.driver.memoryOverhead")

    @property
    def driver_overhead_factor(self) -> float:
        """``spark.driver.memoryOverheadFactor`` (default 0.1).

        On Kubernetes, unset, it is ``spark.kubernetes.memoryOverheadFactor`` if set, else 0.4 for a
        Python or R driver and 0.1 for a JVM one (``BasicDriverFeatureStep``).
        """
        factor = spark_float(self._conf.get("spark.driver.memoryOverheadFactor"))
        if factor is None and self.cluster_manager == "kubernetes":
            factor = spark_float(self._conf.get("spark.kubernetes.memoryOverheadFactor"))
            if factor is None and self.non_jvm_app:
                factor = 0.4
        return 0.1 if factor is None else factor

    @property
    def driver_min_overhead_mib(self) -> int:
        """``spark.driver.minMemoryOverhead`` on Spark 4+ (default 384 MiB); 384 MiB before."""
        if self._major >= 4:
            return self._mib("spark.driver.minMemoryOverhead") or 384
        return 384

    @property
    def executor_cores(self) -> int | None:
        """``spark.executor.cores`` as set."""
        return spark_int(self._conf.get("spark.executor.cores"))


#: The app's own prices (docs/configuration.md): per core-hour and per GiB-hour of executor memory.
PRICE_CORE_HOUR_KEY = "spark.sparkprobe.price.coreHour"
PRICE_GIB_HOUR_KEY = "spark.sparkprobe.price.gibHour"


def price(conf: Mapping[str, str], name: str, default: float | None) -> tuple[float | None, str]:
    """The app's price under ``name`` (:data:`PRICE_CORE_HOUR_KEY`...), else ``default``; with a note.

    A value that is not a finite non-negative number is ignored (the note says so) and ``default``
    (the agent's or ``analyze``'s flag) applies.
    """
    raw = conf.get(name)
    if raw is None:
        return default, ""
    value = spark_float(raw)
    if value is None or value < 0:
        return default, f"{name}={raw[:40]!r} is not a non-negative number: ignored"
    return value, ""
