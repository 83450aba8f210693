"""Synthetic Spark applications, as wire-v1 streams (docs/wire-format.md) or Spark JSON event logs.

:class:`SyntheticApp` simulates one application: executors added and removed by a
dynamic-allocation schedule, jobs of one stage each, tasks run in waves over the executors' cores
(start, then end with metrics), every ``cache_every``-th stage caching one block per task, the
oldest cached RDD unpersisted when the app holds more than its block budget. Event times only go
forward; everything is deterministic for a seed.

:meth:`SyntheticApp.lines` encodes it as ProbeListener would (field order and spelling of
jvm-listener's Wire.java, so line lengths are those of the real stream, with a listener_stats line
every few thousand events). ``_eventlog.py`` encodes the same simulation as a Spark event log.
"""

from __future__ import annotations

import math
import random
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class GenStats:
    lines: int = 0
    bytes: int = 0
    tasks: int = 0
    block_updates: int = 0
    executors_added: int = 0
    executors_removed: int = 0
    stages: int = 0
    unpersisted: int = 0
    max_blocks_alive: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rdd:
    rdd_id: int
    name: str
    callsite: str
    parents: tuple[int, ...]
    cached: bool
    partitions: int
    scope: str


class SyntheticApp:
    """A deterministic synthetic application."""

    def __init__(
        self,
        app_id: str,
        *,
        tasks: int,
        blocks: int,
        max_executors: int,
        min_executors: int,
        cores: int = 4,
        cycles: float = 2.0,
        stage_tasks: tuple[int, int] = (200, 2000),
        cache_every: int = 3,
        seed: int = 0,
        end: bool = False,
        start_ms: int | None = None,
    ) -> None:
        self.app_id = app_id
        self.tasks = tasks
        self.blocks = blocks
        self.max_executors = max_executors
        self.min_executors = min(min_executors, max_executors)
        self.cores = cores
        self.cycles = cycles
        self.stage_tasks = stage_tasks
        self.cache_every = max(1, cache_every)
        self.rng = random.Random(seed)
        self.end = end
        # Live streams carry times close to the agent's clock: start now unless told otherwise.
        self.t = start_ms if start_ms is not None else int(time.time() * 1000)
        self.stats = GenStats()

    def target_executors(self, progress: float) -> int:
        """Dynamic allocation: from min up to max and back, ``cycles`` times over the app's life."""
        span = self.max_executors - self.min_executors
        wave = 0.5 - 0.5 * math.cos(2 * math.pi * self.cycles * progress)
        return self.min_executors + round(span * wave)

    @staticmethod
    def host(exec_id: str) -> str:
        n = int(exec_id)
        return f"10.0.{(n // 250) % 250}.{n % 250 + 1}"

    # ------------------------------------------------------------------------------ simulation
    def events(self) -> Iterator[tuple[Any, ...]]:
        """The app as tuples ``(kind, ...)``; see the encoders for each kind's fields."""
        st = self.stats
        rng = self.rng
        yield ("app_start", self.t)
        yield ("conf",)
        active: deque[str] = deque()
        next_exec = 1
        # Cached RDD id → its partitions, oldest first. A partition lost with its executor stays a
        # (lost) block of a cached RDD until the RDD is unpersisted, as in Spark: the budget counts
        # the partitions of cached RDDs, held or lost, so the agent's block state stays bounded.
        cached: dict[int, int] = {}
        alive = 0
        task_id = 0
        stage_id = 0
        rdd_id = 0
        since_stats = 0
        while st.tasks < self.tasks:
            target = max(1, self.target_executors(st.tasks / self.tasks))
            while len(active) < target:
                ex = str(next_exec)
                next_exec += 1
                self.t += rng.randint(0, 20)
                active.append(ex)
                st.executors_added += 1
                yield ("executor_added", ex, self.t)
            while len(active) > target:
                ex = active.popleft()  # the longest-lived goes first
                self.t += rng.randint(0, 20)
                st.executors_removed += 1
                yield ("executor_removed", ex, self.t)
            self.t += rng.randint(100, 1500)  # the driver between actions
            n = min(rng.randint(*self.stage_tasks), self.tasks - st.tasks)
            persist = self.blocks > 0 and stage_id % self.cache_every == 0
            src = Rdd(rdd_id, "ParallelCollectionRDD", f"parallelize at etl.py:{stage_id % 50}", (), False, n,
                      "parallelize")
            rdd_id += 1
            rdds: tuple[Rdd, ...] = (src,)
            cache_rdd = -1
            if persist:
                cache_rdd = rdd_id
                rdd_id += 1
                rdds = (Rdd(cache_rdd, "MapPartitionsRDD", f"cache at etl.py:{stage_id % 50}", (src.rdd_id,), True,
                            n, "mapPartitions"), src)
            name = f"count at etl.py:{stage_id % 50}"
            yield ("job_start", stage_id, self.t, stage_id, name, n, rdds)
            yield ("stage_submitted", stage_id, self.t, name, n, rdds)
            slots = [ex for ex in active for _ in range(self.cores)]
            index = 0
            while index < n:
                wave = slots[: n - index]
                launch = self.t
                ends = []
                for ex in wave:
                    yield ("task_start", task_id, stage_id, index, ex, launch)
                    ends.append((launch + rng.randint(20, 900), task_id, index, ex))
                    task_id += 1
                    index += 1
                ends.sort()
                for finish, tid, idx, ex in ends:
                    run = finish - launch - rng.randint(1, 15)
                    yield ("task_end", tid, stage_id, idx, ex, launch, finish, run)
                    st.tasks += 1
                    if persist:
                        size = 1_048_576 + (idx * 7919) % 524_288
                        yield ("block_updated", f"rdd_{cache_rdd}_{idx}", ex, size)
                        st.block_updates += 1
                self.t = ends[-1][0] + rng.randint(1, 30)
                since_stats += 2 * len(wave)
                if since_stats >= 4096:  # about once a second of the listener's life
                    since_stats = 0
                    yield ("listener_stats",)
            yield ("stage_completed", stage_id, self.t, name, n, rdds)
            yield ("job_end", stage_id, self.t)
            stage_id += 1
            st.stages += 1
            if persist:
                cached[cache_rdd] = n
                alive += n
            st.max_blocks_alive = max(st.max_blocks_alive, alive)
            while alive > self.blocks and len(cached) > 1:
                old = next(iter(cached))
                alive -= cached.pop(old)
                st.unpersisted += 1
                yield ("unpersist_rdd", old)
        yield ("listener_stats",)
        if self.end:
            self.t += 500
            yield ("app_end", self.t)

    # ------------------------------------------------------------------------------ wire v1
    def lines(self) -> Iterator[bytes]:
        """The app as wire-v1 lines, each ending in a newline."""
        st = self.stats
        kinds = st.by_kind
        app = self.app_id
        cores = self.cores
        for ev in self.events():
            kind = ev[0]
            if kind == "task_end":
                _, tid, sid, idx, ex, launch, finish, run = ev
                line = (f'{{"k":"task_end","task_id":{tid},"stage_id":{sid},"stage_attempt":0,"index":{idx},'
                        f'"partition":{idx},"attempt":0,"exec_id":"{ex}","launch":{launch},"finish":{finish},'
                        f'"status":"success","reason":"Success","speculative":false,"run_ms":{run},'
                        f'"cpu_ns":{run * 731_000},"gc_ms":{run // 40},"shuffle_read_bytes":0,'
                        f'"shuffle_write_bytes":0,"memory_spilled":0,"disk_spilled":0,"input_bytes":{idx * 4096 + 131072},'
                        f'"output_bytes":0,"peak_memory":{run * 1024}}}\n')
            elif kind == "task_start":
                _, tid, sid, idx, ex, launch = ev
                line = (f'{{"k":"task_start","task_id":{tid},"stage_id":{sid},"stage_attempt":0,"index":{idx},'
                        f'"partition":{idx},"attempt":0,"exec_id":"{ex}","launch":{launch},"speculative":false}}\n')
            elif kind == "block_updated":
                _, block, ex, size = ev
                line = (f'{{"k":"block_updated","block_id":"{block}","exec_id":"{ex}","use_memory":true,'
                        f'"use_disk":false,"off_heap":false,"deserialized":true,"replication":1,'
                        f'"mem_size":{size},"disk_size":0}}\n')
            elif kind == "listener_stats":
                line = (f'{{"k":"listener_stats","offered":{st.lines},"dropped":0,'
                        f'"processing_ns":{st.lines * 1500},"reconnects":0}}\n')
            elif kind == "executor_added":
                _, ex, t = ev
                host = self.host(ex)
                yield self._count("executor_added", f'{{"k":"executor_added","exec_id":"{ex}","host":"{host}",'
                                                    f'"cores":{cores},"time":{t}}}\n')
                kind = "block_manager_added"
                line = (f'{{"k":"block_manager_added","exec_id":"{ex}","host":"{host}","time":{t},'
                        f'"max_mem":4771741286}}\n')
            elif kind == "executor_removed":
                _, ex, t = ev
                yield self._count("executor_removed", f'{{"k":"executor_removed","exec_id":"{ex}","time":{t},'
                                                      '"reason":"Executor killed by driver."}\n')
                kind = "block_manager_removed"
                line = f'{{"k":"block_manager_removed","exec_id":"{ex}","time":{t}}}\n'
            elif kind in ("stage_submitted", "stage_completed"):
                _, sid, t, name, n, rdds = ev
                rdd_json = ",".join(
                    f'{{"rdd_id":{r.rdd_id},"name":"{r.name}","callsite":"{r.callsite}",'
                    f'"parents":[{",".join(map(str, r.parents))}],"use_memory":{"true" if r.cached else "false"},'
                    f'"use_disk":false,"replication":1,"partitions":{r.partitions},"cached_partitions":0,'
                    f'"mem_size":0,"disk_size":0,"scope":"{r.scope}"}}'
                    for r in rdds
                )
                failure = ',"failure":""' if kind == "stage_completed" else ""
                line = (f'{{"k":"{kind}","stage_id":{sid},"attempt":0,"name":"{name}","num_tasks":{n},'
                        f'"time":{t}{failure},"rdds":[{rdd_json}]}}\n')
            elif kind == "job_start":
                _, jid, t, sid, *_ = ev
                line = f'{{"k":"job_start","job_id":{jid},"time":{t},"stage_ids":[{sid}]}}\n'
            elif kind == "job_end":
                _, jid, t = ev
                line = f'{{"k":"job_end","job_id":{jid},"time":{t},"succeeded":true}}\n'
            elif kind == "unpersist_rdd":
                line = f'{{"k":"unpersist_rdd","rdd_id":{ev[1]}}}\n'
            elif kind == "app_start":
                line = (f'{{"k":"app_start","app_id":"{app}","app_name":"bench {app}","user":"bench",'
                        f'"time":{ev[1]},"spark_version":"4.0.1","attempt_id":""}}\n')
            elif kind == "conf":
                line = ('{"k":"conf","props":{"spark.master":"yarn","spark.dynamicAllocation.enabled":"true",'
                        f'"spark.dynamicAllocation.minExecutors":"{self.min_executors}",'
                        f'"spark.dynamicAllocation.maxExecutors":"{self.max_executors}",'
                        '"spark.dynamicAllocation.shuffleTracking.enabled":"true",'
                        '"spark.dynamicAllocation.cachedExecutorIdleTimeout":"600s",'
                        f'"spark.executor.cores":"{cores}","spark.executor.memory":"8g"}}}}\n')
            elif kind == "app_end":
                line = f'{{"k":"app_end","time":{ev[1]}}}\n'
            else:  # pragma: no cover - every kind is listed above
                raise AssertionError(kind)
            b = line.encode()
            st.lines += 1
            st.bytes += len(b)
            kinds[kind] = kinds.get(kind, 0) + 1
            yield b

    def _count(self, kind: str, line: str) -> bytes:
        b = line.encode()
        self.stats.lines += 1
        self.stats.bytes += len(b)
        self.stats.by_kind[kind] = self.stats.by_kind.get(kind, 0) + 1
        return b


def hello(app_id: str, token: str = "") -> bytes:
    return (f'{{"hello":"sparkprobe","wire":1,"app_id":"{app_id}","token":"{token}","listener":"bench"}}\n').encode()
