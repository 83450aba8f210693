"""``sparkprobe demo``: a real local-cluster Spark job under dynamic allocation, profiled live.

The story in four acts: cache an RDD on two executors; go idle until dynamic allocation reclaims
them (their cached blocks vanish); run the next job, which silently recomputes the cache; print
what sparkprobe saw. /metrics is served the whole time.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from sparkprobe._logging import configure_logging
from sparkprobe.bridge import configure
from sparkprobe.outputs.report import format_text, write_json

__all__ = ["DEMO_CONF", "run_demo"]

#: The session settings of the demo job: two 1-core executors that dynamic allocation may reclaim.
DEMO_CONF: dict[str, str] = {
    "spark.executor.cores": "1",
    "spark.executor.memory": "512m",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.dynamicAllocation.enabled": "true",
    "spark.dynamicAllocation.shuffleTracking.enabled": "true",
    "spark.dynamicAllocation.minExecutors": "0",
    "spark.dynamicAllocation.maxExecutors": "2",
    "spark.dynamicAllocation.initialExecutors": "2",
    "spark.dynamicAllocation.executorIdleTimeout": "5s",
    "spark.dynamicAllocation.cachedExecutorIdleTimeout": "5s",
    "spark.dynamicAllocation.shuffleTracking.timeout": "5s",
}


def _say(text: str) -> None:
    print(f"sparkprobe demo: {text}", file=sys.stderr, flush=True)


def run_demo(args: argparse.Namespace) -> int:
    """Run the demo job; print findings as they happen and the summary at the end."""
    from pyspark import StorageLevel
    from pyspark.sql import SparkSession

    configure_logging()
    builder = SparkSession.builder.master("local-cluster[2,1,1024]").appName("sparkprobe-demo")
    for key, value in DEMO_CONF.items():
        builder = builder.config(key, value)
    probe = configure(builder, metrics=args.metrics)
    _say(f"metrics at {probe.metrics_url} while the job runs")
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    try:
        sc = spark.sparkContext
        _say("act 1: cache an 8-partition RDD on two executors")
        data = sc.parallelize(range(400_000), 8).map(lambda x: (x % 97, x * 3)).persist(StorageLevel.MEMORY_ONLY)
        data.count()
        cached = _spark_cached_bytes(sc)
        _say(f"Spark reports {cached} bytes cached; sparkprobe sees {probe.snapshot()['cached_bytes']}")
        _say("act 2: sit idle until dynamic allocation reclaims the executors (cachedExecutorIdleTimeout=5s)")
        # Wait until the executors that hold the cache are gone (not just any idle executor).
        probe.wait_for(lambda s: s["cached_blocks"] == 0 and s["cache_lost_blocks"] > 0, timeout_s=90)
        _say("act 3: the next job needs the cache again: Spark recomputes it silently")
        data.reduceByKey(lambda a, b: a + b).count()
        probe.wait_for(lambda s: s["cache_recomputed_blocks"] >= 8, timeout_s=30)
    finally:
        spark.stop()
    _say("act 4: what sparkprobe saw")
    probe.wait_for(lambda s: not s["running"], timeout_s=15)
    report = probe.report()
    if report is None:
        _say("the listener never reached the agent: nothing to report")
        probe.close()
        return 1
    print(format_text(report))
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as fh:
            write_json([report], fh)
    if args.report:
        from sparkprobe.outputs.html import render_html

        with open(args.report, "w", encoding="utf-8") as fh:
            fh.write(render_html([report]))
        _say(f"HTML report with the executor timeline: {os.path.abspath(args.report)}")
    probe.close()
    return 0


def _spark_cached_bytes(sc: Any) -> int:
    """What Spark itself reports cached (memory + disk), to print beside sparkprobe's figure."""
    # pyspark has no wrapper for getRDDStorageInfo; this is the JVM method Spark's UI data uses.
    return sum(int(i.memSize()) + int(i.diskSize()) for i in sc._jsc.sc().getRDDStorageInfo())
