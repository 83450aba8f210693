"""The one place the analyzer reads an application's Spark properties (invariant 5).

The listener and the event-log reader forward only the keys of :data:`sparkprobe.events.CONF_KEYS`;
:class:`AppSettings` turns them into typed settings with Spark's own defaults. Every
``spark.sparkprobe.*`` key read here is listed in docs/configuration.md.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["DEFAULT_EXECUTOR_IDLE_TIMEOUT_S", "AppSettings", "spark_bool", "spark_int", "spark_seconds"]

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
        """``spark.dynamicAllocation.enabled`` when the app's conf is known, else None."""
        return spark_bool(self._conf.get("spark.dynamicAllocation.enabled"))

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
    def queue(self) -> str:
        """Where the app ran, for grouping a fleet: ``spark.yarn.queue``, else ``spark.kubernetes.namespace``.

        Empty when the app's conf names neither (Spark's own defaults are not assumed: an unset
        queue is not evidence of the ``default`` queue on a cluster with placement rules).
        """
        return self._conf.get("spark.yarn.queue") or self._conf.get("spark.kubernetes.namespace") or ""
