"""The stage ledger: jobs, running stages, completed-stage rows for the what-if, uncached reuse.

Owned by :class:`sparkprobe.analysis.state.AppState`. Per stage attempt it keeps only what is
needed while the stage runs, then one row per completed stage (capped) for the replay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sparkprobe.events import JobEnd, JobStart, RddInfo, StageCompleted, StageSubmitted
from sparkprobe.model import FindingKind, UncachedReuse

if TYPE_CHECKING:
    from sparkprobe.analysis.state import AppState

__all__ = ["MAX_STAGE_ROWS", "StageKey", "StageLedger"]

#: Completed stages kept for the what-if replay.
MAX_STAGE_ROWS = 20_000

#: (stage id, stage attempt).
StageKey = tuple[int, int]


#: RDD scopes of streaming scans (Structured Streaming's micro-batch and continuous readers): the
#: signal a live stream has for a micro-batch job (event logs also carry the job's query id).
_STREAMING_SCOPES = frozenset({"MicroBatchScan", "ContinuousScan"})


def _is_sql(r: RddInfo) -> bool:
    """A DataFrame (SQL) RDD: named after its plan node, an upper-case scope (``WholeStageCodegen (1)``)."""
    return bool(r.scope) and r.scope[0].isupper()


def _lineage_key(r: RddInfo, by_id: bool) -> tuple[object, ...]:
    """What identifies the data one RDD of a stage computes, for uncached reuse.

    Every DataFrame action makes new RDDs, so the RDDs of a plan (``WholeStageCodegen (1)``,
    ``Scan parquet db.t``, ``Exchange``, and the RDD-API tail of ``df.rdd``) are known by name,
    scope, callsite and partition count: two scans of different tables through the same code rarely
    agree on all. In a pure RDD-API lineage (lower-case scopes such as ``map``, ``textFile``,
    ``parallelize``, or none for PySpark's ``PythonRDD``; ``by_id``) reused data is the same RDD
    object, so its id is part of the key: a new ``parallelize``/``textFile`` call is new data.
    """
    return (r.name, r.scope, r.callsite, r.partitions, r.rdd_id if by_id else None)


class StageLedger:
    """Jobs and stages of one app."""

    def __init__(self, app: AppState) -> None:
        self._app = app
        self.jobs_started = 0
        self.jobs_finished = 0
        self.stages_completed = 0
        self.stages_failed = 0
        #: Stage attempts submitted and not completed.
        self.active: set[StageKey] = set()
        #: RDD ids of each running stage attempt (for charging a rebuild to the task that did it).
        self.rdds: dict[StageKey, frozenset[int]] = {}
        #: RDD ids a running stage attempt persists (for the cache estimate without block updates).
        self.persisted: dict[StageKey, tuple[int, ...]] = {}
        #: One row per completed stage, [start, end, tasks, Σ task ms, max task ms] (capped).
        self.completed_rows: list[list[int]] = []
        self.uncached_recompute_ms = 0
        # Uncached reuse: stage lineage signature → [times computed, repeat task ms, where].
        self._sig: dict[StageKey, tuple[Any, ...] | None] = {}
        self._sig_task_ms: dict[StageKey, int] = {}
        self._lineages: dict[tuple[Any, ...], list[Any]] = {}
        # Stage id → the callsite of the job that submitted it (while the job runs).
        self._callsite: dict[int, str] = {}
        self._job_stages: dict[int, tuple[int, ...]] = {}
        # Stages of streaming micro-batch jobs (while the job runs): a batch recomputes by design.
        self._streaming: set[int] = set()
        # Per running stage attempt: [tasks, Σ task ms, max task ms], and when it was submitted.
        self._tasks: dict[StageKey, list[int]] = {}
        self._start: dict[StageKey, int] = {}

    # ------------------------------------------------------------------ jobs
    def job_started(self, e: JobStart) -> None:
        """A job was submitted."""
        self.jobs_started += 1
        if (e.callsite or e.streaming) and len(self._job_stages) < self._app.limits.max_rdds:
            self._job_stages[e.job_id] = e.stage_ids
            for stage_id in e.stage_ids:
                if e.callsite:
                    self._callsite[stage_id] = e.callsite
                if e.streaming:
                    self._streaming.add(stage_id)

    def job_ended(self, e: JobEnd) -> None:
        """A job finished."""
        self.jobs_finished += 1
        for stage_id in self._job_stages.pop(e.job_id, ()):
            self._callsite.pop(stage_id, None)
            self._streaming.discard(stage_id)

    # ------------------------------------------------------------------ stages
    def submitted(self, e: StageSubmitted, time: int) -> bool:
        """A stage attempt was submitted at ``time``; True when no stage ran before it."""
        key = (e.stage_id, e.attempt)
        was_idle_app = not self.active
        self.active.add(key)
        self.rdds[key] = frozenset(r.rdd_id for r in e.rdds)
        self._start[key] = time
        self._tasks[key] = [0, 0, 0]
        persisted = tuple(r.rdd_id for r in e.rdds if r.use_memory or r.use_disk)
        if persisted:
            self.persisted[key] = persisted
        # A stage that reads or builds a cache is not uncached reuse, nor one that starts from
        # shuffle output (it recomputes nothing upstream), nor a streaming micro-batch (each batch
        # runs the same plan on new data by design). The others are keyed by their lineage
        # (_lineage_key): what identifies the data they compute.
        skip = (
            e.stage_id in self._streaming
            or any(r.use_memory or r.use_disk or r.name.startswith("Shuffled") for r in e.rdds)
            or any(r.scope in _STREAMING_SCOPES for r in e.rdds)
        )
        where = self._callsite.get(e.stage_id) or e.name
        # A stage with any DataFrame (SQL) RDD is a plan's: its RDD-API tail (``df.rdd.map(...)``)
        # is made anew by every action too, so only a pure RDD-API lineage is known by its ids.
        by_id = not any(_is_sql(r) for r in e.rdds)
        self._sig[key] = (
            None if skip or not e.rdds
            else (where, *(_lineage_key(r, by_id) for r in sorted(e.rdds, key=lambda r: r.rdd_id)))
        )
        return was_idle_app

    def completed(self, e: StageCompleted, time: int) -> bool:
        """A stage attempt completed at ``time``; True when no stage runs any more."""
        key = (e.stage_id, e.attempt)
        self.active.discard(key)
        self.rdds.pop(key, None)
        self.persisted.pop(key, None)
        self._count_lineage(key, e, time)
        start = self._start.pop(key, None)
        tasks = self._tasks.pop(key, None)
        if start is not None and tasks is not None and tasks[0] > 0:
            if len(self.completed_rows) < MAX_STAGE_ROWS:
                self.completed_rows.append([start, max(start, time), *tasks])
            else:
                self._app.over("stage_rows")
        self.stages_completed += 1
        if e.failure:
            self.stages_failed += 1
        return not self.active

    def task_ended(self, key: StageKey, span_ms: int) -> None:
        """A task attempt of stage attempt ``key`` ran for ``span_ms``."""
        stats = self._tasks.get(key)
        if stats is not None:
            stats[0] += 1
            stats[1] += span_ms
            stats[2] = max(stats[2], span_ms)
        if key in self._sig:
            self._sig_task_ms[key] = self._sig_task_ms.get(key, 0) + span_ms

    # ------------------------------------------------------------------ uncached reuse
    def _count_lineage(self, key: StageKey, e: StageCompleted, time: int) -> None:
        sig = self._sig.pop(key, None)
        task_ms = self._sig_task_ms.pop(key, 0)
        if sig is None or e.failure:
            return
        seen = self._lineages.get(sig)
        if seen is None:
            if len(self._lineages) >= self._app.limits.max_rdds:
                self._app.over("lineages")
                return
            self._lineages[sig] = [1, 0, sig[0]]
            return
        seen[0] += 1
        seen[1] += task_ms
        self.uncached_recompute_ms += task_ms
        if seen[0] == 2:
            self._app.findings.add(
                FindingKind.UNCACHED_REUSE,
                time,
                f"'{seen[2]}' computed the same uncached lineage again: consider cache()/persist()",
                callsite=seen[2],
                stage_id=e.stage_id,
            )

    def uncached_reuse(self) -> tuple[UncachedReuse, ...]:
        """Lineages computed more than once without a cache: where, how often, repeat task seconds."""
        return tuple(
            UncachedReuse(name, n, ms / 1000)
            for n, ms, name in sorted(self._lineages.values(), key=lambda v: (-v[1], v[2]))
            if n > 1
        )
