"""The live path on real local-cluster Spark: figures on /metrics equal what Spark itself reports."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

import sparkprobe
from conftest import DYNAMIC_CONF, free_port, spark_cached, wait_executors

pytestmark = pytest.mark.spark
TOKEN = "test-token-1"


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body = urllib.request.urlopen(url, timeout=10).read().decode()
    out = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            labels = tuple(sorted((k, v) for k, v in s.labels.items() if k not in ("app_id", "app_name")))
            out[(s.name, labels)] = s.value
    return out


def poll(fn: Any, timeout_s: float = 60.0) -> Any:
    """Call fn until it returns a truthy value (bounded); return the last value."""
    deadline = time.monotonic() + timeout_s
    value = fn()
    while not value and time.monotonic() < deadline:
        time.sleep(0.2)
        value = fn()
    return value


def completed_tasks(sc: Any) -> int:
    tracker = sc.statusTracker()
    # Spark's status store trails the action that just returned: wait (bounded) for the jobs to end.
    poll(lambda: all(
        (info := tracker.getJobInfo(j)) is not None and str(info.status) in ("SUCCEEDED", "FAILED")
        for j in tracker.getJobIdsForGroup()
    ), 30)
    total = 0
    for job_id in tracker.getJobIdsForGroup():
        for stage_id in tracker.getJobInfo(job_id).stageIds:
            info = tracker.getStageInfo(stage_id)
            total += info.numCompletedTasks if info else 0
    return total


def spark_executor_counts(sc: Any) -> tuple[int, int]:
    """(executors ever added, executors removed) as Spark's status store reports them."""
    seq = sc._jsc.sc().statusStore().executorList(False)
    execs = [seq.apply(i) for i in range(seq.size())]
    execs = [e for e in execs if e.id() != "driver"]
    return len(execs), sum(1 for e in execs if not e.isActive())


@pytest.fixture
def agent_process() -> Iterator[tuple[str, str]]:
    """`sparkprobe agent` as users run it: a separate process on loopback ports."""
    listen, metrics = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sparkprobe.cli", "agent", "--listen", listen, "--metrics", metrics, "--token", TOKEN],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://{metrics}/metrics"
    assert poll(lambda: _up(url), 30), "agent did not start"
    yield listen, url
    proc.terminate()
    out, _ = proc.communicate(timeout=30)
    assert "Traceback" not in out, out


def _up(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2)
        return True
    except OSError:
        return False


def test_extra_listeners_and_agent_match_spark(spark_factory: Any, agent_process: tuple[str, str]) -> None:
    listen, url = agent_process
    spark = spark_factory("live-extra-listeners", {
        "spark.jars": sparkprobe.jar_path(),
        "spark.extraListeners": sparkprobe.LISTENER_CLASS,
        "spark.sparkprobe.endpoint": listen,
        "spark.sparkprobe.token": TOKEN,
    })
    sc = spark.sparkContext
    wait_executors(sc, 2)
    from pyspark import StorageLevel

    data = sc.parallelize(range(200_000), 6).map(lambda x: x * 2).persist(StorageLevel.MEMORY_ONLY)
    assert data.sum() == 2 * sum(range(200_000))  # the job's own result, unchanged
    assert data.filter(lambda x: x % 3 == 0).count() == len(range(0, 400_000, 6))
    mem, disk, parts = spark_cached(sc)
    assert parts == 6 and mem > 0
    tasks = completed_tasks(sc)
    added, removed = spark_executor_counts(sc)

    def matches() -> dict[Any, float] | None:
        m = scrape(url)
        ok = (
            m.get(("sparkprobe_cached_bytes", (("storage", "memory"),))) == mem
            and m.get(("sparkprobe_tasks_finished_total", (("status", "success"),))) == tasks
            and m.get(("sparkprobe_executors_added_total", ())) == added
        )
        return m if ok else None

    m = poll(matches) or scrape(url)
    assert m.get(("sparkprobe_cached_bytes", (("storage", "memory"),))) == mem
    assert m.get(("sparkprobe_cached_bytes", (("storage", "disk"),))) == disk
    assert m.get(("sparkprobe_cached_blocks", ())) == parts
    assert m.get(("sparkprobe_tasks_finished_total", (("status", "success"),))) == tasks
    assert m.get(("sparkprobe_tasks_finished_total", (("status", "failed"),))) == 0
    assert m.get(("sparkprobe_executors_added_total", ())) == added == 2
    assert m.get(("sparkprobe_executors_active", ())) == added - removed
    assert sum(v for (name, _), v in m.items() if name == "sparkprobe_executors_removed_total") == removed
    assert m.get(("sparkprobe_listener_events_dropped_total", ())) == 0
    assert m.get(("sparkprobe_tasks_running", ())) == 0
    assert spark_bus_drops(sc) == 0
    spark.stop()
    assert poll(lambda: scrape(url).get(("sparkprobe_app_running", ())) == 0), "app end not seen"


def test_attach_to_a_running_session(spark_factory: Any) -> None:
    from pyspark import StorageLevel

    spark = spark_factory("live-attach", DYNAMIC_CONF)
    sc = spark.sparkContext
    wait_executors(sc, 2)
    data = sc.parallelize(range(100_000), 4).map(lambda x: (x % 7, x)).persist(StorageLevel.MEMORY_ONLY)
    data.count()  # cached before sparkprobe exists: attach must find it
    mem, disk, parts = spark_cached(sc)
    probe = sparkprobe.attach(spark, metrics="127.0.0.1:0")
    tasks_before_attach = completed_tasks(sc)
    try:
        snap = probe.wait_for(lambda s: s["cached_blocks"] == parts and s["executors_active"] == 2)
        assert snap["cached_bytes"] == {"memory": mem, "disk": disk}
        assert snap["executors_added"] == 2
        assert probe.metrics_url is not None and "sparkprobe_cached_bytes" in urllib.request.urlopen(
            probe.metrics_url, timeout=10).read().decode()
        # Dynamic allocation reclaims both executors after cachedExecutorIdleTimeout: all is lost.
        snap = probe.wait_for(lambda s: s["executors_removed"] == 2, timeout_s=90)
        _, removed = spark_executor_counts(sc)
        assert snap["executors_removed"] == removed == 2
        assert snap["removed_by_reason"] == {"dynamic_allocation": 2}
        assert (snap["cache_lost_blocks"], snap["cache_lost_bytes"]) == (parts, mem + disk)
        assert snap["cached_bytes"] == {"memory": 0, "disk": 0}
        # The next action recomputes every lost block on new executors.
        assert data.map(lambda kv: kv[1]).sum() == sum(range(100_000))
        snap = probe.wait_for(lambda s: s["cache_recomputed_blocks"] == parts and s["tasks"]["running"] == 0)
        assert snap["cache_recomputed_blocks"] == parts
        assert snap["cache_recompute_seconds"] > 0
        # Tasks that ended before attach are not replayed (Spark keeps no task history to replay).
        assert snap["tasks"]["success"] == completed_tasks(sc) - tasks_before_attach
    finally:
        probe.close()


def test_job_runs_normally_with_the_agent_down(spark_factory: Any) -> None:
    closed = free_port()  # nothing listens here
    spark = spark_factory("agent-down", {
        "spark.jars": sparkprobe.jar_path(),
        "spark.extraListeners": sparkprobe.LISTENER_CLASS,
        "spark.sparkprobe.endpoint": f"127.0.0.1:{closed}",
    })
    sc = spark.sparkContext
    rdd = sc.parallelize(range(50_000), 8).map(lambda x: x % 11).cache()
    assert rdd.sum() == sum(x % 11 for x in range(50_000))
    assert rdd.distinct().count() == 11
    # Spark's own bus lost nothing because of us.
    assert spark_bus_drops(sc) == 0


def spark_bus_drops(sc: Any) -> int:
    """Events Spark's own listener bus dropped, summed over its queues (numDroppedEvents)."""
    counters = sc._jsc.sc().listenerBus().metrics().metricRegistry().getCounters()
    names = [n for n in counters.keySet() if str(n).endswith("numDroppedEvents")]
    assert names, "Spark's listener bus exposes no numDroppedEvents counter"
    return sum(int(counters.get(n).getCount()) for n in names)
