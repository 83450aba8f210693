"""The ``sparkprobe`` command: agent, jar, analyze, demo, submit, fleet.

Every flag is listed in docs/configuration.md.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from sparkprobe._jar import JarMissing, jar_path
from sparkprobe._logging import configure_logging, get_logger
from sparkprobe._version import __version__
from sparkprobe.service import DEFAULTS, AgentService, AgentSettings, ServiceError

__all__ = ["main"]


def _cmd_jar(_: argparse.Namespace) -> int:
    print(jar_path())
    return 0


def _cmd_agent(args: argparse.Namespace) -> int:
    configure_logging(json=args.log_json)
    log = get_logger()
    settings = AgentSettings(
        listen=args.listen,
        metrics=args.metrics,
        token=args.token or "",
        retention_s=args.retention,
        app_timeout_s=args.app_timeout,
        max_apps=args.max_apps,
        idle_threshold_s=args.idle_threshold,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        metrics_tls_cert=args.metrics_tls_cert,
        metrics_tls_key=args.metrics_tls_key,
        pushgateway=args.pushgateway,
        pushgateway_job=args.pushgateway_job,
        pushgateway_per_run=args.pushgateway_per_run,
    )
    service = AgentService(settings)
    try:
        service.start()
    except ServiceError as exc:
        print(f"sparkprobe agent: {exc}", file=sys.stderr)
        return 2
    log.info(
        "agent_started", listen=service.endpoint, tls=settings.tls_cert is not None, metrics=service.metrics_url,
        version=__version__,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    log.info("agent_stopping")
    service.stop()
    return 0


def _cmd_analyze(args: argparse.Namespace) -> int:
    from sparkprobe.offline import run_analyze

    return run_analyze(args)


def _cmd_fleet(args: argparse.Namespace) -> int:
    from sparkprobe.fleet.cli import run_fleet_cli

    return run_fleet_cli(args)


def _cmd_demo(args: argparse.Namespace) -> int:
    from sparkprobe.demo import run_demo

    return run_demo(args)


def _cmd_submit(args: argparse.Namespace) -> int:
    from sparkprobe.submit.run import run_submit

    return run_submit(args)


def _add_max_line_bytes(p: argparse.ArgumentParser) -> None:
    from sparkprobe.sources.eventlog import DEFAULT_MAX_LINE_BYTES

    p.add_argument(
        "--max-line-bytes", type=int, default=DEFAULT_MAX_LINE_BYTES, metavar="N",
        help=f"longest event-log line read; longer ones are skipped and counted too_long ({DEFAULT_MAX_LINE_BYTES})",
    )


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
    d = DEFAULTS
    p.add_argument("--listen", default=d.listen, help=f"event port HOST:PORT (default {d.listen})")
    p.add_argument("--metrics", default=d.metrics, help=f"/metrics HOST:PORT (default {d.metrics})")
    p.add_argument("--token", default=None, help="shared secret every listener must send (spark.sparkprobe.token)")
    p.add_argument(
        "--retention", type=float, default=d.retention_s,
        help=f"seconds a finished app keeps its series ({d.retention_s:g})",
    )
    p.add_argument(
        "--app-timeout", type=float, default=d.app_timeout_s,
        help="seconds after its driver disconnected without ApplicationEnd before an app is closed "
        f"({d.app_timeout_s:g})",
    )
    p.add_argument("--max-apps", type=int, default=d.max_apps, help=f"applications tracked at once ({d.max_apps})")
    p.add_argument(
        "--idle-threshold", type=float, default=d.idle_threshold_s,
        help=f"seconds an executor may sit idle before it is a finding ({d.idle_threshold_s:g})",
    )
    p.add_argument(
        "--pushgateway", default=None, metavar="URL",
        help="push each finished app's final figures to this Pushgateway, e.g. http://host:9091",
    )
    p.add_argument(
        "--pushgateway-job", default=d.pushgateway_job, help=f"job label of pushed groups ({d.pushgateway_job})"
    )
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
    _add_max_line_bytes(p)
    p.set_defaults(func=_cmd_analyze)

    p = sub.add_parser("demo", help="run a real local-cluster Spark job under dynamic allocation, profiled live")
    p.add_argument("--metrics", default="127.0.0.1:0", help="serve /metrics here while it runs (default: a free port)")
    p.add_argument("--json", dest="json_out", default=None, help="also write the final snapshot as JSON here")
    p.add_argument("--report", default="sparkprobe-demo.html", help="write the HTML report here (sparkprobe-demo.html)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser(
        "submit", help="run spark-submit with the listener wired to an in-process agent; report at the end"
    )
    from sparkprobe.submit.cli import add_arguments

    add_arguments(p)
    p.set_defaults(func=_cmd_submit)

    p = sub.add_parser(
        "fleet", help="analyze many applications in parallel into a state store; rank, group, find regressions"
    )
    from sparkprobe.fleet.cli import add_arguments as add_fleet_arguments

    add_fleet_arguments(p)
    p.set_defaults(func=_cmd_fleet)
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
