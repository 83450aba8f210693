"""Read Spark event logs (offline) into the same typed records the live listener sends.

``discover`` turns paths into :class:`LogSource` objects, one per application log, whatever shape
Spark (or a platform) gave it: a single file (plain or compressed, ``.inprogress`` or not), a
rolling ``eventlog_v2_*`` directory, a Databricks ``eventlog`` + ``eventlog-<date>.gz`` directory,
a Spark 1.x ``EVENT_LOG_1`` directory, a zip of logs (the History Server's ``/logs`` download), or
a directory holding any of these. :class:`LogReader` streams one source's records and counts what
it read in :class:`ReadStats`.

Reading never fails on content: a line that is not JSON, not an object, or lacks a required field
is counted in ``bad_lines`` and skipped; unknown events are counted as ignored. Only I/O problems,
an unreadable codec (:class:`UnsupportedCodec`) and undecodable compressed bytes
(:class:`CorruptStream`) raise.

Speed: most lines of a big log are task events, and the biggest lines are SQL plans we ignore, so a
line whose ``{"Event":"<kind>"`` prefix names an ignored kind is skipped without being parsed.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from sparkprobe.events import EVENT_TYPES, Event
from sparkprobe.model import BadLineSample
from sparkprobe.sources.codecs import (
    CorruptStream,
    DecodedStream,
    EventLogError,
    UnsupportedCodec,
    codec_from_name,
    open_stream,
    sniff_codec,
    zip_members,
)
from sparkprobe.sources.sparkjson import DECODED_KINDS, VERSION_KINDS, BadEvent, decode_records, spark_version

__all__ = [
    "JSON_LIBRARY",
    "BadLineSample",
    "CorruptStream",
    "EventLogError",
    "LogPart",
    "LogReader",
    "LogSource",
    "ReadStats",
    "UnsupportedCodec",
    "discover",
    "read_events",
]

try:  # orjson reads Spark logs 1.6-2.2x faster than json (docs/event-mapping.md, "Speed")
    import orjson

    _fast_loads: Callable[[bytes], Any] = orjson.loads
    #: The JSON parser in use: ``"orjson"`` when installed, else ``"json"``.
    JSON_LIBRARY: Final[str] = "orjson"
except ImportError:  # pragma: no cover - exercised only without orjson
    _fast_loads = json.loads
    JSON_LIBRARY = "json"  # type: ignore[misc]

_RECORD_KIND: Final[dict[type, str]] = {cls: kind for kind, cls in EVENT_TYPES.items()}
_PREFIX: Final = b'{"Event":"'
_WANTED: Final[frozenset[bytes]] = frozenset(k.encode() for k in DECODED_KINDS | VERSION_KINDS)
_BLANK: Final = b" \t\r\n"
_MAX_BAD_SAMPLES: Final = 10


def _loads(line: bytes) -> Any:
    """Parse one line; orjson first, json when orjson refuses.

    json accepts a few things orjson does not (integers beyond 64 bits, NaN, lone surrogates), and
    the verdict on a line must not depend on which library happens to be installed.
    """
    try:
        return _fast_loads(line)
    except ValueError:
        if _fast_loads is json.loads:
            raise
        return json.loads(line)


# --- sources ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogPart:
    """One file of a log: ``path``, or the zip member ``member`` of the zip at ``path``."""

    path: Path
    member: str | None = None

    @property
    def name(self) -> str:
        """Display name: the file name, or ``zipname:member``."""
        return self.path.name if self.member is None else f"{self.path.name}:{self.member}"

    def open(self) -> DecodedStream:
        """Open this part as a stream of decompressed bytes."""
        return open_stream(self.path, self.member)


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


def _scan(d: Path, depth: int) -> list[LogSource]:
    own = _dir_source(d)
    if own is not None:
        return [own]
    sources: list[LogSource] = []
    for name in _visible(os.listdir(d)):
        p = d / name
        if p.is_dir():
            sub = _dir_source(p)
            if sub is not None:
                sources.append(sub)
            elif depth == 0:  # one level of plain sub-directories (e.g. one folder per cluster)
                sources.extend(_scan(p, depth + 1))
        elif p.is_file() and _looks_like_log(p):
            sources.extend(_file_sources(p))
    return sources


def discover(paths: Iterable[str | os.PathLike[str]]) -> list[LogSource]:
    """Find the application logs under ``paths``, one :class:`LogSource` per application.

    A path may be a log file (any codec, ``.inprogress`` included), a zip (each member or
    ``eventlog_v2_*`` folder inside is one log), a log directory (rolling ``eventlog_v2_*``,
    Databricks, Spark 1.x), or a directory of such logs, scanned one level deep; files in a scanned
    directory that do not look like logs (README, scripts, checksums) are skipped. Files named
    explicitly are always taken. Raises FileNotFoundError for a path that does not exist.
    """
    sources: list[LogSource] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            sources.extend(_scan(p, 0))
        elif p.is_file():
            sources.extend(_file_sources(p))
        else:
            raise FileNotFoundError(f"no such event log: {p}")
    return sources


# --- reading ------------------------------------------------------------------------------------


@dataclass(slots=True)
class ReadStats:
    """What reading one source saw; filled while :meth:`LogReader.events` runs.

    Every line is counted once: ``lines == blank_lines + events + ignored + bad_lines +
    truncated_last_line`` (``events``: lines that gave records; ``by_kind`` counts the records,
    and a line may give several: a TaskEnd and the executor metrics it carries, or a heartbeat's
    per-stage peaks). ``ignored`` holds lines that produce no record: kinds sparkprobe does not
    map (per kind in ``ignored_kinds``), ``LogStart``-type version events, and block updates of
    non-RDD blocks. ``truncated_last_line`` is the cut final line of an in-progress log (not bad);
    ``truncated_stream`` says the compressed data itself stopped inside a block or frame. Byte
    counts are added as each part is finished.
    """

    lines: int = 0
    blank_lines: int = 0
    events: int = 0
    ignored: int = 0
    bad_lines: int = 0
    truncated_last_line: bool = False
    truncated_stream: bool = False
    bytes_compressed: int = 0
    bytes_decompressed: int = 0
    parts: int = 0
    codecs: list[str] = field(default_factory=list)
    by_kind: Counter[str] = field(default_factory=Counter)
    ignored_kinds: Counter[str] = field(default_factory=Counter)
    bad_samples: list[BadLineSample] = field(default_factory=list)


def _single_source(path: str | os.PathLike[str]) -> LogSource:
    found = discover([path])
    if len(found) != 1:
        raise ValueError(f"{path} holds {len(found)} logs, not one: use discover()")
    return found[0]


class LogReader:
    """Streams the records of one log; ``stats`` describes what was read so far.

    ``source`` is a :class:`LogSource` or a path holding exactly one log. With ``strict=True``
    lines of ignored kinds are parsed too, so malformed ones count as bad instead of ignored
    (slower; the default trusts the ``{"Event":"..."`` prefix of lines it skips).
    """

    def __init__(self, source: LogSource | str | os.PathLike[str], *, strict: bool = False) -> None:
        self.source = source if isinstance(source, LogSource) else _single_source(source)
        self.strict = strict
        self.stats = ReadStats()

    def __iter__(self) -> Iterator[Event]:
        return self.events()

    def events(self) -> Iterator[Event]:
        """Yield the log's records in file order (resets ``stats`` when iteration starts)."""
        self.stats = ReadStats()
        version = [""]  # the Spark version of the last LogStart; carried across parts
        last = len(self.source.parts) - 1
        for i, part in enumerate(self.source.parts):
            cut_ok = self.source.in_progress and i == last
            yield from self._read_part(part, cut_ok, version)

    def _bad(self, part: LogPart, line_no: int, reason: str) -> None:
        stats = self.stats
        stats.bad_lines += 1
        if len(stats.bad_samples) < _MAX_BAD_SAMPLES:
            stats.bad_samples.append(BadLineSample(part.name, line_no, reason))

    def _read_part(self, part: LogPart, cut_ok: bool, version: list[str]) -> Iterator[Event]:
        stats = self.stats
        strict = self.strict
        by_kind = stats.by_kind
        ignored_kinds = stats.ignored_kinds
        stream = part.open()
        stats.parts += 1
        stats.codecs.append(stream.codec)
        line_no = 0
        try:
            for line in stream:
                line_no += 1
                stats.lines += 1
                terminated = line.endswith(b"\n")
                if line.startswith(_PREFIX) and terminated and not strict:
                    end = line.find(b'"', 10)
                    if end > 0 and line[10:end] not in _WANTED:
                        stats.ignored += 1
                        ignored_kinds[line[10:end].decode("utf-8", "replace")] += 1
                        continue
                elif line[:1] in _BLANK and not line.strip(_BLANK):
                    stats.blank_lines += 1
                    continue
                try:
                    obj = _loads(line)
                except (ValueError, RecursionError) as exc:
                    if not terminated and cut_ok:
                        stats.truncated_last_line = True
                    else:
                        self._bad(part, line_no, f"not JSON: {exc}")
                    continue
                if not isinstance(obj, dict):
                    self._bad(part, line_no, f"not a JSON object: {type(obj).__name__}")
                    continue
                kind = obj.get("Event")
                if not isinstance(kind, str):
                    self._bad(part, line_no, '"Event" missing or not a string')
                    continue
                if kind in VERSION_KINDS:
                    version[0] = spark_version(obj)
                    stats.ignored += 1
                    ignored_kinds[kind] += 1
                    continue
                try:
                    records = decode_records(obj, spark_version=version[0])
                except BadEvent as exc:
                    self._bad(part, line_no, f"{kind}: {exc}")
                    continue
                if not records:
                    stats.ignored += 1
                    ignored_kinds[kind] += 1
                    continue
                stats.events += 1
                for event in records:
                    by_kind[_RECORD_KIND[type(event)]] += 1
                    yield event
        finally:
            stats.bytes_compressed += stream.compressed_bytes
            stats.bytes_decompressed += stream.decompressed_bytes
            stats.truncated_stream = stats.truncated_stream or stream.truncated
            stream.close()


def read_events(source: LogSource | str | os.PathLike[str]) -> Iterator[Event]:
    """Yield the records of one log (a :class:`LogSource` or a path holding one).

    Use :class:`LogReader` to get the read statistics too.
    """
    return LogReader(source).events()
