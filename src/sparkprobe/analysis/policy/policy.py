"""An allocation policy: the Spark settings the simulator replays, with Spark's own defaults and checks.

A :class:`Policy` is made from Spark keys (the app's recorded conf, overlaid with a what-if's keys)
by :func:`policy_from_conf`, which applies what Spark itself applies (docs/advice.md cites each):

- ``Utils.isDynamicAllocationEnabled``: dynamic allocation is never on for a ``local``/``local[...]``
  master (``local-cluster[...]`` is not local);
- ``Utils.getDynamicAllocationInitialExecutors``: the initial target is the largest of
  ``minExecutors``, ``initialExecutors`` and ``spark.executor.instances``;
- ``ExecutorAllocationManager.validateSettings``: ``0 <= min <= max``, ``max > 0``, backlog timeouts
  ``> 0``, ``0 < executorAllocationRatio <= 1``, and the shuffle prerequisite (an external shuffle
  service, or shuffle tracking from 3.0, or shuffle-block decommission from 3.1): without it Spark
  stops the app at start, so such a policy is refused (:class:`PolicyError`);
- config defaults (``internal/config/package.scala``): idle timeout 60 s, cached idle timeout
  ``Integer.MAX_VALUE`` s, shuffle tracking timeout ``Long.MaxValue`` ms, backlog timeout 1 s (the
  sustained one falls back to it), ratio 1.0, ``maxExecutors`` ``Int.MaxValue``, and
  ``shuffleTracking.enabled`` false before 3.4, true from 3.4 (SPARK-40079).

Durations follow Spark's ``timeConf`` units: the executor, cached and backlog timeouts are whole
seconds (a bare number is seconds; ``1500ms`` is 1 s, as Spark truncates), the shuffle tracking
timeout is milliseconds (a bare number is milliseconds).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "INFINITE_MS",
    "POLICY_KEYS",
    "Policy",
    "PolicyError",
    "is_local_master",
    "policy_from_conf",
    "spark_line",
]

#: Spark's "never" for the cached idle timeout (``Integer.MAX_VALUE`` seconds) and the shuffle
#: tracking timeout (``Long.MaxValue`` ms): the simulator treats any timeout at least this long as never.
INFINITE_MS = 2**31 * 1000

#: The Spark keys a what-if may set (the rest of the app's conf is kept as recorded).
POLICY_KEYS: tuple[str, ...] = (
    "spark.dynamicAllocation.enabled",
    "spark.dynamicAllocation.minExecutors",
    "spark.dynamicAllocation.maxExecutors",
    "spark.dynamicAllocation.initialExecutors",
    "spark.dynamicAllocation.executorIdleTimeout",
    "spark.dynamicAllocation.cachedExecutorIdleTimeout",
    "spark.dynamicAllocation.schedulerBacklogTimeout",
    "spark.dynamicAllocation.sustainedSchedulerBacklogTimeout",
    "spark.dynamicAllocation.executorAllocationRatio",
    "spark.dynamicAllocation.shuffleTracking.enabled",
    "spark.dynamicAllocation.shuffleTracking.timeout",
    "spark.shuffle.service.enabled",
    "spark.executor.instances",
    "spark.executor.cores",
    "spark.decommission.enabled",
    "spark.storage.decommission.enabled",
    "spark.storage.decommission.rddBlocks.enabled",
    "spark.storage.decommission.shuffleBlocks.enabled",
)


class PolicyError(ValueError):
    """A policy Spark would refuse (or a value it cannot parse); the message says which key and why."""


def is_local_master(master: str | None) -> bool:
    """``local`` or ``local[...]`` (Spark's ``Utils.isLocalMaster``); ``local-cluster[...]`` is not local."""
    if not master:
        return False
    text = master.strip()
    return text == "local" or text.startswith("local[")


def spark_line(version: str) -> tuple[int, int] | None:
    """``(major, minor)`` of a Spark version string (``3.3.0-amzn-0`` → (3, 3)); None when unreadable."""
    found = re.match(r"\s*(\d+)\.(\d+)", version or "")
    return (int(found.group(1)), int(found.group(2))) if found else None


_UNITS_MS = (("ms", 1), ("min", 60_000), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000))


def _time_ms(key: str, value: str, bare_unit_ms: int) -> int:
    """A Spark ``timeConf`` value in ms; ``bare_unit_ms`` is the key's unit (also its truncation)."""
    text = value.strip().lower()
    if text in ("inf", "infinity", "never"):
        return INFINITE_MS
    factor = bare_unit_ms
    for suffix, unit in _UNITS_MS:
        if text.endswith(suffix) and text[: -len(suffix)].strip().replace(".", "", 1).isdigit():
            text, factor = text[: -len(suffix)].strip(), unit
            break
    try:
        number = float(text)
    except ValueError:
        raise PolicyError(f"{key}={value!r} is not a Spark duration (e.g. 60s, 5min, 500ms)") from None
    if number < 0 or math.isnan(number):
        raise PolicyError(f"{key}={value!r}: Spark requires a timeout >= 0")
    ms = number * factor
    # Spark converts to the key's unit with TimeUnit.convert, which truncates.
    return min(INFINITE_MS, int(ms // bare_unit_ms) * bare_unit_ms)


def _int(key: str, value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise PolicyError(f"{key}={value!r} is not an integer") from None


def _bool(key: str, value: str) -> bool:
    text = value.strip().lower()
    if text not in ("true", "false"):
        raise PolicyError(f"{key}={value!r} is not true or false")
    return text == "true"


@dataclass(frozen=True, slots=True)
class Policy:
    """How executors are asked for and given back: what :func:`sparkprobe.analysis.policy.simulate` replays."""

    #: Dynamic allocation on (effective: never for a local master).
    dynamic: bool
    #: Static allocation: executors asked for at start (``spark.executor.instances``); None = as recorded.
    instances: int | None
    min_executors: int
    max_executors: int
    initial_executors: int
    idle_timeout_ms: int
    cached_idle_timeout_ms: int
    shuffle_timeout_ms: int
    #: Executors keep shuffle output for the ExecutorMonitor (shuffle tracking on, no shuffle service).
    shuffle_tracking: bool
    backlog_timeout_ms: int
    sustained_backlog_timeout_ms: int
    allocation_ratio: float
    #: ``spark.decommission.enabled``: idle executors are decommissioned instead of killed.
    decommission: bool
    #: Decommissioned executors migrate their cached RDD blocks to the others first.
    migrate_rdd_blocks: bool
    #: Cores per executor (None = as recorded).
    executor_cores: int | None
    #: The Spark keys that make this policy, as given (its identity in reports).
    conf: Mapping[str, str] = field(default_factory=dict)


def _shuffle_tracking_default(line: tuple[int, int] | None) -> bool:
    return line is not None and line >= (3, 4)


def policy_from_conf(
    recorded: Mapping[str, str],
    overrides: Mapping[str, str] | None = None,
    *,
    spark_version: str = "",
    master: str | None = None,
) -> Policy:
    """The policy the app ran with (``overrides`` None) or would run with under ``overrides``.

    Raises :class:`PolicyError` for a key the simulator does not replay, a value Spark cannot parse,
    or settings Spark's ``validateSettings`` refuses (the app would not start).
    """
    overrides = dict(overrides or {})
    for key in overrides:
        if key not in POLICY_KEYS:
            raise PolicyError(f"{key} is not a key the policy simulator replays (docs/advice.md lists them)")
    conf = {**{k: v for k, v in recorded.items() if k in POLICY_KEYS}, **overrides}
    line = spark_line(spark_version)
    get = conf.get

    enabled = _bool("spark.dynamicAllocation.enabled", get("spark.dynamicAllocation.enabled", "false"))
    if is_local_master(master if master is not None else recorded.get("spark.master")):
        enabled = False
    min_exec = _int("spark.dynamicAllocation.minExecutors", get("spark.dynamicAllocation.minExecutors", "0"))
    max_exec = _int("spark.dynamicAllocation.maxExecutors", get("spark.dynamicAllocation.maxExecutors", str(2**31 - 1)))
    instances_text = get("spark.executor.instances")
    instances = _int("spark.executor.instances", instances_text) if instances_text is not None else None
    initial_text = get("spark.dynamicAllocation.initialExecutors")
    initial_set = (
        _int("spark.dynamicAllocation.initialExecutors", initial_text) if initial_text is not None else min_exec
    )
    initial = max(min_exec, initial_set, instances or 0)
    idle = _time_ms("spark.dynamicAllocation.executorIdleTimeout",
                    get("spark.dynamicAllocation.executorIdleTimeout", "60s"), 1000)
    cached = _time_ms("spark.dynamicAllocation.cachedExecutorIdleTimeout",
                      get("spark.dynamicAllocation.cachedExecutorIdleTimeout", "infinity"), 1000)
    backlog = _time_ms("spark.dynamicAllocation.schedulerBacklogTimeout",
                       get("spark.dynamicAllocation.schedulerBacklogTimeout", "1s"), 1000)
    sustained_text = get("spark.dynamicAllocation.sustainedSchedulerBacklogTimeout")
    sustained = (
        _time_ms("spark.dynamicAllocation.sustainedSchedulerBacklogTimeout", sustained_text, 1000)
        if sustained_text is not None else backlog
    )
    ratio_text = get("spark.dynamicAllocation.executorAllocationRatio", "1.0")
    try:
        ratio = float(ratio_text)
    except ValueError:
        raise PolicyError(f"spark.dynamicAllocation.executorAllocationRatio={ratio_text!r} is not a number") from None
    tracking_text = get("spark.dynamicAllocation.shuffleTracking.enabled")
    tracking_on = (
        _bool("spark.dynamicAllocation.shuffleTracking.enabled", tracking_text)
        if tracking_text is not None else _shuffle_tracking_default(line)
    )
    shuffle_timeout = _time_ms("spark.dynamicAllocation.shuffleTracking.timeout",
                               get("spark.dynamicAllocation.shuffleTracking.timeout", "infinity"), 1)
    service = _bool("spark.shuffle.service.enabled", get("spark.shuffle.service.enabled", "false"))
    decommission = _bool("spark.decommission.enabled", get("spark.decommission.enabled", "false"))
    storage_decommission = _bool("spark.storage.decommission.enabled",
                                 get("spark.storage.decommission.enabled", "false"))
    rdd_blocks = _bool("spark.storage.decommission.rddBlocks.enabled",
                       get("spark.storage.decommission.rddBlocks.enabled", "true"))
    shuffle_blocks = _bool("spark.storage.decommission.shuffleBlocks.enabled",
                           get("spark.storage.decommission.shuffleBlocks.enabled", "true"))
    cores_text = get("spark.executor.cores")
    cores = _int("spark.executor.cores", cores_text) if cores_text is not None else None
    if cores is not None and cores < 1:
        raise PolicyError(f"spark.executor.cores={cores} must be at least 1")
    if instances is not None and instances < 0:
        raise PolicyError(f"spark.executor.instances={instances} must be >= 0")

    if enabled:
        # ExecutorAllocationManager.validateSettings: the app fails at start otherwise.
        if min_exec < 0 or max_exec < 0:
            raise PolicyError("spark.dynamicAllocation.minExecutors and maxExecutors must be >= 0")
        if max_exec == 0:
            raise PolicyError("spark.dynamicAllocation.maxExecutors cannot be 0")
        if min_exec > max_exec:
            raise PolicyError(
                f"spark.dynamicAllocation.minExecutors ({min_exec}) must be <= maxExecutors ({max_exec})"
            )
        if backlog <= 0 or sustained <= 0:
            raise PolicyError("the scheduler backlog timeouts must be > 0 (whole seconds)")
        if not 0.0 < ratio <= 1.0:
            raise PolicyError("spark.dynamicAllocation.executorAllocationRatio must be > 0 and <= 1.0")
        tracking_known = line is None or line >= (3, 0)
        shuffle_decommission_known = line is None or line >= (3, 1)
        if not service and not (tracking_on and tracking_known) and not (
            decommission and shuffle_blocks and shuffle_decommission_known
        ):
            if line is not None and line < (3, 0):
                need = "spark.shuffle.service.enabled=true (Spark before 3.0 has no shuffle tracking)"
            else:
                need = "spark.dynamicAllocation.shuffleTracking.enabled=true or spark.shuffle.service.enabled=true"
            raise PolicyError(
                f"dynamic allocation without a shuffle prerequisite: Spark stops the app at start; set {need}"
            )
    return Policy(
        dynamic=enabled,
        instances=instances,
        min_executors=min_exec,
        max_executors=max_exec,
        initial_executors=initial,
        idle_timeout_ms=idle,
        cached_idle_timeout_ms=cached,
        shuffle_timeout_ms=shuffle_timeout,
        shuffle_tracking=tracking_on and not service and (line is None or line >= (3, 0)),
        backlog_timeout_ms=backlog,
        sustained_backlog_timeout_ms=sustained,
        allocation_ratio=ratio,
        decommission=decommission,
        migrate_rdd_blocks=decommission and storage_decommission and rdd_blocks,
        executor_cores=cores,
        conf=dict(overrides) if overrides else {k: v for k, v in recorded.items() if k in POLICY_KEYS},
    )
