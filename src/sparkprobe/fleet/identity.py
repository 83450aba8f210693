"""A log's identity, the key of the state store: where it is, and what it looked like when read.

``log`` names the log (an absolute path; ``zip:member`` for a log inside a zip; a History Server
URL for a download). ``size``, ``mtime_ns`` and, for a log of several parts, ``last_part`` (the
name and size of its newest part) say whether it changed since it was read: a rerun reads again
only a log whose identity moved (a new log, an ``.inprogress`` log that grew, a rolling directory
with a new part).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sparkprobe.sources.eventlog import LogSource

__all__ = ["LogIdentity", "identity_of"]


@dataclass(frozen=True, slots=True)
class LogIdentity:
    """Where a log is (``log``) and its state when looked at (docs/fleet.md, "State store")."""

    log: str
    size: int
    mtime_ns: int
    last_part: str = ""

    def same_state(self, size: int, mtime_ns: int, last_part: str) -> bool:
        """True when the stored ``size``, ``mtime_ns`` and ``last_part`` are this identity's."""
        return (self.size, self.mtime_ns, self.last_part) == (size, mtime_ns, last_part)


def identity_of(source: LogSource) -> LogIdentity:
    """The identity of a discovered log, from the file system (raises OSError if a part vanished)."""
    location = os.path.abspath(source.location)
    if source.layout == "zip":
        st = os.stat(location)
        member = source.name.partition(":")[2]
        return LogIdentity(f"{location}:{member}", st.st_size, st.st_mtime_ns)
    if source.layout == "file":
        st = os.stat(location)
        return LogIdentity(location, st.st_size, st.st_mtime_ns)
    size = mtime = 0
    last = ""
    for part in source.parts:
        st = os.stat(part.path)
        size += st.st_size
        mtime = max(mtime, st.st_mtime_ns)
        last = f"{part.path.name}:{st.st_size}"
    if not source.parts:  # a rolling dir whose first part is not written yet
        mtime = os.stat(location).st_mtime_ns
    return LogIdentity(location, size, mtime, last)
