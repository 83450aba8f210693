"""What sparkprobe's listener costs the Spark driver, per event, in real jobs, beside other listeners.

Two jobs, each run in a fresh PySpark driver (a child process) with sparkprobe attached the
production way (``sparkprobe.configure``: ``io.sparkprobe.ProbeListener`` in
``spark.extraListeners``, the agent in the driver's Python process) and event logging on:

* ``bench``: ``local-cluster[2,1,1024]`` with dynamic allocation, :func:`_sparkjob.run_job`
  (≥ 20k short tasks over a cached DataFrame, executors reclaimed and re-added once): a few
  hundred events per second, block updates included.
* ``tiny``: ``local[2]``, :func:`_sparkjob.run_tiny_job` (``--tiny-jobs`` jobs of ``--tiny-tasks``
  tasks that each take well under a millisecond): thousands of events per second, the task
  threads, the bus threads and the listener's sender competing for the same two cores.

Beside ProbeListener on Spark's shared queue: a listener that does nothing (Spark's own
``SparkFirehoseListener``) and, with ``--peer-jar PATH --peer-class NAME``, a peer listener the user
supplies (the benchmark builds nothing of it). Their order on the queue rotates from one repeat to
the next: the first listener a queue calls reads each event with cold caches. EventLoggingListener
and AppStatusListener run on their own queues, as always.

With ``--before SPEC`` (``git:main``: the listener of commit ``main``, built now in a scratch
directory; or a jar path) every run is made with both jars, alternating which goes first, so the
before and after columns share the run and its load. Before each start the parent waits (at most
``--load-wait-s``) for the 1-minute load average to fall below ``--max-start-load``.

Readings, all from the driver JVM through py4j, over a window that starts after the warm-up (the
bench job's first, cache-building pass; the tiny job's first job) and also over the whole app:

* **driver CPU per event that sparkprobe adds** (goal 1): the bus-thread time inside the
  listener's ``on*`` methods (its own ``processingNanos``: wall time, an upper bound of its CPU;
  see ``ProbeListener.processingNanos`` for how it is measured) plus the CPU time (ThreadMXBean,
  user + system) of every thread the listener owns (``sparkprobe-*``: the sender, which encodes
  and writes the socket), divided by the events the listener offered.
* Spark's own per-listener-class timers (``LiveListenerBusMetrics.getTimerForListenerClass``;
  goal 2): wall time of each ``on*`` call as the bus thread sees it. Codahale timers with an
  exponentially decaying reservoir (1028 samples, biased to the last minutes): mean and p99 of
  the recent part of the run.
* ``queue.*.numDroppedEvents`` of every queue (must be 0) and the listener's own drop count.

Run:  PYTHONPATH=src python benchmarks/bus_cost.py [--job bench|tiny|both] [--repeats 3]
      [--before git:main] [--peer-jar PATH --peer-class NAME] [--tasks 20000] [--tiny-jobs 3 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEFAULT_OUT, Report, env_with_src, loadavg, run_child  # noqa: E402

GOAL_CPU_US = 2.0  # driver CPU sparkprobe adds per event, all its threads
GOAL_MEAN_US = 1.5  # Spark's timer, ProbeListener mean
GOAL_P99_US = 10.0  # Spark's timer, ProbeListener p99
EVENTLOG_CLASS = "org.apache.spark.scheduler.EventLoggingListener"
APPSTATUS_CLASS = "org.apache.spark.status.AppStatusListener"


# ---------------------------------------------------------------------------------------- one run
def find_probe_listener(sc: Any) -> Any:
    from _sparkjob import LISTENER_CLASS, bus

    for listener in bus(sc).listeners():
        if listener.getClass().getName() == LISTENER_CLASS:
            return listener
    return None


def wait_agent_caught_up(probe: Any, listener: Any, timeout_s: float = 60.0) -> int:
    """Wait until the agent has received what the listener offered (plus its stats lines)."""
    deadline = time.monotonic() + timeout_s
    target = int(listener.offeredEvents()) - int(listener.droppedEvents())
    received = 0
    while time.monotonic() < deadline:
        rec = probe.record()
        received = rec.events_received if rec is not None else 0
        if received >= target:
            break
        time.sleep(0.1)
    return received


def timers_of(sc: Any, classes: list[str]) -> dict[str, dict[str, float] | None]:
    """Spark's timer of each listener class (None when the class has none in this run)."""
    from _sparkjob import bus, timer_stats

    metrics = bus(sc).metrics()
    loader = sc._jvm.java.lang.Thread.currentThread().getContextClassLoader()
    out: dict[str, dict[str, float] | None] = {}
    for name in classes:
        try:
            cls = sc._jvm.java.lang.Class.forName(name, True, loader)
        except Exception:  # noqa: BLE001 - py4j wraps ClassNotFoundException
            out[name] = None
            continue
        option = metrics.getTimerForListenerClass(cls)
        out[name] = timer_stats(option.get()) if option.isDefined() else None
    return out


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """One driver: session, job, readings. Returns what the parent aggregates."""
    from _sparkjob import (
        LISTENER_CLASS,
        build_session,
        drain_bus,
        listener_threads_cpu_ns,
        registry_readings,
        run_job,
        run_tiny_job,
        wait_executors,
    )

    job = spec["job"]
    evdir = tempfile.mkdtemp(prefix="sparkprobe-bench-evlog-")
    extra = {"spark.eventLog.logBlockUpdates.enabled": "true"} if spec["log_block_updates"] else {}
    master = "local-cluster[2,1,1024]" if job == "bench" else "local[2]"
    t0 = time.perf_counter()
    spark, probe = build_session(f"sparkprobe-bench-bus-cost-{job}", probe=True, eventlog_dir=evdir,
                                 jar=spec["jar"], extra_conf=extra, master=master, listeners=spec["listeners"],
                                 extra_jars=[spec["peer_jar"]] if spec["peer_jar"] else None)
    sc = spark.sparkContext
    classes = list(dict.fromkeys([LISTENER_CLASS, *spec["listeners"], EVENTLOG_CLASS, APPSTATUS_CLASS]))
    try:
        if job == "bench":
            wait_executors(sc, 2)
        session_s = time.perf_counter() - t0
        listener = find_probe_listener(sc)
        if listener is None:
            raise RuntimeError("ProbeListener is not registered on the bus")

        def reading() -> dict[str, Any]:
            probe_timer = timers_of(sc, [LISTENER_CLASS])[LISTENER_CLASS]
            return {
                "offered": int(listener.offeredEvents()),
                "processing_ns": int(listener.processingNanos()),
                "threads_cpu_ns": listener_threads_cpu_ns(sc),
                "delivered": int(probe_timer["count"]) if probe_timer else 0,
                "time": time.perf_counter(),
            }

        marks: dict[str, dict[str, Any]] = {"app": reading()}

        def warm(i: int) -> None:
            if i == 0:  # after the first pass or job: JIT warm, start the warm window
                drain_bus(sc)
                marks["warm"] = reading()

        if job == "bench":
            ran = run_job(spark, spec["tasks"], spec["partitions"], idle_cycle=spec["idle_cycle"], log=print,
                          on_pass=warm)
        else:
            ran = run_tiny_job(spark, spec["tiny_jobs"], spec["tiny_tasks"], log=print, on_job=warm)
        drain_bus(sc)
        end = reading()
        counters, _ = registry_readings(sc)
        timers = timers_of(sc, classes)
        dropped = int(listener.droppedEvents())
        errors = int(listener.internalErrors())
        received = wait_agent_caught_up(probe, listener)
        snap = probe.snapshot()
    finally:
        spark.stop()
        if probe is not None:
            probe.close()

    windows = {}
    for name, start in marks.items():
        offered = end["offered"] - start["offered"]
        threads = {k: v - start["threads_cpu_ns"].get(k, 0) for k, v in end["threads_cpu_ns"].items()}
        bus_ns = end["processing_ns"] - start["processing_ns"]
        windows[name] = {
            "offered": offered,
            "delivered": end["delivered"] - start["delivered"],
            "wall_s": end["time"] - start["time"],
            "bus_ns": bus_ns,
            "threads_cpu_ns": threads,
            "bus_us": bus_ns / offered / 1000 if offered else float("nan"),
            "threads_us": sum(threads.values()) / offered / 1000 if offered else float("nan"),
        }
        windows[name]["total_us"] = windows[name]["bus_us"] + windows[name]["threads_us"]
    tasks_seen = sum(snap.get("tasks", {}).get(s, 0) for s in ("success", "failed", "killed"))
    return {
        "job": ran, "session_s": session_s, "windows": windows, "timers": timers,
        "spark_dropped": {k: v for k, v in counters.items() if k.endswith("numDroppedEvents")},
        "events_posted": counters.get("numEventsPosted", 0), "listener_dropped": dropped,
        "internal_errors": errors, "agent_received": received, "agent_tasks": tasks_seen,
    }


# ---------------------------------------------------------------------------------------- parent
def wait_quiet(max_load: float, wait_s: float) -> str:
    """Wait until the 1-minute load average is below ``max_load`` (at most ``wait_s``); the load then."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and float(loadavg().split()[0]) >= max_load:
        time.sleep(5)
    return loadavg()


def run_one(spec: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    load0 = wait_quiet(args.max_start_load, args.load_wait_s)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", f.name]
    run = run_child(cmd, env=env_with_src(), timeout=3600)
    line = next((x for x in run.stdout.splitlines() if x.startswith("RESULT ")), None)
    if run.returncode != 0 or line is None:
        print(run.stdout[-2000:], run.stderr[-4000:], file=sys.stderr)
        raise SystemExit(f"run {spec['label']} {spec['job']} failed ({run.returncode})")
    res: dict[str, Any] = json.loads(line[len("RESULT "):])
    res.update(spec=spec, load_start=load0, load_end=loadavg(), process_wall_s=run.wall_s)
    return res


def med(xs: list[float]) -> float:
    xs = [x for x in xs if x == x]
    return statistics.median(xs) if xs else float("nan")


def timer_of(run: dict[str, Any], cls: str, key: str) -> float:
    t = run["timers"].get(cls)
    return float(t[key]) if t else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--job", choices=("bench", "tiny", "both"), default="both", help="which job (default both)")
    ap.add_argument("--repeats", type=int, default=1, help="runs of each job and jar (default 1; 3 for the docs)")
    ap.add_argument("--tasks", type=int, default=20_000, help="bench job: tasks in all (default 20000)")
    ap.add_argument("--partitions", type=int, default=2_000, help="bench job: tasks per pass (default 2000)")
    ap.add_argument("--no-idle-cycle", action="store_true", help="bench job: skip the executor reclaim/re-add cycle")
    ap.add_argument("--tiny-jobs", type=int, nargs="+", default=[3],
                    help="tiny job: jobs per app; several values = several sizes (default 3)")
    ap.add_argument("--tiny-tasks", type=int, default=3_000, help="tiny job: tasks per job (default 3000)")
    ap.add_argument("--jar", default="source",
                    help="listener jar: 'source' (built now from jvm-listener/, default), 'packaged' "
                         "(src/sparkprobe/_jar), 'git:REF', or a path")
    ap.add_argument("--before", default=None,
                    help="a second listener jar run beside --jar in the same run (same forms, e.g. git:main)")
    ap.add_argument("--peer-jar", default=None, help="a peer listener's jar (supplied by you; nothing is built)")
    ap.add_argument("--peer-class", default=None, help="the peer listener's class (in spark.extraListeners)")
    ap.add_argument("--max-start-load", type=float, default=1.0,
                    help="wait before each run until the 1-minute load is below this (default 1.0)")
    ap.add_argument("--load-wait-s", type=float, default=120.0, help="longest such wait (default 120 s)")
    ap.add_argument("--log-block-updates", action="store_true",
                    help="also write block updates to the event log (spark.eventLog.logBlockUpdates.enabled)")
    ap.add_argument("--name", default="bus_cost", help="result file name (<out>/<name>.json)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        spec = json.loads(Path(args.child).read_text())
        print("RESULT " + json.dumps(child(spec)), flush=True)
        return 0
    if (args.peer_jar is None) != (args.peer_class is None):
        ap.error("--peer-jar and --peer-class go together")

    from _sparkjob import LISTENER_CLASS, NOOP_CLASS, resolve_jar

    variants: list[tuple[str, str | None, str]] = []
    jar, desc = resolve_jar(args.jar)
    variants.append(("after" if args.before else "current", jar, desc))
    if args.before:
        bjar, bdesc = resolve_jar(args.before)
        variants.append(("before", bjar, bdesc))
    report = Report(args.name, params={k: v for k, v in vars(args).items() if k not in ("out", "name", "child")})
    report.params["jars"] = {label: d for label, _, d in variants}
    base = [LISTENER_CLASS, NOOP_CLASS] + ([args.peer_class] if args.peer_class else [])
    jobs = ([("bench", 0)] if args.job in ("bench", "both") else []) + \
        ([("tiny", n) for n in args.tiny_jobs] if args.job in ("tiny", "both") else [])
    print(f"[bus_cost] jobs {jobs}, {args.repeats} repeat(s), jars {report.params['jars']}, load {loadavg()}",
          flush=True)
    runs: list[dict[str, Any]] = []
    for rep in range(args.repeats):
        order = base[rep % len(base):] + base[:rep % len(base)]  # rotate the shared queue's listeners
        for job, tiny_jobs in jobs:
            for label, vjar, _ in (variants if rep % 2 == 0 else variants[::-1]):
                spec = {"job": job, "label": label, "jar": vjar, "listeners": order, "peer_jar": args.peer_jar,
                        "tasks": args.tasks, "partitions": args.partitions, "idle_cycle": not args.no_idle_cycle,
                        "tiny_jobs": tiny_jobs, "tiny_tasks": args.tiny_tasks,
                        "log_block_updates": args.log_block_updates, "repeat": rep}
                print(f"  run {rep + 1}/{args.repeats} {job}{tiny_jobs or ''} {label}, shared queue order "
                      f"{[c.rsplit('.', 1)[1] for c in order]}", flush=True)
                res = run_one(spec, args)
                runs.append(res)
                w = res["windows"]["warm"]
                print(f"    load {res['load_start']} → {res['load_end']}; sparkprobe driver CPU "
                      f"{w['total_us']:.2f} µs/event (bus {w['bus_us']:.2f} + threads {w['threads_us']:.2f}); "
                      f"Spark timer mean {timer_of(res, LISTENER_CLASS, 'mean_us'):.2f} µs, "
                      f"p99 {timer_of(res, LISTENER_CLASS, 'p99_us'):.2f} µs; no-op "
                      f"{timer_of(res, NOOP_CLASS, 'mean_us'):.2f} µs", flush=True)
    summarize(report, runs, jobs, [v[0] for v in variants], args.peer_class)
    report.details["runs"] = runs
    report.write(args.out)
    return 0


def summarize(report: Report, runs: list[dict[str, Any]], jobs: list[tuple[str, int]], labels: list[str],
              peer: str | None) -> None:
    """Medians over the repeats, one table row per figure, a column per (job, jar)."""
    from _sparkjob import LISTENER_CLASS, NOOP_CLASS

    cols = [(job, n, label) for job, n in jobs for label in labels]

    def pick(job: str, n: int, label: str) -> list[dict[str, Any]]:
        return [r for r in runs if r["spec"]["job"] == job and r["spec"]["tiny_jobs"] == n
                and r["spec"]["label"] == label]

    rows: list[tuple[str, Any]] = [
        ("sparkprobe driver CPU, after warm-up: bus + own threads", lambda r: r["windows"]["warm"]["total_us"]),
        ("  bus thread inside on* (processingNanos)", lambda r: r["windows"]["warm"]["bus_us"]),
        ("  sender thread CPU (ThreadMXBean)", lambda r: r["windows"]["warm"]["threads_us"]),
        ("sparkprobe driver CPU, whole app", lambda r: r["windows"]["app"]["total_us"]),
        ("ProbeListener, Spark timer mean", lambda r: timer_of(r, LISTENER_CLASS, "mean_us")),
        ("ProbeListener, Spark timer p99", lambda r: timer_of(r, LISTENER_CLASS, "p99_us")),
        ("no-op listener, Spark timer mean", lambda r: timer_of(r, NOOP_CLASS, "mean_us")),
        ("no-op listener, Spark timer p99", lambda r: timer_of(r, NOOP_CLASS, "p99_us")),
    ]
    if peer:
        short = peer.rsplit(".", 1)[-1]
        rows += [(f"{short} (peer), Spark timer mean", lambda r: timer_of(r, peer, "mean_us")),
                 (f"{short} (peer), Spark timer p99", lambda r: timer_of(r, peer, "p99_us"))]
    rows += [
        ("EventLoggingListener, Spark timer mean", lambda r: timer_of(r, EVENTLOG_CLASS, "mean_us")),
        ("EventLoggingListener, Spark timer p99", lambda r: timer_of(r, EVENTLOG_CLASS, "p99_us")),
        ("events offered to ProbeListener (warm window)", lambda r: r["windows"]["warm"]["offered"]),
    ]
    head = "| µs per event (median of runs) | " + " | ".join(
        f"{job}{n or ''} {label}" for job, n, label in cols) + " |"
    lines = [head, "|---|" + "---|" * len(cols)]
    for title, get in rows:
        cells = []
        for job, n, label in cols:
            vals = [float(get(r)) for r in pick(job, n, label)]
            m = med(vals)
            cells.append(f"{m:,.0f}" if m >= 1000 else f"{m:.2f}")
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    loads = " | ".join(", ".join(f"{r['load_start'].split()[0]}→{r['load_end'].split()[0]}" for r in pick(*c))
                       for c in cols)
    lines.append(f"| 1-min load, start→end of each run | {loads} |")
    table = "\n".join(lines)
    print(table, flush=True)
    report.details["table"] = table

    current = labels[0]
    for job, n in jobs:
        sel = pick(job, n, current)
        if not sel:
            continue
        tag = f"{job}{n or ''}"
        total = med([r["windows"]["warm"]["total_us"] for r in sel])
        worst = max(r["windows"]["warm"]["total_us"] for r in sel)
        report.add(f"{tag}: sparkprobe driver CPU per event (bus + sender), after warm-up", total, "µs/event",
                   f"≤ {GOAL_CPU_US}", total <= GOAL_CPU_US, note=f"median of {len(sel)}; worst {worst:.2f}")
        mean = med([timer_of(r, LISTENER_CLASS, "mean_us") for r in sel])
        p99 = med([timer_of(r, LISTENER_CLASS, "p99_us") for r in sel])
        report.add(f"{tag}: ProbeListener mean (Spark timer)", mean, "µs/event", f"≤ {GOAL_MEAN_US}",
                   mean <= GOAL_MEAN_US, note=f"median of {len(sel)}")
        report.add(f"{tag}: ProbeListener p99 (Spark timer)", p99, "µs/event", f"≤ {GOAL_P99_US}",
                   p99 <= GOAL_P99_US, note=f"median of {len(sel)}")
    spark_dropped = sum(sum(r["spark_dropped"].values()) for r in runs)
    report.add("Spark numDroppedEvents, every queue of every run", spark_dropped, "events", "= 0", spark_dropped == 0)
    listener_dropped = sum(r["listener_dropped"] for r in runs)
    report.add("sparkprobe listener dropped, every run", listener_dropped, "events", "= 0", listener_dropped == 0)
    short = [r for r in runs if r["agent_tasks"] < r["job"]["partition_tasks"]]
    report.add("runs where the agent saw fewer tasks than Spark ran", len(short), "runs", "= 0", not short)


if __name__ == "__main__":
    sys.exit(main())
