"""An app's findings grouped for people: one group per kind, and per removal cause for cache loss.

A 32-executor app makes dozens of ``idle_executor`` findings, one per idle stretch; what a reader
wants is how many, how much in all, the worst one and when. The text report
(:func:`sparkprobe.outputs.report.format_text`) and the HTML report read the same groups, so they
agree. What each group adds up (docs/html-report.md, "Findings"):

- ``idle_executor``: the idle time past the threshold of the stretches found; the worst is the
  longest stretch. A stretch runs from the finding's ``idle_since_ms`` to the finding's
  ``idle_until_ms`` if it has one, to the end of the data while still open, else to the end of the
  contiguous timeline segments from there, on lanes that never dropped short segments only; what
  cannot be measured is said so, never guessed (docs/decisions.md, 20).
- ``cache_lost`` (per cause): blocks and bytes lost; the worst is the removal that lost most bytes.
- ``uncached_reuse``: the task time of the repeats (the report's ``uncached_reuse``, by callsite).
- ``idle_share``: no total (shares do not add); the worst is the highest share.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from sparkprobe.model import AppReport, ExecutorReport, Finding, FindingKind, IdleSegment
from sparkprobe.outputs.units import format_bytes, format_duration, format_offset

__all__ = ["FindingGroup", "group_findings"]


@dataclass(frozen=True, slots=True)
class FindingGroup:
    """Findings of one kind (and one removal cause for ``cache_lost``), in time order."""

    kind: FindingKind
    #: The removal cause of a ``cache_lost`` group (``dynamic_allocation``...); "" for other kinds.
    cause: str
    findings: tuple[Finding, ...]
    #: What the group adds up to, said for people ("12 min 00 s idle past the threshold"); "" if nothing adds.
    total: str
    #: The worst finding of the group.
    worst: Finding
    #: The worst one, said for people ("executor 8: 12 min 00 s idle").
    worst_text: str
    #: Some figure of the group is a lower bound: the data does not hold every idle stretch's end.
    at_least: bool = False
    #: What ``worst_text`` names: "worst", or "most often" when no stretch could be measured.
    worst_label: str = "worst"

    @property
    def count(self) -> int:
        """How many findings the group holds."""
        return len(self.findings)

    @property
    def first_ms(self) -> int:
        """Event time of the group's first finding."""
        return self.findings[0].time_ms

    @property
    def last_ms(self) -> int:
        """Event time of the group's last finding."""
        return self.findings[-1].time_ms

    @property
    def label(self) -> str:
        """The kind, with the cause for cache loss: ``cache_lost (dynamic_allocation)``."""
        return f"{self.kind.value} ({self.cause})" if self.cause else self.kind.value

    def when(self, start_ms: int) -> str:
        """``+1m02s … +15m30s`` from the app's start (one offset when both read the same)."""
        first, last = format_offset(self.first_ms - start_ms), format_offset(self.last_ms - start_ms)
        return first if first == last else f"{first} … {last}"

    def headline(self) -> str:
        """What the group is, counted: ``136 idle stretches past 60s, on 31 executors``."""
        n = self.count
        execs = {_text(f, "exec_id") for f in self.findings} - {""}
        on = f", on {len(execs)} executor{_s(len(execs))}" if execs and self.kind != FindingKind.CACHE_LOST else ""
        if self.kind == FindingKind.IDLE_EXECUTOR:
            thresholds = {f.time_ms - _int(f, "idle_since_ms") for f in self.findings}
            past = f" past {max(thresholds) / 1000:g}s" if len(thresholds) == 1 else ""
            return f"{n} idle stretch{'es' if n != 1 else ''}{past}{on}"
        if self.kind == FindingKind.CACHE_LOST:
            return f"{n} removal{_s(n)} lost cached blocks"
        if self.kind == FindingKind.UNCACHED_REUSE:
            return f"{n} lineage{_s(n)} computed again without a cache"
        return f"{n} finding{_s(n)}"


def group_findings(report: AppReport) -> tuple[FindingGroup, ...]:
    """The report's findings (those kept) grouped by kind, and by cause for ``cache_lost``.

    Groups come in the order of their first finding; each holds its findings in time order.
    """
    buckets: dict[tuple[FindingKind, str], list[Finding]] = {}
    for f in sorted(report.findings, key=lambda f: f.time_ms):
        cause = _text(f, "cause") if f.kind == FindingKind.CACHE_LOST else ""
        buckets.setdefault((f.kind, cause), []).append(f)
    stretches = _Stretches(report)
    groups: list[FindingGroup] = []
    for (kind, cause), items in buckets.items():
        findings = tuple(items)
        if kind == FindingKind.IDLE_EXECUTOR:
            groups.append(_idle_group(findings, stretches))
        elif kind == FindingKind.CACHE_LOST:
            groups.append(_loss_group(findings, cause))
        elif kind == FindingKind.UNCACHED_REUSE:
            groups.append(_reuse_group(findings, report))
        elif kind == FindingKind.IDLE_SHARE:
            worst = max(findings, key=lambda f: _float(f, "idle_share"))
            groups.append(FindingGroup(kind, "", findings, "", worst, f"{_float(worst, 'idle_share'):.0%} idle"))
        else:  # pragma: no cover - every kind is handled above; a new kind still lists
            groups.append(FindingGroup(kind, cause, findings, "", findings[0], findings[0].message))
    return tuple(groups)


def _idle_group(findings: tuple[Finding, ...], stretches: _Stretches) -> FindingGroup:
    past_ms = 0
    unknown = 0
    longest: tuple[int, Finding] | None = None
    per_exec: dict[str, int] = {}
    for f in findings:
        exec_id = _text(f, "exec_id")
        per_exec[exec_id] = per_exec.get(exec_id, 0) + 1
        since = _int(f, "idle_since_ms")
        end = stretches.end(f, exec_id, since)
        if end is None:
            unknown += 1
            continue
        past_ms += max(0, end - f.time_ms)
        if longest is None or end - since > longest[0]:
            longest = (end - since, f)
    if longest is None:
        # No stretch's end is in the data (the timeline dropped its short idle segments): say so,
        # and name the executor idle past the threshold most often instead.
        exec_id = max(per_exec, key=lambda k: per_exec[k])
        n = per_exec[exec_id]
        return FindingGroup(
            FindingKind.IDLE_EXECUTOR,
            "",
            findings,
            "idle past the threshold not measurable (the timeline keeps only longer idle segments)",
            next(f for f in findings if _text(f, "exec_id") == exec_id),
            f"executor {exec_id} ({n} stretch{'es' if n != 1 else ''})",
            at_least=True,
            worst_label="most often",
        )
    bound = "at least " if unknown else ""
    total = f"{bound}{format_duration(past_ms / 1000)} idle past the threshold"
    if unknown:
        total += f" ({unknown} stretch{'es' if unknown != 1 else ''} not measurable)"
    worst = longest[1]
    return FindingGroup(
        FindingKind.IDLE_EXECUTOR,
        "",
        findings,
        total,
        worst,
        f"executor {_text(worst, 'exec_id')}: {bound}{format_duration(longest[0] / 1000)} idle",
        at_least=unknown > 0,
    )


def _loss_group(findings: tuple[Finding, ...], cause: str) -> FindingGroup:
    blocks = sum(_int(f, "blocks") for f in findings)
    nbytes = sum(_int(f, "bytes") for f in findings)
    worst = max(findings, key=lambda f: (_int(f, "bytes"), _int(f, "blocks")))
    return FindingGroup(
        FindingKind.CACHE_LOST,
        cause,
        findings,
        f"{_blocks(blocks)}, {format_bytes(nbytes)} lost",
        worst,
        f"executor {_text(worst, 'exec_id')}: {_blocks(_int(worst, 'blocks'))}, "
        f"{format_bytes(_int(worst, 'bytes'))}",
    )


def _reuse_group(findings: tuple[Finding, ...], report: AppReport) -> FindingGroup:
    repeat_s = {u.callsite: u.repeat_task_seconds for u in report.uncached_reuse}
    times = {u.callsite: u.times for u in report.uncached_reuse}
    worst = max(findings, key=lambda f: repeat_s.get(_text(f, "callsite"), 0.0))
    callsites = {_text(f, "callsite") for f in findings}
    total = sum(repeat_s.get(c, 0.0) for c in callsites)
    where = _text(worst, "callsite") or "?"
    known = where in times
    return FindingGroup(
        FindingKind.UNCACHED_REUSE,
        "",
        findings,
        f"{format_duration(total)} of task time repeating them" if total > 0 else "",
        worst,
        f"{where}: computed {times[where]} times, {format_duration(repeat_s[where])} repeated" if known else where,
    )


class _Stretches:
    """Where each executor's idle stretches end, from the timeline's contiguous idle segments."""

    def __init__(self, report: AppReport) -> None:
        timeline = report.timeline
        self._segments: dict[str, Sequence[IdleSegment]] = dict(timeline.idle) if timeline is not None else {}
        self._starts = {k: [s for s, _, _ in segs] for k, segs in self._segments.items()}
        self._capped = set(timeline.idle_min_ms) if timeline is not None else set()
        self._executors: dict[str, ExecutorReport] = {e.exec_id: e for e in report.executors}

    def end(self, f: Finding, exec_id: str, since: int) -> int | None:
        """Where the stretch idle since ``since`` ended (event time), or None when the data cannot tell.

        The finding's own ``idle_until_ms`` wins when it has one. An open stretch (the executor is
        idle at the end of the data) ends at the lane's end. Otherwise the stretch is the run of
        contiguous timeline segments from ``since``, exact only on a lane whose short segments were
        never dropped (no ``idle_min_ms``): elsewhere a dropped piece would end it early.
        """
        until = f.details.get("idle_until_ms")
        if isinstance(until, int) and not isinstance(until, bool):
            return max(until, f.time_ms)
        ex = self._executors.get(exec_id)
        if ex is not None and ex.removed_ms is None and ex.idle_now_seconds > 0:
            lane_end = ex.added_ms + round(ex.lifetime_seconds * 1000)
            if abs(lane_end - round(ex.idle_now_seconds * 1000) - since) <= 1:
                return max(lane_end, f.time_ms)
        if exec_id in self._capped:
            return None
        segs = self._segments.get(exec_id, ())
        i = bisect.bisect_right(self._starts.get(exec_id, []), since) - 1
        if i < 0 or segs[i][1] <= since:
            return None
        end = segs[i][1]
        while i + 1 < len(segs) and segs[i + 1][0] == end:
            i += 1
            end = segs[i][1]
        return max(end, f.time_ms)


def _int(f: Finding, key: str) -> int:
    value = f.details.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _float(f: Finding, key: str) -> float:
    value = f.details.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _text(f: Finding, key: str) -> str:
    value = f.details.get(key)
    return value if isinstance(value, str) else ""


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _blocks(n: int) -> str:
    return f"{n:,} block{_s(n)}"
