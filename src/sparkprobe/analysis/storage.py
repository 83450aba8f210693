"""The storage ledger: the cached-block map, cache loss with executors, rebuilds (docs/cache-loss.md).

Owned by :class:`sparkprobe.analysis.state.AppState`. State is per block, per RDD and per
executor; without block updates (event logs written without ``logBlockUpdates``) the map is
estimated from tasks instead, and reported as an estimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sparkprobe.events import BlockUpdated, RddInfo, TaskEnd
from sparkprobe.model import FindingKind, Loss, LostRdd, RddReport, RemovalCause

if TYPE_CHECKING:
    from sparkprobe.analysis.causes import Removal
    from sparkprobe.analysis.state import AppState
    from sparkprobe.analysis.tasks import RunningTask

__all__ = ["MAX_LOSSES", "Rdd", "StorageLedger", "block_rdd_partition"]

#: Losses kept in full per app (older ones dropped; the totals keep counting).
MAX_LOSSES = 500


def block_rdd_partition(block_id: str) -> tuple[int, int] | None:
    """``rdd_12_3`` → (12, 3); anything else → None."""
    parts = block_id.split("_")
    if len(parts) != 3 or parts[0] != "rdd":
        return None
    try:
        return int(parts[1]), int(parts[2])
    except ValueError:
        return None


@dataclass(slots=True)
class Rdd:
    """What is known of one RDD: its description and the blocks of it cached now."""

    name: str = ""
    callsite: str = ""
    scope: str = ""
    #: Name of the first stage that used it: for PySpark the RDD's own callsite is internal
    #: ("RDD at PythonRDD.scala:53"), the stage name says where the user's action was.
    first_stage: str = ""
    partitions: int = 0
    replication: int = 1
    cached_blocks: int = 0
    mem_bytes: int = 0
    disk_bytes: int = 0
    #: For the estimate without block updates: the bytes one cached partition took, from the RDD
    #: Info of a completed stage (``Memory Size`` + ``Disk Size`` over ``Number of Cached
    #: Partitions``; Spark 1.x logs fill them, later ones write zeros).
    est_block_bytes: int = 0


class StorageLedger:
    """Cached blocks of one app, where they are, and what was lost of them."""

    def __init__(self, app: AppState) -> None:
        self._app = app
        # The block map: block id → {executor id → (memory bytes, disk bytes)}.
        self._blocks: dict[str, dict[str, tuple[int, int]]] = {}
        self._by_exec: dict[str, set[str]] = {}
        self.rdd_table: dict[int, Rdd] = {}
        self.mem_bytes = 0
        self.disk_bytes = 0
        self.replicas = 0
        self._lost: set[str] = set()
        # Executors whose BlockManagerRemoved came before their ExecutorRemoved: exec id → time.
        self._gone_early: dict[str, int] = {}
        self.lost_blocks = 0
        self.lost_bytes = 0
        self.lost_by_cause: dict[RemovalCause, list[int]] = {}
        self.replicas_lost = 0
        self.migrated_blocks = 0
        self.recomputed_blocks = 0
        self.recompute_ms = 0
        self.recomputed_unattributed = 0
        self.losses: list[Loss] = []
        # The estimate without block updates: a successful task of a stage that persists RDD r, on
        # partition p, is taken to have cached (r, p) on its executor. Reported only when no update
        # was seen.
        self.updates_seen = False
        self._est_blocks: dict[tuple[int, int], str] = {}
        self._est_by_exec: dict[str, set[tuple[int, int]]] = {}
        self._est_lost: set[tuple[int, int]] = set()
        self.est_lost_blocks = 0
        self.est_lost_bytes = 0
        self.est_lost_by_cause: dict[RemovalCause, list[int]] = {}
        self.est_recomputed_blocks = 0
        self.est_recompute_ms = 0

    # ------------------------------------------------------------------ reading
    @property
    def blocks(self) -> int:
        """Distinct cached blocks (a replicated block counts once)."""
        return len(self._blocks)

    @property
    def estimated_blocks(self) -> int:
        """Blocks the task-based estimate takes to be cached now."""
        return len(self._est_blocks)

    @property
    def estimating(self) -> bool:
        """The cache figures are the estimate: no block update seen, and the estimate saw a cache."""
        return not self.updates_seen and bool(self.est_lost_blocks or self._est_blocks)

    def rdd_reports(self) -> tuple[RddReport, ...]:
        """Per RDD that holds cached blocks now: name, callsite, blocks, bytes."""
        return tuple(
            RddReport(rdd_id, r.name, r.callsite, r.first_stage, r.cached_blocks, r.mem_bytes, r.disk_bytes)
            for rdd_id, r in sorted(self.rdd_table.items())
            if r.cached_blocks > 0
        )

    # ------------------------------------------------------------------ RDD descriptions
    def remember_rdds(self, rdds: tuple[RddInfo, ...], stage_name: str) -> None:
        """Take the RDD descriptions a stage event carries."""
        for info in rdds:
            rdd = self.rdd_table.get(info.rdd_id)
            if rdd is None:
                if len(self.rdd_table) >= self._app.limits.max_rdds:
                    self._app.over("rdds")
                    continue
                rdd = self.rdd_table[info.rdd_id] = Rdd()
            if not rdd.first_stage:
                rdd.first_stage = stage_name
            rdd.name = info.name
            rdd.callsite = info.callsite
            rdd.scope = info.scope
            rdd.partitions = info.partitions
            if info.use_memory or info.use_disk:
                rdd.replication = info.replication
            if info.cached_partitions > 0 and info.mem_size + info.disk_size > 0:
                rdd.est_block_bytes = (info.mem_size + info.disk_size) // info.cached_partitions

    # ------------------------------------------------------------------ block updates
    def block_updated(self, e: BlockUpdated) -> None:
        """A block's status on one block manager changed."""
        ids = block_rdd_partition(e.block_id)
        if ids is None:
            return
        self.updates_seen = True
        rdd_id = ids[0]
        app = self._app
        time = app.last_time
        stored = (e.use_memory or e.use_disk) and (e.mem_size > 0 or e.disk_size > 0)
        locations = self._blocks.get(e.block_id)
        old = locations.get(e.exec_id) if locations is not None else None
        if old is not None:
            self._remove_location(e.block_id, e.exec_id, rdd_id)
        if not stored:
            return
        ex = app.executors.get(e.exec_id)
        if ex is not None and ex.removed_ms is not None:
            return  # a late update from an executor already gone: its blocks went with it
        if locations is None and len(self._blocks) >= app.limits.max_blocks:
            app.over("blocks")
            return
        self._add_location(e.block_id, e.exec_id, rdd_id, e.mem_size, e.disk_size)
        if e.block_id in self._lost:
            self._lost.discard(e.block_id)
            self.recomputed_blocks += 1
            self._charge_rebuild(e.exec_id, rdd_id, ids[1])
        if ex is not None and ex.cached_blocks == 1:
            app.executors.resegment(ex, time)

    def _charge_rebuild(self, exec_id: str, rdd_id: int, partition: int) -> None:
        stage_rdds = self._app.stages.rdds
        for task in self._app.tasks.running.values():
            if (
                task.exec_id == exec_id
                and task.partition == partition
                and rdd_id in stage_rdds.get(task.stage_key, frozenset())
            ):
                task.rebuilds += 1
                return
        self.recomputed_unattributed += 1

    def task_ended(self, running: RunningTask | None, e: TaskEnd) -> None:
        """A task attempt ended: the run time of one that rebuilt a lost block is recompute cost."""
        if running is not None and running.rebuilds:
            self.recompute_ms += e.run_ms

    def _add_location(self, block_id: str, exec_id: str, rdd_id: int, mem: int, disk: int) -> None:
        self._blocks.setdefault(block_id, {})[exec_id] = (mem, disk)
        self._by_exec.setdefault(exec_id, set()).add(block_id)
        self.mem_bytes += mem
        self.disk_bytes += disk
        self.replicas += 1
        app = self._app
        app.timeline.cached_bytes(app.last_time, self.mem_bytes + self.disk_bytes)
        rdd = self.rdd_table.get(rdd_id)
        if rdd is None and len(self.rdd_table) < app.limits.max_rdds:
            rdd = self.rdd_table[rdd_id] = Rdd()
        if rdd is not None:
            rdd.cached_blocks += 1
            rdd.mem_bytes += mem
            rdd.disk_bytes += disk
        ex = app.executors.get(exec_id)
        if ex is not None:
            ex.cached_blocks += 1

    def _remove_location(self, block_id: str, exec_id: str, rdd_id: int, at: int | None = None) -> tuple[int, int]:
        """Drop one copy of a block; ``at`` dates it (default: the latest event time)."""
        locations = self._blocks[block_id]
        mem, disk = locations.pop(exec_id)
        if not locations:
            del self._blocks[block_id]
        held = self._by_exec.get(exec_id)
        if held is not None:
            held.discard(block_id)
        self.mem_bytes -= mem
        self.disk_bytes -= disk
        self.replicas -= 1
        app = self._app
        when = app.last_time if at is None else at
        app.timeline.cached_bytes(when, self.mem_bytes + self.disk_bytes)
        rdd = self.rdd_table.get(rdd_id)
        if rdd is not None:
            rdd.cached_blocks -= 1
            rdd.mem_bytes -= mem
            rdd.disk_bytes -= disk
        ex = app.executors.get(exec_id)
        if ex is not None:
            ex.cached_blocks -= 1
            if ex.cached_blocks == 0:
                app.executors.resegment(ex, when)
        return mem, disk

    def unpersisted(self, rdd_id: int) -> None:
        """The user unpersisted an RDD: its blocks go on purpose (not a loss)."""
        prefix = f"rdd_{rdd_id}_"
        for block_id in [b for b in self._blocks if b.startswith(prefix)]:
            for exec_id in list(self._blocks[block_id]):
                self._remove_location(block_id, exec_id, rdd_id)
        self._lost = {b for b in self._lost if not b.startswith(prefix)}
        for block in [b for b in self._est_blocks if b[0] == rdd_id]:
            self._est_by_exec.get(self._est_blocks.pop(block), set()).discard(block)
        self._est_lost = {b for b in self._est_lost if b[0] != rdd_id}

    # ------------------------------------------------------------------ executors going away
    def block_manager_removed(self, exec_id: str, time: int) -> None:
        """A block manager was removed: its blocks are gone (the loss waits for the removal's cause)."""
        if not self._by_exec.get(exec_id):
            return
        ex = self._app.executors.get(exec_id)
        if ex is not None and ex.removed_ms is None:
            # Spark may post BlockManagerRemoved just before ExecutorRemoved (seen on 3.5): keep
            # the blocks until the removal says why, so the loss gets its cause (and a
            # decommission its migrations). App end settles any that never got one.
            self._gone_early[exec_id] = time
            return
        self._drop_executor_blocks(exec_id, time, RemovalCause.OTHER, "")

    def executor_removed(self, exec_id: str, time: int, removal: Removal, reason: str) -> None:
        """An executor was removed: every block on it is lost unless a replica survives (or it migrated)."""
        self._gone_early.pop(exec_id, None)
        self._drop_executor_blocks(exec_id, time, removal.cause, reason, removal.decommissioned)
        self._estimate_loss(exec_id, removal.cause)

    def app_ended(self) -> None:
        """Settle blocks of block managers removed without an executor removal (cause ``other``)."""
        for exec_id, time in sorted(self._gone_early.items()):
            self._drop_executor_blocks(exec_id, time, RemovalCause.OTHER, "")
        self._gone_early.clear()

    def _drop_executor_blocks(
        self, exec_id: str, time: int, cause: RemovalCause, reason: str, decommissioned: bool = False
    ) -> None:
        held = self._by_exec.get(exec_id, set())
        per_rdd: dict[int, list[int]] = {}
        for block_id in sorted(held):
            ids = block_rdd_partition(block_id)
            if ids is None:
                continue
            rdd_id = ids[0]
            # Dated by the removal itself: Spark posts BlockManagerRemoved and ExecutorRemoved from
            # two threads, so their order (and so the latest event time) can differ between the
            # listener's queue and the event log's; the removal's own time cannot.
            mem, disk = self._remove_location(block_id, exec_id, rdd_id, at=time)
            if block_id in self._blocks:
                rdd = self.rdd_table.get(rdd_id)
                if decommissioned and (rdd is None or rdd.replication <= 1):
                    self.migrated_blocks += 1
                else:
                    self.replicas_lost += 1
                continue
            self._lost.add(block_id)
            acc = per_rdd.setdefault(rdd_id, [0, 0, 0])
            acc[0] += 1
            acc[1] += mem
            acc[2] += disk
        self._by_exec.pop(exec_id, None)
        if not per_rdd:
            return
        blocks = sum(v[0] for v in per_rdd.values())
        nbytes = sum(v[1] + v[2] for v in per_rdd.values())
        self.lost_blocks += blocks
        self.lost_bytes += nbytes
        by_cause = self.lost_by_cause.setdefault(cause, [0, 0])
        by_cause[0] += blocks
        by_cause[1] += nbytes
        rdds = []
        for rdd_id, (n, mem, disk) in sorted(per_rdd.items()):
            self._app.tenants.cache_lost(rdd_id, mem + disk)  # the loss of the tenant that cached it
            rdd = self.rdd_table.get(rdd_id) or Rdd()
            rdds.append(LostRdd(rdd_id, rdd.name, rdd.callsite, rdd.first_stage, n, mem, disk))
        self.losses.append(Loss(exec_id, time, cause, reason, blocks, nbytes, tuple(rdds)))
        if len(self.losses) > MAX_LOSSES:
            del self.losses[0]
        self._app.findings.add(
            FindingKind.CACHE_LOST,
            time,
            f"executor {exec_id} removed ({cause.value}): {blocks} cached blocks, {nbytes} bytes lost",
            exec_id=exec_id,
            cause=cause.value,
            reason=reason,
            blocks=blocks,
            bytes=nbytes,
            rdds=tuple(r.rdd_id for r in rdds),
        )

    # ------------------------------------------------------------------ the estimate without block updates
    def task_updated_blocks(self, e: TaskEnd) -> None:
        """Apply a task's ``Updated Blocks`` (event logs of Spark 1.x): exact block updates, no estimate needed."""
        for update in e.updated_blocks:
            self.block_updated(update)

    def estimated_held(self, exec_id: str) -> int:
        """Blocks the task-based estimate takes ``exec_id`` to hold now."""
        return len(self._est_by_exec.get(exec_id, ()))

    def estimate_cached(self, persisted: tuple[int, ...], e: TaskEnd) -> tuple[int, ...]:
        """A successful task of a stage that persists ``persisted`` cached its partition of each.

        Returns the RDDs whose partition it computed (the others it found cached: it read them).
        """
        partition = e.partition if e.partition >= 0 else e.index
        rebuilt = False
        computed: list[int] = []
        for rdd_id in persisted:
            block = (rdd_id, partition)
            if block in self._est_blocks:
                continue  # already cached: this task read it
            computed.append(rdd_id)
            if len(self._est_blocks) >= self._app.limits.max_blocks:
                self._app.over("estimated_blocks")
                break
            self._est_blocks[block] = e.exec_id
            self._est_by_exec.setdefault(e.exec_id, set()).add(block)
            if block in self._est_lost:
                self._est_lost.discard(block)
                self.est_recomputed_blocks += 1
                rebuilt = True
        if rebuilt:
            self.est_recompute_ms += e.run_ms
        return tuple(computed)

    def _estimate_loss(self, exec_id: str, cause: RemovalCause) -> None:
        held = self._est_by_exec.pop(exec_id, set())
        nbytes = 0
        for block in held:
            del self._est_blocks[block]
            self._est_lost.add(block)
            rdd = self.rdd_table.get(block[0])
            nbytes += rdd.est_block_bytes if rdd is not None else 0
        if held:
            self.est_lost_blocks += len(held)
            self.est_lost_bytes += nbytes
            by_cause = self.est_lost_by_cause.setdefault(cause, [0, 0])
            by_cause[0] += len(held)
            by_cause[1] += nbytes
