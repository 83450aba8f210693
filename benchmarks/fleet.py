"""``sparkprobe fleet`` on 2,000 applications: --jobs 2 vs serial, figures vs ``analyze``, flat memory.

The set is generated into a temporary directory (never committed): the shared real corpus
(shared/eventlogs: public/ and recorded/, flattened into one folder) plus copies of its logs, each
given an app id and dates of its own (tests/fleet/log_copies.py), round robin over the corpus,
until ``--apps`` applications. A 200-app set is the corpus plus the first copies, and a hostile
set is that plus the files of the issue (tests/hostile_logs.py): a 64 KB zstd file
expanding to one 2 GiB line, 5 MB of random bytes, a valid first line then 400 KB of open
brackets, a zstd frame asking for a 2 GiB window, a symlink loop, a file linking to itself, a
broken link and an unreadable file.

Measured, holding /tmp/sparkprobe-spark.lock (speed is measured only under it) and with the load
average before and after each run:

* ``fleet SET --jobs 1`` (serial) and ``--jobs 2``, each in a fresh state file: wall and CPU
  seconds (wait4 of the command, its workers included), apps/s and MB/s (compressed bytes on disk,
  and decompressed), the parent's peak RSS and the largest worker peak;
* a rerun of the ``--jobs 2`` state: 0 apps read;
* ``fleet`` on the 200-app set and on the hostile set: peak RSS, each hostile file reported once.

Checked outside the lock (no timing): the serial and parallel runs hold the same rows, and every
row equals the figures of ``analyze`` of that log alone — for every log through
:func:`sparkprobe.offline.analyze_source` (the function ``analyze`` runs, a fresh analyzer per
log), and for a sample through the ``sparkprobe analyze LOG --format json`` command itself.

Run:  PYTHONPATH=src python benchmarks/fleet.py [--apps 2000] [--small 200] [--jobs 2]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import json
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "fleet"))
sys.path.insert(0, str(HERE.parent / "tests"))

from _common import DEFAULT_OUT, OWN_PEAK, REPO, ChildRun, Report, env_with_src, loadavg, run_child  # noqa: E402

EVENTLOGS = Path(os.environ.get("SPARKPROBE_EVENTLOGS", REPO.parent / "shared" / "eventlogs"))
LOCK = "/tmp/sparkprobe-spark.lock"
@contextlib.contextmanager
def spark_lock() -> Iterator[None]:
    """Hold the machine's Spark/benchmark lock (the same file `flock` uses)."""
    with open(LOCK, "a") as f:
        print(f"[fleet] waiting for {LOCK} ...", flush=True)
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# ------------------------------------------------------------------------------------- the sets
def corpus_sources() -> list[Any]:
    from sparkprobe.sources.eventlog import scan

    found = scan([EVENTLOGS / "public", EVENTLOGS / "recorded"], max_depth=None)
    return [s for s in found.sources if not s.name.endswith(".py")]


def place_corpus(dest: Path) -> None:
    """The corpus logs, flattened into ``dest`` (a zip member's zip copied once)."""
    dest.mkdir(parents=True)
    seen: set[Path] = set()
    for source in corpus_sources():
        where = source.location
        if where in seen:
            continue
        seen.add(where)
        (shutil.copytree if where.is_dir() else shutil.copy2)(where, dest / where.name)


def build_set(dest: Path, apps: int, corpus_apps: int, start: int = 1) -> int:
    """The corpus plus copies up to ``apps`` applications; returns the number of copies."""
    from log_copies import copy_log

    place_corpus(dest / "corpus")
    sources = corpus_sources()
    copies = max(0, apps - corpus_apps)
    (dest / "copies").mkdir()
    for i in range(copies):
        copy_log(sources[i % len(sources)], dest / "copies", start + i)
    return copies


def add_hostile(dest: Path) -> list[str]:
    """The issue's hostile files; returns the names each failure must mention."""
    from hostile_logs import nested_brackets, random_bytes, unreadable, zstd_bomb, zstd_huge_window

    bad = dest / "hostile"
    bad.mkdir(parents=True)
    zstd_bomb(bad / "bomb.zstd")
    random_bytes(bad / "random.zstd")  # a codec name, or a directory scan takes it for a README
    nested_brackets(bad / "app-nested")
    zstd_huge_window(bad / "window.zstd")
    (bad / "loop").mkdir()
    (bad / "loop" / "up").symlink_to("..", target_is_directory=True)
    (bad / "self.zstd").symlink_to("self.zstd")
    (bad / "dangling.zstd").symlink_to(dest / "gone.zstd")
    unreadable(bad / "app-locked")
    return ["bomb.zstd", "random.zstd", "app-nested", "window.zstd", "up", "self.zstd", "dangling.zstd", "app-locked"]


def size_on_disk(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


# ------------------------------------------------------------------------------------- running
@dataclasses.dataclass
class FleetRunResult:
    run: ChildRun
    doc: dict[str, Any]
    parent_peak_mib: float
    load_before: str
    load_after: str

    @property
    def apps(self) -> int:
        """Apps in the store (logs read less the duplicates of an app another log holds)."""
        return len(self.doc["apps"])

    @property
    def logs(self) -> int:
        return int(self.doc["run"]["analysed"])

    @property
    def worker_peak_mib(self) -> float:
        return self.doc["run"]["worker_peak_rss_bytes"] / 2**20


def run_fleet(paths: list[Path], state: Path, out: Path, jobs: int, *, without_dac: bool = False) -> FleetRunResult:
    cmd = [sys.executable, "-c", OWN_PEAK, "fleet", *map(str, paths), "--jobs", str(jobs), "--state", str(state),
           "-o", str(out)]
    if without_dac and os.geteuid() == 0 and shutil.which("setpriv"):
        cmd = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *cmd]
    before = loadavg()
    run = run_child(cmd, env=env_with_src(), timeout=7200)
    after = loadavg()
    if run.returncode not in (0, 1):
        raise RuntimeError(f"fleet failed ({run.returncode}):\n{run.stderr[-3000:]}")
    hwm = [line for line in run.stderr.splitlines() if line.startswith("VMHWM_KB=")]
    peak = int(hwm[-1].split("=")[1]) / 1024 if hwm else float("nan")
    return FleetRunResult(run, json.loads(out.read_text()), peak, before, after)


def rows_of(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(a["app_id"], a["attempt_id"]): a for a in doc["apps"]}


def _alone(item: tuple[Any, str]) -> tuple[str, dict[str, Any] | None, int, str]:
    """One log read alone with ``analyze``'s function: (log, its row, decompressed bytes, error)."""
    from sparkprobe.fleet.row import row_from_report
    from sparkprobe.offline import analyze_source

    source, log = item
    try:
        report = analyze_source(source)
    except Exception as exc:  # noqa: BLE001 - reported, the check counts it
        return log, None, 0, str(exc)
    assert report.source is not None
    return log, row_from_report(report, log).to_json(), report.source.bytes_decompressed, ""


def check_alone(set_dir: Path, rows: dict[tuple[str, str], dict[str, Any]], sample: int) -> dict[str, Any]:
    """Every row against its log read alone; ``sample`` logs through the ``analyze`` command too."""
    from sparkprobe.fleet.identity import identity_of
    from sparkprobe.sources.eventlog import scan

    sources = scan([set_dir], max_depth=None).sources
    items = [(s, identity_of(s).log) for s in sources]
    by_log = {r["log"]: r for r in rows.values()}
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        alone = pool.map(_alone, items, chunksize=8)
    mismatches: list[str] = []
    errors: list[tuple[str, str]] = []
    missing = decompressed = 0
    for log, row, nbytes, error in alone:
        decompressed += nbytes
        if row is None:
            errors.append((log, error))
            continue
        stored = by_log.get(log)
        if stored is None:
            missing += 1  # a duplicate of an app another log holds
            continue
        if stored != row:
            mismatches.append(log)
    picked = random.Random(19).sample(items, min(sample, len(items)))
    cli_mismatches = []
    for source, log in picked:
        proc = subprocess.run([sys.executable, "-m", "sparkprobe.cli", "analyze", "--format", "json",
                               str(source.location)], capture_output=True, text=True, env=env_with_src(), timeout=600)
        for app in json.loads(proc.stdout)["apps"]:
            row = rows.get((app["app_id"], app["attempt_id"]))
            if row is None or Path(row["log"]).name != app["source"]["name"]:
                continue
            same = (row["allocated_core_seconds"], row["idle_core_seconds"], row["cache_lost_bytes"],
                    row["recompute_seconds"], row["start_ms"], row["end_ms"]) == (
                app["allocated_core_seconds"], app["idle_core_seconds"], app["cache_lost_bytes"],
                app["cache_recompute_seconds"], app["start_ms"], app["end_ms"])
            if not same:
                cli_mismatches.append(log)
    return {"logs": len(items), "rows_compared": len(items) - missing - len(errors), "mismatches": mismatches,
            "duplicates": missing, "failed": len(errors), "errors": errors[:20], "decompressed_bytes": decompressed,
            "cli_sample": len(picked), "cli_mismatches": cli_mismatches}


# ------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--apps", type=int, default=2000, help="applications in the big set (default 2000)")
    ap.add_argument("--small", type=int, default=200, help="applications in the small set (default 200)")
    ap.add_argument("--jobs", type=int, default=2, help="workers of the parallel run (default 2)")
    ap.add_argument("--cli-sample", type=int, default=40, help="logs checked through `sparkprobe analyze LOG`")
    ap.add_argument("--keep", action="store_true", help="keep the generated sets")
    ap.add_argument("--name", default="fleet")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    report = Report(args.name, params={k: v for k, v in vars(args).items() if k not in ("out", "name")})
    work = Path(tempfile.mkdtemp(prefix="sparkprobe-bench-fleet-"))
    try:
        corpus_apps = len({(r.app_id, r.attempt_id) for r in _corpus_rows()})
        print(f"[fleet] corpus: {len(corpus_sources())} logs, {corpus_apps} apps; building sets in {work} "
              f"... load {loadavg()}", flush=True)
        big, small, hostile = work / f"set-{args.apps}", work / f"set-{args.small}", work / "set-hostile"
        build_set(big, args.apps, corpus_apps)
        build_set(small, args.small, corpus_apps)
        shutil.copytree(small, hostile, symlinks=True)
        bad_names = add_hostile(hostile)
        sizes = {name: size_on_disk(p) for name, p in (("big", big), ("small", small))}
        report.details["sets"] = {"apps": args.apps, "small": args.small, "bytes_on_disk": sizes,
                                  "corpus_logs": len(corpus_sources()), "corpus_apps": corpus_apps}

        with spark_lock():
            report.details["lock_load"] = loadavg()
            serial = run_fleet([big], work / "serial.sqlite", work / "serial.json", 1)
            parallel = run_fleet([big], work / "parallel.sqlite", work / "parallel.json", args.jobs)
            rerun = run_fleet([big], work / "parallel.sqlite", work / "rerun.json", args.jobs)
            small_run = run_fleet([small], work / "small.sqlite", work / "small.json", args.jobs)
            hostile_run = run_fleet([hostile], work / "hostile.sqlite", work / "hostile.json", args.jobs,
                                    without_dac=True)

        alone = check_alone(big, rows_of(parallel.doc), args.cli_sample)
        mb_disk = sizes["big"] / 1e6
        mb_plain = alone["decompressed_bytes"] / 1e6
        for label, r in (("serial (--jobs 1)", serial), (f"--jobs {args.jobs}", parallel)):
            wall, cpu = r.run.wall_s, r.run.cpu_s
            report.add(f"fleet {label}: apps/s", r.apps / wall, "apps/s",
                       note=f"{r.apps:,} apps ({r.logs:,} logs) in {wall:.1f}s wall, {cpu:.1f}s CPU; "
                       f"load {r.load_before} → {r.load_after}")
            report.add(f"fleet {label}: MB/s on disk", mb_disk / wall, "MB/s", note=f"{mb_disk:,.0f} MB of files")
            report.add(f"fleet {label}: MB/s decompressed", mb_plain / wall, "MB/s", note=f"{mb_plain:,.0f} MB of JSON")
            report.add(f"fleet {label}: peak RSS parent / largest worker",
                       f"{r.parent_peak_mib:.0f} / {r.worker_peak_mib:.0f}", "MiB")
        report.add(f"speed-up --jobs {args.jobs} vs serial (wall)", serial.run.wall_s / parallel.run.wall_s, "×")
        report.add("rerun of the same state: logs read", rerun.logs, "logs", "0", rerun.logs == 0,
                   note=f"{rerun.run.wall_s:.1f}s, {rerun.doc['run']['unchanged']:,} unchanged")
        same_rows = rows_of(serial.doc) == rows_of(parallel.doc)
        report.add("serial and parallel runs hold the same rows", same_rows, goal="True", ok=same_rows)
        equal = not alone["mismatches"] and not alone["cli_mismatches"] and alone["failed"] == 0
        report.add("rows equal to analyze of each log alone",
                   f"{alone['rows_compared'] - len(alone['mismatches']):,} / {alone['rows_compared']:,} "
                   f"(+ {alone['cli_sample'] - len(alone['cli_mismatches'])} / {alone['cli_sample']} via the CLI)",
                   goal="all", ok=equal)
        report.add(f"peak RSS at {small_run.apps:,} / {parallel.apps:,} apps, parent",
                   f"{small_run.parent_peak_mib:.0f} / {parallel.parent_peak_mib:.0f}", "MiB", "flat")
        report.add(f"peak RSS at {small_run.apps:,} / {parallel.apps:,} apps, largest worker",
                   f"{small_run.worker_peak_mib:.0f} / {parallel.worker_peak_mib:.0f}", "MiB", "flat")
        failures = hostile_run.doc["failures"]
        once = all(sum(name in Path(f["log"]).name or f["log"].endswith(name) for f in failures) == 1
                   for name in bad_names)
        report.add("hostile set: run completed, each bad file reported once",
                   f"{hostile_run.doc['run']['status']}, {len(failures)} failures for {len(bad_names)} files",
                   goal="completed, once each", ok=hostile_run.doc["run"]["status"] == "completed" and once
                   and len(failures) == len(bad_names))
        report.add("hostile set: peak RSS parent / largest worker",
                   f"{hostile_run.parent_peak_mib:.0f} / {hostile_run.worker_peak_mib:.0f}", "MiB", "bounded",
                   note=f"{hostile_run.run.wall_s:.1f}s wall; load {hostile_run.load_before} → {hostile_run.load_after}")
        report.details["runs"] = {
            name: {"wall_s": r.run.wall_s, "cpu_s": r.run.cpu_s, "parent_peak_mib": r.parent_peak_mib,
                   "worker_peak_mib": r.worker_peak_mib, "run": r.doc["run"], "load": [r.load_before, r.load_after]}
            for name, r in (("serial", serial), ("parallel", parallel), ("rerun", rerun), ("small", small_run),
                            ("hostile", hostile_run))
        }
        report.details["hostile_failures"] = failures
        report.details["alone"] = alone
    finally:
        if args.keep:
            print(f"  sets kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    report.write(args.out)
    return 0


def _corpus_rows() -> list[Any]:
    """The corpus's apps as the fleet sees them (duplicates folded), read in this process."""
    from sparkprobe.fleet.row import row_from_report
    from sparkprobe.offline import analyze_source

    rows = []
    for source in corpus_sources():
        with contextlib.suppress(Exception):
            rows.append(row_from_report(analyze_source(source), source.name))
    return rows


if __name__ == "__main__":
    sys.exit(main())
