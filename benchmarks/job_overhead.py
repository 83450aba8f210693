"""What sparkprobe costs a whole job: paired runs with and without it, each in a fresh driver.

Runs A (no sparkprobe) and B (``sparkprobe.configure``: the listener through
``spark.extraListeners`` and the agent inside the driver's Python process) alternate, A B A B …,
each a new Python driver process running the same job as bus_cost (``_sparkjob.run_job``: a
cached DataFrame counted pass after pass, dynamic allocation on, no idle cycle) on
``local-cluster[2,1,1024]``. Alternating pairs cancel slow drifts in the machine's load; the
ratio B/A is taken within each pair, and its median and spread over the pairs are reported.

Measured in each driver over the job window (from just before the first action to the moment
every listener-bus queue is empty and, for B, the agent has every event):

* driver JVM CPU seconds: utime+stime of the driver JVM process from /proc/PID/stat (all its
  threads: scheduler, listener bus, the in-JVM local-cluster master and workers, and the listener);
* driver Python CPU seconds (``time.process_time`` of the driver process; for B this includes the
  agent's thread);
* executors' CPU seconds: /proc/PID/stat of the driver JVM's child processes (the executor JVMs);
* job wall seconds.

With B, every queue's ``numDroppedEvents`` and the listener's own drop count must be 0.

Run:  PYTHONPATH=src python benchmarks/job_overhead.py [--pairs 5] [--tasks 2000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    DEFAULT_OUT,
    Report,
    descendants_of,
    env_with_src,
    loadavg,
    median,
    proc_cpu_s,
    run_child,
    spread,
)


def child(args: argparse.Namespace) -> int:
    """One driver: build the session, run the job, print one JSON line of readings."""
    from _sparkjob import build_session, drain_bus, jvm_pid, registry_readings, run_job, wait_executors

    evdir = tempfile.mkdtemp(prefix="sparkprobe-bench-evlog-") if args.eventlog else None
    t_session = time.perf_counter()
    spark, probe = build_session(f"sparkprobe-bench-overhead-{args.variant}", probe=args.variant == "on",
                                 eventlog_dir=evdir, jar=args.jar)
    sc = spark.sparkContext
    out: dict[str, Any] = {"variant": args.variant}
    try:
        wait_executors(sc, 2)
        out["session_s"] = time.perf_counter() - t_session
        pid = jvm_pid(sc)

        def executors_cpu() -> dict[int, float]:
            cpu = {}
            for p in descendants_of(pid):
                try:
                    cpu[p] = proc_cpu_s(p)
                except OSError:
                    pass
            return cpu

        ex0 = executors_cpu()
        jvm0 = proc_cpu_s(pid)
        py0 = time.process_time()
        t0 = time.perf_counter()
        warm: dict[str, float] = {}

        def on_pass(i: int) -> None:
            if i == 0:  # after the cache-building pass (and the JIT's first compilations)
                warm.update(jvm=proc_cpu_s(pid), py=time.process_time(), t=time.perf_counter())

        job = run_job(spark, args.tasks, args.partitions, idle_cycle=False, log=lambda *_: None, on_pass=on_pass)
        drain_bus(sc)
        if probe is not None:
            # The agent has every event: it saw all the tasks and its count stopped moving.
            deadline = time.monotonic() + 60
            last, still = -1, 0
            while time.monotonic() < deadline:
                rec = probe.record()
                got = rec.events_received if rec is not None else 0
                tasks = rec.state.tasks_by_status["success"] if rec is not None else 0
                still = still + 1 if got == last else 0
                last = got
                if tasks >= job["partition_tasks"] and still >= 3:
                    break
                time.sleep(0.02)
        wall = time.perf_counter() - t0
        jvm1 = proc_cpu_s(pid)
        py1 = time.process_time()
        ex1 = executors_cpu()
        counters, _ = registry_readings(sc)
        out.update(
            job_wall_s=wall, jvm_cpu_s=jvm1 - jvm0, py_cpu_s=py1 - py0,
            warm_wall_s=t0 + wall - warm["t"], warm_jvm_cpu_s=jvm1 - warm["jvm"], warm_py_cpu_s=py1 - warm["py"],
            executors_cpu_s=sum(ex1[p] - ex0.get(p, 0.0) for p in ex1),
            executors_seen=len(ex1), tasks=job["partition_tasks"],
            dropped_spark=sum(v for k, v in counters.items() if k.endswith("numDroppedEvents")),
            events_posted=counters.get("numEventsPosted", 0),
        )
        if probe is not None:
            snap = probe.snapshot()
            out["dropped_listener"] = snap["listener"]["dropped"]
            out["agent_tasks"] = snap["tasks"]["success"]
    finally:
        spark.stop()
        if probe is not None:
            probe.close()
    print("RESULT " + json.dumps(out), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--tasks", type=int, default=2000, help="tasks per run (default 2000)")
    ap.add_argument("--partitions", type=int, default=500, help="tasks per pass (default 500)")
    ap.add_argument("--eventlog", action="store_true", help="event logging on in both variants")
    ap.add_argument("--jar", default="source", help="listener jar: source (default), packaged, or a path")
    ap.add_argument("--name", default="job_overhead", help="result file name (<out>/<name>.json)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--variant", choices=("on", "off"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(args)

    from _sparkjob import resolve_jar

    jar, jar_desc = resolve_jar(args.jar)
    report = Report(args.name, params={**{k: v for k, v in vars(args).items()
                                                if k not in ("out", "child", "variant", "jar")}, "jar": jar_desc})
    print(f"[job_overhead] {args.pairs} pairs A(off) B(on), {args.tasks} tasks each; jar {jar_desc}; "
          f"load {loadavg()}", flush=True)
    runs: list[dict[str, Any]] = []
    for i in range(args.pairs):
        for variant in ("off", "on"):
            cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--variant", variant,
                   "--tasks", str(args.tasks), "--partitions", str(args.partitions), "--jar", jar or "packaged"]
            if args.eventlog:
                cmd.append("--eventlog")
            load = loadavg()
            run = run_child(cmd, env=env_with_src(), timeout=1800)
            line = next((x for x in run.stdout.splitlines() if x.startswith("RESULT ")), None)
            if run.returncode != 0 or line is None:
                print(run.stderr[-3000:], file=sys.stderr)
                raise SystemExit(f"run {i} {variant} failed ({run.returncode})")
            res = json.loads(line[len("RESULT "):])
            res.update(pair=i, load=load, process_wall_s=run.wall_s)
            runs.append(res)
            print(f"  pair {i + 1} {variant:>3}: job {res['job_wall_s']:.1f}s wall; CPU driver JVM "
                  f"{res['jvm_cpu_s']:.2f}s + Python {res['py_cpu_s']:.2f}s, executors {res['executors_cpu_s']:.1f}s; "
                  f"dropped {res['dropped_spark']}  [load {load}]", flush=True)
    report.details["runs"] = runs

    def ratios(key: Any) -> list[float]:
        out = []
        for i in range(args.pairs):
            a = next(r for r in runs if r["pair"] == i and r["variant"] == "off")
            b = next(r for r in runs if r["pair"] == i and r["variant"] == "on")
            va, vb = key(a), key(b)
            out.append(vb / va if va > 0 else float("nan"))
        return out

    measures = {
        "job wall time": lambda r: r["job_wall_s"],
        "driver JVM CPU": lambda r: r["jvm_cpu_s"],
        "driver JVM + Python CPU": lambda r: r["jvm_cpu_s"] + r["py_cpu_s"],
        "executors CPU": lambda r: r["executors_cpu_s"],
        "after pass 1: job wall time": lambda r: r["warm_wall_s"],
        "after pass 1: driver JVM + Python CPU": lambda r: r["warm_jvm_cpu_s"] + r["warm_py_cpu_s"],
    }
    for name, key in measures.items():
        rs = ratios(key)
        sp = spread(rs)
        report.add(f"{name}, B/A ratio (median of {args.pairs} pairs)", median(rs), "×",
                   note=f"min {sp['min']:.3f}, quartiles {sp['q1']:.3f}–{sp['q3']:.3f}, max {sp['max']:.3f}; "
                        f"pairs: {', '.join(f'{x:.3f}' for x in rs)}")
        report.details.setdefault("ratios", {})[name] = rs
    on = [r for r in runs if r["variant"] == "on"]
    off = [r for r in runs if r["variant"] == "off"]
    for name, key in (("driver JVM CPU", lambda r: r["jvm_cpu_s"]), ("driver Python CPU", lambda r: r["py_cpu_s"])):
        report.add(f"{name} per run, median A / B",
                   f"{median([key(r) for r in off]):.2f} s / {median([key(r) for r in on]):.2f} s")
    added = [(r["jvm_cpu_s"] + r["py_cpu_s"]) for r in on]
    base = [(r["jvm_cpu_s"] + r["py_cpu_s"]) for r in off]
    events = median([r["events_posted"] for r in on])
    report.add("driver CPU added per listener-bus event (median B − median A)",
               (median(added) - median(base)) / events * 1e6, "µs/event",
               note=f"{events:,.0f} events posted per run")
    dropped = sum(r["dropped_spark"] for r in on) + sum(r.get("dropped_listener", 0) for r in on)
    report.add("events dropped with sparkprobe on (Spark queues + listener)", dropped, "events", "= 0", dropped == 0)
    report.write(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
