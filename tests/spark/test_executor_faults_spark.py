"""Executor faults on real Spark, profiled live by a real ``sparkprobe agent`` process and checked against
the event log of the same run: an executor JVM that dies of ``OutOfMemoryError`` while the application
goes on, and speculative task attempts.

Every wait is bounded by a deadline; nothing here asserts how long anything took.

Speculation cannot be provoked on ``local-cluster``: all its executors run on one host, and Spark never
launches a speculative copy of a task on a host that already runs an attempt of it. The speculation
test therefore starts a real standalone cluster from the pip pyspark (``spark-class`` Master and two
Workers), the workers bound to two different loopback addresses (127.0.0.2 and 127.0.0.3: on Linux
all of 127.0.0.0/8 is loopback), so that its two executors are on two hosts.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_faults_spark import (
    PLAIN_EVENT_LOG,
    busy_ms_from_log,
    listener_conf,
    read_event_log,
    scrape_app,
    spark_bus_drops,
    spark_task_counts,
    start_agent_process,
    task_spans_from_log,
    until,
)

from conftest import APPS, BASE_CONF, compile_jvm_app, find_javac, free_port, need_binary, pyspark_home, wait_executors
from sparkprobe.model import RemovalCause
from sparkprobe.offline import analyze_source
from sparkprobe.outputs.prometheus import app_families
from sparkprobe.sources.eventlog import discover

pytestmark = pytest.mark.spark

#: Series only the live side can know: what the transport carried and the listener's own cost.
TRANSPORT_ONLY = {
    "sparkprobe_events_received_total",
    "sparkprobe_listener_events_dropped_total",
    "sparkprobe_listener_processing_seconds_count",
    "sparkprobe_listener_processing_seconds_sum",
}

#: Speculation that fires soon on a straggler. ``efficiency.enabled`` (Spark 3.4+, on by default)
#: would also weigh each task's progress rate; off, a task is speculatable once it has run longer
#: than ``multiplier`` x the median of the finished ones (and ``minTaskRuntime``).
SPECULATION_CONF = {
    "spark.speculation": "true",
    "spark.speculation.interval": "100ms",
    "spark.speculation.multiplier": "1.5",
    "spark.speculation.quantile": "0.5",
    "spark.speculation.minTaskRuntime": "500ms",
    "spark.speculation.efficiency.enabled": "false",
}

WORKER_HOSTS = ("127.0.0.2", "127.0.0.3")


# ---------------------------------------------------------------------------------------- helpers
def event_log_conf(events_dir: Path) -> dict[str, str]:
    """A plain single-file event log in ``events_dir``, block updates and memory peaks included.

    Without ``logStageExecutorMetrics`` the log would keep only the tasks' memory peaks, not the
    heartbeats' the listener sees: live and offline memory figures could not be equal.
    """
    return {
        **PLAIN_EVENT_LOG,
        "spark.eventLog.dir": str(events_dir),
        "spark.eventLog.logBlockUpdates.enabled": "true",
        "spark.eventLog.logStageExecutorMetrics": "true",
    }


def status_counts(reasons: dict[str, int]) -> dict[str, int]:
    """TaskEnd counts per reason (event log) → per sparkprobe status: every other reason is a failure."""
    named = {"Success": "success", "TaskKilled": "killed", "Resubmitted": "resubmitted"}
    out = {"success": 0, "failed": 0, "killed": 0, "resubmitted": 0}
    for reason, n in reasons.items():
        out[named.get(reason, "failed")] += n
    return out


def wait_app_ended(agent_log: Path, app_id: str) -> None:
    """Wait until the agent has logged the end of ``app_id``: every event of the app is in by then.

    Scraping only afterwards matters: the collector exposes each counter as the highest value it
    has shown, and a figure measured "to now" just before the app end reached the agent could be a
    little above the final one.
    """

    def ended() -> bool:
        for line in agent_log.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("event") == "app_ended" and record.get("app_id") == app_id:
                return True
        return False

    until(ended, 60, f"the agent to log the end of {app_id}")


def analyze_json(log: Path) -> dict[str, Any]:
    """``sparkprobe analyze --format json`` of one event log, run as users run it; its one app."""
    proc = subprocess.run(
        [sys.executable, "-m", "sparkprobe.cli", "analyze", "--format", "json", str(log)],
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    (app,) = json.loads(proc.stdout)["apps"]
    assert isinstance(app, dict)
    return app


def exposed_samples(log: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The samples /metrics would show for the report of this event log, keyed like :func:`scrape_app`."""
    (source,) = discover([log])
    out = {}
    for family in app_families([analyze_source(source)]):
        for s in family.samples:
            labels = tuple(sorted((k, v) for k, v in s.labels.items() if k not in ("app_id", "app_name")))
            out[(s.name, labels)] = s.value
    return out


def check_figures(
    live: dict[tuple[str, tuple[tuple[str, str], ...]], float],
    offline: dict[str, Any],
    events: list[dict[str, Any]],
    log: Path,
) -> None:
    """The figures every executor-fault run must get right, live and offline, against the event log."""
    spans, reasons = task_spans_from_log(events)
    counts = status_counts(reasons)
    # Attempt counts: the agent's and the offline report's equal the event log's TaskEnds.
    for status, n in counts.items():
        assert live[("sparkprobe_tasks_finished_total", (("status", status),))] == n, status
        assert offline["tasks"][status] == n, status
    # Nothing left running.
    assert live[("sparkprobe_tasks_running", ())] == 0 and offline["tasks"]["running"] == 0
    assert live[("sparkprobe_app_running", ())] == 0 and not offline["running"]
    assert live[("sparkprobe_app_incomplete", ())] == 0 and not offline["incomplete"]
    # Task time is the attempts' launch → finish spans; busy core-seconds the cores those spans kept
    # busy (spark.task.cpus = 1): each attempt counted once, never more cores than the executor has.
    busy = busy_ms_from_log(events)
    busy_s = sum(busy.values()) / 1000
    assert live[("sparkprobe_busy_core_seconds_total", ())] == pytest.approx(busy_s, rel=1e-3)
    assert live[("sparkprobe_task_run_seconds_total", ())] == pytest.approx(sum(spans.values()) / 1000, rel=1e-3)
    assert offline["busy_core_seconds"] == pytest.approx(busy_s, rel=1e-3)
    for exec_id, ms in busy.items():
        assert offline["executors"][exec_id]["busy_core_seconds"] == pytest.approx(ms / 1000, rel=1e-3), exec_id
    # No negative idle (/metrics floors idle core-seconds at 0: compare allocated with busy there).
    assert live[("sparkprobe_allocated_core_seconds_total", ())] >= live[("sparkprobe_busy_core_seconds_total", ())]
    assert all(v >= 0 for (name, _), v in live.items() if name == "sparkprobe_executor_idle_seconds_total")
    assert offline["idle_core_seconds"] >= 0 and offline["idle_executor_seconds"] >= 0
    assert all(v >= 0 for v in offline["idle_by_cause"].values())
    for exec_id, ex in offline["executors"].items():
        assert ex["idle_seconds"] >= 0 and all(v >= 0 for v in ex["idle_by_cause"].values()), exec_id
        assert ex["busy_core_seconds"] <= ex["cores"] * ex["lifetime_seconds"] + 1e-9, exec_id
    # Live = offline: every series /metrics shows for the app equals what the report of the same
    # run's event log gives, but for what only the transport knows.
    expected = {k: v for k, v in exposed_samples(log).items() if k[0] not in TRANSPORT_ONLY}
    shown = {k: v for k, v in live.items() if k[0] not in TRANSPORT_ONLY}
    assert shown.keys() == expected.keys()
    for key, value in expected.items():
        assert shown[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key


def stop_agent(agent: subprocess.Popen[bytes]) -> None:
    """Stop the ``sparkprobe agent`` process as a service manager would: SIGTERM, SIGKILL if it hangs."""
    agent.send_signal(signal.SIGTERM)
    try:
        agent.wait(timeout=30)
    except subprocess.TimeoutExpired:
        agent.kill()
        agent.wait(timeout=30)


def stop_process_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group ``proc`` leads (a Worker and the executors it launched), then SIGKILL."""
    for sig, wait_s in ((signal.SIGTERM, 30), (signal.SIGKILL, 30)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            continue
        if sig == signal.SIGTERM:
            try:  # the leader is gone; what it started may linger
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return


# -------------------------------------------------------------------- 1. executor OOM on local-cluster
@pytest.fixture(scope="module")
def executor_oom_jar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/apps/jvm/ExecutorOom.java compiled against this pyspark's jars."""
    javac = find_javac() or need_binary("javac")
    build_dir = tmp_path_factory.mktemp("executor-oom")
    return compile_jvm_app(javac, APPS / "jvm" / "ExecutorOom.java", build_dir, "executor-oom.jar")


def test_executor_oom_keeps_figures_exact(executor_oom_jar: Path, tmp_path: Path) -> None:
    home = pyspark_home()
    events_dir = tmp_path / "events"
    events_dir.mkdir()
    listen, metrics = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    agent_log = tmp_path / "agent.log"
    agent = start_agent_process(listen, metrics, agent_log)
    try:
        conf = {**BASE_CONF, **listener_conf(listen), **event_log_conf(events_dir)}
        cmd = [
            str(home / "bin" / "spark-submit"),
            "--master",
            "local-cluster[2,1,1024]",
            *[arg for key, value in conf.items() for arg in ("--conf", f"{key}={value}")],
            "--class",
            "sparkprobe.testapps.ExecutorOom",
            str(executor_oom_jar),
            "2",
        ]
        proc = subprocess.run(cmd, capture_output=True, timeout=400, env={**os.environ, "SPARK_HOME": str(home)})
        out, err = proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
        assert proc.returncode == 0, err[-5000:]
        # The job's result is right, and the application went on: the dead executor was removed and replaced.
        n = 40_000
        assert f"SUM OF SQUARES {n * (n + 1) * (2 * n + 1) // 6}\n" in out, out
        assert "EXECUTORS REMOVED 1\n" in out and "EXECUTORS NOW 2\n" in out, out
        found = re.search(r"^APP ID (\S+)$", out, re.MULTILINE)
        assert found, out
        app_id = found.group(1)
        wait_app_ended(agent_log, app_id)
        live = scrape_app(f"http://{metrics}/metrics", app_id)
    finally:
        stop_agent(agent)
    assert "Traceback" not in agent_log.read_text(errors="replace")

    log = events_dir / app_id
    events = read_event_log(log)
    removed = [e for e in events if e["Event"] == "SparkListenerExecutorRemoved"]
    assert len(removed) == 1, removed
    dead = removed[0]["Executor ID"]
    # That executor's JVM died of the OOM: local-cluster's worker (in the driver's JVM) logs its exit
    # code, 52, what Spark's uncaught exception handler exits with on an OutOfMemoryError.
    exited = re.findall(rf"Executor {re.escape(app_id)}/(\d+) finished with state EXITED .*exitStatus (\d+)", err)
    assert exited == [(dead, "52")], exited
    ends = [e for e in events if e["Event"] == "SparkListenerTaskEnd"]
    # The first attempt of partition 0 failed on the executor that died: with the OOM itself when its
    # report reached the driver before the JVM exited, else as lost with its executor.
    (first,) = [e for e in ends if e["Task Info"]["Index"] == 0 and e["Task Info"]["Attempt"] == 0]
    assert first["Task Info"]["Executor ID"] == dead
    reason = first["Task End Reason"]
    assert (reason["Reason"], reason.get("Class Name")) in (
        ("ExceptionFailure", "java.lang.OutOfMemoryError"),
        ("ExecutorLostFailure", None),
    ), reason
    # Partition 0 was retried and succeeded; every other partition succeeded once.
    assert sorted(e["Task Info"]["Index"] for e in ends if e["Task End Reason"]["Reason"] == "Success") == [0, 1, 2, 3]
    added = [e for e in events if e["Event"] == "SparkListenerExecutorAdded"]
    assert len(added) == 3

    offline = analyze_json(log)
    assert offline["app_id"] == app_id
    # The removal is classed a memory failure (Spark's OOM exit code 52), live and offline, with
    # Spark's reason text kept.
    causes = [r.value for r in RemovalCause]
    removed_live = {c: live[("sparkprobe_executors_removed_total", (("reason", c),))] for c in causes}
    assert removed_live == {c: (1 if c == "memory" else 0) for c in causes}
    assert live[("sparkprobe_executors_added_total", ())] == 3
    assert live[("sparkprobe_executors_active", ())] == 0
    assert offline["removed_by_reason"] == {"memory": 1}
    assert offline["executors"][dead]["removed_cause"] == "memory"
    assert offline["executors"][dead]["removed_reason"] == removed[0]["Removed Reason"]
    assert offline["tasks"]["failed"] >= 1
    check_figures(live, offline, events, log)
    # The area that ran out is named; the advice raises the heap and lowers nothing (issue 15).
    assert offline["memory"]["memory_removals"] == [{
        "exec_id": dead, "time_ms": removed[0]["Timestamp"], "area": "heap", "reason": removed[0]["Removed Reason"],
    }]
    memory_kinds = {"executor_memory", "executor_memory_overhead", "offheap_size", "pyspark_memory", "driver_memory"}
    (heap,) = [a for a in offline["advice"] if a["kind"] in memory_kinds]
    assert heap["kind"] == "executor_memory" and heap["risk"] == "low"
    assert heap["conf"] == {"spark.executor.memory": "768m"}  # 1.5 x the 512m it had
    assert heap["saving"]["gib_hours"] < 0
    # No price was given: no money figure anywhere, in the report or on /metrics.
    assert offline["cost"] is None and all("cost" not in a["saving"] for a in offline["advice"])
    assert not [name for name, _ in live if name in ("sparkprobe_cost_total", "sparkprobe_wasted_cost_total")]


# ------------------------------------------------------------- 2. speculative tasks on a standalone cluster
@pytest.fixture
def standalone_master(tmp_path: Path) -> Iterator[str]:
    """A real standalone cluster from the pip pyspark: a Master on 127.0.0.1 and two 1-core, 1 GB
    Workers on 127.0.0.2 and 127.0.0.3. Yields the master URL; every process it started (and the
    executors the workers launched, in their process groups) is stopped at the end."""
    home = pyspark_home()
    spark_class = home / "bin" / "spark-class"
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str, args: list[str], host: str, **env: str) -> Path:
        log = tmp_path / f"{name}.log"
        with log.open("wb") as fh:
            procs.append(
                subprocess.Popen(
                    [str(spark_class), *args],
                    stdout=fh,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    env={**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": host, **env},
                )
            )
        return log

    def log_has(log: Path, pattern: str) -> bool:
        for proc in procs:
            if proc.poll() is not None:
                raise AssertionError(f"a cluster process exited early:\n{log.read_text(errors='replace')[-4000:]}")
        return re.search(pattern, log.read_text(errors="replace")) is not None

    try:
        port = free_port()
        master_log = start(
            "master",
            ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port), "--webui-port", "0"],
            "127.0.0.1",
            SPARK_MASTER_OPTS="-Dspark.master.rest.enabled=false",  # else it takes the fixed port 6066
        )
        until(lambda: log_has(master_log, r"I have been elected leader"), 120, "the standalone master")
        for host in WORKER_HOSTS:
            work_dir = tmp_path / f"work-{host}"
            work_dir.mkdir()
            start(
                f"worker-{host}",
                [
                    "org.apache.spark.deploy.worker.Worker",
                    "--host",
                    host,
                    "--webui-port",
                    "0",
                    "--cores",
                    "1",
                    "--memory",
                    "1g",
                    "--work-dir",
                    str(work_dir),
                    f"spark://127.0.0.1:{port}",
                ],
                host,
            )
        for host in WORKER_HOSTS:
            until(
                lambda host=host: log_has(master_log, rf"Registering worker {re.escape(host)}:\d+"),
                120,
                f"the worker on {host} to register",
            )
        yield f"spark://127.0.0.1:{port}"
    finally:
        for proc in reversed(procs):
            stop_process_group(proc)


def test_speculative_attempts_keep_figures_exact(
    standalone_master: str, spark_factory: Callable[..., Any], tmp_path: Path
) -> None:
    from pyspark import TaskContext

    events_dir = tmp_path / "events"
    events_dir.mkdir()
    listen, metrics = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    agent_log = tmp_path / "agent.log"
    agent = start_agent_process(listen, metrics, agent_log)
    try:
        conf = {
            **listener_conf(listen),
            **event_log_conf(events_dir),
            **SPECULATION_CONF,
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            # The conf of the first session a test process builds becomes system properties of the
            # py4j JVM, and the default conf of every later session: say it explicitly.
            "spark.dynamicAllocation.enabled": "false",
        }
        spark = spark_factory("fault-speculation", conf, builder_hook=lambda b: b.master(standalone_master))
        sc = spark.sparkContext
        app_id = sc.applicationId
        wait_executors(sc, 2, timeout_s=180)

        # One executor per worker, so on two hosts (the driver's block manager is on 127.0.0.1).
        def tracked_hosts() -> list[str] | None:
            hosts = sorted(str(i.host()) for i in sc._jsc.sc().statusTracker().getExecutorInfos())
            return hosts if len(hosts) == 3 else None

        assert until(tracked_hosts, 60, "Spark's status store to list both executors") == ["127.0.0.1", *WORKER_HOSTS]

        # Partition 0's first attempt straggles; a speculative copy on the other host wins and Spark
        # kills the original (long before its sleep ends).
        def straggle_once(index: int, rows: Any) -> Any:
            if index == 0 and TaskContext.get().attemptNumber() == 0:
                time.sleep(120)
            return [sum(rows)]

        sc.setJobGroup("speculation", "a straggler and its speculative copy")
        rdd = sc.parallelize(range(40_000), 4).mapPartitionsWithIndex(straggle_once)
        assert sum(rdd.collect()) == sum(range(40_000))
        # The job ends with the copy's success; the original's end (killed) follows.
        tracker = sc.statusTracker()

        def attempts_settled() -> bool:
            for job_id in tracker.getJobIdsForGroup("speculation"):
                for stage_id in tracker.getJobInfo(job_id).stageIds:
                    info = tracker.getStageInfo(stage_id)
                    if info is None or info.numActiveTasks:
                        return False
            return True

        until(attempts_settled, 120, "the straggler's original attempt to end")
        done, failed = spark_task_counts(sc, ["speculation"])
        assert spark_bus_drops(sc) == 0
        spark.stop()
        wait_app_ended(agent_log, app_id)
        live = scrape_app(f"http://{metrics}/metrics", app_id)
    finally:
        stop_agent(agent)
    assert "Traceback" not in agent_log.read_text(errors="replace")

    log = events_dir / app_id
    events = read_event_log(log)
    hosts_by_exec = {
        e["Executor ID"]: e["Executor Info"]["Host"] for e in events if e["Event"] == "SparkListenerExecutorAdded"
    }
    assert sorted(hosts_by_exec.values()) == list(WORKER_HOSTS)
    ends = [e for e in events if e["Event"] == "SparkListenerTaskEnd"]
    speculative = [e for e in ends if e["Task Info"]["Speculative"]]
    killed = [e for e in ends if e["Task End Reason"]["Reason"] == "TaskKilled"]
    # A speculative copy of partition 0 succeeded, on the other host than the original, which was killed.
    assert [(e["Task Info"]["Index"], e["Task Info"]["Speculative"]) for e in killed] == [(0, False)]
    (winner,) = [e for e in speculative if e["Task Info"]["Index"] == 0 and e["Task End Reason"]["Reason"] == "Success"]
    assert winner["Task Info"]["Host"] != killed[0]["Task Info"]["Host"]
    # Spark's status store agrees with its event log.
    _, reasons = task_spans_from_log(events)
    assert (reasons.get("Success"), failed) == (done, 0)
    assert sorted(e["Task Info"]["Index"] for e in ends if e["Task End Reason"]["Reason"] == "Success") == [0, 1, 2, 3]

    offline = analyze_json(log)
    assert offline["app_id"] == app_id
    assert live[("sparkprobe_executors_added_total", ())] == 2 == offline["executors_added"]
    check_figures(live, offline, events, log)
