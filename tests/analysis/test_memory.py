"""The memory ledger, memory advice and cost on hand-made event sequences, checked against arithmetic.

The container sizes are checked against Spark's own code in tests/spark/test_memory_spark.py; here
each rule of docs/figures.md ("Memory", "Cost") and docs/advice.md ("Memory") is checked on small
apps whose figures can be worked out by hand.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from conftest import REPO, summary
from sparkprobe.analysis.memory import MIB, executor_request, removal_area
from sparkprobe.analysis.report import build_report
from sparkprobe.analysis.settings import MemorySettings, spark_bytes, spark_mib
from sparkprobe.analysis.state import AppState, Limits
from sparkprobe.events import (
    AppEnd,
    AppStart,
    Conf,
    ExecutorAdded,
    ExecutorMetrics,
    ExecutorRemoved,
    ResourceProfileAdded,
    StageCompleted,
    StageSubmitted,
    TaskEnd,
    TaskStart,
)
from sparkprobe.outputs.prometheus import app_families

GIB = 1 << 30
YARN = {"spark.master": "yarn", "spark.executor.memory": "4g"}


def app(conf: dict[str, str], version: str = "4.3.0", limits: Limits | None = None) -> AppState:
    state = AppState(limits=limits)
    state.apply(AppStart("app-m", "mem", "me", 0, version))
    state.apply(Conf(conf))
    return state


def run_task(state: AppState, task_id: int, exec_id: str, launch: int, finish: int, stage: int = 0) -> None:
    state.apply(TaskStart(task_id, stage, 0, task_id, task_id, 0, exec_id, launch))
    state.apply(TaskEnd(task_id, stage, 0, task_id, task_id, 0, exec_id, launch, finish, "success"))


def request(conf: dict[str, str], version: str = "4.3.0", profiles: dict[int, ResourceProfileAdded] | None = None,
            profile_id: int = 0) -> dict[str, int]:
    sizes = executor_request(MemorySettings(conf, version), profiles or {}, profile_id)
    return {area.value: size // MIB for area, size in sizes.items()}


# ---------------------------------------------------------------------------------------- sizes
def test_size_strings_follow_spark() -> None:
    assert spark_mib("28g") == 28 * 1024 and spark_mib("512m") == 512 and spark_mib("512") == 512
    assert spark_mib("1536k") == 1 and spark_mib(" 2G ") == 2048 and spark_mib("1t") == 1 << 20
    assert spark_mib("1.5g") is None and spark_mib("lots") is None and spark_mib("") is None
    assert spark_bytes("1000000", 1) == 1_000_000 and spark_bytes("2gb", 1) == 2 * GIB


def test_container_on_yarn_kubernetes_and_standalone() -> None:
    # YARN: heap + max(0.1 x heap, 384 MiB).
    assert request(YARN) == {"heap": 4096, "overhead": 409, "offheap": 0, "pyspark": 0, "container": 4505}
    assert request({"spark.master": "yarn", "spark.executor.memory": "2g"})["overhead"] == 384
    # The seed's example: 28g + 8g overhead.
    seed = {"spark.master": "yarn", "spark.executor.memory": "28g", "spark.executor.memoryOverhead": "8g"}
    assert request(seed)["container"] == 36 * 1024
    # The deprecated YARN key is read when the new one is unset.
    assert request({**YARN, "spark.yarn.executor.memoryOverhead": "1000"})["overhead"] == 1000
    # Off-heap only when enabled; its bare numbers are bytes.
    off = {**YARN, "spark.memory.offHeap.size": str(2 * GIB)}
    assert request(off)["offheap"] == 0
    assert request({**off, "spark.memory.offHeap.enabled": "true"})["container"] == 4505 + 2048
    # PySpark memory: counted for Python apps (taken as one when Spark's marks are unknown).
    py = {**YARN, "spark.executor.pyspark.memory": "1g"}
    assert request(py)["container"] == 4505 + 1024
    assert request({**py, "spark.yarn.isPython": "false"})["container"] == 4505
    assert request({**py, "spark.yarn.isPython": "true"})["pyspark"] == 1024
    # Kubernetes: spark.executor.memoryOverheadFactor, else spark.kubernetes.memoryOverheadFactor.
    k8s = {"spark.master": "k8s://https://k:443", "spark.executor.memory": "4g",
           "spark.kubernetes.memoryOverheadFactor": "0.4"}
    assert request(k8s)["overhead"] == 1638
    assert request({**k8s, "spark.executor.memoryOverheadFactor": "0.2"})["overhead"] == 819
    assert request({**YARN, "spark.kubernetes.memoryOverheadFactor": "0.4"})["overhead"] == 409  # YARN ignores it
    # Standalone and local-cluster Workers set aside the heap only.
    for master in ("spark://m:7077", "local-cluster[2,1,1024]"):
        assert request({"spark.master": master, "spark.executor.memory": "512m"}) == {
            "heap": 512, "overhead": 0, "offheap": 0, "pyspark": 0, "container": 512}
    # local[N]: the driver's JVM.
    assert request({"spark.master": "local[4]", "spark.driver.memory": "3g"})["container"] == 3072


def test_min_overhead_exists_from_spark_4() -> None:
    conf = {"spark.master": "yarn", "spark.executor.memory": "2g", "spark.executor.minMemoryOverhead": "1g"}
    assert request(conf, "4.0.1")["overhead"] == 1024
    assert request(conf, "3.5.9")["overhead"] == 384
    assert request({**conf, "spark.executor.memoryOverhead": "500m"}, "4.0.1")["overhead"] == 500


def test_resource_profiles_override_the_conf_the_way_spark_does() -> None:
    conf = {"spark.master": "yarn", "spark.executor.memory": "20g", "spark.executor.memoryOverhead": "8g"}
    profiles = {
        0: ResourceProfileAdded(0, {"cores": 4, "memory": 20480, "memoryOverhead": 8192, "offHeap": 0}),
        1: ResourceProfileAdded(1, {"cores": 2, "memory": 6144, "memoryOverhead": 2048, "pyspark.memory": 2048}, 2),
        2: ResourceProfileAdded(2, {"cores": 2, "memory": 6144}),
    }
    assert request(conf, profiles=profiles)["container"] == 28 * 1024
    assert request(conf, profiles=profiles, profile_id=1)["container"] == 6144 + 2048 + 2048
    # Profile 2 names no overhead: Spark computes it from the default profile (here the conf's 8g).
    assert request(conf, profiles=profiles, profile_id=2)["overhead"] == 8192
    no_overhead = {0: ResourceProfileAdded(0, {"memory": 20480}), 2: profiles[2]}
    assert request({"spark.master": "yarn"}, profiles=no_overhead, profile_id=2)["overhead"] == 2048  # 0.1 x 20g


def test_driver_request() -> None:
    def driver(conf: dict[str, str], version: str = "4.3.0") -> dict[str, int]:
        state = app(conf, version)
        return {k: v // MIB for k, v in summary(state)["memory"]["driver"]["requested"].items()}

    assert driver({"spark.master": "yarn", "spark.driver.memory": "4g"})["container"] == 4096  # client mode
    cluster = {"spark.master": "yarn", "spark.driver.memory": "4g", "spark.submit.deployMode": "cluster"}
    assert driver(cluster) == {"heap": 4096, "overhead": 409, "offheap": 0, "pyspark": 0, "container": 4505}
    k8s = {"spark.master": "k8s://x", "spark.driver.memory": "4g", "spark.submit.deployMode": "cluster"}
    assert driver({**k8s, "spark.kubernetes.resource.type": "python"})["overhead"] == 1638  # non-JVM: 0.4
    assert driver({**k8s, "spark.kubernetes.resource.type": "java"})["overhead"] == 409
    assert driver({**k8s, "spark.driver.memoryOverheadFactor": "0.2", "spark.kubernetes.resource.type": "python"})[
        "overhead"] == 819
    assert driver({**cluster, "spark.driver.minMemoryOverhead": "1g"}, "4.0.1")["overhead"] == 1024


# ---------------------------------------------------------------------------------------- ledger
def two_executor_app(conf: dict[str, str] | None = None, limits: Limits | None = None) -> AppState:
    """Two 1-core executors of 4g on YARN (container 4505 MiB) for 100 s; executor 1 busy 10-40 s."""
    state = app(conf or YARN, limits=limits)
    state.apply(ExecutorAdded("1", "h", 1, 0))
    state.apply(ExecutorAdded("2", "h", 1, 0))
    state.apply(StageSubmitted(0, 0, "s", 1, 10_000))
    run_task(state, 1, "1", 10_000, 40_000)
    state.apply(ExecutorMetrics("1", {"JVMHeapMemory": GIB, "JVMOffHeapMemory": 100 * MIB,
                                      "OnHeapExecutionMemory": 300 * MIB, "OnHeapUnifiedMemory": 300 * MIB},
                                0, 0, "task"))
    state.apply(StageCompleted(0, 0, "s", 1, 40_000))
    state.apply(AppEnd(100_000))
    return state


def test_byte_seconds_by_cause_and_unused_while_busy() -> None:
    state = two_executor_app()
    m = summary(state)["memory"]
    container = 4505 * MIB
    assert m["requested"]["container"] == container and m["requested_active"]["container"] == 0
    assert m["allocated_byte_seconds"] == pytest.approx(container * 200)
    assert m["idle_byte_seconds"] == pytest.approx(container * (200 - 30))
    assert sum(m["idle_by_cause_byte_seconds"].values()) == pytest.approx(m["idle_byte_seconds"])
    # Executor 2 stood idle while the stage ran on 1 (10-40 s): unneeded; the rest driver_busy.
    assert m["idle_by_cause_byte_seconds"]["unneeded"] == pytest.approx(container * 30)
    # Only executor 1 reported: footprint = heap + non-heap in use; 30 s busy.
    assert m["unused_busy_byte_seconds"] == pytest.approx((container - GIB - 100 * MIB) * 30)
    assert m["peak"]["jvm_heap"] == GIB and m["peak"]["execution"] == 300 * MIB
    assert m["peak"]["process_rss"] is None and m["peak"]["python_rss"] is None
    assert (m["executors_measured"], m["executors_busy"], m["available"]) == (1, 1, True)
    ex = summary(state)["executors"]
    assert ex["1"]["peak_memory"] == {"JVMHeapMemory": GIB, "JVMOffHeapMemory": 100 * MIB,
                                      "OnHeapExecutionMemory": 300 * MIB, "OnHeapUnifiedMemory": 300 * MIB}
    assert ex["2"]["peak_memory"] == {} and ex["2"]["peak_memory_by_area"]["jvm_heap"] is None
    assert any("processTreeMetrics" in n for n in m["notes"])


def test_live_figures_run_to_now_and_requested_counts_live_executors() -> None:
    state = app(YARN)
    state.apply(ExecutorAdded("1", "h", 1, 0))
    state.apply(ExecutorAdded("2", "h", 1, 0))
    state.apply(ExecutorRemoved("2", 5_000, "Executor killed by driver."))
    m = summary(state, now_ms=10_000)["memory"]
    assert m["requested_active"]["container"] == 4505 * MIB
    assert m["allocated_byte_seconds"] == pytest.approx(4505 * MIB * 15)


def test_peaks_are_maxima_and_heartbeats_count_only_for_running_stages() -> None:
    state = app(YARN)
    state.apply(ExecutorAdded("1", "h", 1, 0))
    state.apply(StageSubmitted(3, 0, "s", 1, 1_000))
    state.apply(ExecutorMetrics("1", {"JVMHeapMemory": 500}, 3, 0, "heartbeat"))
    state.apply(ExecutorMetrics("1", {"JVMHeapMemory": 400, "DirectPoolMemory": 7}, 3, 0, "heartbeat"))
    state.apply(StageCompleted(3, 0, "s", 1, 2_000))
    # After the stage: Spark's event log drops this heartbeat, so the analyzer does too.
    state.apply(ExecutorMetrics("1", {"JVMHeapMemory": 900}, 3, 0, "heartbeat"))
    # The driver's (-1, -1) heartbeats always count; a name Spark does not define is dropped.
    state.apply(ExecutorMetrics("driver", {"JVMHeapMemory": 800, "Bogus": 9}, -1, -1, "heartbeat"))
    state.apply(ExecutorMetrics("1", {"OnHeapStorageMemory": 5}, 3, 0, "stage"))
    s = summary(state)
    assert s["executors"]["1"]["peak_memory"] == {"JVMHeapMemory": 500, "DirectPoolMemory": 7, "OnHeapStorageMemory": 5}
    assert s["memory"]["driver"]["peak_memory"] == {"JVMHeapMemory": 800}
    assert s["memory"]["driver"]["peak"]["jvm_heap"] == 800


def test_process_tree_areas_and_footprint() -> None:
    state = app({"spark.master": "yarn", "spark.executor.memory": "1g",
                 "spark.executor.processTreeMetrics.enabled": "true"})
    state.apply(ExecutorAdded("1", "h", 1, 0))
    state.apply(StageSubmitted(0, 0, "s", 1, 0))
    run_task(state, 1, "1", 0, 10_000)
    state.apply(ExecutorMetrics("1", {"JVMHeapMemory": 300 * MIB, "ProcessTreeJVMRSSMemory": 700 * MIB,
                                      "ProcessTreePythonRSSMemory": 200 * MIB}, 0, 0, "task"))
    state.apply(AppEnd(10_000))
    m = summary(state)["memory"]
    assert m["peak"]["process_rss"] == 700 * MIB and m["peak"]["python_rss"] == 200 * MIB
    assert m["peak"]["other_rss"] == 0 and m["process_tree"] is True
    assert m["unused_busy_byte_seconds"] == pytest.approx(((1024 + 384) * MIB - 900 * MIB) * 10)


def test_memory_is_unavailable_not_zero_without_metrics() -> None:
    state = two_executor_app()
    bare = app(YARN)
    for e in [ExecutorAdded("1", "h", 1, 0), AppEnd(10_000)]:
        bare.apply(e)
    m = summary(bare)["memory"]
    assert m["available"] is False and m["unused_busy_byte_seconds"] is None
    assert set(m["peak"].values()) == {None}
    assert any("unavailable" in n for n in m["notes"])
    def peak_samples(s: AppState) -> set[tuple[str, str | None]]:
        families = app_families([build_report(s, detail=False)])
        return {(x.name, x.labels.get("area")) for f in families for x in f.samples if x.name.endswith("peak_bytes")}

    assert peak_samples(bare) == set()
    assert ("sparkprobe_memory_peak_bytes", "jvm_heap") in peak_samples(state)


def test_removal_areas() -> None:
    yarn = "Container killed by YARN for exceeding physical memory limits. 5.5 GB of 5.5 GB physical memory used."
    assert removal_area(yarn) == "container"
    assert removal_area("The executor with id 3 exited with exit code 137(SIGKILL, possible container OOM). "
                        "... reason: OOMKilled") == "container"
    assert removal_area("Command exited with code 52") == "heap"
    assert removal_area("java.lang.OutOfMemoryError: Direct buffer memory") == "offheap"
    assert removal_area("java.lang.OutOfMemoryError: Metaspace") == "jvm_offheap"


# ---------------------------------------------------------------------------------------- advice
def advice_of(state: AppState) -> dict[str, dict[str, Any]]:
    return {a["kind"]: a for a in summary(state)["advice"]}


def test_advice_lowers_an_oversized_heap_with_the_numbers() -> None:
    advice = advice_of(two_executor_app())
    heap = advice["executor_memory"]
    # need = max(1 GiB heap peak, 300 MiB unified / 0.6 + 300 MiB = 800 MiB) x 1.25 = 1280 MiB.
    assert heap["conf"] == {"spark.executor.memory": "1280m"} == heap["settings"]
    assert heap["evidence"]["heap_peak_bytes"] == GIB
    # Both executors of 4505 MiB would have been 1280 + 384 MiB, for 100 s each.
    assert heap["saving"]["gib_hours"] == pytest.approx(round((4505 - 1664) / 1024 * 200 / 3600, 4))
    assert heap["risk"] == "medium"  # the one executor that ran tasks reported, for 30 s of tasks
    # Thin evidence is a note of the ledger, not advice: turning a metric on saves nothing itself.
    assert "memory_evidence" not in advice
    assert any("memory evidence is thin" in note for note in summary(two_executor_app())["memory"]["notes"])


def test_no_lowering_after_an_executor_was_lost_to_memory() -> None:
    state = app(YARN)
    state.apply(ExecutorAdded("1", "h", 1, 0))
    state.apply(ExecutorAdded("2", "h", 1, 0))
    state.apply(ExecutorMetrics("1", {"JVMHeapMemory": 100 * MIB}, -1, -1, "task"))
    state.apply(ExecutorRemoved("2", 5_000, "Command exited with code 52"))
    state.apply(AppEnd(10_000))
    s = summary(state)
    assert s["removed_by_reason"] == {"memory": 1}
    assert s["memory"]["memory_removals"] == [
        {"exec_id": "2", "time_ms": 5_000, "area": "heap", "reason": "Command exited with code 52"}]
    memory_kinds = {"executor_memory", "executor_memory_overhead", "offheap_size", "pyspark_memory", "driver_memory"}
    advice = [a for a in s["advice"] if a["kind"] in memory_kinds]
    assert [a["kind"] for a in advice] == ["executor_memory"]
    assert advice[0]["conf"] == {"spark.executor.memory": "6g"}  # 1.5 x 4g
    assert advice[0]["saving"]["gib_hours"] < 0 and advice[0]["risk"] == "low"
    assert "code 52" in advice[0]["message"]


def test_a_container_kill_raises_overhead() -> None:
    state = app({**YARN, "spark.executor.processTreeMetrics.enabled": "true"})
    state.apply(ExecutorAdded("1", "h", 1, 0))
    state.apply(ExecutorMetrics("1", {"JVMHeapMemory": 100 * MIB, "ProcessTreeJVMRSSMemory": 4400 * MIB}, 0, 0, "task"))
    state.apply(ExecutorRemoved("1", 5_000, "Container killed by YARN for exceeding physical memory limits."))
    advice = advice_of(state)
    assert advice["executor_memory_overhead"]["conf"] == {"spark.executor.memoryOverhead": "768m"}
    assert "executor_memory" not in advice


def test_python_memory_is_advised_as_pyspark_memory_not_heap() -> None:
    conf = {"spark.master": "yarn", "spark.executor.memory": "1g",
            "spark.executor.processTreeMetrics.enabled": "true"}
    state = app(conf)
    state.apply(ExecutorAdded("1", "h", 1, 0))
    state.apply(ExecutorMetrics("1", {"JVMHeapMemory": 900 * MIB, "ProcessTreeJVMRSSMemory": 1100 * MIB,
                                      "ProcessTreePythonRSSMemory": 600 * MIB}, 0, 0, "task"))
    state.apply(AppEnd(60_000))  # a minute of the executor: the limit's cost is stated, not 0
    advice = advice_of(state)
    assert advice["pyspark_memory"]["saving"]["gib_hours"] < 0  # YARN adds the limit to the container
    assert advice["pyspark_memory"]["conf"] == {"spark.executor.pyspark.memory": "768m"}
    assert advice["pyspark_memory"]["evidence"]["python_rss_peak_bytes"] == 600 * MIB
    assert "executor_memory" not in advice
    # Python's memory moved to its own limit: the overhead need is what the JVM used outside the heap.
    assert "executor_memory_overhead" not in advice  # 1100 - 1024 = 76 MiB -> 384 MiB: not 20% below 384


# ---------------------------------------------------------------------------------------- cost
def test_cost_sums_to_the_ledgers_times_the_prices() -> None:
    limits = Limits(price_core_hour=0.05, price_gib_hour=0.01)
    state = two_executor_app(limits=limits)
    s = summary(state)
    cost = s["cost"]
    assert cost["by_resource"]["cores"] == pytest.approx(s["allocated_core_seconds"] / 3600 * 0.05, abs=1e-6)
    assert cost["by_resource"]["memory"] == pytest.approx(
        s["memory"]["allocated_byte_seconds"] / GIB / 3600 * 0.01, abs=1e-6)
    memory_wasted = s["memory"]["idle_byte_seconds"] + s["memory"]["unused_busy_byte_seconds"]
    wasted_expected = s["idle_core_seconds"] / 3600 * 0.05 + memory_wasted / GIB / 3600 * 0.01
    assert sum(cost["wasted_by_cause"].values()) == pytest.approx(wasted_expected, abs=1e-5)
    assert cost["wasted"] == pytest.approx(wasted_expected, abs=1e-5)
    assert cost["total"] == pytest.approx(sum(cost["by_resource"].values()))
    heap = next(a for a in s["advice"] if a["kind"] == "executor_memory")
    assert heap["saving"]["cost"] == pytest.approx(heap["saving"]["gib_hours"] * 0.01, abs=1e-6)
    # /metrics: the same figures.
    samples = {(x.name, tuple(sorted(x.labels.items()))): x.value
               for f in app_families([build_report(state, detail=False)]) for x in f.samples}
    cores = [v for (n, labels), v in samples.items()
             if n == "sparkprobe_cost_total" and ("resource", "cores") in labels]
    assert cores == [cost["by_resource"]["cores"]]


def test_the_app_price_wins_and_a_bad_one_is_noted() -> None:
    state = two_executor_app({**YARN, "spark.sparkprobe.price.coreHour": "1"}, limits=Limits(price_core_hour=0.05))
    s = summary(state)
    assert s["cost"]["price_core_hour"] == 1.0 and s["cost"]["price_gib_hour"] is None
    assert set(s["cost"]["by_resource"]) == {"cores"}
    bad = summary(two_executor_app({**YARN, "spark.sparkprobe.price.gibHour": "-3"}))
    assert bad["cost"] is None
    assert any("spark.sparkprobe.price.gibHour" in n for n in bad["memory"]["notes"])


def test_without_prices_no_money_figure_anywhere() -> None:
    state = two_executor_app()
    s = summary(state)
    assert s["cost"] is None
    assert all("cost" not in a["saving"] for a in s["advice"])
    text = "".join(str(x) for f in app_families([build_report(state, detail=False)]) for x in f.samples)
    assert "sparkprobe_cost" not in text and "sparkprobe_wasted_cost" not in text


def test_priced_report_keys_are_documented() -> None:
    from test_docs import backticked, keys_of

    state = two_executor_app(limits=Limits(price_core_hour=0.05, price_gib_hour=0.01))
    keys: set[str] = set()
    report = summary(state)
    del report["findings"]  # their details are per finding kind
    keys_of(report, keys)
    documented = backticked((REPO / "docs" / "report-schema.md").read_text(encoding="utf-8"))
    assert sorted(keys - documented) == []
    assert re.search(r"`cost` \| object", (REPO / "docs" / "report-schema.md").read_text(encoding="utf-8"))


def test_offheap_and_driver_advice() -> None:
    conf = {**YARN, "spark.memory.offHeap.enabled": "true", "spark.memory.offHeap.size": "2g"}
    unused = app(conf)
    unused.apply(ExecutorAdded("1", "h", 1, 0))
    unused.apply(ExecutorMetrics("1", {"JVMHeapMemory": 3 * GIB}, 0, 0, "task"))
    unused.apply(AppEnd(3_600_000))
    off = advice_of(unused)["offheap_size"]
    assert off["conf"] == {"spark.memory.offHeap.enabled": "false"}
    assert off["saving"]["gib_hours"] == pytest.approx(2.0)  # 2 GiB for the executor's hour
    used = app(conf)
    used.apply(ExecutorAdded("1", "h", 1, 0))
    used.apply(ExecutorMetrics("1", {"JVMHeapMemory": 3 * GIB, "OffHeapExecutionMemory": 300 * MIB}, 0, 0, "task"))
    # The driver's heap: 1 GiB of its 8g (YARN cluster mode: its container counts).
    used.apply(ExecutorMetrics("driver", {"JVMHeapMemory": GIB}, -1, -1, "heartbeat"))
    used.apply(Conf({"spark.driver.memory": "8g", "spark.submit.deployMode": "cluster"}))
    used.apply(AppEnd(3_600_000))
    advice = advice_of(used)
    assert advice["offheap_size"]["conf"] == {"spark.memory.offHeap.size": str(512 * MIB)}  # 375 MiB -> 512
    driver = advice["driver_memory"]
    assert driver["conf"] == {"spark.driver.memory": "1280m"}
    # 8g + 819 MiB overhead -> 1280 MiB + 384 MiB, for the app's hour.
    assert driver["saving"]["gib_hours"] == pytest.approx((8192 + 819 - 1280 - 384) / 1024, abs=1e-3)
