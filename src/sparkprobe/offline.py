"""``sparkprobe analyze``: Spark event logs through the same analyzer as the live path."""

from __future__ import annotations

import argparse
import contextlib
import functools
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TextIO

from sparkprobe.analysis.policy import DEFAULT_WALL_BOUND
from sparkprobe.analysis.report import build_report
from sparkprobe.analysis.state import AppState, Limits
from sparkprobe.model import AppReport, SourceInfo
from sparkprobe.outputs.report import format_text, write_json
from sparkprobe.sources.eventlog import EventLogError, LogReader, LogSource, ReadLimits, check_event_log, scan

__all__ = ["analyze_source", "read_limits_of", "run_analyze"]


class _Progress:
    """A one-line progress indicator on a terminal's stderr; silent when not a terminal."""

    def __init__(self, stream: TextIO, total: int) -> None:
        self.stream = stream
        self.total = total
        self.on = stream.isatty()
        self.last = 0.0

    def update(self, index: int, name: str, events: int, force: bool = False) -> None:
        now = time.monotonic()
        if not self.on or (not force and now - self.last < 0.2):
            return
        self.last = now
        self.stream.write(f"\r\x1b[K[{index}/{self.total}] {name}: {events:,} events")
        self.stream.flush()

    def done(self) -> None:
        if self.on:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def analyze_source(
    source: LogSource,
    limits: Limits | None = None,
    progress: Callable[[int], None] | None = None,
    *,
    policies: Sequence[Mapping[str, str]] = (),
    wall_bound: float = DEFAULT_WALL_BOUND,
    read_limits: ReadLimits | None = None,
) -> AppReport:
    """Read one application's log and return its report (``progress`` is told the events read).

    ``policies`` and ``wall_bound``: the policy what-ifs and the advisor's bound (docs/advice.md).
    Raises :class:`~sparkprobe.sources.eventlog.NotAnEventLog` when the file names no application
    (no Spark event in it, or no application start), the reader's other
    :class:`~sparkprobe.sources.eventlog.EventLogError` subclasses on undecodable or hostile data,
    and OSError when it cannot be read.
    """
    reader = LogReader(source, limits=read_limits)
    state = AppState(limits=limits)
    apply = state.apply
    for n, event in enumerate(reader.events(), 1):
        apply(event)
        if progress is not None and n % 65536 == 0:
            progress(n)
    stats = reader.stats
    check_event_log(source, stats, state.app_id)
    info = SourceInfo(
        name=source.name,
        layout=source.layout,
        in_progress=source.in_progress,
        codecs=tuple(stats.codecs),
        lines=stats.lines,
        events=stats.events,
        ignored=stats.ignored,
        truncated_last_line=stats.truncated_last_line,
        bytes_compressed=stats.bytes_compressed,
        bytes_decompressed=stats.bytes_decompressed,
        bad_lines=stats.bad_lines,
        bad_line_samples=tuple(stats.bad_samples),
        too_long=stats.too_long,
    )
    return build_report(state, now_ms=None, source=info, policies=policies, wall_bound=wall_bound)


def read_limits_of(args: argparse.Namespace) -> ReadLimits:
    """The reader's limits from ``--max-line-bytes`` (analyze and fleet)."""
    return ReadLimits(max_line_bytes=args.max_line_bytes)


def run_analyze(args: argparse.Namespace) -> int:
    """Analyze every application under ``args.paths``; write text or JSON; exit 1 on any failure.

    A path or a log that cannot be used (missing, unreadable, a symlink loop, not a Spark event
    log, a decompression bomb) is reported on stderr and the others are still analysed.
    """
    try:
        read_limits = read_limits_of(args)
    except ValueError as exc:
        print(f"sparkprobe analyze: {exc}", file=sys.stderr)
        return 2
    found = scan(args.paths, max_depth=1)
    for problem in found.problems:
        print(f"sparkprobe analyze: {problem.path}: {problem.error}", file=sys.stderr)
    sources = found.sources
    if not sources:
        print(f"sparkprobe analyze: no Spark event log found in {' '.join(args.paths)}", file=sys.stderr)
        return 2
    progress = _Progress(sys.stderr, len(sources))
    policies = [g for g in (getattr(args, "policies", None) or []) if g]
    wall_bound = max(0.0, float(getattr(args, "wall_bound", DEFAULT_WALL_BOUND * 100))) / 100
    apps: list[AppReport] = []
    failed = len(found.problems)
    for i, source in enumerate(sources, 1):
        progress.update(i, source.name, 0, force=True)
        limits = Limits(price_core_hour=getattr(args, "price_core_hour", None),
                        price_gib_hour=getattr(args, "price_gib_hour", None),
                        max_tenants=args.max_tenants)
        try:
            report = analyze_source(
                source, limits, progress=functools.partial(progress.update, i, source.name),
                policies=policies, wall_bound=wall_bound, read_limits=read_limits,
            )
        except EventLogError as exc:
            failed += 1
            progress.done()
            print(f"sparkprobe analyze: {source.name}: {exc}", file=sys.stderr)
            continue
        except OSError as exc:
            failed += 1
            progress.done()
            print(f"sparkprobe analyze: {source.name}: cannot read: {exc}", file=sys.stderr)
            continue
        apps.append(report)
    progress.done()
    with _output(args.output) as out:
        if args.format == "json":
            write_json(apps, out)  # streamed: a big report's text is never held whole
        elif args.format == "html":
            from sparkprobe.outputs.html import render_html

            out.write(render_html(apps) + "\n")
        else:
            out.write("\n\n".join(format_text(app) for app in apps) + "\n")
    return 1 if failed else 0


@contextlib.contextmanager
def _output(path: str) -> Iterator[TextIO]:
    """The report's destination: standard output for ``-``, else the file (created or replaced)."""
    if path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    with open(path, "w", encoding="utf-8") as fh:
        yield fh
