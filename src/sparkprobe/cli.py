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
from sparkprobe.service import DEFAULTS, AgentService, AgentSettings, ServiceError, price_value

__all__ = ["add_price_arguments", "main"]


def _cmd_jar(_: argparse.Namespace) -> int:
    print(jar_path())
    return 0


def _read_token_file(path: str) -> str:
    """The token in ``path`` (a mounted Kubernetes Secret, say), without the trailing newline."""
    with open(path, encoding="utf-8") as fh:
        token = fh.read().strip()
    if not token:
        raise ValueError(f"{path} is empty")
    return token


def _cmd_agent(args: argparse.Namespace) -> int:
    configure_logging(json=args.log_json)
    log = get_logger()
    token = args.token or ""
    if args.token_file:
        if token:
            print("sparkprobe agent: --token and --token-file exclude each other", file=sys.stderr)
            return 2
        try:
            token = _read_token_file(args.token_file)
        except (OSError, ValueError) as exc:
            print(f"sparkprobe agent: cannot read --token-file: {exc}", file=sys.stderr)
            return 2
    settings = AgentSettings(
        listen=args.listen,
        metrics=args.metrics,
        token=token,
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
        price_core_hour=args.price_core_hour,
        price_gib_hour=args.price_gib_hour,
        max_tenants=args.max_tenants,
        drain_timeout_s=args.drain_timeout,
        last_scrape_timeout_s=args.last_scrape_timeout,
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
    # The first SIGTERM or SIGINT starts the graceful stop (AgentService.shutdown); a second one
    # skips what is left of its waits.
    stop, hurry = threading.Event(), threading.Event()

    def on_signal(*_: object) -> None:
        (hurry if stop.is_set() else stop).set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    while not stop.wait(1.0):
        pass  # a timed wait, so the signal handler runs promptly on every platform
    log.info("agent_stopping")
    service.shutdown(hurry)
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


class _WhatIf(argparse.Action):
    """``--what-if KEY=VALUE``: one Spark key of the current what-if group (docs/advice.md)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        from sparkprobe.analysis.policy import POLICY_KEYS

        key, sep, value = str(values).partition("=")
        key = key.strip()
        if not sep or not value.strip():
            parser.error(f"--what-if {values}: expected KEY=VALUE, e.g. spark.dynamicAllocation.maxExecutors=4")
        if key not in POLICY_KEYS:
            parser.error(f"--what-if {key}: not a key the policy simulator replays; one of: {', '.join(POLICY_KEYS)}")
        groups = list(getattr(namespace, "policies", None) or [{}])
        groups[-1] = {**groups[-1], key: value.strip()}
        namespace.policies = groups


class _WhatIfNext(argparse.Action):
    """``--what-if-next``: the following ``--what-if`` keys form another policy."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        groups = list(getattr(namespace, "policies", None) or [{}])
        if groups[-1]:
            groups.append({})
        namespace.policies = groups


def _price(text: str) -> float:
    try:
        return price_value(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_price_arguments(parser: argparse.ArgumentParser) -> None:
    """``--price-core-hour`` and ``--price-gib-hour`` (agent, analyze, submit: docs/configuration.md)."""
    parser.add_argument(
        "--price-core-hour", type=_price, default=None, metavar="PRICE",
        help="price of one core-hour, for apps that set no spark.sparkprobe.price.coreHour (no money figure without)",
    )
    parser.add_argument(
        "--price-gib-hour", type=_price, default=None, metavar="PRICE",
        help="price of one GiB-hour of executor memory, for apps that set no spark.sparkprobe.price.gibHour",
    )


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
        "--token-file", default=None, metavar="PATH",
        help="read the token from this file (e.g. a mounted Kubernetes Secret) instead of the command line",
    )
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
    add_price_arguments(p)
    _add_max_tenants(p)
    p.add_argument(
        "--drain-timeout", type=float, default=d.drain_timeout_s,
        help=f"on SIGTERM, seconds listeners get to leave after the go-elsewhere line ({d.drain_timeout_s:g})",
    )
    p.add_argument(
        "--last-scrape-timeout", type=float, default=d.last_scrape_timeout_s,
        help="on SIGTERM, seconds to wait for one last /metrics scrape once the listeners left "
        f"({d.last_scrape_timeout_s:g}; only if /metrics was scraped before)",
    )
    p.set_defaults(func=_cmd_agent)

    p = sub.add_parser("analyze", help="analyze Spark event logs offline")
    p.add_argument("paths", nargs="+", help="event-log files, eventlog_v2_* directories, or directories of logs")
    p.add_argument("--format", choices=("text", "json", "html"), default="text")
    p.add_argument("-o", "--output", default="-", help="write the report here (default stdout)")
    p.add_argument(
        "--what-if", action=_WhatIf, metavar="KEY=VALUE",
        help="replay the run under this Spark allocation setting (repeat for several keys of one policy)",
    )
    p.add_argument(
        "--what-if-next", action=_WhatIfNext, nargs=0,
        help="start another what-if policy: the --what-if keys after it form a policy of their own",
    )
    p.add_argument(
        "--wall-bound", type=float, default=10.0, metavar="PCT",
        help="the advisor recommends the cheapest policy predicted at most PCT %% slower than the run (10)",
    )
    p.add_argument(
        "--jobs", type=int, default=None, metavar="N",
        help="read N logs at a time, each in a worker process (default: the cores available); "
        "the report is the serial run's",
    )
    add_price_arguments(p)
    _add_max_tenants(p)
    _add_max_line_bytes(p)
    p.set_defaults(func=_cmd_analyze, policies=None)

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


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _add_max_tenants(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--max-tenants", type=_positive_int, default=DEFAULTS.max_tenants,
        help="tenants (Connect sessions, users, tags, job groups, pools) kept per kind and app; the rest are "
        f"folded into 'other' ({DEFAULTS.max_tenants})",
    )


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
