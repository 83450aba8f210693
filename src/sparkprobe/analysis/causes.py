"""Classify Spark's free-text ``Removed Reason`` of an executor into a small, bounded set of causes.

Two things are read from the text: why the executor went (:class:`~sparkprobe.model.RemovalCause`)
and whether it was decommissioned (it had the chance to migrate its cached blocks). The mapping
(docs/cache-loss.md, checked against the real texts in shared/eventlogs and Spark's sources):

==========================  ===================================================================
cause                       reason texts
==========================  ===================================================================
``dynamic_allocation``      the driver released an idle executor: ``Executor killed by driver.``
                            (standalone, Kubernetes), ``Container ... exited from explicit
                            termination request.`` (YARN), and with decommission on
                            ``Executor decommission: spark scale down`` (the
                            ``ExecutorAllocationManager``'s own message) — unless the app runs
                            with dynamic allocation explicitly off, where a kill by the driver is
                            ``other`` (a user's ``sc.killExecutor``)
``decommission``            any other decommission (a worker or node being decommissioned)
``memory``                  the executor ran out of memory: Spark's OOM exit code 52, a Java
                            ``OutOfMemoryError``, ``Container killed by YARN for exceeding ...
                            memory limits``, Kubernetes ``OOMKilled``
``preempted``               the cluster manager took it back: YARN ``was preempted``, Kubernetes
                            ``deleted by a user or the framework`` (spot reclaim, node drain,
                            ``kubectl delete``), evictions
``failure``                 other exit codes and statuses, lost workers and processes, heartbeat
                            timeouts, disassociated RPC clients, failed containers
``other``                   everything else (the raw text is always kept beside the cause)
==========================  ===================================================================

A bare exit code 137 (SIGKILL) stays ``failure``: anyone may send SIGKILL, and Spark itself only
says "possible container OOM" then; the kernel's or Kubernetes' word for an OOM kill
(``OOMKilled``, ``exceeding memory limits``) is what makes it ``memory``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sparkprobe.model import RemovalCause

__all__ = ["Removal", "classify_removal"]

_DECOMMISSION = re.compile(r"decommission", re.IGNORECASE)
_SCALE_DOWN = re.compile(r"spark scale down", re.IGNORECASE)
_RELEASED_BY_DRIVER = re.compile(
    r"killed by driver|explicit termination request|deleted by the driver", re.IGNORECASE
)
_MEMORY = re.compile(
    r"out ?of ?memory|OutOfMemoryError|OOMKilled|exceeding (physical |virtual )?memory limits|"
    r"(exit (code|status)|exited with( exit)? code|code)[ :=]*52\b",
    re.IGNORECASE,
)
_PREEMPTED = re.compile(r"preempted|deleted by a user or the framework|\bevicted\b", re.IGNORECASE)
_FAILURE = re.compile(
    r"exit (code|status)|exited with|non-zero|marked as failed|\boom|"
    r"heartbeat|\blost\b|disassociated|external signal|unable to create executor|crash|"
    r"failed|killed by the os|killed by yarn|memory limit|executor exit|"
    r"shutting down|unreachable",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Removal:
    """An executor removal as classified: its cause, and whether it was decommissioned first."""

    cause: RemovalCause
    #: Spark decommissioned it (with ``spark.storage.decommission.rddBlocks.enabled`` its cached
    #: blocks may then have migrated to other executors instead of being lost).
    decommissioned: bool = False


def classify_removal(reason: str, dynamic_allocation: bool | None) -> Removal:
    """Classify an executor removal from Spark's reason text.

    ``dynamic_allocation`` is ``spark.dynamicAllocation.enabled`` when known, ``None`` when the
    app's conf is unknown (then a driver release is taken as dynamic allocation, by far the common
    case).
    """
    if _DECOMMISSION.search(reason):
        if _SCALE_DOWN.search(reason):
            return Removal(RemovalCause.DYNAMIC_ALLOCATION, decommissioned=True)
        return Removal(RemovalCause.DECOMMISSION, decommissioned=True)
    if _RELEASED_BY_DRIVER.search(reason):
        return Removal(RemovalCause.OTHER if dynamic_allocation is False else RemovalCause.DYNAMIC_ALLOCATION)
    if _MEMORY.search(reason):
        return Removal(RemovalCause.MEMORY)
    if _PREEMPTED.search(reason):
        return Removal(RemovalCause.PREEMPTED)
    if _FAILURE.search(reason):
        return Removal(RemovalCause.FAILURE)
    return Removal(RemovalCause.OTHER)
