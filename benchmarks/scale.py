"""The agent at scale, no cluster: many concurrent synthetic apps through one real agent.

Each app (``_wiregen.SyntheticApp``) has up to ``--executors`` executors of ``--cores`` cores under
dynamic allocation (the executor count swings between ``--min-executors`` and ``--executors``, twice
over the app's life, each swing adding fresh executors and removing old ones with their cached
blocks), runs its share of ``--tasks`` tasks, and keeps its share of ``--blocks`` cached blocks
alive. All apps stream at once, one TCP connection each, interleaved, into one agent process
(``_agent_server.py``, with its /metrics server), as ``--apps`` drivers would.

At 25/50/75/100 % of the tasks, once the agent has caught up: its RSS (and peak RSS), and three
/metrics scrapes (wall time seen by the client, CPU time the agent spent, the agent's own
``sparkprobe_agent_collect_duration_seconds``, series count). RSS at the four checkpoints shows
whether memory is flat in the number of tasks; 25 % and 75 % are both at the executor peak of a
swing, so they compare like with like.

Full size (the brief): ``--full`` = 20 apps × (256 executors × 4 cores, dynamic 64–256), 1M tasks and
100k cached blocks in all; ``--wide`` = 100 apps of the same shape (issue 16: < 100 ms of agent CPU
per scrape, flat in tasks, RSS < 300 MiB). The default is the same shape scaled down for a 2-core
machine.

With ``--before REV|DIR`` a second agent runs another sparkprobe (a git revision of this repository
or a src/ directory) and is sent every batch too, so both see the same load; each is scraped at the
same checkpoints.

Run:  PYTHONPATH=src python benchmarks/scale.py [--full | --wide] [--apps N --tasks N --blocks N ...] [--before main]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEFAULT_OUT, Report, describe_tree, loadavg, src_tree  # noqa: E402
from _wiregen import SyntheticApp  # noqa: E402
from agent_ingest import AgentProcess, connect  # noqa: E402

GOAL_RSS_MIB = 300.0
GOAL_SCRAPE_MS = 100.0
FULL = {"apps": 20, "executors": 256, "min_executors": 64, "cores": 4, "tasks": 1_000_000, "blocks": 100_000}
WIDE = {**FULL, "apps": 100}
DEFAULT = {"apps": 5, "executors": 64, "min_executors": 16, "cores": 4, "tasks": 200_000, "blocks": 20_000}


def scrape(agent: AgentProcess) -> dict[str, Any]:
    assert agent.metrics is not None
    url = f"http://{agent.metrics[0]}:{agent.metrics[1]}/metrics"
    before = agent.stats()
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as resp:
        body = resp.read()
    wall = time.perf_counter() - t0
    after = agent.stats()
    text = body.decode()
    series = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
    m = re.search(r"^sparkprobe_agent_collect_duration_seconds (\S+)$", text, re.M)
    return {"wall_ms": wall * 1000, "agent_cpu_ms": (after["cpu_s"] - before["cpu_s"]) * 1000,
            "collect_ms": float(m.group(1)) * 1000 if m else float("nan"), "series": series, "bytes": len(body)}


def in_process_summary_cost(app_kwargs: dict[str, Any]) -> dict[str, float]:
    """One app's state rebuilt here: CPU ms of ``build_report`` with the report-only parts
    (timeline, what-if, advice) and without them (``detail=False``, what /metrics asks for)."""
    from sparkprobe.analysis.report import build_report
    from sparkprobe.analysis.state import AppState
    from sparkprobe.sources.wire import decode_line

    st = AppState()
    for line in SyntheticApp(**app_kwargs).lines():
        st.apply(decode_line(line))
    now = st.last_time + 1000

    def cpu_ms(fn: Any, n: int = 5) -> float:
        c0 = time.process_time()
        for _ in range(n):
            fn()
        return (time.process_time() - c0) / n * 1000

    full = cpu_ms(lambda: build_report(st, now))
    light = cpu_ms(lambda: build_report(st, now, detail=False))
    return {"summary_ms": full, "summary_light_ms": light, "executors": len(st.executors.by_id)}


def checkpoint(agent: AgentProcess, sent: int, mark: float, gens: list[SyntheticApp]) -> tuple[dict[str, Any], float]:
    """Wait until ``agent`` has applied ``sent`` events; RSS and three scrapes; (figures, scrape CPU s)."""
    s = agent.wait_events(sent)
    scrapes = [scrape(agent) for _ in range(3)]
    after = agent.stats()
    cp = {
        "tasks_fraction": mark, "tasks": sum(g.stats.tasks for g in gens), "events": s["events"],
        "rss_mib": s["rss_mib"], "hwm_mib": s["hwm_mib"],
        "executors_live": sum(g.target_executors(min(1.0, g.stats.tasks / g.tasks)) for g in gens),
        "executors_added": sum(g.stats.executors_added for g in gens),
        "blocks_alive_max": sum(g.stats.max_blocks_alive for g in gens),
        "scrape_wall_ms": statistics.median(x["wall_ms"] for x in scrapes),
        "scrape_agent_cpu_ms": statistics.median(x["agent_cpu_ms"] for x in scrapes),
        "collect_ms": statistics.median(x["collect_ms"] for x in scrapes),
        "series": scrapes[-1]["series"], "metrics_bytes": scrapes[-1]["bytes"],
        "load": loadavg(),
    }
    return cp, after["cpu_s"] - s["cpu_s"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="the full size: " + ", ".join(f"{k}={v:,}" for k, v in FULL.items()))
    ap.add_argument("--wide", action="store_true", help="issue 16's size: " + ", ".join(f"{k}={v:,}" for k, v in WIDE.items()))
    for key, value in DEFAULT.items():
        ap.add_argument("--" + key.replace("_", "-"), type=int, default=None, help=f"default {value:,} (full {FULL[key]:,})")
    ap.add_argument("--batch", type=int, default=2000, help="lines sent per app per turn")
    ap.add_argument("--before", default="", help="also measure this sparkprobe: a git revision or a src/ directory")
    ap.add_argument("--name", default="scale", help="result file name (scale.json)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    size = dict(WIDE if args.wide else FULL if args.full else DEFAULT)
    for key in DEFAULT:
        if getattr(args, key) is not None:
            size[key] = getattr(args, key)
    report = Report(args.name, params={**size, "full": args.full, "wide": args.wide, "before": args.before})
    n_apps = size["apps"]
    print(f"[scale] {n_apps} apps × up to {size['executors']} executors × {size['cores']} cores "
          f"(dynamic {size['min_executors']}–{size['executors']}), {size['tasks']:,} tasks, "
          f"{size['blocks']:,} cached blocks in all; load {loadavg()}", flush=True)

    def app_kwargs(i: int) -> dict[str, Any]:
        return {"app_id": f"app-scale-{i:03d}", "tasks": size["tasks"] // n_apps, "blocks": size["blocks"] // n_apps,
                "max_executors": size["executors"], "min_executors": size["min_executors"],
                "cores": size["cores"], "seed": i}

    import tempfile

    work = Path(tempfile.mkdtemp(prefix="sparkprobe-bench-scale-"))
    trees: list[tuple[str, Path | None]] = [("this", None)]
    if args.before:
        before_src = src_tree(args.before, work)
        trees.insert(0, ("before", before_src))
        report.details["before_src"] = f"{args.before} ({describe_tree(before_src)})"
    report.details["after_src"] = describe_tree(Path(__file__).resolve().parent.parent / "src")
    gens = [SyntheticApp(**app_kwargs(i)) for i in range(n_apps)]
    agents = {name: AgentProcess(metrics=True, src=src) for name, src in trees}
    checkpoints: dict[str, list[dict[str, Any]]] = {name: [] for name in agents}
    scrape_cpu = dict.fromkeys(agents, 0.0)
    finals: dict[str, dict[str, Any]] = {}
    try:
        socks = {name: [connect(agent.listen, g.app_id) for g in gens] for name, agent in agents.items()}
        iters = [g.lines() for g in gens]
        live = list(range(n_apps))
        sent = 0
        marks = [0.25, 0.5, 0.75, 1.0]
        total_tasks = sum(g.tasks for g in gens)
        cpu0 = {name: agent.stats()["cpu_s"] for name, agent in agents.items()}
        t_start = time.perf_counter()
        while live or marks:
            for i in list(live):
                batch = []
                for line in iters[i]:
                    batch.append(line)
                    if len(batch) >= args.batch:
                        break
                if not batch:
                    live.remove(i)
                    continue
                data = b"".join(batch)
                for name in agents:
                    socks[name][i].sendall(data)
                sent += len(batch)
            done = sum(g.stats.tasks for g in gens) / total_tasks
            if marks and (done >= marks[0] or not live):
                mark = marks.pop(0)
                for name, agent in agents.items():
                    cp, cpu = checkpoint(agent, sent, mark, gens)
                    checkpoints[name].append(cp)
                    scrape_cpu[name] += cpu
                    print(f"  [{name}] {mark:>4.0%} tasks ({cp['tasks']:,}, {cp['events']:,} events): RSS "
                          f"{cp['rss_mib']:.0f} MiB (peak {cp['hwm_mib']:.0f}); executors ever added "
                          f"{cp['executors_added']:,}; scrape {cp['scrape_wall_ms']:.0f} ms wall, "
                          f"{cp['scrape_agent_cpu_ms']:.0f} ms agent CPU, {cp['series']:,} series  [load {cp['load']}]",
                          flush=True)
        finals = {name: agent.stats() for name, agent in agents.items()}
        wall = time.perf_counter() - t_start
        for name in agents:
            for sock in socks[name]:
                sock.close()
    finally:
        for agent in agents.values():
            agent.close()
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    report.details.update(stream={
        "lines": sum(g.stats.lines for g in gens), "bytes": sum(g.stats.bytes for g in gens),
        "block_updates": sum(g.stats.block_updates for g in gens),
        "executors_added": sum(g.stats.executors_added for g in gens),
        "executors_removed": sum(g.stats.executors_removed for g in gens),
        "unpersisted_rdds": sum(g.stats.unpersisted for g in gens), "wall_s": wall,
        "bad_lines": {name: f["bad_lines"] for name, f in finals.items()},
    })
    report.details["checkpoints"] = checkpoints["this"]
    if "before" in checkpoints:
        report.details["checkpoints_before"] = checkpoints["before"]
    for name in agents:
        cps = checkpoints[name]
        label = "" if name == "this" else f", {name}"
        goal = name == "this"
        last = cps[-1]
        peak = max(cp["hwm_mib"] for cp in cps)
        report.add(f"agent peak RSS{label}", peak, "MiB", f"< {GOAL_RSS_MIB:.0f}" if goal else "",
                   peak < GOAL_RSS_MIB if goal else None)
        report.add(f"agent RSS at 25/50/75/100 % of tasks{label}",
                   " / ".join(f"{cp['rss_mib']:.0f}" for cp in cps), "MiB", "flat in tasks" if goal else "",
                   note="tasks " + " / ".join(f"{cp['tasks']:,}" for cp in cps)
                   + "; executors ever added " + " / ".join(f"{cp['executors_added']:,}" for cp in cps))
        worst = max(cps, key=lambda cp: cp["scrape_agent_cpu_ms"])
        report.add(f"/metrics scrape, agent CPU (worst checkpoint, median of 3){label}", worst["scrape_agent_cpu_ms"],
                   "ms", f"< {GOAL_SCRAPE_MS:.0f}" if goal else "", worst["scrape_agent_cpu_ms"] < GOAL_SCRAPE_MS if goal else None)
        report.add(f"/metrics scrape, agent CPU at 25/50/75/100 % of tasks{label}",
                   " / ".join(f"{cp['scrape_agent_cpu_ms']:.0f}" for cp in cps), "ms", "flat in tasks" if goal else "")
        report.add(f"/metrics scrape, wall at the client (same checkpoint){label}", worst["scrape_wall_ms"], "ms",
                   note=f"load {worst['load']}")
        report.add(f"/metrics series{label}", last["series"], "series", note=f"{last['metrics_bytes']:,} bytes")
        ingest_cpu = finals[name]["cpu_s"] - cpu0[name] - scrape_cpu[name]
        events = finals[name]["events"]
        report.add(f"agent ingest, all apps interleaved{label}", events / ingest_cpu, "events per CPU-second",
                   note=f"{events:,} events, agent CPU {ingest_cpu:.1f}s (scrapes excluded)")
    # -- what one app's summary costs, with and without the report-only parts
    est = in_process_summary_cost(app_kwargs(0))
    report.details["summary_cost_one_app"] = est
    report.add("AppState.summary per app, full (reports)", est["summary_ms"], "ms CPU",
               note=f"{est['executors']} executors known to the app")
    report.add("AppState.summary per app, detail=False (what /metrics computes)", est["summary_light_ms"], "ms CPU",
               note=f"× {n_apps} apps ≈ {est['summary_light_ms'] * n_apps:.1f} ms of each scrape")
    report.write(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
