"""The listener's own bytes for every wire kind, checked against an independent reference and the decoder.

``tests/apps/jvm/WireHarness.java`` builds Spark events with Spark's own constructors (this pyspark's
jars), feeds them through the real listener jar's ``on*`` methods and prints the bytes its sender
would write, line by line. Each line must be byte for byte the JSON a reference encoder here writes
from the same inputs (the field order of docs/wire-format.md's examples, ``json.dumps`` escaping,
UTF-8, an unpaired surrogate as ``?``), and must decode (``sparkprobe.sources.wire``) into a record
whose every field equals that JSON's. The strings probe the encoder's corners: quotes and
backslashes, every kind of control character, non-ASCII and non-BMP text, unpaired surrogates, and
lines long enough to grow the sender's buffer past what it keeps; the integers the edges of int and
long.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import APPS, IN_CI, find_javac, pyspark_home
from sparkprobe.events import EXECUTOR_METRIC_NAMES, split_job_tags
from sparkprobe.sources.wire import decode_line

STRINGS = [
    "",
    "plain-1",
    'quote " and backslash \\ and slash /',
    "control \x00\x01\x07\x1f\x7f tab\t nl\n cr\r bs\b ff\f",
    "é ü ß 中文 日本語 ﷺ",
    "non-BMP 😀 𝄞 \U0010ffff",
    "lone high \ud800 in the middle",
    "lone low \udc00 in the middle",
    "high at the end \ud83d",
    "\ud83d\ude00\ud83d pair then lone",
    "\udc00\ud800 reversed pair",
    "line separators \u2028\u2029 and \ufeff\ufffe\uffff",
    "x" * 5_000,
    "中" * 100_000,  # 300 KB of UTF-8: the sender's buffer grows past what it keeps, then shrinks
]

NUMBERS = [
    0, 1, -1, 9, 10, 99, 100, 2_147_483_647, 2_147_483_648, -2_147_483_648, -2_147_483_649,
    9_223_372_036_854_775_807, -9_223_372_036_854_775_808, 1_795_489_278_997, 4_294_967_296, 12_345_678_901,
    7, 42, 1_000_000_007,
]

REASONS = [("Success", "success"), ("Resubmitted", "resubmitted"), ("TaskResultLost", "failed"),
           ("UnknownReason", "failed")]
# (use_memory, use_disk, off_heap, deserialized, replication) of MEMORY_AND_DISK, DISK_ONLY_2,
# MEMORY_ONLY_SER, OFF_HEAP: the harness's levels, in its order.
LEVELS = [(True, True, False, True, 1), (False, True, False, False, 2), (True, False, False, False, 1),
          (True, True, True, False, 1)]


def java_string(s: str) -> str:
    """``s`` as the JVM sees it (the UTF-16 code units the harness reads): adjacent surrogates pair up."""
    return s.encode("utf-16-be", "surrogatepass").decode("utf-16-be", "surrogatepass")


def wire_text(s: str) -> str:
    """What the wire can carry of ``s``: each unpaired surrogate becomes '?'."""
    return re.sub("[\ud800-\udfff]", "?", java_string(s))


def q(s: str) -> str:
    """The reference JSON string: json.dumps escaping (\\uXXXX lowercase for other controls), no ASCII escaping."""
    return json.dumps(wire_text(s), ensure_ascii=False)


def b(v: bool) -> str:
    return "true" if v else "false"


def i32(n: int) -> int:
    return (n + 2**31) % 2**32 - 2**31


def i64(n: int) -> int:
    return (n + 2**63) % 2**64 - 2**63


def metrics_json(k: int, base: int, spark_names: list[str]) -> str:
    """The ``metrics`` object of an executor_metrics line: Spark's j-th metric is number k + base + j;
    the listener sends the names of EXECUTOR_METRIC_NAMES this Spark has, in that order, above 0."""
    values = {name: NUMBERS[(k + base + j) % len(NUMBERS)] for j, name in enumerate(spark_names)}
    return "{" + ",".join(f'"{n}":{values[n]}' for n in EXECUTOR_METRIC_NAMES if values.get(n, 0) > 0) + "}"


def expected_lines(spark_version: str, spark_names: list[str]) -> list[tuple[str, str]]:
    """(label, line) for every event the harness emits, in its order, from the same inputs.

    Spark Connect's events exist on Spark 4.x only (the harness builds them there).
    """
    connect = not spark_version.startswith("3.")
    out: list[tuple[str, str]] = [("metric_names", ",".join(spark_names))]

    for k, s in enumerate(STRINGS):
        def n(j: int, k: int = k) -> int:
            return NUMBERS[(k + j) % len(NUMBERS)]

        def i(j: int) -> int:
            return i32(n(j))

        finish = n(7) if n(7) > 0 else 1_795_489_278_997 + k
        out.append(("app_start", f'{{"k":"app_start","app_id":"app-{k}","app_name":{q(s)},"user":{q(s)},'
                                 f'"time":{n(0)},"spark_version":{q(spark_version)},"attempt_id":{q(s)}}}'))
        task = (f'"task_id":{n(0)},"stage_id":{i(5)},"stage_attempt":{i(6)},"index":{i(1)},"partition":{i(3)},'
                f'"attempt":{i(2)},"exec_id":{q(s)},"launch":{n(4)}')
        out.append(("task_start", f'{{"k":"task_start",{task},"speculative":{b(k % 2 == 0)}}}'))
        reason, status = REASONS[k % 4]
        metrics = (f'"run_ms":{n(8)},"cpu_ns":{n(9)},"gc_ms":{n(10)},"shuffle_read_bytes":{i64(n(11) + n(12))},'
                   f'"shuffle_write_bytes":{n(13)},"memory_spilled":{n(14)},"disk_spilled":{n(15)},'
                   f'"input_bytes":{n(16)},"output_bytes":{n(17)},"peak_memory":{n(18)}')
        out.append(("task_end", f'{{"k":"task_end",{task},"finish":{finish},"status":"{status}",'
                                f'"reason":"{reason}","speculative":{b(k % 2 == 1)},{metrics}}}'))
        reason, status = REASONS[(k + 1) % 4]
        out.append(("task_end_no_metrics", f'{{"k":"task_end",{task},"finish":{finish},"status":"{status}",'
                                           f'"reason":"{reason}","speculative":{b(k % 2 == 1)}}}'))
        mem, disk, off, deser, rep = LEVELS[k % 4]
        out.append(("block_updated", f'{{"k":"block_updated","block_id":"rdd_{i(1)}_{i(2)}","exec_id":{q(s)},'
                                     f'"use_memory":{b(mem)},"use_disk":{b(disk)},"off_heap":{b(off)},'
                                     f'"deserialized":{b(deser)},"replication":{rep},"mem_size":{n(3)},'
                                     f'"disk_size":{n(4)}}}'))
        out.append(("executor_added", f'{{"k":"executor_added","exec_id":{q(s)},"host":{q(s)},"cores":{i(1)},'
                                      f'"time":{n(0)},"profile_id":{i(2)}}}'))
        out.append(("task_end_peaks", f'{{"k":"task_end",{task},"finish":{finish},"status":"success",'
                                      f'"reason":"Success","speculative":{b(k % 2 == 1)}}}'))
        for label, base, stage_id, attempt, source in (
            ("executor_metrics_task", 20, i(5), i(6), "task"),
            ("executor_metrics_heartbeat", 30, i(1), i(2), "heartbeat"),
            ("executor_metrics_driver", 40, -1, -1, "heartbeat"),
            ("executor_metrics_stage", 50, i(3), i(4), "stage"),
        ):
            out.append((label, f'{{"k":"executor_metrics","exec_id":{q(s)},'
                               f'"metrics":{metrics_json(k, base, spark_names)},"stage_id":{stage_id},'
                               f'"stage_attempt":{attempt},"source":"{source}"}}'))
        # Java's TreeMap order: UTF-16 code units.
        resources = sorted({"cores": k + 1, "memory": (k + 1) * 1024, "memoryOverhead": k + 2, "offHeap": k + 3,
                            "pyspark.memory": k + 4, "gpu" + s: k + 5}.items(),
                           key=lambda kv: java_string(kv[0]).encode("utf-16-be", "surrogatepass"))
        executor = ",".join(f"{q(name)}:{amount}" for name, amount in resources)
        out.append(("resource_profile_added", f'{{"k":"resource_profile_added","profile_id":{i(3)},'
                                              f'"executor":{{{executor}}},"task_cpus":{k % 3 + 1}}}'))
        out.append(("executor_removed", f'{{"k":"executor_removed","exec_id":{q(s)},"time":{n(0)},'
                                        f'"reason":{q(s)}}}'))
        out.append(("block_manager_added", f'{{"k":"block_manager_added","exec_id":{q(s)},"host":{q(s)},'
                                           f'"time":{n(0)},"max_mem":{n(1)}}}'))
        out.append(("block_manager_removed", f'{{"k":"block_manager_removed","exec_id":{q(s)},"time":{n(0)}}}'))
        out.append(("unpersist_rdd", f'{{"k":"unpersist_rdd","rdd_id":{i(1)}}}'))
        rdd = (f'{{"rdd_id":{i(1)},"name":{q(s)},"callsite":{q(s)},"parents":[{i(3)},{i(4)}],'
               f'"use_memory":{b(mem)},"use_disk":{b(disk)},"replication":{rep},"partitions":{i(2)},'
               f'"cached_partitions":{i(5)},"mem_size":{n(6)},"disk_size":{n(7)},"scope":{q(s)}}}')
        stage = f'"stage_id":{i(1)},"attempt":{i(2)},"name":{q(s)},"num_tasks":{i(3)}'
        out.append(("stage_submitted", f'{{"k":"stage_submitted",{stage},"time":{n(4)},"rdds":[{rdd}]}}'))
        out.append(("stage_completed", f'{{"k":"stage_completed",{stage},"time":{n(5)},"failure":{q(s)},'
                                       f'"rdds":[{rdd}]}}'))
        connect_tag = f"SparkConnect_OperationTag_User_u_Session_s_Operation_{k}" if k % 3 == 0 else ""
        tags = split_job_tags(java_string(f" {s},tag-{k}, ,{connect_tag}"))
        streaming = s if k % 3 == 1 else "dstream" if k % 3 == 2 else ""
        out.append(("job_start", f'{{"k":"job_start","job_id":{i(1)},"time":{n(2)},'
                                 f'"callsite":{q("" if connect_tag else s)},"stage_ids":[{i(1)}],'
                                 f'"tags":[{",".join(q(t) for t in tags)}],"job_group":{q(s)},"pool":{q(s)},'
                                 f'"streaming":{q(streaming)}}}'))
        out.append(("job_end", f'{{"k":"job_end","job_id":{i(1)},"time":{n(3)},"succeeded":{b(k % 2 == 0)}}}'))
        if connect:
            for kind, time in (("session_started", n(4)), ("session_closed", n(5))):
                out.append((kind, f'{{"k":"{kind}","session_id":{q(s)},"user":{q(s)},"time":{time}}}'))
            out.append(("connect_server_started", f'{{"k":"connect_server_started","time":{n(6)}}}'))
    out.append(("app_end", f'{{"k":"app_end","time":{NUMBERS[0]}}}'))
    out.append(("conf", f'{{"k":"conf","props":{{"spark.master":{q(STRINGS[-1])},'
                        f'"spark.executor.memory":{q(STRINGS[0])}}}}}'))
    out.append(("listener_stats", f'{{"k":"listener_stats","offered":{NUMBERS[0]},"dropped":{NUMBERS[1]},'
                                  f'"processing_ns":{NUMBERS[2]},"reconnects":{NUMBERS[3]}}}'))
    return out


def run_harness(tmp_path: Path) -> list[tuple[str, bytes]]:
    import sparkprobe

    javac = find_javac()
    java = shutil.which("java")
    if javac is None or java is None:
        if IN_CI:
            pytest.fail("a JDK (java, javac) is needed in CI")
        pytest.skip("no JDK")
    classpath = f"{sparkprobe.jar_path()}:{pyspark_home() / 'jars' / '*'}"
    classes = tmp_path / "classes"
    proc = subprocess.run([javac, "-nowarn", "-cp", classpath, "-d", str(classes),
                           str(APPS / "jvm" / "WireHarness.java")], capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    strings = tmp_path / "strings.txt"
    strings.write_text("".join(s.encode("utf-16-be", "surrogatepass").hex() + "\n" for s in STRINGS))
    numbers = tmp_path / "numbers.txt"
    numbers.write_text("".join(f"{n}\n" for n in NUMBERS))
    result = tmp_path / "lines.txt"
    proc = subprocess.run([java, "-Xmx512m", "-cp", f"{classes}:{classpath}", "io.sparkprobe.WireHarness",
                           str(strings), str(numbers), str(result)], capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-4000:]
    lines = []
    for row in result.read_text(encoding="ascii").splitlines():
        label, hexed = row.split("\t")
        lines.append((label, bytes.fromhex(hexed)))
    return lines


def same(field: Any, value: Any) -> bool:
    """A decoded field against the reference JSON value (arrays decode to tuples, RDD infos to records)."""
    if dataclasses.is_dataclass(field) and isinstance(value, dict):
        return all(same(getattr(field, key), v) for key, v in value.items())
    if isinstance(field, tuple) and isinstance(value, list):
        return len(field) == len(value) and all(same(f, v) for f, v in zip(field, value, strict=True))
    return type(field) is type(value) and field == value


def test_every_kind_is_byte_exact_and_decodes_to_its_fields(tmp_path: Path) -> None:
    import pyspark

    got = run_harness(tmp_path)
    assert got[0][0] == "metric_names"
    spark_names = got[0][1].decode().split(",")
    assert set(EXECUTOR_METRIC_NAMES) - set(spark_names) <= {"ConcurrentGCCount", "ConcurrentGCTime"}, spark_names
    want = expected_lines(pyspark.__version__, spark_names)
    assert [label for label, _ in got] == [label for label, _ in want]
    for (label, line), (_, text) in zip(got[1:], want[1:], strict=True):
        reference = text.encode("utf-8")
        assert line == reference, f"{label}: {line[:300]!r} != {reference[:300]!r}"
        event = decode_line(line)
        for key, value in json.loads(reference).items():
            if key != "k":
                assert same(getattr(event, key), value), (label, key)
