"""The text report's findings: one line per kind (and per cause of cache loss), with count, total, worst, when."""

from __future__ import annotations

from dataclasses import replace

from report_builders import BASE, EMR_LOG, PUBLIC, STRETCHES_S, idle_stretches, log_report, needs_public

from sparkprobe.model import FindingKind
from sparkprobe.outputs.findings import group_findings
from sparkprobe.outputs.report import format_text


def finding_lines(text: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index("  findings:") + 1
    out = []
    for line in lines[start:]:
        if not line.startswith("    "):
            break
        out.append(line.strip())
    return out


def test_groups_of_a_synthetic_app_add_up_exactly() -> None:
    report = idle_stretches()
    groups = {g.label: g for g in group_findings(report)}
    assert set(groups) == {"cache_lost (failure)", "cache_lost (other)", "idle_executor", "idle_share"}

    idle = groups["idle_executor"]
    assert idle.count == 3 and not idle.at_least
    assert idle.total == "3 min 00 s idle past the threshold"  # 30 + 60 + 90 s
    assert idle.worst.details["exec_id"] == "2"
    assert idle.worst_text == "executor 2: 2 min 30 s idle"
    assert STRETCHES_S[-1] == 150
    assert idle.headline() == "3 idle stretches past 60s, on 3 executors"
    assert idle.when(BASE) == "+1m02s … +1m04s"

    failures = groups["cache_lost (failure)"]
    assert failures.count == 2
    assert failures.total == "2 blocks, 8.8 KiB lost"
    assert failures.worst.details["exec_id"] == "4"  # the bigger block
    assert failures.when(BASE) == "+8.0s … +9.0s"
    assert groups["cache_lost (other)"].count == 1

    # One line per group: the count and figures for groups, the message itself for single findings.
    lines = finding_lines(format_text(report))
    assert len(lines) == 4
    (idle_line,) = [line for line in lines if line.startswith("- [idle_executor]")]
    assert idle_line == (
        "- [idle_executor] 3 idle stretches past 60s, on 3 executors: 3 min 00 s idle past the threshold; "
        "worst executor 2: 2 min 30 s idle; +1m02s … +1m04s"
    )
    (other,) = [line for line in lines if line.startswith("- [cache_lost (other)]")]
    assert other == "- [cache_lost (other)] executor 5 removed (other): 1 cached blocks, 6000 bytes lost (+10.0s)"


def test_idle_stretch_end_carried_by_the_finding_wins() -> None:
    report = idle_stretches()
    # A finding that says where its stretch ended (idle_until_ms) is measured by it, not the timeline.
    findings = tuple(
        replace(f, details={**f.details, "idle_until_ms": f.time_ms + 10_000})
        if f.kind == FindingKind.IDLE_EXECUTOR
        else f
        for f in report.findings
    )
    (idle,) = [g for g in group_findings(replace(report, findings=findings)) if g.kind == FindingKind.IDLE_EXECUTOR]
    assert idle.total == "30.0 s idle past the threshold"
    # Without a timeline (a headline report) and without idle_until_ms, nothing can be measured: said so.
    unended = tuple(
        replace(f, details={k: v for k, v in f.details.items() if k != "idle_until_ms"}) for f in report.findings
    )
    bare = replace(report, timeline=None, findings=unended)
    (idle,) = [g for g in group_findings(bare) if g.kind == FindingKind.IDLE_EXECUTOR]
    assert idle.at_least and "not measurable" in idle.total
    assert (idle.worst_label, idle.worst_text) == ("most often", "executor 0 (1 stretch)")


@needs_public
def test_the_emr_log_prints_one_line_for_136_idle_findings() -> None:
    report = log_report(str(PUBLIC / EMR_LOG))
    assert report.findings_by_kind[FindingKind.IDLE_EXECUTOR] == 136
    lines = finding_lines(format_text(report))
    assert len(lines) == 2  # uncached_reuse and idle_executor, not 137 lines
    (idle,) = [line for line in lines if line.startswith("- [idle_executor]")]
    assert idle.startswith("- [idle_executor] 136 idle stretches past 60s, on 31 executors")
    # +51m27s … +1h04m: the first and last crossing of the threshold, from the app's start.
    assert idle.endswith("; +51m27s … +1h04m")
    # The log's lanes are capped (idle_min_ms), so the timeline cannot tell where stretches ended:
    # each finding carries its stretch's end (idle_until_ms). An independent replay of this log's
    # task spans gives 4,657.6 s past the threshold in all, the longest stretch 220.8 s (executor 25).
    assert report.timeline is not None and report.timeline.idle_min_ms
    assert "1 h 17 min idle past the threshold; worst executor 25: 3 min 41 s idle" in idle
