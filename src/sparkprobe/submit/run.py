"""Running ``sparkprobe submit``: an agent service, spark-submit as a child, the report at the end.

The child inherits stdin, stdout and stderr: the application's output is never touched. On a
terminal the status sits on the last row (:class:`~sparkprobe.submit.console.Console`). The exit
code is spark-submit's (130 after Ctrl-C, which is forwarded to spark-submit).
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import Any

import structlog

from sparkprobe._jar import JarMissing, jar_path
from sparkprobe._logging import configure_logging
from sparkprobe.agent import Agent, AppRecord
from sparkprobe.events import AppEnd
from sparkprobe.model import AppReport, Finding
from sparkprobe.outputs.html import render_html
from sparkprobe.outputs.pushgateway import PushgatewayExporter
from sparkprobe.outputs.report import format_text, to_json
from sparkprobe.service import AgentService, AgentSettings, ServiceError
from sparkprobe.submit.command import (
    SubmitArgs,
    SubmitError,
    build_command,
    check_client_mode,
    find_spark_submit,
    parse_submit_args,
    split_spark_submit,
)
from sparkprobe.submit.console import Console, LineWriter, finding_json, finding_line, status_text
from sparkprobe.submit.properties import defaults_files, load_defaults

__all__ = ["END_WAIT_S", "PROG", "PUSH_WAIT_S", "run_submit"]

PROG = "sparkprobe submit"

#: Seconds to wait, after spark-submit exited, for the agent to process every application's end.
END_WAIT_S = 5.0

#: Seconds to wait for queued Pushgateway pushes at the end.
PUSH_WAIT_S = 20.0


class _Forwarder:
    """Forwards SIGINT / SIGTERM to spark-submit; escalates on repeats (SIGTERM, then SIGKILL)."""

    def __init__(self, proc: subprocess.Popen[bytes], console: Console) -> None:
        self.proc = proc
        self.console = console
        self.interrupted = False
        self.terminated = False
        self.count = 0
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        """Handle the signals (main thread only; elsewhere Python cannot)."""
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)

    def restore(self) -> None:
        """Put the previous handlers back."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.count += 1
        if signum == signal.SIGINT:
            self.interrupted = True
        else:
            self.terminated = True
        send = signum if self.count == 1 else signal.SIGTERM if self.count == 2 else signal.SIGKILL
        try:
            self.proc.send_signal(send)
        except (ProcessLookupError, OSError):
            return
        name = signal.Signals(send).name
        hint = " (again to force)" if send != signal.SIGKILL else ""
        self.console.event(
            "submit_signal", f"forwarded {name} to spark-submit, waiting for it to stop{hint}", signal=name
        )


def _ticker(agent: Agent, console: Console, stop: threading.Event) -> None:
    while not stop.wait(1.0):
        with agent.lock:
            recs = list(agent.apps.values())
            running = [r for r in recs if r.ended_at is None]
            pick = (running or recs)[-1] if (running or recs) else None
            report = agent.report(pick, detail=False) if pick is not None else None
        console.status(status_text(report))


def _wait_for_ends(agent: Agent, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        with agent.lock:
            done = agent.connections_open == 0 and all(r.ended_at is not None for r in agent.apps.values())
        if done:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _check_output_path(path: str | None, flag: str) -> str | None:
    if path is None:
        return None
    parent = Path(path).expanduser().resolve().parent
    if not parent.is_dir():
        return f"{flag} {path}: directory {parent} does not exist"
    if Path(path).is_dir():
        return f"{flag} {path}: is a directory"
    return None


def _write_file(path: str, data: str | bytes) -> None:
    target = Path(path).expanduser()
    tmp = target.with_name(f".{target.name}.sparkprobe-tmp")
    if isinstance(data, str):
        tmp.write_text(data, encoding="utf-8")
    else:
        tmp.write_bytes(data)
    os.replace(tmp, target)


def run_submit(args: argparse.Namespace) -> int:
    """Run ``sparkprobe submit`` (parsed by :func:`sparkprobe.submit.cli.add_arguments`); returns the exit code."""
    console = Console(sys.stderr)
    words = list(args.spark_args or [])
    if words and words[0] == "--":
        words = words[1:]
    first, user_args = split_spark_submit(words)
    submit = find_spark_submit(args.spark_submit, first)
    if submit is None:
        what = args.spark_submit or first or "spark-submit"
        console.line(
            f"{PROG}: cannot find {what}: install pyspark next to sparkprobe, put spark-submit on "
            "PATH, or pass --spark-submit PATH"
        )
        return 127
    if not user_args:
        console.line(f"{PROG}: nothing to submit; usage: {PROG} [options] -- spark-submit ARGS...")
        return 2
    for problem in (_check_output_path(args.json, "--json"), _check_output_path(args.report, "--report")):
        if problem:
            console.line(f"{PROG}: {problem}")
            return 2
    try:
        jar = jar_path()
    except JarMissing as exc:
        console.line(f"{PROG}: {exc}")
        return 2
    parsed = parse_submit_args(user_args)
    defaults = load_defaults(defaults_files(parsed, submit, os.environ))
    try:
        check_client_mode(parsed, defaults, os.environ)
    except SubmitError as exc:
        console.line(f"{PROG}: {exc}")
        return 2
    if parsed.replaced_keys:
        console.event(
            "submit_conf_replaced",
            f"replacing {', '.join(sorted(set(parsed.replaced_keys)))}: submit runs its own agent",
            keys=sorted(set(parsed.replaced_keys)),
        )
    return _run(args, console, submit, parsed, defaults, jar)


def _run(
    args: argparse.Namespace,
    console: Console,
    submit: str,
    parsed: SubmitArgs,
    defaults: Mapping[str, str],
    jar: str,
) -> int:
    saved_logging = structlog.get_config()
    configure_logging(LineWriter(console), level=logging.WARNING)  # type: ignore[arg-type]  # a text stream

    def on_finding(rec: AppRecord, finding: Finding) -> None:
        render = finding_line if console.tty else finding_json
        console.line(render(rec.state.app_id, rec.state.app_name, finding))

    settings = AgentSettings(
        listen="127.0.0.1:0",
        metrics=args.metrics,
        token=secrets.token_hex(16),
        retention_s=float("inf"),
        pushgateway=args.pushgateway,
        # submit prints each finding itself (on_finding): the agent's own log line would repeat it.
        log_findings=False,
        price_core_hour=getattr(args, "price_core_hour", None),
        price_gib_hour=getattr(args, "price_gib_hour", None),
    )
    service = AgentService(settings, on_finding=on_finding)
    try:
        try:
            service.start()
        except ServiceError as exc:
            console.line(f"{PROG}: {exc}")
            return 2
        assert service.agent is not None
        command = build_command(
            submit,
            parsed,
            jar=jar,
            endpoint=service.endpoint,
            token=settings.token,
            defaults=defaults,
            env=os.environ,
        )
        metrics_url = service.metrics_url
        console.event(
            "submit_started",
            f"profiling {os.path.basename(submit)} (agent {service.endpoint}"
            + (f", metrics {metrics_url}" if metrics_url is not None else "")
            + ")",
            agent=service.endpoint,
            metrics=metrics_url,
        )
        code = _supervise(command, console, service.agent)
        _finish(args, console, service)
        return code
    finally:
        console.stop_status()
        service.stop(push_timeout_s=0)
        structlog.configure(**saved_logging)


def _supervise(command: list[str], console: Console, agent: Agent) -> int:
    """Run spark-submit to its end; return its exit code (130 / 143 after a forwarded signal)."""
    try:
        proc = subprocess.Popen(command)
    except OSError as exc:
        console.line(f"{PROG}: cannot run {command[0]}: {exc.strerror or exc}")
        return 126 if isinstance(exc, PermissionError) else 127
    forwarder = _Forwarder(proc, console)
    forwarder.install()
    stop = threading.Event()
    ticker: threading.Thread | None = None
    console.start_status()
    if console.live:
        console.status(status_text(None))
        ticker = threading.Thread(
            target=_ticker, args=(agent, console, stop), name="sparkprobe-status", daemon=True
        )
        ticker.start()
    try:
        returncode = proc.wait()
        if not _wait_for_ends(agent, END_WAIT_S):
            console.event(
                "submit_app_end_missing",
                f"no ApplicationEnd within {END_WAIT_S:g}s of spark-submit exiting: figures end at the "
                "last event received and are marked incomplete",
                level="warning",
            )
    finally:
        stop.set()
        if ticker is not None:
            ticker.join(timeout=2.0)
        forwarder.restore()
        console.stop_status()
    if forwarder.interrupted:
        return 130
    if forwarder.terminated:
        return 143
    return returncode if returncode >= 0 else 128 - returncode


def _finish(args: argparse.Namespace, console: Console, service: AgentService) -> None:
    agent = service.agent
    assert agent is not None
    with agent.lock:
        unended = [r for r in agent.apps.values() if r.ended_at is None]
    for rec in unended:
        # What the agent does after --app-timeout, done now: the driver is gone.
        rec.closed_by_timeout = True
        agent.ingest(rec, [AppEnd(time=rec.state.last_time)])
    with agent.lock:
        reports = [agent.report(rec) for rec in agent.apps.values()]
    if not reports:
        console.event(
            "submit_no_app",
            "no Spark application reported to sparkprobe (it failed before its SparkContext started, "
            "or ran no SparkContext in this process, e.g. --remote or --version)",
            level="warning",
        )
    for report in reports:
        console.line("\n" + format_text(report))
    if args.json:
        try:
            _write_file(args.json, to_json(reports) + "\n")
        except OSError as exc:
            console.event("submit_output_failed", f"--json {args.json}: {exc}", level="error")
    if args.report:
        _write_html(args.report, reports, console)
    if service.pushgateway is not None:
        _close_exporter(service.pushgateway, console, len(reports))


def _write_html(path: str, reports: list[AppReport], console: Console) -> None:
    try:
        _write_file(path, render_html(reports))
    except Exception as exc:  # noqa: BLE001 - a report failing must not change the job's exit code
        console.event("submit_output_failed", f"--report {path}: {type(exc).__name__}: {exc}", level="error")


def _close_exporter(exporter: PushgatewayExporter, console: Console, apps: int) -> None:
    exporter.close(timeout_s=PUSH_WAIT_S)
    pushed, failed, dropped = exporter.pushed, exporter.failed, exporter.dropped
    if failed or dropped:
        console.event(
            "submit_push_failed",
            f"Pushgateway {exporter.url}: {pushed} pushed, {failed} failed, {dropped} dropped"
            + (f" (last error: {exporter.last_error})" if exporter.last_error else ""),
            level="error",
            pushed=pushed,
            failed=failed,
            dropped=dropped,
        )
    elif pushed < apps:
        console.event(
            "submit_push_pending",
            f"Pushgateway {exporter.url}: {pushed} of {apps} pushed; the rest still pending after "
            f"{PUSH_WAIT_S:g}s",
            level="warning",
            pushed=pushed,
        )
    elif pushed:
        console.event("submit_pushed", f"pushed {pushed} app(s) to {exporter.url}", pushed=pushed)
