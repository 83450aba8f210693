"""The real Spark job the bus-cost and overhead benchmarks run, and what they read from the driver.

The job: a ``spark.range`` DataFrame of ``partitions`` partitions is cached (one ``rdd_*`` block per
partition, so one block update per task of the first pass), then counted from the cache again until
``tasks`` tasks ran in all. Every count is a short task on a ``local-cluster[2,1,1024]`` executor, so
the event stream is what a listener sees from a real job: task start/end with metrics, block
updates, stage and job events, and (with ``idle_cycle``) executors reclaimed by dynamic allocation
with their cache, re-added, and the cache recomputed.

Everything read from the JVM goes through py4j: Spark's own listener-bus timers
(``LiveListenerBusMetrics``), the queues' dropped-event counters, the CPU time of the listener-bus
threads (``ThreadMXBean``) and the driver JVM's pid.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import REPO, proc_cpu_s

LISTENER_CLASS = "io.sparkprobe.ProbeListener"
#: A listener that does nothing (Spark's own ``SparkFirehoseListener``): what any listener costs on this
#: machine, under this load, before it does any work.
NOOP_CLASS = "org.apache.spark.SparkFirehoseListener"
TIMED_CLASSES = (
    LISTENER_CLASS,
    "org.apache.spark.scheduler.EventLoggingListener",
    "org.apache.spark.status.AppStatusListener",
    NOOP_CLASS,
)
NOOP_QUEUE = "benchnoop"
SENDER_THREAD = "sparkprobe-sender"

BASE_CONF = {
    "spark.executor.cores": "1",
    "spark.executor.memory": "512m",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "2",
    "spark.dynamicAllocation.enabled": "true",
    "spark.dynamicAllocation.shuffleTracking.enabled": "true",
    "spark.dynamicAllocation.minExecutors": "0",
    "spark.dynamicAllocation.maxExecutors": "2",
    "spark.dynamicAllocation.initialExecutors": "2",
    "spark.dynamicAllocation.executorIdleTimeout": "3s",
    "spark.dynamicAllocation.cachedExecutorIdleTimeout": "4s",
    "spark.dynamicAllocation.shuffleTracking.timeout": "4s",
}


def resolve_jar(spec: str, python: str = sys.executable) -> tuple[str | None, str]:
    """``packaged`` → None (the jar inside the package, as users get it); ``source`` → a jar built
    now from jvm-listener/ into a temporary directory (what the next release ships); ``git:REF`` →
    a jar built from the jvm-listener/ of commit REF (``git archive`` into a scratch directory, so
    an older listener runs beside the current one in the same benchmark); else a path.
    Returns (jar path or None, a description with the jar's sha256)."""
    if spec == "packaged":
        from sparkprobe._jar import jar_path

        path = jar_path()
    elif spec == "source" or spec.startswith("git:"):
        scratch = Path(tempfile.mkdtemp(prefix="sparkprobe-bench-jar-"))
        out = scratch / "sparkprobe-listener.jar"
        tree = REPO
        if spec.startswith("git:"):
            ref = spec[len("git:"):]
            commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short=12", ref], check=True,
                                    capture_output=True, text=True).stdout.strip()
            spec = f"git:{ref} ({commit})"
            tree = scratch / "tree"
            tree.mkdir()
            archive = subprocess.run(["git", "-C", str(REPO), "archive", commit, "jvm-listener",
                                      "src/sparkprobe/_version.py"], check=True,
                                     capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        subprocess.run([python, str(tree / "jvm-listener" / "build_jar.py"), str(out)], check=True,
                       capture_output=True, text=True)
        path = str(out)
    else:
        path = spec
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]
    return (None if spec == "packaged" else path), f"{spec} ({path}, sha256 {digest})"


#: The tiny-task job's session: two task threads in the driver JVM, nothing else.
LOCAL_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "2",
}


def build_session(app_name: str, *, probe: bool, eventlog_dir: str | None, jar: str | None = None,
                  extra_conf: dict[str, str] | None = None, master: str = "local-cluster[2,1,1024]",
                  listeners: list[str] | None = None, extra_jars: list[str] | None = None) -> tuple[Any, Any]:
    """A ``local-cluster[2,1,1024]`` session (or ``master``: ``local[N]`` gets :data:`LOCAL_CONF`
    instead of the dynamic-allocation :data:`BASE_CONF`); with ``probe``, profiled by
    sparkprobe.configure (listener via spark.extraListeners, agent in this process).

    ``listeners``: the whole ``spark.extraListeners`` list, in the order Spark registers them on the
    shared queue (it must name ProbeListener when ``probe``); ``extra_jars`` join ``spark.jars``.
    Returns (spark, probe or None)."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(master).appName(app_name)
    base = LOCAL_CONF if master.startswith("local[") else BASE_CONF
    for key, value in {**base, **(extra_conf or {})}.items():
        builder = builder.config(key, value)
    if eventlog_dir is not None:
        os.makedirs(eventlog_dir, exist_ok=True)
        builder = builder.config("spark.eventLog.enabled", "true").config("spark.eventLog.dir", eventlog_dir)
    p = None
    jars: list[str] = []
    if probe:
        import sparkprobe

        p = sparkprobe.configure(builder, metrics=None, callsites=False)
        jars = [j for j in str(getattr(builder, "_options", {}).get("spark.jars", "")).split(",") if j]
        if jar is not None:  # an alternative build of the listener (e.g. to try a fix)
            jars = [jar]
    jars += extra_jars or []
    if jars:
        builder = builder.config("spark.jars", ",".join(jars))
    if listeners is not None:
        builder = builder.config("spark.extraListeners", ",".join(listeners))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark, p


def wait_executors(sc: Any, n: int, timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if sc._jsc.sc().getExecutorMemoryStatus().size() - 1 >= n:
            return
        time.sleep(0.2)
    raise RuntimeError(f"{n} executors did not register within {timeout_s}s")


def wait_no_executors(sc: Any, timeout_s: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if sc._jsc.sc().getExecutorMemoryStatus().size() - 1 <= 0:
            return True
        time.sleep(0.2)
    return False


def run_job(spark: Any, tasks: int, partitions: int, *, idle_cycle: bool, log: Any = print,
            on_pass: Any = None) -> dict[str, Any]:
    """Cache a DataFrame of ``partitions`` partitions and count it until ``tasks`` tasks ran.

    ``idle_cycle``: once, half-way, idle until dynamic allocation has reclaimed every executor
    (cache lost) and carry on (executors re-added, cache recomputed). ``on_pass(i)`` is called
    after each pass (the first pass is the one that builds the cache).
    Returns counts and the wall seconds of the passes (not counting the idle wait).
    """
    sc = spark.sparkContext
    df = spark.range(0, partitions * 50, 1, partitions).cache()
    passes = max(2, -(-tasks // partitions))
    busy_s = 0.0
    idle_s = 0.0
    reclaimed = False
    for i in range(passes):
        if idle_cycle and i == passes // 2 and not reclaimed:
            t0 = time.perf_counter()
            reclaimed = wait_no_executors(sc)
            idle_s = time.perf_counter() - t0
            log(f"    idle {idle_s:.1f}s: executors reclaimed by dynamic allocation = {reclaimed}")
        t0 = time.perf_counter()
        n = df.count()
        dt = time.perf_counter() - t0
        busy_s += dt
        assert n == partitions * 50, n
        log(f"    pass {i + 1}/{passes}: {partitions} tasks in {dt:.1f}s")
        if on_pass is not None:
            on_pass(i)
    return {"passes": passes, "partition_tasks": passes * partitions, "job_wall_s": busy_s,
            "idle_wait_s": idle_s, "reclaimed": reclaimed}


def run_tiny_job(spark: Any, jobs: int, tasks: int, *, log: Any = print, on_job: Any = None) -> dict[str, Any]:
    """``jobs`` counts of a ``spark.range`` of ``tasks`` partitions, ten rows each: thousands of
    tasks that each take well under a millisecond, all in the driver JVM under ``local[N]``.

    This is the listener bus's hardest case: events come as fast as the task threads finish
    tasks, on the cores the bus threads and the sender share with them. ``on_job(i)`` is called
    after each job. Returns counts and the wall seconds of the jobs."""
    busy_s = 0.0
    for i in range(jobs):
        t0 = time.perf_counter()
        n = spark.range(0, tasks * 10, 1, tasks).count()
        dt = time.perf_counter() - t0
        busy_s += dt
        assert n == tasks * 10, n
        log(f"    job {i + 1}/{jobs}: {tasks} tasks in {dt:.1f}s")
        if on_job is not None:
            on_job(i)
    return {"jobs": jobs, "partition_tasks": jobs * tasks, "job_wall_s": busy_s}


# ------------------------------------------------------------------------------------ JVM readings
def bus(sc: Any) -> Any:
    return sc._jsc.sc().listenerBus()


def drain_bus(sc: Any, timeout_ms: int = 120_000) -> None:
    """Wait until every listener-bus queue is empty (all posted events delivered)."""
    bus(sc).waitUntilEmpty(timeout_ms)


def jvm_pid(sc: Any) -> int:
    return int(sc._jvm.java.lang.ProcessHandle.current().pid())


def timer_stats(timer: Any) -> dict[str, float]:
    """Count, and mean/median/p99/max in µs, of a Codahale Timer's snapshot."""
    snap = timer.getSnapshot()
    values = [int(v) for v in snap.getValues()]  # the reservoir's samples, ns
    calm = [v for v in values if v < 1_000_000]
    return {
        # Without samples ≥ 1 ms: a GC pause or a preemption that caught the call (on a loaded
        # machine one such sample in the 1028 moves the reservoir mean by 10-20 µs).
        "mean_below_1ms_us": (sum(calm) / len(calm) / 1000) if calm else float("nan"),
        "samples_over_1ms": len(values) - len(calm),
        "count": int(timer.getCount()),
        "mean_us": snap.getMean() / 1000,
        "median_us": snap.getMedian() / 1000,
        "p99_us": snap.get99thPercentile() / 1000,
        "p75_us": snap.get75thPercentile() / 1000,
        "p95_us": snap.get95thPercentile() / 1000,
        "p999_us": snap.get999thPercentile() / 1000,
        "max_us": snap.getMax() / 1000,
        "reservoir": int(snap.size()),
    }


def listener_timers(sc: Any) -> dict[str, dict[str, float] | None]:
    """Spark's per-listener-class timers (µs per event) for the classes we compare."""
    metrics = bus(sc).metrics()
    loader = sc._jvm.java.lang.Thread.currentThread().getContextClassLoader()
    out: dict[str, dict[str, float] | None] = {}
    for name in TIMED_CLASSES:
        try:
            cls = sc._jvm.java.lang.Class.forName(name, True, loader)
        except Exception:  # noqa: BLE001 - py4j wraps ClassNotFoundException (no probe in this run)
            out[name] = None
            continue
        option = metrics.getTimerForListenerClass(cls)
        out[name] = timer_stats(option.get()) if option.isDefined() else None
    return out


def registry_readings(sc: Any) -> tuple[dict[str, int], dict[str, dict[str, float]]]:
    """Every counter (numEventsPosted, queue.*.numDroppedEvents) and the queue timers."""
    reg = bus(sc).metrics().metricRegistry()
    counters = reg.getCounters()
    timers = reg.getTimers()
    c = {str(k): int(counters.get(k).getCount()) for k in counters.keySet()}
    t = {str(k): timer_stats(timers.get(k)) for k in timers.keySet() if str(k).startswith("queue.")}
    return c, t


def add_noop_listener(sc: Any) -> None:
    """A listener that does nothing (Spark's SparkFirehoseListener) on a queue of its own: what any
    listener costs on this machine, under this load, before it does any work."""
    bus(sc).addToQueue(sc._jvm.org.apache.spark.SparkFirehoseListener(), NOOP_QUEUE)


def bus_thread_cpu_ms(sc: Any) -> dict[str, float]:
    """CPU milliseconds of each listener-bus queue thread (``spark-listener-group-*``) and of the
    listener's sender thread (``sparkprobe-sender``)."""
    jvm = sc._jvm
    mx = jvm.java.lang.management.ManagementFactory.getThreadMXBean()
    out = {}
    for th in jvm.java.lang.Thread.getAllStackTraces().keySet():
        name = th.getName()
        if name.startswith("spark-listener-group-"):
            out[name[len("spark-listener-group-"):]] = mx.getThreadCpuTime(th.getId()) / 1e6
        elif name == SENDER_THREAD:
            out[SENDER_THREAD] = out.get(SENDER_THREAD, 0.0) + mx.getThreadCpuTime(th.getId()) / 1e6
    return out


def listener_threads_cpu_ns(sc: Any) -> dict[str, int]:
    """CPU nanoseconds (ThreadMXBean, user + system) of every thread the listener owns, by thread
    name, summed over threads of one name (a thread that ended is no longer counted: the listener's
    sender lives as long as the application)."""
    jvm = sc._jvm
    mx = jvm.java.lang.management.ManagementFactory.getThreadMXBean()
    out: dict[str, int] = {}
    for th in jvm.java.lang.Thread.getAllStackTraces().keySet():
        name = str(th.getName())
        if name.startswith("sparkprobe-"):
            out[name] = out.get(name, 0) + int(mx.getThreadCpuTime(th.getId()))
    return out


def jvm_cpu_s(pid: int) -> float:
    return proc_cpu_s(pid)
