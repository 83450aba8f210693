"""Faults on real local-cluster Spark over real sockets: the agent killed and restarted, tasks that
fail and are retried or killed, a driver that dies without ApplicationEnd, an agent that reads slowly.

Every wait is bounded by a deadline; nothing here asserts how long anything took.

Speculative tasks are not provoked here: Spark never launches a speculative copy of a task on a host
that already runs an attempt of it (``TaskSetManager`` checks ``hasAttemptOnHost``), and every
executor of ``local-cluster`` runs on the same host, so ``spark.speculation`` never fires there
(checked: an 8 s straggler among 6 tasks with multiplier 1.5, quantile 0.5, minTaskRuntime 200ms got
no speculative attempt). Killed attempts, which is what losing speculative copies become, are
provoked instead by cancelling a running job.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

import sparkprobe
from conftest import BASE_CONF, capped_busy_ms, executor_pids, free_port, wait_executors
from sparkprobe.offline import analyze_source
from sparkprobe.sources.eventlog import discover

pytestmark = pytest.mark.spark
TOKEN = "fault-token-7"

#: A plain, single-file event log (Spark 4 would otherwise write rolling zstd directories).
PLAIN_EVENT_LOG = {
    "spark.eventLog.enabled": "true",
    "spark.eventLog.compress": "false",
    "spark.eventLog.rolling.enabled": "false",
}


# ---------------------------------------------------------------------------------------- helpers
def until(fn: Callable[[], Any], timeout_s: float, what: str, every_s: float = 0.2) -> Any:
    """Call ``fn`` until it returns something truthy; fail naming ``what`` past the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout_s:g}s waiting for {what}")
        time.sleep(every_s)


def spark_bus_drops(sc: Any) -> int:
    """Events Spark's own listener bus dropped, summed over its queues (numDroppedEvents)."""
    counters = sc._jsc.sc().listenerBus().metrics().metricRegistry().getCounters()
    names = [n for n in counters.keySet() if str(n).endswith("numDroppedEvents")]
    assert names, "Spark's listener bus exposes no numDroppedEvents counter"
    return sum(int(counters.get(n).getCount()) for n in names)


def spark_bus_caught_up(sc: Any) -> bool:
    """Spark's listener bus has delivered every event posted so far: all queues empty, and the
    queue our listener sits on (``shared``) has processed as many events as were posted."""
    registry = sc._jsc.sc().listenerBus().metrics().metricRegistry()
    gauges = registry.getGauges()
    if any(int(gauges.get(n).getValue()) for n in gauges.keySet() if str(n).endswith(".size")):
        return False
    posted = int(registry.getCounters().get("numEventsPosted").getCount())
    processed = int(registry.getTimers().get("queue.shared.listenerProcessingTime").getCount())
    return processed == posted


def spark_task_counts(sc: Any, groups: list[str]) -> tuple[int, int]:
    """(successful, failed) task attempts of the jobs of these job groups, from Spark's status tracker.

    The status store is fed by its own listener queue, so it can lag the action that just returned:
    wait (bounded) until every job of the groups has ended there, i.e. all its task ends are in.
    """
    tracker = sc.statusTracker()

    def ended_jobs() -> list[Any] | None:
        jobs = [tracker.getJobInfo(j) for g in groups for j in tracker.getJobIdsForGroup(g)]
        return jobs if jobs and all(j is not None and j.status in ("SUCCEEDED", "FAILED") for j in jobs) else None

    done = failed = 0
    for job in until(ended_jobs, 60, f"Spark's status store to end the jobs of {groups}"):
        for stage_id in job.stageIds:
            info = tracker.getStageInfo(stage_id)
            if info is not None:
                done += info.numCompletedTasks
                failed += info.numFailedTasks
    return done, failed


def spark_live_executors(sc: Any) -> dict[str, int]:
    """Active executors (not the driver) → their cores, from Spark's status store."""
    seq = sc._jsc.sc().statusStore().executorList(True)
    execs = [seq.apply(i) for i in range(seq.size())]
    return {str(e.id()): int(e.totalCores()) for e in execs if e.id() != "driver"}


def kill_quietly(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def read_event_log(path: Path) -> list[dict[str, Any]]:
    """Spark's plain JSON event log, read with json only (a cut last line of a live log is skipped)."""
    events = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
    return events


def task_spans_from_log(events: list[dict[str, Any]]) -> tuple[dict[str, int], dict[str, int]]:
    """From the event log: task-attempt ms per executor (launch → finish), and TaskEnd count per reason."""
    spans: dict[str, int] = {}
    reasons: dict[str, int] = {}
    for e in events:
        if e.get("Event") != "SparkListenerTaskEnd":
            continue
        reason = e["Task End Reason"]["Reason"]
        reasons[reason] = reasons.get(reason, 0) + 1
        if reason == "Resubmitted":
            continue
        info = e["Task Info"]
        spans[info["Executor ID"]] = spans.get(info["Executor ID"], 0) + info["Finish Time"] - info["Launch Time"]
    return spans, reasons


def busy_ms_from_log(events: list[dict[str, Any]], task_cpus: int = 1) -> dict[str, int]:
    """From the event log: busy core-ms per executor, each instant counting min(task_cpus x tasks, cores).

    Spans are clamped to the executor's life, then swept by :func:`conftest.capped_busy_ms`.
    """
    life: dict[str, list[int]] = {}
    spans: dict[str, list[tuple[int, int]]] = {}
    end = 0
    for e in events:
        kind = e.get("Event")
        if kind == "SparkListenerExecutorAdded":
            life.setdefault(e["Executor ID"], [e["Timestamp"], 0, e["Executor Info"]["Total Cores"]])
        elif kind == "SparkListenerExecutorRemoved" and e["Executor ID"] in life:
            life[e["Executor ID"]][1] = life[e["Executor ID"]][1] or e["Timestamp"]
        elif kind == "SparkListenerApplicationEnd":
            end = e["Timestamp"]
        elif kind == "SparkListenerTaskEnd" and e["Task End Reason"]["Reason"] != "Resubmitted":
            info = e["Task Info"]
            spans.setdefault(info["Executor ID"], []).append((info["Launch Time"], info["Finish Time"]))
            end = max(end, info["Finish Time"])
    out: dict[str, int] = {}
    for exec_id, (added, removed, cores) in life.items():
        stop = removed or end
        clamped = [(max(a, added), min(b, stop)) for a, b in spans.get(exec_id, []) if min(b, stop) > max(a, added)]
        out[exec_id] = capped_busy_ms(clamped, cores, task_cpus)
    return out


def scrape_app(url: str, app_id: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """This app's samples on /metrics: (name, labels without app_id/app_name) → value."""
    body = urllib.request.urlopen(url, timeout=10).read().decode()
    out = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            if s.labels.get("app_id") != app_id:
                continue
            labels = tuple(sorted((k, v) for k, v in s.labels.items() if k not in ("app_id", "app_name")))
            out[(s.name, labels)] = s.value
    return out


def scrape_until(url: str, app_id: str, predicate: Callable[[Any], bool], what: str) -> Any:
    """Scrape until ``predicate(samples)`` holds (bounded); return those samples."""
    def check() -> Any:
        m = scrape_app(url, app_id)
        return m if predicate(m) else None

    return until(check, 60, what)


def _metrics_up(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2)
        return True
    except OSError:
        return False


def start_agent_process(listen: str, metrics: str, log: Path, extra: tuple[str, ...] = ()) -> subprocess.Popen[bytes]:
    """``sparkprobe agent`` as users run it (``extra`` flags added), logging to ``log``; returns once
    /metrics answers."""
    fh = log.open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sparkprobe.cli", "agent", "--listen", listen, "--metrics", metrics,
         "--token", TOKEN, *extra],
        stdout=fh, stderr=subprocess.STDOUT,
    )
    fh.close()
    try:
        until(lambda: proc.poll() is not None or _metrics_up(f"http://{metrics}/metrics"), 60, "the agent to start")
    except AssertionError:
        proc.kill()
        raise
    assert proc.poll() is None, log.read_text()
    return proc


def listener_conf(endpoint: str, **extra: str) -> dict[str, str]:
    return {
        "spark.jars": sparkprobe.jar_path(),
        "spark.extraListeners": sparkprobe.LISTENER_CLASS,
        "spark.sparkprobe.endpoint": endpoint,
        "spark.sparkprobe.token": TOKEN,
        **extra,
    }


# ------------------------------------------------------------------ 1. agent killed and restarted
def test_agent_killed_mid_app_and_restarted(spark_factory: Any, tmp_path: Path) -> None:
    listen, metrics = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    url = f"http://{metrics}/metrics"
    log = tmp_path / "agent.log"
    agent = start_agent_process(listen, metrics, log)
    try:
        spark = spark_factory("fault-agent-restart", listener_conf(listen, **{"spark.sparkprobe.maxBackoffMs": "500"}))
        sc = spark.sparkContext
        app_id = sc.applicationId
        wait_executors(sc, 2, timeout_s=120)

        sc.setJobGroup("first", "before the agent dies")
        assert sc.parallelize(range(60_000), 4).map(lambda x: x * 3).sum() == 3 * sum(range(60_000))
        first, _ = spark_task_counts(sc, ["first"])
        success = ("sparkprobe_tasks_finished_total", (("status", "success"),))
        scrape_until(url, app_id, lambda m: m.get(success) == first, "the first job on /metrics")

        agent.kill()  # SIGKILL: no goodbye, the listener finds out from the socket
        agent.wait(timeout=30)
        sc.setJobGroup("second", "while no agent runs")
        assert sc.parallelize(range(50_000), 4).filter(lambda x: x % 7 == 0).count() == len(range(0, 50_000, 7))
        second, _ = spark_task_counts(sc, ["second"])

        agent = start_agent_process(listen, metrics, log)  # same ports
        sc.setJobGroup("third", "after the restart")
        pairs = sc.parallelize(range(40_000), 4).map(lambda x: (x % 5, 1)).reduceByKey(lambda a, b: a + b, 3)
        assert sorted(pairs.collect()) == [(k, 8_000) for k in range(5)]
        third, _ = spark_task_counts(sc, ["third"])
        assert spark_bus_drops(sc) == 0  # Spark's own bus lost nothing because of us

        running, incomplete = ("sparkprobe_app_running", ()), ("sparkprobe_app_incomplete", ())
        # The restarted agent knows the app (the listener repeats app_start after each hello) and
        # that it missed the app's start and first job: incomplete.
        m = scrape_until(url, app_id, lambda m: m.get(running) == 1 and m.get(incomplete) == 1,
                         "the restarted agent to report the app as incomplete")
        # It also knows the live executors, added long before it started: the listener repeats each
        # live executor's executor_added after every hello. Same figures as Spark's status store.
        live = spark_live_executors(sc)
        assert len(live) == 2
        assert m[("sparkprobe_executors_added_total", ())] == len(live)
        assert m[("sparkprobe_executors_active", ())] == len(live)
        assert m[("sparkprobe_cores_allocated", ())] == sum(live.values())

        spark.stop()  # the app's end follows every event of the app on the stream: then all are in
        m = scrape_until(url, app_id, lambda m: m.get(running) == 0, "the application end on the restarted agent")
        assert m[incomplete] == 1
        assert m[("sparkprobe_tasks_running", ())] == 0
        # Tasks that ended after the restart are counted; those the dead agent had are not. The
        # second job's events waited in the listener's queue and arrive too, unless some were lost
        # on the broken connection, and then the listener counted them as dropped.
        dropped = m[("sparkprobe_listener_events_dropped_total", ())]
        assert third <= m[success] <= second + third
        if dropped == 0:
            assert m[success] == second + third
        assert m[("sparkprobe_tasks_finished_total", (("status", "failed"),))] == 0
        assert m[("sparkprobe_task_run_seconds_total", ())] > 0
    finally:
        agent.send_signal(signal.SIGTERM)
        try:
            agent.wait(timeout=30)
        except subprocess.TimeoutExpired:
            agent.kill()
    assert "Traceback" not in log.read_text(errors="replace")


# ------------------------------------------------------------ 2. failed, retried and killed tasks
def test_failed_retried_and_killed_tasks_keep_figures_exact(spark_factory: Any, tmp_path: Path) -> None:
    from pyspark import TaskContext

    events_dir = tmp_path / "events"
    events_dir.mkdir()
    probes: list[sparkprobe.Probe] = []
    spark = spark_factory(
        "fault-task-retry",
        {**PLAIN_EVENT_LOG, "spark.eventLog.dir": str(events_dir), "spark.task.maxFailures": "4"},
        builder_hook=lambda b: probes.append(sparkprobe.configure(b, metrics=None)),
    )
    probe = probes[0]
    try:
        sc = spark.sparkContext
        app_id = sc.applicationId
        wait_executors(sc, 2, timeout_s=120)

        # Partition 0 fails its first two attempts, partition 2 its first: 3 failed attempts, retried.
        def flaky(index: int, rows: Any) -> Any:
            attempt = TaskContext.get().attemptNumber()
            if (index == 0 and attempt < 2) or (index == 2 and attempt == 0):
                raise RuntimeError(f"injected failure: partition {index} attempt {attempt}")
            return [sum(rows)]

        sc.setJobGroup("flaky", "failing tasks, retried")
        assert sum(sc.parallelize(range(80_000), 4).mapPartitionsWithIndex(flaky).collect()) == sum(range(80_000))

        # A job cancelled while its tasks run: their attempts end killed.
        def sleepy(index: int, rows: Any) -> Any:
            time.sleep(90)
            return [index]

        cancelled: list[BaseException] = []

        def run_cancelled_job() -> None:
            sc.setJobGroup("cancel", "tasks to kill", interruptOnCancel=True)
            try:
                sc.parallelize(range(2), 2).mapPartitionsWithIndex(sleepy).collect()
            except Exception as exc:  # noqa: BLE001 - the cancellation is expected
                cancelled.append(exc)

        worker = threading.Thread(target=run_cancelled_job, daemon=True)
        worker.start()
        tracker = sc.statusTracker()

        def both_running() -> bool:
            for job_id in tracker.getJobIdsForGroup("cancel"):
                for stage_id in tracker.getJobInfo(job_id).stageIds:
                    info = tracker.getStageInfo(stage_id)
                    if info is not None and info.numActiveTasks == 2:
                        return True
            return False

        until(both_running, 120, "both tasks of the job to cancel to run")
        sc.cancelJobGroup("cancel")
        worker.join(timeout=120)
        assert not worker.is_alive() and len(cancelled) == 1

        # Spark is fine afterwards.
        sc.setJobGroup("after", "after the faults")
        assert sc.parallelize(range(1_000), 2).map(lambda x: x + 1).sum() == sum(range(1, 1_001))

        done, failed = spark_task_counts(sc, ["flaky", "cancel", "after"])
        assert failed == 3
        assert spark_bus_drops(sc) == 0
        probe.wait_for(lambda s: s["tasks"]["success"] == done and s["tasks"]["failed"] == failed
                       and s["tasks"]["killed"] == 2 and s["tasks"]["running"] == 0, timeout_s=60)
    finally:
        spark.stop()
    try:
        snap = probe.wait_for(lambda s: not s["running"], timeout_s=60)
    finally:
        probe.close()
    assert not snap["running"] and not snap["incomplete"]

    events = read_event_log(events_dir / app_id)
    spans, reasons = task_spans_from_log(events)
    busy = busy_ms_from_log(events)
    # Task counts: the agent's equal Spark's own (status tracker; the event log for killed ones).
    assert reasons.get("Success") == done
    assert reasons.get("ExceptionFailure") == failed
    assert reasons.get("TaskKilled") == 2
    tasks = snap["tasks"]
    assert (tasks["success"], tasks["failed"], tasks["killed"], tasks["resubmitted"]) == (done, failed, 2, 0)
    assert tasks["running"] == 0
    # Task time is the spans; busy core-seconds the cores the spans kept busy (spark.task.cpus = 1),
    # per executor and in total.
    assert tasks["run_seconds"] == pytest.approx(sum(spans.values()) / 1000, rel=1e-3)
    assert snap["busy_core_seconds"] == pytest.approx(sum(busy.values()) / 1000, rel=1e-3)
    for exec_id, ms in busy.items():
        assert snap["executors"][exec_id]["busy_core_seconds"] == pytest.approx(ms / 1000, rel=1e-3), exec_id
    # No negative idle anywhere.
    assert snap["idle_core_seconds"] >= 0 and snap["idle_executor_seconds"] >= 0
    assert all(v >= 0 for v in snap["idle_by_cause"].values())
    for exec_id, ex in snap["executors"].items():
        assert ex["idle_seconds"] >= 0 and all(v >= 0 for v in ex["idle_by_cause"].values()), exec_id
        assert ex["busy_core_seconds"] <= ex["cores"] * ex["lifetime_seconds"] + 1e-9, exec_id
    assert sum(snap["idle_by_cause"].values()) == pytest.approx(snap["idle_executor_seconds"])


# ---------------------------------------------------- 3. driver dies without ApplicationEnd
DRIVER_SCRIPT = """
import json, os, sys, time
from pyspark.sql import SparkSession
from pyspark import StorageLevel

conf, out = json.loads(sys.argv[1]), sys.argv[2]
builder = SparkSession.builder.master("local-cluster[2,1,1024]").appName("fault-driver-killed")
for key, value in conf.items():
    builder = builder.config(key, value)
spark = builder.getOrCreate()
sc = spark.sparkContext
sc.setLogLevel("ERROR")
deadline = time.monotonic() + 120
while sc._jsc.sc().getExecutorMemoryStatus().size() - 1 < 2 and time.monotonic() < deadline:
    time.sleep(0.1)
data = sc.parallelize(range(40000), 4).map(lambda x: x * 7).persist(StorageLevel.MEMORY_ONLY)
total = data.sum()
infos = list(sc._jsc.sc().getRDDStorageInfo())
report = {
    "app_id": sc.applicationId,
    "jvm_pid": int(sc._jvm.java.lang.ProcessHandle.current().pid()),
    "sum": total,
    "cached_partitions": sum(int(i.numCachedPartitions()) for i in infos),
    "cached_memory": sum(int(i.memSize()) for i in infos),
}
with open(out + ".tmp", "w") as fh:
    json.dump(report, fh)
os.rename(out + ".tmp", out)
time.sleep(300)  # the test kills this driver long before
"""


def test_driver_killed_without_application_end(tmp_path: Path) -> None:
    pytest.importorskip("pyspark")
    events_dir = tmp_path / "events"
    events_dir.mkdir()
    script = tmp_path / "driver.py"
    script.write_text(textwrap.dedent(DRIVER_SCRIPT))
    report_file = tmp_path / "driver.json"
    agent = sparkprobe.Agent(token=TOKEN, app_timeout_s=3)
    host, port = agent.start("127.0.0.1", 0)
    conf = {
        **BASE_CONF, **listener_conf(f"{host}:{port}"), **PLAIN_EVENT_LOG,
        "spark.eventLog.dir": str(events_dir),
    }
    driver_log = tmp_path / "driver.log"
    with driver_log.open("wb") as fh:
        driver = subprocess.Popen([sys.executable, str(script), json.dumps(conf), str(report_file)],
                                  stdout=fh, stderr=subprocess.STDOUT)
    report: dict[str, Any] = {}
    try:
        def reported() -> bool:
            if driver.poll() is not None:
                raise AssertionError(f"the driver exited early:\n{driver_log.read_text(errors='replace')[-4000:]}")
            return report_file.exists()

        until(reported, 240, "the driver to cache its data")
        report = json.loads(report_file.read_text())
        app_id = report["app_id"]
        assert report["sum"] == 7 * sum(range(40_000)) and report["cached_partitions"] == 4

        def delivered() -> bool:
            snap = agent.snapshot(app_id)
            return bool(snap) and snap["cached_blocks"] == 4 and snap["tasks"]["success"] == 4 \
                and snap["tasks"]["running"] == 0 and snap["jobs"]["finished"] == 1

        until(delivered, 60, "the agent to hold the cached data")
        in_progress = events_dir / f"{app_id}.inprogress"
        # Spark flushes its log at job end: wait until the job's end is on disk before the kill.
        until(lambda: in_progress.exists() and '"SparkListenerJobEnd"' in in_progress.read_text(errors="replace"),
              60, "the job end in the event log")

        killed_at_ms = int(time.time() * 1000)
        kill_quietly(report["jvm_pid"])  # the driver JVM: no shutdown hook, no ApplicationEnd
        driver.kill()
        driver.wait(timeout=30)
        rec = agent.app(app_id)
        assert rec is not None
        until(lambda: rec.closed_by_timeout, 60, "the agent to close the app by timeout")
        first = agent.snapshot(app_id)
        time.sleep(1.5)  # a later snapshot of a closed app measures nothing more
        second = agent.snapshot(app_id)
    finally:
        if report.get("jvm_pid"):
            kill_quietly(report["jvm_pid"])
        if driver.poll() is None:
            driver.kill()
            driver.wait(timeout=30)
        if report.get("app_id"):
            for pid in executor_pids(report["app_id"]).values():  # they exit on their own; make sure
                kill_quietly(pid)
        agent.stop()

    assert first == second
    assert first["closed_by_timeout"] is True and first["incomplete"] is True
    assert first["running"] is False
    assert first["end_ms"] is not None and first["start_ms"] <= first["end_ms"] <= killed_at_ms
    assert first["executors_active"] == 0 and first["tasks"]["running"] == 0
    assert first["cached_blocks"] == 4 and first["cached_bytes"]["memory"] == report["cached_memory"]

    # The same run's event log, cut by the kill: read without error, marked incomplete.
    (source,) = discover([events_dir])
    offline = analyze_source(source).to_json()
    assert offline["incomplete"] is True and offline["end_ms"] is None
    assert offline["source"]["in_progress"] is True
    assert offline["app_id"] == app_id
    for status in ("success", "failed", "killed"):
        assert offline["tasks"][status] == first["tasks"][status], status
    assert offline["busy_core_seconds"] == pytest.approx(first["busy_core_seconds"], rel=1e-9)
    assert offline["executors_added"] == first["executors_added"] == 2


# --------------------------------------------------------------------------------- 4. slow agent
class SlowAgent:
    """A fake agent on loopback: accepts the hello, then reads ``chunk`` bytes every ``pause_s``, at
    most ``budget`` bytes in all (then it stalls: a slow agent at its limit).

    ``fast`` switches it to reading everything as fast as it can. All after each hello is kept.
    """

    def __init__(self, chunk: int = 512, pause_s: float = 0.5, budget: int = 8 * 1024) -> None:
        self.chunk, self.pause_s, self.budget = chunk, pause_s, budget
        self.fast = threading.Event()
        self.done = threading.Event()
        self.hellos: list[dict[str, Any]] = []
        self.received = bytearray()
        self.lock = threading.Lock()
        self.server = socket.socket()
        # A small receive buffer (inherited by accepted sockets) so the slowness reaches the sender.
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(4)
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.done.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(0.5)
                self._handle(conn)

    def _handle(self, conn: socket.socket) -> None:
        hello = bytearray()
        while not hello.endswith(b"\n") and len(hello) < 65536 and not self.done.is_set():
            try:
                byte = conn.recv(1)
            except TimeoutError:
                continue
            except OSError:
                return
            if not byte:
                return
            hello += byte
        with self.lock:
            self.hellos.append(json.loads(hello))
        conn.sendall(b'{"ok":true}\n')
        while not self.done.is_set():
            fast = self.fast.is_set()
            if not fast and len(self.received) >= self.budget:
                self.fast.wait(0.1)
                continue
            try:
                data = conn.recv(1 << 20 if fast else min(self.chunk, self.budget - len(self.received)))
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.received += data
            if not fast:
                self.fast.wait(self.pause_s)

    def lines(self) -> list[dict[str, Any]]:
        with self.lock:
            raw = bytes(self.received)
        return [json.loads(x) for x in raw.split(b"\n")[:-1] if x.strip()]

    def close(self) -> None:
        self.done.set()
        self.server.close()
        self.thread.join(timeout=10)


def test_slow_agent_does_not_slow_or_break_the_job(spark_factory: Any) -> None:
    budget = 8 * 1024
    fake = SlowAgent(chunk=512, pause_s=0.5, budget=budget)  # 1 KB/s, and 8 KB at most
    try:
        spark = spark_factory("fault-slow-agent", listener_conf(
            f"127.0.0.1:{fake.port}", **{"spark.sparkprobe.queueCapacity": "32"}))
        sc = spark.sparkContext
        app_id = sc.applicationId
        wait_executors(sc, 2, timeout_s=120)
        until(lambda: fake.hellos, 60, "the listener's hello")
        assert fake.hellos[0]["app_id"] == app_id and fake.hellos[0]["token"] == TOKEN

        # Many short JVM tasks: far more event bytes than the slow agent reads.
        for i in range(2):
            assert spark.range(0, 200_000, 1, 64).selectExpr(f"sum(id * {i + 1}) AS s").collect()[0].s \
                == (i + 1) * sum(range(200_000))
        rows = sc.parallelize(range(30_000), 16).map(lambda x: (x % 3, x)).reduceByKey(lambda a, b: a + b).collect()
        assert sorted(rows) == [(k, sum(range(k, 30_000, 3))) for k in range(3)]
        # Spark's bus delivered every event to every listener, ours included, while the agent was
        # still at most 8 KB into the stream: the listener never waits for the agent.
        until(lambda: spark_bus_caught_up(sc), 60, "Spark's listener bus to deliver every event")
        assert not fake.fast.is_set() and len(fake.received) <= budget
        assert spark_bus_drops(sc) == 0  # and dropped nothing because of a slow agent

        fake.fast.set()  # let the fake agent catch up
        spark.stop()

        def ended() -> bool:
            kinds = [x.get("k") for x in fake.lines()]
            return "app_end" in kinds and kinds[-1] == "listener_stats"  # the final counters follow it

        until(ended, 60, "the app end and final stats at the fake agent")
    finally:
        fake.fast.set()
        fake.close()
    lines = fake.lines()
    assert len(fake.received) > 4 * budget  # the stream was far longer than what the agent read meanwhile
    # The replay markers bracket what the listener repeats after each hello (docs/wire-format.md),
    # and the resource profiles Spark registered before the app started may precede app_start.
    kinds = [k for x in lines if (k := x.get("k")) not in ("replay_start", "replay_end", "resource_profile_added")]
    # The preamble (conf, and app_start once Spark announced the app) comes first; app_start is
    # sent once either way: in the preamble, or through the queue when the listener connected first.
    assert kinds[0] in ("app_start", "conf") and kinds.count("app_start") == kinds.count("conf") == 1
    assert kinds.count("app_end") == 1
    assert len(fake.hellos) == 1  # slow is not broken: the listener never reconnected
    stats = [x for x in lines if x.get("k") == "listener_stats"]
    final = stats[-1]
    assert final["reconnects"] == 0
    assert all(a["dropped"] <= b["dropped"] and a["offered"] <= b["offered"] for a, b in itertools.pairwise(stats))
    # No silent loss: every event the listener took is received or counted as dropped (its queue
    # of 32 may or may not have overflowed, depending on the machine's speed and socket buffers).
    # What the replay after the hello repeats (resource profiles, block managers, conf...) was
    # never offered to the queue. The other way round, an offered app_start, conf or executor_added
    # whose very line the replay already carried is not sent twice (SendLoop.append). So no silent
    # loss: every offered event that was not dropped arrived outside the replay, or is one of
    # those replayed lines.
    events, replayed_once, replaying = [], 0, False
    for x in lines:
        kind = x.get("k")
        if kind in ("replay_start", "replay_end"):
            replaying = kind == "replay_start"
        elif replaying:
            replayed_once += kind in ("app_start", "conf", "executor_added")
        elif kind != "listener_stats":
            events.append(x)
    assert len(events) + replayed_once >= final["offered"] - final["dropped"], (final, len(events), replayed_once)
    assert sum(x.get("k") == "task_end" for x in events) <= final["offered"]
