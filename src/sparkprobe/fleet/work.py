"""One unit of fleet work: read one whole log with ``analyze``'s analyzer and make its row.

:func:`analyze_task` is what every way of running a fleet calls for each log: a local worker
process, ``--jobs 1``, and each task of a ``--spark`` job. It never raises for a bad log: the
error comes back in the :class:`LogResult`, so one hostile file costs one failure row, not a
worker or a run.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sparkprobe.fleet.identity import LogIdentity
from sparkprobe.fleet.row import AppRow, row_from_report
from sparkprobe.model import AppReport
from sparkprobe.offline import analyze_source, log_failure
from sparkprobe.sources.eventlog import LogSource, ReadLimits

__all__ = ["LogResult", "LogTask", "analyze_task", "app_report_name", "peak_rss_bytes"]

_UNSAFE: Final = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class LogTask:
    """A log to read, its identity, and where to write its HTML report (None: no report).

    A task of a History Server app has no ``source`` but the ``download`` URL of its logs: the
    worker fetches the zip itself (downloads run in parallel, on the cluster's tasks too).
    """

    identity: LogIdentity
    source: LogSource | None
    html_dir: str | None = None
    download: str | None = None


@dataclass(frozen=True, slots=True)
class LogResult:
    """What reading one log gave: its row, or the error that stopped it (``row`` None)."""

    identity: LogIdentity
    row: AppRow | None
    error: str
    seconds: float
    #: Peak resident memory of the process that read it, so far (bytes; 0 when unknown).
    peak_rss_bytes: int = 0
    #: Why the app's HTML report could not be written (the row is still good).
    html_error: str = ""


def peak_rss_bytes() -> int:
    """The peak resident set size of this process (``VmHWM``; 0 where /proc has none)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def app_report_name(app_id: str, attempt_id: str) -> str:
    """The file name of an app's HTML report: its id (and attempt), made safe for any file system."""
    base = _UNSAFE.sub("_", app_id or "app")[:120]
    return f"{base}_{_UNSAFE.sub('_', attempt_id)[:40]}.html" if attempt_id else f"{base}.html"


def _write_html(report: AppReport, html_dir: str) -> None:
    from sparkprobe.outputs.html import render_html

    path = Path(html_dir) / app_report_name(report.app_id, report.attempt_id)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(render_html([report]) + "\n", encoding="utf-8")
    os.replace(tmp, path)  # a reader never sees half a file


def analyze_task(task: LogTask, read_limits: ReadLimits | None = None) -> LogResult:
    """Read ``task``'s log whole and return its row; a failure is returned, never raised."""
    started = time.perf_counter()
    error = html_error = ""
    row = None
    try:
        if task.download is not None:
            from sparkprobe.fleet.history import analyze_download

            report = analyze_download(task.download, read_limits)
        else:
            assert task.source is not None
            report = analyze_source(task.source, read_limits=read_limits)
        row = row_from_report(report, task.identity.log)
        if task.html_dir is not None:
            try:
                _write_html(report, task.html_dir)
            except OSError as exc:
                html_error = f"cannot write its HTML report: {exc}"
    except Exception as exc:  # noqa: BLE001 - one log's bug must cost one failure row, not the fleet run
        error = log_failure(exc, "the log needs more than the worker may use (--worker-memory)")
    return LogResult(task.identity, row, error, time.perf_counter() - started, peak_rss_bytes(), html_error)
