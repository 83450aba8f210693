"""A real sparkprobe agent (plus its /metrics server) in a process of its own, driven over stdin.

The benchmarks that feed the agent run it here so that its CPU time and memory are its own, not
mixed with the process generating the load. Started as::

    python benchmarks/_agent_server.py [--metrics]

it prints one JSON line ``{"listen": [host, port], "metrics": [host, port] | null}`` and then
answers each line on stdin:

``stats``  → ``{"events": Σ events received, "apps": n, "cpu_s": process CPU seconds,
            "rss_mib": ..., "hwm_mib": ..., "bad_lines": {...}}``
``quit``   → stops the agent and exits.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import proc_rss_mib  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--metrics", action="store_true", help="serve /metrics too")
    ap.add_argument("--max-apps", type=int, default=1000)
    ap.add_argument("--log", default=os.devnull, help="where the agent's structured log goes")
    args = ap.parse_args()

    from sparkprobe._logging import configure_logging
    from sparkprobe.agent import Agent

    # Production logging (JSON lines, INFO: connections, findings as they happen) into a file, so
    # its cost is counted but no pipe can fill up and stall the agent.
    log_stream = open(args.log, "a", buffering=1)  # noqa: SIM115 - lives as long as the process
    configure_logging(log_stream, json=True)

    agent = Agent(max_apps=args.max_apps, retention_s=3600, app_timeout_s=3600)
    listen = agent.start("127.0.0.1", 0)
    metrics = None
    if args.metrics:
        from sparkprobe.outputs.exposition import MetricsServer
        from sparkprobe.outputs.prometheus import make_registry

        server = MetricsServer(make_registry(agent), app_names=agent.app_names)
        metrics = server.start("127.0.0.1", 0)
    print(json.dumps({"listen": list(listen), "metrics": list(metrics) if metrics else None, "pid": os.getpid()}),
          flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "stats":
            with agent.lock:
                events = sum(r.events_received for r in agent.apps.values())
                apps = len(agent.apps)
                bad = dict(agent.bad_lines)
            rss, hwm = proc_rss_mib(os.getpid())
            print(json.dumps({"events": events, "apps": apps, "cpu_s": time.process_time(), "rss_mib": rss,
                              "hwm_mib": hwm, "bad_lines": bad, "mono": time.monotonic()}), flush=True)
        elif cmd == "quit":
            break
    agent.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
