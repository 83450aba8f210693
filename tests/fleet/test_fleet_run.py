"""``sparkprobe fleet`` on real logs: the same figures as ``analyze``, incremental, interruptible.

Every test reads real event logs of shared/eventlogs (or copies of them given app ids of their
own, tests/fleet/log_copies.py) with the real command in a child process, real worker processes
and a real SQLite file.
"""

from __future__ import annotations

import json
import os
import pty
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from log_copies import copy_log

from conftest import EVENTLOGS
from hostile_logs import zstd_bomb
from sparkprobe.fleet.identity import identity_of
from sparkprobe.fleet.pool import WorkerPool
from sparkprobe.fleet.row import row_from_report
from sparkprobe.fleet.store import SCHEMA_VERSION, FleetStore, StoreError
from sparkprobe.fleet.work import LogTask
from sparkprobe.offline import analyze_source
from sparkprobe.sources.codecs import DecodeLimits
from sparkprobe.sources.eventlog import ReadLimits, discover, scan

PUBLIC = EVENTLOGS / "public"
pytestmark = pytest.mark.skipif(not PUBLIC.is_dir(), reason=f"real event logs not found at {EVENTLOGS}")

#: Small logs of several layouts and codecs: a plain file, zstd, a rolling dir, lz4, snappy, a zip.
SMALL = [
    PUBLIC / "local-1532512550423",
    PUBLIC / "spark2-eventlog.zstd",
    PUBLIC / "eventlog_v2_spark-bcec39f6201b42b9925124595baad260",
    EVENTLOGS / "recorded" / "spark-3.5.9-lz4" / "app-20261124025953-0000.lz4",
    EVENTLOGS / "recorded" / "spark-3.5.9-snappy" / "app-20261124030034-0000.snappy",
    PUBLIC / "eventLogs-application_1489705648216_1600.zip",
]


def fleet(*args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``sparkprobe fleet ARGS`` as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "sparkprobe.cli", "fleet", *args],
        capture_output=True, text=True, timeout=timeout, cwd=cwd,
    )


def report(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def place(logs: list[Path], into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    for log in logs:
        (shutil.copytree if log.is_dir() else shutil.copy2)(log, into / log.name)
    return into


def copies(into: Path, count: int, start: int = 1) -> list[Path]:
    """``count`` copies of the small logs, each an app of its own."""
    sources = [s for p in SMALL for s in discover([p])]
    return [copy_log(sources[i % len(sources)], into, start + i) for i in range(count)]


# ------------------------------------------------------------------------------------- figures


def test_every_row_is_the_analyze_figure_of_its_log_alone(tmp_path: Path) -> None:
    out = tmp_path / "fleet.json"
    proc = fleet(str(EVENTLOGS), "--jobs", "2", "--state", str(tmp_path / "s.sqlite"), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    doc = report(out)
    rows = {(a["app_id"], a["attempt_id"]): a for a in doc["apps"]}
    found = scan([EVENTLOGS], max_depth=None).sources
    assert doc["run"]["analysed"] == len(found) == doc["run"]["found"]
    assert len(rows) == len(found) - doc["run"]["duplicates"] > 40
    # `sparkprobe analyze` reads each log alone (a fresh analyzer per log), as users run it: every
    # figure a row copies is that log's. Two logs of one app (copies in the corpus): the row is the
    # one of the log the store kept.
    alone = subprocess.run(
        [sys.executable, "-m", "sparkprobe.cli", "analyze", "--format", "json", str(PUBLIC),
         str(EVENTLOGS / "recorded")],
        capture_output=True, text=True, timeout=600,
    )
    checked = 0
    for app in json.loads(alone.stdout)["apps"]:
        row = rows[(app["app_id"], app["attempt_id"])]
        if Path(row["log"]).name != app["source"]["name"]:
            continue
        expect = {
            "app_name": app["app_name"], "user": app["user"], "queue": app["queue"],
            "start_ms": app["start_ms"], "end_ms": app["end_ms"],
            "allocated_core_seconds": app["allocated_core_seconds"],
            "busy_core_seconds": app["busy_core_seconds"], "idle_core_seconds": app["idle_core_seconds"],
            "idle_executor_seconds": app["idle_executor_seconds"],
            "idle_cache_held_seconds": app["idle_by_cause"]["cache_held"],
            "idle_unneeded_seconds": app["idle_by_cause"]["unneeded"],
            "cache_lost_blocks": app["cache_lost_blocks"], "cache_lost_bytes": app["cache_lost_bytes"],
            "recompute_seconds": app["cache_recompute_seconds"],
            "uncached_recompute_seconds": app["uncached_recompute_seconds"],
            "tasks_succeeded": app["tasks"]["success"], "tasks_failed": app["tasks"]["failed"],
            "events": app["source"]["events"], "bad_lines": app["bad_lines"],
            "findings_by_kind": app["findings_by_kind"], "incomplete": app["incomplete"],
        }
        assert {k: row[k] for k in expect} == expect, app["source"]["name"]
        checked += 1
    assert checked == len(rows)


def test_two_attempts_of_one_app_are_two_rows(tmp_path: Path) -> None:
    logs = place([PUBLIC / "application_1713000000000_0001_1.zstd", PUBLIC / "application_1713000000000_0001_2.zstd"],
                 tmp_path / "logs")
    with FleetStore(tmp_path / "s.sqlite") as store:
        from sparkprobe.fleet.run import FleetOptions, FleetRun

        run = FleetRun(store, FleetOptions(jobs=1))
        run.plan_paths([logs])
        run.execute()
        run.finish()
        rows = list(store.apps())
    assert [(r.app_id, r.attempt_id, r.end_ms is None) for r in rows] == [
        ("application_1713000000000_0001", "1", True),
        ("application_1713000000000_0001", "2", False),
    ]


# ---------------------------------------------------------------------------------- incremental


def test_reruns_read_only_new_logs_and_a_failing_log_is_reported_and_retried(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    copies(logs, 6)
    state, out = str(tmp_path / "s.sqlite"), tmp_path / "r.json"
    first = fleet(str(logs), "--jobs", "2", "--state", state, "-o", str(out))
    assert first.returncode == 0, first.stderr
    assert report(out)["run"] | {"seconds": 0} == {
        "analysed": 6, "skipped": 0, "failed": 0, "seconds": 0, "found": 6, "unchanged": 0, "older": 0,
        "duplicates": 0, "status": "completed", "worker_peak_rss_bytes": report(out)["run"]["worker_peak_rss_bytes"],
    }
    again = fleet(str(logs), "--state", state, "-o", str(out))
    assert again.returncode == 0 and (report(out)["run"]["analysed"], report(out)["run"]["skipped"]) == (0, 6)
    assert "0 analysed, 6 skipped" in again.stdout

    copies(logs, 10, start=100)
    broken = logs / "app-broken"
    broken.write_bytes(b'{"Event":"SparkListenerLogStart","Spark Version":"3.5.1"}\n' + b"[" * 400_000 + b"\n")
    third = fleet(str(logs), "--state", state, "-o", str(out))
    doc = report(out)
    assert third.returncode == 1  # some log failed: said by the exit code, the run still completed
    assert (doc["run"]["analysed"], doc["run"]["skipped"], doc["run"]["failed"]) == (10, 6, 1)
    assert doc["failures"] == [{"log": str(broken), "error": doc["failures"][0]["error"]}]
    assert "no SparkListenerApplicationStart" in doc["failures"][0]["error"]
    assert len(doc["apps"]) == 16 and all(a["app_id"] for a in doc["apps"])
    assert "failures   1" in third.stdout and str(broken) in third.stdout

    fourth = fleet(str(logs), "--state", state, "-o", str(out))  # failed logs are read again
    assert fourth.returncode == 1 and (report(out)["run"]["analysed"], report(out)["run"]["failed"]) == (0, 1)
    copy_log(discover([SMALL[0]])[0], tmp_path / "fixed", 999)
    shutil.copy(next((tmp_path / "fixed").iterdir()), broken)
    fifth = fleet(str(logs), "--state", state, "-o", str(out))
    assert fifth.returncode == 0 and (report(out)["run"]["analysed"], report(out)["run"]["failed"]) == (1, 0)
    assert len(report(out)["apps"]) == 17
    with sqlite3.connect(state) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("SELECT status, failures FROM logs WHERE log=?", (str(broken),)).fetchone() == ("ok", 0)
        assert [r[0] for r in db.execute("SELECT analysed FROM runs ORDER BY run_id")] == [6, 0, 10, 0, 1]


def test_a_log_that_grows_is_read_again_and_replaces_its_row(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    full = (EVENTLOGS / "recorded" / "spark-4.0.1-plain" / "app-20261124030112-0000").read_bytes().splitlines(True)
    live = logs / "app-20261124030112-0000.inprogress"
    live.write_bytes(b"".join(full[: len(full) // 2]))
    state, out = str(tmp_path / "s.sqlite"), tmp_path / "r.json"
    assert fleet(str(logs), "--state", state, "-o", str(out)).returncode == 0
    (half,) = report(out)["apps"]
    assert half["in_progress"] and half["end_ms"] is None
    live.write_bytes(b"".join(full))  # Spark wrote the rest
    assert fleet(str(logs), "--state", state, "-o", str(out)).returncode == 0
    (whole,) = report(out)["apps"]
    assert report(out)["run"]["analysed"] == 1 and whole["end_ms"] is not None
    live.rename(logs / "app-20261124030112-0000")  # and renamed it at the end: the same app
    assert fleet(str(logs), "--state", state, "-o", str(out)).returncode == 0
    (final,) = report(out)["apps"]
    assert not final["in_progress"] and final["log"] == str(logs / "app-20261124030112-0000")


def test_the_complete_copy_of_an_app_is_kept_whatever_the_order(tmp_path: Path) -> None:
    plain = EVENTLOGS / "recorded" / "spark-4.0.1-plain" / "app-20261124030112-0000"
    cut = tmp_path / "a" / "app-cut.inprogress"
    cut.parent.mkdir()
    cut.write_bytes(plain.read_bytes()[: plain.stat().st_size // 2])
    for order in ([cut.parent, plain.parent], [plain.parent, cut.parent]):
        state = tmp_path / f"s-{len(list(tmp_path.iterdir()))}.sqlite"
        for path in order:  # one run per directory: the second meets the app already stored
            assert fleet(str(path), "--state", str(state)).returncode == 0
        with FleetStore(state) as store:
            (row,) = list(store.apps())
            assert row.log == str(plain) and not row.in_progress
            assert store.log_status(str(cut)) == ("duplicate", f"the same app as {plain}")


def test_since_skips_logs_not_modified_since(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    old, new = copies(logs, 2)
    os.utime(old, (time.time() - 10 * 86400,) * 2)
    out = tmp_path / "r.json"
    assert fleet(str(logs), "--since", "7d", "--state", str(tmp_path / "s.sqlite"), "-o", str(out)).returncode == 0
    doc = report(out)
    assert (doc["run"]["analysed"], doc["run"]["older"], doc["run"]["skipped"]) == (1, 1, 1)
    assert [a["log"] for a in doc["apps"]] == [str(new)]
    assert fleet(str(logs), "--since", "yesterday-ish", "--state", str(tmp_path / "s.sqlite")).returncode == 2


# ------------------------------------------------------------------------------- interruptions


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_an_interrupted_run_loses_nothing_it_finished(sig: signal.Signals, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    total = 240  # enough that the run is still going when the signal comes (the reader got faster)
    copies(logs, total)
    state = tmp_path / "s.sqlite"
    child = subprocess.Popen(
        [sys.executable, "-m", "sparkprobe.cli", "fleet", str(logs), "--jobs", "1", "--state", str(state)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 300
    done = 0
    while time.monotonic() < deadline and done < 3:
        time.sleep(0.05)
        try:
            with sqlite3.connect(state, timeout=5) as db:
                done = db.execute("SELECT count(*) FROM apps").fetchone()[0]
        except sqlite3.OperationalError:
            continue  # the schema is being created
    assert done >= 3, "the run stored nothing within 5 minutes"
    child.send_signal(sig)
    _, stderr = child.communicate(timeout=120)
    assert child.returncode == (130 if sig == signal.SIGINT else -signal.SIGKILL), stderr
    with FleetStore(state) as store:
        kept = store.app_count()
    assert 3 <= kept < total
    out = tmp_path / "r.json"
    rerun = fleet(str(logs), "--state", str(state), "-o", str(out))
    assert rerun.returncode == 0, rerun.stderr
    doc = report(out)
    assert doc["run"]["analysed"] == total - kept and doc["run"]["skipped"] == kept
    assert len(doc["apps"]) == total
    if sig == signal.SIGINT:
        with sqlite3.connect(state) as db:
            statuses = db.execute("SELECT status FROM runs ORDER BY run_id").fetchall()
            assert statuses == [("interrupted",), ("completed",)]


def test_a_worker_that_dies_costs_one_failure(tmp_path: Path) -> None:
    big = PUBLIC / "application_1640227485896_0002.zstd"  # 75 MB of JSON: seconds of reading
    sources = discover([big, *SMALL[:3]])
    tasks = [LogTask(identity_of(s), s) for s in sources]
    with WorkerPool(1) as pool:
        def kill_when_busy() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                workers = list(pool._workers)
                if workers and workers[0].task is not None and workers[0].task.source == sources[0]:
                    time.sleep(0.5)
                    os.kill(workers[0].process.pid, signal.SIGKILL)
                    return
                time.sleep(0.01)

        killer = threading.Thread(target=kill_when_busy)
        killer.start()
        results = list(pool.map(tasks))
        killer.join()
    by_log = {r.identity.log: r for r in results}
    assert by_log[tasks[0].identity.log].error == "the worker reading it died (killed by signal 9)"
    assert pool.deaths == 1
    for task, source in zip(tasks[1:], sources[1:], strict=True):
        result = by_log[task.identity.log]
        assert result.error == "" and result.row == row_from_report(analyze_source(source), task.identity.log)


# ------------------------------------------------------------------------------------- the store


def test_the_state_file_must_be_a_store_of_this_schema(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n" * 1000)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    newer = tmp_path / "newer.sqlite"
    FleetStore(newer).close()
    with sqlite3.connect(newer) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    for path, why in ((text, "not a usable SQLite file"), (other, "not a sparkprobe fleet state store"),
                      (newer, f"state schema {SCHEMA_VERSION + 1} is newer")):
        with pytest.raises(StoreError, match=why):
            FleetStore(path)
        proc = fleet(str(SMALL[0]), "--state", str(path))
        assert proc.returncode == 2 and why in proc.stderr


# ------------------------------------------------------------------------------------- terminal


def test_progress_is_drawn_on_a_terminal_only(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    copies(logs, 4)
    (logs / "app-broken").write_bytes(b'{"Event":"SparkListenerLogStart"}\n')
    quiet = fleet(str(logs), "--state", str(tmp_path / "a.sqlite"))
    assert quiet.stderr == "" and "4 analysed" in quiet.stdout
    leader, follower = pty.openpty()
    proc = subprocess.run(
        [sys.executable, "-m", "sparkprobe.cli", "fleet", str(logs), "--jobs", "1",
         "--state", str(tmp_path / "b.sqlite")],
        stdout=subprocess.PIPE, stderr=follower, timeout=300,
    )
    os.close(follower)
    drawn = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        drawn += chunk
    os.close(leader)
    text = drawn.decode()
    assert proc.returncode == 1
    assert "[fleet] 5/5 apps" in text and "apps/s" in text and "1 failed" in text
    assert "app-broken: no SparkListenerApplicationStart" in text


def test_bad_usage_is_exit_2(tmp_path: Path) -> None:
    assert fleet("--state", str(tmp_path / "s.sqlite")).returncode == 2
    assert fleet(str(SMALL[0]), "-o", str(tmp_path / "r.txt")).returncode == 2
    assert fleet(str(SMALL[0]), "--jobs", "0", "--state", str(tmp_path / "s.sqlite")).returncode == 2


def test_a_log_needing_more_than_the_worker_memory_fails_alone(tmp_path: Path) -> None:
    # Without the line and expansion limits, one 1 GiB line must be held: more than the worker may use.
    bomb = zstd_bomb(tmp_path / "bomb.zstd", 1 << 30)
    limits = ReadLimits(max_line_bytes=2 << 30, decode=DecodeLimits(max_expansion=float("inf")))
    sources = discover([bomb, SMALL[0]])
    tasks = [LogTask(identity_of(s), s) for s in sources]
    with WorkerPool(1, limits, memory_bytes=512 << 20) as pool:
        results = {r.identity.log: r for r in pool.map(tasks)}
    assert results[tasks[0].identity.log].error.startswith("out of memory")
    assert results[tasks[1].identity.log].row is not None and pool.deaths == 0  # the same worker read it
