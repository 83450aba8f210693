"""Replay a recorded run under another allocation policy: a discrete-event simulation in event time.

The model (docs/advice.md, "The policy simulator"):

- **The driver is unchanged.** Each recorded stage is submitted the recorded delay after the end
  of the stage it followed (or after the app's start), and the app ends the recorded delay after
  its last stage: driver time (planning, collecting, Python code, sleeps) does not depend on
  executors. Stages submitted together stay together.
- **Tasks.** A stage's task durations come back from its sketches; they are dealt to free task
  slots (first free executor by id) in a fixed pseudo-random order per stage, after the recorded
  scheduler delay; the stage ends its recorded tail after its last task.
- **Cache.** A task of a stage with persisted RDDs reads its partitions if a live executor holds
  them, else computes them (and caches them on its executor, with ``replication - 1`` copies on
  others). Its duration is drawn from the matching kind in the recording; when the run had no task
  of that kind in the stage, it is the other kind's mean plus or minus each RDD's partition cost
  (mean computing task minus mean reading task of that RDD, or minus the run's shortest task when it
  was never read). A block lost with an executor and computed again is a recompute.
- **Executors** follow :mod:`~sparkprobe.analysis.policy.allocation` (Spark's target, ramp-up,
  idle deadlines, ``minExecutors`` floor and the target guard of ``removeExecutors``), arrive the
  run's measured delay after they were asked for, and go the run's measured release latency after
  being released; with decommission on, their cached blocks first move to a live executor that
  is not leaving (``spark.storage.decommission.rddBlocks.enabled``), or are lost when there is none.
  Shuffle output keeps an executor while the job that wrote it runs, then the shuffle tracking
  timeout applies (Spark's ContextCleaner may clean a shuffle earlier; that is not in the events).
- **One host** (``local-cluster``: ``Recording.shared_host``): the executors starting at once
  share it, each progressing at ``1/n`` of its recorded time alone, and a first-wave task's
  penalty is that of the fresh executors warming up with it.
- Static allocation asks for ``spark.executor.instances`` (else, and always on a standalone
  master, as many as the run had at most) at start and never gives them back.

Pure and deterministic: the same recording and policy always give the same figures.
"""

from __future__ import annotations

import heapq
import math
import random

from sparkprobe.analysis.policy.allocation import POLL_MS, TargetRule, idle_deadline, next_poll
from sparkprobe.analysis.policy.policy import Policy
from sparkprobe.analysis.policy.recorder import Recording, StageRecord
from sparkprobe.model import PolicyFigures

__all__ = ["MAX_SIMULATED_TASKS", "Memo", "simulate", "simulate_memo"]

#: Simulated figures by (the policy's what-if keys, resolution): one report's replays, reused by the
#: next report of the same state (docs/advice.md: live, a report between two events replays nothing).
Memo = dict[tuple[tuple[tuple[str, str], ...], int], PolicyFigures]

#: Task slots' worth of work the simulator schedules one by one per run; beyond, tasks of a stage
#: are dealt in groups of equal size (docs/advice.md gives the error this brings).
MAX_SIMULATED_TASKS = 100_000

# Event kinds, in the order they are processed at one instant.
_REMOVED, _ARRIVE, _TASK_END, _STAGE_END, _UNPERSIST, _SUBMIT, _GATE, _POLL, _END = range(9)
_NAMES = ("removed", "arrive", "task_end", "stage_end", "unpersist", "submit", "gate", "poll", "end")


class _Exec:
    __slots__ = (
        "added",
        "blocks",
        "cores",
        "deadline",
        "decommissioning",
        "eid",
        "held",
        "idle_since",
        "name",
        "pending_removal",
        "removed",
        "running",
        "shuffle_jobs",
        "slots",
        "version",
        "warm",
    )

    def __init__(self, eid: int, cores: int, slots: int, added: int) -> None:
        self.eid = eid
        self.name = str(eid)
        self.cores = cores
        self.slots = slots
        self.added = added
        self.removed: int | None = None
        self.running = 0
        self.idle_since: int | None = added
        self.blocks: set[tuple[int, int]] = set()
        self.shuffle_jobs: set[int] = set()
        self.pending_removal = False
        self.decommissioning = False
        self.deadline: int | None = None
        self.held = False
        self.version = 0
        #: A task has ended on it: its JVM is warm.
        self.warm = False

    @property
    def usable(self) -> bool:
        return self.removed is None and not self.pending_removal and not self.decommissioning


class _Stage:
    __slots__ = (
        "computed_pool", "done", "gate", "index", "pending", "plain_pool", "row", "running",
        "submitted", "tasks_pending", "tasks_running", "unit",
    )

    def __init__(self, index: int, row: StageRecord, unit: int) -> None:
        self.index = index
        self.row = row
        self.unit = unit
        self.submitted = False
        self.gate = 0
        n = row.tasks
        units = -(-n // unit) if n else 0
        # Each unit: (first partition, how many tasks it stands for).
        self.pending = [(u * unit, min(unit, n - u * unit)) for u in range(units)]
        self.pending.reverse()  # popped from the end: partition 0 first
        self.running = 0
        self.done = 0
        self.tasks_pending = n
        self.tasks_running = 0
        seed = row.stage_id * 1_000_003 + row.attempt
        self.computed_pool = _shuffled(row.computed.durations(), seed)
        self.plain_pool = _shuffled(row.plain.durations(), seed + 1)


def _shuffled(values: list[int], seed: int) -> list[int]:
    random.Random(seed).shuffle(values)
    return values


class _Sim:
    """One simulation run (state and handlers); :func:`simulate` is its only entry."""

    def __init__(self, rec: Recording, policy: Policy, trace: list[str] | None, max_units: int) -> None:
        self.trace = trace
        self.rec = rec
        self.policy = policy
        self.start = rec.start_ms
        self.cores = policy.executor_cores or rec.executor_cores
        self.slots = max(1, self.cores // max(1, rec.task_cpus))
        total_tasks = sum(r.tasks for r in rec.stages)
        self.unit = max(1, math.ceil(total_tasks / max(1, max_units)))
        self.stages = [_Stage(i, r, self.unit) for i, r in enumerate(rec.stages)]
        self.children: dict[int, list[int]] = {}
        for i, r in enumerate(rec.stages):
            self.children.setdefault(r.after, []).append(i)
        self.unpersists: dict[int, list[tuple[int, int]]] = {}
        for rdd in rec.rdds.values():
            if rdd.unpersist is not None:
                after, delay = rdd.unpersist
                self.unpersists.setdefault(after, []).append((rdd.rdd_id, delay))
        self.job_left: dict[int, int] = {}
        for r in rec.stages:
            if r.job_id >= 0:
                self.job_left[r.job_id] = self.job_left.get(r.job_id, 0) + 1
        self.active_jobs: set[int] = set()
        self.heap: list[tuple[int, int, int, int, int]] = []
        self.seq = 0
        self.execs: dict[int, _Exec] = {}
        self.n_registered = self.n_usable = self.n_pending = self.n_running = 0
        #: Executors timed out but kept by the floor or the target, until something changes.
        self.held: set[int] = set()
        self.next_eid = 0
        self.outstanding: list[int] = []  # start-up ids of executors asked for, not yet arrived
        self.next_start = 0
        #: On a shared host (Recording.shared_host): each start-up under way → its time alone
        #: still to go, advanced at 1/n while n start together; only the next to finish has an
        #: arrival event, of the current ``share_version``.
        self.starting: dict[int, float] = {}
        self.share_clock = rec.start_ms
        self.share_version = 0
        self.cancelled: set[int] = set()
        self.arrivals_asked = 0
        self.active: list[_Stage] = []  # submitted, with units not yet launched, in submit order
        self.free: list[tuple[int, int]] = []  # (eid, version) heap of executors with a free slot
        self.deadlines: list[tuple[int, int, int]] = []  # (deadline, eid, version)
        self.block_holders: dict[tuple[int, int], set[int]] = {}
        self.lost: set[tuple[int, int]] = set()
        self.unpersisted: set[int] = set()
        self.rule = TargetRule(policy, self.slots) if policy.dynamic else None
        self.capacity = self.cluster_capacity()
        self.add_blocked = False
        self.poll_times: set[int] = set()
        self.last_poll: int | None = None
        self.end: int | None = None
        self.stages_ended = 0
        self.busy_ms = 0
        self.lost_blocks = 0
        self.recompute_ms = 0
        self.recomputed_blocks = 0
        self.peak = 0
        # Task units running: id → (stage index, first partition, tasks, duration, RDDs it computes).
        self.units: dict[int, tuple[int, int, int, int, tuple[int, ...]]] = {}
        self.next_unit = 0
        #: First-wave units launched at this instant on a shared host, not yet drawn: (unit, eid).
        self.round: list[tuple[int, int]] = []
        # Per RDD: the extra time computing one partition costs over reading it.
        self.partition_cost: dict[int, float] = {}
        for rdd in rec.rdds.values():
            if rdd.compute_ms is None:
                continue
            read = rdd.read_ms if rdd.read_ms is not None else float(rec.min_task_ms)
            self.partition_cost[rdd.rdd_id] = max(0.0, rdd.compute_ms - read)

    # ------------------------------------------------------------------ the event queue
    def push(self, time: int, kind: int, a: int = 0, b: int = 0) -> int:
        self.seq += 1
        heapq.heappush(self.heap, (time, kind, self.seq, a, b))
        return self.seq

    def run(self) -> PolicyFigures:
        rec = self.rec
        self.ask(self.start, self.initial_request(), initial=True)
        for child in self.children.get(-1, ()):
            self.push(self.start + rec.stages[child].delay_ms, _SUBMIT, child)
        for rdd_id, delay in self.unpersists.get(-1, ()):
            self.push(self.start + delay, _UNPERSIST, rdd_id)
        if rec.end_after < 0:
            self.push(self.start + rec.end_delay_ms, _END)
        handlers = {
            _REMOVED: self.on_removed, _ARRIVE: self.on_arrive, _TASK_END: self.on_task_end,
            _STAGE_END: self.on_stage_end, _UNPERSIST: self.on_unpersist, _SUBMIT: self.on_submit,
            _GATE: self.on_gate, _POLL: self.on_poll,
        }
        ending = False
        while self.heap:
            time, kind, seq, a, b = heapq.heappop(self.heap)
            if kind == _END:
                if self.stages_ended < len(self.stages):
                    ending = True  # the driver ends the app once its stages have ended
                    continue
                self.end = time
                break
            if kind == _ARRIVE and self.rec.shared_host and b != self.share_version:
                continue  # superseded: another start-up on the shared host began or ended since
            if self.trace is not None:
                self.trace.append(f"{(time - self.start) / 1000:9.3f} {_NAMES[kind]} {a} {b}")
            handlers[kind](time, a, b, seq)
            if ending and self.stages_ended == len(self.stages):
                self.end = time
                break
            self.schedule_poll(time)
        end = self.end if self.end is not None else rec.end_ms
        return self.figures(end)

    # ------------------------------------------------------------------ executors asked for and arriving
    def initial_request(self) -> int:
        policy = self.policy
        if self.rule is not None:
            return self.rule.target
        if policy.instances is not None and not self.rec.standalone:
            return policy.instances
        # A standalone Master is given no executor count (StandaloneSchedulerBackend): it starts
        # executors while cores are free, as many as the run had at most.
        return self.rec.peak_executors

    def arrival_delay(self, index: int, initial: bool) -> int:
        rec = self.rec
        offsets = rec.initial_offsets_ms
        if initial and offsets:
            return offsets[min(index, len(offsets) - 1)]
        if rec.request_delay_ms is not None:
            return round(rec.request_delay_ms)
        if offsets:
            return round(sum(offsets) / len(offsets))
        return 1000

    def cluster_capacity(self) -> int | None:
        """The most executors the cluster can hold at once under this policy (None: not known).

        The run's own evidence (``Recording.capacity``), and a ``local-cluster`` master's workers:
        the standalone Master starts an executor on a worker only while the worker has its cores and
        ``spark.executor.memory`` free (``Master.scheduleExecutorsOnWorkers``).
        """
        rec = self.rec
        caps = [] if rec.capacity is None else [rec.capacity]
        if rec.workers is not None:
            workers, worker_cores, worker_mib = rec.workers
            per_worker = min(worker_cores // max(1, self.cores), worker_mib // max(1, rec.executor_memory_mib))
            caps.append(workers * per_worker)
        return min(caps) if caps else None

    def ask(self, now: int, count: int, initial: bool = False) -> None:
        cap = self.capacity
        if cap is not None:
            # The cluster holds no more: requests beyond are never filled.
            live = len([s for s in self.outstanding if s not in self.cancelled])
            count = min(count, cap - self.registered() - live)
        shared = self.rec.shared_host
        if shared:
            self.share_progress(now)
        for i in range(max(0, count)):
            sid = self.next_start
            self.next_start += 1
            self.outstanding.append(sid)
            if shared:
                self.starting[sid] = float(self.arrival_delay(i, initial))
            else:
                self.push(now + self.arrival_delay(i, initial), _ARRIVE, sid)
        if shared and count > 0:
            self.share_next(now)

    def share_progress(self, now: int) -> None:
        """Advance the start-ups under way on the shared host to ``now`` (n of them: 1/n each)."""
        if self.starting and now > self.share_clock:
            step = (now - self.share_clock) / len(self.starting)
            for sid in self.starting:
                self.starting[sid] -= step
        self.share_clock = now

    def share_next(self, now: int) -> None:
        """Schedule the arrival of the start-up that ends first at the present sharing."""
        self.share_version += 1
        if self.starting:
            sid = min(self.starting, key=lambda s: (self.starting[s], s))
            left = max(0.0, self.starting[sid]) * len(self.starting)
            self.push(now + math.ceil(left), _ARRIVE, sid, self.share_version)

    def registered(self) -> int:
        """Executors registered now (``executorCountWithResourceProfile``)."""
        return self.n_registered

    def keeping(self) -> int:
        """Registered executors not being killed or decommissioned."""
        return self.n_usable

    def reconcile(self, now: int) -> None:
        """Ask for or cancel executors so that those kept plus those coming meet the target."""
        rule = self.rule
        if rule is None:
            return
        live_outstanding = [s for s in self.outstanding if s not in self.cancelled]
        want = rule.target - self.keeping() - len(live_outstanding)
        if want > 0:
            self.ask(now, want)
        elif want < 0 and self.rec.cancels_pending:
            for seq in live_outstanding[want:]:
                self.cancelled.add(seq)

    def on_arrive(self, now: int, sid: int, version: int, _seq: int) -> None:
        if self.rec.shared_host:
            self.share_progress(now)
            del self.starting[sid]
            self.share_next(now)
        if sid in self.cancelled:
            self.cancelled.discard(sid)
            self.outstanding.remove(sid)
            return
        if sid in self.outstanding:
            self.outstanding.remove(sid)
        ex = _Exec(self.next_eid, self.cores, self.slots, now)
        self.next_eid += 1
        self.execs[ex.eid] = ex
        self.n_registered += 1
        self.n_usable += 1
        self.peak = max(self.peak, self.registered())
        self.refresh(ex)
        heapq.heappush(self.free, (ex.eid, ex.version))
        self.add_blocked = False
        self.release_held()
        self.dispatch(now)

    # ------------------------------------------------------------------ idle deadlines (ExecutorMonitor)
    def has_active_shuffle(self, ex: _Exec) -> bool:
        return self.policy.shuffle_tracking and any(j in self.active_jobs for j in ex.shuffle_jobs)

    def refresh(self, ex: _Exec) -> None:
        """Recompute an executor's idle deadline after its state changed."""
        ex.version += 1
        deadline = None
        if self.rule is not None and ex.usable and ex.running == 0 and ex.idle_since is not None and not ex.held:
            if not self.has_active_shuffle(ex):
                deadline = idle_deadline(self.policy, ex.idle_since, bool(ex.blocks), bool(ex.shuffle_jobs))
        ex.deadline = deadline
        if deadline is not None:
            heapq.heappush(self.deadlines, (deadline, ex.eid, ex.version))
        if ex.usable and ex.running < ex.slots:
            heapq.heappush(self.free, (ex.eid, ex.version))

    def release_held(self) -> None:
        """Executors kept by the floor or the target get their deadline back: something changed."""
        if not self.held:
            return
        held, self.held = self.held, set()
        for eid in sorted(held):
            ex = self.execs[eid]
            ex.held = False
            self.refresh(ex)

    def next_deadline(self) -> int | None:
        heap = self.deadlines
        while heap:
            deadline, eid, version = heap[0]
            ex = self.execs.get(eid)
            if ex is not None and ex.version == version and ex.deadline == deadline:
                return deadline
            heapq.heappop(heap)
        return None

    def schedule_poll(self, now: int) -> None:
        if self.rule is None:
            return
        candidates = []
        if self.rule.add_time is not None and not self.add_blocked:
            candidates.append(self.rule.add_time)
        deadline = self.next_deadline()
        if deadline is not None:
            candidates.append(deadline)
        if not candidates:
            return
        at = next_poll(self.start, max(now, min(candidates)))
        if self.last_poll is not None and at <= self.last_poll:
            at = self.last_poll + POLL_MS  # one schedule() per tick
        if at not in self.poll_times:
            self.poll_times.add(at)
            self.push(at, _POLL)

    def on_poll(self, now: int, _a: int, _b: int, _seq: int) -> None:
        self.poll_times.discard(now)
        if self.last_poll is not None and now <= self.last_poll:
            return
        self.last_poll = now
        rule = self.rule
        if rule is None:
            return
        timed_out = []
        while True:
            deadline = self.next_deadline()
            if deadline is None or deadline > now:
                break
            _, eid, _ = heapq.heappop(self.deadlines)
            timed_out.append(self.execs[eid])
        if timed_out:
            rule.initializing = False
        before = rule.target
        add_due = rule.add_time is not None and now >= rule.add_time
        delta = rule.update(now, self.pending_tasks(), self.running_tasks(), self.registered())
        if add_due and delta == 0:
            self.add_blocked = True
        if delta != 0 or rule.target != before:
            self.reconcile(now)
            if rule.target < before:
                self.release_held()
        self.remove_timed_out(now, sorted(timed_out, key=lambda e: e.name))

    def remove_timed_out(self, now: int, timed_out: list[_Exec]) -> None:
        """``removeExecutors``: respect the ``minExecutors`` floor and the current target."""
        rule = self.rule
        assert rule is not None
        total = self.keeping()
        for ex in timed_out:
            if not ex.usable or ex.running:
                continue
            if total - 1 < self.policy.min_executors or total - 1 < rule.target:
                ex.held = True
                self.held.add(ex.eid)
                self.refresh(ex)
                continue
            total -= 1
            self.n_usable -= 1
            if self.policy.decommission:
                ex.decommissioning = True
                if self.policy.migrate_rdd_blocks:
                    self.migrate(ex)
            else:
                ex.pending_removal = True
            self.refresh(ex)
            self.push(now + round(self.rec.release_latency_ms), _REMOVED, ex.eid)

    def migrate(self, ex: _Exec) -> None:
        """Move a decommissioning executor's blocks to live executors that stay (the least loaded first)."""
        peers = [e for e in self.execs.values() if e.usable and e.eid != ex.eid]
        if not peers:
            return
        for block in sorted(ex.blocks):
            holders = self.block_holders.get(block, set())
            if any(h != ex.eid and self.execs[h].usable for h in holders):
                continue
            peer = min(peers, key=lambda e: (len(e.blocks), e.eid))
            self.store(peer, block)

    def on_removed(self, now: int, eid: int, _b: int, _seq: int) -> None:
        ex = self.execs[eid]
        if ex.removed is not None:
            return
        if ex.usable:
            self.n_usable -= 1
        ex.removed = now
        self.n_registered -= 1
        ex.version += 1
        for block in ex.blocks:
            holders = self.block_holders.get(block)
            if holders is None:
                continue
            holders.discard(eid)
            if not holders:
                del self.block_holders[block]
                if block[0] not in self.unpersisted:
                    self.lost.add(block)
                    self.lost_blocks += 1
        ex.blocks = set()
        self.add_blocked = False
        self.release_held()
        self.reconcile(now)

    # ------------------------------------------------------------------ cached blocks
    def store(self, ex: _Exec, block: tuple[int, int]) -> None:
        had = bool(ex.blocks)
        ex.blocks.add(block)
        self.block_holders.setdefault(block, set()).add(ex.eid)
        if not had:
            self.refresh(ex)

    def present(self, block: tuple[int, int]) -> bool:
        holders = self.block_holders.get(block)
        return holders is not None and any(self.execs[h].removed is None for h in holders)

    def on_unpersist(self, _now: int, rdd_id: int, _b: int, _seq: int) -> None:
        self.unpersisted.add(rdd_id)
        for block in [b for b in self.block_holders if b[0] == rdd_id]:
            for eid in self.block_holders.pop(block):
                ex = self.execs[eid]
                ex.blocks.discard(block)
                if not ex.blocks:
                    self.refresh(ex)
        self.lost = {b for b in self.lost if b[0] != rdd_id}

    # ------------------------------------------------------------------ stages and tasks
    def pending_tasks(self) -> int:
        """Tasks of submitted stages not launched yet."""
        return self.n_pending

    def running_tasks(self) -> int:
        """Tasks running now."""
        return self.n_running

    def on_submit(self, now: int, index: int, _b: int, _seq: int) -> None:
        stage = self.stages[index]
        stage.submitted = True
        row = stage.row
        launch = row.launch_ms if row.launch_ms >= 0 else round(self.rec.launch_latency_ms)
        stage.gate = now + launch
        if row.job_id >= 0:
            self.active_jobs.add(row.job_id)
        if stage.pending:
            self.active.append(stage)
            self.n_pending += stage.tasks_pending
            if self.rule is not None:
                self.rule.stage_submitted(now)
                self.add_blocked = False
            self.push(stage.gate, _GATE, index)
        else:
            # No task ran (skipped, or aborted with its job): its span was the scheduler's.
            self.push(now + max(0, row.end_ms - row.submit_ms), _STAGE_END, index)

    def on_gate(self, now: int, _a: int, _b: int, _seq: int) -> None:
        self.dispatch(now)

    def dispatch(self, now: int) -> None:
        """Give free task slots to the waiting tasks of the earliest submitted stages."""
        self.fill(now)
        if self.round:
            self.close_round(now)

    def fill(self, now: int) -> None:
        while self.active and self.free:
            stage = next((s for s in self.active if s.gate <= now and s.pending), None)
            if stage is None:
                return
            eid, version = heapq.heappop(self.free)
            ex = self.execs.get(eid)
            if ex is None or ex.version != version or not ex.usable or ex.running >= ex.slots:
                continue
            self.launch(now, stage, ex)
            if ex.running < ex.slots:
                heapq.heappush(self.free, (ex.eid, ex.version))

    def launch(self, now: int, stage: _Stage, ex: _Exec) -> None:
        first, size = stage.pending.pop()
        if not stage.pending:
            self.active.remove(stage)
        stage.tasks_pending -= size
        stage.tasks_running += size
        self.n_pending -= size
        self.n_running += size
        stage.running += 1
        missing = self.missing_rdds(stage, first)
        fresh = not ex.warm
        ex.running += 1
        ex.idle_since = None
        self.refresh(ex)
        self.next_unit += 1
        if fresh and self.rec.shared_host:
            # Drawn once this instant's launches are all made (close_round), as the recorder counts.
            self.round.append((self.next_unit, ex.eid))
            self.units[self.next_unit] = (stage.index, first, size, 0, missing)
        else:
            duration = self.draw(stage, size, missing, fresh=fresh)
            self.units[self.next_unit] = (stage.index, first, size, duration, missing)
            self.push(now + duration, _TASK_END, ex.eid, self.next_unit)
        if self.rule is not None and self.pending_tasks() == 0:
            self.rule.queue_empty()

    def close_round(self, now: int) -> None:
        """Draws the first-wave tasks just launched on a shared host, with the fresh JVMs now warming up."""
        together = sum(1 for e in self.execs.values() if e.removed is None and not e.warm and e.running > 0)
        for unit, eid in self.round:
            index, first, size, _, missing = self.units[unit]
            duration = self.draw(self.stages[index], size, missing, fresh=True, together=together)
            self.units[unit] = (index, first, size, duration, missing)
            self.push(now + duration, _TASK_END, eid, unit)
        self.round.clear()

    def missing_rdds(self, stage: _Stage, partition: int) -> tuple[int, ...]:
        out = []
        for rdd_id in stage.row.persisted:
            if rdd_id in self.unpersisted:
                continue
            if not self.present((rdd_id, self.block_partition(rdd_id, partition))):
                out.append(rdd_id)
        return tuple(out)

    def block_partition(self, rdd_id: int, partition: int) -> int:
        rdd = self.rec.rdds.get(rdd_id)
        if rdd is not None and rdd.partitions > 0:
            return partition % rdd.partitions
        return partition

    def solo_penalty(self) -> float:
        """A fresh executor's penalty alone on the shared host (the run's, shared as recorded)."""
        return self.rec.fresh_penalty_ms / max(1.0, self.rec.fresh_sharing_mean)

    def draw(self, stage: _Stage, size: int, missing: tuple[int, ...], fresh: bool, together: int = 0) -> int:
        """The duration of ``size`` tasks of the stage, of the kind the cache state makes them.

        On a fresh executor: the mean of the stage's fresh tasks of that kind when the run had
        some, else a warm task plus the run's fresh-executor penalty. On a shared host
        (``together`` > 0: the fresh executors warming up at once) the penalty is shared: the
        recorded one is moved to what ``together`` fresh executors would have taken.
        """
        computing = bool(missing)
        row = stage.row
        if fresh:
            n, total_ms = row.fresh_computed if computing else row.fresh_plain
            if n:
                mean = total_ms / n
                fresh_tasks = row.fresh_computed[0] + row.fresh_plain[0]
                if together and row.fresh_sharing:
                    mean += self.solo_penalty() * (together - row.fresh_sharing / fresh_tasks)
                return max(0, round(size * mean))
        pool = stage.computed_pool if computing else stage.plain_pool
        total = 0
        for _ in range(size):
            if pool:
                total += pool.pop()
            else:
                total += self.synthesize(stage, computing, missing)
        if fresh:
            penalty = self.solo_penalty() * together if together else self.rec.fresh_penalty_ms
            total += size * round(penalty)
        return max(0, total)

    def warm_mean(self, row: StageRecord, computing: bool) -> float | None:
        """A warm task's mean duration of one kind in a stage, from the run (None when it had none)."""
        sketch, (n, total) = (row.computed, row.fresh_computed) if computing else (row.plain, row.fresh_plain)
        if sketch.count:
            return sketch.mean_ms
        if n:
            return max(float(self.rec.min_task_ms), total / n - self.rec.fresh_penalty_ms)
        return None

    def synthesize(self, stage: _Stage, computing: bool, missing: tuple[int, ...]) -> int:
        """A task of a kind the run had too few of in this stage: its kind's mean, else the other's adjusted."""
        row = stage.row
        own = self.warm_mean(row, computing)
        if own is not None:
            return round(own)
        other = self.warm_mean(row, not computing)
        if other is None:
            return self.rec.min_task_ms
        if computing:
            return round(other + sum(self.partition_cost.get(r, 0.0) for r in missing))
        cost = sum(self.partition_cost.get(r, 0.0) for r in row.persisted)
        return round(max(float(self.rec.min_task_ms), other - cost))

    def on_task_end(self, now: int, eid: int, unit: int, _seq: int) -> None:
        index, first, size, duration, missing = self.units.pop(unit)
        stage = self.stages[index]
        ex = self.execs[eid]
        stage.running -= 1
        stage.done += 1
        stage.tasks_running -= size
        self.n_running -= size
        self.busy_ms += duration * self.rec.task_cpus
        row = stage.row
        if row.shuffle_map and row.job_id >= 0:
            ex.shuffle_jobs.add(row.job_id)
        rebuilt = False
        for rdd_id in missing:
            for p in range(first, first + size):
                block = (rdd_id, self.block_partition(rdd_id, p))
                if self.present(block):
                    continue
                if block in self.lost:
                    self.lost.discard(block)
                    self.recomputed_blocks += 1
                    rebuilt = True
                self.store_with_replicas(ex, block, rdd_id)
        if rebuilt:
            self.recompute_ms += duration
        ex.running -= 1
        ex.warm = True
        if ex.running == 0:
            ex.idle_since = now
        self.refresh(ex)
        self.add_blocked = False
        self.release_held()
        if stage.done == len_units(stage):
            self.push(now + row.tail_ms, _STAGE_END, stage.index)
        self.dispatch(now)

    def store_with_replicas(self, ex: _Exec, block: tuple[int, int], rdd_id: int) -> None:
        if ex.removed is not None:
            return
        self.store(ex, block)
        rdd = self.rec.rdds.get(rdd_id)
        copies = (rdd.replication if rdd is not None else 1) - 1
        if copies <= 0:
            return
        others = sorted((e for e in self.execs.values() if e.usable and e.eid != ex.eid),
                        key=lambda e: (len(e.blocks), e.eid))
        for other in others[:copies]:
            self.store(other, block)

    def on_stage_end(self, now: int, index: int, _b: int, _seq: int) -> None:
        self.stages_ended += 1
        row = self.stages[index].row
        if row.job_id >= 0:
            left = self.job_left[row.job_id] = self.job_left.get(row.job_id, 1) - 1
            if left <= 0 and row.job_id in self.active_jobs:
                self.active_jobs.discard(row.job_id)
                for ex in self.execs.values():
                    if row.job_id in ex.shuffle_jobs:
                        self.refresh(ex)
        if self.rule is not None and not self.active:
            self.rule.queue_empty()
        for child in self.children.get(index, ()):
            self.push(now + self.rec.stages[child].delay_ms, _SUBMIT, child)
        for rdd_id, delay in self.unpersists.get(index, ()):
            self.push(now + delay, _UNPERSIST, rdd_id)
        if self.rec.end_after == index:
            self.push(now + self.rec.end_delay_ms, _END)

    # ------------------------------------------------------------------ figures
    def figures(self, end: int) -> PolicyFigures:
        allocated_ms = 0
        for ex in self.execs.values():
            if ex.added >= end:
                continue
            gone = ex.removed if ex.removed is not None and ex.removed < end else end
            allocated_ms += ex.cores * max(0, gone - ex.added)
        busy_ms = min(self.busy_ms, allocated_ms)
        return PolicyFigures(
            wall_seconds=round((end - self.start) / 1000, 3),
            allocated_core_seconds=round(allocated_ms / 1000, 3),
            busy_core_seconds=round(busy_ms / 1000, 3),
            idle_core_seconds=round((allocated_ms - busy_ms) / 1000, 3),
            cache_lost_blocks=self.lost_blocks,
            recompute_seconds=round(self.recompute_ms / 1000, 3),
            executors_added=sum(1 for ex in self.execs.values() if ex.added < end),
            peak_executors=self.peak,
        )


def len_units(stage: _Stage) -> int:
    """How many units a stage's tasks were dealt in."""
    n = stage.row.tasks
    return -(-n // stage.unit) if n else 0


def simulate(
    rec: Recording, policy: Policy, trace: list[str] | None = None, max_units: int = MAX_SIMULATED_TASKS
) -> PolicyFigures:
    """The figures ``rec`` would have had under ``policy`` (see the module doc for the model).

    ``trace``, when given, receives one line per simulated event (for reading a replay).
    ``max_units``: tasks scheduled one by one at most (beyond, in equal groups): the advisor's
    grid uses a coarser replay than a single what-if.
    """
    return _Sim(rec, policy, trace, max_units).run()


def simulate_memo(
    memo: Memo | None, rec: Recording, policy: Policy, max_units: int = MAX_SIMULATED_TASKS
) -> PolicyFigures:
    """:func:`simulate`, remembered in ``memo`` by the policy's keys (its ``conf``) and resolution."""
    if memo is None:
        return simulate(rec, policy, max_units=max_units)
    key = (tuple(sorted(policy.conf.items())), max_units)
    found = memo.get(key)
    if found is None:
        found = memo[key] = simulate(rec, policy, max_units=max_units)
    return found
