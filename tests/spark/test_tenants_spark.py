"""Tenants of a classic PySpark app: job tags, job groups, pools — live, offline and from the raw log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import sparkprobe
from conftest import BASE_CONF, wait_executors
from sparkprobe.offline import analyze_source
from sparkprobe.sources.eventlog import discover

pytestmark = pytest.mark.spark

TRANSPORT_ONLY = {"events_received", "events_replayed", "listener", "incomplete", "closed_by_timeout", "gaps",
                  "bad_lines", "source"}


def tenants_of(snap: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {t["id"]: t for t in snap["tenants"] if t["kind"] == kind}


def raw_job_properties(tmp_path: Path) -> list[dict[str, Any]]:
    """Every JobStart and TaskEnd of the log as Spark's JSON (only decompression is sparkprobe's)."""
    (source,) = discover([tmp_path])
    out = []
    for part in source.parts:
        with part.open() as stream:
            for line in stream:
                if line.strip():
                    o = json.loads(line)
                    if o["Event"] in ("SparkListenerJobStart", "SparkListenerTaskEnd"):
                        out.append(o)
    return out


def independent_task_ms(events: list[dict[str, Any]], label: str) -> dict[str, int]:
    """Σ task spans per job tag (``spark.job.tags``, Spark's wrapping of session tags undone by hand)."""
    stage_tags: dict[int, list[str]] = {}
    out: dict[str, int] = {}
    for o in events:
        if o["Event"] == "SparkListenerJobStart":
            props = o.get("Properties", {})
            values = [props[label]] if label in props and label != "spark.job.tags" else []
            if label == "spark.job.tags":
                for tag in props.get(label, "").split(","):
                    if "-thread-" in tag:  # a classic SparkSession.addTag: spark-session-<u>-thread-<u>-<tag>
                        values.append(tag.split("-", 13)[-1])
                    elif tag and not tag.startswith("spark-session-"):
                        values.append(tag)
            for stage_id in o["Stage IDs"]:
                stage_tags.setdefault(stage_id, values)
        elif o["Task End Reason"]["Reason"] != "Resubmitted":
            info = o["Task Info"]
            for value in stage_tags.get(o["Stage ID"], []):
                out[value] = out.get(value, 0) + info["Finish Time"] - info["Launch Time"]
    return out


@pytest.fixture(scope="module")
def classic_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any], Path]:
    """One classic app with job groups, job tags, a pool and (4.x) SparkSession tags: (live, offline, log dir)."""
    pytest.importorskip("pyspark")
    import pyspark
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    tmp_path = tmp_path_factory.mktemp("tenants")
    builder = SparkSession.builder.master("local-cluster[2,1,1024]").appName("tenants")
    for key, value in {**BASE_CONF, "spark.eventLog.enabled": "true", "spark.eventLog.dir": str(tmp_path)}.items():
        builder = builder.config(key, value)
    probe = sparkprobe.configure(builder, metrics=None)
    spark = builder.getOrCreate()
    try:
        sc = spark.sparkContext
        sc.setLogLevel("ERROR")
        wait_executors(sc, 2)
        sc.setJobGroup("nightly-load", "the nightly load")
        assert sc.parallelize(range(40_000), 4).map(lambda x: x * 2).sum() == 40_000 * 39_999
        sc.setLocalProperty("spark.jobGroup.id", None)  # clearJobGroup is 4.x only
        sc.addJobTag("team-a")
        assert spark.range(0, 50_000, 1, 4).selectExpr("sum(id)").collect()[0][0] == 50_000 * 49_999 // 2
        sc.setLocalProperty("spark.scheduler.pool", "adhoc")
        assert sc.parallelize(range(10_000), 2).count() == 10_000
        sc.setLocalProperty("spark.scheduler.pool", None)
        sc.removeJobTag("team-a")
        if not pyspark.__version__.startswith("3."):
            spark.addTag("etl")  # classic SparkSession tags: Spark 4 only
            assert spark.range(0, 20_000, 1, 2).count() == 20_000
            spark.removeTag("etl")
        assert sc.parallelize(range(5_000), 2).count() == 5_000  # nobody's
    finally:
        spark.stop()
        SparkContext._active_spark_context = None
        SparkSession._instantiatedSession = None
        SparkSession._activeSession = None
    live = probe.wait_for(lambda s: not s["running"], timeout_s=30)
    probe.close()
    (source,) = discover([tmp_path])
    offline = analyze_source(source).to_json()
    assert offline["bad_lines"] == 0
    return live, offline, tmp_path


def test_classic_tags_groups_and_pools_offline_and_raw(
    classic_run: tuple[dict[str, Any], dict[str, Any], Path],
) -> None:
    import pyspark

    _, offline, tmp_path = classic_run
    tags = tenants_of(offline, "tag")
    expected_tags = {"team-a"} | (set() if pyspark.__version__.startswith("3.") else {"etl"})
    assert set(tags) == expected_tags | {"none"}
    assert set(tenants_of(offline, "job_group")) == {"nightly-load", "none"}
    assert set(tenants_of(offline, "pool")) == {"adhoc", "none"}
    assert tenants_of(offline, "session") == {} and tenants_of(offline, "user") == {}

    events = raw_job_properties(tmp_path)
    labels = {"tag": "spark.job.tags", "job_group": "spark.jobGroup.id", "pool": "spark.scheduler.pool"}
    for kind, label in labels.items():
        expected = independent_task_ms(events, label)
        got = {k: round(v["task_seconds"] * 1000) for k, v in tenants_of(offline, kind).items() if k != "none"}
        assert got == expected, kind
    for kind in ("job_group", "pool"):
        rows = tenants_of(offline, kind).values()
        assert round(sum(t["busy_core_seconds"] for t in rows) * 1000) == round(offline["busy_core_seconds"] * 1000)
        assert round(sum(t["task_seconds"] for t in rows) * 1000) == round(offline["tasks"]["run_seconds"] * 1000)


def test_classic_tenants_live_equal_the_event_log(classic_run: tuple[dict[str, Any], dict[str, Any], Path]) -> None:
    live, offline, _ = classic_run
    assert live["tenants"] and live["tenants"] == offline["tenants"]
    assert {k: v for k, v in live.items() if k not in TRANSPORT_ONLY} == {
        k: v for k, v in offline.items() if k not in TRANSPORT_ONLY
    }
