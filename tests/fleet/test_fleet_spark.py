"""``sparkprobe fleet --spark local-cluster[2,1,1024]``: the same rows as the local run, and as Parquet.

A real local-cluster (two executor JVMs, Python workers) reads the shared real logs, one whole file
per task, with the function a local worker runs; Spark's DataFrame writer writes the Parquet the
store then imports. Compared with a local ``--jobs 2`` run of the same set, row by row.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import EVENTLOGS
from sparkprobe.fleet.row import COLUMNS, AppRow
from sparkprobe.fleet.run import FleetOptions
from sparkprobe.fleet.spark import parquet_dir, run_on_spark

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(not (EVENTLOGS / "public").is_dir(), reason=f"real event logs not found at {EVENTLOGS}"),
]


def fleet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sparkprobe.cli", "fleet", *args], capture_output=True, text=True, timeout=1200
    )


def the_set(tmp_path: Path) -> Path:
    """The shared logs and one that fails: a valid first line, then 400 KB of open brackets."""
    logs = tmp_path / "logs"
    shutil.copytree(EVENTLOGS / "public", logs / "public")
    shutil.copytree(EVENTLOGS / "recorded", logs / "recorded", ignore=shutil.ignore_patterns("*.py"))
    (logs / "app-nested").write_bytes(b'{"Event":"SparkListenerLogStart","Spark Version":"3.5.1"}\n' + b"[" * 400_000)
    return logs


def rows_of(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    doc = json.loads(path.read_text())
    return {(a["app_id"], a["attempt_id"]): a for a in doc["apps"]}


def test_spark_gives_the_rows_of_the_local_run(
    tmp_path: Path, spark_factory: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pyspark")
    # The in-process run below: PySpark's SparkContext takes the workers' Python from this variable.
    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)
    logs = the_set(tmp_path)
    local = fleet(str(logs), "--jobs", "2", "--state", str(tmp_path / "local.sqlite"), "-o", str(tmp_path / "l.json"))
    assert local.returncode == 1, local.stderr  # the broken log
    state = tmp_path / "spark.sqlite"
    on_spark = fleet(
        str(logs), "--spark", "local-cluster[2,1,1024]", "--spark-conf", "spark.executor.memory=512m",
        "--state", str(state), "-o", str(tmp_path / "s.json"),
    )
    assert on_spark.returncode == 1, on_spark.stderr
    expected, got = rows_of(tmp_path / "l.json"), rows_of(tmp_path / "s.json")
    assert len(expected) > 40 and got == expected
    local_run, spark_run = (json.loads((tmp_path / n).read_text()) for n in ("l.json", "s.json"))
    for key in ("analysed", "failed", "duplicates", "found"):
        assert spark_run["run"][key] == local_run["run"][key], key
    assert spark_run["failures"] == local_run["failures"]
    assert "no SparkListenerApplicationStart" in spark_run["failures"][0]["error"]

    # The Parquet Spark wrote holds the same rows; read back by Spark itself.
    spark = spark_factory("fleet-parquet", {"spark.pyspark.python": sys.executable})
    frame = spark.read.parquet(parquet_dir(state).as_uri())
    assert set(frame.columns) >= set(COLUMNS) | {"run", "status", "error"}
    parquet_rows = {}
    for record in frame.where("status = 'ok'").collect():
        row = AppRow.decoded({c: record[c] for c in COLUMNS})
        parquet_rows[row.key] = row.to_json()
    assert parquet_rows == expected
    (failed,) = frame.where("status = 'failed'").collect()
    assert failed["log"] == str(logs / "app-nested") and failed["app_id"] is None

    # The Python form, on a session already running: the same rows; a rerun reads nothing.
    options = FleetOptions(jobs=1)
    report = run_on_spark(spark, [logs], state=tmp_path / "api.sqlite", options=options)
    try:
        assert {r.key: r.to_json() for r in report.store.apps()} == expected
        assert (report.counts.analysed, report.counts.failed) == (local_run["run"]["analysed"], 1)
    finally:
        report.store.close()
    again = run_on_spark(spark, [logs], state=tmp_path / "api.sqlite", options=options)
    again.store.close()
    assert (again.counts.analysed, again.counts.unchanged, again.counts.failed) == (0, report.counts.analysed, 1)
