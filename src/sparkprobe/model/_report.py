"""The app's report (:class:`AppReport`) and the agent's own health (:class:`AgentHealth`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sparkprobe.model._advice import Advice, PolicyRow, WhatIf
from sparkprobe.model._enums import FindingKind, IncompleteReason, RemovalCause, TenantKind, _enum_map
from sparkprobe.model._figures import (
    CacheFigures,
    CoreFigures,
    ExecutorReport,
    Finding,
    ListenerFigures,
    Loss,
    RddReport,
    SourceInfo,
    TaskFigures,
    TimelineReport,
    Transport,
    UncachedReuse,
)
from sparkprobe.model._ledgers import CostFigures, MemoryFigures, TenantReport


@dataclass(frozen=True, slots=True)
class AppReport:
    """Everything sparkprobe reports about one application (docs/report-schema.md, "App").

    Built by :func:`sparkprobe.analysis.report.build_report` only. A headline report (``detail``
    False, what a scrape or a push needs) has no ``executors``, ``timeline``, ``what_if`` nor
    ``advice``.
    """

    app_id: str
    #: ``App Attempt ID`` (YARN and Kubernetes cluster mode retry the driver); empty when none.
    attempt_id: str
    app_name: str
    user: str
    spark_version: str
    start_ms: int
    end_ms: int | None
    dynamic_allocation: bool | None
    executors_added: int
    executors_removed: int
    removed_by_reason: Mapping[RemovalCause, int]
    executors_active: int
    executors_idle: int
    executor_idle_max_seconds: float
    cores: CoreFigures
    cache: CacheFigures
    losses: tuple[Loss, ...]
    uncached_reuse: tuple[UncachedReuse, ...]
    uncached_recompute_seconds: float
    findings: tuple[Finding, ...]
    findings_by_kind: Mapping[FindingKind, int]
    tasks: TaskFigures
    jobs_started: int
    jobs_finished: int
    stages_completed: int
    stages_failed: int
    rdds: tuple[RddReport, ...]
    listener: ListenerFigures
    over_limit: Mapping[str, int]
    incomplete_reasons: tuple[IncompleteReason, ...]
    detail: bool
    executors: tuple[ExecutorReport, ...] = ()
    timeline: TimelineReport | None = None
    what_if: WhatIf | None = None
    advice: tuple[Advice, ...] = ()
    #: Live apps only.
    transport: Transport | None = None
    #: Event logs only.
    source: SourceInfo | None = None
    #: The policy what-if (docs/advice.md): the recorded run first, then the asked-for policies.
    policy_whatif: tuple[PolicyRow, ...] = ()
    #: Why there is no policy what-if ("" when there is one, or when the report has no detail).
    policy_whatif_unavailable: str = ""
    #: The memory ledger (headline reports too: /metrics shows it).
    memory: MemoryFigures | None = None
    #: Only when the user gave a price (``--price-core-hour``, ``spark.sparkprobe.price.*``).
    cost: CostFigures | None = None
    #: Per-tenant shares (sessions, users, tags, job groups, pools: docs/tenants.md), headline too.
    tenants: tuple[TenantReport, ...] = ()
    #: Kind → distinct tenants folded into ``other`` past ``--max-tenants``.
    tenants_folded: Mapping[TenantKind, int] = field(default_factory=dict)
    #: When this agent took the app over mid-run: the event time its time-integrated figures start
    #: at (``IncompleteReason.TAKEN_OVER``); None when they cover the whole app.
    figures_from_ms: int | None = None
    #: ``spark.yarn.queue``, else ``spark.kubernetes.namespace``; empty when the conf names neither.
    queue: str = ""

    @property
    def running(self) -> bool:
        """No ``ApplicationEnd`` seen (yet)."""
        return self.end_ms is None

    @property
    def incomplete(self) -> bool:
        """The figures miss events (``incomplete_reasons`` says why)."""
        return bool(self.incomplete_reasons)

    @property
    def bad_lines(self) -> int:
        """Lines of the event log that could not be used (0 live)."""
        return self.source.bad_lines if self.source is not None else 0

    def to_json(self) -> dict[str, Any]:
        """The app as one element of the JSON report's ``apps`` (docs/report-schema.md)."""
        c, k, t = self.cores, self.cache, self.tasks
        out: dict[str, Any] = {
            "app_id": self.app_id,
            "attempt_id": self.attempt_id,
            "app_name": self.app_name,
            "user": self.user,
            "spark_version": self.spark_version,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "running": self.running,
            "dynamic_allocation": self.dynamic_allocation,
            "executors_added": self.executors_added,
            "executors_removed": self.executors_removed,
            "removed_by_reason": _enum_map(self.removed_by_reason),
            "executors_active": self.executors_active,
            "executors_idle": self.executors_idle,
            "executor_idle_max_seconds": self.executor_idle_max_seconds,
            "cores_active": c.cores_active,
            "allocated_core_seconds": c.allocated_core_seconds,
            "busy_core_seconds": c.busy_core_seconds,
            "idle_core_seconds": c.idle_core_seconds,
            "idle_executor_seconds": c.idle_executor_seconds,
            "idle_by_cause": _enum_map(c.idle_by_cause),
            "cached_bytes": {"memory": k.memory_bytes, "disk": k.disk_bytes},
            "cached_blocks": k.blocks,
            "cache_lost_blocks": k.lost_blocks,
            "cache_lost_bytes": k.lost_bytes,
            "cache_lost_by_cause": {cause.value: list(v) for cause, v in k.lost_by_cause.items()},
            "cache_replicas_lost": k.replicas_lost,
            "cache_migrated_blocks": k.migrated_blocks,
            "cache_recomputed_blocks": k.recomputed_blocks,
            "cache_recompute_seconds": k.recompute_seconds,
            "cache_estimated": k.estimated,
            "losses": [loss.to_json() for loss in self.losses],
            "uncached_reuse": [
                {"callsite": u.callsite, "times": u.times, "repeat_task_seconds": u.repeat_task_seconds}
                for u in self.uncached_reuse
            ],
            "uncached_recompute_seconds": self.uncached_recompute_seconds,
            "findings": [f.to_json() for f in self.findings],
            "findings_by_kind": _enum_map(self.findings_by_kind),
            "advice": [a.to_json() for a in self.advice],
            "what_if": self.what_if.to_json() if self.what_if is not None else {},
            "policy_whatif": [row.to_json() for row in self.policy_whatif],
            "policy_whatif_unavailable": self.policy_whatif_unavailable,
            "bad_lines": self.bad_lines,
            "incomplete": self.incomplete,
            "incomplete_reasons": [r.value for r in self.incomplete_reasons],
            "tasks": {
                "success": t.success,
                "failed": t.failed,
                "killed": t.killed,
                "resubmitted": t.resubmitted,
                "running": t.running,
                "run_seconds": t.run_seconds,
                "cpu_seconds": t.cpu_seconds,
                "gc_seconds": t.gc_seconds,
            },
            "jobs": {"started": self.jobs_started, "finished": self.jobs_finished},
            "stages": {"completed": self.stages_completed, "failed": self.stages_failed},
            "rdds": {
                str(r.rdd_id): {
                    "name": r.name,
                    "callsite": r.callsite,
                    "first_stage": r.first_stage,
                    "cached_blocks": r.cached_blocks,
                    "memory_bytes": r.memory_bytes,
                    "disk_bytes": r.disk_bytes,
                }
                for r in self.rdds
            },
            "listener": {
                "offered": self.listener.offered,
                "dropped": self.listener.dropped,
                "processing_seconds": self.listener.processing_seconds,
                "reconnects": self.listener.reconnects,
            },
            "over_limit": dict(self.over_limit),
            "executors": {e.exec_id: e.to_json() for e in self.executors},
            "timeline": self.timeline.to_json() if self.timeline is not None else {},
            "memory": self.memory.to_json() if self.memory is not None else {},
            "cost": self.cost.to_json() if self.cost is not None else None,
            "tenants": [t.to_json() for t in self.tenants],
            "tenants_folded": _enum_map(self.tenants_folded),
            "figures_from_ms": self.figures_from_ms,
            "queue": self.queue,
        }
        if k.blocks_estimated is not None:
            out["cached_blocks_estimated"] = k.blocks_estimated
        if self.transport is not None:
            out["events_received"] = self.transport.events_received
            out["closed_by_timeout"] = self.transport.closed_by_timeout
            out["gaps"] = [list(g) for g in self.transport.gaps]
            out["events_replayed"] = self.transport.events_replayed
        if self.source is not None:
            s = self.source
            out["source"] = {
                "name": s.name,
                "layout": s.layout,
                "in_progress": s.in_progress,
                "codecs": list(s.codecs),
                "lines": s.lines,
                "events": s.events,
                "ignored": s.ignored,
                "truncated_last_line": s.truncated_last_line,
                "bytes_compressed": s.bytes_compressed,
                "bytes_decompressed": s.bytes_decompressed,
                "bad_line_samples": [{"part": b.part, "line": b.line, "reason": b.reason} for b in s.bad_line_samples],
                "too_long": s.too_long,
            }
        return out


@dataclass(frozen=True, slots=True)
class AgentHealth:
    """The agent's own figures (its self-metrics, as node_exporter reports its scrapes and losses)."""

    #: Lines the agent could not use, by reason (``json``, ``schema``, ``unknown_kind``, ``too_long``).
    bad_lines: Mapping[str, int]
    #: Connections refused at the hello, by reason.
    rejected: Mapping[str, int]
    connections_open: int
    connections_total: int
    apps_held: int
    apps_over_limit: int
    #: Failed TLS handshakes on the event port; None when the port is plain TCP.
    tls_handshake_failures: int | None
