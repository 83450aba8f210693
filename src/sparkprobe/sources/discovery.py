"""Find the application logs under paths: :func:`scan` (problems reported) and :func:`discover`.

A log comes in whatever shape Spark (or a platform) gave it: a single file (plain or compressed,
``.inprogress`` or not), a rolling ``eventlog_v2_*`` directory, a Databricks ``eventlog`` +
``eventlog-<date>.gz`` directory, a Spark 1.x ``EVENT_LOG_1`` directory, a zip of logs (the History
Server's ``/logs`` download), or a directory holding any of these.

A directory tree is not trusted: an unreadable file or directory, a broken symlink, a symlink loop
or a corrupt zip is a :class:`Problem` of the scan, reported beside the logs found, and the scan
goes on (docs/fleet.md, "Bad input"). :func:`discover` is the strict form: it raises the first.
"""

from __future__ import annotations

import errno
import os
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from sparkprobe.sources.codecs import (
    DEFAULT_LIMITS,
    DecodedStream,
    DecodeLimits,
    codec_from_name,
    open_stream,
    sniff_codec,
    zip_members,
)

__all__ = ["Discovery", "LogPart", "LogSource", "Problem", "discover", "scan"]

_BLANK: Final = b" \t\r\n"


@dataclass(frozen=True, slots=True)
class LogPart:
    """One file of a log: ``path``, or the zip member ``member`` of the zip at ``path``."""

    path: Path
    member: str | None = None

    @property
    def name(self) -> str:
        """Display name: the file name, or ``zipname:member``."""
        return self.path.name if self.member is None else f"{self.path.name}:{self.member}"

    def open(self, limits: DecodeLimits = DEFAULT_LIMITS) -> DecodedStream:
        """Open this part as a stream of decompressed bytes."""
        return open_stream(self.path, self.member, limits=limits)


@dataclass(frozen=True, slots=True)
class LogSource:
    """One application's event log: its parts in reading order.

    ``layout`` is ``file``, ``rolling`` (``eventlog_v2_*``), ``databricks``, ``legacy`` (Spark 1.x
    ``EVENT_LOG_*`` directory) or ``zip`` (a member of a zip). ``in_progress`` is true for a log
    Spark had not finished writing (``.inprogress`` name, rolling dir without a final ``appstatus``
    file, legacy dir without ``APPLICATION_COMPLETE``): a running or crashed app, whose last line
    may be cut.
    """

    name: str
    parts: tuple[LogPart, ...]
    in_progress: bool
    layout: str = "file"

    @property
    def location(self) -> Path:
        """The file or directory that holds the log (for a zip member: the zip)."""
        first = self.parts[0].path if self.parts else Path(self.name)
        if self.layout in ("rolling", "databricks", "legacy"):
            return first.parent
        return first


@dataclass(frozen=True, slots=True)
class Problem:
    """A path the scan could not use: why, in words (``error``), and the exception (``exc``)."""

    path: str
    error: str
    exc: Exception = field(compare=False, repr=False)


@dataclass(slots=True)
class Discovery:
    """What :func:`scan` found: the logs, and the paths it could not read."""

    sources: list[LogSource] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


_EVENTS_FILE: Final = re.compile(r"events_(\d+)_")
_DATABRICKS_ROLLED: Final = re.compile(r"eventlog-\d{4}-\d\d-\d\d--\d\d-\d\d(\.[A-Za-z0-9]+)?")
_LEGACY_FILE: Final = re.compile(r"EVENT_LOG_(\d+)")


def _visible(names: Iterable[str]) -> list[str]:
    # Hidden files include the ".<name>.crc" checksums Hadoop's local file system writes.
    return sorted(n for n in names if not n.startswith(".") and not n.startswith("__MACOSX"))


def _rolling_parts(names: Iterable[str]) -> tuple[list[str], bool]:
    """Event files of a rolling dir in index order, and whether the app is still in progress."""
    indexed: list[tuple[int, str]] = []
    completed = False
    for n in names:
        m = _EVENTS_FILE.match(n)
        if m:
            indexed.append((int(m.group(1)), n))
        elif n.startswith("appstatus_") and not n.endswith(".inprogress"):
            completed = True
    return [n for _, n in sorted(indexed)], not completed


def _is_databricks(names: list[str]) -> bool:
    return "eventlog" in names and all(n == "eventlog" or _DATABRICKS_ROLLED.fullmatch(n) for n in names)


def _databricks_parts(names: list[str]) -> list[str]:
    # Rolled parts carry their start time in the name, so name order is time order; the live
    # "eventlog" file holds the newest events.
    return [*sorted(n for n in names if n != "eventlog"), "eventlog"]


def _dir_source(d: Path) -> LogSource | None:
    """Return the log a directory *is* (rolling, Databricks or legacy layout), or None."""
    names = _visible(p.name for p in d.iterdir() if p.is_file())
    if d.name.startswith("eventlog_v2_"):
        parts, in_progress = _rolling_parts(names)
        return LogSource(d.name, tuple(LogPart(d / n) for n in parts), in_progress, "rolling")
    if _is_databricks(names):
        parts = _databricks_parts(names)
        return LogSource(d.name, tuple(LogPart(d / n) for n in parts), False, "databricks")
    legacy = sorted((int(m.group(1)), n) for n in names if (m := _LEGACY_FILE.fullmatch(n)) is not None)
    if legacy:
        complete = "APPLICATION_COMPLETE" in names
        parts_l = tuple(LogPart(d / n) for _, n in legacy)
        return LogSource(d.name, parts_l, not complete, "legacy")
    return None


def _looks_like_log(path: Path) -> bool:
    """For directory scans: skip READMEs, scripts and other files that are not event logs."""
    if path.name.startswith("appstatus_"):
        return False
    if codec_from_name(path.name) is not None:
        return True
    with path.open("rb") as f:
        head = f.read(16)
    if not head:
        return path.name.endswith(".inprogress")  # a log Spark has just created
    return sniff_codec(head) is not None or head.lstrip(_BLANK)[:1] in (b"{", b"")


def _zip_sources(path: Path) -> list[LogSource]:
    members = [m for m in zip_members(path) if not Path(m).name.startswith(".")]
    members = [m for m in members if not m.startswith("__MACOSX/")]
    rolling: dict[str, list[str]] = {}
    sources: list[LogSource] = []
    for m in members:
        parent, _, base = m.rpartition("/")
        if parent.rpartition("/")[2].startswith("eventlog_v2_"):
            rolling.setdefault(parent, []).append(base)
        elif not base.startswith("appstatus_"):
            sources.append(LogSource(f"{path.name}:{m}", (LogPart(path, m),), m.endswith(".inprogress"), "zip"))
    for parent, names in rolling.items():
        parts, in_progress = _rolling_parts(names)
        sources.append(
            LogSource(
                f"{path.name}:{parent}",
                tuple(LogPart(path, f"{parent}/{n}") for n in parts),
                in_progress,
                "zip",
            )
        )
    return sources


def _file_sources(path: Path) -> list[LogSource]:
    with path.open("rb") as f:
        head = f.read(16)
    if sniff_codec(head) == "zip":
        return _zip_sources(path)
    return [LogSource(path.name, (LogPart(path),), path.name.endswith(".inprogress"))]


def _why(exc: Exception) -> str:
    """The reason a path could not be used, in the words a person expects."""
    if isinstance(exc, OSError):
        if exc.errno == errno.ELOOP:
            return "symlink loop (too many levels of symbolic links)"
        if exc.errno in (errno.EACCES, errno.EPERM):
            return "permission denied"
        if exc.errno == errno.ENOENT:
            return "no such file or directory"
        return exc.strerror or str(exc)
    if isinstance(exc, zipfile.BadZipFile):
        return f"corrupt zip: {exc}"
    return str(exc)


class _Scanner:
    """One scan: the logs, the problems, and the real directories already entered (loops)."""

    def __init__(self, max_depth: int | None) -> None:
        self.max_depth = max_depth
        self.found = Discovery()
        self._seen_dirs: set[tuple[int, int]] = set()

    def problem(self, path: Path, exc: Exception, why: str | None = None) -> None:
        self.found.problems.append(Problem(str(path), why or _why(exc), exc))

    def file(self, p: Path, *, named: bool) -> None:
        try:
            if named or _looks_like_log(p):
                self.found.sources.extend(_file_sources(p))
        except (OSError, zipfile.BadZipFile) as exc:
            self.problem(p, exc)

    def directory(self, d: Path, depth: int, chain: tuple[tuple[int, int], ...] = ()) -> None:
        try:
            st = d.stat()
            key = (st.st_dev, st.st_ino)
            if key in chain:
                loop = OSError(errno.ELOOP, "symlink loop")
                self.problem(d, loop, f"symlink loop: {d} leads back to a directory being scanned")
                return
            if key in self._seen_dirs:
                return  # the same directory reached by a second path: its logs are already found
            self._seen_dirs.add(key)
            own = _dir_source(d)
            if own is not None:
                self.found.sources.append(own)
                return
            names = _visible(os.listdir(d))
        except OSError as exc:
            self.problem(d, exc)
            return
        for name in names:
            self.entry(d / name, depth, (*chain, key))

    def entry(self, p: Path, depth: int, chain: tuple[tuple[int, int], ...]) -> None:
        try:
            p.stat()  # follows symlinks: a loop or a dangling link raises here
        except OSError as exc:
            if exc.errno == errno.ENOENT and p.is_symlink():
                self.problem(p, exc, f"broken symlink to {os.readlink(p)}")
            else:
                self.problem(p, exc)
            return
        if p.is_dir():
            try:
                sub = _dir_source(p)
            except OSError as exc:
                self.problem(p, exc)
                return
            if sub is not None:
                self.found.sources.append(sub)
            elif self.max_depth is None or depth < self.max_depth:
                self.directory(p, depth + 1, chain)
        elif p.is_file():
            self.file(p, named=False)


def scan(paths: Iterable[str | os.PathLike[str]], *, max_depth: int | None = 1) -> Discovery:
    """Find the application logs under ``paths``, and every path that could not be read.

    A path may be a log file (any codec, ``.inprogress`` included), a zip (each member or
    ``eventlog_v2_*`` folder inside is one log), a log directory (rolling ``eventlog_v2_*``,
    Databricks, Spark 1.x), or a directory of such logs, scanned ``max_depth`` levels of plain
    sub-directories deep (None: all, each real directory once, loops reported). Files in a scanned
    directory that do not look like logs (README, scripts, checksums) are skipped; files named
    explicitly are always taken.
    """
    scanner = _Scanner(max_depth)
    for raw in paths:
        p = Path(raw)
        try:
            p.stat()
        except OSError as exc:
            scanner.problem(p, exc)
            continue
        if p.is_dir():
            scanner.directory(p, 0)
        elif p.is_file():
            scanner.file(p, named=True)
        else:
            scanner.problem(p, OSError(errno.EINVAL, "not a file or directory"), "not a regular file or directory")
    return scanner.found


def discover(paths: Iterable[str | os.PathLike[str]]) -> list[LogSource]:
    """The logs under ``paths`` as :func:`scan` finds them (one level deep); raises the first problem.

    A path that does not exist raises FileNotFoundError; an unreadable one PermissionError.
    """
    found = scan(paths, max_depth=1)
    if found.problems:
        first = found.problems[0]
        if isinstance(first.exc, FileNotFoundError):
            raise FileNotFoundError(f"no such event log: {first.path}")
        raise first.exc
    return found.sources
