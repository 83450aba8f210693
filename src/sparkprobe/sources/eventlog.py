"""Read Spark event logs (offline) into the same typed records the live listener sends.

:func:`~sparkprobe.sources.discovery.discover` / :func:`~sparkprobe.sources.discovery.scan` turn
paths into :class:`LogSource` objects, one per application log (re-exported here).
:class:`LogReader` streams one source's records and counts what it read in :class:`ReadStats`.

Reading never fails on content: a line that is not JSON, not an object, or lacks a required field
is counted in ``bad_lines`` and skipped; unknown events are counted as ignored. Lines are read in
bounded memory: a line longer than :attr:`ReadLimits.max_line_bytes` is skipped to the next
newline and counted in ``too_long`` (docs/fleet.md, "Bad input"). Only I/O problems, an unreadable
codec (:class:`UnsupportedCodec`), undecodable compressed bytes (:class:`CorruptStream`) and a
decompression bomb (:class:`LimitExceeded`) raise. :func:`check_event_log` tells a log from a file
that holds no Spark application (:class:`NotAnEventLog`).

Speed: most lines of a big log are task events, and the biggest lines are SQL plans we ignore, so a
line whose ``{"Event":"<kind>"`` prefix names an ignored kind is skipped without being parsed, and
one of the hot kinds (tasks, stages, jobs, block updates) is decoded by :mod:`.logshapes` straight
into its records, skipping the fields nobody reads; whatever that path refuses takes the checked
path (orjson + :func:`~sparkprobe.sources.sparkjson.decode_records`), so the records and the
verdicts are the same either way.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from sparkprobe.events import EVENT_TYPES, Event
from sparkprobe.model import BadLineSample
from sparkprobe.sources.codecs import (
    DEFAULT_LIMITS,
    CorruptStream,
    DecodeLimits,
    EventLogError,
    LimitExceeded,
    UnsupportedCodec,
)
from sparkprobe.sources.discovery import Discovery, LogPart, LogSource, Problem, discover, scan
from sparkprobe.sources.logshapes import FAST_KINDS, fast_decode
from sparkprobe.sources.sparkjson import DECODED_KINDS, VERSION_KINDS, BadEvent, decode_records, spark_version

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "JSON_LIBRARY",
    "BadLineSample",
    "CorruptStream",
    "Discovery",
    "EventLogError",
    "LimitExceeded",
    "LogPart",
    "LogReader",
    "LogSource",
    "NotAnEventLog",
    "Problem",
    "ReadLimits",
    "ReadStats",
    "UnsupportedCodec",
    "check_event_log",
    "discover",
    "read_events",
    "scan",
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


# --- reading ------------------------------------------------------------------------------------

#: Longest line read whole, newline included (64 MiB): the biggest line of every shared real log is
#: 1 MB (a SQL plan, an ignored kind), so this leaves room for jobs of thousands of stages while a
#: line without a newline (a hostile or broken file) costs at most this much memory.
DEFAULT_MAX_LINE_BYTES: Final = 64 << 20
# Bytes read at a time while skipping the rest of a line that is too long.
_SKIP_CHUNK: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """Bounds on reading one log: the longest line, and the decoders' :class:`DecodeLimits`.

    A line longer than ``max_line_bytes`` (newline included) is skipped to the next newline without
    being held: counted in ``ReadStats.too_long`` (and in ``bad_lines``), or as ignored when its
    ``{"Event":"<kind>"`` prefix names a kind sparkprobe does not read.
    """

    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    decode: DecodeLimits = DEFAULT_LIMITS

    def __post_init__(self) -> None:
        if self.max_line_bytes < 1024:
            raise ValueError(f"max_line_bytes must be at least 1024, not {self.max_line_bytes}")


@dataclass(slots=True)
class ReadStats:
    """What reading one source saw; filled while :meth:`LogReader.events` runs.

    Every line is counted once: ``lines == blank_lines + events + ignored + bad_lines +
    truncated_last_line`` (``events``: lines that gave records; ``by_kind`` counts the records,
    and a line may give several: a TaskEnd and the executor metrics it carries, or a heartbeat's
    per-stage peaks). ``ignored`` holds lines that produce no record: kinds sparkprobe does not
    map (per kind in ``ignored_kinds``), ``LogStart``-type version events, and block updates of
    non-RDD blocks. ``too_long`` counts the bad lines skipped for passing
    :attr:`ReadLimits.max_line_bytes`. ``truncated_last_line`` is the cut final line of an
    in-progress log (not bad); ``truncated_stream`` says the compressed data itself stopped inside
    a block or frame. Byte counts are added as each part is finished.
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
    too_long: int = 0


class NotAnEventLog(EventLogError):
    """The file holds no Spark application: no Spark event at all, or no application start."""


def check_event_log(source: LogSource, stats: ReadStats, app_id: str) -> None:
    """Raise :class:`NotAnEventLog` unless reading ``source`` found an application.

    ``app_id`` is what the events named (``SparkListenerApplicationStart``'s ``App ID``). A file
    in which no line is a Spark event (random bytes, another program's JSON, an empty file) is not
    an event log; one with events but no application start (a log cut before Spark wrote it, a
    rolled part without its first file) names no application. Either way there is no app to
    report, rather than an app with an empty id.
    """
    if app_id:
        return
    seen = f"{stats.lines:,} lines, {stats.bad_lines:,} bad"
    if stats.too_long:
        seen += f", {stats.too_long:,} longer than the line limit"
    if stats.events == 0 and stats.ignored == 0:
        raise NotAnEventLog(f"not a Spark event log: no line is a Spark event ({seen})")
    pending = "; the log is in progress: read again when it grows" if source.in_progress else ""
    raise NotAnEventLog(
        f"no SparkListenerApplicationStart: the log names no application ({stats.events:,} events, {seen}){pending}"
    )


def _single_source(path: str | os.PathLike[str]) -> LogSource:
    found = discover([path])
    if len(found) != 1:
        raise ValueError(f"{path} holds {len(found)} logs, not one: use discover()")
    return found[0]


class LogReader:
    """Streams the records of one log; ``stats`` describes what was read so far.

    ``source`` is a :class:`LogSource` or a path holding exactly one log. With ``strict=True``
    lines of ignored kinds are parsed too, so malformed ones count as bad instead of ignored
    (slower; the default trusts the ``{"Event":"..."`` prefix of lines it skips). ``limits``
    bounds the memory one line and the decoders may take.
    """

    def __init__(
        self,
        source: LogSource | str | os.PathLike[str],
        *,
        strict: bool = False,
        limits: ReadLimits | None = None,
    ) -> None:
        self.source = source if isinstance(source, LogSource) else _single_source(source)
        self.strict = strict
        self.limits = limits or ReadLimits()
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

    def _too_long(self, part: LogPart, line_no: int, head: bytes, length: int) -> None:
        """A line past the cap, already skipped: ignored if its prefix says so, else bad."""
        if head.startswith(_PREFIX) and not self.strict:
            end = head.find(b'"', 10)
            if end > 0 and head[10:end] not in _WANTED:
                self.stats.ignored += 1
                self.stats.ignored_kinds[head[10:end].decode("utf-8", "replace")] += 1
                return
        self.stats.too_long += 1
        cap = self.limits.max_line_bytes
        self._bad(part, line_no, f"line longer than {cap:,} bytes (at least {length:,}): skipped to the next newline")

    def _read_part(self, part: LogPart, cut_ok: bool, version: list[str]) -> Iterator[Event]:
        stats = self.stats
        strict = self.strict
        by_kind = stats.by_kind
        ignored_kinds = stats.ignored_kinds
        cap = self.limits.max_line_bytes
        stream = part.open(self.limits.decode)
        readline = stream.readline
        stats.parts += 1
        stats.codecs.append(stream.codec)
        line_no = 0
        try:
            while line := readline(cap):
                line_no += 1
                stats.lines += 1
                terminated = line.endswith(b"\n")
                if not terminated and len(line) == cap:
                    skipped, terminated = _skip_line(readline)
                    if skipped:  # longer than the cap: never held whole
                        self._too_long(part, line_no, line[:256], cap + skipped)
                        continue
                if line.startswith(_PREFIX):
                    end = line.find(b'"', 10)
                    prefix_kind = line[10:end] if end > 0 else b""
                    if prefix_kind in FAST_KINDS:
                        records = fast_decode(prefix_kind, line)
                        if type(records) is tuple:  # else FALLBACK: the checked path below decides
                            if not records:
                                stats.ignored += 1
                                ignored_kinds[prefix_kind.decode()] += 1
                                continue
                            stats.events += 1
                            for event in records:
                                by_kind[_RECORD_KIND[type(event)]] += 1
                                yield event
                            continue
                    elif terminated and not strict and end > 0 and prefix_kind not in _WANTED:
                        stats.ignored += 1
                        ignored_kinds[prefix_kind.decode("utf-8", "replace")] += 1
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


def _skip_line(readline: Callable[[int], bytes]) -> tuple[int, bool]:
    """Skip to just past the next newline: (bytes skipped, whether a newline ended them)."""
    skipped = 0
    while chunk := readline(_SKIP_CHUNK):
        skipped += len(chunk)
        if chunk.endswith(b"\n"):
            return skipped, True
    return skipped, False


def read_events(source: LogSource | str | os.PathLike[str], *, limits: ReadLimits | None = None) -> Iterator[Event]:
    """Yield the records of one log (a :class:`LogSource` or a path holding one).

    Use :class:`LogReader` to get the read statistics too.
    """
    return LogReader(source, limits=limits).events()
