"""``sparkprobe fleet --history-server`` against a real Spark History Server.

The server is the pip pyspark distribution's own (``pyspark/sbin/start-history-server.sh``), with
``spark.history.fs.logDirectory`` pointing at a copy of real logs. Every attempt it lists is read
through its REST API (``/api/v1/applications``, ``/api/v1/applications/{id}[/{attempt}]/logs``) and
must give the row that reading the same directory gives. What describes the file, not the app,
differs: ``log`` (a URL, not a path) and ``log_bytes`` (the server zips each attempt's files).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import EVENTLOGS, free_port, pyspark_home

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(not (EVENTLOGS / "public").is_dir(), reason=f"real event logs not found at {EVENTLOGS}"),
]
PUBLIC = EVENTLOGS / "public"

#: Logs of Spark 2.x to 4.x in several layouts, one app id each, and two attempts of one app.
LOGS = [
    PUBLIC / "local-1532512550423",
    PUBLIC / "spark2-eventlog.zstd",
    PUBLIC / "eventlog_v2_spark-bcec39f6201b42b9925124595baad260",
    PUBLIC / "eventlog_v2_local-1623876083964",
    PUBLIC / "job_spark_shell",
    PUBLIC / "application_1713000000000_0001_1.zstd",
    PUBLIC / "application_1713000000000_0001_2.zstd",
    PUBLIC / "eventlog_4nodes_8cores_dynamic_alloc.zstd",
    EVENTLOGS / "recorded" / "spark-3.5.9-lz4" / "app-20261124025953-0000.lz4",
    EVENTLOGS / "recorded" / "spark-4.0.1-rolling-zstd" / "eventlog_v2_app-20261124025908-0000",
]


@pytest.fixture
def history_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A History Server over a copy of LOGS; stopped (and its JVM gone) after the test."""
    home = pyspark_home()
    logs = tmp_path / "history"
    logs.mkdir()
    for log in LOGS:
        (shutil.copytree if log.is_dir() else shutil.copy2)(log, logs / log.name)
    port = free_port()
    run = tmp_path / "hs"
    env = {
        **os.environ,
        "SPARK_HOME": str(home),
        "SPARK_LOG_DIR": str(run / "log"),
        "SPARK_PID_DIR": str(run / "pid"),
        "SPARK_IDENT_STRING": f"sparkprobe-test-{port}",
        "SPARK_HISTORY_OPTS": (
            f"-Dspark.history.fs.logDirectory=file:{logs} -Dspark.history.ui.port={port}"
            " -Dspark.history.fs.update.interval=1s -Dspark.ui.bindAddress=127.0.0.1"
        ),
    }
    script = home / "sbin" / "start-history-server.sh"
    if not script.is_file():
        pytest.skip(f"{script} is not in this pyspark")
    subprocess.run(["bash", str(script)], env=env, check=True, capture_output=True, timeout=120)
    pid_files = list((run / "pid").glob("*.pid"))
    url = f"http://127.0.0.1:{port}"
    try:
        yield url, logs
    finally:
        stop = home / "sbin" / "stop-history-server.sh"
        subprocess.run(["bash", str(stop)], env=env, capture_output=True, timeout=120)
        for pid_file in pid_files:
            try:
                os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)
            except (OSError, ValueError):
                pass  # already stopped


def listed(url: str, expect: int, timeout_s: float = 180) -> list[dict[str, Any]]:
    """The server's application list once it holds ``expect`` attempts (it scans the directory in the background)."""
    deadline = time.monotonic() + timeout_s
    apps: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/v1/applications", timeout=10) as response:
                apps = json.load(response)
            if sum(len(a["attempts"]) for a in apps) >= expect:
                return apps
        except OSError:
            pass  # not listening yet
        except ValueError:
            apps = []  # starting: its UI answers with an HTML page before the REST API is mounted
        time.sleep(1)
    raise AssertionError(f"the History Server listed {apps} within {timeout_s}s, not {expect} attempts")


def fleet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sparkprobe.cli", "fleet", *args], capture_output=True, text=True, timeout=900
    )


def test_history_server_rows_equal_the_directory_rows(history_server: tuple[str, Path], tmp_path: Path) -> None:
    url, logs = history_server
    apps = listed(url, len(LOGS))
    attempts = {(a["id"], str(t.get("attemptId", ""))) for a in apps for t in a["attempts"]}
    assert len(attempts) == len(LOGS)

    from_dir = fleet(str(logs), "--jobs", "2", "--state", str(tmp_path / "d.sqlite"), "-o", str(tmp_path / "d.json"))
    assert from_dir.returncode == 0, from_dir.stderr
    out = tmp_path / "h.json"
    state = str(tmp_path / "h.sqlite")
    from_server = fleet("--history-server", url, "--jobs", "2", "--state", state, "-o", str(out))
    assert from_server.returncode == 0, from_server.stderr + from_server.stdout

    def rows(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
        return {(a["app_id"], a["attempt_id"]): a for a in json.loads(path.read_text())["apps"]}

    dir_rows, server_rows = rows(tmp_path / "d.json"), rows(out)
    assert set(server_rows) == set(dir_rows) == attempts
    for key, row in server_rows.items():
        app_id, attempt = key
        where = f"{url}/api/v1/applications/{app_id}" + (f"/{attempt}" if attempt else "") + "/logs"
        assert row.pop("log") == where
        dir_rows[key].pop("log")
        assert row.pop("log_bytes") > 0 and dir_rows[key].pop("log_bytes") > 0
        assert row == dir_rows[key], key

    again = fleet("--history-server", url, "--state", state, "-o", str(out))
    assert again.returncode == 0
    run = json.loads(out.read_text())["run"]
    assert (run["analysed"], run["unchanged"]) == (0, len(LOGS))


def test_a_history_server_that_is_down_is_one_failure(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    out = tmp_path / "r.json"
    log = LOGS[0]
    proc = fleet(str(log), "--history-server", url, "--state", str(tmp_path / "s.sqlite"), "-o", str(out))
    assert proc.returncode == 1
    doc = json.loads(out.read_text())
    assert [f["log"] for f in doc["failures"]] == [f"{url}/api/v1/applications"]
    assert "cannot list" in doc["failures"][0]["error"] and doc["run"]["analysed"] == 1
