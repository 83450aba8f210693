"""Shared helpers of the benchmarks: machine facts, load, process CPU and memory, result files.

Nothing here times anything by itself: each benchmark decides what it measures. The machine these
run on may be shared, so every result carries the load average at its start and end, and the
measures prefer CPU time (from /proc or rusage) over wall time.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SRC = REPO / "src"
DEFAULT_OUT = REPO / "benchmarks" / "results"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


# ---------------------------------------------------------------------------------------- machine
def loadavg() -> str:
    """The 1, 5 and 15 minute load averages, as /proc/loadavg gives them."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def mem_total_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def java_version() -> str:
    try:
        out = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30).stderr
        return out.splitlines()[0].strip() if out else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "none"


def pyspark_version(python: str) -> str:
    try:
        out = subprocess.run(
            [python, "-c", "import pyspark; print(pyspark.__version__)"], capture_output=True, text=True, timeout=60
        )
        return out.stdout.strip() or "none"
    except (OSError, subprocess.TimeoutExpired):
        return "none"


def machine(python: str = sys.executable) -> dict[str, Any]:
    """What the results depend on: cores, RAM, CPU, kernel, versions."""
    return {
        "cores": os.cpu_count(),
        "ram_gib": round(mem_total_gib(), 1),
        "cpu": cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "pyspark": pyspark_version(python),
        "java": java_version(),
        "loadavg": loadavg(),
    }


# ---------------------------------------------------------------------------------------- processes
def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (all its threads), from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        raw = f.read().decode()
    fields = raw[raw.rindex(")") + 2 :].split()
    # fields[0] is state (field 3); utime, stime are fields 14 and 15 → index 11, 12.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_rss_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MiB: resident now and its peak."""
    rss = hwm = 0.0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    return rss, hwm


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` (scans /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                raw = f.read().decode()
            ppid = int(raw[raw.rindex(")") + 2 :].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            out.append(int(entry))
    return out


def descendants_of(pid: int) -> list[int]:
    found: list[int] = []
    todo = [pid]
    while todo:
        kids = children_of(todo.pop())
        found.extend(kids)
        todo.extend(kids)
    return found


@dataclass
class ChildRun:
    """A finished child process: exit code, wall seconds, CPU seconds and peak RSS from wait4."""

    returncode: int
    wall_s: float
    user_s: float
    sys_s: float
    maxrss_mib: float
    stdout: str
    stderr: str

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s


def run_child(cmd: list[str], env: dict[str, str] | None = None, timeout: float | None = None,
              cwd: str | None = None) -> ChildRun:
    """Run ``cmd`` and return its own rusage (wait4 on its pid: only this child and the
    descendants it waited for, never other children of this process)."""
    began = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # communicate() would reap the child itself and lose its rusage: read the pipes in threads.
    import threading

    bufs: dict[str, bytes] = {}

    def drain(name: str, stream: Any) -> None:
        bufs[name] = stream.read()

    threads = [threading.Thread(target=drain, args=(n, s)) for n, s in (("out", proc.stdout), ("err", proc.stderr))]
    for t in threads:
        t.start()
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            break
        if deadline is not None and time.monotonic() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.02)
    wall = time.perf_counter() - began
    for t in threads:
        t.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return ChildRun(
        returncode=proc.returncode,
        wall_s=wall,
        user_s=usage.ru_utime,
        sys_s=usage.ru_stime,
        maxrss_mib=usage.ru_maxrss / 1024,
        stdout=bufs.get("out", b"").decode(errors="replace"),
        stderr=bufs.get("err", b"").decode(errors="replace"),
    )


def self_rusage() -> resource.struct_rusage:
    return resource.getrusage(resource.RUSAGE_SELF)


#: ``python -c OWN_PEAK ARGS...`` runs ``sparkprobe ARGS`` and prints ``VMHWM_KB=<peak>`` on stderr: the
#: child's own peak RSS. wait4's ru_maxrss of a child also counts the image it was forked from (Linux
#: carries the pre-exec high-water mark over exec), so it never reports less than its parent's size.
OWN_PEAK = (
    "import sys\n"
    "from sparkprobe.cli import main\n"
    "rc = main(sys.argv[1:])\n"
    "hwm = next(l for l in open('/proc/self/status') if l.startswith('VmHWM:')).split()[1]\n"
    "print(f'VMHWM_KB={hwm}', file=sys.stderr)\n"
    "sys.exit(rc)\n"
)


def env_with_src(extra: dict[str, str] | None = None, src: Path | None = None) -> dict[str, str]:
    """The current environment with ``src/`` (or ``src``) first on PYTHONPATH (and quiet Spark)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(src or SRC), env.get("PYTHONPATH", "")) if p)
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    env.setdefault("PYARROW_IGNORE_TIMEZONE", "1")
    if extra:
        env.update(extra)
    return env


# ---------------------------------------------------------------------------------------- stats
def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def spread(xs: list[float]) -> dict[str, float]:
    """min, quartiles, max of a small sample (quartiles by the inclusive method)."""
    if not xs:
        return {}
    if len(xs) == 1:
        return {"min": xs[0], "q1": xs[0], "median": xs[0], "q3": xs[0], "max": xs[0]}
    q1, q2, q3 = statistics.quantiles(xs, n=4, method="inclusive")
    return {"min": min(xs), "q1": q1, "median": q2, "q3": q3, "max": max(xs)}


# ---------------------------------------------------------------------------------------- results
@dataclass
class Result:
    """One measured figure and its goal. ``ok`` is None when the figure has no goal."""

    metric: str
    value: Any
    unit: str = ""
    goal: str = ""
    ok: bool | None = None
    note: str = ""


@dataclass
class Report:
    """What one benchmark module writes to ``<out>/<name>.json`` and prints."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    load_start: str = field(default_factory=loadavg)
    load_end: str = ""
    started: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M:%S %Z"))
    results: list[Result] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def add(self, metric: str, value: Any, unit: str = "", goal: str = "", ok: bool | None = None,
            note: str = "") -> None:
        self.results.append(Result(metric, value, unit, goal, ok, note))
        shown = f"{value:,.3f}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int) else value
        verdict = "" if ok is None else ("  [met]" if ok else "  [MISSED]")
        goal_s = f"  (goal {goal})" if goal else ""
        print(f"  {metric}: {shown} {unit}{goal_s}{verdict}  [load {loadavg()}]", flush=True)

    def write(self, out: Path) -> Path:
        self.load_end = loadavg()
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"{self.name}.json"
        path.write_text(json.dumps(asdict(self), indent=2, default=str) + "\n")
        print(f"[{self.name}] wrote {path}  (load {self.load_start} → {self.load_end})", flush=True)
        return path


def fmt(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "n/a"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


# ---------------------------------------------------------------------------------------- before / after
EVENTLOGS = Path(os.environ.get("SPARKPROBE_EVENTLOGS", REPO.parent / "shared" / "eventlogs"))


def src_tree(where: str, work: Path) -> Path:
    """The ``src/`` directory of another sparkprobe to measure beside this one ("before").

    ``where`` is a directory (a ``src/`` holding ``sparkprobe``, or a checkout holding ``src/``) or
    a git revision of this repository, exported with ``git archive`` under ``work``. Its Python
    package is imported from there; the dependencies are this interpreter's.
    """
    path = Path(where)
    if (path / "sparkprobe").is_dir():
        return path.resolve()
    if (path / "src" / "sparkprobe").is_dir():
        return (path / "src").resolve()
    rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", where], capture_output=True, text=True)
    if rev.returncode != 0:
        raise SystemExit(f"--before {where}: neither a sparkprobe src/ directory nor a git revision")
    out = work / f"before-{rev.stdout.strip()}"
    out.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", where, "src"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive.stdout, check=True)
    return out / "src"


def describe_tree(src: Path) -> str:
    """A short name for a src tree in result tables: its git revision (+dirty) or its path."""
    top = subprocess.run(["git", "-C", str(src), "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    if top.returncode != 0 or Path(top.stdout.strip()) != src.parent:
        return str(src)
    rev = subprocess.run(["git", "-C", str(src), "describe", "--always", "--dirty"], capture_output=True, text=True)
    return rev.stdout.strip() or str(src)
