"""Removal causes from real reason texts (standalone, YARN, Kubernetes)."""

from __future__ import annotations

import pytest

from sparkprobe.analysis.causes import classify_removal
from sparkprobe.model import IdleCause, RemovalCause, WasteCause


@pytest.mark.parametrize(
    ("reason", "dynamic", "cause"),
    [
        ("Executor killed by driver.", True, "dynamic_allocation"),
        ("Executor killed by driver.", None, "dynamic_allocation"),
        ("Executor killed by driver.", False, "other"),
        ("Container container_e18_1628109047826_1317105_01_000002 exited from explicit termination request.",
         True, "dynamic_allocation"),
        ("Executor decommission.", True, "decommission"),
        ("Executor decommission: worker decommissioned", None, "decommission"),
        # ExecutorAllocationManager's own message when it releases an idle executor by decommission.
        ("Executor decommission: spark scale down", True, "dynamic_allocation"),
        ("Executor decommission finished: spark scale down", True, "dynamic_allocation"),
        ("Container container_1_01_000003 on host: worker-7 was preempted.", True, "preempted"),
        ("The executor with id 4 was deleted by a user or the framework.", True, "preempted"),
        ("Container marked as failed: container_1 on host: h. Exit status: 56. Diagnostics: x", True, "failure"),
        ("Executor Process Lost", True, "failure"),
        ("worker lost: 10.59.176.34:35971 got disassociated", None, "failure"),
        ("Command exited with code 137", None, "failure"),  # SIGKILL from anyone: not proof of an OOM
        ("Command exited with code 52", None, "memory"),  # Spark's own OOM exit code (standalone)
        ("Container marked as failed: container_1 on host: h. Exit status: 52. Diagnostics: x", None, "memory"),
        ("The executor with id 5 exited with exit code 52.", None, "memory"),
        ("Executor heartbeat timed out after 120000 ms", None, "failure"),
        ("Container killed by YARN for exceeding memory limits. 5.5 GB of 5.5 GB physical memory used.",
         None, "memory"),
        ("Container killed by YARN for exceeding physical memory limits. 9.1 GB of 9 GB used.", None, "memory"),
        # Spark says "possible" only: the kubelet's OOMKilled below is what proves it.
        ("The executor with id 3 exited with exit code 137(SIGKILL, possible container OOM).", None, "failure"),
        ("The executor with id 3 exited with exit code 137(SIGKILL, possible container OOM).\n"
         "The API gave the following brief reason: OOMKilled", None, "memory"),
        ("ExecutorLostFailure: java.lang.OutOfMemoryError: Java heap space", None, "memory"),
        ("Remote RPC client disassociated. Likely due to containers exceeding thresholds", None, "failure"),
        ("Unknown executor exit", None, "failure"),
        ("blacklisted for a while", None, "other"),
    ],
)
def test_reason_texts_are_classified(reason: str, dynamic: bool | None, cause: str) -> None:
    assert classify_removal(reason, dynamic).cause == cause
    assert cause in tuple(RemovalCause)


def test_only_a_decommission_is_decommissioned() -> None:
    assert classify_removal("Executor decommission: spark scale down", True).decommissioned
    assert classify_removal("Executor decommission.", None).decommissioned
    assert not classify_removal("Executor killed by driver.", True).decommissioned


def test_every_idle_cause_is_a_waste_cause() -> None:
    # Cost charges idle time to WasteCause(idle_cause.value) (analysis/cost.py): an idle cause added
    # without its waste twin would raise there at run time, on the first app that has it.
    assert {c.value for c in IdleCause} | {"unused_while_busy"} == {c.value for c in WasteCause}

