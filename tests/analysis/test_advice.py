"""The advice and findings are right on real event logs of other projects (shared/eventlogs/public).

Each test names the defect it guards against (issue 14): advice a Spark expert would not give.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from conftest import EVENTLOGS
from sparkprobe.analysis.policy import PolicyError, policy_from_conf
from sparkprobe.analysis.policy.policy import is_local_master, spark_line
from sparkprobe.analysis.report import build_report
from sparkprobe.analysis.state import AppState
from sparkprobe.events import (
    AppEnd,
    AppStart,
    Conf,
    ExecutorAdded,
    JobStart,
    RddInfo,
    StageCompleted,
    StageSubmitted,
    TaskEnd,
    TaskStart,
)
from sparkprobe.model import AdviceKind, AppReport, FindingKind, IdleCause
from sparkprobe.offline import analyze_source
from sparkprobe.sources.eventlog import LogReader, LogSource, discover

PUBLIC = EVENTLOGS / "public"
DA = "spark.dynamicAllocation."
DYNAMIC_KINDS = {
    AdviceKind.ENABLE_DYNAMIC_ALLOCATION, AdviceKind.CACHE_HELD_TRADEOFF, AdviceKind.LOWER_MIN_EXECUTORS,
    AdviceKind.SHUFFLE_TRACKING_TIMEOUT, AdviceKind.ALLOCATION_POLICY,
}


@functools.cache
def public_reports() -> tuple[tuple[LogSource, AppReport, dict[str, str]], ...]:
    """Every public log's report, with its recorded conf (read once for all tests)."""
    out = []
    for source in discover([PUBLIC]):
        state_conf: dict[str, str] = {}
        for event in LogReader(source).events():
            if isinstance(event, Conf):
                state_conf.update(event.props)
        out.append((source, analyze_source(source), state_conf))
    return tuple(out)


def report_of(name: str) -> AppReport:
    (report,) = [r for s, r, _ in public_reports() if s.name.startswith(name)]
    return report


def test_no_advice_promises_a_zero_saving() -> None:
    advised = [(s.name, a) for s, r, _ in public_reports() for a in r.advice]
    assert advised, "the public logs should still get some advice"
    # Memory advice saves GiB-hours; a memory raise is a correction whose cost is stated (negative).
    assert [
        (n, a.kind.value) for n, a in advised
        if a.saving_core_hours <= 0 and a.saving.get("gib_hours", 0.0) == 0.0
    ] == []
    assert [(n, a.kind.value) for n, a in advised if a.saving_core_hours < 0] == []


def test_local_masters_never_get_dynamic_allocation_advice() -> None:
    local = [(s.name, r) for s, r, conf in public_reports() if is_local_master(conf.get("spark.master"))]
    assert len(local) >= 8
    for name, report in local:
        assert not [a for a in report.advice if a.kind in DYNAMIC_KINDS], name
        assert report.dynamic_allocation is not True, name


def test_dynamic_allocation_settings_carry_the_prerequisite_of_their_spark_version() -> None:
    seen: set[str] = set()
    for source, report, conf in public_reports():
        line = spark_line(report.spark_version)
        for advice in report.advice:
            settings = dict(advice.conf or advice.settings)
            if settings.get(DA + "enabled") != "true":
                continue
            # Spark itself would start the app with these settings...
            policy_from_conf(conf, settings, spark_version=report.spark_version)
            # ... because the prerequisite is in them where the version needs it.
            if line is not None and line < (3, 0):
                if conf.get("spark.shuffle.service.enabled") != "true":  # else the app already has it
                    assert settings.get("spark.shuffle.service.enabled") == "true", source.name
                    seen.add("service")
            elif line is not None and line < (3, 4) and conf.get(DA + "shuffleTracking.enabled") != "true":
                if conf.get("spark.shuffle.service.enabled") != "true":
                    assert settings.get(DA + "shuffleTracking.enabled") == "true", source.name
                    seen.add("tracking")
    assert seen, "no log exercised a prerequisite"
    with pytest.raises(PolicyError):
        policy_from_conf({}, {DA + "enabled": "true"}, spark_version="3.2.1")


def test_the_yarn_log_gets_no_idle_finding_for_the_designed_release() -> None:
    # 58 executors, 57 released by dynamic allocation 60-66 s after their last task
    # (executorIdleTimeout=60s): the release is the design, not a finding.
    report = report_of("application_1472176676028_407508_1")
    assert report.dynamic_allocation is True and report.executors_removed == 57
    idle = [f for f in report.findings if f.kind is FindingKind.IDLE_EXECUTOR]
    assert len(idle) <= 5, [f.message for f in idle]


def test_uncached_reuse_ignores_streaming_batches_and_scans_of_other_data() -> None:
    streaming = report_of("local-1596020211915")  # Structured Streaming: 8 micro-batches of one query
    assert streaming.uncached_reuse == ()
    nds = report_of("nds_q72_dataproc_2_2")  # file listings of 31 different tables from one callsite
    assert not [u for u in nds.uncached_reuse if u.callsite.startswith("load at")]


def test_estimate_has_bytes_where_the_log_has_sizes() -> None:
    # Spark 1.5: 68 partitions cached, 17.4 GB, in the tasks' "Updated Blocks" (exact, not estimated).
    report = report_of("spark_event_log_example")
    assert not report.cache.estimated
    assert report.cache.memory_bytes == 17_385_843_040 and report.cache.blocks == 68


def _floor_and_shuffle_app() -> AppState:
    state = AppState("a")
    state.apply(Conf({"spark.master": "yarn", DA + "enabled": "true", DA + "minExecutors": "2",
                      DA + "shuffleTracking.enabled": "true", DA + "executorIdleTimeout": "60s"}))
    state.apply(AppStart("a", "n", "u", 0, "3.5.1"))
    for ex in ("1", "2"):
        state.apply(ExecutorAdded(ex, "h", 1, 0))
    state.apply(JobStart(0, 1, (0,)))
    state.apply(StageSubmitted(0, 0, "map", 2, 1, (RddInfo(0, "r", "c", (), False, False, 1, 2),)))
    for i, ex in enumerate(("1", "2")):
        state.apply(TaskStart(i, 0, 0, i, i, 0, ex, 1))
        state.apply(TaskEnd(i, 0, 0, i, i, 0, ex, 1, 1000, "success", shuffle_write_bytes=10))
    state.apply(StageCompleted(0, 0, "map", 2, 1000))
    state.apply(AppEnd(600_000))
    return state


def test_executors_kept_by_the_floor_are_min_executors_not_shuffle_held() -> None:
    report = build_report(_floor_and_shuffle_app())
    by_cause = report.cores.idle_by_cause
    assert by_cause[IdleCause.MIN_EXECUTORS] == pytest.approx(2 * 599.001) and by_cause[IdleCause.SHUFFLE_HELD] == 0
    # The floor's own advice, with the saving the simulator predicts for the value it names.
    (floor,) = [a for a in report.advice if a.kind is AdviceKind.LOWER_MIN_EXECUTORS]
    assert floor.settings == {DA + "minExecutors": "1"} and floor.predicted is not None
    assert not [a for a in report.advice if a.kind is AdviceKind.SHUFFLE_TRACKING_TIMEOUT]
    assert floor.saving_core_hours == pytest.approx(
        (report.policy_whatif[0].predicted.allocated_core_seconds  # type: ignore[union-attr]
         - floor.predicted.allocated_core_seconds) / 3600, abs=1e-4)


def test_the_advisor_keeps_or_beats_the_recorded_policy_within_its_bound() -> None:
    checked = 0
    for source, report, _ in public_reports():
        if not report.policy_whatif:
            continue
        base = report.policy_whatif[0]
        recommended = [r for r in report.policy_whatif if r.recommended]
        assert len(recommended) == 1, source.name
        chosen = recommended[0]
        if chosen.baseline:
            assert not [a for a in report.advice if a.kind is AdviceKind.ALLOCATION_POLICY]
            continue
        checked += 1
        assert base.predicted is not None and chosen.predicted is not None
        assert chosen.predicted.wall_seconds <= base.predicted.wall_seconds * 1.10 + 1e-6, source.name
        assert chosen.predicted.allocated_core_seconds < base.predicted.allocated_core_seconds, source.name
    assert checked >= 3


def test_a_wider_bound_never_recommends_a_dearer_policy(tmp_path: Path) -> None:
    (source,) = discover([EVENTLOGS / "recorded" / "spark-4.0.1-plain"])
    tight, loose = analyze_source(source, wall_bound=0.0), analyze_source(source, wall_bound=1.0)

    def cost(report: AppReport) -> float:
        (row,) = [r for r in report.policy_whatif if r.recommended]
        assert row.predicted is not None
        return row.predicted.allocated_core_seconds

    assert cost(loose) <= cost(tight)


def test_every_public_report_is_strict_json() -> None:
    # JSON has no Infinity or NaN: a figure that cannot be computed is null (what_if's model at the
    # measured count of a local[...] app whose tasks ran on no executor core, for one).
    names = []
    for source, report, _ in public_reports():
        names.append(source.name)
        try:
            json.dumps(report.to_json(), allow_nan=False, default=str)
        except ValueError as exc:
            pytest.fail(f"{source.name}: {exc}")
    assert "eventlog_3nodes_12cores_exec_removed" in names  # the log whose what-if was infinite
