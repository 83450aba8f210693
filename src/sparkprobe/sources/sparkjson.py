"""Decode one parsed line of a Spark event log (Spark's ``JsonProtocol``) into a typed record.

The JSON field names are Spark's contract; the records are :mod:`sparkprobe.events`, the same ones
the live JVM listener sends, and the mapping here must give exactly what the listener gives for the
same event (docs/event-mapping.md has the table and every dialect difference).

Rules: a field a record needs (ids, times, names) must be present with the right JSON type, or the
line is a :class:`BadEvent`; fields that older Spark versions do not write take the documented
default; a field that is present with the wrong type is always bad (a corrupted number must not be
read as 0). Unknown fields are ignored, unknown events decode to None.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Final

from sparkprobe.events import (
    CONF_KEYS,
    EXECUTOR_METRIC_NAMES,
    AppEnd,
    AppStart,
    BlockManagerAdded,
    BlockManagerRemoved,
    BlockUpdated,
    Conf,
    ConnectServerStarted,
    Event,
    ExecutorAdded,
    ExecutorMetrics,
    ExecutorRemoved,
    JobEnd,
    JobStart,
    RddInfo,
    ResourceProfileAdded,
    SessionClosed,
    SessionStarted,
    StageCompleted,
    StageSubmitted,
    TaskEnd,
    TaskStart,
    UnpersistRDD,
    split_job_tags,
)

__all__ = [
    "DECODED_KINDS",
    "VERSION_KINDS",
    "BadEvent",
    "decode",
    "decode_records",
    "is_connect_job",
    "spark_version",
    "task_status",
]

JsonObject = Mapping[str, Any]


class BadEvent(ValueError):
    """A line of a mapped kind lacks a required field or has a field of the wrong JSON type."""


_EMPTY: Final[JsonObject] = {}


def _type(value: object) -> str:
    return "missing" if value is None else type(value).__name__


# The accessors take the enclosing object's name only to build the error message.


def _int(d: JsonObject, key: str, where: str) -> int:
    v = d.get(key)
    if type(v) is int:  # not isinstance: JSON true must not pass for 1
        return v
    raise BadEvent(f"{where}{key!r} must be an integer, got {_type(v)}")


def _opt_int(d: JsonObject, key: str, where: str, default: int = 0) -> int:
    v = d.get(key)
    if v is None:
        return default
    if type(v) is int:
        return v
    raise BadEvent(f"{where}{key!r} must be an integer, got {_type(v)}")


def _str(d: JsonObject, key: str, where: str) -> str:
    v = d.get(key)
    if isinstance(v, str):
        return v
    raise BadEvent(f"{where}{key!r} must be a string, got {_type(v)}")


def _opt_str(d: JsonObject, key: str, where: str) -> str:
    v = d.get(key)
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    raise BadEvent(f"{where}{key!r} must be a string, got {_type(v)}")


def _bool(d: JsonObject, key: str, where: str) -> bool:
    v = d.get(key)
    if isinstance(v, bool):
        return v
    raise BadEvent(f"{where}{key!r} must be a boolean, got {_type(v)}")


def _opt_bool(d: JsonObject, key: str, where: str) -> bool:
    v = d.get(key)
    if v is None:
        return False
    if isinstance(v, bool):
        return v
    raise BadEvent(f"{where}{key!r} must be a boolean, got {_type(v)}")


def _obj(d: JsonObject, key: str, where: str) -> JsonObject:
    v = d.get(key)
    if isinstance(v, dict):
        return v
    raise BadEvent(f"{where}{key!r} must be an object, got {_type(v)}")


def _opt_obj(d: JsonObject, key: str, where: str) -> JsonObject:
    v = d.get(key)
    if v is None:
        return _EMPTY
    if isinstance(v, dict):
        return v
    raise BadEvent(f"{where}{key!r} must be an object, got {_type(v)}")


def _int_list(d: JsonObject, key: str, where: str, *, required: bool) -> tuple[int, ...]:
    v = d.get(key)
    if v is None and not required:
        return ()
    if isinstance(v, list) and all(type(x) is int for x in v):
        return tuple(v)
    raise BadEvent(f"{where}{key!r} must be a list of integers, got {_type(v)}")


# --- application, environment, executors -----------------------------------------------------


def _app_start(o: JsonObject) -> AppStart:
    return AppStart(
        app_id=_opt_str(o, "App ID", ""),
        app_name=_str(o, "App Name", ""),
        user=_opt_str(o, "User", ""),
        time=_int(o, "Timestamp", ""),
        attempt_id=_opt_str(o, "App Attempt ID", ""),
    )


def _app_end(o: JsonObject) -> AppEnd:
    return AppEnd(time=_int(o, "Timestamp", ""))


def _conf(o: JsonObject) -> Conf:
    props = _obj(o, "Spark Properties", "")
    out: dict[str, str] = {}
    # Walk the allow-list, not the properties: nothing outside CONF_KEYS is even looked at.
    for key in CONF_KEYS:
        if key in props:
            out[key] = _str(props, key, '"Spark Properties".')
    return Conf(props=out)


def _executor_added(o: JsonObject) -> ExecutorAdded:
    info = _obj(o, "Executor Info", "")
    return ExecutorAdded(
        exec_id=_str(o, "Executor ID", ""),
        host=_str(info, "Host", '"Executor Info".'),
        cores=_int(info, "Total Cores", '"Executor Info".'),
        time=_int(o, "Timestamp", ""),
        profile_id=_opt_int(info, "Resource Profile Id", '"Executor Info".'),  # Spark 3.1+
    )


def _executor_removed(o: JsonObject) -> ExecutorRemoved:
    return ExecutorRemoved(
        exec_id=_str(o, "Executor ID", ""),
        time=_int(o, "Timestamp", ""),
        reason=_str(o, "Removed Reason", ""),
    )


def _block_manager_added(o: JsonObject) -> BlockManagerAdded:
    bm = _obj(o, "Block Manager ID", "")
    return BlockManagerAdded(
        exec_id=_str(bm, "Executor ID", '"Block Manager ID".'),
        host=_str(bm, "Host", '"Block Manager ID".'),
        time=_opt_int(o, "Timestamp", ""),  # absent before Spark 1.3? never seen, but optional
        max_mem=_int(o, "Maximum Memory", ""),
    )


def _block_manager_removed(o: JsonObject) -> BlockManagerRemoved:
    bm = _obj(o, "Block Manager ID", "")
    return BlockManagerRemoved(
        exec_id=_str(bm, "Executor ID", '"Block Manager ID".'),
        time=_opt_int(o, "Timestamp", ""),
    )


# --- storage ------------------------------------------------------------------------------------


def _block_updated(o: JsonObject) -> BlockUpdated | None:
    info = _obj(o, "Block Updated Info", "")
    block_id = _str(info, "Block ID", '"Block Updated Info".')
    if not block_id.startswith("rdd_"):
        return None  # broadcast/shuffle/stream blocks: the listener does not send them either
    where = '"Block Updated Info".'
    bm = _obj(info, "Block Manager ID", where)
    level = _obj(info, "Storage Level", where)
    lw = '"Storage Level".'
    return BlockUpdated(
        block_id=block_id,
        exec_id=_str(bm, "Executor ID", '"Block Manager ID".'),
        use_memory=_bool(level, "Use Memory", lw),
        use_disk=_bool(level, "Use Disk", lw),
        off_heap=_opt_bool(level, "Use Off Heap", lw),  # written from Spark 3.4 on
        deserialized=_bool(level, "Deserialized", lw),
        replication=_int(level, "Replication", lw),
        mem_size=_int(info, "Memory Size", where),
        disk_size=_int(info, "Disk Size", where),
    )


def _unpersist_rdd(o: JsonObject) -> UnpersistRDD:
    return UnpersistRDD(rdd_id=_int(o, "RDD ID", ""))


# --- jobs and stages ----------------------------------------------------------------------------


def _job_start(o: JsonObject) -> JobStart:
    # Only these properties are read: job properties also carry Spark conf values.
    props = _opt_obj(o, "Properties", "")
    where = '"Properties".'
    streaming = _opt_str(props, "sql.streaming.queryId", where)
    if not streaming and _opt_str(props, "spark.streaming.internal.batchTime", where):
        streaming = "dstream"
    tags = split_job_tags(_opt_str(props, "spark.job.tags", where))
    return JobStart(
        job_id=_int(o, "Job ID", ""),
        time=_opt_int(o, "Submission Time", ""),  # Spark 1.2 does not write it
        stage_ids=_int_list(o, "Stage IDs", "", required=True),
        # A Spark Connect job's callSite.short is "Spark Connect - <the request's plan>", a statement
        # text that may hold literals: not read (the listener does the same, docs/tenants.md).
        callsite="" if is_connect_job(tags) else _opt_str(props, "callSite.short", where),
        tags=tags,
        job_group=_opt_str(props, "spark.jobGroup.id", where),
        pool=_opt_str(props, "spark.scheduler.pool", where),
        streaming=streaming,
    )


def is_connect_job(tags: tuple[str, ...]) -> bool:
    """The job runs a Spark Connect operation (it carries Connect's ``SparkConnect_OperationTag_...`` tag)."""
    return any(t.startswith("SparkConnect_OperationTag_") for t in tags)


# --- Spark Connect sessions ---------------------------------------------------------------------
# Spark writes Connect's listener events (SessionEventsManager.scala, SparkConnectService.scala)
# with Jackson under their class names; only the session id, the user id and the times are read
# (never an operation's statement text, nor extraTags, nor the service's address).


def _session_started(o: JsonObject) -> SessionStarted:
    return SessionStarted(
        session_id=_str(o, "sessionId", ""), user=_opt_str(o, "userId", ""), time=_int(o, "eventTime", "")
    )


def _session_closed(o: JsonObject) -> SessionClosed:
    return SessionClosed(
        session_id=_str(o, "sessionId", ""), user=_opt_str(o, "userId", ""), time=_int(o, "eventTime", "")
    )


def _connect_server_started(o: JsonObject) -> ConnectServerStarted:
    return ConnectServerStarted(time=_int(o, "eventTime", ""))  # hostAddress and bindingPort: not read


def _job_end(o: JsonObject) -> JobEnd:
    result = _obj(o, "Job Result", "")
    return JobEnd(
        job_id=_int(o, "Job ID", ""),
        time=_opt_int(o, "Completion Time", ""),  # Spark 1.2 does not write it
        succeeded=_str(result, "Result", '"Job Result".') == "JobSucceeded",
    )


def _scope_name(raw: object) -> str:
    """Return the ``name`` of an RDD operation scope (Spark stores the scope as a JSON string)."""
    if not isinstance(raw, str):
        return ""
    try:
        scope = json.loads(raw)
    except (ValueError, RecursionError):
        return ""
    name = scope.get("name") if isinstance(scope, dict) else None
    return name if isinstance(name, str) else ""


def _rdd_info(r: object) -> RddInfo:
    if not isinstance(r, dict):
        raise BadEvent(f'"RDD Info" entries must be objects, got {_type(r)}')
    w = '"RDD Info".'
    level = _obj(r, "Storage Level", w)
    lw = '"Storage Level".'
    return RddInfo(
        rdd_id=_int(r, "RDD ID", w),
        name=_str(r, "Name", w),
        callsite=_opt_str(r, "Callsite", w),  # Spark 2.0+
        parents=_int_list(r, "Parent IDs", w, required=False),  # Spark 1.5+
        use_memory=_bool(level, "Use Memory", lw),
        use_disk=_bool(level, "Use Disk", lw),
        replication=_int(level, "Replication", lw),
        partitions=_int(r, "Number of Partitions", w),
        cached_partitions=_opt_int(r, "Number of Cached Partitions", w),
        mem_size=_opt_int(r, "Memory Size", w),
        disk_size=_opt_int(r, "Disk Size", w),
        scope=_scope_name(r.get("Scope")),
    )


def _rdds(info: JsonObject) -> tuple[RddInfo, ...]:
    raw = info.get("RDD Info")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise BadEvent(f'"Stage Info"."RDD Info" must be a list, got {_type(raw)}')
    return tuple(_rdd_info(r) for r in raw)


_SI: Final = '"Stage Info".'


def _stage_submitted(o: JsonObject) -> StageSubmitted:
    info = _obj(o, "Stage Info", "")
    return StageSubmitted(
        stage_id=_int(info, "Stage ID", _SI),
        attempt=_opt_int(info, "Stage Attempt ID", _SI),
        name=_str(info, "Stage Name", _SI),
        num_tasks=_int(info, "Number of Tasks", _SI),
        time=_opt_int(info, "Submission Time", _SI),
        rdds=_rdds(info),
    )


def _stage_completed(o: JsonObject) -> StageCompleted:
    info = _obj(o, "Stage Info", "")
    return StageCompleted(
        stage_id=_int(info, "Stage ID", _SI),
        attempt=_opt_int(info, "Stage Attempt ID", _SI),
        name=_str(info, "Stage Name", _SI),
        num_tasks=_int(info, "Number of Tasks", _SI),
        time=_opt_int(info, "Completion Time", _SI),
        failure=_opt_str(info, "Failure Reason", _SI),
        rdds=_rdds(info),
    )


# --- tasks (the hot path: most lines of a big log) ----------------------------------------------

_TI: Final = '"Task Info".'
_TM: Final = '"Task Metrics".'
_STATUS: Final[dict[str, str]] = {
    "Success": "success",
    "TaskKilled": "killed",
    "Resubmitted": "resubmitted",
}


def task_status(reason: str) -> str:
    """Return the record's ``status`` for a ``TaskEndReason`` kind; any other kind is ``failed``."""
    return _STATUS.get(reason, "failed")


def _task_start_checked(o: JsonObject) -> TaskStart:
    info = _obj(o, "Task Info", "")
    return TaskStart(
        task_id=_int(info, "Task ID", _TI),
        stage_id=_int(o, "Stage ID", ""),
        stage_attempt=_opt_int(o, "Stage Attempt ID", ""),
        index=_int(info, "Index", _TI),
        partition=_opt_int(info, "Partition ID", _TI, -1),  # Spark 3.3+
        attempt=_int(info, "Attempt", _TI),
        exec_id=_str(info, "Executor ID", _TI),
        launch=_int(info, "Launch Time", _TI),
        speculative=_opt_bool(info, "Speculative", _TI),
    )


def _task_end_checked(o: JsonObject) -> TaskEnd:
    info = _obj(o, "Task Info", "")
    reason = _str(_obj(o, "Task End Reason", ""), "Reason", '"Task End Reason".')
    # Spark omits "Task Metrics" when the task had none (e.g. Resubmitted, FetchFailed): zeros.
    m = _opt_obj(o, "Task Metrics", "")
    shuffle_read = _opt_obj(m, "Shuffle Read Metrics", _TM)
    sr = '"Shuffle Read Metrics".'
    return TaskEnd(
        task_id=_int(info, "Task ID", _TI),
        stage_id=_int(o, "Stage ID", ""),
        stage_attempt=_opt_int(o, "Stage Attempt ID", ""),
        index=_int(info, "Index", _TI),
        partition=_opt_int(info, "Partition ID", _TI, -1),
        attempt=_int(info, "Attempt", _TI),
        exec_id=_str(info, "Executor ID", _TI),
        launch=_int(info, "Launch Time", _TI),
        finish=_int(info, "Finish Time", _TI),
        status=_STATUS.get(reason, "failed"),
        reason=reason,
        speculative=_opt_bool(info, "Speculative", _TI),
        run_ms=_opt_int(m, "Executor Run Time", _TM),
        cpu_ns=_opt_int(m, "Executor CPU Time", _TM),  # Spark 2.1+
        gc_ms=_opt_int(m, "JVM GC Time", _TM),
        shuffle_read_bytes=_opt_int(shuffle_read, "Remote Bytes Read", sr)
        + _opt_int(shuffle_read, "Local Bytes Read", sr),  # "Local Bytes Read": Spark 1.3+
        shuffle_write_bytes=_opt_int(
            _opt_obj(m, "Shuffle Write Metrics", _TM), "Shuffle Bytes Written", '"Shuffle Write Metrics".'
        ),
        memory_spilled=_opt_int(m, "Memory Bytes Spilled", _TM),
        disk_spilled=_opt_int(m, "Disk Bytes Spilled", _TM),
        input_bytes=_opt_int(_opt_obj(m, "Input Metrics", _TM), "Bytes Read", '"Input Metrics".'),
        output_bytes=_opt_int(_opt_obj(m, "Output Metrics", _TM), "Bytes Written", '"Output Metrics".'),
        peak_memory=_opt_int(m, "Peak Execution Memory", _TM),  # Spark 2.0+
        updated_blocks=_updated_blocks(m, _str(info, "Executor ID", _TI)),
    )


def _updated_blocks(m: JsonObject, exec_id: str) -> tuple[BlockUpdated, ...]:
    """``Task Metrics."Updated Blocks"``: the RDD blocks a task stored or dropped, as block updates.

    Spark 1.x writes them; later versions only with ``spark.taskMetrics.trackUpdatedBlockStatuses``.
    """
    entries = m.get("Updated Blocks")
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise BadEvent(f'{_TM}"Updated Blocks" must be a list, got {_type(entries)}')
    out = []
    w = '"Updated Blocks".'
    for entry in entries:
        if not isinstance(entry, dict):
            raise BadEvent(f"{w} entries must be objects, got {_type(entry)}")
        block_id = _str(entry, "Block ID", w)
        if not block_id.startswith("rdd_"):
            continue
        status = _obj(entry, "Status", w)
        sw = '"Status".'
        level = _obj(status, "Storage Level", sw)
        lw = '"Storage Level".'
        out.append(BlockUpdated(
            block_id=block_id,
            exec_id=exec_id,
            use_memory=_bool(level, "Use Memory", lw),
            use_disk=_bool(level, "Use Disk", lw),
            off_heap=_opt_bool(level, "Use Off Heap", lw),
            deserialized=_bool(level, "Deserialized", lw),
            replication=_int(level, "Replication", lw),
            mem_size=_int(status, "Memory Size", sw),
            disk_size=_int(status, "Disk Size", sw),
        ))
    return tuple(out)


# Fast paths for the two kinds that make up most of a big log. They read every field with plain
# dict lookups and check all types in one go; anything unusual (a missing or mistyped field, a JSON
# null) falls back to the checked decoder above, which gives the same record or the precise error.
# tests/test_eventlog_reader.py checks that both paths agree on arbitrary input.
_INT_ONLY: Final = frozenset({int})


def _task_start(o: JsonObject) -> TaskStart:
    info = o.get("Task Info")
    if type(info) is dict:
        g = info.get
        ints: tuple[Any, ...] = (
            g("Task ID"),
            o.get("Stage ID"),
            o.get("Stage Attempt ID", 0),
            g("Index"),
            g("Partition ID", -1),
            g("Attempt"),
            g("Launch Time"),
        )
        exec_id = g("Executor ID")
        speculative = g("Speculative", False)
        if set(map(type, ints)) == _INT_ONLY and type(exec_id) is str and type(speculative) is bool:
            task_id, stage_id, stage_attempt, index, partition, attempt, launch = ints
            return TaskStart(task_id, stage_id, stage_attempt, index, partition, attempt, exec_id, launch, speculative)
    return _task_start_checked(o)


def _task_end(o: JsonObject) -> TaskEnd:
    info = o.get("Task Info")
    end_reason = o.get("Task End Reason")
    m = o.get("Task Metrics", _EMPTY)
    # A task that stored blocks ("Updated Blocks", Spark 1.x logs) takes the checked path.
    blocks = m.get("Updated Blocks") if type(m) is dict else None
    if type(info) is dict and type(end_reason) is dict and type(m) is dict and (blocks is None or blocks == []):
        mg = m.get
        sr = mg("Shuffle Read Metrics", _EMPTY)
        sw = mg("Shuffle Write Metrics", _EMPTY)
        im = mg("Input Metrics", _EMPTY)
        om = mg("Output Metrics", _EMPTY)
        if type(sr) is dict and type(sw) is dict and type(im) is dict and type(om) is dict:
            g = info.get
            ints: tuple[Any, ...] = (
                g("Task ID"),
                o.get("Stage ID"),
                o.get("Stage Attempt ID", 0),
                g("Index"),
                g("Partition ID", -1),
                g("Attempt"),
                g("Launch Time"),
                g("Finish Time"),
                mg("Executor Run Time", 0),
                mg("Executor CPU Time", 0),
                mg("JVM GC Time", 0),
                sr.get("Remote Bytes Read", 0),
                sr.get("Local Bytes Read", 0),
                sw.get("Shuffle Bytes Written", 0),
                mg("Memory Bytes Spilled", 0),
                mg("Disk Bytes Spilled", 0),
                im.get("Bytes Read", 0),
                om.get("Bytes Written", 0),
                mg("Peak Execution Memory", 0),
            )
            exec_id = g("Executor ID")
            reason = end_reason.get("Reason")
            speculative = g("Speculative", False)
            if (
                set(map(type, ints)) == _INT_ONLY
                and type(exec_id) is str
                and type(reason) is str
                and type(speculative) is bool
            ):
                (task_id, stage_id, stage_attempt, index, partition, attempt, launch, finish) = ints[:8]
                (run, cpu, gc, remote, local, written, mem, disk, read, out, peak) = ints[8:]
                return TaskEnd(
                    task_id,
                    stage_id,
                    stage_attempt,
                    index,
                    partition,
                    attempt,
                    exec_id,
                    launch,
                    finish,
                    _STATUS.get(reason, "failed"),
                    reason,
                    speculative,
                    run,
                    cpu,
                    gc,
                    remote + local,
                    written,
                    mem,
                    disk,
                    read,
                    out,
                    peak,
                )
    return _task_end_checked(o)


# --- memory: executor metrics peaks and resource profiles -----------------------------------------
#
# Spark writes executor metrics as an object of ExecutorMetricType name -> long. Only the names of
# EXECUTOR_METRIC_NAMES are kept; a value of 0 (a metric not measured, e.g. the process tree with
# spark.executor.processTreeMetrics.enabled off, or a task that ended before any poll) says nothing
# about a peak and is left out, and a record left with no value is not made at all.

_NAMES: Final = EXECUTOR_METRIC_NAMES


_NAME_SET: Final = frozenset(EXECUTOR_METRIC_NAMES)


def _metrics(d: JsonObject, key: str, where: str) -> dict[str, int]:
    m = d.get(key)
    if m is None:
        return {}
    if not isinstance(m, dict):
        raise BadEvent(f"{where}{key!r} must be an object, got {_type(m)}")
    if set(map(type, m.values())) <= _INT_ONLY:  # the usual case: every value an integer
        return {k: v for k, v in m.items() if v > 0 and k in _NAME_SET}
    out: dict[str, int] = {}
    get = m.get
    for name in _NAMES:
        v = get(name)
        if v is None:
            continue
        if type(v) is not int:
            raise BadEvent(f'{where}"{key}".{name!r} must be an integer, got {_type(v)}')
        if v > 0:
            out[name] = v
    return out


def _stage_executor_metrics(o: JsonObject) -> ExecutorMetrics | None:
    metrics = _metrics(o, "Executor Metrics", "")
    exec_id = _str(o, "Executor ID", "")
    stage_id = _int(o, "Stage ID", "")
    attempt = _opt_int(o, "Stage Attempt ID", "")
    if not metrics:
        return None
    return ExecutorMetrics(exec_id, metrics, stage_id, attempt, "stage")


def _heartbeat_metrics(o: JsonObject) -> tuple[ExecutorMetrics, ...]:
    """``SparkListenerExecutorMetricsUpdate`` (in event logs: the driver's heartbeats only).

    Only its ``Executor Metrics Updated`` are read, never its accumulator updates (``Metrics
    Updated``). Spark 3.0+ writes a list of per-stage peaks; Spark 2.4 wrote one object.
    """
    exec_id = _str(o, "Executor ID", "")
    updates = o.get("Executor Metrics Updated")
    if updates is None:
        return ()
    if isinstance(updates, dict):  # Spark 2.4: the process's peaks, no stage
        metrics = _metrics(o, "Executor Metrics Updated", "")
        return (ExecutorMetrics(exec_id, metrics, -1, -1, "heartbeat"),) if metrics else ()
    if not isinstance(updates, list):
        raise BadEvent(f'"Executor Metrics Updated" must be a list, got {_type(updates)}')
    out: list[ExecutorMetrics] = []
    w = '"Executor Metrics Updated".'
    for u in updates:
        if not isinstance(u, dict):
            raise BadEvent(f'"Executor Metrics Updated" entries must be objects, got {_type(u)}')
        metrics = _metrics(u, "Executor Metrics", w)
        stage_id = _int(u, "Stage ID", w)
        attempt = _int(u, "Stage Attempt ID", w)
        if metrics:
            out.append(ExecutorMetrics(exec_id, metrics, stage_id, attempt, "heartbeat"))
    return tuple(out)


def _task_executor_metrics(o: JsonObject, end: TaskEnd) -> ExecutorMetrics | None:
    """The peaks a TaskEnd carries (``Task Executor Metrics``, Spark 3.1+), as their own record."""
    raw = o.get("Task Executor Metrics")
    if raw is None:
        return None
    if type(raw) is dict and not any(raw.values()) and set(map(type, raw.values())) <= _INT_ONLY:
        return None  # all zeros (a task shorter than a poll): the common case, decided in C
    metrics = _metrics(o, "Task Executor Metrics", "")
    if not metrics:
        return None
    return ExecutorMetrics(end.exec_id, metrics, end.stage_id, end.stage_attempt, "task")


def _resource_profile_added(o: JsonObject) -> ResourceProfileAdded:
    """``SparkListenerResourceProfileAdded`` (Spark 3.1+): executor resource amounts, task cpus."""
    requests = _obj(o, "Executor Resource Requests", "")
    executor: dict[str, int] = {}
    w = '"Executor Resource Requests".'
    for name, req in requests.items():
        if not isinstance(req, dict):
            raise BadEvent(f"{w}{name!r} must be an object, got {_type(req)}")
        executor[str(name)] = _int(req, "Amount", f"{w}{name!r}.")
    cpus = _opt_obj(_opt_obj(o, "Task Resource Requests", ""), "cpus", '"Task Resource Requests".')
    amount = cpus.get("Amount", 1)
    if type(amount) not in (int, float):
        raise BadEvent(f'"Task Resource Requests"."cpus"."Amount" must be a number, got {_type(amount)}')
    return ResourceProfileAdded(
        profile_id=_int(o, "Resource Profile Id", ""),
        executor=executor,
        task_cpus=max(1, int(amount)),
    )


_DECODERS: Final[dict[str, Callable[[JsonObject], Event | None]]] = {
    "SparkListenerApplicationStart": _app_start,
    "SparkListenerApplicationEnd": _app_end,
    "SparkListenerEnvironmentUpdate": _conf,
    "SparkListenerExecutorAdded": _executor_added,
    "SparkListenerExecutorRemoved": _executor_removed,
    "SparkListenerBlockManagerAdded": _block_manager_added,
    "SparkListenerBlockManagerRemoved": _block_manager_removed,
    "SparkListenerBlockUpdated": _block_updated,
    "SparkListenerUnpersistRDD": _unpersist_rdd,
    "SparkListenerJobStart": _job_start,
    "SparkListenerJobEnd": _job_end,
    "SparkListenerStageSubmitted": _stage_submitted,
    "SparkListenerStageCompleted": _stage_completed,
    "SparkListenerTaskStart": _task_start,
    "SparkListenerTaskEnd": _task_end,
    "SparkListenerStageExecutorMetrics": _stage_executor_metrics,
    "SparkListenerResourceProfileAdded": _resource_profile_added,
    "org.apache.spark.sql.connect.service.SparkListenerConnectSessionStarted": _session_started,
    "org.apache.spark.sql.connect.service.SparkListenerConnectSessionClosed": _session_closed,
    "org.apache.spark.sql.connect.service.SparkListenerConnectServiceStarted": _connect_server_started,
}

# Kinds that can give more than one record per line (decode_records): a TaskEnd is followed by the
# executor metrics it carries; a heartbeat holds one record per stage.
_HEARTBEAT: Final = "SparkListenerExecutorMetricsUpdate"

#: The ``"Event"`` names :func:`decode_records` turns into records; every other kind gives none.
DECODED_KINDS: Final[frozenset[str]] = frozenset({*_DECODERS, _HEARTBEAT})

#: Events that carry the Spark version the next ``AppStart`` reports: Spark's own ``LogStart``
#: and Databricks' ``DBCEventLoggingListenerMetadata`` (written instead of it on Databricks).
VERSION_KINDS: Final[frozenset[str]] = frozenset({"SparkListenerLogStart", "DBCEventLoggingListenerMetadata"})


def decode(obj: JsonObject, *, spark_version: str = "") -> Event | None:
    """Turn one parsed event-log object into its record, or None for a kind sparkprobe ignores.

    ``spark_version`` fills ``AppStart.spark_version`` (the reader passes the version of the last
    ``LogStart`` seen). Raises :class:`BadEvent` when ``obj`` has no string ``"Event"`` or a mapped
    kind lacks a required field or has a field of the wrong type. Only a line's main record:
    :func:`decode_records` gives every record (a heartbeat's peaks have no main record: None here).
    """
    kind = obj.get("Event")
    if not isinstance(kind, str):
        raise BadEvent(f'"Event" must be a string, got {_type(kind)}')
    decoder = _DECODERS.get(kind)
    if decoder is None:
        return None
    event = decoder(obj)
    if spark_version and isinstance(event, AppStart):
        event = replace(event, spark_version=spark_version)
    return event


def decode_records(obj: JsonObject, *, spark_version: str = "") -> tuple[Event, ...]:
    """Every record one parsed event-log object gives, in order (empty for an ignored kind).

    As :func:`decode`, plus what a line holds beyond its main record: a TaskEnd's ``Task Executor
    Metrics`` follow it as an :class:`ExecutorMetrics` (``source="task"``), as the listener sends
    them, and a ``SparkListenerExecutorMetricsUpdate`` gives one record per stage it reports.
    Raises :class:`BadEvent` like :func:`decode`; a line is bad as a whole.
    """
    kind = obj.get("Event")
    if kind == _HEARTBEAT:
        return _heartbeat_metrics(obj)
    event = decode(obj, spark_version=spark_version)
    if event is None:
        return ()
    if type(event) is TaskEnd:
        extra = _task_executor_metrics(obj, event)
        if extra is not None:
            return (event, extra)
    return (event,)


def spark_version(obj: JsonObject) -> str:
    """Return the ``"Spark Version"`` of a :data:`VERSION_KINDS` event ("" if absent or not a string)."""
    v = obj.get("Spark Version")
    return v if isinstance(v, str) else ""
