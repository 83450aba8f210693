"""Fast path of the event-log decoder: the hot kinds' lines decoded by msgspec into their shapes.

The reader knows a line's kind from its ``{"Event":"<kind>"`` prefix before parsing it; for the
kinds of :data:`FAST_KINDS` (tasks, stages, jobs, block updates: nearly every line of a big log)
:func:`fast_decode` parses the line straight into its shape and builds the records from it (those of
:func:`sparkjson.decode_records`: a TaskEnd's ``Task Executor Metrics`` peaks follow it).

A *shape* is a msgspec Struct that declares only the JSON fields :mod:`sparkjson` reads, under
Spark's names; every other field (accumulables, SQL plans, metrics nobody reads) is skipped in C,
never built as Python objects. The shapes are strict: a field is optional here only where the
checked decoder has a default, and a JSON null, a wrong type or a missing field fails the
decode, after which the reader takes the checked path (orjson + :func:`sparkjson.decode_records`),
which gives the identical records or the precise error. So this path can only be faster, never
different.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any, Final

import msgspec

from sparkprobe.events import (
    EXECUTOR_METRIC_NAMES,
    BlockUpdated,
    Event,
    ExecutorMetrics,
    JobEnd,
    JobStart,
    RddInfo,
    StageCompleted,
    StageSubmitted,
    TaskEnd,
    TaskStart,
    split_job_tags,
)
from sparkprobe.sources.sparkjson import _scope_name, is_connect_job, task_status

__all__ = ["FAST_KINDS", "fast_decode"]

_Field = msgspec.field
_METRIC_NAMES: Final = frozenset(EXECUTOR_METRIC_NAMES)
#: orjson, the checked path's parser, reads integers outside [-2**63, 2**64) as floats (so the
#: checked decoder rejects them as "not an integer"); msgspec would take them exactly. Within
#: Java's long range the shapes decide; anything past it takes the checked path, so the two paths'
#: verdicts stay the same.
_Long = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class _TaskInfo(msgspec.Struct, frozen=True, gc=False):
    task_id: _Long = _Field(name="Task ID")
    index: _Long = _Field(name="Index")
    attempt: _Long = _Field(name="Attempt")
    exec_id: str = _Field(name="Executor ID")
    launch: _Long = _Field(name="Launch Time")
    partition: _Long = _Field(default=-1, name="Partition ID")
    speculative: bool = _Field(default=False, name="Speculative")
    finish: _Long = _Field(default=-1, name="Finish Time")  # required for TaskEnd: checked below


class _TaskStart(msgspec.Struct, frozen=True, gc=False):
    event: str = _Field(name="Event")
    stage_id: _Long = _Field(name="Stage ID")
    info: _TaskInfo = _Field(name="Task Info")
    stage_attempt: _Long = _Field(default=0, name="Stage Attempt ID")


class _Reason(msgspec.Struct, frozen=True, gc=False):
    reason: str = _Field(name="Reason")


class _ShuffleRead(msgspec.Struct, frozen=True, gc=False):
    remote: _Long = _Field(default=0, name="Remote Bytes Read")
    local: _Long = _Field(default=0, name="Local Bytes Read")


class _ShuffleWrite(msgspec.Struct, frozen=True, gc=False):
    written: _Long = _Field(default=0, name="Shuffle Bytes Written")


class _Input(msgspec.Struct, frozen=True, gc=False):
    read: _Long = _Field(default=0, name="Bytes Read")


class _Output(msgspec.Struct, frozen=True, gc=False):
    written: _Long = _Field(default=0, name="Bytes Written")


class _Level(msgspec.Struct, frozen=True, gc=False):
    use_memory: bool = _Field(name="Use Memory")
    use_disk: bool = _Field(name="Use Disk")
    replication: _Long = _Field(name="Replication")


class _BlockLevel(msgspec.Struct, frozen=True, gc=False):
    use_memory: bool = _Field(name="Use Memory")
    use_disk: bool = _Field(name="Use Disk")
    deserialized: bool = _Field(name="Deserialized")
    replication: _Long = _Field(name="Replication")
    off_heap: bool = _Field(default=False, name="Use Off Heap")


class _BlockStatus(msgspec.Struct, frozen=True, gc=False):
    level: _BlockLevel = _Field(name="Storage Level")
    mem: _Long = _Field(name="Memory Size")
    disk: _Long = _Field(name="Disk Size")


class _UpdatedBlock(msgspec.Struct, frozen=True, gc=False):
    # The checked decoder skips a non-RDD entry unread; here its Status must be well formed too, or
    # the line takes the checked path.
    block_id: str = _Field(name="Block ID")
    status: _BlockStatus = _Field(name="Status")


_SR0: Final = _ShuffleRead()
_SW0: Final = _ShuffleWrite()
_IN0: Final = _Input()
_OUT0: Final = _Output()


class _Metrics(msgspec.Struct, frozen=True, gc=False):
    run: _Long = _Field(default=0, name="Executor Run Time")
    cpu: _Long = _Field(default=0, name="Executor CPU Time")
    gc: _Long = _Field(default=0, name="JVM GC Time")
    spilled_mem: _Long = _Field(default=0, name="Memory Bytes Spilled")
    spilled_disk: _Long = _Field(default=0, name="Disk Bytes Spilled")
    peak: _Long = _Field(default=0, name="Peak Execution Memory")
    shuffle_read: _ShuffleRead = _Field(default=_SR0, name="Shuffle Read Metrics")
    shuffle_write: _ShuffleWrite = _Field(default=_SW0, name="Shuffle Write Metrics")
    input: _Input = _Field(default=_IN0, name="Input Metrics")
    output: _Output = _Field(default=_OUT0, name="Output Metrics")
    blocks: tuple[_UpdatedBlock, ...] | None = _Field(default=None, name="Updated Blocks")


_M0: Final = _Metrics()


class _TaskEnd(msgspec.Struct, frozen=True, gc=False):
    event: str = _Field(name="Event")
    stage_id: _Long = _Field(name="Stage ID")
    info: _TaskInfo = _Field(name="Task Info")
    end: _Reason = _Field(name="Task End Reason")
    stage_attempt: _Long = _Field(default=0, name="Stage Attempt ID")
    metrics: _Metrics = _Field(default=_M0, name="Task Metrics")
    peaks: dict[str, _Long] | None = _Field(default=None, name="Task Executor Metrics")


class _Rdd(msgspec.Struct, frozen=True, gc=False):
    rdd_id: _Long = _Field(name="RDD ID")
    name: str = _Field(name="Name")
    level: _Level = _Field(name="Storage Level")
    partitions: _Long = _Field(name="Number of Partitions")
    callsite: str = _Field(default="", name="Callsite")
    parents: tuple[_Long, ...] = _Field(default=(), name="Parent IDs")
    cached: _Long = _Field(default=0, name="Number of Cached Partitions")
    mem: _Long = _Field(default=0, name="Memory Size")
    disk: _Long = _Field(default=0, name="Disk Size")
    scope: Any = _Field(default=None, name="Scope")


class _StageInfo(msgspec.Struct, frozen=True, gc=False):
    stage_id: _Long = _Field(name="Stage ID")
    name: str = _Field(name="Stage Name")
    num_tasks: _Long = _Field(name="Number of Tasks")
    attempt: _Long = _Field(default=0, name="Stage Attempt ID")
    submitted: _Long = _Field(default=0, name="Submission Time")
    completed: _Long = _Field(default=0, name="Completion Time")
    failure: str = _Field(default="", name="Failure Reason")
    rdds: tuple[_Rdd, ...] = _Field(default=(), name="RDD Info")


class _Stage(msgspec.Struct, frozen=True, gc=False):
    event: str = _Field(name="Event")
    info: _StageInfo = _Field(name="Stage Info")


class _JobProps(msgspec.Struct, frozen=True, gc=False):
    callsite: str = _Field(default="", name="callSite.short")
    tags: str = _Field(default="", name="spark.job.tags")
    group: str = _Field(default="", name="spark.jobGroup.id")
    pool: str = _Field(default="", name="spark.scheduler.pool")
    query_id: str = _Field(default="", name="sql.streaming.queryId")
    batch_time: str = _Field(default="", name="spark.streaming.internal.batchTime")


_P0: Final = _JobProps()


class _JobStart(msgspec.Struct, frozen=True, gc=False):
    event: str = _Field(name="Event")
    job_id: _Long = _Field(name="Job ID")
    stage_ids: tuple[_Long, ...] = _Field(name="Stage IDs")
    time: _Long = _Field(default=0, name="Submission Time")
    props: _JobProps = _Field(default=_P0, name="Properties")


class _JobResult(msgspec.Struct, frozen=True, gc=False):
    result: str = _Field(name="Result")


class _JobEnd(msgspec.Struct, frozen=True, gc=False):
    event: str = _Field(name="Event")
    job_id: _Long = _Field(name="Job ID")
    result: _JobResult = _Field(name="Job Result")
    time: _Long = _Field(default=0, name="Completion Time")


class _BlockId(msgspec.Struct, frozen=True, gc=False):
    exec_id: str = _Field(name="Executor ID")


class _BlockInfo(msgspec.Struct, frozen=True, gc=False):
    block_id: str = _Field(name="Block ID")
    bm: _BlockId = _Field(name="Block Manager ID")
    level: _BlockLevel = _Field(name="Storage Level")
    mem: _Long = _Field(name="Memory Size")
    disk: _Long = _Field(name="Disk Size")


class _BlockUpdated(msgspec.Struct, frozen=True, gc=False):
    event: str = _Field(name="Event")
    info: _BlockInfo = _Field(name="Block Updated Info")


class _Fallback(Exception):
    """The shape refused the line: the checked path decides."""


def _task_start(s: _TaskStart) -> tuple[Event, ...]:
    i = s.info
    return (TaskStart(i.task_id, s.stage_id, s.stage_attempt, i.index, i.partition, i.attempt, i.exec_id, i.launch,
                      i.speculative),)


def _updated_blocks(blocks: tuple[_UpdatedBlock, ...], exec_id: str) -> tuple[BlockUpdated, ...]:
    out = []
    for b in blocks:
        if b.block_id.startswith("rdd_"):
            st = b.status
            lv = st.level
            out.append(BlockUpdated(b.block_id, exec_id, lv.use_memory, lv.use_disk, lv.off_heap, lv.deserialized,
                                    lv.replication, st.mem, st.disk))
    return tuple(out)


def _task_end(s: _TaskEnd) -> tuple[Event, ...]:
    i = s.info
    if i.finish == -1:
        raise _Fallback  # "Finish Time" missing (or -1): the checked decoder says which
    m = s.metrics
    reason = s.end.reason
    sr = m.shuffle_read
    end = TaskEnd(
        i.task_id, s.stage_id, s.stage_attempt, i.index, i.partition, i.attempt, i.exec_id, i.launch, i.finish,
        task_status(reason), reason, i.speculative, m.run, m.cpu, m.gc, sr.remote + sr.local,
        m.shuffle_write.written, m.spilled_mem, m.spilled_disk, m.input.read, m.output.written, m.peak,
        _updated_blocks(m.blocks, i.exec_id) if m.blocks else (),
    )
    peaks = s.peaks
    if peaks and any(peaks.values()):
        kept = {k: v for k, v in peaks.items() if v > 0 and k in _METRIC_NAMES}
        if kept:
            return (end, ExecutorMetrics(i.exec_id, kept, s.stage_id, s.stage_attempt, "task"))
    return (end,)


@functools.lru_cache(maxsize=4096)
def _scope_text(raw: str) -> str:
    # A stage repeats the scopes of its lineage's RDDs, and the next stage again: parse each once.
    return _scope_name(raw)


def _scope(raw: Any) -> str:
    return _scope_text(raw) if type(raw) is str else _scope_name(raw)


def _rdds(info: _StageInfo) -> tuple[RddInfo, ...]:
    return tuple(
        RddInfo(r.rdd_id, r.name, r.callsite, r.parents, r.level.use_memory, r.level.use_disk, r.level.replication,
                r.partitions, r.cached, r.mem, r.disk, _scope(r.scope))
        for r in info.rdds
    )


def _stage_submitted(s: _Stage) -> tuple[Event, ...]:
    i = s.info
    return (StageSubmitted(i.stage_id, i.attempt, i.name, i.num_tasks, i.submitted, _rdds(i)),)


def _stage_completed(s: _Stage) -> tuple[Event, ...]:
    i = s.info
    return (StageCompleted(i.stage_id, i.attempt, i.name, i.num_tasks, i.completed, i.failure, _rdds(i)),)


def _job_start(s: _JobStart) -> tuple[Event, ...]:
    p = s.props
    tags = split_job_tags(p.tags)
    streaming = p.query_id or ("dstream" if p.batch_time else "")
    # A Spark Connect job's callsite is its request's plan text: not read (as sparkjson._job_start).
    callsite = "" if is_connect_job(tags) else p.callsite
    return (JobStart(s.job_id, s.time, s.stage_ids, callsite, tags, p.group, p.pool, streaming),)


def _job_end(s: _JobEnd) -> tuple[Event, ...]:
    return (JobEnd(s.job_id, s.time, s.result.result == "JobSucceeded"),)


def _block_updated(s: _BlockUpdated) -> tuple[Event, ...]:
    i = s.info
    if not i.block_id.startswith("rdd_"):
        return ()
    lv = i.level
    return (BlockUpdated(i.block_id, i.bm.exec_id, lv.use_memory, lv.use_disk, lv.off_heap, lv.deserialized,
                         lv.replication, i.mem, i.disk),)


_Build = Callable[[Any], tuple[Event, ...]]
_SHAPES: Final[dict[str, tuple[type[msgspec.Struct], _Build]]] = {
    "SparkListenerTaskStart": (_TaskStart, _task_start),
    "SparkListenerTaskEnd": (_TaskEnd, _task_end),
    "SparkListenerStageSubmitted": (_Stage, _stage_submitted),
    "SparkListenerStageCompleted": (_Stage, _stage_completed),
    "SparkListenerJobStart": (_JobStart, _job_start),
    "SparkListenerJobEnd": (_JobEnd, _job_end),
    "SparkListenerBlockUpdated": (_BlockUpdated, _block_updated),
}
_TABLE: Final[dict[bytes, tuple[str, msgspec.json.Decoder[Any], _Build]]] = {
    kind.encode(): (kind, msgspec.json.Decoder(shape), build) for kind, (shape, build) in _SHAPES.items()
}

#: The ``"Event"`` names (bytes, as in the line's prefix) this path decodes.
FAST_KINDS: Final = frozenset(_TABLE)

#: Returned when the shape refused a line: the caller takes the checked path.
FALLBACK: Final = object()


def fast_decode(kind: bytes, line: bytes) -> tuple[Event, ...] | object:
    """The records of ``line`` (of kind ``kind``), as :func:`sparkjson.decode_records` gives them, or :data:`FALLBACK`.

    Empty for an ignored line (a block update of a non-RDD block).
    """
    name, decoder, build = _TABLE[kind]
    try:
        # Through str: msgspec does not check the UTF-8 of fields it skips; the checked path's
        # parsers refuse such a line.
        shape = decoder.decode(line.decode())
        if shape.event != name:
            # A second "Event" key: both parsers keep the last one, which is not the prefix's kind.
            return FALLBACK
        return build(shape)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError, _Fallback):
        return FALLBACK
