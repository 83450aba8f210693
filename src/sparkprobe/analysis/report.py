"""The one function that builds an app's report from its analyzer state: :func:`build_report`.

The agent (live apps, scrapes, pushes, ``Probe.snapshot()``) and ``sparkprobe analyze`` (event
logs) all call it, so a figure cannot differ between outputs. Pure: the caller passes ``now_ms``
for a still-running app and what only it knows (the stream's transport facts, or how the log was
read).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from sparkprobe.analysis.advice import PolicyContext, advise, recommended_row
from sparkprobe.analysis.cost import cost_figures, price_advice
from sparkprobe.analysis.executors import Executor
from sparkprobe.analysis.memory import memory_figures
from sparkprobe.analysis.memory_advice import advise_memory
from sparkprobe.analysis.policy import DEFAULT_WALL_BOUND
from sparkprobe.analysis.settings import PRICE_CORE_HOUR_KEY, PRICE_GIB_HOUR_KEY, price
from sparkprobe.analysis.settled import CoreTotals, headline_parts
from sparkprobe.analysis.state import AppState
from sparkprobe.analysis.tenants import TenantTotals
from sparkprobe.analysis.whatif import policy_whatif, what_if
from sparkprobe.model import (
    Advice,
    AppReport,
    CacheFigures,
    CoreFigures,
    ExecutorReport,
    IdleCause,
    IncompleteReason,
    ListenerFigures,
    PolicyFigures,
    PolicyRow,
    SourceInfo,
    TaskFigures,
    TaskStatus,
    Transport,
)

__all__ = ["build_report"]


def build_report(
    state: AppState,
    now_ms: int | None = None,
    *,
    detail: bool = True,
    transport: Transport | None = None,
    source: SourceInfo | None = None,
    policies: Sequence[Mapping[str, str]] = (),
    wall_bound: float = DEFAULT_WALL_BOUND,
) -> AppReport:
    """All figures of one app, measured to its end, else to ``now_ms``, else to its last event.

    ``detail=False`` builds the headline only (no per-executor records, timeline, what-ifs or
    advice): what a Prometheus scrape or a Pushgateway push needs, at a fraction of the cost.
    ``transport`` (live) and ``source`` (offline) add what the agent or the reader knows.
    ``policies`` are what-if groups of Spark keys for the policy simulator (docs/advice.md), and
    ``wall_bound`` how much slower than the recorded run the advisor's choice may be predicted.
    """
    until = state.now_or_end(now_ms)
    ledger = state.executors
    app_running = state.end_ms is None
    active = idle_now = cores_active = 0
    idle_max_ms = 0
    executors: list[ExecutorReport] = []
    if detail:
        totals = CoreTotals()
        pending: Iterable[Executor] = ledger.by_id.values()
    else:
        # A headline (every scrape): removed executors' figures are summed once (analysis/settled.py).
        parts = headline_parts(state, until)
        totals, pending = parts.core, parts.pending
    for ex in pending:
        lifetime_ms, ex_busy_ms, ex_idle_ms, now_idle_ms, by_cause = totals.add(ledger, ex, until)
        if ex.removed_ms is None and app_running:
            active += 1
            cores_active += ex.cores
            if ex.running == 0:
                idle_now += 1
                idle_max_ms = max(idle_max_ms, now_idle_ms)
        if detail:
            executors.append(ExecutorReport(
                exec_id=ex.exec_id,
                host=ex.host,
                cores=ex.cores,
                added_ms=ex.added_ms,
                removed_ms=ex.removed_ms,
                lifetime_seconds=lifetime_ms / 1000,
                busy_core_seconds=ex_busy_ms / 1000,
                idle_seconds=ex_idle_ms / 1000,
                idle_now_seconds=now_idle_ms / 1000,
                idle_by_cause={c: by_cause.get(c, 0) / 1000 for c in IdleCause},
                removed_reason=ex.removed_reason,
                removed_cause=ex.removed_cause,
                running_tasks=ex.running,
                cached_blocks=ex.cached_blocks,
            ))
    allocated_ms, busy_ms = totals.allocated_ms, totals.busy_ms
    cores = CoreFigures(
        allocated_core_seconds=allocated_ms / 1000,
        busy_core_seconds=busy_ms / 1000,
        idle_core_seconds=(allocated_ms - busy_ms) / 1000,
        idle_executor_seconds=totals.idle_ms / 1000,
        idle_by_cause={c: ms / 1000 for c, ms in totals.idle_by_cause_ms.items()},
        cores_active=cores_active,
        idle_core_seconds_by_cause={c: ms / 1000 for c, ms in totals.idle_core_ms_by_cause.items()},
    )
    if detail:
        memory, memory_by_executor = memory_figures(state, until)
        executors = [
            replace(
                e,
                requested_memory=memory_by_executor[e.exec_id].requested,
                peak_memory=memory_by_executor[e.exec_id].peak_metrics,
                peak_memory_by_area=memory_by_executor[e.exec_id].peak,
                profile_id=state.memory.profile_of.get(e.exec_id, 0),
            )
            for e in executors
        ]
    else:
        memory, memory_by_executor = memory_figures(state, until, totals=parts.memory, pending=parts.pending)
    core_price, core_note = price(state.conf, PRICE_CORE_HOUR_KEY, state.limits.price_core_hour)
    gib_price, gib_note = price(state.conf, PRICE_GIB_HOUR_KEY, state.limits.price_gib_hour)
    if core_note or gib_note:
        memory = replace(memory, notes=memory.notes + tuple(n for n in (core_note, gib_note) if n))
    storage = state.storage
    if storage.estimating:
        # No block updates in this log: cache figures are the task-based estimate (no sizes).
        cache = CacheFigures(
            memory_bytes=storage.mem_bytes,
            disk_bytes=storage.disk_bytes,
            blocks=storage.blocks,
            lost_blocks=storage.est_lost_blocks,
            lost_bytes=storage.est_lost_bytes,
            lost_by_cause={c: (v[0], v[1]) for c, v in sorted(storage.est_lost_by_cause.items())},
            replicas_lost=storage.replicas_lost,
            migrated_blocks=storage.migrated_blocks,
            recomputed_blocks=storage.est_recomputed_blocks,
            recompute_seconds=storage.est_recompute_ms / 1000,
            estimated=True,
            blocks_estimated=storage.estimated_blocks,
        )
    else:
        cache = CacheFigures(
            memory_bytes=storage.mem_bytes,
            disk_bytes=storage.disk_bytes,
            blocks=storage.blocks,
            lost_blocks=storage.lost_blocks,
            lost_bytes=storage.lost_bytes,
            lost_by_cause={c: (v[0], v[1]) for c, v in sorted(storage.lost_by_cause.items())},
            replicas_lost=storage.replicas_lost,
            migrated_blocks=storage.migrated_blocks,
            recomputed_blocks=storage.recomputed_blocks,
            recompute_seconds=storage.recompute_ms / 1000,
            estimated=False,
        )
    tasks = state.tasks
    reasons: list[IncompleteReason] = []
    if transport is not None:
        if transport.closed_by_timeout:
            reasons.append(IncompleteReason.CLOSED_BY_TIMEOUT)
        if state.listener_dropped > 0:
            reasons.append(IncompleteReason.LISTENER_DROPS)
        if transport.gaps:
            reasons.append(IncompleteReason.GAPS)
    if source is not None and state.end_ms is None:
        reasons.append(IncompleteReason.NO_APPLICATION_END)
    if state.joined_ms is not None:
        reasons.append(IncompleteReason.TAKEN_OVER)
    stages = state.stages
    records = tuple(executors)
    timeline = state.timeline.to_report() if detail else None
    rows: tuple[PolicyRow, ...] = ()
    unavailable = ""
    context: PolicyContext | None = None
    if detail:
        measured = PolicyFigures(
            wall_seconds=round(max(0, until - state.start_ms) / 1000, 3),
            allocated_core_seconds=round(cores.allocated_core_seconds, 3),
            busy_core_seconds=round(cores.busy_core_seconds, 3),
            idle_core_seconds=round(cores.idle_core_seconds, 3),
            cache_lost_blocks=cache.lost_blocks,
            recompute_seconds=round(cache.recompute_seconds, 3),
            executors_added=ledger.added,
            peak_executors=state.policy.peak_executors,
        )
        recording = state.policy.recording(until)
        # Replays depend on the events only (a running app's open end moves them by its last
        # driver gap): a report between two events reuses them.
        memo = state.policy.memo((state.events, state.end_ms))
        rows, unavailable = policy_whatif(
            recording, policies, measured, recorded_conf=state.conf, spark_version=state.spark_version,
            price_core_hour=core_price, memo=memo,
        )
        if rows and rows[0].predicted is not None:
            context = PolicyContext(
                recording, rows[0].predicted, dict(state.conf), state.spark_version, wall_bound,
                core_price, memo, grid=state.end_ms is not None or source is not None,
            )
    advice: tuple[Advice, ...] = ()
    if timeline is not None:
        memory_advice, evidence_note = advise_memory(
            memory, memory_by_executor, records, state.conf, state.spark_version, state.memory.profiles,
            _app_seconds(state, until),
        )
        advice = advise(
            cores, cache, records, ledger.added, state.dynamic_allocation, state.settings, timeline.idle,
            context, conf=state.conf, spark_version=state.spark_version,
        ) + memory_advice
        if evidence_note:
            memory = replace(memory, notes=(*memory.notes, evidence_note))
    if rows:
        rows = _mark_recommended(rows, recommended_row(advice))
    advice = price_advice(advice, core_price, gib_price)
    replay = what_if(stages.completed_rows, records, state.start_ms, until, state.task_cpus) if detail else None
    tenants = state.tenants.reports(until, TenantTotals(
        task_ms=tasks.run_ms,
        busy_core_ms=busy_ms,
        lost_bytes=cache.lost_bytes,
        recompute_ms=storage.est_recompute_ms if storage.estimating else storage.recompute_ms,
        cached_bytes=storage.mem_bytes + storage.disk_bytes,
        estimated=storage.estimating,
    ))
    return AppReport(
        app_id=state.app_id,
        attempt_id=state.attempt_id,
        app_name=state.app_name,
        user=state.user,
        spark_version=state.spark_version,
        start_ms=state.start_ms,
        end_ms=state.end_ms,
        dynamic_allocation=state.dynamic_allocation,
        executors_added=ledger.added,
        executors_removed=ledger.removed,
        removed_by_reason=dict(sorted(ledger.removed_by_cause.items())),
        executors_active=active,
        executors_idle=idle_now,
        executor_idle_max_seconds=idle_max_ms / 1000,
        cores=cores,
        cache=cache,
        losses=tuple(storage.losses),
        uncached_reuse=stages.uncached_reuse(),
        uncached_recompute_seconds=stages.uncached_recompute_ms / 1000,
        findings=tuple(state.findings.kept),
        findings_by_kind=dict(sorted(state.findings.by_kind.items())),
        tasks=TaskFigures(
            success=tasks.by_status[TaskStatus.SUCCESS],
            failed=tasks.by_status[TaskStatus.FAILED],
            killed=tasks.by_status[TaskStatus.KILLED],
            resubmitted=tasks.by_status[TaskStatus.RESUBMITTED],
            running=len(tasks.running),
            run_seconds=tasks.run_ms / 1000,
            cpu_seconds=tasks.cpu_ns / 1e9,
            gc_seconds=tasks.gc_ms / 1000,
        ),
        jobs_started=stages.jobs_started,
        jobs_finished=stages.jobs_finished,
        stages_completed=stages.stages_completed,
        stages_failed=stages.stages_failed,
        rdds=storage.rdd_reports(),
        listener=ListenerFigures(
            offered=state.listener_offered,
            dropped=state.listener_dropped,
            processing_seconds=state.listener_processing_ns / 1e9,
            reconnects=state.listener_reconnects,
        ),
        over_limit=dict(sorted(state.over_limit.items())),
        incomplete_reasons=tuple(reasons),
        detail=detail,
        executors=records,
        timeline=timeline,
        what_if=replay,
        advice=advice,
        transport=transport,
        source=source,
        policy_whatif=rows,
        policy_whatif_unavailable=unavailable,
        memory=memory,
        cost=cost_figures(cores, memory, core_price, gib_price),
        tenants=tenants,
        tenants_folded=dict(sorted(state.tenants.folded.items())),
        figures_from_ms=state.joined_ms,
        queue=state.settings.queue,
    )


def _mark_recommended(rows: tuple[PolicyRow, ...], chosen: PolicyRow | None) -> tuple[PolicyRow, ...]:
    """Flag the advisor's choice: the recorded run when it keeps it, an asked-for row, or a new row."""
    if chosen is None:
        return (replace(rows[0], recommended=True), *rows[1:])
    for i, row in enumerate(rows):
        if not row.baseline and dict(row.conf) == dict(chosen.conf):
            return (*rows[:i], replace(row, recommended=True), *rows[i + 1:])
    return (*rows, chosen)


def _app_seconds(state: AppState, until: int) -> float:
    """How long the app (its driver) ran up to ``until``; from its first executor when no start was seen."""
    start = state.start_ms or min((ex.added_ms for ex in state.executors.by_id.values()), default=until)
    return max(0, until - start) / 1000
