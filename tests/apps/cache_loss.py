"""A PySpark job run through ``sparkprobe submit`` in the tests: its cache is lost, then recomputed.

Caches an RDD on two executors, idles until dynamic allocation reclaims them (their blocks go
with them), then needs the RDD again, so Spark recomputes it. Prints its own arguments on stdout
(so a test can check they reached it untouched) and exits with the code given as its first
argument, after stopping Spark.
"""

from __future__ import annotations

import json
import sys
import time

from pyspark import StorageLevel
from pyspark.sql import SparkSession


def executors(sc: object) -> int:
    """Registered executors (Spark's memory status counts the driver's block manager too)."""
    return int(sc._jsc.sc().getExecutorMemoryStatus().size()) - 1  # type: ignore[attr-defined]


def wait_until(predicate: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"cache_loss app: {what} did not happen within {timeout_s}s")
        time.sleep(0.2)


def main() -> int:
    code = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    spark = SparkSession.builder.appName("sparkprobe-submit-cache-loss").getOrCreate()
    sc = spark.sparkContext
    sc.setLogLevel("WARN")
    try:
        wait_until(lambda: executors(sc) >= 2, 90, "two executors registering")
        data = (
            sc.parallelize(range(200_000), 8).map(lambda x: (x % 89, x * 7)).persist(StorageLevel.MEMORY_ONLY)
        )
        first = data.count()
        # Idle: dynamic allocation reclaims both executors after cachedExecutorIdleTimeout.
        wait_until(lambda: executors(sc) == 0, 120, "the executors being reclaimed")
        second = data.map(lambda kv: kv[1]).sum()
        assert first == 200_000 and second == 7 * sum(range(200_000)), (first, second)
    finally:
        spark.stop()
    print("APP ARGS " + json.dumps(sys.argv[1:]), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
