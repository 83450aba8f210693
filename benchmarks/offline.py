"""``sparkprobe analyze`` on a big Spark event log, side by side with Spark's own replay of it.

A Spark 4.0-format JSON event log (``_eventlog.py``: application start/end, environment, executors
added and removed by dynamic allocation with their block managers, jobs, stages, task start/end
with full metrics, block updates, unpersists) of ``--tasks`` tasks and about ``--executors``
executors is written to a temporary directory, then read by:

* ``python -m sparkprobe.cli analyze LOG --format json -o /dev/null`` (a subprocess);
* Spark's ``ReplayListenerBus`` from the pyspark jars (``replay/SparkReplay.java``, compiled here
  with javac): ``parse`` (replay into a counting listener: JsonProtocol parse + post, the floor of
  any replay) and ``status`` (replay into AppStatusListener over an in-memory store, what the
  History Server does to load an app).

Each runs ``--repeat`` times, interleaved; the best wall time and CPU time of each are kept (the
machine may be shared: the minimum is the least disturbed run). Wall, CPU (user+system) and peak
RSS come from wait4 on each child process, so they include interpreter / JVM start-up; Spark's
replay-only time (measured inside the JVM) is reported too. sparkprobe's peak RSS is also measured
on a log of ``--small-fraction`` of the tasks and, with ``--rss-series``, on logs of the given task
counts, to show memory flat in the number of tasks.

``--shared`` measures something else, on real logs (``--logs``, default the largest shared logs of
/work/shared/eventlogs): ``analyze`` against ``orjson.loads`` of every line of the same decompressed
log, both timed in one child process (``_offline_ratio.py``), best of ``--repeat``, so the ratio
holds on a busy machine. With ``--before REV|DIR`` the same is measured for another sparkprobe
(a git revision of this repository, or a src/ directory), interleaved with this one, and
``--identical`` checks that both give byte-identical ``analyze --format json`` for every shared
log. ``--before`` also adds that sparkprobe's ``analyze`` beside this one to the replay runs.

``--parallel`` times ``analyze`` of every shared log in one command, ``--jobs 1`` against
``--jobs N`` (``--parallel-jobs``, default the cores available), interleaved, best of ``--repeat``,
and checks that both write the same bytes.

Run:  PYTHONPATH=src python benchmarks/offline.py [--tasks 200000] [--tasks 1000000 for the full size]
      PYTHONPATH=src python benchmarks/offline.py --shared --before main --identical
      PYTHONPATH=src python benchmarks/offline.py --parallel
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    DEFAULT_OUT,
    EVENTLOGS,
    ChildRun,
    Report,
    describe_tree,
    env_with_src,
    loadavg,
    run_child,
    src_tree,
)
from _eventlog import write_eventlog  # noqa: E402
from _wiregen import SyntheticApp  # noqa: E402

GOAL_RSS_MIB = 300.0
GOAL_SPEEDUP = 8.0
GOAL_ORJSON_RATIO = 1.0
#: The shared logs ``--shared`` times by default: every shared log of more than 10 MB decompressed
#: (SQL-heavy YARN, Databricks Photon, Dataproc, NDS on CPU and GPU, failing tasks, a rolling dir).
#: On smaller logs the fixed cost of a run (discovery, the report) is most of the time.
SHARED_DEFAULT = (
    "public/nds_q88_photon_db_13_3.zstd",
    "public/application_1640227485896_0002.zstd",
    "public/nds_q72_dataproc_2_2.zstd",
    "public/nds_q66_cpu.zstd",
    "public/tasks_executors_fail_compressed_eventlog.zstd",
    "public/gpu_oom_eventlog.zstd",
    "public/eventlog_v2_local-1623876083964",
)
HERE = Path(__file__).resolve().parent
ADD_OPENS = [
    "--add-opens=java.base/java.lang=ALL-UNNAMED", "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED", "--add-opens=java.base/java.util=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.invoke=ALL-UNNAMED",
]


def spark_jars(python: str) -> str:
    out = subprocess.run([python, "-c", "import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), 'jars'))"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def compile_replay(jars: str, work: Path) -> Path:
    classes = work / "replay-classes"
    classes.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["javac", "-nowarn", "-encoding", "UTF-8", "-cp", f"{jars}/*", "-d", str(classes),
                           str(HERE / "replay" / "SparkReplay.java")], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"javac failed:\n{proc.stderr}")
    return classes


def make_log(path: Path, tasks: int, max_executors: int, blocks: int, seed: int = 1) -> dict[str, Any]:
    app = SyntheticApp("app-20261124000000-0001", tasks=tasks, blocks=blocks,
                       max_executors=max_executors, min_executors=max_executors // 4, cores=4, seed=seed,
                       end=True, start_ms=1_795_480_000_000)
    t0 = time.perf_counter()
    info = write_eventlog(app, path)
    info["write_s"] = time.perf_counter() - t0
    return info


# wait4's ru_maxrss of a child also counts the image it was forked from (Linux carries the
# pre-exec high-water mark over exec), so a child of a 50 MiB benchmark process never reports less
# than 50 MiB. The child's own peak is the VmHWM of its exec'd image, read just before it exits.
_OWN_PEAK = (
    "import sys\n"
    "from sparkprobe.cli import main\n"
    "rc = main(sys.argv[1:])\n"
    "hwm = next(l for l in open('/proc/self/status') if l.startswith('VmHWM:')).split()[1]\n"
    "print(f'VMHWM_KB={hwm}', file=sys.stderr)\n"
    "sys.exit(rc)\n"
)


def run_sparkprobe(log: Path, src: Path | None = None) -> ChildRun:
    run = run_child([sys.executable, "-c", _OWN_PEAK, "analyze", str(log), "--format", "json", "-o", os.devnull],
                    env=env_with_src(src=src), timeout=3600)
    if run.returncode != 0:
        raise RuntimeError(f"sparkprobe analyze failed ({run.returncode}):\n{run.stderr[-3000:]}")
    hwm = [line for line in run.stderr.splitlines() if line.startswith("VMHWM_KB=")]
    return dataclasses.replace(run, maxrss_mib=int(hwm[-1].split("=")[1]) / 1024) if hwm else run


def run_spark(mode: str, log: Path, classes: Path, jars: str, xmx: str) -> tuple[ChildRun, dict[str, Any]]:
    run = run_child(["java", f"-Xmx{xmx}", *ADD_OPENS, "-Dlog4j2.level=ERROR", "-cp", f"{classes}:{jars}/*",
                     "SparkReplay", mode, str(log)], timeout=3600)
    line = next((x for x in run.stdout.splitlines() if x.startswith("{")), None)
    if run.returncode != 0 or line is None:
        raise RuntimeError(f"Spark replay ({mode}) failed ({run.returncode}):\n{run.stderr[-3000:]}")
    return run, json.loads(line)


def best(runs: list[Any], key: str) -> float:
    return min(getattr(r, key) if not isinstance(r, dict) else r[key] for r in runs)


def ratio_child(log: Path, src: Path | None, repeat: int, json_out: Path | None = None, profile: int = 0
                ) -> dict[str, Any]:
    cmd = [sys.executable, str(HERE / "_offline_ratio.py"), str(log), "--repeat", str(repeat), "--profile", str(profile)]
    if json_out is not None:
        cmd += ["--json-out", str(json_out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env_with_src(src=src), timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"_offline_ratio.py {log} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def shared_logs(names: list[str]) -> list[Path]:
    if names:
        return [Path(n) if Path(n).exists() else EVENTLOGS / n for n in names]
    return [EVENTLOGS / n for n in SHARED_DEFAULT if (EVENTLOGS / n).exists()]


def every_shared_log() -> list[Path]:
    """Every log of the shared corpus, one path per top-level entry (a file, or a log directory)."""
    out: list[Path] = []
    for folder in ("public", "recorded"):
        for entry in sorted((EVENTLOGS / folder).iterdir()):
            if entry.name.startswith(".") or entry.suffix in (".md", ".py"):
                continue
            out.append(entry)
    return out


def run_shared(args: argparse.Namespace, report: Report, work: Path) -> None:
    """``--shared``: the orjson ratio on real logs, before and after, and the byte-identical check."""
    trees: list[tuple[str, Path | None]] = [("this", None)]
    if args.before:
        before = src_tree(args.before, work)
        trees.insert(0, ("before", before))
        report.details["before_src"] = f"{args.before} ({describe_tree(before)})"
    report.details["after_src"] = describe_tree(HERE.parent / "src")
    rows = []
    for log in shared_logs(args.logs):
        row: dict[str, Any] = {"log": log.name}
        for name, src in trees:
            print(f"  [{name}] {log.name}: analyze vs orjson.loads of every line ...  [load {loadavg()}]", flush=True)
            res = ratio_child(log, src, args.repeat, profile=args.profile if name == "this" else 0)
            row[name] = res
            print(f"    {res['lines']:,} lines, {res['bytes'] / 1e6:.1f} MB: orjson {res['orjson_cpu_s']:.3f}s, "
                  f"analyze {res['analyze_cpu_s']:.3f}s CPU → ×{res['ratio']:.2f}  [load {loadavg()}]", flush=True)
        rows.append(row)
        mb = row["this"]["bytes"] / 1e6
        if "before" in row:
            report.add(f"analyze / orjson.loads, {log.name} ({mb:.1f} MB), before", row["before"]["ratio"], "×",
                       note=f"analyze {row['before']['analyze_cpu_s']:.3f}s, orjson {row['before']['orjson_cpu_s']:.3f}s CPU")
        report.add(f"analyze / orjson.loads, {log.name} ({mb:.1f} MB)", row["this"]["ratio"], "×",
                   f"≤ {GOAL_ORJSON_RATIO:g}", row["this"]["ratio"] <= GOAL_ORJSON_RATIO,
                   note=f"analyze {row['this']['analyze_cpu_s']:.3f}s, orjson {row['this']['orjson_cpu_s']:.3f}s CPU")
    report.details["shared"] = rows
    if args.identical:
        if not args.before:
            raise SystemExit("--identical needs --before")
        differ = []
        logs = every_shared_log()
        for log in logs:
            outs = []
            for name, src in trees:
                out = work / f"{name}-{log.name}.json"
                proc = subprocess.run([sys.executable, "-m", "sparkprobe.cli", "analyze", str(log), "--format", "json",
                                       "-o", str(out)], capture_output=True, env=env_with_src(src=src), timeout=3600)
                outs.append((proc.returncode, out.read_bytes() if out.exists() else b""))
            if outs[0] != outs[1]:
                differ.append(log.name)
        report.details["identical_differ"] = differ
        report.add("analyze --format json byte-identical to before, every shared log",
                   f"{len(logs) - len(differ)} / {len(logs)}", goal="all", ok=not differ,
                   note=("differ: " + ", ".join(differ)) if differ else "")


def run_parallel(args: argparse.Namespace, report: Report, work: Path) -> None:
    """``--parallel``: ``analyze`` of the whole shared corpus, serial against ``--jobs N``."""
    from sparkprobe.offline import default_jobs

    jobs = args.parallel_jobs or default_jobs()
    logs = [str(p) for p in every_shared_log()]
    runs: dict[int, list[ChildRun]] = {1: [], jobs: []}
    outputs: dict[int, bytes] = {}
    for r in range(args.repeat):
        for n in runs:
            out = work / f"jobs-{n}.json"
            cmd = [sys.executable, "-m", "sparkprobe.cli", "analyze", *logs, "--jobs", str(n), "--format", "json",
                   "-o", str(out)]
            run = run_child(cmd, env=env_with_src(), timeout=3600)
            runs[n].append(run)
            outputs[n] = out.read_bytes()
            print(f"  [{r + 1}] analyze --jobs {n}, {len(logs)} logs: {run.wall_s:.2f}s wall, {run.cpu_s:.2f}s CPU "
                  f"(exit {run.returncode})  [load {loadavg()}]", flush=True)
    serial, parallel = min(r.wall_s for r in runs[1]), min(r.wall_s for r in runs[jobs])
    report.details["parallel"] = {str(n): [dataclasses.asdict(r) | {"stdout": ""} for r in rs] for n, rs in runs.items()}
    report.add(f"analyze of {len(logs)} shared logs, --jobs 1, best wall", serial, "s")
    report.add(f"analyze of {len(logs)} shared logs, --jobs {jobs}, best wall", parallel, "s",
               note=f"×{serial / parallel:.2f} of the serial run")
    same = outputs[1] == outputs[jobs]
    report.add(f"--jobs {jobs} report byte-identical to --jobs 1", "yes" if same else "no", goal="yes", ok=same)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", type=int, default=200_000, help="tasks in the log (default 200000; full size 1000000)")
    ap.add_argument("--executors", type=int, default=1000,
                    help="about how many executors the log adds in all (dynamic allocation churn)")
    ap.add_argument("--blocks", type=int, default=10_000,
                    help="partitions of cached RDDs alive at most (default 10000, both logs)")
    ap.add_argument("--small-fraction", type=float, default=0.25,
                    help="also measure sparkprobe's RSS on a log this fraction of the size (0: skip)")
    ap.add_argument("--rss-series", default="",
                    help="also measure sparkprobe's peak RSS alone on logs of these task counts, e.g. 50000,200000,400000")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--xmx", default="4g", help="heap for Spark's replay JVM")
    ap.add_argument("--keep", action="store_true", help="keep the generated logs")
    ap.add_argument("--before", default="", help="also measure this sparkprobe: a git revision or a src/ directory")
    ap.add_argument("--shared", action="store_true",
                    help="instead of the replay: analyze vs orjson.loads on real shared logs (no JDK needed)")
    ap.add_argument("--logs", nargs="*", default=[], help="--shared: these logs (paths, or names under the corpus)")
    ap.add_argument("--profile", type=int, default=15,
                    help="--shared: keep the top N functions of a cProfile of this tree's analyze of each log")
    ap.add_argument("--identical", action="store_true",
                    help="--shared: check analyze --format json is byte-identical to --before on every shared log")
    ap.add_argument("--parallel", action="store_true",
                    help="analyze of every shared log: --jobs 1 against --jobs N, and the same bytes")
    ap.add_argument("--parallel-jobs", type=int, default=0, help="--parallel: N (default the cores available)")
    ap.add_argument("--name", default="offline", help="result file name (<out>/<name>.json)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    report = Report(args.name, params={k: v for k, v in vars(args).items() if k not in ("out", "name")})
    if args.shared or args.parallel:
        work = Path(tempfile.mkdtemp(prefix="sparkprobe-bench-offline-"))
        try:
            print(f"[offline {'--shared' if args.shared else '--parallel'}] load {loadavg()}", flush=True)
            (run_shared if args.shared else run_parallel)(args, report, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        report.write(args.out)
        return 0
    if shutil.which("javac") is None or shutil.which("java") is None:
        print("offline: needs a JDK (java, javac) for Spark's replay", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="sparkprobe-bench-offline-"))
    try:
        jars = spark_jars(sys.executable)
        classes = compile_replay(jars, work)
        # Executors added in all ≈ 2.4 × the dynamic-allocation peak for this schedule.
        peak = max(8, round(args.executors / 2.4))
        log = work / "app-20261124000000-0001"
        print(f"[offline] writing a log of {args.tasks:,} tasks (executor peak {peak}) ... load {loadavg()}", flush=True)
        blocks = args.blocks  # partitions of cached RDDs at most, the same in the small log
        info = make_log(log, args.tasks, peak, blocks)
        mb = info["bytes"] / 1e6
        print(f"  {info['lines']:,} lines, {mb:,.0f} MB, {info['executors_added']:,} executors added, "
              f"{info['block_updates']:,} block updates, written in {info['write_s']:.1f}s", flush=True)
        report.details["log"] = {k: v for k, v in info.items()}

        sp_runs: list[ChildRun] = []
        before_runs: list[ChildRun] = []
        before = src_tree(args.before, work) if args.before else None
        if before is not None:
            report.details["before_src"] = f"{args.before} ({describe_tree(before)})"
        spark_runs: dict[str, list[tuple[ChildRun, dict[str, Any]]]] = {"parse": [], "status": []}
        for r in range(args.repeat):
            if before is not None:
                run = run_sparkprobe(log, before)
                before_runs.append(run)
                print(f"  [{r + 1}] sparkprobe analyze, before: {run.wall_s:.1f}s wall, {run.cpu_s:.1f}s CPU, "
                      f"peak RSS {run.maxrss_mib:.0f} MiB  [load {loadavg()}]", flush=True)
            run = run_sparkprobe(log)
            sp_runs.append(run)
            print(f"  [{r + 1}] sparkprobe analyze: {run.wall_s:.1f}s wall, {run.cpu_s:.1f}s CPU, "
                  f"peak RSS {run.maxrss_mib:.0f} MiB  [load {loadavg()}]", flush=True)
            for mode in ("parse", "status"):
                srun, res = run_spark(mode, log, classes, jars, args.xmx)
                spark_runs[mode].append((srun, res))
                print(f"  [{r + 1}] Spark replay {mode}: {srun.wall_s:.1f}s wall ({res['replay_wall_s']:.1f}s replay), "
                      f"{srun.cpu_s:.1f}s CPU, peak RSS {srun.maxrss_mib:.0f} MiB, {res['events']:,} events"
                      f"  [load {loadavg()}]", flush=True)
                if res["events"] != info["lines"]:
                    report.details.setdefault("warnings", []).append(
                        f"Spark {mode} posted {res['events']} events of {info['lines']} lines")

        sp_wall = best(sp_runs, "wall_s")
        sp_cpu = best(sp_runs, "cpu_s")
        sp_rss = max(r.maxrss_mib for r in sp_runs)
        report.add("sparkprobe analyze, throughput (wall)", mb / sp_wall, "MB/s",
                   note=f"{mb:,.0f} MB in {sp_wall:.1f}s, best of {args.repeat}")
        report.add("sparkprobe analyze, events/s (wall)", info["lines"] / sp_wall, "events/s")
        report.add("sparkprobe analyze, events per CPU-second", info["lines"] / sp_cpu, "events/CPU-s",
                   note=f"{sp_cpu:.1f}s CPU")
        report.add(f"sparkprobe analyze peak RSS ({args.tasks:,} tasks)", sp_rss, "MiB", f"< {GOAL_RSS_MIB:.0f}",
                   sp_rss < GOAL_RSS_MIB)
        for mode in ("parse", "status"):
            runs = spark_runs[mode]
            wall = min(r[0].wall_s for r in runs)
            cpu = min(r[0].cpu_s for r in runs)
            replay = min(r[1]["replay_wall_s"] for r in runs)
            rss = max(r[0].maxrss_mib for r in runs)
            what = {"parse": "ReplayListenerBus, counting listener", "status": "ReplayListenerBus → AppStatusListener"}[mode]
            report.add(f"Spark replay ({what}), events/s (wall)", info["lines"] / wall, "events/s",
                       note=f"{wall:.1f}s process wall, {replay:.1f}s replay only, {cpu:.1f}s CPU, peak RSS {rss:.0f} MiB")
            report.details[f"spark_{mode}"] = {"wall_s": wall, "cpu_s": cpu, "replay_wall_s": replay, "rss_mib": rss,
                                               "runs": [r[1] for r in runs]}
        st = report.details["spark_status"]
        pa = report.details["spark_parse"]
        if before_runs:
            b_wall, b_cpu = best(before_runs, "wall_s"), best(before_runs, "cpu_s")
            report.add("before: speed-up vs Spark replay into AppStatusListener (wall)", st["wall_s"] / b_wall, "×",
                       note=f"before's analyze {b_wall:.1f}s wall, {b_cpu:.1f}s CPU, best of {args.repeat}")
            report.add("before: speed-up vs Spark parse-only replay (wall)", pa["wall_s"] / b_wall, "×")
            report.details["sparkprobe_before"] = {"wall_s": b_wall, "cpu_s": b_cpu,
                                                   "rss_mib": max(r.maxrss_mib for r in before_runs)}
        report.add("speed-up vs Spark replay into AppStatusListener (wall, process to process)", st["wall_s"] / sp_wall,
                   "×", f"≥ {GOAL_SPEEDUP:g}", st["wall_s"] / sp_wall >= GOAL_SPEEDUP)
        report.add("speed-up vs Spark replay into AppStatusListener (CPU)", st["cpu_s"] / sp_cpu, "×",
                   note="Spark's JVM runs GC and JIT threads beside the replay")
        report.add("speed-up vs Spark parse-only replay (wall)", pa["wall_s"] / sp_wall, "×",
                   note=f"vs its replay-only time: {pa['replay_wall_s'] / sp_wall:.2f}×")
        report.details["sparkprobe"] = {"wall_s": sp_wall, "cpu_s": sp_cpu, "rss_mib": sp_rss,
                                        "runs": [r.__dict__ | {"stdout": "", "stderr": r.stderr[-500:]} for r in sp_runs]}

        if args.small_fraction > 0:
            small = work / "app-20261124000000-0002"
            n_small = max(1000, int(args.tasks * args.small_fraction))
            info_s = make_log(small, n_small, peak, blocks, seed=2)
            small_run = run_sparkprobe(small)
            report.add("sparkprobe analyze peak RSS at two sizes",
                       f"{small_run.maxrss_mib:.0f} MiB @ {n_small:,} tasks / {sp_rss:.0f} MiB @ {args.tasks:,} tasks",
                       goal="flat in tasks", note=f"{info_s['bytes'] / 1e6:,.0f} MB and {mb:,.0f} MB logs")
            report.details["small"] = {"tasks": n_small, "rss_mib": small_run.maxrss_mib, "wall_s": small_run.wall_s,
                                       "bytes": info_s["bytes"]}
            # What the analysis found on it (the same generator), so the timing covers real work.
            from sparkprobe.offline import analyze_source
            from sparkprobe.sources.eventlog import discover

            summary = analyze_source(discover([small])[0])
            report.details["sparkprobe_found_small"] = {
                "tasks": summary["tasks"]["success"], "executors_added": summary["executors_added"],
                "cache_lost_blocks": summary["cache_lost_blocks"], "bad_lines": summary["bad_lines"],
                "events": summary["source"]["events"], "ignored": summary["source"]["ignored"],
            }
            report.add("sparkprobe read every task of the (small) log",
                       f"{summary['tasks']['success']:,} / {info_s['tasks']:,}",
                       ok=summary["tasks"]["success"] == info_s["tasks"] and summary["bad_lines"] == 0)
            small.unlink()

        series = [int(x) for x in args.rss_series.split(",") if x.strip()]
        if series:
            points = []
            for n in series:
                path = work / f"rss-{n}"
                make_log(path, n, peak, blocks, seed=3)
                run = run_sparkprobe(path)
                points.append({"tasks": n, "rss_mib": run.maxrss_mib, "wall_s": run.wall_s})
                print(f"  RSS series: {n:,} tasks -> peak RSS {run.maxrss_mib:.1f} MiB", flush=True)
                path.unlink()
            report.details["rss_series"] = points
            report.add("sparkprobe analyze peak RSS by task count",
                       " / ".join(f"{p['rss_mib']:.0f}" for p in points) + " MiB @ "
                       + " / ".join(f"{p['tasks']:,}" for p in points) + " tasks", goal="flat in tasks")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"  logs kept in {work}")
    report.write(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
