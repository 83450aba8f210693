"""Run every sparkprobe benchmark, one fresh process each, and print one table of results.

    PYTHONPATH=src python benchmarks/run_all.py                 # sizes fit for a 2-core machine
    PYTHONPATH=src python benchmarks/run_all.py --only scale offline
    PYTHONPATH=src python benchmarks/run_all.py --tasks 100000 --executors 256 --apps 20 --full-scale

Sizes: ``--tasks`` is the task count of the bus-cost job (default 20000) and scales the others
(agent_ingest ×7.5, scale ×10, offline ×10, job_overhead ÷10); ``--executors`` and ``--apps`` size
the scale benchmark; ``--full-scale`` runs scale at the brief's full size (20 apps, 256 executors,
1M tasks, 100k blocks) and offline at 1M tasks. Results go to ``--out`` (benchmarks/results/ by
default, git-ignored): one JSON file per benchmark, and ``summary.md`` with the table below.

Nothing here is part of the test suite: no benchmark asserts on timing; goals are reported.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEFAULT_OUT, env_with_src, fmt, loadavg, machine  # noqa: E402

HERE = Path(__file__).resolve().parent
ORDER = ("agent_ingest", "scale", "offline", "bus_cost", "job_overhead")


def commands(args: argparse.Namespace) -> dict[str, list[str]]:
    t = args.tasks
    out = ["--out", str(args.out)]
    scale = ["--full"] if args.full_scale else ["--tasks", str(t * 10), "--blocks", str(t)]
    if args.executors:
        scale += ["--executors", str(args.executors), "--min-executors", str(max(1, args.executors // 4))]
    if args.apps:
        scale += ["--apps", str(args.apps)]
    before = ["--before", args.before] if args.before else []
    return {
        "agent_ingest": ["--tasks", str(int(t * 7.5))] + (["--no-listener"] if args.no_listener else []) + before + out,
        "scale": scale + before + out,
        "offline": ["--tasks", str(1_000_000 if args.full_scale else t * 10)] + before + out,
        "bus_cost": ["--tasks", str(t), "--jar", args.jar] + out,
        "job_overhead": ["--tasks", str(max(1000, t // 10)), "--pairs", str(args.pairs), "--jar", args.jar] + out,
    }


def table(out: Path, names: list[str]) -> str:
    rows = ["| benchmark | measure | value | goal | verdict | load (start → end) |", "|---|---|---|---|---|---|"]
    for name in names:
        path = out / f"{name}.json"
        if not path.is_file():
            rows.append(f"| {name} | (no result) | | | | |")
            continue
        rep = json.loads(path.read_text())
        load = f"{rep['load_start']} → {rep['load_end']}"
        for r in rep["results"]:
            verdict = "" if r["ok"] is None else ("met" if r["ok"] else "**missed**")
            rows.append(f"| {name} | {r['metric']} | {fmt(r['value'])} {r['unit']} | {r['goal']} | {verdict} | {load} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", choices=ORDER, help="run only these")
    ap.add_argument("--tasks", type=int, default=20_000, help="bus-cost job tasks; scales the others (default 20000)")
    ap.add_argument("--executors", type=int, default=None, help="scale: executors per app (default 64)")
    ap.add_argument("--apps", type=int, default=None, help="scale: concurrent apps (default 5)")
    ap.add_argument("--pairs", type=int, default=5, help="job_overhead: A/B pairs (default 5)")
    ap.add_argument("--full-scale", action="store_true", help="scale and offline at the full size of the brief")
    ap.add_argument("--jar", default="source", help="listener jar for the Spark benchmarks: source, packaged or a path")
    ap.add_argument("--no-listener", action="store_true", help="skip benchmarks/listener/run.sh")
    ap.add_argument("--before", default="",
                    help="agent_ingest, scale, offline: also measure this sparkprobe (git revision or src/ dir) side by side")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    names = [n for n in ORDER if not args.only or n in args.only]
    info = machine()
    print(f"machine: {info}", flush=True)
    cmds = commands(args)
    failed = []
    timings = {}
    for name in names:
        cmd = [sys.executable, str(HERE / f"{name}.py"), *cmds[name]]
        print(f"\n=== {name}: {' '.join(cmd[1:])}  [load {loadavg()}]", flush=True)
        began = time.perf_counter()
        rc = subprocess.call(cmd, env=env_with_src())
        timings[name] = time.perf_counter() - began
        print(f"=== {name}: exit {rc} after {timings[name]:.0f}s", flush=True)
        if rc != 0:
            failed.append(name)
    # Every result in the directory: this run's, and earlier ones kept there (e.g. full-size runs).
    found = sorted(p.stem for p in args.out.glob("*.json") if p.stem != "machine")
    text = table(args.out, [n for n in ORDER if n in found]
                 + sorted(n for n in found if n not in ORDER))
    header = (f"machine: {info['cores']} cores, {info['ram_gib']} GiB, {info['cpu']}; python {info['python']}, "
              f"pyspark {info['pyspark']}, {info['java']}; load at start {info['loadavg']}, at end {loadavg()}\n"
              f"run times: " + ", ".join(f"{n} {s:.0f}s" for n, s in timings.items()) + "\n\n")
    (args.out / "summary.md").write_text(header + text + "\n")
    (args.out / "machine.json").write_text(json.dumps({**info, "timings_s": timings}, indent=2) + "\n")
    print("\n" + header + text)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
