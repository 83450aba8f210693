"""``sparkprobe fleet PATH...``: the command line of a fleet run (flags: docs/configuration.md)."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import re
import signal
import sys
import time
from collections.abc import Iterator
from types import FrameType
from typing import TextIO

from sparkprobe.fleet.report import FleetReport, format_summary, write_json
from sparkprobe.fleet.run import FleetOptions, FleetRun, Progress
from sparkprobe.fleet.store import FleetStore, StoreError
from sparkprobe.fleet.work import LogResult
from sparkprobe.sources.eventlog import DEFAULT_MAX_LINE_BYTES, ReadLimits

__all__ = ["DEFAULT_STATE", "add_arguments", "parse_since", "run_fleet_cli"]

#: The state file used without ``--state``.
DEFAULT_STATE = "sparkprobe-fleet.sqlite"
_RELATIVE = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)")
_UNIT_SECONDS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now_s: float | None = None) -> int:
    """``--since`` as epoch milliseconds: ``7d``/``12h``/``30m`` ago, an ISO date or time, or epoch ms.

    A date or time without an offset is UTC (a fleet spans time zones; the logs' own times are UTC).
    """
    text = text.strip()
    now = time.time() if now_s is None else now_s
    if m := _RELATIVE.fullmatch(text):
        return int((now - float(m.group(1)) * _UNIT_SECONDS[m.group(2)]) * 1000)
    if text.isdigit() and len(text) >= 12:
        return int(text)
    try:
        when = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise ValueError(
            f"--since {text!r}: expected a duration (7d, 12h, 30m), an ISO date or time, or epoch milliseconds"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return int(when.timestamp() * 1000)


class TerminalProgress(Progress):
    """``done/total apps · rate · failures`` on a terminal's last line; nothing when not a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.on = stream.isatty()
        self.total = 0
        self.done_count = 0
        self.failed = 0
        self.started = time.monotonic()
        self.last = 0.0

    def start(self, total: int) -> None:
        """Begin counting."""
        self.total, self.started = total, time.monotonic()
        self._draw(force=True)

    def advance(self, result: LogResult, failed: int) -> None:
        """One more log."""
        self.done_count += 1
        self.failed = failed
        self._draw(force=self.done_count == self.total)

    def note(self, text: str) -> None:
        """A line above the progress line (a failure)."""
        if self.on:
            self.stream.write(f"\r\x1b[K{text}\n")
            self._draw(force=True)

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self.on or (not force and now - self.last < 0.2):
            return
        self.last = now
        elapsed = max(now - self.started, 1e-9)
        rate = self.done_count / elapsed
        left = (self.total - self.done_count) / rate if rate > 0 else 0.0
        self.stream.write(
            f"\r\x1b[K[fleet] {self.done_count:,}/{self.total:,} apps · {rate:,.1f} apps/s · "
            f"{self.failed:,} failed · {left:,.0f}s left"
        )
        self.stream.flush()

    def done(self) -> None:
        """Clear the line."""
        if self.on:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``sparkprobe fleet`` (each listed in docs/configuration.md)."""
    p.add_argument("paths", nargs="*", help="event-log files and directories (History Server dirs, nested folders)")
    p.add_argument(
        "--since", default=None, metavar="T", help="only logs modified since T: 7d, 12h, an ISO date, epoch ms"
    )
    p.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, metavar="N",
        help=f"worker processes reading logs at once (default: the CPU count, {os.cpu_count() or 1})",
    )
    p.add_argument("--state", default=DEFAULT_STATE, metavar="DB", help=f"the SQLite state store ({DEFAULT_STATE})")
    p.add_argument("-o", "--output", default=None, metavar="FILE", help="also write the report: FILE.json or FILE.html")
    p.add_argument("--top", type=int, default=10, metavar="N", help="apps in each ranking (10)")
    p.add_argument(
        "--price-core-hour", type=float, default=None, metavar="PRICE",
        help="price of one core-hour: adds cost to totals, groups and rankings",
    )
    p.add_argument(
        "--worker-memory", type=int, default=2048, metavar="MIB",
        help="address-space cap of each worker process in MiB; a log needing more fails (2048; 0: none)",
    )
    p.add_argument(
        "--max-line-bytes", type=int, default=DEFAULT_MAX_LINE_BYTES, metavar="N",
        help=f"longest event-log line read; longer ones are skipped and counted too_long ({DEFAULT_MAX_LINE_BYTES})",
    )
    p.add_argument(
        "--history-server", default=None, metavar="URL",
        help="also read every application a Spark History Server lists (REST API), e.g. http://host:18080",
    )
    p.add_argument(
        "--spark", default=None, metavar="MASTER",
        help="read the logs on a Spark cluster instead of local processes (spark://..., yarn, local-cluster[...])",
    )
    p.add_argument(
        "--spark-conf", action="append", default=[], metavar="KEY=VALUE",
        help="a Spark property for the --spark session (repeatable)",
    )
    p.add_argument(
        "--parquet", default=None, metavar="DIR",
        help="where --spark writes the rows as Parquet (default: beside the state file, STATE.parquet)",
    )


def _html_dir(output: str | None) -> str | None:
    """Per-app HTML reports go beside an HTML fleet report: ``report.html`` → ``report.apps/``."""
    if output is None or not output.endswith(".html"):
        return None
    return output[: -len(".html")] + ".apps"


@contextlib.contextmanager
def _interrupt_on_sigterm() -> Iterator[None]:
    """SIGTERM stops a run as Ctrl-C does: what is recorded stays recorded."""

    def handler(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_fleet_cli(args: argparse.Namespace) -> int:
    """Run a fleet; 0 when every log read, 1 when some failed, 2 on bad usage, 130 when interrupted."""
    prog = "sparkprobe fleet"
    if not args.paths and not args.history_server:
        print(f"{prog}: give event-log paths, --history-server URL, or both", file=sys.stderr)
        return 2
    if args.output is not None and not args.output.endswith((".json", ".html")):
        print(f"{prog}: -o takes FILE.json or FILE.html, not {args.output!r}", file=sys.stderr)
        return 2
    try:
        since = parse_since(args.since) if args.since else None
        options = FleetOptions(
            jobs=args.jobs,
            since_ms=since,
            read_limits=ReadLimits(max_line_bytes=args.max_line_bytes),
            worker_memory_bytes=max(0, args.worker_memory) << 20,
            html_dir=_html_dir(args.output) if args.spark is None else None,
        )
        if args.jobs < 1:
            raise ValueError(f"--jobs must be at least 1, not {args.jobs}")
        bad = [kv for kv in args.spark_conf if "=" not in kv]
        if bad:
            raise ValueError(f"--spark-conf takes KEY=VALUE, not {bad[0]!r}")
        store = FleetStore(args.state)
    except (ValueError, StoreError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    status = "completed"
    with store, _interrupt_on_sigterm():
        run = FleetRun(store, options, TerminalProgress(sys.stderr))
        try:
            _execute(run, args)
        except KeyboardInterrupt:
            status = "interrupted"
        except RuntimeError as exc:  # workers cannot start, the Spark job failed
            print(f"\n{prog}: {exc}", file=sys.stderr)
            run.finish("failed")
            return 2
        counts = run.finish(status)
        report = FleetReport.build(
            store, counts, run.failures(), top=args.top, price_core_hour=args.price_core_hour
        )
        if args.output is not None:
            _write_output(report, args.output)
        print(format_summary(report))
    if status == "interrupted":
        return 130
    return 1 if counts.failed else 0


def _execute(run: FleetRun, args: argparse.Namespace) -> None:
    history = None
    if args.history_server:
        from sparkprobe.fleet.history import HistorySource

        history = HistorySource(args.history_server, run)
        history.plan()
    if args.paths:
        run.plan_paths(args.paths)
    try:
        if args.spark is not None:
            from sparkprobe.fleet.spark import execute_on_master

            execute_on_master(run, args.spark, dict(kv.split("=", 1) for kv in args.spark_conf), args.parquet)
        else:
            run.execute()
    finally:
        if history is not None:
            history.cleanup()


def _write_output(report: FleetReport, path: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        if path.endswith(".json"):
            write_json(report, out)
        else:
            from sparkprobe.fleet.html import write_html

            write_html(report, out, apps_dir=_html_dir(path))
    os.replace(tmp, path)
