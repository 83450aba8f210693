"""The bounded log of an app's findings (pure: the analyzer's ledgers write here, exporters read)."""

from __future__ import annotations

from dataclasses import replace

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

    def idle_stretch_ended(self, exec_id: str, since: int, end: int) -> None:
        """The idle stretch of ``exec_id`` since ``since`` that made a finding ended at ``end``.

        The kept finding gains ``idle_until_ms``, so a report can say how long the stretch lasted
        (the timeline may have dropped its short segments). The finding was logged at the
        threshold crossing already; only the report's copy changes.
        """
        for i in range(len(self.kept) - 1, -1, -1):
            f = self.kept[i]
            if (
                f.kind == FindingKind.IDLE_EXECUTOR
                and f.details.get("exec_id") == exec_id
                and f.details.get("idle_since_ms") == since
            ):
                self.kept[i] = replace(f, details={**f.details, "idle_until_ms": end})
                return

    def take_new(self) -> list[Finding]:
        """Findings made since the last call (for exporters that log them as they happen)."""
        new, self._new = self._new, []
        return new
