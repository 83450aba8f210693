"""Memory and money on real Spark (issue 15's "Must show"), on both Spark lines.

1. Container sizes equal Spark's own code: ``ResourceProfile.getResourcesForClusterManager`` called
   in a real Spark JVM (py4j) for YARN and Kubernetes confs, default and custom resource profiles.
2. A local-cluster job whose executors get far more heap than they use, process-tree metrics on, a
   JVM stage and a PySpark stage whose Python workers hold memory: each executor's peaks equal the
   maxima of the run's own event log and what Spark's REST API reports as ``peakMemoryMetrics``
   while the app runs, live (``Probe.snapshot()`` and ``/metrics``) and offline (``sparkprobe
   analyze``) alike; Python RSS is measured; the advice lowers ``spark.executor.memory`` and names
   ``spark.executor.pyspark.memory`` for the Python memory, not the heap; with prices, cost and
   wasted cost are the ledgers x the prices.

An executor lost to memory (advice that raises, never lowers; no money figure without a price) is
test_executor_faults_spark's OutOfMemoryError run. The live half of 2 needs the listener to send
``executor_metrics`` (docs/wire-format.md). Every wait is bounded, nothing asserts how long
anything took.

Heartbeats: Spark attributes an executor's first heartbeat after a stage to that stage, the event
log does not keep it and the REST API does (docs/decisions.md 28). So that the three sources can be
compared exactly, these runs poll each task's metrics every 100 ms
(``spark.executor.metrics.pollingInterval``) and keep heartbeats out of the run (a 100 s interval:
the first comes 100 to 200 s after an executor starts).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from test_executor_faults_spark import analyze_json
from test_faults_spark import PLAIN_EVENT_LOG, read_event_log, scrape_app, until

import sparkprobe
from conftest import wait_executors
from sparkprobe.analysis.memory import MIB, executor_request
from sparkprobe.analysis.settings import MemorySettings
from sparkprobe.events import EXECUTOR_METRIC_NAMES, ResourceProfileAdded
from sparkprobe.model import RequestArea

pytestmark = pytest.mark.spark
GIB = float(1 << 30)

#: Executors of 1 GiB heap (all a local-cluster[2,1,1024] Worker has), process-tree metrics on, each
#: task's peaks polled every 100 ms, no heartbeat within the run, stage peaks in the event log.
MEMORY_CONF = {
    "spark.executor.memory": "1g",
    "spark.executor.processTreeMetrics.enabled": "true",
    "spark.executor.metrics.pollingInterval": "100ms",
    "spark.executor.heartbeatInterval": "100s",
    "spark.network.timeout": "600s",
    "spark.eventLog.logStageExecutorMetrics": "true",
    "spark.ui.enabled": "true",
    "spark.ui.port": "0",
    "spark.dynamicAllocation.enabled": "false",
}
#: Keys only one side can know (as in test_parity).
TRANSPORT_ONLY = {"events_received", "events_replayed", "listener", "incomplete", "closed_by_timeout", "gaps",
                  "bad_lines", "source"}
MEMORY_NAMES = {n for n in EXECUTOR_METRIC_NAMES if n.endswith("Memory")}


def log_peaks(events: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Executor id → Spark memory metric → its maximum in the event log (stage and task peaks)."""
    peaks: dict[str, dict[str, int]] = {}

    def take(exec_id: str, metrics: dict[str, int] | None) -> None:
        for name, value in (metrics or {}).items():
            if name in MEMORY_NAMES and value > peaks.setdefault(exec_id, {}).get(name, 0):
                peaks[exec_id][name] = value

    for e in events:
        if e["Event"] == "SparkListenerStageExecutorMetrics":
            take(e["Executor ID"], e["Executor Metrics"])
        elif e["Event"] == "SparkListenerTaskEnd":
            take(e["Task Info"]["Executor ID"], e.get("Task Executor Metrics"))
    return {k: v for k, v in peaks.items() if v}


def rest_peaks(sc: Any) -> dict[str, dict[str, int]]:
    """Spark's REST API: each executor's ``peakMemoryMetrics`` (memory names above 0), the driver apart."""
    url = f"{sc.uiWebUrl}/api/v1/applications/{sc.applicationId}/executors"
    out = {}
    for ex in json.loads(urllib.request.urlopen(url, timeout=10).read()):
        if ex["id"] != "driver":
            peaks = ex.get("peakMemoryMetrics") or {}
            out[ex["id"]] = {k: v for k, v in peaks.items() if k in MEMORY_NAMES and v > 0}
    return out


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k not in TRANSPORT_ONLY}


def log_path(events_dir: Path, app_id: str) -> Path:
    (path,) = [p for p in events_dir.iterdir() if p.name.startswith(app_id)]
    return path


# ------------------------------------------------------------------------- 1. Spark's own sizes
def test_container_sizes_equal_sparks_own_code() -> None:
    """Our executor_request against ResourceProfile.getResourcesForClusterManager in a real Spark JVM."""
    pytest.importorskip("pyspark")
    from pyspark.java_gateway import launch_gateway

    gateway = launch_gateway()
    try:
        jvm = gateway.jvm
        version = _spark_version(jvm)
        rp_object = getattr(jvm.org.apache.spark.resource, "ResourceProfile$").__getattr__("MODULE$")
        config = getattr(jvm.org.apache.spark.internal.config, "package$").__getattr__("MODULE$")
        k8s_config = getattr(jvm.org.apache.spark.deploy.k8s, "Config$").__getattr__("MODULE$")
        empty = jvm.org.apache.spark.api.python.PythonUtils.toScalaMap(jvm.java.util.HashMap())
        spark4 = version.startswith("4.")
        cases: list[dict[str, str]] = [
            {"spark.master": "yarn"},
            {"spark.master": "yarn", "spark.executor.memory": "4g"},
            {"spark.master": "yarn", "spark.executor.memory": "28g", "spark.executor.memoryOverhead": "8g"},
            {"spark.master": "yarn", "spark.executor.memory": "3500m", "spark.executor.memoryOverheadFactor": "0.25"},
            {"spark.master": "yarn", "spark.executor.memory": "2g", "spark.executor.minMemoryOverhead": "1g"},
            {"spark.master": "yarn", "spark.executor.memory": "6g", "spark.memory.offHeap.enabled": "true",
             "spark.memory.offHeap.size": "2147483648"},
            {"spark.master": "yarn", "spark.executor.memory": "6g", "spark.memory.offHeap.size": "1g"},
            {"spark.master": "yarn", "spark.executor.memory": "6g", "spark.executor.pyspark.memory": "2g",
             "spark.yarn.isPython": "true"},
            {"spark.master": "yarn", "spark.executor.memory": "6g", "spark.executor.pyspark.memory": "2g",
             "spark.yarn.isPython": "false"},
            {"spark.master": "yarn", "spark.executor.memory": "5g", "spark.yarn.executor.memoryOverhead": "1500"},
            {"spark.master": "k8s://https://k:443", "spark.executor.memory": "4g",
             "spark.kubernetes.memoryOverheadFactor": "0.4"},
            {"spark.master": "k8s://https://k:443", "spark.executor.memory": "4g",
             "spark.kubernetes.memoryOverheadFactor": "0.4", "spark.executor.memoryOverheadFactor": "0.2"},
            {"spark.master": "k8s://https://k:443", "spark.executor.memory": "8g",
             "spark.executor.pyspark.memory": "1g", "spark.kubernetes.resource.type": "python"},
        ]
        checked = 0
        mismatches = []
        for conf in cases:
            # Spark knows whether the app is Python (spark-submit sets these); say it, as the listener
            # will forward them: unset is sparkprobe's "unknown", a case Spark never has.
            if conf["spark.master"].startswith("k8s"):
                conf = {"spark.kubernetes.resource.type": "java", **conf}
            else:
                conf = {"spark.yarn.isPython": "false", **conf}
            jconf = jvm.org.apache.spark.SparkConf(False)
            for key, value in conf.items():
                jconf.set(key, value)
            rp_object.reInitDefaultProfile(jconf)
            default = rp_object.getOrCreateDefaultProfile(jconf)
            custom = (
                jvm.org.apache.spark.resource.ResourceProfileBuilder()
                .require(jvm.org.apache.spark.resource.ExecutorResourceRequests().memory("3g").cores(2))
                .build()
            )
            custom_overhead = (
                jvm.org.apache.spark.resource.ResourceProfileBuilder()
                .require(jvm.org.apache.spark.resource.ExecutorResourceRequests().memory("3g")
                         .memoryOverhead("700m").pysparkMemory("512m"))
                .build()
            )
            kubernetes = conf["spark.master"].startswith("k8s")
            if kubernetes:
                factor = (jconf.get(config.EXECUTOR_MEMORY_OVERHEAD_FACTOR())
                          if jconf.contains(config.EXECUTOR_MEMORY_OVERHEAD_FACTOR())
                          else jconf.get(k8s_config.MEMORY_OVERHEAD_FACTOR()))
                python = conf.get("spark.kubernetes.resource.type") == "python"
            else:
                factor = jconf.get(config.EXECUTOR_MEMORY_OVERHEAD_FACTOR())
                python = bool(jconf.get(config.IS_PYTHON_APP()))
            for profile in (default, custom, custom_overhead):
                if spark4:
                    minimum = jconf.get(config.EXECUTOR_MIN_MEMORY_OVERHEAD())
                    spark = rp_object.getResourcesForClusterManager(
                        profile.id(), profile.executorResources(), minimum, factor, jconf, python, empty)
                else:
                    spark = rp_object.getResourcesForClusterManager(
                        profile.id(), profile.executorResources(), factor, jconf, python, empty)
                expected = {
                    "heap": spark.executorMemoryMiB(), "overhead": spark.memoryOverheadMiB(),
                    "offheap": spark.memoryOffHeapMiB(), "pyspark": spark.pysparkMemoryMiB(),
                    "container": spark.totalMemMiB(),
                }
                profiles = {0: _profile(default, 0)}
                pid = 0 if profile.id() == default.id() else 7
                if pid:
                    profiles[pid] = _profile(profile, pid)
                settings = MemorySettings(conf, version)
                for known in (profiles, {k: v for k, v in profiles.items() if k != 0}):
                    ours = executor_request(settings, known, pid)
                    got = {area.value: ours[area] // MIB for area in RequestArea}
                    if got != expected:
                        mismatches.append((conf, pid, known is profiles, got, expected))
                    checked += 1
        assert mismatches == []
        assert checked == len(cases) * 3 * 2
    finally:
        gateway.shutdown()


def _spark_version(jvm: Any) -> str:
    return str(getattr(jvm.org.apache.spark, "package$").__getattr__("MODULE$").SPARK_VERSION())


def _profile(profile: Any, profile_id: int) -> ResourceProfileAdded:
    amounts = {str(k): int(v.amount()) for k, v in profile.executorResourcesJMap().items()}
    return ResourceProfileAdded(profile_id, amounts)


# ------------------------------------------------------------------ 2. peaks, advice and cost
def test_peaks_equal_the_event_log_and_the_rest_api_and_cost_is_the_ledgers_times_prices(
    spark_factory: Any, tmp_path: Path
) -> None:
    from pyspark.sql import functions

    probes: list[sparkprobe.Probe] = []
    conf = {
        **MEMORY_CONF,
        **PLAIN_EVENT_LOG,
        "spark.eventLog.dir": str(tmp_path),
        "spark.sparkprobe.price.coreHour": "0.05",
        "spark.sparkprobe.price.gibHour": "0.01",
    }
    spark = spark_factory(
        "memory-peaks", conf, builder_hook=lambda b: probes.append(sparkprobe.configure(b, metrics="127.0.0.1:0"))
    )
    (probe,) = probes
    try:
        sc = spark.sparkContext
        app_id = sc.applicationId
        wait_executors(sc, 2)
        # JVM work (no Python per row), tasks of a few hundred ms: polled every 100 ms.
        rows = (
            spark.range(0, 4_000_000, numPartitions=4)
            .selectExpr("id % 20000 AS k", "id")
            .groupBy("k")
            .agg(functions.sum("id").alias("s"))
            .collect()
        )
        assert len(rows) == 20_000 and sum(r["s"] for r in rows) == sum(range(4_000_000))
        # Python workers that hold memory (a function defined here is pickled by value, so the
        # executors' Python workers need not import this module).
        def hold_lists(rows: Any) -> Any:
            import time

            held = [list(range(1000)) for _ in range(10_000)]  # ~300 MB of Python objects
            time.sleep(1.5)  # long enough for several 100 ms polls
            yield sum(len(x) for x in held) + sum(rows)

        total = sum(sc.parallelize(range(4), 4).mapPartitions(hold_lists).collect())
        assert total == 4 * 10_000 * 1000 + sum(range(4))
        rest = until(lambda: (r := rest_peaks(sc)) and len(r) == 2 and all(r.values()) and r, 30,
                     "Spark's REST API to show both executors' peaks")
        # While the app runs: the snapshot and /metrics show the REST API's peaks, executor by executor.
        live = probe.wait_for(
            lambda s: all(s["executors"].get(e, {}).get("peak_memory") == p for e, p in rest.items()), timeout_s=60
        )
        assert probe.metrics_url is not None
        shown = scrape_app(probe.metrics_url, app_id)
        for area, metric in (("jvm_heap", "JVMHeapMemory"), ("process_rss", "ProcessTreeJVMRSSMemory")):
            assert shown[("sparkprobe_memory_peak_bytes", (("area", area),))] == max(p[metric] for p in rest.values())
        assert live["memory"]["peak"]["jvm_heap"] == max(p["JVMHeapMemory"] for p in rest.values())
        assert live["memory"]["peak"]["python_rss"] == max(p["ProcessTreePythonRSSMemory"] for p in rest.values())
        assert rest_peaks(sc) == rest  # nothing moved the peaks meanwhile (no heartbeat, no task)
    finally:
        spark.stop()
    final = probe.wait_for(lambda s: not s["running"], timeout_s=30)
    assert probe.metrics_url is not None
    shown = scrape_app(probe.metrics_url, app_id)
    probe.close()

    log = log_path(tmp_path, app_id)
    events = read_event_log(log)
    peaks = log_peaks(events)
    offline = analyze_json(log)
    # The event log's maxima = the REST API's peaks = live = offline, executor by executor.
    assert peaks == rest
    for exec_id, expected in peaks.items():
        assert final["executors"][exec_id]["peak_memory"] == expected, exec_id
        assert offline["executors"][exec_id]["peak_memory"] == expected, exec_id
    assert comparable(final) == comparable(offline)
    m = final["memory"]
    assert m["available"] and m["process_tree"] and m["executors_measured"] == 2
    assert m["requested"] == {"heap": 1 << 30, "overhead": 0, "offheap": 0, "pyspark": 0, "container": 1 << 30}
    assert m["peak"]["jvm_heap"] == max(p["JVMHeapMemory"] for p in peaks.values()) < 0.8 * (1 << 30)
    # The advice lowers spark.executor.memory, with the numbers.
    (heap,) = [a for a in final["advice"] if a["kind"] == "executor_memory"]
    assert heap["evidence"]["heap_peak_bytes"] == m["peak"]["jvm_heap"]
    assert heap["evidence"]["current_bytes"] == 1 << 30
    suggested = heap["conf"]["spark.executor.memory"]
    assert re.fullmatch(r"\d+m|\d+g", suggested)
    suggested_mib = int(suggested[:-1]) * (1024 if suggested.endswith("g") else 1)
    assert 512 <= suggested_mib <= 0.8 * 1024 and heap["saving"]["gib_hours"] > 0
    assert suggested_mib * MIB >= 1.25 * m["peak"]["jvm_heap"]
    # Python's memory is measured, and never advised as heap (the heap advice above lowers it). On
    # standalone a PySpark limit reserves nothing in a container and saves nothing, so decision 32
    # leaves that advice out (docs/advice.md).
    python = max(p.get("ProcessTreePythonRSSMemory", 0) for p in peaks.values())
    assert python > 200 * MIB, peaks
    assert m["peak"]["python_rss"] == offline["memory"]["peak"]["python_rss"] == python
    assert m["cluster_manager"] == "standalone"
    assert [a for a in final["advice"] if a["kind"] == "pyspark_memory"] == []
    text = subprocess.run([sys.executable, "-m", "sparkprobe.cli", "analyze", str(log)], capture_output=True,
                          text=True, timeout=120, check=True).stdout
    assert "python_rss" in text and "cost " in text
    # Cost = the ledgers x the prices; wasted by cause sums to idle and unused x the prices.
    cost = final["cost"]
    assert cost["price_core_hour"] == 0.05 and cost["price_gib_hour"] == 0.01
    assert cost["by_resource"]["cores"] == pytest.approx(final["allocated_core_seconds"] / 3600 * 0.05, abs=1e-6)
    assert cost["by_resource"]["memory"] == pytest.approx(m["allocated_byte_seconds"] / GIB / 3600 * 0.01, abs=1e-6)
    wasted = (final["idle_core_seconds"] / 3600 * 0.05
              + (m["idle_byte_seconds"] + m["unused_busy_byte_seconds"]) / GIB / 3600 * 0.01)
    # Each figure is money rounded to 6 decimals (analysis/cost.py): compared within that.
    assert sum(cost["wasted_by_cause"].values()) == pytest.approx(wasted, abs=1e-5)
    assert cost["wasted"] == pytest.approx(wasted, abs=1e-5)
    assert heap["saving"]["cost"] == pytest.approx(heap["saving"]["gib_hours"] * 0.01, abs=1e-6)
    for resource, value in cost["by_resource"].items():
        assert shown[("sparkprobe_cost_total", (("resource", resource),))] == pytest.approx(value)
    for cause, value in cost["wasted_by_cause"].items():
        assert shown[("sparkprobe_wasted_cost_total", (("cause", cause),))] == pytest.approx(value)
