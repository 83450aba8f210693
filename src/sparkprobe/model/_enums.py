"""The report's bounded label sets (enums) and the helper that writes their maps."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any


class IdleCause(str, Enum):
    """Why an executor sat idle; the first that applies wins (docs/figures.md)."""

    CACHE_HELD = "cache_held"
    SHUFFLE_HELD = "shuffle_held"
    MIN_EXECUTORS = "min_executors"
    DRIVER_BUSY = "driver_busy"
    UNNEEDED = "unneeded"
    #: A Spark Connect server with no client session open and no stage running (docs/tenants.md).
    NO_SESSION = "no_session"


class RemovalCause(str, Enum):
    """Why an executor went away, classified from Spark's free text (docs/cache-loss.md)."""

    DYNAMIC_ALLOCATION = "dynamic_allocation"
    DECOMMISSION = "decommission"
    FAILURE = "failure"
    #: Out of memory: the JVM (exit 52, OutOfMemoryError) or the container (YARN's or Kubernetes' limit).
    MEMORY = "memory"
    #: Taken back by the cluster manager (YARN preemption, Kubernetes pod deletion or eviction).
    PREEMPTED = "preempted"
    OTHER = "other"


class TaskStatus(str, Enum):
    """How a task attempt ended (``TaskEnd.status``)."""

    SUCCESS = "success"
    FAILED = "failed"
    KILLED = "killed"
    RESUBMITTED = "resubmitted"


class FindingKind(str, Enum):
    """What a finding is about."""

    CACHE_LOST = "cache_lost"
    IDLE_EXECUTOR = "idle_executor"
    IDLE_SHARE = "idle_share"
    UNCACHED_REUSE = "uncached_reuse"


class AdviceKind(str, Enum):
    """Which piece of advice (docs/advice.md)."""

    ENABLE_DYNAMIC_ALLOCATION = "enable_dynamic_allocation"
    CACHE_HELD_TRADEOFF = "cache_held_tradeoff"
    LOWER_MIN_EXECUTORS = "lower_min_executors"
    SHUFFLE_TRACKING_TIMEOUT = "shuffle_tracking_timeout"
    KEEP_STATIC_FOR_BURSTS = "keep_static_for_bursts"
    #: The cheapest policy of the advisor's grid within the wall-time bound (docs/advice.md).
    ALLOCATION_POLICY = "allocation_policy"
    #: Memory (docs/advice.md, "Memory"): one per Spark key, up or down.
    EXECUTOR_MEMORY = "executor_memory"
    EXECUTOR_MEMORY_OVERHEAD = "executor_memory_overhead"
    OFFHEAP_SIZE = "offheap_size"
    PYSPARK_MEMORY = "pyspark_memory"
    DRIVER_MEMORY = "driver_memory"


class IncompleteReason(str, Enum):
    """Why an app's figures may miss events (``incomplete_reasons``)."""

    #: The listener reported events it could not send (queue full, agent unreachable).
    LISTENER_DROPS = "listener_drops"
    #: The agent joined a stream that had been sending to another agent, or events went missing.
    GAPS = "gaps"
    #: The driver disconnected without ``ApplicationEnd``; the agent closed the app itself.
    CLOSED_BY_TIMEOUT = "closed_by_timeout"
    #: The event log has no ``ApplicationEnd`` (still running, crashed, or a Databricks log).
    NO_APPLICATION_END = "no_application_end"
    #: This agent took the app over mid-run (its listener came from another agent, or this agent
    #: restarted): core-seconds, idle, task counts and sums, losses, rebuilds and findings start at
    #: ``figures_from_ms``; executors, their cores and the cached blocks come from the replay.
    TAKEN_OVER = "taken_over"


class RequestArea(str, Enum):
    """What an executor (or the driver) was given, by area (docs/figures.md, "Memory")."""

    HEAP = "heap"
    OVERHEAD = "overhead"
    OFFHEAP = "offheap"
    PYSPARK = "pyspark"
    #: What the cluster manager reserves for it (YARN container, Kubernetes pod limit, Worker memory).
    CONTAINER = "container"


class PeakArea(str, Enum):
    """Where memory was used, from Spark's executor metrics peaks (docs/figures.md, "Memory")."""

    JVM_HEAP = "jvm_heap"
    JVM_OFFHEAP = "jvm_offheap"
    EXECUTION = "execution"
    STORAGE = "storage"
    PROCESS_RSS = "process_rss"
    PYTHON_RSS = "python_rss"
    OTHER_RSS = "other_rss"


class WasteCause(str, Enum):
    """What wasted cost is charged to: the idle causes, and what busy executors held but did not use."""

    CACHE_HELD = "cache_held"
    SHUFFLE_HELD = "shuffle_held"
    MIN_EXECUTORS = "min_executors"
    DRIVER_BUSY = "driver_busy"
    UNNEEDED = "unneeded"
    NO_SESSION = "no_session"
    #: Cores free and memory unused while the executor ran tasks (docs/figures.md, "Cost").
    UNUSED_WHILE_BUSY = "unused_while_busy"


class TenantKind(str, Enum):
    """Who a share of an app's work is attributed to (docs/tenants.md)."""

    #: A Spark Connect session (its jobs carry Connect's operation tag).
    SESSION = "session"
    #: The user of a Spark Connect session (``user_id`` of the client's connection string).
    USER = "user"
    #: A job tag: ``SparkSession.addTag`` (classic or Connect) or ``SparkContext.addJobTag``.
    TAG = "tag"
    #: A job group (``SparkContext.setJobGroup``, ``spark.jobGroup.id``).
    JOB_GROUP = "job_group"
    #: A fair-scheduler pool (``spark.scheduler.pool``).
    POOL = "pool"


def _enum_map(values: Mapping[Any, Any]) -> dict[str, Any]:
    return {(k.value if isinstance(k, Enum) else k): v for k, v in values.items()}
