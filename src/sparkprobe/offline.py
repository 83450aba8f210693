"""``sparkprobe analyze``: Spark event logs through the same analyzer as the live path."""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from sparkprobe.analysis.policy import DEFAULT_WALL_BOUND
from sparkprobe.analysis.report import build_report
from sparkprobe.analysis.state import AppState, Limits
from sparkprobe.model import AppReport, SourceInfo
from sparkprobe.outputs.report import format_text, write_json
from sparkprobe.sources.eventlog import EventLogError, LogReader, LogSource, ReadLimits, check_event_log, scan

__all__ = ["analyze_source", "default_jobs", "log_failure", "read_limits_of", "run_analyze"]


def default_jobs() -> int:
    """The cores this process may run on: ``analyze --jobs``'s default."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on every platform (macOS)
        return max(1, os.cpu_count() or 1)


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


@dataclass(frozen=True)
class _Job:
    """One log of an ``analyze`` run: everything a worker needs to report it."""

    index: int
    source: LogSource
    limits: Limits
    policies: Sequence[Mapping[str, str]] = ()
    wall_bound: float = DEFAULT_WALL_BOUND
    read_limits: ReadLimits = field(default_factory=ReadLimits)


@dataclass(frozen=True)
class _Done:
    """A job's outcome: its report, or why it has none (a message for stderr)."""

    index: int
    report: AppReport | None
    error: str = ""


def log_failure(exc: Exception, memory_hint: str = "") -> str:
    """Why one log has no report, in one line (``analyze``'s stderr, a fleet row's error).

    The reader's refusals and unreadable files are the log's; anything else is sparkprobe's own
    bug, said as such with where it was raised, so that one log's failure is one reported failure
    and the other logs of the run are still analysed, serially and with ``--jobs`` alike.
    """
    if isinstance(exc, EventLogError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"cannot read: {exc}"
    if isinstance(exc, MemoryError):
        return "out of memory" + (f": {memory_hint}" if memory_hint else "")
    if isinstance(exc, RecursionError):
        return f"too deeply nested: {exc}"
    where = ""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is not None:
        where = f" at {os.path.basename(tb.tb_frame.f_code.co_filename)}:{tb.tb_lineno}"
    return f"internal error ({type(exc).__name__}{where}): {exc} (a sparkprobe bug: please report it)"


def _run_job(job: _Job, progress: Callable[[int], None] | None = None) -> _Done:
    """Analyze one log; a failure (the log's or the analyzer's) is an outcome, not an exception."""
    try:
        report = analyze_source(job.source, job.limits, progress, policies=job.policies,
                                wall_bound=job.wall_bound, read_limits=job.read_limits)
    except Exception as exc:  # noqa: BLE001 - one log's failure must cost one reported failure, not the run
        return _Done(job.index, None, log_failure(exc))
    return _Done(job.index, report)


def _died(job: _Job, how: str) -> _Done:
    return _Done(job.index, None, f"the worker reading it died ({how})")


def _run_jobs(jobs: list[_Job], workers: int, progress: _Progress) -> Iterator[_Done]:
    """Each job's outcome, in the jobs' order: in this process, or ``workers`` processes at a time."""
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            name = job.source.name
            progress.update(job.index + 1, name, 0, force=True)
            yield _run_job(job, functools.partial(progress.update, job.index + 1, name))
        return
    from sparkprobe._workers import Workers

    done: dict[int, _Done] = {}
    next_out = 0
    with Workers(min(workers, len(jobs)), _run_job, _died, name="sparkprobe-analyze-worker") as pool:
        for finished, outcome in enumerate(pool.map(jobs), 1):
            progress.update(finished, jobs[outcome.index].source.name, 0, force=True)
            done[outcome.index] = outcome
            while next_out in done:  # in order, so the output is the serial run's
                yield done.pop(next_out)
                next_out += 1


def run_analyze(args: argparse.Namespace) -> int:
    """Analyze every application under ``args.paths``; write text or JSON; exit 1 on any failure.

    A path or a log that cannot be used (missing, unreadable, a symlink loop, not a Spark event
    log, a decompression bomb) is reported on stderr and the others are still analysed.
    ``args.jobs`` logs are read at a time, each in a worker process of its own (default: the
    cores available); the report is the same as a serial run's, in the same order.
    """
    try:
        read_limits = read_limits_of(args)
    except ValueError as exc:
        print(f"sparkprobe analyze: {exc}", file=sys.stderr)
        return 2
    workers = getattr(args, "jobs", None) or default_jobs()
    if workers < 1:
        print(f"sparkprobe analyze: --jobs must be at least 1, not {workers}", file=sys.stderr)
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
    limits = Limits(price_core_hour=getattr(args, "price_core_hour", None),
                    price_gib_hour=getattr(args, "price_gib_hour", None),
                    max_tenants=args.max_tenants)
    jobs = [_Job(i, source, limits, policies, wall_bound, read_limits) for i, source in enumerate(sources)]
    apps: list[AppReport] = []
    failed = len(found.problems)
    for outcome in _run_jobs(jobs, workers, progress):
        if outcome.report is None:
            failed += 1
            progress.done()
            print(f"sparkprobe analyze: {sources[outcome.index].name}: {outcome.error}", file=sys.stderr)
            continue
        apps.append(outcome.report)
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
