"""Read the applications a Spark History Server lists, through its REST API.

``GET /api/v1/applications`` lists every application with its attempts (``attemptId``, absent
when the app was never retried; ``lastUpdatedEpoch``; ``completed``); ``GET
/api/v1/applications/{id}/{attemptId}/logs`` (``/applications/{id}/logs`` without an attempt id)
streams a zip of that attempt's event log files. This follows Spark's
``core/src/main/scala/org/apache/spark/status/api/v1/OneApplicationResource.scala``
(``getEventLogs``: the zip of one attempt, or of all attempts without one) and
``api.scala`` (``ApplicationInfo``, ``ApplicationAttemptInfo``).

Each attempt is one log of the fleet, named by its ``/logs`` URL; its identity changes when the
server's ``lastUpdated`` does, so a rerun downloads only new and grown attempts. The download
happens in the worker that reads it (streamed to a temporary file, deleted after), so downloads
run as parallel as the reading does.
"""

from __future__ import annotations

import functools
import json
import shutil
import tempfile
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from sparkprobe.fleet.identity import LogIdentity
from sparkprobe.fleet.work import LogTask
from sparkprobe.model import AppReport
from sparkprobe.offline import analyze_source
from sparkprobe.sources.eventlog import NotAnEventLog, ReadLimits, scan

if TYPE_CHECKING:
    from sparkprobe.fleet.run import FleetRun

__all__ = ["Attempt", "HistorySource", "analyze_download", "list_attempts"]

#: Seconds a History Server request may take before it fails.
TIMEOUT_S: Final = 120.0
_CHUNK: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class Attempt:
    """One application attempt a History Server lists, and where its logs are."""

    app_id: str
    attempt_id: str
    completed: bool
    last_updated_ms: int
    logs_url: str


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
        return json.load(response)


def list_attempts(base_url: str) -> list[Attempt]:
    """Every attempt of every application the server at ``base_url`` lists (raises OSError when down)."""
    base = base_url.rstrip("/")
    found: list[Attempt] = []
    apps = _get(f"{base}/api/v1/applications")
    if not isinstance(apps, list):
        raise ValueError(f"{base}/api/v1/applications did not return a list")
    for app in apps:
        app_id = str(app.get("id", ""))
        for attempt in app.get("attempts") or [{}]:
            attempt_id = str(attempt.get("attemptId") or "")
            path = "/".join(urllib.parse.quote(part, safe="") for part in (app_id, attempt_id) if part)
            found.append(Attempt(
                app_id=app_id,
                attempt_id=attempt_id,
                completed=bool(attempt.get("completed", False)),
                last_updated_ms=int(attempt.get("lastUpdatedEpoch") or 0),
                logs_url=f"{base}/api/v1/applications/{path}/logs",
            ))
    return found


def _download(url: str, path: Path) -> None:
    """Stream ``url`` to ``path`` in bounded memory."""
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, path.open("wb") as out:
        shutil.copyfileobj(response, out, _CHUNK)


def analyze_download(url: str, read_limits: ReadLimits | None = None) -> AppReport:
    """Download one attempt's logs (a zip) and analyse them as ``analyze`` does; the zip is deleted after."""
    with tempfile.TemporaryDirectory(prefix="sparkprobe-history-") as tmp:
        path = Path(tmp) / "eventLogs.zip"
        _download(url, path)
        found = scan([path])
        if found.problems:
            raise NotAnEventLog(f"the History Server's download is unusable: {found.problems[0].error}")
        if len(found.sources) != 1:
            raise NotAnEventLog(f"the History Server's download holds {len(found.sources)} logs, not one")
        return analyze_source(found.sources[0], read_limits=read_limits)


class HistorySource:
    """Plans the attempts of a History Server into a :class:`~sparkprobe.fleet.run.FleetRun`."""

    def __init__(self, base_url: str, run: FleetRun) -> None:
        self.base_url = base_url.rstrip("/")
        self.run = run

    def plan(self) -> None:
        """List the server's attempts; queue the new and updated ones (a server down is one failure)."""
        try:
            attempts = list_attempts(self.base_url)
        except (OSError, ValueError) as exc:
            self.run.fail(LogIdentity(f"{self.base_url}/api/v1/applications", 0, 0), f"cannot list: {exc}")
            return
        html_dir = self.run.options.html_dir
        for attempt in attempts:
            state = "completed" if attempt.completed else "in progress"
            identity = LogIdentity(attempt.logs_url, 0, attempt.last_updated_ms * 1_000_000, state)
            self.run.consider(identity, functools.partial(LogTask, identity, None, html_dir, attempt.logs_url))

    def cleanup(self) -> None:
        """Nothing is left behind: each worker deletes its download."""
