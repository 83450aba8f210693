"""The bounded log of an app's findings (pure: the analyzer's ledgers write here, exporters read)."""

from __future__ import annotations

from sparkprobe.model import DetailValue, Finding, FindingKind

__all__ = ["MAX_FINDINGS", "FindingLog"]

#: How many findings an app keeps in full; older ones are dropped (their count is kept by kind).
MAX_FINDINGS = 500


class FindingLog:
    """The last :data:`MAX_FINDINGS` findings, every finding's count by kind, and the ones not yet taken."""

    def __init__(self) -> None:
        self.kept: list[Finding] = []
        self.by_kind: dict[FindingKind, int] = {}
        self._new: list[Finding] = []

    def add(self, kind: FindingKind, time: int, message: str, **details: DetailValue) -> None:
        """Record a finding made at event time ``time``."""
        finding = Finding(kind, time, message, details)
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
        self.kept.append(finding)
        if len(self.kept) > MAX_FINDINGS:
            del self.kept[0]
        self._new.append(finding)

    def take_new(self) -> list[Finding]:
        """Findings made since the last call (for exporters that log them as they happen)."""
        new, self._new = self._new, []
        return new
