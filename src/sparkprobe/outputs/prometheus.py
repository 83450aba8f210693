"""Prometheus collectors: metric families built fresh at every scrape from a narrow source.

Nothing is cached between scrapes: each scrape asks its :class:`MetricsSource` (the agent, or
anything else that holds app reports) for the headline report of every app and the source's own
health, and turns them into families, the way prometheus/client_python's own collectors do.
Every metric is listed with its meaning in docs/metrics.md (a test holds the two together).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from typing import Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from sparkprobe.model import (
    AgentHealth,
    AppReport,
    IdleCause,
    PeakArea,
    RemovalCause,
    RequestArea,
    TaskStatus,
    WasteCause,
)

__all__ = [
    "AgentCollector",
    "MetricsSource",
    "app_families",
    "collect_duration_family",
    "health_families",
    "make_registry",
]

_APP = ["app_id", "app_name"]
#: Bad-line and rejection reasons, always exposed (a bounded label set).
BAD_LINE_REASONS = ("json", "schema", "unknown_kind", "too_long")
REJECT_REASONS = ("bad_hello", "wire_version", "bad_token", "too_many_apps")


class MetricsSource(Protocol):
    """What :class:`AgentCollector` reads: app reports and the source's health, at one instant."""

    def metrics_snapshot(self) -> tuple[Sequence[AppReport], AgentHealth]:
        """Headline reports (``detail=False``) of every app held, and the holder's own figures."""
        ...


def app_families(reports: Sequence[AppReport]) -> list[Metric]:
    """The per-app families for these app reports (also what the Pushgateway receives)."""
    def gauge(name: str, doc: str, extra: list[str] | None = None, unit: str = "") -> GaugeMetricFamily:
        return GaugeMetricFamily(name, doc, labels=_APP + (extra or []), unit=unit)

    def counter(name: str, doc: str, extra: list[str] | None = None) -> CounterMetricFamily:
        return CounterMetricFamily(name, doc, labels=_APP + (extra or []))

    info = gauge("sparkprobe_app_info", "Application seen by sparkprobe (value 1).", ["spark_version", "user"])
    running = gauge("sparkprobe_app_running", "1 while the application runs, 0 once it ended.")
    incomplete = gauge(
        "sparkprobe_app_incomplete",
        "1 when figures miss events (listener drops, or the app was closed by timeout).",
    )
    start = gauge("sparkprobe_app_start_timestamp_seconds", "Application start time (Unix seconds).")
    active = gauge("sparkprobe_executors_active", "Executors added and not removed.")
    idle = gauge("sparkprobe_executors_idle", "Active executors with no running task.")
    idle_max = gauge("sparkprobe_executor_idle_max_seconds", "Longest current idle stretch of an active executor.")
    cores = gauge("sparkprobe_cores_allocated", "Cores of the active executors.")
    added = counter("sparkprobe_executors_added", "Executors added.")
    removed = counter("sparkprobe_executors_removed", "Executors removed, by classified cause.", ["reason"])
    tasks_running = gauge("sparkprobe_tasks_running", "Tasks started and not ended.")
    tasks_finished = counter("sparkprobe_tasks_finished", "Task attempts ended, by status.", ["status"])
    task_run = counter("sparkprobe_task_run_seconds", "Sum of task attempt spans (launch to finish).")
    cached_bytes = gauge("sparkprobe_cached_bytes", "Bytes of cached RDD blocks, all replicas.", ["storage"])
    cached_blocks = gauge("sparkprobe_cached_blocks", "Distinct cached RDD blocks.")
    lost_blocks = counter(
        "sparkprobe_cache_lost_blocks", "Cached blocks lost with their last replica.", ["reason"]
    )
    lost_bytes = counter(
        "sparkprobe_cache_lost_bytes", "Bytes of cached blocks lost with their last replica.", ["reason"]
    )
    replicas_lost = counter("sparkprobe_cache_replicas_lost", "Block replicas lost while another replica survived.")
    migrated = counter("sparkprobe_cache_migrated_blocks", "Blocks that survived a decommission by migration.")
    recomputed = counter("sparkprobe_cache_recomputed_blocks", "Lost blocks cached again (recomputed).")
    recompute_s = counter(
        "sparkprobe_cache_recompute_seconds", "Executor run time of the tasks that rebuilt lost blocks."
    )
    uncached = counter(
        "sparkprobe_uncached_recompute_seconds",
        "Task time of stages that computed an uncached lineage already computed before.",
    )
    allocated = counter("sparkprobe_allocated_core_seconds", "Core-seconds of executor lifetimes.")
    busy = counter(
        "sparkprobe_busy_core_seconds",
        "Core-seconds of executor cores running tasks (min(spark.task.cpus x tasks, cores) at each instant).",
    )
    idle_cores = counter("sparkprobe_idle_core_seconds", "Allocated minus busy core-seconds.")
    idle_by_cause = counter(
        "sparkprobe_executor_idle_seconds", "Executor-seconds with no task running, by cause.", ["cause"]
    )
    findings = counter("sparkprobe_findings", "Findings made, by kind.", ["kind"])
    received = counter("sparkprobe_events_received", "Events received from the listener.")
    dropped = counter("sparkprobe_listener_events_dropped", "Events the listener dropped (queue full or send failed).")
    mem_requested = gauge(
        "sparkprobe_memory_requested_bytes",
        "Memory the active executors were given, by area (the container is what the cluster manager reserves).",
        ["area"],
    )
    mem_peak = gauge(
        "sparkprobe_memory_peak_bytes",
        "Largest memory peak of the app's executors, by area (only areas that were measured).",
        ["area"],
    )
    driver_requested = gauge(
        "sparkprobe_driver_memory_requested_bytes", "Memory the driver was given, by area.", ["area"]
    )
    driver_peak = gauge(
        "sparkprobe_driver_memory_peak_bytes", "The driver's memory peak, by area (when it reported one).", ["area"]
    )
    mem_allocated = counter(
        "sparkprobe_allocated_memory_byte_seconds", "Byte-seconds of executor containers (container size x lifetime)."
    )
    mem_idle = counter(
        "sparkprobe_idle_memory_byte_seconds",
        "Byte-seconds of executor containers while no task ran, by the idle cause of the core ledger.",
        ["cause"],
    )
    mem_unused = counter(
        "sparkprobe_unused_memory_byte_seconds",
        "Byte-seconds of executor containers not used while tasks ran (container minus peak footprint).",
    )
    cost = counter(
        "sparkprobe_cost", "Cost of the app's executors at the given prices, by resource (with prices only).",
        ["resource"],
    )
    wasted = counter(
        "sparkprobe_wasted_cost",
        "Cost of idle cores and memory, and of cores and memory unused while tasks ran, by cause (with prices only).",
        ["cause"],
    )
    processing = SummaryMetricFamily(
        "sparkprobe_listener_processing_seconds",
        "Time the listener spent in its on* methods on Spark's listener bus, per event offered.",
        labels=_APP,
    )
    # Per tenant (docs/tenants.md): at most --max-tenants ids per kind and app, plus "other" and "none".
    tenant_busy = counter(
        "sparkprobe_tenant_busy_core_seconds",
        "Busy core-seconds of the tenant's tasks (each executor's busy cores split among its running tasks).",
        ["kind", "tenant"],
    )
    tenant_tasks = counter(
        "sparkprobe_tenant_task_seconds", "Task attempt spans of the tenant's jobs.", ["kind", "tenant"]
    )
    tenant_lost = counter(
        "sparkprobe_tenant_cache_lost_bytes",
        "Bytes lost with executors of the cached RDDs the tenant's jobs cached first.",
        ["kind", "tenant"],
    )
    tenant_recompute = counter(
        "sparkprobe_tenant_recompute_seconds", "Run time of the tenant's tasks that rebuilt lost blocks.",
        ["kind", "tenant"],
    )
    tenant_cached = gauge(
        "sparkprobe_tenant_cached_bytes", "Bytes cached now (all replicas) of the RDDs the tenant's jobs cached first.",
        ["kind", "tenant"],
    )
    tenants_folded = counter(
        "sparkprobe_tenants_folded", "Tenants folded into tenant=\"other\" past --max-tenants.", ["kind"]
    )

    for r in reports:
        app = [r.app_id, r.app_name]
        c, k, t = r.cores, r.cache, r.tasks
        info.add_metric(app + [r.spark_version, r.user], 1)
        running.add_metric(app, 1 if r.running else 0)
        incomplete.add_metric(app, 1 if r.incomplete else 0)
        start.add_metric(app, r.start_ms / 1000)
        active.add_metric(app, r.executors_active)
        idle.add_metric(app, r.executors_idle)
        idle_max.add_metric(app, r.executor_idle_max_seconds)
        cores.add_metric(app, c.cores_active)
        added.add_metric(app, r.executors_added)
        for removal in RemovalCause:
            removed.add_metric(app + [removal.value], r.removed_by_reason.get(removal, 0))
        tasks_running.add_metric(app, t.running)
        for status in TaskStatus:
            tasks_finished.add_metric(app + [status.value], getattr(t, status.value))
        task_run.add_metric(app, t.run_seconds)
        cached_bytes.add_metric(app + ["memory"], k.memory_bytes)
        cached_bytes.add_metric(app + ["disk"], k.disk_bytes)
        cached_blocks.add_metric(app, k.blocks)
        for removal in RemovalCause:
            blocks, nbytes = k.lost_by_cause.get(removal, (0, 0))
            lost_blocks.add_metric(app + [removal.value], blocks)
            lost_bytes.add_metric(app + [removal.value], nbytes)
        replicas_lost.add_metric(app, k.replicas_lost)
        migrated.add_metric(app, k.migrated_blocks)
        recomputed.add_metric(app, k.recomputed_blocks)
        recompute_s.add_metric(app, k.recompute_seconds)
        uncached.add_metric(app, r.uncached_recompute_seconds)
        allocated.add_metric(app, c.allocated_core_seconds)
        busy.add_metric(app, c.busy_core_seconds)
        idle_cores.add_metric(app, max(0.0, c.idle_core_seconds))
        for cause in IdleCause:
            idle_by_cause.add_metric(app + [cause.value], c.idle_by_cause[cause])
        for kind, n in r.findings_by_kind.items():
            findings.add_metric(app + [kind.value], n)
        received.add_metric(app, r.transport.events_received if r.transport is not None else 0)
        dropped.add_metric(app, r.listener.dropped)
        processing.add_metric(app, count_value=r.listener.offered, sum_value=r.listener.processing_seconds)
        m = r.memory
        if m is not None:
            for request in RequestArea:
                mem_requested.add_metric(app + [request.value], m.requested_active[request])
                driver_requested.add_metric(app + [request.value], m.driver.requested[request])
            for area in PeakArea:
                # A peak not measured has no sample: a 0 would read as "nothing used".
                if (value := m.peak[area]) is not None:
                    mem_peak.add_metric(app + [area.value], value)
                if (value := m.driver.peak[area]) is not None:
                    driver_peak.add_metric(app + [area.value], value)
            mem_allocated.add_metric(app, m.allocated_byte_seconds)
            for cause in IdleCause:
                mem_idle.add_metric(app + [cause.value], m.idle_by_cause_byte_seconds[cause])
            if m.unused_busy_byte_seconds is not None:
                mem_unused.add_metric(app, m.unused_busy_byte_seconds)
        if r.cost is not None:
            for resource, money in r.cost.by_resource.items():
                cost.add_metric(app + [resource], money)
            for waste in WasteCause:
                wasted.add_metric(app + [waste.value], r.cost.wasted_by_cause[waste])
        for tenant in r.tenants:
            labels = app + [tenant.kind.value, tenant.id]
            tenant_busy.add_metric(labels, tenant.busy_core_seconds)
            tenant_tasks.add_metric(labels, tenant.task_seconds)
            tenant_lost.add_metric(labels, tenant.cache_lost_bytes)
            tenant_recompute.add_metric(labels, tenant.recompute_seconds)
            tenant_cached.add_metric(labels, tenant.cached_bytes)
        for tenant_kind, folds in r.tenants_folded.items():
            tenants_folded.add_metric(app + [tenant_kind.value], folds)

    return [
        info, running, incomplete, start, active, idle, idle_max, cores, added, removed,
        tasks_running, tasks_finished, task_run, cached_bytes, cached_blocks, lost_blocks,
        lost_bytes, replicas_lost, migrated, recomputed, recompute_s, uncached, allocated, busy, idle_cores,
        idle_by_cause, findings, received, dropped, processing,
        mem_requested, mem_peak, driver_requested, driver_peak, mem_allocated, mem_idle, mem_unused, cost, wasted,
        tenant_busy, tenant_tasks, tenant_lost, tenant_recompute, tenant_cached, tenants_folded,
    ]


class AgentCollector(Collector):
    """Exposes every app a :class:`MetricsSource` holds, plus the source's own health, at each scrape."""

    def __init__(self, source: MetricsSource) -> None:
        """Collect from ``source`` (the agent)."""
        self.source = source
        # Counters measured "to now" (core-seconds, idle seconds) can step back by a few ms when
        # an event dated slightly before the previous scrape arrives; Prometheus would read a
        # reset. Each counter series is exposed as the highest value it has shown.
        self._high_water: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self._hw_lock = threading.Lock()

    def _monotonic(self, families: list[Metric]) -> list[Metric]:
        seen: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        with self._hw_lock:
            for family in families:
                if family.type != "counter":
                    continue
                for i, sample in enumerate(family.samples):
                    key = (sample.name, tuple(sorted(sample.labels.items())))
                    value = max(sample.value, self._high_water.get(key, sample.value))
                    seen[key] = value
                    if value != sample.value:
                        family.samples[i] = sample._replace(value=value)
            self._high_water = seen  # series of apps that are gone are forgotten
        return families

    def describe(self) -> list[Metric]:
        """The families this collector yields, without samples (lets ``?name[]=`` pick them)."""
        empty = AgentHealth({}, {}, 0, 0, 0, 0, tls_handshake_failures=0)
        return [*app_families([]), *health_families(empty), collect_duration_family(0.0)]

    def collect(self) -> Iterator[Metric]:
        """Build and yield the families (called by the registry at each scrape)."""
        began = time.perf_counter()
        reports, health = self.source.metrics_snapshot()
        yield from self._monotonic(app_families(reports))
        yield from health_families(health)
        yield collect_duration_family(time.perf_counter() - began)


def collect_duration_family(seconds: float) -> Metric:
    """``sparkprobe_agent_collect_duration_seconds``: what this scrape cost the agent."""
    return GaugeMetricFamily(
        "sparkprobe_agent_collect_duration_seconds", "Time this scrape spent building the families.", value=seconds
    )


def health_families(health: AgentHealth) -> list[Metric]:
    """The agent's self-metrics: what it refused, its connections, its apps."""
    bad_f = CounterMetricFamily(
        "sparkprobe_agent_bad_lines", "Lines the agent could not use, by reason.", labels=["reason"]
    )
    for reason in BAD_LINE_REASONS:
        bad_f.add_metric([reason], health.bad_lines.get(reason, 0))
    rej = CounterMetricFamily(
        "sparkprobe_agent_connections_rejected", "Connections refused at the hello, by reason.", labels=["reason"]
    )
    for reason in REJECT_REASONS:
        rej.add_metric([reason], health.rejected.get(reason, 0))
    out: list[Metric] = [
        bad_f,
        rej,
        GaugeMetricFamily("sparkprobe_agent_connections_open", "Open listener connections.",
                          value=health.connections_open),
        CounterMetricFamily("sparkprobe_agent_connections", "Listener connections accepted.",
                            value=health.connections_total),
        GaugeMetricFamily("sparkprobe_agent_apps", "Applications held (running and within retention).",
                          value=health.apps_held),
        CounterMetricFamily(
            "sparkprobe_agent_apps_over_limit", "Applications refused because the agent's app cap was reached.",
            value=health.apps_over_limit,
        ),
    ]
    if health.tls_handshake_failures is not None:  # only an agent serving TLS on its event port has it
        out.append(CounterMetricFamily(
            "sparkprobe_agent_tls_handshake_failures",
            "Connections to the TLS event port whose TLS handshake failed (plain TCP, untrusted certificate...).",
            value=health.tls_handshake_failures,
        ))
    return out


def make_registry(source: MetricsSource) -> CollectorRegistry:
    """A fresh registry holding only sparkprobe's collector for ``source`` (tests read samples from it)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AgentCollector(source))
    return registry
