"""A fleet run: find the logs, read the new and changed ones, record every result as it comes.

:class:`FleetRun` plans (which logs need reading: new, grown, failed last time) against the
:class:`~sparkprobe.fleet.store.FleetStore`, hands the tasks to whoever executes them (the local
:class:`~sparkprobe.fleet.pool.WorkerPool`, or a Spark cluster: :mod:`sparkprobe.fleet.spark`),
and records each result in its own transaction. Paths the scan could not use (unreadable, a
symlink loop) and logs that fail are recorded as failures and tried again on the next run.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from sparkprobe.fleet.identity import LogIdentity, identity_of
from sparkprobe.fleet.pool import WorkerPool
from sparkprobe.fleet.store import FleetStore, RunCounts
from sparkprobe.fleet.work import LogResult, LogTask
from sparkprobe.sources.eventlog import ReadLimits, scan

__all__ = ["FleetOptions", "FleetRun", "Progress"]


@dataclass(frozen=True, slots=True)
class FleetOptions:
    """How to run a fleet (``sparkprobe fleet`` flags; docs/configuration.md)."""

    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    #: Only logs modified at or after this time (epoch ms) are read; None: all.
    since_ms: int | None = None
    read_limits: ReadLimits = field(default_factory=ReadLimits)
    #: Address-space cap of each worker process (bytes); 0: none.
    worker_memory_bytes: int = 2 << 30
    #: Directory for each analysed app's HTML report; None: none written.
    html_dir: str | None = None


class Progress:
    """Told about a run as it goes; the default does nothing (the CLI draws a terminal line)."""

    def start(self, total: int) -> None:
        """``total`` logs are about to be read."""

    def advance(self, result: LogResult, failed: int) -> None:
        """One more log read (``failed`` failures so far)."""

    def note(self, text: str) -> None:
        """Something worth a line of its own (a failure)."""

    def done(self) -> None:
        """The run is over."""


class FleetRun:
    """One run over a store: :meth:`plan_paths`, then :meth:`execute` (or :meth:`record` results)."""

    def __init__(self, store: FleetStore, options: FleetOptions | None = None, progress: Progress | None = None):
        self.store = store
        self.options = options or FleetOptions()
        self.progress = progress or Progress()
        self.counts = RunCounts()
        self.tasks: list[LogTask] = []
        self._started = time.perf_counter()
        self.run_id = store.begin_run()
        #: Called with each result once it is recorded (the History Server source deletes downloads).
        self.on_recorded: Callable[[LogResult], None] | None = None

    # ---------------------------------------------------------------------------------- plan
    def fail(self, identity: LogIdentity, error: str) -> None:
        """Record a log (or a path) that could not be used in this run."""
        self.store.record_failure(identity, error, self.run_id)
        self.counts.failed += 1
        self.progress.note(f"{identity.log}: {error}")

    def consider(self, identity: LogIdentity, make_task: Callable[[], LogTask | None]) -> None:
        """Plan one log: skip it (older than ``--since``, or unchanged), or queue ``make_task()``."""
        self.counts.found += 1
        since = self.options.since_ms
        if since is not None and identity.mtime_ns < since * 1_000_000:
            self.counts.older += 1
            return
        if self.store.needs_read(identity) == "unchanged":
            self.counts.unchanged += 1
            return
        task = make_task()
        if task is not None:
            self.tasks.append(task)

    def plan_paths(self, paths: Iterable[str | os.PathLike[str]]) -> None:
        """Find every log under ``paths`` (any depth) and queue those that need reading."""
        found = scan(paths, max_depth=None)
        for problem in found.problems:
            self.fail(LogIdentity(os.path.abspath(problem.path), 0, 0), problem.error)
        html_dir = self.options.html_dir
        for source in found.sources:
            try:
                identity = identity_of(source)
            except OSError as exc:
                self.fail(LogIdentity(os.path.abspath(source.location), 0, 0), f"cannot read: {exc}")
                continue
            self.consider(identity, functools.partial(LogTask, identity, source, html_dir))

    # ------------------------------------------------------------------------------- execute
    def record(self, results: Iterable[LogResult]) -> None:
        """Store each result as it comes (one transaction each)."""
        for result in results:
            self.counts.worker_peak_rss_bytes = max(self.counts.worker_peak_rss_bytes, result.peak_rss_bytes)
            if result.row is not None:
                outcome = self.store.record_app(result.identity, result.row, self.run_id, result.seconds)
                self.counts.analysed += 1
                self.counts.duplicates += 0 if outcome == "stored" else 1
                if result.html_error:
                    self.progress.note(f"{result.identity.log}: {result.html_error}")
            else:
                self.store.record_failure(result.identity, result.error, self.run_id, result.seconds)
                self.counts.failed += 1
                self.progress.note(f"{result.identity.log}: {result.error}")
            self.progress.advance(result, self.counts.failed)
            if self.on_recorded is not None:
                self.on_recorded(result)

    def execute(self) -> None:
        """Read the planned logs in local worker processes (``jobs`` at a time)."""
        if self.options.html_dir is not None:
            os.makedirs(self.options.html_dir, exist_ok=True)
        self.progress.start(len(self.tasks))
        if not self.tasks:
            return
        jobs = max(1, min(self.options.jobs, len(self.tasks)))
        with WorkerPool(jobs, self.options.read_limits, self.options.worker_memory_bytes) as pool:
            self.record(pool.map(self.tasks))

    def finish(self, status: str = "completed") -> RunCounts:
        """Close the run's record (``completed`` or ``interrupted``); returns its counts."""
        self.counts.status = status
        self.counts.seconds = time.perf_counter() - self._started
        self.store.end_run(self.run_id, self.counts)
        self.progress.done()
        return self.counts

    def failures(self) -> list[tuple[str, str]]:
        """(log, error) of this run's failures."""
        return self.store.failures(self.run_id)


def results_in_order(results: Iterable[LogResult]) -> Iterator[LogResult]:
    """The results by log (for output that must not depend on which worker finished first)."""
    return iter(sorted(results, key=lambda r: r.identity.log))
