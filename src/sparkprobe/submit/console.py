"""Everything ``sparkprobe submit`` writes to stderr: findings, the live status row, its log lines."""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime, timezone
from typing import Any, TextIO

from sparkprobe.model import AppReport, Finding
from sparkprobe.outputs.report import format_bytes

__all__ = ["Console", "LineWriter", "finding_json", "finding_line", "now_iso", "status_text"]

def now_iso() -> str:
    """The wall clock now, ISO 8601 in UTC (log lines only; figures use event time)."""
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


class Console:
    """Everything sparkprobe writes to stderr, serialized; on a terminal, the live status row.

    The status lives on the terminal's last row, outside a scrolling region that covers the rows
    above it (DECSTBM, as apt's progress bar does): whatever the application writes to the same
    terminal, on stdout or stderr, scrolls above it and can neither overwrite it nor be
    overwritten. Each redraw is one ``write()`` (save cursor, draw, restore cursor), so it cannot
    interleave with the child's writes. Not used when ``TERM`` is unset or ``dumb``.
    """

    def __init__(self, stream: TextIO, tty: bool | None = None, term: str | None = None) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        term = os.environ.get("TERM", "") if term is None else term
        self.live = self.tty and term not in ("", "dumb")
        self.lock = threading.RLock()
        self._rows = 0  # terminal rows the status area was set up for; 0: no status area

    def line(self, text: str) -> None:
        """Write one line (or a block of lines)."""
        with self.lock:
            self.stream.write(text + "\n")
            self.stream.flush()

    def event(self, event: str, text: str, level: str = "info", **fields: Any) -> None:
        """Write a message: ``sparkprobe: text`` on a terminal, a JSON object otherwise."""
        if self.tty:
            self.line(f"sparkprobe: {text}")
        else:
            doc = {"event": event, "message": text, **fields, "level": level, "timestamp": now_iso()}
            self.line(json.dumps(doc, default=str))

    def _size(self) -> os.terminal_size | None:
        try:
            return os.get_terminal_size(self.stream.fileno())
        except (AttributeError, OSError, ValueError):
            return None

    def _raw(self, text: str) -> None:
        self.stream.flush()
        try:
            os.write(self.stream.fileno(), text.encode("utf-8", errors="replace"))
        except (AttributeError, OSError, ValueError):
            self.stream.write(text)
            self.stream.flush()

    def _set_region(self, rows: int) -> None:
        # A newline first, so the line the cursor is on is not left under the status row.
        self._raw(f"\n\x1b7\x1b[1;{rows - 1}r\x1b8\x1b[1A")
        self._rows = rows

    def start_status(self) -> None:
        """Reserve the terminal's last row for the status (terminal only)."""
        if not self.live:
            return
        size = self._size()
        if size is None or size.lines < 3:
            return
        with self.lock:
            self._set_region(size.lines)

    def status(self, text: str) -> None:
        """Show ``text`` on the status row, cut to the terminal's width."""
        if not self._rows:
            return
        size = self._size()
        if size is None or size.lines < 3:
            return
        with self.lock:
            if size.lines != self._rows:  # resized: move the region's bottom
                self._set_region(size.lines)
            width = max(10, size.columns - 1)
            if len(text) > width:
                text = text[: width - 3] + "..."
            self._raw(f"\x1b7\x1b[{self._rows};1H\x1b[2K{text}\x1b8")

    def stop_status(self) -> None:
        """Give the whole terminal back and blank the status row."""
        with self.lock:
            if not self._rows:
                return
            self._raw(f"\x1b7\x1b[r\x1b8\x1b7\x1b[{self._rows};1H\x1b[2K\x1b8")
            self._rows = 0


class LineWriter:
    """A text stream for structlog that hands whole lines to the console."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._buf = ""

    def write(self, text: str) -> int:
        """Buffer ``text``; emit every completed line."""
        self._buf += text
        while "\n" in self._buf:
            line, self._buf = self._buf.split("\n", 1)
            self.console.line(line)
        return len(text)

    def flush(self) -> None:
        """Nothing to do: lines are emitted as they complete."""

    def isatty(self) -> bool:
        """Whether the console is a terminal (picks structlog's renderer)."""
        return self.console.tty


def finding_line(app_id: str, app_name: str, finding: Finding) -> str:
    """A finding as one readable line (on a terminal)."""
    label = app_name or app_id or "?"
    return f"sparkprobe: {finding.kind.value}: {finding.message} [{label}]"


def finding_json(app_id: str, app_name: str, finding: Finding) -> str:
    """A finding as one JSON object (not on a terminal)."""
    doc: dict[str, Any] = {"event": finding.kind.value, "app_id": app_id, "app_name": app_name}
    doc.update((k, v) for k, v in finding.to_json().items() if k != "kind")
    doc["level"] = "warning"
    doc["timestamp"] = now_iso()
    return json.dumps(doc, default=str)


def status_text(report: AppReport | None) -> str:
    """The live status row for this app's headline report (or the wait before the first one)."""
    if report is None:
        return "sparkprobe | waiting for the Spark driver to connect..."
    k, t = report.cache, report.tasks
    name = report.app_name or report.app_id or "?"
    return (
        f"sparkprobe | {name}{'' if report.running else ' (ended)'}"
        f" | executors {report.executors_active} active, {report.executors_idle} idle"
        f" | cached {format_bytes(k.memory_bytes + k.disk_bytes)}"
        f" | lost {k.lost_blocks} blocks ({format_bytes(k.lost_bytes)})"
        f" | tasks {t.running} running, {t.success} done"
    )
