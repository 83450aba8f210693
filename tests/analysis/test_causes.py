"""Removal causes from real reason texts (standalone, YARN, Kubernetes)."""

from __future__ import annotations

import pytest

from sparkprobe.analysis.causes import classify_removal
from sparkprobe.model import RemovalCause


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
        ("Container marked as failed: container_1 on host: h. Exit status: 56. Diagnostics: x", True, "failure"),
        ("Executor Process Lost", True, "failure"),
        ("worker lost: 10.59.176.34:35971 got disassociated", None, "failure"),
        ("Command exited with code 137", None, "failure"),
        ("Executor heartbeat timed out after 120000 ms", None, "failure"),
        ("Container killed by YARN for exceeding memory limits. 5.5 GB of 5.5 GB physical memory used.",
         None, "failure"),
        ("The executor with id 3 exited with exit code 137(SIGKILL, possible container OOM).", None, "failure"),
        ("Remote RPC client disassociated. Likely due to containers exceeding thresholds", None, "failure"),
        ("Unknown executor exit", None, "failure"),
        ("blacklisted for a while", None, "other"),
    ],
)
def test_reason_texts_are_classified(reason: str, dynamic: bool | None, cause: str) -> None:
    assert classify_removal(reason, dynamic) == cause
    assert cause in tuple(RemovalCause)
