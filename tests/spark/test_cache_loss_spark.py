"""Cache-loss scenarios on real local-cluster Spark: failures, replicas, decommission, unpersist."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest

import sparkprobe
from conftest import DYNAMIC_CONF, executor_pids, spark_rdd_storage, wait_executors

pytestmark = pytest.mark.spark


def test_sigkilled_executor_loses_its_blocks_as_a_failure(spark_factory: Any) -> None:
    from pyspark import StorageLevel

    probes: list[sparkprobe.Probe] = []
    spark = spark_factory("sigkill", builder_hook=lambda b: probes.append(sparkprobe.configure(b, metrics=None)))
    probe = probes[0]
    try:
        sc = spark.sparkContext
        wait_executors(sc, 2)
        data = sc.parallelize(range(80_000), 4).map(lambda x: x * 5).persist(StorageLevel.MEMORY_ONLY)
        data.count()
        snap = probe.wait_for(lambda s: s["cached_blocks"] == 4)
        victim, pid = sorted(executor_pids(sc.applicationId).items())[0]
        held = snap["executors"][victim]["cached_blocks"]
        os.kill(pid, signal.SIGKILL)
        snap = probe.wait_for(lambda s: s["executors_removed"] >= 1, timeout_s=60)
        # The job still completes: Spark recomputes what died with the executor.
        assert data.sum() == 5 * sum(range(80_000))
        snap = probe.wait_for(lambda s: s["cache_recomputed_blocks"] >= held and s["tasks"]["running"] == 0)
    finally:
        spark.stop()
        probe.close()
    (loss,) = [x for x in snap["losses"] if x["exec_id"] == victim]
    assert loss["cause"] == "failure", loss["reason"]
    assert loss["blocks"] == held > 0
    assert snap["removed_by_reason"].get("failure") == 1
    assert snap["cache_recomputed_blocks"] == held


def test_replicated_cache_survives_losing_one_executor_and_unpersisted_data_is_not_lost(spark_factory: Any) -> None:
    from pyspark import StorageLevel

    conf = {**DYNAMIC_CONF, "spark.dynamicAllocation.minExecutors": "1"}
    spark = spark_factory("replicas", conf)
    sc = spark.sparkContext
    wait_executors(sc, 2)
    probe = sparkprobe.attach(spark, metrics=None)
    try:
        replicated = sc.parallelize(range(40_000), 4).map(lambda x: x + 1).persist(StorageLevel.MEMORY_ONLY_2)
        replicated.count()
        gone = sc.parallelize(range(10_000), 2).map(lambda x: x * 2).persist(StorageLevel.MEMORY_ONLY)
        gone.count()
        gone.unpersist(blocking=True)
        storage = spark_rdd_storage(sc)
        assert set(storage) == {replicated.id()} and storage[replicated.id()][2] == 4
        # minExecutors=1: dynamic allocation reclaims exactly one of the two executors.
        snap = probe.wait_for(lambda s: s["executors_removed"] == 1, timeout_s=90)
        assert snap["removed_by_reason"] == {"dynamic_allocation": 1}
        assert snap["cache_lost_blocks"] == 0 and snap["cache_lost_bytes"] == 0 and snap["losses"] == []
        assert snap["cache_replicas_lost"] == 4
        assert snap["cached_blocks"] == 4
        mem, disk, _ = spark_rdd_storage(sc)[replicated.id()]
        snap = probe.wait_for(lambda s: s["cached_bytes"] == {"memory": mem, "disk": disk})
        assert snap["cached_bytes"] == {"memory": mem, "disk": disk}
    finally:
        probe.close()


def test_decommission_migrates_cached_blocks_instead_of_losing_them(spark_factory: Any) -> None:
    from pyspark import StorageLevel

    conf = {
        **DYNAMIC_CONF,
        "spark.dynamicAllocation.minExecutors": "1",
        # Only an executor holding cached blocks may be reclaimed (after cachedExecutorIdleTimeout,
        # 5 s); an empty one would be kept for 60 s, so the executor that goes has blocks to migrate.
        "spark.dynamicAllocation.executorIdleTimeout": "60s",
        "spark.decommission.enabled": "true",
        "spark.storage.decommission.enabled": "true",
        "spark.storage.decommission.rddBlocks.enabled": "true",
        "spark.storage.decommission.shuffleBlocks.enabled": "false",
    }
    spark = spark_factory("decommission", conf)
    sc = spark.sparkContext
    wait_executors(sc, 2)
    probe = sparkprobe.attach(spark, metrics=None)
    try:
        data = sc.parallelize(range(40_000), 4).map(lambda x: x - 1).persist(StorageLevel.MEMORY_ONLY)
        data.count()
        snap = probe.wait_for(lambda s: s["cached_blocks"] == 4)
        per_exec = {k: v["cached_blocks"] for k, v in snap["executors"].items()}
        snap = probe.wait_for(lambda s: s["executors_removed"] == 1, timeout_s=90)
        snap = probe.wait_for(lambda s: s["cached_blocks"] == 4, timeout_s=30)
        (removed,) = [k for k, v in snap["executors"].items() if v["removed_ms"] is not None]
    finally:
        probe.close()
    # Dynamic allocation released it by decommission ("Executor decommission: spark scale down"):
    # the cause is dynamic allocation, and its blocks migrated instead of being lost.
    assert snap["removed_by_reason"] == {"dynamic_allocation": 1}, snap["executors"][removed]["removed_reason"]
    assert "decommission" in snap["executors"][removed]["removed_reason"]
    assert snap["cache_migrated_blocks"] == per_exec[removed] > 0
    assert snap["cache_lost_blocks"] == 0



def test_uncached_dataframe_reuse_is_flagged_and_cached_reuse_is_not(spark_factory: Any) -> None:
    import inspect

    probes: list[sparkprobe.Probe] = []
    spark = spark_factory("reuse", builder_hook=lambda b: probes.append(sparkprobe.configure(b, metrics=None)))
    probe = probes[0]
    try:
        wait_executors(spark.sparkContext, 2)
        here = inspect.currentframe()
        assert here is not None
        df = spark.range(300_000, numPartitions=4).selectExpr("id % 17 AS k", "id * 2 AS v")
        for i in range(3):
            df.where(f"k = {i}").count(); uncached_line = here.f_lineno  # noqa: E702 - same line
        cdf = spark.range(300_000, numPartitions=4).selectExpr("id % 19 AS k", "id * 3 AS v").cache()
        for i in range(3):
            cdf.where(f"k = {i}").count(); cached_line = here.f_lineno  # noqa: E702 - same line
        snap = probe.wait_for(lambda s: s["tasks"]["running"] == 0 and s["stages"]["completed"] > 0)
        snap = probe.flush()
    finally:
        spark.stop()
        probe.close()
    flagged = [f for f in snap["findings"] if f["kind"] == "uncached_reuse"]
    assert any(f["callsite"].endswith(f"test_cache_loss_spark.py:{uncached_line}") for f in flagged), flagged
    assert not any(f["callsite"].endswith(f":{cached_line}") for f in flagged), flagged
    (reuse,) = [r for r in snap["uncached_reuse"] if r["callsite"].endswith(f":{uncached_line}")]
    assert reuse["times"] == 3 and reuse["repeat_task_seconds"] > 0
    assert snap["uncached_recompute_seconds"] >= reuse["repeat_task_seconds"]
