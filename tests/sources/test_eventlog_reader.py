"""The offline event-log reader against every real log in shared/eventlogs, plus edge cases.

Counts are checked against an independent count made here (plain decompression with the reference
libraries, a regex on the ``"Event"`` name, stdlib json) and against the reference table of
shared/eventlogs/README.md; field values against facts known from outside the reader (the wire
doc's example record, the recording script's configuration, the README's notes).
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import re
import shutil
import struct
import tracemalloc
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import EVENTLOGS, REPO
from sparkprobe import events as ev
from sparkprobe.sources import eventlog, sparkjson
from sparkprobe.sources.codecs import sniff_codec
from sparkprobe.sources.eventlog import LogReader, LogSource, discover, read_events
from sparkprobe.sources.sparkjson import BadEvent, decode

PUBLIC = EVENTLOGS / "public"
RECORDED = EVENTLOGS / "recorded"
PLAIN_LOG = RECORDED / "spark-4.0.1-plain" / "app-20261124030112-0000"
WIRE_DOC = REPO / "docs" / "wire-format.md"

pytestmark = pytest.mark.skipif(not PUBLIC.is_dir(), reason=f"real event logs not found at {EVENTLOGS}")

# Spark event name → wire kind of the record it maps to (the brief's mapping, written out here).
MAPPED = {
    "SparkListenerApplicationStart": "app_start",
    "SparkListenerApplicationEnd": "app_end",
    "SparkListenerEnvironmentUpdate": "conf",
    "SparkListenerExecutorAdded": "executor_added",
    "SparkListenerExecutorRemoved": "executor_removed",
    "SparkListenerBlockManagerAdded": "block_manager_added",
    "SparkListenerBlockManagerRemoved": "block_manager_removed",
    "SparkListenerBlockUpdated": "block_updated",
    "SparkListenerUnpersistRDD": "unpersist_rdd",
    "SparkListenerJobStart": "job_start",
    "SparkListenerJobEnd": "job_end",
    "SparkListenerStageSubmitted": "stage_submitted",
    "SparkListenerStageCompleted": "stage_completed",
    "SparkListenerTaskStart": "task_start",
    "SparkListenerTaskEnd": "task_end",
    "SparkListenerResourceProfileAdded": "resource_profile_added",
    # Memory peaks (and a TaskEnd's "Task Executor Metrics"): counted by metrics_records below.
    "SparkListenerStageExecutorMetrics": "executor_metrics",
    "SparkListenerExecutorMetricsUpdate": "executor_metrics",
}
#: Kinds whose lines give only executor_metrics records, one per non-zero set of peaks.
METRICS_ONLY = {"SparkListenerStageExecutorMetrics", "SparkListenerExecutorMetricsUpdate"}
EVENT_NAME = re.compile(rb'^\{"Event":"([^"]*)"')

# shared/eventlogs/README.md, "public/: event counts": lines, AppStart, AppEnd, ExecAdd, ExecRem, BMRem,
# Unpers, TaskStart, TaskEnd, StgCompl.
README_COUNTS: dict[str, tuple[int, ...]] = {
    "application_1538416563558_0014": (190, 1, 1, 9, 8, 8, 2, 35, 35, 14),
    "application_1506645932520_24630151": (63, 1, 1, 7, 0, 0, 2, 9, 9, 3),
    "application_1536831636016_59384_1": (214, 1, 1, 2, 0, 0, 0, 100, 100, 1),
    "application_1628109047826_1317105": (52, 1, 1, 10, 6, 6, 0, 5, 5, 1),
    "app-20161116163331-0000": (68, 1, 1, 4, 0, 0, 0, 24, 24, 1),
    "app-20200706201101-0003": (124, 1, 1, 1, 0, 0, 0, 48, 48, 3),
    "local-1422981780767": (82, 1, 1, 0, 0, 0, 0, 32, 32, 4),
    "eventlog_4nodes_8cores_dynamic_alloc.zstd": (665, 1, 1, 15, 14, 14, 0, 235, 235, 20),
    "tasks_executors_fail_compressed_eventlog.zstd": (17717, 1, 1, 8, 2, 2, 0, 8580, 8630, 135),
    "rp_sql_eventlog.zstd": (477, 1, 1, 9, 1, 1, 0, 217, 217, 5),
    "malformed_json_eventlog.zstd": (477, 1, 1, 9, 1, 1, 0, 217, 217, 5),
    "nds_q88_photon_db_13_3.zstd": (10141, 1, 0, 2, 1, 1, 0, 4896, 4896, 57),
    "xgboost_eventlog.zstd": (379, 1, 0, 2, 0, 0, 4, 155, 155, 12),
    "db_subExecution_id.zstd": (368, 1, 0, 2, 0, 0, 1, 137, 137, 11),
    "nds_q72_dataproc_2_2.zstd": (27321, 1, 1, 8, 0, 0, 0, 13504, 13504, 49),
    "attempt_1_eventlog.zstd": (275, 1, 1, 10, 0, 0, 0, 107, 107, 5),
    "spark2-eventlog.zstd": (58, 1, 1, 1, 0, 0, 0, 6, 6, 6),
    "gpu_oom_eventlog.zstd": (25084, 1, 1, 2, 0, 0, 0, 12447, 12416, 37),
    "eventlog_v2_local-1623876083964": (5621, 1, 1, 1, 0, 0, 0, 2801, 2801, 4),
    "db_sim_eventlog": (5621, 1, 1, 1, 0, 0, 0, 2801, 2801, 4),
    "event_log_0": (431, 1, 1, 3, 0, 0, 1, 204, 204, 3),
    "eventLogs-application_1489705648216_1600.zip": (289, 1, 1, 19, 0, 0, 0, 116, 116, 4),
    "event_log_1": (33, 1, 1, 2, 0, 0, 0, 10, 10, 1),
    "local-1532512550423": (30, 1, 1, 1, 0, 0, 0, 8, 8, 2),
    "job_spark_shell": (49, 1, 1, 1, 0, 0, 0, 16, 16, 2),
    "eventlog_v2_spark-cc4d115f011443d787f03a71a476a745": (200, 1, 1, 4, 0, 0, 0, 73, 73, 6),
}
README_KINDS = (
    "app_start",
    "app_end",
    "executor_added",
    "executor_removed",
    "block_manager_removed",
    "unpersist_rdd",
    "task_start",
    "task_end",
    "stage_completed",
)
def _readme_file_names() -> set[str]:
    """Every log file name in shared/eventlogs/README.md's public/ provenance tables (both of them)."""
    text = (EVENTLOGS / "README.md").read_text(encoding="utf-8")
    names = set(re.findall(r"^\| (?:\d+ \| )?`([^`]+?)/?` \|", text, re.MULTILINE))
    return {n for n in names if (PUBLIC / n).exists()}


RECORDED_NAMES = {
    "eventlog_v2_app-20261124025908-0000",
    "app-20261124030112-0000",
    "app-20261124025953-0000.lz4",
    "app-20261124030034-0000.snappy",
}


# --- independent decompression (whole-file, reference libraries; not sparkprobe's codecs) -------


def unlz4_spark(data: bytes) -> bytes:
    import lz4.block

    out, i = bytearray(), 0
    while i < len(data):
        assert data[i : i + 8] == b"LZ4Block"
        token, clen, dlen, _ = struct.unpack_from("<Biii", data, i + 8)
        body = data[i + 21 : i + 21 + clen]
        out += body if token & 0xF0 == 0x10 else lz4.block.decompress(body, uncompressed_size=dlen)
        i += 21 + clen
    return bytes(out)


def unsnappy_spark(data: bytes) -> bytes:
    import cramjam

    out, i = bytearray(), 16
    while i < len(data):
        (n,) = struct.unpack_from(">i", data, i)
        out += bytes(cramjam.snappy.decompress_raw(data[i + 4 : i + 4 + n]))
        i += 4 + n
    return bytes(out)


def independent_bytes(path: Path, member: str | None) -> bytes:
    import zstandard

    if member is not None:
        with zipfile.ZipFile(path) as zf:
            data = zf.read(member)
    else:
        data = path.read_bytes()
    if data[:4] == b"\x28\xb5\x2f\xfd":
        return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True).read()
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if data[:8] == b"LZ4Block":
        return unlz4_spark(data)
    if data[:8] == b"\x82SNAPPY\x00":
        return unsnappy_spark(data)
    return data


def _positive(metrics: Any) -> bool:
    return isinstance(metrics, dict) and any(
        type(v) is int and v > 0 for k, v in metrics.items() if k in ev.EXECUTOR_METRIC_NAMES
    )


def metrics_records(event: str, obj: dict[str, Any]) -> int:
    """executor_metrics records a line gives: a TaskEnd's, a stage's, each stage of a heartbeat (non-zero only)."""
    if event == "SparkListenerTaskEnd":
        return int(_positive(obj.get("Task Executor Metrics")))
    if event == "SparkListenerStageExecutorMetrics":
        return int(_positive(obj.get("Executor Metrics")))
    if event == "SparkListenerExecutorMetricsUpdate":
        updates = obj.get("Executor Metrics Updated")
        if isinstance(updates, dict):
            return int(_positive(updates))
        return sum(_positive(u.get("Executor Metrics")) for u in updates or [])
    return 0


def independent_count(source: LogSource) -> tuple[Counter[str], int, int]:
    """Records per kind, non-blank lines and bad lines, counted without sparkprobe's reader."""
    counts: Counter[str] = Counter()
    lines = bad = 0
    for part in source.parts:
        for line in independent_bytes(part.path, part.member).split(b"\n"):
            if not line.strip():
                continue
            lines += 1
            m = EVENT_NAME.match(line)
            event = m.group(1).decode() if m else ""
            kind = MAPPED.get(event)
            if kind is None:
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                bad += 1
                continue
            counts["executor_metrics"] += metrics_records(event, obj)
            if event in METRICS_ONLY:
                continue
            if kind == "block_updated" and b'"Block ID":"rdd_' not in line:
                continue
            counts[kind] += 1
    return counts, lines, bad


@pytest.fixture(scope="module")
def all_sources() -> list[LogSource]:
    return discover([PUBLIC, RECORDED])


@pytest.fixture(scope="module")
def read_all(all_sources: list[LogSource]) -> dict[str, tuple[list[Any], eventlog.ReadStats]]:
    out = {}
    for source in all_sources:
        reader = LogReader(source)
        out[source.name.split(":")[0]] = (list(reader.events()), reader.stats)
    return out


def records(name: str, read_all: dict[str, tuple[list[Any], Any]], cls: type) -> list[Any]:
    return [e for e in read_all[name][0] if type(e) is cls]


# --- discovery and counts -----------------------------------------------------------------------


def test_every_log_is_discovered_once(all_sources: list[LogSource]) -> None:
    names = [s.name.split(":")[0] for s in all_sources]
    # Every log the README lists (its first table and the one of logs added later), and nothing else.
    listed = _readme_file_names()
    assert set(README_COUNTS) <= listed and len(listed) >= len(README_COUNTS)
    assert sorted(names) == sorted(listed | RECORDED_NAMES)
    layouts = {s.name.split(":")[0]: s.layout for s in all_sources}
    assert layouts["db_sim_eventlog"] == "databricks"
    assert layouts["eventlog_v2_local-1623876083964"] == "rolling"
    assert layouts["eventLogs-application_1489705648216_1600.zip"] == "zip"
    assert not any(s.in_progress for s in all_sources)
    rolling = next(s for s in all_sources if s.name == "eventlog_v2_local-1623876083964")
    assert [p.path.name for p in rolling.parts] == [
        "events_1_local-1623876083964.zstd",
        "events_2_local-1623876083964.zstd",
    ]
    dbx = next(s for s in all_sources if s.name == "db_sim_eventlog")
    assert [p.path.name for p in dbx.parts] == ["eventlog-2021-06-15--15-00.gz", "eventlog"]


def test_counts_equal_an_independent_count(all_sources: list[LogSource], read_all: Any) -> None:
    for source in all_sources:
        name = source.name.split(":")[0]
        evs, stats = read_all[name]
        expected, lines, bad = independent_count(source)
        expected = +expected  # drop kinds counted 0
        assert Counter(stats.by_kind) == expected, name
        assert Counter(_kind(e) for e in evs) == expected, name
        assert (stats.lines, stats.bad_lines, stats.blank_lines) == (lines, bad, 0), name
        assert stats.lines == stats.events + stats.ignored + stats.bad_lines + stats.truncated_last_line
        assert not stats.truncated_last_line and not stats.truncated_stream
        assert stats.parts == len(source.parts)


def _kind(e: Any) -> str:
    return {cls: k for k, cls in ev.EVENT_TYPES.items()}[type(e)]


def test_counts_equal_the_readme_table(read_all: Any) -> None:
    for name, (lines, *expected) in README_COUNTS.items():
        stats = read_all[name][1]
        assert stats.lines == lines, name
        assert [stats.by_kind[k] for k in README_KINDS] == expected, name


def test_recorded_logs_have_the_same_shape(read_all: Any) -> None:
    # Four runs of the same script (record.py): different ids and times, same event structure.
    shapes = set()
    for name in RECORDED_NAMES:
        stats = read_all[name][1]
        shapes.add(tuple(sorted(stats.by_kind.items())))
        assert stats.by_kind["block_updated"] == 34  # rdd_* blocks only; broadcast blocks ignored
    assert len(shapes) == 1


def test_byte_counts(read_all: Any) -> None:
    stats = read_all["nds_q88_photon_db_13_3.zstd"][1]
    assert stats.bytes_compressed == (PUBLIC / "nds_q88_photon_db_13_3.zstd").stat().st_size
    assert stats.bytes_decompressed == 142361502
    assert stats.codecs == ["zstd"]
    plain = read_all["app-20261124030112-0000"][1]
    assert plain.bytes_compressed == plain.bytes_decompressed == PLAIN_LOG.stat().st_size


# --- field mapping, against facts from outside the reader --------------------------------------


def test_task_ends_match_values_read_off_the_raw_lines(read_all: Any) -> None:
    # Lines 102 and 130 of the recorded plain log, read by hand (shuffle write; remote + local read).
    by_id = {e.task_id: e for e in records("app-20261124030112-0000", read_all, ev.TaskEnd)}
    assert by_id[14] == ev.TaskEnd(
        task_id=14,
        stage_id=3,
        stage_attempt=0,
        index=0,
        partition=0,
        attempt=0,
        exec_id="2",
        launch=1795489303043,
        finish=1795489305820,
        status="success",
        reason="Success",
        speculative=False,
        run_ms=2304,
        cpu_ns=391980847,
        gc_ms=44,
        shuffle_read_bytes=0,
        shuffle_write_bytes=779,
    )
    assert by_id[23] == ev.TaskEnd(
        task_id=23,
        stage_id=4,
        stage_attempt=0,
        index=1,
        partition=1,
        attempt=0,
        exec_id="2",
        launch=1795489308055,
        finish=1795489308672,
        status="success",
        reason="Success",
        run_ms=399,
        cpu_ns=76459033,
        gc_ms=0,
        shuffle_read_bytes=198 + 596,
        shuffle_write_bytes=0,
    )


def test_records_survive_the_wire_format(read_all: Any) -> None:
    # Offline records, written as wire lines, decode to themselves: same names, same types as live.
    from sparkprobe.sources.wire import decode_line

    kinds = {cls: k for k, cls in ev.EVENT_TYPES.items()}
    for e in read_all["app-20261124030112-0000"][0]:
        fields = {f.name: getattr(e, f.name) for f in dataclasses.fields(e)}
        if isinstance(e, (ev.StageSubmitted, ev.StageCompleted)):
            fields["rdds"] = [dataclasses.asdict(r) for r in e.rdds]
        line = json.dumps({"k": kinds[type(e)], **fields}).encode()
        assert decode_line(line) == e


def test_app_start_and_spark_version(read_all: Any) -> None:
    (start,) = records("app-20261124030112-0000", read_all, ev.AppStart)
    assert start == ev.AppStart(
        app_id="app-20261124030112-0000",
        app_name="cache-loss-under-dynamic-allocation",
        user=start.user,
        time=start.time,
        spark_version="4.0.1",
        attempt_id="",
    )
    assert start.user and start.time > 1_700_000_000_000
    assert records("local-1422981780767", read_all, ev.AppStart)[0].spark_version == ""  # Spark 1.2: no LogStart
    assert records("nds_q88_photon_db_13_3.zstd", read_all, ev.AppStart)[0].spark_version == "3.4.1"  # DBC metadata
    assert records("eventlog_v2_local-1623876083964", read_all, ev.AppStart)[0].spark_version == "3.1.1"
    assert records("application_1536831636016_59384_1", read_all, ev.AppStart)[0].attempt_id == "1"
    assert records("app-20261124025953-0000.lz4", read_all, ev.AppStart)[0].spark_version == "3.5.9"


def test_conf_is_the_allow_list_only(read_all: Any) -> None:
    (conf,) = records("app-20261124030112-0000", read_all, ev.Conf)
    # The values record.py set (plus what Spark derives); nothing outside CONF_KEYS.
    assert conf.props == {
        "spark.master": "local-cluster[2,1,1024]",
        "spark.dynamicAllocation.enabled": "true",
        "spark.dynamicAllocation.minExecutors": "0",
        "spark.dynamicAllocation.maxExecutors": "2",
        "spark.dynamicAllocation.executorIdleTimeout": "2s",
        "spark.dynamicAllocation.cachedExecutorIdleTimeout": "5s",
        "spark.dynamicAllocation.shuffleTracking.enabled": "true",
        "spark.dynamicAllocation.shuffleTracking.timeout": "5s",
        "spark.executor.cores": "1",
        "spark.executor.memory": "512m",
        "spark.submit.deployMode": "client",  # Spark sets it itself
    }
    for name, (evs, _stats) in read_all.items():
        for c in (e for e in evs if type(e) is ev.Conf):
            assert set(c.props) <= set(ev.CONF_KEYS), name
    assert records("app-20200706201101-0003", read_all, ev.Conf)[0].props["spark.master"] == "*********(redacted)"
    assert records("malformed_json_eventlog.zstd", read_all, ev.Conf) == []  # its EnvironmentUpdate is the bad line


def test_storage_records_of_the_recorded_run(read_all: Any) -> None:
    name = "app-20261124030112-0000"
    updates = records(name, read_all, ev.BlockUpdated)
    assert all(u.block_id.startswith("rdd_") for u in updates)
    # record.py: an 8-partition MEMORY_ONLY RDD, a 4-partition MEMORY_ONLY_2 RDD (two replicas), a
    # 2-partition one; PySpark stores them serialized. The replica's update says replication 1.
    assert len(updates) == 34
    assert all(u.use_memory and not u.deserialized and not u.use_disk and not u.off_heap for u in updates)
    assert all(u.mem_size > 0 and u.disk_size == 0 for u in updates)
    holders = Counter(u.block_id for u in updates)
    assert {b for b, n in holders.items() if b.startswith("rdd_4_")} == {f"rdd_4_{i}" for i in range(4)}
    assert all(n == 4 for b, n in holders.items() if b.startswith("rdd_4_"))  # 2 copies, computed twice
    assert {u.replication for u in updates if u.block_id.startswith("rdd_4_")} == {1, 2}
    assert {u.replication for u in updates if not u.block_id.startswith("rdd_4_")} == {1}
    (unpersist,) = records(name, read_all, ev.UnpersistRDD)
    stages = records(name, read_all, ev.StageSubmitted)
    rdds = {r.rdd_id: r for s in stages for r in s.rdds}
    assert rdds[unpersist.rdd_id].use_memory
    assert any(r.scope == "parallelize" for r in rdds.values())
    assert {r.replication for r in rdds.values() if r.use_memory} == {1, 2}
    assert all(s.time > 0 and s.name for s in stages)
    assert {b.exec_id for b in records(name, read_all, ev.BlockManagerRemoved)} == {
        e.exec_id for e in records(name, read_all, ev.ExecutorRemoved)
    }


def test_task_end_status_mapping(read_all: Any) -> None:
    ends = records("tasks_executors_fail_compressed_eventlog.zstd", read_all, ev.TaskEnd)
    # README: 8577 Success, 50 Resubmitted, 2 FetchFailed, 1 ExecutorLostFailure.
    assert Counter((e.reason, e.status) for e in ends) == {
        ("Success", "success"): 8577,
        ("Resubmitted", "resubmitted"): 50,
        ("FetchFailed", "failed"): 2,
        ("ExecutorLostFailure", "failed"): 1,
    }
    # Resubmitted/FetchFailed TaskEnds carry no "Task Metrics": zeros.
    assert all(e.run_ms == 0 and e.cpu_ns == 0 for e in ends if e.reason in ("Resubmitted", "FetchFailed"))
    assert all(e.cpu_ns > 0 and e.finish >= e.launch for e in ends if e.status == "success")
    killed = [e for name in read_all for e in records(name, read_all, ev.TaskEnd) if e.reason == "TaskKilled"]
    assert killed and all(e.status == "killed" for e in killed)


def test_old_dialects_take_the_documented_defaults(read_all: Any) -> None:
    name = "local-1422981780767"  # Spark 1.2
    assert all(j.time == 0 for j in records(name, read_all, ev.JobStart))  # no "Submission Time"
    assert all(j.time == 0 for j in records(name, read_all, ev.JobEnd))  # no "Completion Time"
    assert [j.succeeded for j in records(name, read_all, ev.JobEnd)].count(False) == 1
    assert all(t.partition == -1 for t in records(name, read_all, ev.TaskStart))
    ends = records(name, read_all, ev.TaskEnd)
    assert all(t.cpu_ns == 0 and t.peak_memory == 0 and t.partition == -1 for t in ends)
    # Shuffle reads there have "Remote Bytes Read" (0: local mode) and no "Local Bytes Read".
    assert all(t.shuffle_read_bytes == 0 for t in ends) and sum(t.shuffle_write_bytes for t in ends) == 13180
    rdds = [r for s in records(name, read_all, ev.StageCompleted) for r in s.rdds]
    assert all(r.callsite == "" and r.parents == () and r.scope == "" for r in rdds)
    assert any(r.cached_partitions > 0 and r.mem_size > 0 for r in rdds)
    # Spark 3.3+ writes "Partition ID".
    assert all(t.partition >= 0 for t in records("app-20261124030112-0000", read_all, ev.TaskStart))
    removed = records("eventlog_4nodes_8cores_dynamic_alloc.zstd", read_all, ev.ExecutorRemoved)
    assert {r.reason for r in removed} == {"Executor killed by driver."}
    added = records("eventlog_4nodes_8cores_dynamic_alloc.zstd", read_all, ev.ExecutorAdded)
    assert all(a.cores > 0 and a.host and a.time > 0 for a in added)


# --- malformed, truncated and in-progress logs --------------------------------------------------


def test_malformed_json_log(read_all: Any, all_sources: list[LogSource]) -> None:
    source = next(s for s in all_sources if s.name == "malformed_json_eventlog.zstd")
    _expected, _lines, bad = independent_count(source)
    stats = read_all["malformed_json_eventlog.zstd"][1]
    assert stats.bad_lines == bad == 1
    (sample,) = stats.bad_samples
    assert (sample.part, sample.line) == ("malformed_json_eventlog.zstd", 4)
    assert "not JSON" in sample.reason


def _cut_mid_line(data: bytes, at: float) -> bytes:
    pos = int(len(data) * at)
    while data[pos - 1 : pos] in (b"\n", b"}"):
        pos += 1
    return data[:pos]


@pytest.mark.parametrize("at", [0.3, 0.6, 0.999])
def test_inprogress_log_cut_mid_line(at: float, tmp_path: Path) -> None:
    full = PLAIN_LOG.read_bytes()
    cut = _cut_mid_line(full, at)
    complete = cut[: cut.rindex(b"\n") + 1]
    (tmp_path / "app-1.inprogress").write_bytes(cut)
    (tmp_path / "app-1").write_bytes(cut)
    (tmp_path / "complete").write_bytes(complete)
    [src] = discover([tmp_path / "app-1.inprogress"])
    assert src.in_progress
    reader = LogReader(src)
    got = list(reader.events())
    assert reader.stats.truncated_last_line and reader.stats.bad_lines == 0
    assert got == list(read_events(tmp_path / "complete"))
    assert got == list(read_events(PLAIN_LOG))[: len(got)]
    # The same bytes in a finished log: the cut line is a bad line.
    finished = LogReader(tmp_path / "app-1")
    assert list(finished.events()) == got
    assert (finished.stats.truncated_last_line, finished.stats.bad_lines) == (False, 1)


def test_inprogress_cut_inside_an_ignored_kind_is_truncated_not_bad(tmp_path: Path) -> None:
    line = b'{"Event":"org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionStart","executionId":0,"desc'
    (tmp_path / "app.inprogress").write_bytes(PLAIN_LOG.read_bytes() + line)
    reader = LogReader(tmp_path / "app.inprogress")
    list(reader.events())
    assert (reader.stats.truncated_last_line, reader.stats.bad_lines) == (True, 0)


def test_inprogress_compressed_log_cut_inside_a_frame(tmp_path: Path) -> None:
    import zstandard

    buf = io.BytesIO()
    writer = zstandard.ZstdCompressor().stream_writer(buf, closefd=False)
    for line in PLAIN_LOG.read_bytes().splitlines(keepends=True):
        writer.write(line)
        writer.flush(zstandard.FLUSH_BLOCK)
    data = buf.getvalue()  # no frame end: the writer is still open, as for a running app
    full = list(read_events(PLAIN_LOG))
    for cut in (len(data), len(data) * 2 // 3, len(data) * 9 // 10 + 3):
        path = tmp_path / f"app-{cut}.zstd.inprogress"
        path.write_bytes(data[:cut])
        reader = LogReader(path)
        got = list(reader.events())
        assert got == full[: len(got)] and len(got) > 10
        assert reader.stats.truncated_stream and reader.stats.bad_lines == 0


def test_rolling_dir_in_progress_and_part_order(tmp_path: Path) -> None:
    lines = PLAIN_LOG.read_bytes().splitlines(keepends=True)
    d = tmp_path / "eventlog_v2_app-1"
    d.mkdir()
    # Index order is numeric: events_10 comes after events_2.
    for index, piece in ((1, lines[:50]), (2, lines[50:120]), (10, lines[120:])):
        (d / f"events_{index}_app-1").write_bytes(b"".join(piece))
    (d / "appstatus_app-1.inprogress").write_bytes(b"")
    (d / ".events_1_app-1.crc").write_bytes(b"\x00crc")
    [src] = discover([d])
    assert src.in_progress and [p.path.name for p in src.parts] == [
        "events_1_app-1",
        "events_2_app-1",
        "events_10_app-1",
    ]
    assert list(read_events(src)) == list(read_events(PLAIN_LOG))
    (d / "appstatus_app-1.inprogress").rename(d / "appstatus_app-1")
    [src] = discover([tmp_path])
    assert not src.in_progress


def test_databricks_legacy_and_zip_layouts(tmp_path: Path) -> None:
    full = list(read_events(PLAIN_LOG))
    lines = PLAIN_LOG.read_bytes().splitlines(keepends=True)
    dbx = tmp_path / "logs" / "cluster-1"
    dbx.mkdir(parents=True)
    (dbx / "eventlog-2026-01-01--10-00.gz").write_bytes(gzip.compress(b"".join(lines[:40])))
    (dbx / "eventlog-2026-01-01--11-00.gz").write_bytes(gzip.compress(b"".join(lines[40:90])))
    (dbx / "eventlog").write_bytes(b"".join(lines[90:]))
    legacy = tmp_path / "logs" / "local-1422981780767"
    legacy.mkdir()
    shutil.copy(PUBLIC / "local-1422981780767", legacy / "EVENT_LOG_1")
    (legacy / "SPARK_VERSION_1.2.0").write_bytes(b"")
    z = tmp_path / "logs" / "history.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("eventlog_v2_app-1/events_1_app-1", b"".join(lines[:100]))
        zf.writestr("eventlog_v2_app-1/events_2_app-1", b"".join(lines[100:]))
        zf.writestr("eventlog_v2_app-1/appstatus_app-1", b"")
        zf.writestr("app-2.inprogress", b"".join(lines[:10]))
    (tmp_path / "logs" / "README.md").write_text("# not a log\n")
    (tmp_path / "logs" / "notes.py").write_text("print('not a log')\n")
    sources = {s.name: s for s in discover([tmp_path / "logs"])}
    assert set(sources) == {
        "cluster-1",
        "local-1422981780767",
        "history.zip:eventlog_v2_app-1",
        "history.zip:app-2.inprogress",
    }
    assert sources["cluster-1"].layout == "databricks"
    assert list(read_events(sources["cluster-1"])) == full
    assert sources["local-1422981780767"].layout == "legacy" and sources["local-1422981780767"].in_progress
    assert list(read_events(sources["local-1422981780767"])) == list(read_events(PUBLIC / "local-1422981780767"))
    (legacy / "APPLICATION_COMPLETE").write_bytes(b"")
    assert not discover([legacy])[0].in_progress
    assert not sources["history.zip:eventlog_v2_app-1"].in_progress
    assert list(read_events(sources["history.zip:eventlog_v2_app-1"])) == full
    assert sources["history.zip:app-2.inprogress"].in_progress


def test_path_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        discover([tmp_path / "missing"])
    shutil.copy(PLAIN_LOG, tmp_path / "a")
    shutil.copy(PLAIN_LOG, tmp_path / "b")
    with pytest.raises(ValueError, match="2 logs"):
        LogReader(tmp_path)


# --- the fast path ------------------------------------------------------------------------------


def test_ignored_kinds_are_not_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    path = PUBLIC / "nds_q88_photon_db_13_3.zstd"
    [source] = discover([path])
    wanted = set(MAPPED) | set(sparkjson.VERSION_KINDS)
    names = [EVENT_NAME.match(x) for x in independent_bytes(path, None).splitlines()]
    expected_parses = sum(1 for m in names if m and m.group(1).decode() in wanted)
    calls = Counter[str]()
    real = eventlog._fast_loads

    def counting(line: bytes) -> Any:
        calls["n"] += 1
        return real(line)

    real_fast = eventlog.fast_decode

    def counting_fast(kind: bytes, line: bytes) -> Any:
        calls["fast"] += 1  # the hot kinds are parsed by msgspec (sources/logshapes.py) instead
        return real_fast(kind, line)

    monkeypatch.setattr(eventlog, "_fast_loads", counting)
    monkeypatch.setattr(eventlog, "fast_decode", counting_fast)
    reader = LogReader(source)
    list(reader.events())
    assert calls["n"] + calls["fast"] == expected_parses < len(names)
    assert calls["fast"] > calls["n"]
    assert reader.stats.ignored_kinds["org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionStart"] == 27
    calls.clear()
    list(LogReader(source, strict=True).events())
    assert calls["n"] + calls["fast"] == len(names)


def test_strict_mode_counts_garbage_in_ignored_kinds(tmp_path: Path) -> None:
    path = tmp_path / "app"
    path.write_bytes(PLAIN_LOG.read_bytes() + b'{"Event":"SparkListenerEnvironmentUpdateX", oops\n')
    lax, strict = LogReader(path), LogReader(path, strict=True)
    assert list(lax.events()) == list(strict.events())
    assert (lax.stats.bad_lines, strict.stats.bad_lines) == (0, 1)
    assert lax.stats.ignored == strict.stats.ignored + 1


def test_json_and_orjson_give_the_same_result(monkeypatch: pytest.MonkeyPatch, all_sources: list[LogSource]) -> None:
    if eventlog.JSON_LIBRARY != "orjson":
        pytest.skip("orjson not installed")
    picked = [
        s
        for s in all_sources
        if s.name in ("malformed_json_eventlog.zstd", "local-1422981780767", "app-20261124030112-0000", "event_log_0")
    ]
    fast = [(list((r := LogReader(s)).events()), r.stats) for s in picked]
    monkeypatch.setattr(eventlog, "_fast_loads", json.loads)
    slow = [(list((r := LogReader(s)).events()), r.stats) for s in picked]
    assert fast == slow


def test_memory_stays_flat_on_a_big_log(tmp_path: Path) -> None:
    import zstandard

    lines = PLAIN_LOG.read_bytes().splitlines(keepends=True)
    task_end = next(x for x in lines if x.startswith(b'{"Event":"SparkListenerTaskEnd"'))
    path = tmp_path / "big.zstd"
    with path.open("wb") as f, zstandard.ZstdCompressor(level=1).stream_writer(f) as w:
        for x in lines[:10]:
            w.write(x)
        for _ in range(15_000):  # ~50 MB of task ends once decompressed
            w.write(task_end)
    reader = LogReader(path)
    tracemalloc.start()
    try:
        n = sum(1 for _ in reader.events())
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n >= 15_000 and reader.stats.bytes_decompressed > 40_000_000
    assert peak < 4_000_000, f"peak {peak} bytes while reading {reader.stats.bytes_decompressed}"


# --- sparkjson.decode on hand-made objects ------------------------------------------------------


def _real_object(kind: str) -> dict[str, Any]:
    for line in PLAIN_LOG.read_bytes().splitlines():
        if line.startswith(b'{"Event":"%s"' % kind.encode()):
            obj: dict[str, Any] = json.loads(line)
            if kind != "SparkListenerBlockUpdated" or obj["Block Updated Info"]["Block ID"].startswith("rdd_"):
                return obj
    raise AssertionError(kind)


def test_decode_rejects_wrong_types_and_missing_required_fields() -> None:
    task_end = _real_object("SparkListenerTaskEnd")
    assert isinstance(decode(task_end), ev.TaskEnd)
    mutations: list[Callable[[dict[str, Any]], object]] = [
        lambda o: o["Task Info"].pop("Task ID"),
        lambda o: o["Task Info"].update({"Task ID": True}),  # a JSON boolean is not an integer
        lambda o: o["Task Info"].update({"Launch Time": 1.5}),
        lambda o: o["Task Info"].update({"Executor ID": 1}),
        lambda o: o.update({"Task End Reason": "Success"}),
        lambda o: o["Task Metrics"].update({"Executor Run Time": "12"}),  # present but mistyped: bad too
        lambda o: o.update({"Stage ID": None}),
    ]
    for mutate in mutations:
        obj = json.loads(json.dumps(task_end))
        mutate(obj)
        with pytest.raises(BadEvent):
            decode(obj)
    job = {"Event": "SparkListenerJobStart", "Job ID": 1, "Stage IDs": [1, "2"]}
    with pytest.raises(BadEvent, match="Stage IDs"):
        decode(job)
    with pytest.raises(BadEvent):
        decode({"Event": 3})


def test_decode_leniency_and_ignored_kinds() -> None:
    obj = _real_object("SparkListenerTaskEnd")
    del obj["Task Metrics"]
    del obj["Task Info"]["Partition ID"]
    del obj["Stage Attempt ID"]
    end = decode(obj)
    assert isinstance(end, ev.TaskEnd)
    assert (end.run_ms, end.cpu_ns, end.peak_memory, end.partition, end.stage_attempt) == (0, 0, 0, -1, 0)
    assert decode({"Event": "SparkListenerSQLExecutionStart", "plan": "x"}) is None
    assert decode({"Event": "SparkListenerLogStart", "Spark Version": "4.0.1"}) is None
    block = _real_object("SparkListenerBlockUpdated")
    block["Block Updated Info"]["Block ID"] = "broadcast_0_piece0"
    assert decode(block) is None
    env: dict[str, Any] = {
        "Event": "SparkListenerEnvironmentUpdate",
        "Spark Properties": {
            "spark.master": "yarn",
            "spark.hadoop.fs.s3a.secret.key": "hunter2",
            "spark.x": 1,
        },
    }
    assert decode(env) == ev.Conf(props={"spark.master": "yarn"})
    env["Spark Properties"]["spark.executor.cores"] = 4  # an allow-listed key must be a string
    with pytest.raises(BadEvent):
        decode(env)
    start = decode({"Event": "SparkListenerApplicationStart", "App Name": "a", "Timestamp": 5}, spark_version="3.5.1")
    assert start == ev.AppStart(app_id="", app_name="a", user="", time=5, spark_version="3.5.1", attempt_id="")


def test_scope_name_parsing() -> None:
    obj = _real_object("SparkListenerStageSubmitted")
    rdd = obj["Stage Info"]["RDD Info"][0]
    for scope, name in (
        ('{"id":"3","name":"map"}', "map"),
        ("not json", ""),
        ('["x"]', ""),
        (None, ""),
        ('{"id":"3"}', ""),
        ('{"name": 5}', ""),
    ):
        if scope is None:
            rdd.pop("Scope", None)
        else:
            rdd["Scope"] = scope
        got = decode(obj)
        assert isinstance(got, ev.StageSubmitted)
        assert got.rdds[0].scope == name


# --- properties ---------------------------------------------------------------------------------

_REAL_LINES = [x for x in PLAIN_LOG.read_bytes().splitlines() if x] if PLAIN_LOG.is_file() else [b"{}"]


def _parses(line: bytes) -> bool:
    try:
        json.loads(line)
    except (ValueError, RecursionError):
        return False
    return True


def _oracle(line: bytes) -> str:
    """blank / event / ignored / bad for one line, decided without the reader (stdlib json)."""
    if not line.strip(b" \t\r\n"):
        return "blank"
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        return "bad"
    if not isinstance(obj, dict) or not isinstance(obj.get("Event"), str):
        return "bad"
    kind = obj["Event"]
    if kind not in MAPPED:
        return "ignored"
    if line in _REAL_LINES:
        block = obj.get("Block Updated Info", {})
        return (
            "ignored" if kind == "SparkListenerBlockUpdated" and not block["Block ID"].startswith("rdd_") else "event"
        )
    return "unknown"  # a random object of a mapped kind: the test discards it


def _lax_oracle(line: bytes, verdict: str) -> str:
    """Without strict mode, a line whose prefix names an ignored kind is skipped unparsed."""
    m = EVENT_NAME.match(line)
    if verdict == "bad" and m and m.group(1).decode(errors="replace") not in set(MAPPED) | sparkjson.VERSION_KINDS:
        return "ignored"
    return verdict


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
_lines = st.one_of(
    st.sampled_from(_REAL_LINES),
    st.builds(
        lambda x, f: x[: max(1, int(len(x) * f))].rstrip(b"}"),
        st.sampled_from(_REAL_LINES),
        st.floats(0.0, 0.999),
    ),  # a real line cut short
    st.binary(max_size=80).map(lambda b: b.replace(b"\n", b"")),
    _json_values.map(lambda v: json.dumps(v).encode()),
    st.builds(
        lambda k, v: json.dumps({"Event": k, "x": v}).encode(),
        st.sampled_from(["SparkListenerFoo", "SparkListenerLogStart", "org.apache.spark.X"]),
        _json_values,
    ),
    st.sampled_from([b"", b"   ", b"\r", b"\t \r"]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_lines, max_size=25), terminated=st.booleans(), in_progress=st.booleans())
def test_any_bytes_never_crash_and_every_line_is_counted(
    lines: list[bytes], terminated: bool, in_progress: bool, tmp_path_factory: pytest.TempPathFactory
) -> None:
    verdicts = [_oracle(x) for x in lines]
    assume("unknown" not in verdicts)
    data = b"\n".join(lines) + (b"\n" if terminated and lines else b"")
    assume(sniff_codec(data[:16]) is None)  # starting with gzip's magic, it is a gzip file
    path = tmp_path_factory.mktemp("prop") / ("app.inprogress" if in_progress else "app")
    path.write_bytes(data)
    n_lines = len(lines) if terminated or not lines or lines[-1] else len(lines) - 1  # b"" last = nothing
    cut_last = bool(lines) and not terminated and lines[-1] != b""
    for strict in (True, False):
        expected = verdicts if strict else [_lax_oracle(x, v) for x, v in zip(lines, verdicts, strict=True)]
        expected = expected[:n_lines]
        truncated = False
        if cut_last and in_progress and verdicts[-1] != "blank" and not _parses(lines[-1]):
            expected = expected[:-1]  # the unterminated last line of an in-progress log: truncated
            truncated = True
        elif cut_last:
            expected[-1] = verdicts[-1]  # an unterminated last line is always parsed
        reader = LogReader(path, strict=strict)
        got = list(reader.events())
        s = reader.stats
        want = Counter(expected)
        assert (s.events, s.ignored, s.bad_lines, s.blank_lines, s.truncated_last_line) == (
            want["event"],
            want["ignored"],
            want["bad"],
            want["blank"],
            truncated,
        ), (strict, lines)
        assert s.lines == n_lines == s.events + s.ignored + s.bad_lines + s.blank_lines + s.truncated_last_line
        assert len(got) == s.events


def _mutations(obj: dict[str, Any]) -> st.SearchStrategy[list[tuple[tuple[str, ...], Any]]]:
    paths: list[tuple[str, ...]] = []

    def walk(o: dict[str, Any], prefix: tuple[str, ...]) -> None:
        for k, v in o.items():
            if k == "Accumulables":
                continue
            paths.append((*prefix, k))
            if isinstance(v, dict):
                walk(v, (*prefix, k))

    walk(obj, ())
    replacement = st.one_of(
        st.just("<delete>"),
        st.none(),
        st.booleans(),
        st.integers(-3, 3),
        st.text(max_size=3),
        st.floats(allow_nan=False),
        st.just({}),
        st.just([]),
    )
    return st.lists(st.tuples(st.sampled_from(paths), replacement), max_size=3)


def _apply(obj: dict[str, Any], changes: list[tuple[tuple[str, ...], Any]]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(obj))
    for path, value in changes:
        target: Any = out
        for key in path[:-1]:
            target = target.get(key) if isinstance(target, dict) else None
        if isinstance(target, dict):
            if value == "<delete>":
                target.pop(path[-1], None)
            else:
                target[path[-1]] = value
    return out


def _outcome(fn: Callable[[dict[str, Any]], Any], obj: dict[str, Any]) -> Any:
    try:
        return fn(obj)
    except BadEvent:
        return "BadEvent"


@pytest.mark.parametrize("kind", ["SparkListenerTaskEnd", "SparkListenerTaskStart"])
def test_fast_task_decoders_agree_with_the_checked_ones(kind: str) -> None:
    base = _real_object(kind)
    fast, checked = {
        "SparkListenerTaskEnd": (sparkjson._task_end, sparkjson._task_end_checked),
        "SparkListenerTaskStart": (sparkjson._task_start, sparkjson._task_start_checked),
    }[kind]

    @settings(max_examples=400, deadline=None)
    @given(changes=_mutations(base))
    def check(changes: list[tuple[tuple[str, ...], Any]]) -> None:
        obj = _apply(base, changes)
        assert _outcome(fast, obj) == _outcome(checked, obj)

    check()


@settings(max_examples=300, deadline=None)
@given(
    obj=st.dictionaries(
        st.sampled_from(
            [
                "Event",
                "Task Info",
                "Stage Info",
                "Stage ID",
                "Block Updated Info",
                "Spark Properties",
                "Executor Info",
                "Job Result",
                "Stage IDs",
            ]
        ),
        _json_values,
        max_size=6,
    ),
    kind=st.sampled_from(sorted(MAPPED)),
)
def test_decode_raises_only_bad_event(obj: dict[str, Any], kind: str) -> None:
    obj["Event"] = kind
    try:
        decode(obj)
    except BadEvent:
        pass
