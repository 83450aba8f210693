"""How fast the agent takes in a listener stream: events per CPU-second over a real loopback socket.

A real :class:`sparkprobe.agent.Agent` runs in a process of its own (``_agent_server.py``). This
process generates the wire lines of a synthetic application (``_wiregen.py``: task_start, task_end
with metrics, block_updated for cached stages, stage/job/executor events and listener stats, in the
proportions a real job has) and writes them through one TCP connection after the hello, as
ProbeListener does. The agent's process CPU time from before the connection to the moment it has
applied the last line gives events per CPU-second: what one core of agent sustains, whatever else
runs on the machine. Wall rate is printed too, for what it is worth on a loaded machine.

Then, in this process and without sockets, the same lines are decoded (the agent's decoder:
``fast_decode_line``, else ``decode_line``) and applied (``AppState.apply``) separately: where the
agent's time goes.

With ``--before REV|DIR`` a second agent runs another sparkprobe (a git revision of this
repository, or a src/ directory) and gets the same streams, its runs interleaved with this one's,
so before and after are measured side by side under the same load; the breakdown runs for both
too (each in a child process of its own tree, ``--breakdown FILE``).

Finally the listener side: ``benchmarks/listener/run.sh`` (the JVM encode benchmark, someone
else's) is run if a JDK is there, and its numbers are copied into the report (``--no-listener``
skips it). The sustained rate a live agent keeps up with is the agent's ingest rate above: a
listener offering more than that for long enough fills its queue (65,536 events) and drops.

Run:  PYTHONPATH=src python benchmarks/agent_ingest.py [--tasks 150000]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

GOAL_EVENTS_PER_CPU_S = 250_000

from _common import DEFAULT_OUT, REPO, Report, describe_tree, env_with_src, loadavg, src_tree  # noqa: E402
from _wiregen import SyntheticApp, hello  # noqa: E402


class AgentProcess:
    """``_agent_server.py`` in a child process, and its stdin/stdout control channel."""

    def __init__(self, metrics: bool = False, log: str = os.devnull, src: Path | None = None) -> None:
        cmd = [sys.executable, str(Path(__file__).resolve().parent / "_agent_server.py"), "--log", log]
        if metrics:
            cmd.append("--metrics")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env_with_src(src=src),
                                     text=True, bufsize=1)
        assert self.proc.stdout is not None
        hello_line = json.loads(self.proc.stdout.readline())
        self.listen = tuple(hello_line["listen"])
        self.metrics = tuple(hello_line["metrics"]) if hello_line["metrics"] else None
        self.pid = int(hello_line["pid"])

    def stats(self) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("stats\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def wait_events(self, n: int, timeout_s: float = 600.0, poll_s: float = 0.05) -> dict[str, Any]:
        """Poll until the agent has applied ``n`` events in all; returns the last stats."""
        deadline = time.monotonic() + timeout_s
        s = self.stats()
        while s["events"] < n and time.monotonic() < deadline:
            time.sleep(poll_s)
            s = self.stats()
        return s

    def close(self) -> None:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=20)
        except Exception:  # noqa: BLE001 - make sure it is gone
            self.proc.kill()
            self.proc.wait()


def connect(address: tuple[str, int], app_id: str) -> socket.socket:
    sock = socket.create_connection(address)
    sock.sendall(hello(app_id))
    reply = b""
    while not reply.endswith(b"\n"):
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError("agent closed the connection at the hello")
        reply += chunk
    if b'"ok":true' not in reply:
        raise RuntimeError(f"agent refused the hello: {reply!r}")
    return sock


def chunks(lines: list[bytes], size: int = 256 * 1024) -> list[bytes]:
    out, buf, n = [], [], 0
    for line in lines:
        buf.append(line)
        n += len(line)
        if n >= size:
            out.append(b"".join(buf))
            buf, n = [], 0
    if buf:
        out.append(b"".join(buf))
    return out


def run_listener_bench(report: Report) -> None:
    run_sh = REPO / "benchmarks" / "listener" / "run.sh"
    if not run_sh.is_file() or shutil.which("javac") is None:
        report.add("listener benchmark (run.sh)", "skipped: no run.sh or no JDK")
        return
    print("  running benchmarks/listener/run.sh (the JVM side, about 1.5 min) ...", flush=True)
    env = dict(os.environ, PYTHON=sys.executable)
    began = time.perf_counter()
    proc = subprocess.run(["bash", str(run_sh)], capture_output=True, text=True, env=env, timeout=900)
    text = proc.stdout + proc.stderr
    report.details["listener_run_sh"] = {"returncode": proc.returncode, "wall_s": time.perf_counter() - began,
                                         "output": text[-6000:]}
    if proc.returncode != 0:
        report.add("listener benchmark (run.sh)", f"failed (exit {proc.returncode})", ok=None)
        return
    mode = None
    for line in text.splitlines():
        m = re.match(r"--- (\w+)", line)
        if m:
            mode = m.group(1)
            continue
        m = re.match(r"median: ([\d,]+) events/s wall, ([\d,]+) events/CPU-s", line)
        if m and mode in ("offer", "e2e"):
            wall, cpu = (int(x.replace(",", "")) for x in m.groups())
            what = {"offer": "on* path, queue drained in-JVM", "e2e": "on* → sender → TCP reader in the JVM"}[mode]
            report.add(f"listener {mode}: events per CPU-s of the calling thread", cpu, "events/s", note=what)
            report.add(f"listener {mode}: events/s wall", wall, "events/s")
        m = re.match(r"total offered ([\d,]+), dropped ([\d,]+), reader received", line)
        if m and mode == "sustained":
            offered, dropped = (int(x.replace(",", "")) for x in m.groups())
            report.add("listener sustained 100k events/s for 10 s: dropped", dropped, "events", "= 0", dropped == 0,
                       note=f"of {offered:,} offered; JVM reader, not the Python agent")
        m = re.search(r"round \d+: .* ([\d]+) ns/event inside on\*", line)
        if m and mode == "offer":
            report.details.setdefault("listener_offer_ns_per_event", []).append(int(m.group(1)))


def breakdown(path: Path, repeat: int = 3) -> dict[str, Any]:
    """In this process: the agent's decoding of every line, then ``AppState.apply`` of every event, by kind.

    The decoding is the agent's: ``fastwire.fast_decode_line``, ``decode_line`` where it refuses
    (a tree without fastwire: ``decode_line`` alone). CPU time (``process_time``), best of
    ``repeat``; per kind from ``perf_counter`` around each call of one extra pass (its sum is a
    little above the CPU figure: the clock reads are counted).
    """
    import gc

    from sparkprobe.analysis.state import AppState
    from sparkprobe.sources.wire import decode_line as checked_decode

    try:
        from sparkprobe.sources.fastwire import FALLBACK, fast_decode_line
    except ImportError:  # an older tree: the checked decoder is the agent's
        decode_line = checked_decode
    else:
        def decode_line(line: bytes) -> Any:
            event = fast_decode_line(line)
            return checked_decode(line) if event is FALLBACK else event

    lines = path.read_bytes().splitlines(keepends=True)
    decode_s, apply_s = [], []
    events: list[Any] = []
    for _ in range(repeat):
        gc.collect()
        c0 = time.process_time()
        events = [decode_line(line) for line in lines]
        c1 = time.process_time()
        state = AppState()
        apply = state.apply
        for e in events:
            apply(e)
        c2 = time.process_time()
        decode_s.append(c1 - c0)
        apply_s.append(c2 - c1)
    by_kind: dict[str, list[float]] = {}
    clock = time.perf_counter
    state = AppState()
    for line in lines:
        t0 = clock()
        event = decode_line(line)
        t1 = clock()
        state.apply(event)
        t2 = clock()
        row = by_kind.setdefault(type(event).__name__, [0, 0.0, 0.0])
        row[0] += 1
        row[1] += t1 - t0
        row[2] += t2 - t1
    n = len(lines)
    from _offline_ratio import profile_top

    def decode_and_apply() -> None:
        st = AppState()
        for line in lines:
            st.apply(decode_line(line))

    return {
        "profile": profile_top(decode_and_apply, 20),
        "lines": n, "decode_us": min(decode_s) / n * 1e6, "apply_us": min(apply_s) / n * 1e6,
        "by_kind": {k: {"n": v[0], "decode_us": v[1] / v[0] * 1e6, "apply_us": v[2] / v[0] * 1e6}
                    for k, v in sorted(by_kind.items(), key=lambda kv: -kv[1][0])},
    }


def breakdown_child(path: Path, src: Path | None) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--breakdown", str(path)],
                          capture_output=True, text=True, env=env_with_src(src=src), timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"breakdown failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def send_stream(agent: AgentProcess, app_id: str, lines: list[bytes], payload: list[bytes], total: int
                ) -> tuple[float, float, dict[str, Any]]:
    """One stream into ``agent``, which has applied ``total`` events once it is in: (CPU s, wall s, stats)."""
    before = agent.stats()
    t0 = time.perf_counter()
    sock = connect(agent.listen, app_id)
    for c in payload:
        sock.sendall(c)
    after = agent.wait_events(total)
    wall = time.perf_counter() - t0
    sock.close()
    return after["cpu_s"] - before["cpu_s"], wall, after


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", type=int, default=150_000, help="tasks in the stream (≈2.4 lines per task)")
    ap.add_argument("--executors", type=int, default=64)
    ap.add_argument("--cores", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3, help="streams to send (fresh app each); median reported")
    ap.add_argument("--no-listener", action="store_true", help="skip benchmarks/listener/run.sh")
    ap.add_argument("--before", default="", help="also measure this sparkprobe: a git revision or a src/ directory")
    ap.add_argument("--breakdown", type=Path, default=None, help=argparse.SUPPRESS)  # child mode: a file of lines
    ap.add_argument("--name", default="agent_ingest", help="result file name (<out>/<name>.json)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    if args.breakdown is not None:
        print(json.dumps(breakdown(args.breakdown)))
        return 0
    report = Report(args.name, params={k: v for k, v in vars(args).items() if k not in ("out", "name")})
    print(f"[agent_ingest] {args.tasks:,} tasks per stream, load {loadavg()}", flush=True)

    apps = []
    for r in range(args.repeat):
        gen = SyntheticApp(f"app-ingest-{r}", tasks=args.tasks, blocks=args.tasks // 10,
                           max_executors=args.executors, min_executors=args.executors // 4, cores=args.cores,
                           seed=r)
        lines = list(gen.lines())
        apps.append((gen, lines))
    gen0 = apps[0][0]
    n_lines = gen0.stats.lines
    mix = {k: round(v / n_lines, 3) for k, v in sorted(gen0.stats.by_kind.items(), key=lambda kv: -kv[1])}
    report.details["mix"] = mix
    report.details["mean_line_bytes"] = gen0.stats.bytes / n_lines
    print(f"  stream: {n_lines:,} lines, {gen0.stats.bytes / 1e6:.1f} MB, mix "
          + ", ".join(f"{k} {v:.0%}" for k, v in list(mix.items())[:4]), flush=True)

    import tempfile

    work = Path(tempfile.mkdtemp(prefix="sparkprobe-bench-ingest-"))
    trees: list[tuple[str, Path | None]] = [("this", None)]
    if args.before:
        before_src = src_tree(args.before, work)
        trees.insert(0, ("before", before_src))
        report.details["before_src"] = f"{args.before} ({describe_tree(before_src)})"
    report.details["after_src"] = describe_tree(REPO / "src")
    agents = {name: AgentProcess(src=src) for name, src in trees}
    rates_cpu: dict[str, list[float]] = {name: [] for name, _ in trees}
    rates_wall: dict[str, list[float]] = {name: [] for name, _ in trees}
    totals = dict.fromkeys(agents, 0)
    finals: dict[str, dict[str, Any]] = {}
    try:
        for gen, lines in apps:
            payload = chunks(lines)
            for name, _ in trees:  # the same stream into each agent in turn: the same load for both
                totals[name] += len(lines)
                cpu, wall, after = send_stream(agents[name], gen.app_id, lines, payload, totals[name])
                rates_cpu[name].append(len(lines) / cpu)
                rates_wall[name].append(len(lines) / wall)
                print(f"    [{name}] {len(lines):,} events: agent CPU {cpu:.2f}s → {len(lines) / cpu:,.0f} events/CPU-s; "
                      f"wall {wall:.2f}s; agent RSS {after['rss_mib']:.0f} MiB  [load {loadavg()}]", flush=True)
        finals = {name: agent.stats() for name, agent in agents.items()}
    finally:
        for agent in agents.values():
            agent.close()
    med: dict[str, float] = {}
    for name, _ in trees:
        cpu_rates = sorted(rates_cpu[name])
        wall_rates = sorted(rates_wall[name])
        med[name] = cpu_rates[len(cpu_rates) // 2]
        label = "" if name == "this" else f", {name}"
        goal = f"≥ {GOAL_EVENTS_PER_CPU_S:,}" if name == "this" else ""
        report.add(f"agent ingest over TCP (median){label}", med[name], "events per CPU-second", goal,
                   med[name] >= GOAL_EVENTS_PER_CPU_S if name == "this" else None,
                   note=f"runs: {', '.join(f'{r:,.0f}' for r in cpu_rates)}; bad lines {finals[name]['bad_lines'] or 0}")
        report.add(f"agent ingest over TCP, wall (median){label}", wall_rates[len(wall_rates) // 2], "events/s",
                   note="shares 2 cores with the generator and the machine's other load")
        report.add(f"agent ingest, MB per CPU-second{label}", med[name] * report.details["mean_line_bytes"] / 1e6, "MB/s")
        report.details[f"agent_rss_mib_end_{name}"] = finals[name]["rss_mib"]

    # -- where the time goes, in a process of each tree: decode, then apply
    lines_file = work / "stream.jsonl"
    lines_file.write_bytes(b"".join(apps[0][1]))
    for name, src in trees:
        split = breakdown_child(lines_file, src)
        report.details[f"breakdown_{name}"] = split
        label = "" if name == "this" else f", {name}"
        report.add(f"decode (the agent's decoder) only{label}", split["decode_us"], "µs CPU/line")
        report.add(f"AppState.apply only{label}", split["apply_us"], "µs CPU/event")
        report.add(f"agent overhead beyond decode+apply (TCP, framing, lock){label}",
                   1e6 / med[name] - split["decode_us"] - split["apply_us"], "µs CPU/event")
        for kind, row in list(split["by_kind"].items())[:3]:
            report.add(f"  {kind}{label}: decode / apply", f"{row['decode_us']:.2f} / {row['apply_us']:.2f}", "µs",
                       note=f"{row['n']:,} lines; perf_counter around each call")
    import shutil as _shutil

    _shutil.rmtree(work, ignore_errors=True)
    # The agent drops nothing: a listener at rate R drops once its 65,536-event queue fills.
    report.details["drop_model"] = (
        "A listener offering R events/s to an agent that takes in A events/s fills its 65,536-event queue "
        "after 65536/(R-A) s; below A it never drops. A = the ingest rate per CPU-second when the agent "
        "has a core to itself."
    )
    if not args.no_listener:
        run_listener_bench(report)
    report.write(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
