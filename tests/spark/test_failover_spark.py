"""Failover on real local-cluster Spark, with real ``sparkprobe agent`` processes (issue 17, "Must show"):

1. two agents behind one DNS name that resolves to two addresses; the agent holding the app is
   SIGKILLed while the executors still hold the cache; the listener moves to the other agent, which
   reports the cache lost when dynamic allocation reclaims the executors exactly as Spark's storage
   figures said, and the rebuild after it;
2. the same with one agent restarted on the same port (a pod restart);
3. SIGTERM on the agent holding the app (``endpoint=a,b``): the listener is sent to the other one at
   once, without backoff; nothing is counted twice;
4. through all of it the job's output is right and Spark's own ``numDroppedEvents`` stays 0.

The listener connects to the agents of its endpoint list (and the addresses of each name) starting
at a random one, so each test first finds which agent holds the app. Every wait is bounded; nothing
here asserts how long anything took (the SIGTERM test prints the reconnect time it measured, for
docs/benchmarks.md). CI runs these on one Spark line (``SPARKPROBE_FAILOVER_LINES``, default the
newest); ``SPARKPROBE_FAILOVER_LINES=all`` runs them on every line.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from test_faults_spark import (
    listener_conf,
    scrape_app,
    spark_bus_drops,
    start_agent_process,
    until,
)

from conftest import DYNAMIC_CONF, IN_CI, free_port, spark_rdd_storage, wait_executors

pytestmark = pytest.mark.spark

#: Reclaim cached executors late enough that the kill and the replay come first, early enough
#: that the test does not idle long.
FAILOVER_CONF = {
    **DYNAMIC_CONF,
    "spark.dynamicAllocation.cachedExecutorIdleTimeout": "15s",
    "spark.dynamicAllocation.executorIdleTimeout": "15s",
    "spark.sparkprobe.maxBackoffMs": "500",
}


def _listener_replays() -> bool:
    """The installed listener sends the replay and reads the go-elsewhere line (issue 17's listener part)."""
    import zipfile

    import sparkprobe

    with zipfile.ZipFile(sparkprobe.jar_path()) as jar:
        try:
            return b"replay_start" in jar.read("io/sparkprobe/Preamble.class")
        except KeyError:
            return False


def _lines_here() -> None:
    if not _listener_replays():
        pytest.skip("this build's listener sends no replay yet: its failover part lands on top of the listener "
                    "split (branch java-perf); see docs/reliability.md")
    wanted = os.environ.get("SPARKPROBE_FAILOVER_LINES", "4." if IN_CI else "all")
    line = os.environ.get("SPARKPROBE_EXPECT_PYSPARK", "")
    if wanted != "all" and line and not line.startswith(tuple(wanted.split(","))):
        pytest.skip(f"failover tests run on pyspark {wanted} here (SPARKPROBE_FAILOVER_LINES); this is {line}")


@dataclass
class AgentProc:
    """One ``sparkprobe agent`` process and where it listens."""

    listen: str
    metrics: str
    log: Path
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://{self.metrics}/metrics"

    def holds(self, app_id: str) -> bool:
        """This agent has a live connection for the app (its series exist and say connected)."""
        try:
            m = scrape_app(self.url, app_id)
        except OSError:
            return False
        return bool(m) and _open_connections(self.url) > 0

    def samples(self, app_id: str) -> dict[tuple[str, Any], float]:
        return scrape_app(self.url, app_id)


def _open_connections(url: str) -> float:
    import urllib.request

    body = urllib.request.urlopen(url, timeout=10).read().decode()
    found = re.search(r"^sparkprobe_agent_connections_open (\S+)$", body, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[list[AgentProc]]:
    _lines_here()
    started: list[AgentProc] = []

    def start(listen: str, name: str) -> AgentProc:
        metrics = f"127.0.0.1:{free_port()}"
        log = tmp_path / f"{name}.log"
        agent = AgentProc(listen, metrics, log, start_agent_process(listen, metrics, log,
                                                                    ("--last-scrape-timeout", "10")))
        started.append(agent)
        return agent

    start.started = started  # type: ignore[attr-defined]
    yield start  # type: ignore[misc]
    for agent in started:
        if agent.proc.poll() is None:
            agent.proc.kill()
            agent.proc.wait(timeout=30)
        assert "Traceback" not in agent.log.read_text(errors="replace"), agent.log.read_text()[-3000:]


def hosts_file(tmp_path: Path, name: str, addresses: list[str]) -> Path:
    """A hosts file for the driver JVM (``-Djdk.net.hosts.file``): ``name`` → ``addresses``."""
    path = tmp_path / "hosts"
    local = ["127.0.0.1 localhost", f"127.0.0.1 {socket.gethostname()}"]
    path.write_text("\n".join(local + [f"{a} {name}" for a in addresses]) + "\n")
    return path


def cache_and_count(sc: Any) -> tuple[Any, dict[int, tuple[int, int, int]]]:
    """Cache 4 partitions (MEMORY_ONLY); Spark's own storage figures for them."""
    from pyspark import StorageLevel

    data = sc.parallelize(range(80_000), 4).map(lambda x: x * 3).persist(StorageLevel.MEMORY_ONLY)
    assert data.count() == 80_000
    storage = until(lambda: spark_rdd_storage(sc).get(data.id()) if spark_rdd_storage(sc).get(data.id(), (0, 0, 0))[2]
                    == 4 else None, 60, "Spark to report the 4 cached partitions")
    return data, {data.id(): storage}


def spark_executors_gone(sc: Any) -> bool:
    return bool(sc._jsc.sc().getExecutorMemoryStatus().size() == 1)  # the driver's block manager only


def check_takeover(survivor: AgentProc, app_id: str, sc: Any, data: Any, storage: tuple[int, int, int]) -> None:
    """The agent that took the app over: the cache from the replay, its loss on reclaim, the rebuild."""
    mem, disk, partitions = storage
    blocks = ("sparkprobe_cached_blocks", ())
    until(lambda: survivor.samples(app_id).get(blocks) == partitions, 60,
          "the replay of the cached blocks on the agent that took the app over")
    m = survivor.samples(app_id)
    assert m[("sparkprobe_cached_bytes", (("storage", "memory"),))] == mem
    assert m[("sparkprobe_app_incomplete", ())] == 1  # taken over: figures start at the replay
    # Dynamic allocation reclaims the idle executors, and their cache with them.
    until(lambda: spark_executors_gone(sc), 120, "dynamic allocation to reclaim the executors")
    lost = ("sparkprobe_cache_lost_blocks_total", (("reason", "dynamic_allocation"),))
    m = until(lambda: (s := survivor.samples(app_id)).get(lost) == partitions and s, 60,
              "the cache loss on the agent that took the app over")
    assert m[("sparkprobe_cache_lost_bytes_total", (("reason", "dynamic_allocation"),))] == mem + disk
    # The next job recomputes it: the rebuild is counted, and the result is right.
    assert data.sum() == 3 * sum(range(80_000))
    m = until(lambda: (s := survivor.samples(app_id)).get(("sparkprobe_cache_recomputed_blocks_total", ()))
              == partitions and s, 120, "the rebuild")
    assert spark_bus_drops(sc) == 0


# --------------------------------------------------- 1. two agents behind one name, SIGKILL of the holder
def test_sigkill_of_the_agent_holding_the_app(agents: Any, spark_factory: Any, tmp_path: Path) -> None:
    port = free_port()
    a = agents(f"127.0.0.2:{port}", "agent-a")
    b = agents(f"127.0.0.3:{port}", "agent-b")
    name = "agents.sparkprobe.test"
    hosts = hosts_file(tmp_path, name, ["127.0.0.2", "127.0.0.3"])
    conf = {**FAILOVER_CONF, **listener_conf(f"{name}:{port}"),
            "spark.driver.extraJavaOptions": f"-Djdk.net.hosts.file={hosts}", "spark.driver.host": "127.0.0.1"}
    spark = spark_factory("failover-sigkill", conf)
    sc = spark.sparkContext
    app_id = sc.applicationId
    wait_executors(sc, 2, timeout_s=120)
    data, storage = cache_and_count(sc)
    holder = until(lambda: next((x for x in (a, b) if x.holds(app_id)), None), 60, "an agent to hold the app")
    survivor = b if holder is a else a
    holder.proc.kill()  # SIGKILL, before the executors are reclaimed
    holder.proc.wait(timeout=30)
    check_takeover(survivor, app_id, sc, data, storage[data.id()])
    spark.stop()
    until(lambda: survivor.samples(app_id).get(("sparkprobe_app_running", ())) == 0, 60,
          "the app end on the agent that took it over")


# ------------------------------------------------------------- 2. one agent restarted on the same port
def test_agent_restarted_on_the_same_port(agents: Any, spark_factory: Any, tmp_path: Path) -> None:
    listen = f"127.0.0.1:{free_port()}"
    first = agents(listen, "agent-1")
    spark = spark_factory("failover-restart", {**FAILOVER_CONF, **listener_conf(listen)})
    sc = spark.sparkContext
    app_id = sc.applicationId
    wait_executors(sc, 2, timeout_s=120)
    data, storage = cache_and_count(sc)
    until(lambda: first.holds(app_id), 60, "the agent to hold the app")
    first.proc.kill()
    first.proc.wait(timeout=30)
    again = agents(listen, "agent-1-restarted")  # a new process on the same port: a pod restart
    check_takeover(again, app_id, sc, data, storage[data.id()])
    spark.stop()
    until(lambda: again.samples(app_id).get(("sparkprobe_app_running", ())) == 0, 60, "the app end")


# ------------------------------------------------------------- 3. SIGTERM: sent elsewhere, counted once
def test_sigterm_sends_the_app_to_the_other_agent(agents: Any, spark_factory: Any) -> None:
    a = agents(f"127.0.0.1:{free_port()}", "agent-a")
    b = agents(f"127.0.0.1:{free_port()}", "agent-b")
    conf = {**listener_conf(f"{a.listen},{b.listen}"), "spark.sparkprobe.maxBackoffMs": "500"}
    spark = spark_factory("failover-sigterm", conf)
    sc = spark.sparkContext
    app_id = sc.applicationId
    wait_executors(sc, 2, timeout_s=120)
    sc.setJobGroup("before", "before the stop")
    assert sc.parallelize(range(60_000), 4).map(lambda x: x + 1).sum() == sum(range(1, 60_001))
    holder = until(lambda: next((x for x in (a, b) if x.holds(app_id)), None), 60, "an agent to hold the app")
    other = b if holder is a else a
    success = ("sparkprobe_tasks_finished_total", (("status", "success"),))
    until(lambda: holder.samples(app_id).get(success) == 4, 60, "the first job on the holder")

    sent_at = time.monotonic()
    holder.proc.send_signal(signal.SIGTERM)
    until(lambda: other.holds(app_id), 30, "the app on the other agent")
    moved_s = time.monotonic() - sent_at
    final_old = holder.samples(app_id)  # the last scrape the stopping agent waited for
    assert holder.proc.wait(timeout=60) == 0
    print(f"\nSIGTERM -> the app connected to the other agent after {moved_s:.3f} s (measured, not asserted; "
          f"load {os.getloadavg()[0]:.2f})")

    sc.setJobGroup("after", "after the stop")
    assert sc.parallelize(range(40_000), 4).filter(lambda x: x % 3 == 0).count() == len(range(0, 40_000, 3))
    assert spark_bus_drops(sc) == 0
    spark.stop()
    new = until(lambda: (s := other.samples(app_id)).get(("sparkprobe_app_running", ())) == 0 and s, 60,
                "the app end on the other agent")
    # Nothing counted twice, nothing lost: each task once, on one agent or the other.
    assert final_old[success] + new[success] == 8
    assert final_old[("sparkprobe_listener_events_dropped_total", ())] == 0
    assert new[("sparkprobe_listener_events_dropped_total", ())] == 0
    # The stopping agent's copy is frozen (its last scrape shows no running task and the first
    # job only); the new agent's copy took over: its figures start at the replay.
    assert final_old[("sparkprobe_tasks_running", ())] == 0 and final_old[success] == 4
    assert new[("sparkprobe_app_incomplete", ())] == 1
    log = holder.log.read_text(errors="replace")
    assert "listeners_sent_elsewhere" in log and "agent_drained" in log
