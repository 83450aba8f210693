"""The ``sparkprobe`` command: agent, jar, analyze, demo.

Every flag is listed in docs/configuration.md.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from sparkprobe._jar import JarMissing, jar_path
from sparkprobe._version import __version__
from sparkprobe.agent import Agent, parse_hostport
from sparkprobe.analysis.state import Limits
from sparkprobe.outputs.logs import configure_logging, get_logger

__all__ = ["main"]

DEFAULT_LISTEN = "127.0.0.1:7733"
DEFAULT_METRICS = "127.0.0.1:9733"


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def _cmd_jar(_: argparse.Namespace) -> int:
    print(jar_path())
    return 0


def _cmd_agent(args: argparse.Namespace) -> int:
    from sparkprobe.outputs.prometheus import MetricsServer

    configure_logging(json=args.log_json)
    log = get_logger()
    try:
        listen = parse_hostport(args.listen)
        metrics = parse_hostport(args.metrics)
    except ValueError as exc:
        print(f"sparkprobe agent: {exc}", file=sys.stderr)
        return 2
    if not _is_loopback(listen[0]) and not args.token:
        print(
            f"sparkprobe agent: refusing to listen on {listen[0]} without --token: anyone who can "
            "reach it could feed it data. Pass --token (and set spark.sparkprobe.token), or bind 127.0.0.1.",
            file=sys.stderr,
        )
        return 2
    limits = Limits(idle_threshold_s=args.idle_threshold)
    if bool(args.tls_cert) != bool(args.tls_key):
        print("sparkprobe agent: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    ssl_context = None
    if args.tls_cert:
        from sparkprobe.tls import server_context

        try:
            ssl_context = server_context(args.tls_cert, args.tls_key)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            print(f"sparkprobe agent: cannot load --tls-cert/--tls-key: {exc}", file=sys.stderr)
            return 2
    agent = Agent(
        token=args.token or "", retention_s=args.retention, app_timeout_s=args.app_timeout,
        limits=limits, max_apps=args.max_apps, ssl_context=ssl_context,
    )
    if bool(args.metrics_tls_cert) != bool(args.metrics_tls_key):
        print("sparkprobe agent: --metrics-tls-cert and --metrics-tls-key go together", file=sys.stderr)
        return 2
    server = MetricsServer(agent, certfile=args.metrics_tls_cert, keyfile=args.metrics_tls_key)
    exporter = None
    if args.pushgateway:
        from sparkprobe.outputs.pushgateway import PushgatewayExporter

        exporter = PushgatewayExporter(
            args.pushgateway, job=args.pushgateway_job, per_run=args.pushgateway_per_run
        ).install(agent)
        server.registry.register(exporter)  # sparkprobe_pushgateway_pushes_total{result}
    try:
        bound = agent.start(*listen)
    except OSError as exc:
        print(f"sparkprobe agent: cannot listen on {args.listen}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        mbound = server.start(*metrics)
    except OSError as exc:
        agent.stop()
        print(f"sparkprobe agent: cannot serve metrics on {args.metrics}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    log.info(
        "agent_started", listen=f"{bound[0]}:{bound[1]}", tls=ssl_context is not None, metrics=server.url,
        version=__version__,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    log.info("agent_stopping")
    server.stop()
    agent.stop()
    if exporter is not None:
        exporter.close(10)
    del mbound
    return 0


def _cmd_analyze(args: argparse.Namespace) -> int:
    from sparkprobe.offline import run_analyze

    return run_analyze(args)


def _cmd_demo(args: argparse.Namespace) -> int:
    from sparkprobe.demo import run_demo

    return run_demo(args)


def _cmd_submit(args: argparse.Namespace) -> int:
    from sparkprobe.submit import run_submit

    return run_submit(args)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (public for docs and tests)."""
    parser = argparse.ArgumentParser(
        prog="sparkprobe", description="Profile Apache Spark: cache lost with executors, idle cores."
    )
    parser.add_argument("--version", action="version", version=f"sparkprobe {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("jar", help="print the absolute path of the listener jar")
    p.set_defaults(func=_cmd_jar)

    p = sub.add_parser("agent", help="receive listener streams and serve Prometheus metrics")
    p.add_argument("--listen", default=DEFAULT_LISTEN, help=f"event port HOST:PORT (default {DEFAULT_LISTEN})")
    p.add_argument("--metrics", default=DEFAULT_METRICS, help=f"/metrics HOST:PORT (default {DEFAULT_METRICS})")
    p.add_argument("--token", default=None, help="shared secret every listener must send (spark.sparkprobe.token)")
    p.add_argument("--retention", type=float, default=300.0, help="seconds a finished app keeps its series (300)")
    p.add_argument(
        "--app-timeout", type=float, default=300.0,
        help="seconds after its driver disconnected without ApplicationEnd before an app is closed (300)",
    )
    p.add_argument("--max-apps", type=int, default=1000, help="applications tracked at once (1000)")
    p.add_argument(
        "--idle-threshold", type=float, default=60.0,
        help="seconds an executor may sit idle before it is a finding (60)",
    )
    p.add_argument(
        "--pushgateway", default=None, metavar="URL",
        help="push each finished app's final figures to this Pushgateway, e.g. http://host:9091",
    )
    p.add_argument("--pushgateway-job", default="sparkprobe", help="job label of pushed groups (sparkprobe)")
    p.add_argument(
        "--pushgateway-per-run", action="store_true",
        help="one Pushgateway group per app run (app_id in the grouping key) instead of one per app name",
    )
    p.add_argument(
        "--tls-cert", default=None, metavar="PEM",
        help="serve the event port over TLS with this certificate (chain); listeners set spark.sparkprobe.tls.*",
    )
    p.add_argument("--tls-key", default=None, metavar="PEM", help="the private key of --tls-cert")
    p.add_argument(
        "--metrics-tls-cert", default=None, metavar="PEM", help="serve /metrics over TLS with this certificate"
    )
    p.add_argument("--metrics-tls-key", default=None, metavar="PEM", help="the private key of --metrics-tls-cert")
    p.add_argument("--log-json", action="store_true", default=None, help="JSON log lines even on a terminal")
    p.set_defaults(func=_cmd_agent)

    p = sub.add_parser("analyze", help="analyze Spark event logs offline")
    p.add_argument("paths", nargs="+", help="event-log files, eventlog_v2_* directories, or directories of logs")
    p.add_argument("--format", choices=("text", "json", "html"), default="text")
    p.add_argument("-o", "--output", default="-", help="write the report here (default stdout)")
    p.set_defaults(func=_cmd_analyze)

    p = sub.add_parser("demo", help="run a real local-cluster Spark job under dynamic allocation, profiled live")
    p.add_argument("--metrics", default="127.0.0.1:0", help="serve /metrics here while it runs (default: a free port)")
    p.add_argument("--json", dest="json_out", default=None, help="also write the final snapshot as JSON here")
    p.add_argument("--report", default="sparkprobe-demo.html", help="write the HTML report here (sparkprobe-demo.html)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser(
        "submit", help="run spark-submit with the listener wired to an in-process agent; report at the end"
    )
    from sparkprobe.submit import add_arguments

    add_arguments(p)
    p.set_defaults(func=_cmd_submit)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except JarMissing as exc:
        print(f"sparkprobe: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
