"""What the policy simulator needs of a run, recorded as the events come, in bounded memory.

:class:`PolicyRecorder` is fed by :class:`sparkprobe.analysis.state.AppState` (live and offline
alike) and keeps, per completed stage attempt, one :class:`StageRecord`: when it was submitted
relative to the stage it followed, how long Spark took to launch its first task and to close it
after its last, and its task durations as two :class:`~sparkprobe.analysis.policy.sketch.DurationSketch`
— the tasks that computed a partition of a persisted RDD, and the others (which read it from the
cache, or touch none). Per persisted RDD it keeps the mean duration of both kinds, so the simulator
can say what a task costs when the cache it read is gone, or is kept where the run lost it.

It also measures the cluster's own delays: how long executors took to arrive once asked for
(replaying ``ExecutorAllocationManager``'s target on the recorded run with
:class:`~sparkprobe.analysis.policy.allocation.TargetRule`: each arrival is matched to the oldest
outstanding request), how long a release took after its idle deadline, and how long a stage waited
for its first task when a core was free. No per-task history is kept (invariant 3): a stage costs
its two sketches, at most :data:`~sparkprobe.analysis.policy.sketch.MAX_BUCKETS` pairs each, and at
most :data:`MAX_POLICY_STAGES` stages are kept (beyond, the what-if is not offered).
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sparkprobe.analysis.policy.allocation import TargetRule, idle_deadline, next_poll
from sparkprobe.analysis.policy.policy import Policy, PolicyError, policy_from_conf
from sparkprobe.analysis.policy.sketch import DurationSketch, FrozenSketch
from sparkprobe.analysis.settings import MemorySettings
from sparkprobe.events import JobEnd, JobStart, StageCompleted, StageSubmitted, TaskEnd, TaskStart
from sparkprobe.model import RemovalCause, TaskStatus

if TYPE_CHECKING:
    from sparkprobe.analysis.state import AppState

__all__ = ["MAX_POLICY_STAGES", "PolicyRecorder", "RddRecord", "Recording", "StageRecord"]

#: Completed stage attempts the recorder keeps; an app with more gets no policy what-if.
MAX_POLICY_STAGES = 20_000
#: Delay samples kept for the initial executors' arrival (the rest only add to the sums).
_MAX_OFFSETS = 256
#: Executor start-ups (request to registration) kept for a shared host's inversion (local-cluster).
_MAX_STARTUPS = 1024
#: First-wave launches further apart than this are two launch rounds: Spark launches one round's
#: tasks back to back (1-31 ms apart, round-robin over the executors, in the public local-cluster
#: logs), while executors that register apart start their first waves apart.
_ROUND_GAP_MS = 100
#: Requests waiting for an executor in the replay (older ones are dropped when over).
_MAX_OUTSTANDING = 10_000
#: A release later than this after its deadline is not a sample of the release latency.
_MAX_RELEASE_LATENCY_MS = 600_000


@dataclass(frozen=True, slots=True)
class StageRecord:
    """One completed stage attempt, as the simulator replays it."""

    stage_id: int
    attempt: int
    #: The job that submitted it (-1 unknown): shuffle output stays in use while that job runs.
    job_id: int
    #: Index of the stage record it followed (the last one completed before its submission), -1: app start.
    after: int
    #: Submission time minus the end of ``after`` (driver time: the same under every policy).
    delay_ms: int
    #: Submission to first task launch when a core was free then (the scheduler's own delay); -1 otherwise.
    launch_ms: int
    #: Last task end to stage end.
    tail_ms: int
    submit_ms: int
    end_ms: int
    #: Persisted RDDs in its lineage.
    persisted: tuple[int, ...]
    #: Tasks on warm executors that computed a partition of a persisted RDD (built or rebuilt it).
    computed: FrozenSketch
    #: The other tasks on warm executors: read their persisted partitions from the cache, or have none.
    plain: FrozenSketch
    #: Tasks that ran on a fresh executor (its first wave: as many as it has task slots), per kind:
    #: (count, Σ ms). A fresh JVM runs its first tasks slower (class loading, JIT, code generation).
    fresh_computed: tuple[int, int]
    fresh_plain: tuple[int, int]
    #: Its tasks wrote shuffle output (executors that ran them hold shuffle data).
    shuffle_map: bool
    #: Σ over its fresh tasks of the executors in their first wave once the task's launch round was
    #: complete (itself included): how many fresh JVMs warmed up together (0: not recorded).
    fresh_sharing: int = 0

    @property
    def tasks(self) -> int:
        """Task attempts that ran."""
        return self.computed.count + self.plain.count + self.fresh_computed[0] + self.fresh_plain[0]


@dataclass(frozen=True, slots=True)
class RddRecord:
    """A persisted RDD: how many copies Spark keeps, what computing and reading one partition cost."""

    rdd_id: int
    partitions: int
    replication: int
    #: Mean duration of the tasks that computed one of its partitions (None: never seen).
    compute_ms: float | None
    #: Mean duration of the tasks that read one of its partitions from the cache (None: never seen).
    read_ms: float | None
    #: Unpersisted: (index of the stage record it followed, delay after its end), else None.
    unpersist: tuple[int, int] | None


@dataclass(frozen=True, slots=True)
class Recording:
    """A run as the simulator sees it (an immutable snapshot of :class:`PolicyRecorder`)."""

    start_ms: int
    end_ms: int
    #: The stage record the app's end followed (-1: none) and the driver time after it.
    end_after: int
    end_delay_ms: int
    stages: tuple[StageRecord, ...]
    rdds: dict[int, RddRecord]
    executor_cores: int
    task_cpus: int
    #: The policy the run had (None when Spark's checks refuse its recorded conf, e.g. a bad value).
    recorded_policy: Policy | None
    #: Offsets from app start at which the executors asked for at start arrived, sorted.
    initial_offsets_ms: tuple[int, ...]
    #: Mean time from a dynamic request to its executor's arrival (None: no sample).
    request_delay_ms: float | None
    #: Median time from an idle deadline's tick to the executor's removal (0 without samples).
    release_latency_ms: float
    #: Mean submission-to-first-launch delay when a core was free.
    launch_latency_ms: float
    #: The shortest successful task on a warm executor (a cached read costs at least this).
    min_task_ms: int
    #: Mean extra time of a task on a fresh executor over the same stage's tasks of its kind on warm ones.
    fresh_penalty_ms: float
    #: Executors the run had at most at once, and added in all.
    peak_executors: int
    executors_added: int
    #: Pending executor requests are cancelled when the target drops (YARN, Kubernetes; not standalone).
    cancels_pending: bool
    #: A standalone master (``spark://``, ``local-cluster``): static allocation there gets what the
    #: cluster gives (``spark.cores.max``), ``spark.executor.instances`` does not apply.
    standalone: bool
    #: The most executors the cluster granted, when the run shows it granted fewer than asked for
    #: (static allocation with ``spark.executor.instances`` above what ever registered); else None.
    capacity: int | None
    #: A ``local-cluster[workers,cores,MiB]`` master's workers: (workers, cores and MiB of each);
    #: None for any other master (its workers are not in the events).
    workers: tuple[int, int, int] | None
    #: ``spark.executor.memory`` in MiB (Spark's default 1024 when unset): what a worker must have free.
    executor_memory_mib: int
    #: Why the run cannot be replayed ("" when it can).
    unavailable: str
    #: Every executor starts on one machine and shares it with the others starting at once (a
    #: ``local-cluster`` master: its workers are processes of the driver's machine). The start-up
    #: delays above are then each executor's time alone, and the replay shares the host among the
    #: executors starting together (docs/advice.md, "One host").
    shared_host: bool = False
    #: The mean of the executors in their first wave at a fresh task's launch, over the run's
    #: fresh tasks (1.0 without any): on a shared host, ``fresh_penalty_ms / fresh_sharing_mean``
    #: is a fresh executor's penalty alone.
    fresh_sharing_mean: float = 1.0


_LOCAL_CLUSTER = re.compile(r"local-cluster\[\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*\]")


def local_cluster_workers(master: str) -> tuple[int, int, int] | None:
    """(workers, cores per worker, MiB per worker) of a ``local-cluster[N,C,M]`` master, else None.

    Spark's ``SparkMasterRegex.LOCAL_CLUSTER_REGEX`` (``SparkContext.createTaskScheduler``) starts
    N workers of C cores and M MiB each.
    """
    found = _LOCAL_CLUSTER.fullmatch(master.strip())
    if found is None:
        return None
    workers, cores, mib = (int(g) for g in found.groups())
    return workers, cores, mib


def app_limit(app: AppState) -> int:
    """Executors the recorder tracks per app (the analyzer's own cap)."""
    return app.limits.max_executors


def _median(sketch: DurationSketch) -> float:
    """The median of a sketch's durations (0 when empty)."""
    values = sorted(sketch.frozen().durations())
    return float(values[len(values) // 2]) if values else 0.0


def _fresh_penalty(rows: list[StageRecord]) -> float:
    """Mean extra ms of a fresh-executor task over the warm tasks of its kind in the same stage."""
    extra = count = 0.0
    for row in rows:
        for (n, total), warm in ((row.fresh_computed, row.computed), (row.fresh_plain, row.plain)):
            if n and warm.count:
                extra += total - n * warm.mean_ms
                count += n
    return max(0.0, extra / count) if count else 0.0


def _alone_on_host(startups: list[tuple[int, int, bool]]) -> tuple[tuple[int, ...], float | None]:
    """Each start-up's time alone on a host whose concurrent start-ups share it equally.

    A JVM's start-up keeps a small machine's cores busy (class loading, JIT compiler threads):
    on the 2-core test machine two executors of ``local-cluster`` started together registered
    after 5.2-9.0 s, one alone after 3.1-4.8 s. Under processor sharing an executor starting
    while ``n - 1`` others start progresses at ``1/n``, so its time alone is the integral of
    ``1/n(t)`` over its own start-up. Returns the initial executors' times (sorted) and the mean
    of the others (None without one), the shapes of ``Recording.initial_offsets_ms`` and
    ``request_delay_ms``.
    """
    points = sorted({t for asked, registered, _ in startups for t in (asked, registered)})
    index = {t: i for i, t in enumerate(points)}
    starting = [0] * len(points)  # start-ups under way in [points[i], points[i + 1])
    for asked, registered, _ in startups:
        starting[index[asked]] += 1
        starting[index[registered]] -= 1
    # alone[i]: the time alone accumulated from points[0] to points[i].
    alone = [0.0] * len(points)
    running = 0
    for i in range(len(points) - 1):
        running += starting[i]
        alone[i + 1] = alone[i] + ((points[i + 1] - points[i]) / running if running > 0 else 0.0)
    initial: list[int] = []
    later: list[float] = []
    for asked, registered, at_start in startups:
        solo = alone[index[registered]] - alone[index[asked]]
        if at_start:
            initial.append(round(solo))
        else:
            later.append(solo)
    return tuple(sorted(initial)[:_MAX_OFFSETS]), (sum(later) / len(later) if later else None)


def _fresh_sharing_mean(rows: list[StageRecord]) -> float:
    """The mean of ``fresh_sharing`` per fresh task over the stages that recorded it (1.0: none)."""
    together = tasks = 0
    for row in rows:
        if row.fresh_sharing:
            together += row.fresh_sharing
            tasks += row.fresh_computed[0] + row.fresh_plain[0]
    return together / tasks if tasks else 1.0


class _Active:
    """A running stage attempt's accumulators."""

    __slots__ = (
        "after", "computed", "delay_ms", "first_launch", "free_at_submit", "fresh", "fresh_sharing", "job_id",
        "last_finish", "num_tasks", "persisted", "plain", "shuffle_map", "started", "submit_ms",
    )

    def __init__(self, submit_ms: int, num_tasks: int, persisted: tuple[int, ...], job_id: int,
                 after: int, delay_ms: int, free_at_submit: bool) -> None:
        self.submit_ms = submit_ms
        self.num_tasks = num_tasks
        self.persisted = persisted
        self.job_id = job_id
        self.after = after
        self.delay_ms = delay_ms
        self.free_at_submit = free_at_submit
        self.started = 0
        self.first_launch: int | None = None
        self.last_finish: int | None = None
        self.computed = DurationSketch()
        self.plain = DurationSketch()
        # [count, Σ ms] of fresh-executor tasks that computed, and of the others.
        self.fresh = [[0, 0], [0, 0]]
        self.fresh_sharing = 0
        self.shuffle_map = False


class _RddStats:
    __slots__ = ("compute_ms", "compute_n", "read_ms", "read_n", "unpersist")

    def __init__(self) -> None:
        self.compute_n = self.compute_ms = self.read_n = self.read_ms = 0
        self.unpersist: tuple[int, int] | None = None


class PolicyRecorder:
    """Feeds on one app's events (through :class:`~sparkprobe.analysis.state.AppState`); see the module doc."""

    def __init__(self, app: AppState) -> None:
        """Empty; ``app`` lends its settings, executors, tasks and storage estimate."""
        self._app = app
        self.rows: list[StageRecord] = []
        self.dropped_stages = 0
        self._active: dict[tuple[int, int], _Active] = {}
        self._stage_job: dict[int, int] = {}
        self._job_stages: dict[int, tuple[int, ...]] = {}
        self._last_end_row = -1
        self._last_end_ms: int | None = None
        self._rdds: dict[int, _RddStats] = {}
        self._min_task_ms: int | None = None
        self._launch_sum = self._launch_n = 0
        # Release latencies (idle deadline's tick to ExecutorRemoved): their median is what the
        # replay uses (a release the floor or the target held later is an outlier, not the norm).
        self._release = DurationSketch()
        self._request_sum = self._request_n = 0
        self._initial_offsets: list[int] = []
        # (asked, registered, asked for at start) of each executor's start-up, for a shared host.
        self._startups: list[tuple[int, int, bool]] = []
        # Per executor: [tasks launched, launch time of the first task past its first wave]. The
        # first wave (as many tasks as it has slots) runs on a cold JVM.
        self._waves: dict[str, list[int]] = {}
        # First-wave tasks running per executor, and each such task's count of executors in their
        # first wave once its launch round is complete (itself included): fresh JVMs warming up
        # together. A round: first-wave launches back to back (no task end between, each within
        # _ROUND_GAP_MS of the last), counted when it closes so that the order Spark launched them
        # in does not matter (the replay counts an instant's launches the same way).
        self._fresh_running: dict[str, int] = {}
        self._fresh_together: dict[int, int] = {}
        self._round: list[int] = []
        self._round_last_ms = 0
        self._peak = 0
        self._removed_any = False
        self._profiles = False
        # The replay of the recorded target (dynamic runs only): built at the first stage.
        self._rule: TargetRule | None = None
        self._rule_failed = False
        self._outstanding: deque[tuple[int, bool]] = deque()  # (request time, asked for at start)
        self._memo_key: object = None
        self._memo: dict[Any, Any] = {}

    # ------------------------------------------------------------------ the recorded policy
    def _policy(self) -> Policy | None:
        app = self._app
        try:
            return policy_from_conf(app.conf, spark_version=app.spark_version)
        except PolicyError:
            return None

    def _replay(self) -> TargetRule | None:
        """The replay of the run's own target, started at app start with its initial request."""
        if self._rule is not None or self._rule_failed:
            return self._rule
        if not self._app.conf:
            return None  # not known yet: decide when it is
        policy = self._policy()
        if policy is None or not policy.dynamic:
            self._rule_failed = True
            return None
        self._rule = TargetRule(policy, self._tasks_per_executor(policy))
        # ExecutorAllocationManager.start() asks for the initial target at once; executors that
        # arrived before this replay started still match these requests first.
        self._outstanding.extend((self._app.start_ms, True) for _ in range(policy.initial_executors))
        return self._rule

    def _tasks_per_executor(self, policy: Policy) -> int:
        cores = policy.executor_cores or self._mode_cores()
        return max(1, cores // self._app.task_cpus)

    def _mode_cores(self) -> int:
        counts: dict[int, int] = {}
        for ex in self._app.executors.by_id.values():
            counts[ex.cores] = counts.get(ex.cores, 0) + 1
        return max(counts, key=lambda c: (counts[c], c)) if counts else 1

    def _pending(self) -> int:
        return sum(max(0, a.num_tasks - a.started) for a in self._active.values())

    def _advance(self, now: int, arrived: int = 0) -> None:
        """Replay the target's schedule() ticks due up to ``now``, recording the requests they make.

        ``arrived``: executors that registered at ``now`` and are already counted: the ticks
        before ``now`` did not have them.
        """
        rule = self._rule
        if rule is None:
            return
        app = self._app
        running = len(app.tasks.running)
        executors = max(0, app.executors.active_count - arrived)
        for _ in range(64):  # a few ramp-up rounds at most between two events
            if rule.add_time is None:
                break
            tick = next_poll(app.start_ms, rule.add_time)
            if tick > now:
                break
            before = rule.add_time
            self._requested(tick, rule.update(tick, self._pending(), running, executors), executors)
            if rule.add_time == before:
                break  # nothing changes until the next event
        executors = app.executors.active_count
        self._requested(now, rule.update(now, self._pending(), running, executors), executors)

    def _requested(self, time: int, delta: int, executors: int) -> None:
        """The target rose by ``delta`` at ``time``: record the executors the cluster starts for it.

        Only those beyond the executors registered and already coming: a target that drops when a
        stage ends and rises back at the next one, with its executors still there, starts none
        (the standalone Master launches while the app has fewer executors than its limit,
        ``Master.startExecutorsOnWorkers``; YARN and Kubernetes likewise ask for the difference).
        Counting that rise as a request matched a later arrival to it, and measured a request delay
        from a stage that needed no new executor (23.7 s instead of 12.9 s in a rerun of the test's
        ``cache`` job with ``maxExecutors=1``).
        """
        rule = self._rule
        if delta <= 0 or rule is None:
            return
        new = min(delta, rule.target - executors - len(self._outstanding))
        self._outstanding.extend((time, False) for _ in range(max(0, new)))
        while len(self._outstanding) > _MAX_OUTSTANDING:
            self._outstanding.popleft()

    # ------------------------------------------------------------------ feeding
    def executor_added(self, time: int, profile_id: int = 0) -> None:
        """An executor registered (a new one), of resource profile ``profile_id``."""
        app = self._app
        self._peak = max(self._peak, app.executors.active_count)
        if profile_id != 0:
            self._profiles = True
        dynamic = self._replay() is not None
        self._advance(time, arrived=1)
        if self._outstanding:
            asked, at_start = self._outstanding.popleft()
            if at_start:
                self._add_offset(time - app.start_ms)
            else:
                self._request_sum += max(0, time - asked)
                self._request_n += 1
            self._add_startup(app.start_ms if at_start else asked, time, at_start)
        elif not self._removed_any and not dynamic:
            # Static allocation: every executor until the first removal was asked for at start.
            self._add_offset(time - app.start_ms)
            self._add_startup(app.start_ms, time, True)

    def _add_startup(self, asked: int, registered: int, at_start: bool) -> None:
        if len(self._startups) < _MAX_STARTUPS:
            self._startups.append((asked, max(asked, registered), at_start))

    def _add_offset(self, offset: int) -> None:
        if len(self._initial_offsets) < _MAX_OFFSETS:
            self._initial_offsets.append(max(0, offset))

    def executor_removing(self, exec_id: str, time: int, cause: RemovalCause) -> None:
        """An executor is being removed (called before the executor ledger closes its idle stretch)."""
        self._removed_any = True
        self._advance(time)
        if cause is not RemovalCause.DYNAMIC_ALLOCATION:
            return
        app = self._app
        ex = app.executors.get(exec_id)
        policy = self._policy()
        if ex is None or ex.idle_since is None or policy is None:
            return
        cached = ex.cached_blocks > 0 or app.storage.estimated_held(exec_id) > 0
        deadline = idle_deadline(policy, ex.idle_since, cached, ex.wrote_shuffle)
        if deadline is None:
            return
        latency = time - next_poll(app.start_ms, deadline)
        if 0 <= latency <= _MAX_RELEASE_LATENCY_MS:
            self._release.add(latency)

    def job_started(self, e: JobStart) -> None:
        """A job was submitted: remember which job each of its stages belongs to."""
        if len(self._job_stages) < self._app.limits.max_rdds:
            self._job_stages[e.job_id] = e.stage_ids
            for stage_id in e.stage_ids:
                self._stage_job[stage_id] = e.job_id

    def job_ended(self, e: JobEnd) -> None:
        """A job finished."""
        self._advance(e.time)
        for stage_id in self._job_stages.pop(e.job_id, ()):
            self._stage_job.pop(stage_id, None)

    def stage_submitted(self, e: StageSubmitted, time: int) -> None:
        """A stage attempt was submitted at ``time``."""
        self._advance(time)
        rule = self._replay()
        app = self._app
        if self._last_end_ms is None:
            after, delay = -1, time - app.start_ms
        else:
            after, delay = self._last_end_row, time - self._last_end_ms
        free = any(
            ex.removed_ms is None and ex.running * app.task_cpus < ex.cores for ex in app.executors.by_id.values()
        )
        persisted = tuple(r.rdd_id for r in e.rdds if r.use_memory or r.use_disk)
        self._active[(e.stage_id, e.attempt)] = _Active(
            time, e.num_tasks, persisted, self._stage_job.get(e.stage_id, -1), after, max(0, delay), free
        )
        for info in e.rdds:
            if (info.use_memory or info.use_disk) and info.rdd_id not in self._rdds:
                if len(self._rdds) < app.limits.max_rdds:
                    self._rdds[info.rdd_id] = _RddStats()
        if rule is not None:
            rule.stage_submitted(time)

    def task_started(self, e: TaskStart) -> None:
        """A task attempt was launched."""
        self._advance(e.launch)
        active = self._active.get((e.stage_id, e.stage_attempt))
        if active is None:
            return
        active.started += 1
        app = self._app
        wave = self._waves.get(e.exec_id)
        if wave is None and len(self._waves) < app_limit(app):
            wave = self._waves[e.exec_id] = [0, -1]
        if wave is not None:
            wave[0] += 1
            ex = app.executors.get(e.exec_id)
            slots = max(1, ex.cores // app.task_cpus) if ex is not None else 1
            if wave[0] == slots + 1:
                wave[1] = e.launch
            elif wave[1] < 0:
                if self._round and e.launch - self._round_last_ms > _ROUND_GAP_MS:
                    self._close_round()
                self._fresh_running[e.exec_id] = self._fresh_running.get(e.exec_id, 0) + 1
                self._round.append(e.task_id)
                self._round_last_ms = e.launch
        if active.first_launch is None or e.launch < active.first_launch:
            active.first_launch = e.launch
            ex = app.executors.get(e.exec_id)
            if ex is not None and ex.added_ms > active.submit_ms:
                active.free_at_submit = False  # it waited for an executor that came later
        rule = self._rule
        if rule is not None and self._pending() == 0:
            rule.queue_empty()

    def task_ended(self, e: TaskEnd, status: TaskStatus, computed: tuple[int, ...]) -> None:
        """A task attempt ended; ``computed``: the persisted RDDs whose partition it computed (not read)."""
        self._advance(e.finish)
        if self._round:
            self._close_round()
        together = self._fresh_together.pop(e.task_id, 0)
        if together:
            left = self._fresh_running.get(e.exec_id, 1) - 1
            if left > 0:
                self._fresh_running[e.exec_id] = left
            else:
                self._fresh_running.pop(e.exec_id, None)
        active = self._active.get((e.stage_id, e.stage_attempt))
        if active is None or status is TaskStatus.RESUBMITTED:
            return
        span = max(0, e.finish - e.launch)
        if active.last_finish is None or e.finish > active.last_finish:
            active.last_finish = e.finish
        wave = self._waves.get(e.exec_id)
        fresh = wave is not None and (wave[1] < 0 or e.launch < wave[1])
        if status is TaskStatus.SUCCESS:
            if e.shuffle_write_bytes > 0:
                active.shuffle_map = True
            if not fresh:
                # What a partition costs is measured on warm executors (a fresh one adds its own penalty).
                self._min_task_ms = span if self._min_task_ms is None else min(self._min_task_ms, span)
                for rdd_id in active.persisted:
                    stats = self._rdds.get(rdd_id)
                    if stats is None:
                        continue
                    if rdd_id in computed:
                        stats.compute_ms += span
                        stats.compute_n += 1
                    else:
                        stats.read_ms += span
                        stats.read_n += 1
        if fresh:
            acc = active.fresh[0 if computed else 1]
            acc[0] += 1
            acc[1] += span
            active.fresh_sharing += max(1, together)
        else:
            (active.computed if computed else active.plain).add(span)

    def _close_round(self) -> None:
        """Gives each first-wave task of the launch round just ended the fresh executors after it."""
        together = len(self._fresh_running)
        for task_id in self._round:
            self._fresh_together[task_id] = together
        self._round.clear()

    def stage_completed(self, e: StageCompleted, time: int) -> None:
        """A stage attempt completed: it becomes a record."""
        self._advance(time)
        active = self._active.pop((e.stage_id, e.attempt), None)
        if active is None:
            return
        rule = self._rule
        if rule is not None and not self._active:
            rule.queue_empty()
        if len(self.rows) >= MAX_POLICY_STAGES:
            self.dropped_stages += 1
            return
        launch = -1
        if active.free_at_submit and active.first_launch is not None:
            launch = max(0, active.first_launch - active.submit_ms)
            self._launch_sum += launch
            self._launch_n += 1
        last = active.last_finish
        tail = max(0, time - last) if last is not None else 0
        self.rows.append(StageRecord(
            stage_id=e.stage_id,
            attempt=e.attempt,
            job_id=active.job_id,
            after=active.after,
            delay_ms=active.delay_ms,
            launch_ms=launch,
            tail_ms=tail,
            submit_ms=active.submit_ms,
            end_ms=max(active.submit_ms, time),
            persisted=active.persisted,
            computed=active.computed.frozen(),
            plain=active.plain.frozen(),
            fresh_computed=(active.fresh[0][0], active.fresh[0][1]),
            fresh_plain=(active.fresh[1][0], active.fresh[1][1]),
            shuffle_map=active.shuffle_map,
            fresh_sharing=active.fresh_sharing,
        ))
        if self._last_end_ms is None or time >= self._last_end_ms:
            self._last_end_row = len(self.rows) - 1
            self._last_end_ms = time

    def unpersisted(self, rdd_id: int, time: int) -> None:
        """The user unpersisted an RDD at (about) ``time``."""
        stats = self._rdds.get(rdd_id)
        if stats is None or stats.unpersist is not None:
            return
        if self._last_end_ms is None:
            stats.unpersist = (-1, max(0, time - self._app.start_ms))
        else:
            stats.unpersist = (self._last_end_row, max(0, time - self._last_end_ms))

    # ------------------------------------------------------------------ reading
    def memo(self, key: object) -> dict[Any, Any]:
        """A memo of replays valid while ``key`` (the state's event count and end) stays the same."""
        if self._memo_key != key:
            self._memo_key, self._memo = key, {}
        return self._memo

    @property
    def replays_remembered(self) -> int:
        """How many replays the memo holds (0 until a full report asked for one)."""
        return len(self._memo)

    @property
    def peak_executors(self) -> int:
        """The most executors alive at once so far."""
        return self._peak

    def recording(self, until_ms: int) -> Recording:
        """The run so far as an immutable :class:`Recording` (stages still running are not in it)."""
        app = self._app
        table = app.storage.rdd_table
        rdds = {}
        for rdd_id, stats in self._rdds.items():
            info = table.get(rdd_id)
            rdds[rdd_id] = RddRecord(
                rdd_id=rdd_id,
                partitions=info.partitions if info is not None else 0,
                replication=max(1, info.replication) if info is not None else 1,
                compute_ms=stats.compute_ms / stats.compute_n if stats.compute_n else None,
                read_ms=stats.read_ms / stats.read_n if stats.read_n else None,
                unpersist=stats.unpersist,
            )
        end = max(until_ms, app.start_ms)
        if self._last_end_ms is None:
            end_after, end_delay = -1, end - app.start_ms
        else:
            end_after, end_delay = self._last_end_row, max(0, end - self._last_end_ms)
        master = (app.conf.get("spark.master") or "").strip().lower()
        unavailable = ""
        if self.dropped_stages:
            unavailable = f"more than {MAX_POLICY_STAGES} stages"
        elif master == "local" or master.startswith("local["):
            unavailable = "local master: the driver runs the tasks, there are no executors to allocate"
        elif not app.executors.by_id:
            unavailable = "no executor was seen"
        elif not app.conf:
            unavailable = "the log has no Spark properties (EnvironmentUpdate): the recorded policy is unknown"
        elif self._profiles:
            unavailable = "executors of several resource profiles (stage-level scheduling) are not replayed"
        policy = self._policy()
        capacity = None
        standalone = master.startswith(("spark://", "local-cluster"))
        if policy is not None and not policy.dynamic and policy.instances is not None and not standalone:
            if policy.instances > max(self._peak, 1):
                capacity = max(self._peak, 1)
        workers = local_cluster_workers(master)
        initial_offsets = tuple(sorted(self._initial_offsets))
        request_delay = self._request_sum / self._request_n if self._request_n else None
        if workers is not None and self._startups:
            initial_offsets, request_delay = _alone_on_host(self._startups)
        return Recording(
            start_ms=app.start_ms,
            end_ms=end,
            end_after=end_after,
            end_delay_ms=end_delay,
            stages=tuple(self.rows),
            rdds=rdds,
            executor_cores=self._mode_cores(),
            task_cpus=app.task_cpus,
            recorded_policy=policy,
            initial_offsets_ms=initial_offsets,
            request_delay_ms=request_delay,
            release_latency_ms=_median(self._release),
            launch_latency_ms=self._launch_sum / self._launch_n if self._launch_n else 0.0,
            min_task_ms=self._min_task_ms or 1,
            fresh_penalty_ms=_fresh_penalty(self.rows),
            peak_executors=max(self._peak, 1),
            executors_added=app.executors.added,
            cancels_pending=master.startswith(("yarn", "k8s")),
            standalone=master.startswith(("spark://", "local-cluster")),
            capacity=capacity,
            workers=workers,
            executor_memory_mib=MemorySettings(app.conf, app.spark_version).executor_memory_mib or 1024,
            unavailable=unavailable,
            shared_host=workers is not None,
            fresh_sharing_mean=_fresh_sharing_mean(self.rows),
        )
