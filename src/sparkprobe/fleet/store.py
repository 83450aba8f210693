"""The fleet's state store: one SQLite file, schema versioned, written one log at a time.

Tables (docs/fleet.md, "State store"): ``logs`` (one row per log identity: its size, modification
time and last part when read, and whether the read gave an app, failed — with the error — or gave
an app another log already holds), ``apps`` (one :class:`~sparkprobe.fleet.row.AppRow` per
(app id, attempt id), every field a column), ``findings`` (the rows' findings, for SQL), ``runs``
(each run's counts) and ``meta``.

Each result is committed in its own transaction as it arrives, so interrupting a run (SIGINT, a
kill, a crash) loses nothing already done: the next run reads only what is missing. SQLite's WAL
journal keeps a committed transaction through a killed process.

The same app found in two logs (a copy, a rename of ``.inprogress``, a repack) is one row: the log
preferred is the complete one (an ``ApplicationEnd``, not in progress), then the one with more
events, then the smaller name; the other log is recorded as a ``duplicate`` of it. The order in
which logs arrive does not change the outcome.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sparkprobe.fleet.identity import LogIdentity
from sparkprobe.fleet.row import COLUMNS, NULLABLE, AppRow

__all__ = ["SCHEMA_VERSION", "FleetStore", "RunCounts", "StoreError"]

#: Version of the store's schema (``PRAGMA user_version``); a file of a newer version is refused.
SCHEMA_VERSION: Final = 1
# "SPrb": marks the file as a sparkprobe state store (PRAGMA application_id).
_APPLICATION_ID: Final = 0x53507262
_SQL_TYPES: Final = {"str": "TEXT", "int": "INTEGER", "float": "REAL", "bool": "INTEGER", "json": "TEXT"}


class StoreError(Exception):
    """The state file cannot be used: not SQLite, not sparkprobe's, or of a newer schema."""


@dataclass(slots=True)
class RunCounts:
    """What one run did (the JSON report's ``run``)."""

    found: int = 0
    analysed: int = 0
    unchanged: int = 0
    older: int = 0
    failed: int = 0
    duplicates: int = 0
    seconds: float = 0.0
    status: str = "running"
    #: The largest peak resident memory of a process that read a log (bytes).
    worker_peak_rss_bytes: int = 0

    @property
    def skipped(self) -> int:
        """Logs found but not read: unchanged since their last read, or older than ``--since``."""
        return self.unchanged + self.older


def _schema() -> list[str]:
    app_columns = ",\n  ".join(
        f"{name} {_SQL_TYPES[kind]}{'' if name in NULLABLE else ' NOT NULL'}" for name, kind in COLUMNS.items()
    )
    return [
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE logs (
  log TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL,
  last_part TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('ok', 'failed', 'duplicate')),
  error TEXT NOT NULL,
  failures INTEGER NOT NULL,
  app_id TEXT,
  attempt_id TEXT,
  run_id INTEGER NOT NULL,
  read_at_ms INTEGER NOT NULL,
  read_seconds REAL NOT NULL
)""",
        f"CREATE TABLE apps (\n  {app_columns},\n  run_id INTEGER NOT NULL,\n  PRIMARY KEY (app_id, attempt_id)\n)",
        "CREATE INDEX apps_by_name ON apps (app_name, start_ms)",
        """CREATE TABLE findings (
  app_id TEXT NOT NULL,
  attempt_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  time_ms INTEGER NOT NULL,
  message TEXT NOT NULL
)""",
        "CREATE INDEX findings_by_app ON findings (app_id, attempt_id)",
        """CREATE TABLE runs (
  run_id INTEGER PRIMARY KEY,
  started_ms INTEGER NOT NULL,
  finished_ms INTEGER,
  status TEXT NOT NULL,
  found INTEGER NOT NULL DEFAULT 0,
  analysed INTEGER NOT NULL DEFAULT 0,
  unchanged INTEGER NOT NULL DEFAULT 0,
  older INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0,
  duplicates INTEGER NOT NULL DEFAULT 0,
  seconds REAL NOT NULL DEFAULT 0,
  worker_peak_rss_bytes INTEGER NOT NULL DEFAULT 0
)""",
    ]


def _preferred(new: AppRow, old: tuple[Any, ...]) -> bool:
    """Whether ``new`` holds the app better than the stored copy ``(log, in_progress, end_ms, events)``."""
    old_log, old_in_progress, old_end, old_events = old
    new_rank = (new.end_ms is not None and not new.in_progress, new.events)
    old_rank = (old_end is not None and not old_in_progress, old_events)
    if new_rank != old_rank:
        return new_rank > old_rank
    return bool(new.log < old_log)


class FleetStore:
    """The state file at ``path`` (created when missing); one writer at a time."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            self._open()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a usable SQLite file: {exc}") from exc

    def _open(self) -> None:
        db = self._db
        version = db.execute("PRAGMA user_version").fetchone()[0]
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if version == 0 and tables == 0:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("BEGIN IMMEDIATE")
            for statement in _schema():
                db.execute(statement)
            db.execute("INSERT INTO meta VALUES ('created_ms', ?)", (str(int(time.time() * 1000)),))
            db.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("COMMIT")
        elif app_id != _APPLICATION_ID:
            raise StoreError(f"{self.path}: an SQLite file, but not a sparkprobe fleet state store")
        elif version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: state schema {version} is newer than this sparkprobe's ({SCHEMA_VERSION}): upgrade it"
            )
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    def __enter__(self) -> FleetStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------ runs
    def begin_run(self) -> int:
        """Record a run as started; returns its id."""
        cur = self._db.execute(
            "INSERT INTO runs (started_ms, status) VALUES (?, 'running')", (int(time.time() * 1000),)
        )
        return int(cur.lastrowid or 0)

    def end_run(self, run_id: int, counts: RunCounts) -> None:
        """Record a run's counts and how it ended (``completed`` or ``interrupted``)."""
        self._db.execute(
            "UPDATE runs SET finished_ms=?, status=?, found=?, analysed=?, unchanged=?, older=?, failed=?,"
            " duplicates=?, seconds=?, worker_peak_rss_bytes=? WHERE run_id=?",
            (
                int(time.time() * 1000), counts.status, counts.found, counts.analysed, counts.unchanged,
                counts.older, counts.failed, counts.duplicates, counts.seconds, counts.worker_peak_rss_bytes, run_id,
            ),
        )

    # ------------------------------------------------------------------------------------ logs
    def needs_read(self, identity: LogIdentity) -> str:
        """``new``, ``changed``, ``retry`` (it failed last time) or ``unchanged`` (skip it)."""
        found = self._db.execute(
            "SELECT size, mtime_ns, last_part, status FROM logs WHERE log=?", (identity.log,)
        ).fetchone()
        if found is None:
            return "new"
        if found[3] == "failed":
            return "retry"
        return "unchanged" if identity.same_state(found[0], found[1], found[2]) else "changed"

    def _upsert_log(
        self, identity: LogIdentity, run_id: int, status: str, error: str, key: tuple[str, str] | None, seconds: float
    ) -> None:
        failures = 1 if status == "failed" else 0
        self._db.execute(
            "INSERT INTO logs (log, size, mtime_ns, last_part, status, error, failures, app_id, attempt_id, run_id,"
            " read_at_ms, read_seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (log) DO UPDATE SET size=excluded.size, mtime_ns=excluded.mtime_ns,"
            " last_part=excluded.last_part, status=excluded.status, error=excluded.error,"
            " failures=CASE WHEN excluded.status='failed' THEN logs.failures + 1 ELSE 0 END,"
            " app_id=coalesce(excluded.app_id, logs.app_id), attempt_id=coalesce(excluded.attempt_id, logs.attempt_id),"
            " run_id=excluded.run_id, read_at_ms=excluded.read_at_ms, read_seconds=excluded.read_seconds",
            (
                identity.log, identity.size, identity.mtime_ns, identity.last_part, status, error, failures,
                key[0] if key else None, key[1] if key else None, run_id, int(time.time() * 1000), seconds,
            ),
        )

    def record_app(self, identity: LogIdentity, row: AppRow, run_id: int, seconds: float) -> str:
        """Store the app read from a log: ``stored``, ``replaced`` or ``duplicate``.

        ``replaced``: it displaced another log's copy of the same app (that log is now a duplicate);
        ``duplicate``: another log holds the app and is preferred (module docstring).
        """
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            old = db.execute(
                "SELECT log, in_progress, end_ms, events FROM apps WHERE app_id=? AND attempt_id=?", row.key
            ).fetchone()
            if old is not None and old[0] != row.log and not _preferred(row, old):
                self._upsert_log(identity, run_id, "duplicate", f"the same app as {old[0]}", row.key, seconds)
                db.execute("COMMIT")
                return "duplicate"
            replaced = old is not None and old[0] != row.log
            if replaced:
                db.execute(
                    "UPDATE logs SET status='duplicate', error=? WHERE log=?", (f"the same app as {row.log}", old[0])
                )
            values = row.encoded()
            names = [*COLUMNS, "run_id"]
            db.execute(
                f"INSERT OR REPLACE INTO apps ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                [*(values[c] for c in COLUMNS), run_id],
            )
            db.execute("DELETE FROM findings WHERE app_id=? AND attempt_id=?", row.key)
            db.executemany(
                "INSERT INTO findings VALUES (?, ?, ?, ?, ?)",
                [(*row.key, f["kind"], f["time_ms"], f["message"]) for f in row.findings],
            )
            self._upsert_log(identity, run_id, "ok", "", row.key, seconds)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return "replaced" if replaced else "stored"

    def record_failure(self, identity: LogIdentity, error: str, run_id: int, seconds: float = 0.0) -> None:
        """Store why a log could not be read; it is read again on the next run."""
        self._upsert_log(identity, run_id, "failed", error, None, seconds)

    def failures(self, run_id: int) -> list[tuple[str, str]]:
        """(log, error) of the logs that failed in run ``run_id``, by log."""
        return [
            (str(log), str(error))
            for log, error in self._db.execute(
                "SELECT log, error FROM logs WHERE status='failed' AND run_id=? ORDER BY log", (run_id,)
            )
        ]

    # ------------------------------------------------------------------------------------ apps
    def app_count(self) -> int:
        """Apps held."""
        return int(self._db.execute("SELECT count(*) FROM apps").fetchone()[0])

    def apps(self, *, by_name: bool = False) -> Iterator[AppRow]:
        """Every app held, one at a time: by (app id, attempt), or by (app name, start, app id, attempt)."""
        order = "app_name, start_ms, app_id, attempt_id" if by_name else "app_id, attempt_id"
        cur = self._db.execute(f"SELECT {', '.join(COLUMNS)} FROM apps ORDER BY {order}")
        names = list(COLUMNS)
        for values in cur:
            yield AppRow.decoded(dict(zip(names, values, strict=True)))

    def app(self, app_id: str, attempt_id: str = "") -> AppRow | None:
        """One app by its key, or None."""
        values = self._db.execute(
            f"SELECT {', '.join(COLUMNS)} FROM apps WHERE app_id=? AND attempt_id=?", (app_id, attempt_id)
        ).fetchone()
        return AppRow.decoded(dict(zip(COLUMNS, values, strict=True))) if values is not None else None

    def log_status(self, log: str) -> tuple[str, str] | None:
        """(status, error) of a log, or None when never read."""
        found = self._db.execute("SELECT status, error FROM logs WHERE log=?", (log,)).fetchone()
        return (str(found[0]), str(found[1])) if found is not None else None
