"""Copies of real event logs that are applications of their own: a new app id, every time shifted.

Used by the fleet tests and by benchmarks/fleet.py (its 2,000-app set). A copy keeps every line of
the original but two things: ``SparkListenerApplicationStart``'s ``App ID`` (the original's id
plus ``-c<n>``) and every event time (``Timestamp``, ``Submission Time``, ``Completion Time``,
``Launch Time``, ``Finish Time``, ``Getting Result Time``), moved by the same amount. Durations,
and so every figure but the start and end times, are the original's. Layouts are kept: a rolling
directory stays one (with zstd parts), a Databricks directory stays one, compressed files become
zstd files, a zip member becomes a plain file.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from pathlib import Path

import zstandard

from sparkprobe.sources.eventlog import LogSource

_APP_ID = re.compile(rb'("Event":"SparkListenerApplicationStart".*?"App ID":")([^"]*)(")')
_TIMES = re.compile(
    rb'"(Timestamp|Submission Time|Completion Time|Launch Time|Finish Time|Getting Result Time)":(\d{11,})'
)
_DAY_MS = 86_400_000


def _rewrite(line: bytes, suffix: str, shift_ms: int) -> bytes:
    line = _TIMES.sub(lambda m: b'"%s":%d' % (m.group(1), int(m.group(2)) + shift_ms), line)
    if line.startswith(b'{"Event":"SparkListenerApplicationStart"'):
        line = _APP_ID.sub(lambda m: m.group(1) + m.group(2) + suffix.encode() + m.group(3), line, count=1)
    return line


def _lines(source: LogSource, part_index: int) -> Iterator[bytes]:
    with source.parts[part_index].open() as stream:
        yield from stream


def app_id_of(source: LogSource) -> str:
    """The ``App ID`` of a log's ApplicationStart (empty when it has none)."""
    for i in range(len(source.parts)):
        for line in _lines(source, i):
            m = _APP_ID.search(line)
            if m:
                return m.group(2).decode()
    return ""


def copy_log(source: LogSource, dest: Path, n: int, shift_days: int | None = None) -> Path:
    """Write copy number ``n`` of ``source`` into directory ``dest``; returns the copy's path."""
    suffix = f"-c{n:05d}"
    shift = (n if shift_days is None else shift_days) * _DAY_MS
    base = re.sub(r"[^A-Za-z0-9._-]", "_", source.name.split(":")[-1])
    if source.layout == "rolling":
        app = base.removeprefix("eventlog_v2_") + suffix
        folder = dest / f"eventlog_v2_{app}"
        folder.mkdir(parents=True)
        for i in range(len(source.parts)):
            with (folder / f"events_{i + 1}_{app}.zstd").open("wb") as out, zstandard.ZstdCompressor().stream_writer(
                out
            ) as w:
                for line in _lines(source, i):
                    w.write(_rewrite(line, suffix, shift))
        if not source.in_progress:
            (folder / f"appstatus_{app}").write_bytes(b"")
        return folder
    if source.layout == "databricks":
        folder = dest / f"{base}{suffix}"
        folder.mkdir(parents=True)
        for i, part in enumerate(source.parts):
            data = b"".join(_rewrite(line, suffix, shift) for line in _lines(source, i))
            if part.path.name.endswith(".gz"):
                (folder / part.path.name).write_bytes(gzip.compress(data, mtime=0))
            else:
                (folder / part.path.name).write_bytes(data)
        return folder
    stem, in_progress = base.removesuffix(".inprogress"), source.in_progress
    compressed = any(codec != "plain" for codec in _codecs(source))
    for ext in (".zstd", ".zst", ".lz4", ".snappy", ".lzf", ".gz", ".zip", ".txt"):
        stem = stem.removesuffix(ext)
    name = f"{stem}{suffix}" + (".zstd" if compressed else "") + (".inprogress" if in_progress else "")
    path = dest / name
    dest.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        if compressed:
            with zstandard.ZstdCompressor().stream_writer(out) as w:
                for line in _lines(source, 0):
                    w.write(_rewrite(line, suffix, shift))
        else:
            for line in _lines(source, 0):
                out.write(_rewrite(line, suffix, shift))
    return path


def _codecs(source: LogSource) -> list[str]:
    with source.parts[0].open() as stream:
        return [stream.codec] if source.layout != "zip" else ["plain"]
