"""Typed events: the one vocabulary shared by the live wire decoder and the event-log reader.

Every source turns what it reads into these records, and the analyzer consumes nothing else, so a
live stream and the event log of the same run go through exactly the same analysis code.

Field names are the wire names (docs/wire-format.md): a wire line ``{"k": "task_end", ...}`` carries
the fields of :class:`TaskEnd` under the same names. Times are epoch milliseconds from Spark's own
events (invariant 1: event time, never the clock of the process reading them).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CONF_KEYS",
    "EVENT_TYPES",
    "EXECUTOR_METRIC_NAMES",
    "AppEnd",
    "AppStart",
    "BlockManagerAdded",
    "BlockManagerRemoved",
    "BlockUpdated",
    "Conf",
    "ConnectServerStarted",
    "Event",
    "ExecutorAdded",
    "ExecutorMetrics",
    "ExecutorRemoved",
    "JobEnd",
    "JobStart",
    "ListenerStats",
    "RddInfo",
    "ReplayEnd",
    "ReplayStart",
    "ResourceProfileAdded",
    "SessionClosed",
    "SessionStarted",
    "StageCompleted",
    "StageSubmitted",
    "TaskEnd",
    "TaskStart",
    "UnpersistRDD",
    "split_job_tags",
]

#: The only Spark properties sparkprobe reads (invariant 6: never the whole conf). The JVM listener
#: and the event-log reader both filter to this list; ProbeListener.java holds the same list.
CONF_KEYS: tuple[str, ...] = (
    "spark.master",
    "spark.dynamicAllocation.enabled",
    "spark.dynamicAllocation.minExecutors",
    "spark.dynamicAllocation.maxExecutors",
    "spark.dynamicAllocation.initialExecutors",
    "spark.dynamicAllocation.executorIdleTimeout",
    "spark.dynamicAllocation.cachedExecutorIdleTimeout",
    "spark.dynamicAllocation.shuffleTracking.enabled",
    "spark.dynamicAllocation.shuffleTracking.timeout",
    "spark.shuffle.service.enabled",
    "spark.executor.instances",
    "spark.executor.cores",
    "spark.executor.memory",
    "spark.task.cpus",
    "spark.decommission.enabled",
    "spark.storage.decommission.enabled",
    "spark.storage.decommission.rddBlocks.enabled",
    "spark.storage.decommission.shuffleBlocks.enabled",
    # Dynamic allocation's timing (the policy simulator replays it: docs/advice.md).
    "spark.dynamicAllocation.schedulerBacklogTimeout",
    "spark.dynamicAllocation.sustainedSchedulerBacklogTimeout",
    "spark.dynamicAllocation.executorAllocationRatio",
    "spark.submit.deployMode",
    # What each executor and the driver were given (the container size, docs/figures.md).
    "spark.executor.memoryOverhead",
    "spark.executor.memoryOverheadFactor",
    "spark.executor.minMemoryOverhead",
    "spark.kubernetes.memoryOverheadFactor",
    "spark.yarn.executor.memoryOverhead",
    "spark.memory.offHeap.enabled",
    "spark.memory.offHeap.size",
    "spark.executor.pyspark.memory",
    "spark.executor.processTreeMetrics.enabled",
    "spark.driver.memory",
    "spark.driver.memoryOverhead",
    "spark.driver.memoryOverheadFactor",
    "spark.driver.minMemoryOverhead",
    "spark.yarn.driver.memoryOverhead",
    "spark.driver.cores",
    # Where the app ran, for grouping a fleet (never a credential).
    "spark.yarn.queue",
    "spark.kubernetes.namespace",
    # Read by the analyzer (per app), not by the listener: docs/configuration.md.
    "spark.sparkprobe.idleThreshold",
    "spark.sparkprobe.price.coreHour",
    "spark.sparkprobe.price.gibHour",
)


#: Spark's ``ExecutorMetricType`` names an :class:`ExecutorMetrics` record carries (Spark 3.0+; the
#: GC ones 3.1+): the memory areas, the process-tree sizes (non-zero only with
#: ``spark.executor.processTreeMetrics.enabled``) and the GC counts and times. Any other name a
#: source meets is left out, so the records and the analyzer's peaks stay bounded.
EXECUTOR_METRIC_NAMES: tuple[str, ...] = (
    "JVMHeapMemory",
    "JVMOffHeapMemory",
    "OnHeapExecutionMemory",
    "OffHeapExecutionMemory",
    "OnHeapStorageMemory",
    "OffHeapStorageMemory",
    "OnHeapUnifiedMemory",
    "OffHeapUnifiedMemory",
    "DirectPoolMemory",
    "MappedPoolMemory",
    "ProcessTreeJVMVMemory",
    "ProcessTreeJVMRSSMemory",
    "ProcessTreePythonVMemory",
    "ProcessTreePythonRSSMemory",
    "ProcessTreeOtherVMemory",
    "ProcessTreeOtherRSSMemory",
    "MinorGCCount",
    "MinorGCTime",
    "MajorGCCount",
    "MajorGCTime",
    "TotalGCTime",
    "ConcurrentGCCount",
    "ConcurrentGCTime",
)


def split_job_tags(value: str) -> tuple[str, ...]:
    """The tags of a ``spark.job.tags`` property: Spark joins them with ``,`` (a tag holds no comma)."""
    return tuple(t for t in (part.strip() for part in value.split(",")) if t)


@dataclass(frozen=True, slots=True)
class AppStart:
    """The application started (or, for ``attach``, was found running)."""

    app_id: str
    app_name: str
    user: str
    time: int
    spark_version: str = ""
    attempt_id: str = ""


@dataclass(frozen=True, slots=True)
class AppEnd:
    """The application ended normally (``SparkListenerApplicationEnd``)."""

    time: int


@dataclass(frozen=True, slots=True)
class Conf:
    """The allow-listed Spark properties (:data:`CONF_KEYS`) and their values."""

    props: dict[str, str]


@dataclass(frozen=True, slots=True)
class ExecutorAdded:
    """An executor registered with the driver (``profile_id``: its resource profile, 0 the default)."""

    exec_id: str
    host: str
    cores: int
    time: int
    profile_id: int = 0


@dataclass(frozen=True, slots=True)
class ResourceProfileAdded:
    """A resource profile was added (``SparkListenerResourceProfileAdded``, Spark 3.1+).

    ``executor`` holds the executor resources' amounts by Spark's resource names: ``cores``,
    ``memory``, ``memoryOverhead``, ``offHeap``, ``pyspark.memory`` (MiB), and any custom resource
    (``gpu``...). ``task_cpus`` is the profile's ``cpus`` task resource (1 when unset).
    """

    profile_id: int
    executor: dict[str, int]
    task_cpus: int = 1


@dataclass(frozen=True, slots=True)
class ExecutorMetrics:
    """Peaks of Spark's executor metrics (``ExecutorMetricType`` names) reported for one executor.

    From heartbeats (``SparkListenerExecutorMetricsUpdate``, live only: per running stage, or
    ``-1``/``-1`` for the process as a whole), ``SparkListenerStageExecutorMetrics`` (per stage;
    in event logs with ``spark.eventLog.logStageExecutorMetrics=true``) and a task end's ``Task
    Executor Metrics`` (``source`` says which: ``heartbeat``, ``stage``, ``task``). Only memory and
    GC figures are carried (never the accumulator updates a heartbeat also holds). No timestamp:
    dated with the latest event time; the analyzer keeps the maximum of each metric.
    ``exec_id`` is ``driver`` for the driver's own figures.
    """

    exec_id: str
    metrics: dict[str, int]
    stage_id: int = -1
    stage_attempt: int = -1
    source: str = ""


@dataclass(frozen=True, slots=True)
class SessionStarted:
    """A Spark Connect session started (``SparkListenerConnectSessionStarted``)."""

    session_id: str
    user: str
    time: int


@dataclass(frozen=True, slots=True)
class SessionClosed:
    """A Spark Connect session closed (``SparkListenerConnectSessionClosed``)."""

    session_id: str
    user: str
    time: int


@dataclass(frozen=True, slots=True)
class ConnectServerStarted:
    """The Spark Connect service started in this app (``SparkListenerConnectServiceStarted``).

    The app is a Connect server from then on (idle with no session open is ``no_session``); the
    event's host address and port are not read.
    """

    time: int


@dataclass(frozen=True, slots=True)
class ExecutorRemoved:
    """An executor went away; ``reason`` is Spark's free text, kept verbatim."""

    exec_id: str
    time: int
    reason: str


@dataclass(frozen=True, slots=True)
class BlockManagerAdded:
    """A block manager (one per executor, and the driver's) registered."""

    exec_id: str
    host: str
    time: int
    max_mem: int


@dataclass(frozen=True, slots=True)
class BlockManagerRemoved:
    """A block manager was removed: every block it held is gone."""

    exec_id: str
    time: int


@dataclass(frozen=True, slots=True)
class BlockUpdated:
    """A block's status on one block manager changed; sizes 0 with no memory/disk means removed.

    Spark gives block updates no timestamp: the analyzer dates them with the latest event time seen.
    """

    block_id: str
    exec_id: str
    use_memory: bool
    use_disk: bool
    off_heap: bool
    deserialized: bool
    replication: int
    mem_size: int
    disk_size: int


@dataclass(frozen=True, slots=True)
class UnpersistRDD:
    """The user unpersisted an RDD: its blocks are being dropped on purpose."""

    rdd_id: int


@dataclass(frozen=True, slots=True)
class RddInfo:
    """One RDD of a stage, as ``StageInfo.rddInfos`` describes it."""

    rdd_id: int
    name: str
    callsite: str
    parents: tuple[int, ...]
    use_memory: bool
    use_disk: bool
    replication: int
    partitions: int
    cached_partitions: int = 0
    mem_size: int = 0
    disk_size: int = 0
    scope: str = ""


@dataclass(frozen=True, slots=True)
class JobStart:
    """A job was submitted with these stages.

    ``callsite`` is the job's ``callSite.short`` property (``"count at etl.py:42"``) when Spark or
    the PySpark bridge set one, else empty. ``tags`` are the job's ``spark.job.tags`` (user tags
    of ``SparkContext.addJobTag`` / ``SparkSession.addTag``, and Spark Connect's
    ``SparkConnect_OperationTag_User_<u>_Session_<s>_Operation_<o>``), ``job_group`` its
    ``spark.jobGroup.id`` and ``pool`` its ``spark.scheduler.pool``, ``streaming`` whether it is a
    streaming micro-batch: no other job property is read.
    """

    job_id: int
    time: int
    stage_ids: tuple[int, ...]
    callsite: str = ""
    tags: tuple[str, ...] = ()
    job_group: str = ""
    pool: str = ""
    #: The streaming query the job runs a micro-batch of: ``sql.streaming.queryId`` (Structured
    #: Streaming), ``dstream`` for a DStream batch (``spark.streaming.internal.batchTime``); else empty.
    streaming: str = ""


@dataclass(frozen=True, slots=True)
class JobEnd:
    """A job finished."""

    job_id: int
    time: int
    succeeded: bool


@dataclass(frozen=True, slots=True)
class StageSubmitted:
    """A stage attempt was submitted (``time`` 0 when Spark gave none)."""

    stage_id: int
    attempt: int
    name: str
    num_tasks: int
    time: int
    rdds: tuple[RddInfo, ...] = ()


@dataclass(frozen=True, slots=True)
class StageCompleted:
    """A stage attempt completed; ``failure`` is empty on success."""

    stage_id: int
    attempt: int
    name: str
    num_tasks: int
    time: int
    failure: str = ""
    rdds: tuple[RddInfo, ...] = ()


@dataclass(frozen=True, slots=True)
class TaskStart:
    """A task attempt was launched on an executor."""

    task_id: int
    stage_id: int
    stage_attempt: int
    index: int
    partition: int
    attempt: int
    exec_id: str
    launch: int
    speculative: bool = False


@dataclass(frozen=True, slots=True)
class TaskEnd:
    """A task attempt ended.

    ``status`` is ``success``, ``failed``, ``killed`` or ``resubmitted`` (a finished shuffle-map task
    whose output was lost: Spark reports it again, but it did not run again, so it carries no time).
    ``reason`` is Spark's ``TaskEndReason`` kind (``Success``, ``ExceptionFailure``, ...).
    """

    task_id: int
    stage_id: int
    stage_attempt: int
    index: int
    partition: int
    attempt: int
    exec_id: str
    launch: int
    finish: int
    status: str
    reason: str = ""
    speculative: bool = False
    run_ms: int = 0
    cpu_ns: int = 0
    gc_ms: int = 0
    shuffle_read_bytes: int = 0
    shuffle_write_bytes: int = 0
    memory_spilled: int = 0
    disk_spilled: int = 0
    input_bytes: int = 0
    output_bytes: int = 0
    peak_memory: int = 0
    #: ``Task Metrics."Updated Blocks"`` of an event log (Spark 1.x, or later with
    #: ``spark.taskMetrics.trackUpdatedBlockStatuses``): the RDD blocks the task stored or dropped, as
    #: block updates on its executor. Never sent live (the listener gets the block updates themselves).
    updated_blocks: tuple[BlockUpdated, ...] = ()


@dataclass(frozen=True, slots=True)
class ListenerStats:
    """The listener's own cumulative counters, sent in-band (never in an event log).

    ``dropped`` counts events the listener's full queue refused; ``processing_ns`` the time spent
    inside its ``on*`` methods, over ``offered`` events.
    """

    offered: int
    dropped: int
    processing_ns: int = 0
    reconnects: int = 0


@dataclass(frozen=True, slots=True)
class ReplayStart:
    """The lines up to :class:`ReplayEnd` are the listener's replay after a hello, not new events.

    After every accepted hello the listener repeats what the driver knows now (the app, its conf,
    live executors, block managers, cached blocks, running tasks; docs/wire-format.md). ``time`` is
    the driver's clock when the listener took that snapshot. ``resumed`` is true when the listener
    had sent events of this app on an earlier connection, so an agent that did not hold the app
    before missed them: its time-integrated figures start at ``time`` (docs/reliability.md).
    """

    time: int
    resumed: bool = False


@dataclass(frozen=True, slots=True)
class ReplayEnd:
    """The end of a replay, with the count of what it carried (for the agent's log)."""

    time: int
    executors: int = 0
    block_managers: int = 0
    blocks: int = 0
    tasks: int = 0


Event = (
    AppStart
    | AppEnd
    | Conf
    | ExecutorAdded
    | ExecutorRemoved
    | ExecutorMetrics
    | ResourceProfileAdded
    | SessionStarted
    | SessionClosed
    | ConnectServerStarted
    | BlockManagerAdded
    | BlockManagerRemoved
    | BlockUpdated
    | UnpersistRDD
    | JobStart
    | JobEnd
    | StageSubmitted
    | StageCompleted
    | TaskStart
    | TaskEnd
    | ListenerStats
    | ReplayStart
    | ReplayEnd
)

#: Wire kind name → record type.
EVENT_TYPES: dict[str, type] = {
    "app_start": AppStart,
    "app_end": AppEnd,
    "conf": Conf,
    "executor_added": ExecutorAdded,
    "executor_removed": ExecutorRemoved,
    "block_manager_added": BlockManagerAdded,
    "block_manager_removed": BlockManagerRemoved,
    "block_updated": BlockUpdated,
    "unpersist_rdd": UnpersistRDD,
    "job_start": JobStart,
    "job_end": JobEnd,
    "stage_submitted": StageSubmitted,
    "stage_completed": StageCompleted,
    "task_start": TaskStart,
    "task_end": TaskEnd,
    "listener_stats": ListenerStats,
    "executor_metrics": ExecutorMetrics,
    "resource_profile_added": ResourceProfileAdded,
    "session_started": SessionStarted,
    "session_closed": SessionClosed,
    "connect_server_started": ConnectServerStarted,
    "replay_start": ReplayStart,
    "replay_end": ReplayEnd,
}
