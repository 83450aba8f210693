"""Figures of real event logs vs an independent computation written here, plainly.

The computation below shares nothing with sparkprobe's reader or analyzer: it decompresses with
the codec libraries directly, parses Spark's JSON with `json`, and computes each figure from its
definition (docs/figures.md) over whole interval lists, not incrementally.
"""

from __future__ import annotations

import gzip
import io
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import zstandard

from conftest import EVENTLOGS, capped_busy_ms
from sparkprobe.offline import analyze_source
from sparkprobe.sources.eventlog import discover

LOGS = EVENTLOGS
CASES = [
    "recorded/spark-4.0.1-plain",
    "public/application_1538416563558_0014",
    "public/eventlog_4nodes_8cores_dynamic_alloc.zstd",
    "public/tasks_executors_fail_compressed_eventlog.zstd",
    "public/nds_q72_dataproc_2_2.zstd",
    "public/app-20161116163331-0000",
    "public/event_log_0",
    "public/application_1628109047826_1317105",
]


def raw_lines(path: Path) -> list[str]:
    files = sorted(p for p in path.iterdir() if p.name.startswith("events_")) if path.is_dir() else [path]
    if path.is_dir() and not files:
        files = [p for p in path.iterdir()]
    out: list[str] = []
    for f in files:
        data = f.read_bytes()
        if f.suffix in (".zstd", ".zst"):
            data = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()
        elif f.suffix == ".gz":
            data = gzip.decompress(data)
        out.extend(data.decode("utf-8", "replace").splitlines())
    return out


def union_ms(intervals: list[tuple[int, int]]) -> int:
    total, cur_start, cur_end = 0, None, None
    for start, end in sorted(intervals):
        if cur_end is None or start > cur_end:
            if cur_end is not None:
                total += cur_end - cur_start
            cur_start, cur_end = start, end
        else:
            cur_end = max(cur_end, end)
    if cur_end is not None:
        total += cur_end - cur_start
    return total


def independent(path: Path) -> dict[str, Any]:
    added: dict[str, tuple[int, int]] = {}
    removed: dict[str, int] = {}
    tasks: dict[str, list[tuple[int, int]]] = defaultdict(list)
    status: dict[str, int] = defaultdict(int)
    task_cpus = 1
    end = last = 0
    for line in raw_lines(path):
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        kind = ev.get("Event")
        for key in ("Timestamp", "time"):
            if isinstance(ev.get(key), int):
                last = max(last, ev[key])
        if kind == "SparkListenerEnvironmentUpdate":
            task_cpus = int(ev.get("Spark Properties", {}).get("spark.task.cpus", 1))
        elif kind == "SparkListenerExecutorAdded" and ev["Executor ID"] not in added:
            added[ev["Executor ID"]] = (ev["Timestamp"], ev["Executor Info"]["Total Cores"])
        elif kind == "SparkListenerExecutorRemoved":
            removed.setdefault(ev["Executor ID"], ev["Timestamp"])
        elif kind == "SparkListenerApplicationEnd":
            end = ev["Timestamp"]
        elif kind == "SparkListenerTaskEnd":
            info = ev["Task Info"]
            last = max(last, info["Finish Time"])
            reason = ev["Task End Reason"]["Reason"]
            st = {"Success": "success", "TaskKilled": "killed", "Resubmitted": "resubmitted"}.get(reason, "failed")
            status[st] += 1
            if st != "resubmitted":
                tasks[info["Executor ID"]].append((info["Launch Time"], info["Finish Time"]))
    end = end or last
    allocated = busy = idle = 0.0
    for exec_id, (start, cores) in added.items():
        stop = removed.get(exec_id, end)
        spans = [(max(a, start), min(b, stop)) for a, b in tasks.get(exec_id, []) if min(b, stop) > max(a, start)]
        allocated += cores * (stop - start) / 1000
        # Driver-side stamps overlap (a finish is stamped after the next task on the core launched):
        # never more cores busy than the executor has.
        busy += capped_busy_ms(spans, cores, task_cpus) / 1000
        idle += (stop - start - union_ms(spans)) / 1000
    return {
        "executors_added": len(added),
        "executors_removed": len(removed.keys() & added.keys()),
        "allocated_core_seconds": allocated,
        "busy_core_seconds": busy,
        "idle_executor_seconds": idle,
        "tasks": dict(status),
    }


@pytest.mark.parametrize("case", CASES)
def test_figures_equal_an_independent_computation(case: str) -> None:
    path = LOGS / case
    (source,) = discover([path])
    app = analyze_source(source).to_json()
    want = independent(path)
    assert app["executors_added"] == want["executors_added"]
    assert app["executors_removed"] == want["executors_removed"]
    for status, n in want["tasks"].items():
        assert app["tasks"][status] == n, status
    for key in ("allocated_core_seconds", "busy_core_seconds", "idle_executor_seconds"):
        assert app[key] == pytest.approx(want[key], rel=1e-3, abs=1e-3), key
    assert app["idle_core_seconds"] == pytest.approx(app["allocated_core_seconds"] - app["busy_core_seconds"])
    assert sum(app["idle_by_cause"].values()) == pytest.approx(app["idle_executor_seconds"], rel=1e-9, abs=1e-6)


def test_without_block_updates_cache_loss_is_estimated_and_marked(tmp_path: Path) -> None:
    # The same real run with and without its block updates: the task-based estimate finds the
    # same lost and recomputed blocks, and says it is an estimate (sizes unknown).
    original = LOGS / "recorded" / "spark-4.0.1-plain"
    (log,) = list(original.iterdir())
    stripped = tmp_path / "app-stripped"
    stripped.write_text(
        "".join(line for line in log.read_text().splitlines(keepends=True) if '"SparkListenerBlockUpdated"' not in line)
    )
    exact = analyze_source(discover([original])[0]).to_json()
    estimate = analyze_source(discover([stripped])[0]).to_json()
    assert exact["cache_estimated"] is False and estimate["cache_estimated"] is True
    assert estimate["cache_lost_blocks"] == exact["cache_lost_blocks"] == 12
    assert estimate["cache_recomputed_blocks"] == exact["cache_recomputed_blocks"] == 12
    assert estimate["cache_lost_bytes"] == 0 < exact["cache_lost_bytes"]
    assert estimate["cache_lost_by_cause"]["dynamic_allocation"][0] == 12
