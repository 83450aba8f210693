"""Classify Spark's free-text ``Removed Reason`` of an executor into a small, bounded set of causes.

The mapping (documented in docs/cache-loss.md, checked against the real texts in shared/eventlogs):

========================  =====================================================================
cause                     reason texts
========================  =====================================================================
``decommission``          anything mentioning decommission (``Executor decommission.``, K8s/YARN
                          graceful decommission)
``dynamic_allocation``    the driver released an executor: ``Executor killed by driver.``
                          (standalone, Kubernetes), ``Container ... exited from explicit
                          termination request.`` (YARN) — unless the app runs with dynamic
                          allocation explicitly off, where the same texts are ``other``
``failure``               exit codes and statuses, OOM kills, lost workers and processes,
                          heartbeat timeouts, disassociated RPC clients, failed containers
``other``                 everything else (the raw text is always kept beside the cause)
========================  =====================================================================
"""

from __future__ import annotations

import re

from sparkprobe.model import RemovalCause

__all__ = ["classify_removal"]

_DECOMMISSION = re.compile(r"decommission", re.IGNORECASE)
_RELEASED_BY_DRIVER = re.compile(
    r"killed by driver|explicit termination request|deleted by the driver", re.IGNORECASE
)
_FAILURE = re.compile(
    r"exit (code|status)|exited with|non-zero|marked as failed|out ?of ?memory|\boom|"
    r"heartbeat|\blost\b|disassociated|external signal|unable to create executor|crash|"
    r"failed|killed by the os|killed by yarn|exceeding memory|memory limit|executor exit|"
    r"shutting down|unreachable|evicted|preempted",
    re.IGNORECASE,
)


def classify_removal(reason: str, dynamic_allocation: bool | None) -> RemovalCause:
    """Return the removal cause of an executor from Spark's reason text.

    ``dynamic_allocation`` is ``spark.dynamicAllocation.enabled`` when known, ``None`` when the
    app's conf is unknown (then a driver release is taken as dynamic allocation, by far the common
    case).
    """
    if _DECOMMISSION.search(reason):
        return RemovalCause.DECOMMISSION
    if _RELEASED_BY_DRIVER.search(reason):
        return RemovalCause.OTHER if dynamic_allocation is False else RemovalCause.DYNAMIC_ALLOCATION
    if _FAILURE.search(reason):
        return RemovalCause.FAILURE
    return RemovalCause.OTHER
