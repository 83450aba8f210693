"""Executor metrics and resource profiles from real event logs, and the memory figures of every shared log.

The expected values are read here with the standard library's json straight from the logs, so the
reader's decoding and the analyzer's maxima are checked against an independent reading.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pytest
from test_eventlog_reader import PUBLIC, RECORDED, independent_bytes

from sparkprobe import events as ev
from sparkprobe.offline import analyze_source
from sparkprobe.sources.eventlog import LogReader, LogSource, discover
from sparkprobe.sources.sparkjson import BadEvent, decode, decode_records

pytestmark = pytest.mark.skipif(not PUBLIC.is_dir(), reason=f"real event logs not found at {PUBLIC}")

NAMES = set(ev.EXECUTOR_METRIC_NAMES)


def raw_objects(source: LogSource) -> list[dict[str, Any]]:
    out = []
    for part in source.parts:
        for line in independent_bytes(part.path, part.member).split(b"\n"):
            if line.strip():
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if isinstance(obj, dict):
                    out.append(obj)
    return out


def independent_peaks(objs: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Executor id → metric → the highest value in the log (stage peaks, task peaks, driver heartbeats)."""
    peaks: dict[str, dict[str, int]] = defaultdict(dict)

    def take(exec_id: str, metrics: Any) -> None:
        for k, v in (metrics or {}).items():
            if k in NAMES and v > peaks[exec_id].get(k, 0):
                peaks[exec_id][k] = v

    for o in objs:
        kind = o.get("Event")
        if kind == "SparkListenerStageExecutorMetrics":
            take(o["Executor ID"], o["Executor Metrics"])
        elif kind == "SparkListenerTaskEnd":
            take(o["Task Info"]["Executor ID"], o.get("Task Executor Metrics"))
        elif kind == "SparkListenerExecutorMetricsUpdate":
            for u in o.get("Executor Metrics Updated") or []:
                take(o["Executor ID"], u["Executor Metrics"])
    return peaks


@pytest.fixture(scope="module")
def sources() -> list[LogSource]:
    return discover([PUBLIC, RECORDED])


def by_name(sources: list[LogSource], name: str) -> LogSource:
    (found,) = [s for s in sources if s.name.split(":")[0] == name]
    return found


# ---------------------------------------------------------------------------------------- decoding
def test_stage_executor_metrics_of_a_yarn_log(sources: list[LogSource]) -> None:
    source = by_name(sources, "application_1538416563558_0014")
    records = [e for e in LogReader(source).events() if isinstance(e, ev.ExecutorMetrics)]
    assert len(records) == 35 and {r.source for r in records} == {"stage"}
    first = records[0]  # the log's first StageExecutorMetrics: the driver's, stage 0
    assert (first.exec_id, first.stage_id, first.stage_attempt) == ("driver", 0, 0)
    assert first.metrics == {
        "JVMHeapMemory": 256071440, "JVMOffHeapMemory": 92211424, "OnHeapStorageMemory": 333371,
        "OnHeapUnifiedMemory": 333371, "DirectPoolMemory": 134726, "ProcessTreeJVMVMemory": 4926242816,
        "ProcessTreeJVMRSSMemory": 525656064, "ProcessTreePythonVMemory": 408375296,
        "ProcessTreePythonRSSMemory": 40284160,
    }  # the zeros (execution memory, off-heap, mapped pool, other processes) are left out


def test_task_executor_metrics_follow_their_task_end(sources: list[LogSource]) -> None:
    source = by_name(sources, "nds_q72_dataproc_2_2.zstd")
    evs = list(LogReader(source).events())
    for i, e in enumerate(evs):
        if isinstance(e, ev.ExecutorMetrics):
            end = evs[i - 1]
            assert isinstance(end, ev.TaskEnd) and e.source == "task"
            assert (e.exec_id, e.stage_id, e.stage_attempt) == (end.exec_id, end.stage_id, end.stage_attempt)
    assert sum(isinstance(e, ev.ExecutorMetrics) for e in evs) == 581


def test_resource_profiles(sources: list[LogSource]) -> None:
    source = by_name(sources, "rp_sql_eventlog.zstd")
    evs = list(LogReader(source).events())
    profiles = [e for e in evs if isinstance(e, ev.ResourceProfileAdded)]
    assert profiles == [
        ev.ResourceProfileAdded(0, {"gpu": 1, "cores": 4, "offHeap": 0, "memoryOverhead": 8192, "memory": 20480}, 1),
        ev.ResourceProfileAdded(
            1, {"gpu": 2, "cores": 2, "memoryOverhead": 2048, "pyspark.memory": 2048, "memory": 6144}, 2
        ),
    ]
    assert sorted(e.profile_id for e in evs if isinstance(e, ev.ExecutorAdded)) == [0] * 5 + [1] * 4


def test_heartbeats_give_one_record_per_stage_and_never_their_accumulators() -> None:
    heartbeat = {
        "Event": "SparkListenerExecutorMetricsUpdate",
        "Executor ID": "driver",
        "Metrics Updated": [{"Task ID": 1, "Stage ID": 0, "Stage Attempt ID": 0, "Accumulator Updates": [{"x": 1}]}],
        "Executor Metrics Updated": [
            {"Stage ID": -1, "Stage Attempt ID": -1, "Executor Metrics": {"JVMHeapMemory": 7, "MinorGCTime": 3}},
            {"Stage ID": 2, "Stage Attempt ID": 1, "Executor Metrics": {"JVMHeapMemory": 0}},
        ],
    }
    assert decode_records(heartbeat) == (ev.ExecutorMetrics("driver", {"JVMHeapMemory": 7, "MinorGCTime": 3}, -1, -1,
                                                            "heartbeat"),)
    assert decode(heartbeat) is None  # several records: decode_records only
    spark24 = {"Event": "SparkListenerExecutorMetricsUpdate", "Executor ID": "3", "Metrics Updated": [],
               "Executor Metrics Updated": {"JVMHeapMemory": 5}}
    assert decode_records(spark24) == (ev.ExecutorMetrics("3", {"JVMHeapMemory": 5}, -1, -1, "heartbeat"),)
    bad = json.loads(json.dumps(heartbeat))
    bad["Executor Metrics Updated"][0]["Executor Metrics"]["JVMHeapMemory"] = "7"
    with pytest.raises(BadEvent, match="JVMHeapMemory"):
        decode_records(bad)
    # Garbage in the accumulators is never looked at.
    heartbeat["Metrics Updated"] = "not a list"
    assert len(decode_records(heartbeat)) == 1


def test_a_mistyped_task_metric_makes_the_task_end_bad(sources: list[LogSource]) -> None:
    source = by_name(sources, "nds_q72_dataproc_2_2.zstd")
    end = next(o for o in raw_objects(source) if o.get("Event") == "SparkListenerTaskEnd"
               and (o.get("Task Executor Metrics") or {}).get("JVMHeapMemory"))
    assert [type(r).__name__ for r in decode_records(end)] == ["TaskEnd", "ExecutorMetrics"]
    end["Task Executor Metrics"]["JVMHeapMemory"] = 1.5
    with pytest.raises(BadEvent, match="Task Executor Metrics"):
        decode_records(end)
    profile = {"Event": "SparkListenerResourceProfileAdded", "Resource Profile Id": 1,
               "Executor Resource Requests": {"memory": {"Amount": "6g"}}}
    with pytest.raises(BadEvent, match="Amount"):
        decode(profile)


# ---------------------------------------------------------------------------------------- every log
def test_every_log_gets_memory_figures_or_says_they_are_unavailable(sources: list[LogSource]) -> None:
    with_figures = []
    for source in sources:
        name = source.name.split(":")[0]
        report = analyze_source(source).to_json()
        m = report["memory"]
        peaks = independent_peaks(raw_objects(source))
        executors = set(report["executors"])
        measured = {x for x in executors if peaks.get(x, {}).get("JVMHeapMemory")}
        assert m["available"] == bool(measured), name
        assert m["executors_measured"] == len(measured), name
        for exec_id, entry in report["executors"].items():
            expected = {k: v for k, v in peaks.get(exec_id, {}).items() if k.endswith("Memory")}
            assert entry["peak_memory"] == expected, (name, exec_id)
        if measured:
            with_figures.append(name)
            heap = max(peaks[x]["JVMHeapMemory"] for x in measured)
            assert m["peak"]["jvm_heap"] == heap, name
            assert m["unused_busy_byte_seconds"] is not None and m["unused_busy_byte_seconds"] >= 0, name
            rss = [peaks[x].get("ProcessTreeJVMRSSMemory", 0) for x in measured]
            assert (m["peak"]["process_rss"] is not None) == any(rss), name
        else:
            # No zeros that would read as "nothing used": every peak is null, and a note says why.
            assert set(m["peak"].values()) == {None}, name
            assert m["unused_busy_byte_seconds"] is None, name
            assert any("unavailable" in n for n in m["notes"]), name
            assert all(a["kind"] not in ("executor_memory", "executor_memory_overhead") for a in report["advice"])
        driver = peaks.get("driver", {})
        if "driver" not in executors:
            assert m["driver"]["peak_memory"] == {k: v for k, v in driver.items() if k.endswith("Memory")}, name
        # Figures never negative; idle by cause sums to idle.
        assert m["allocated_byte_seconds"] >= m["idle_byte_seconds"] >= 0, name
        assert sum(m["idle_by_cause_byte_seconds"].values()) == pytest.approx(m["idle_byte_seconds"]), name
    # The logs known to carry executor metrics (shared/eventlogs/README.md) got figures.
    for name in ("application_1538416563558_0014", "application_1506645932520_24630151",
                 "app-20200706201101-0003", "nds_q72_dataproc_2_2.zstd",
                 "eventlog_v2_spark-cc4d115f011443d787f03a71a476a745"):
        assert name in with_figures, name
    for name in ("local-1422981780767", "event_log_0", "rp_sql_eventlog.zstd", "app-20261124030112-0000"):
        assert name not in with_figures, name
