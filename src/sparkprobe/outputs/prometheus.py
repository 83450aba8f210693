"""Prometheus exposition: a custom collector that builds fresh metric families at every scrape.

Nothing is cached between scrapes: each scrape reads the agent's apps under its lock and turns
their figures into families, the way prometheus/client_python's own collectors do. Every metric
is listed with its meaning in docs/metrics.md.
"""

from __future__ import annotations

import html
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from sparkprobe.agent import Agent
from sparkprobe.analysis.causes import REMOVAL_CAUSES
from sparkprobe.analysis.state import IDLE_CAUSES, TASK_STATUSES

__all__ = ["AgentCollector", "MetricsServer", "app_families", "make_registry"]

_APP = ["app_id", "app_name"]


def app_families(summaries: list[dict[str, Any]]) -> list[Metric]:
    """The per-app families for these app summaries (also what the Pushgateway receives)."""

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
    processing = SummaryMetricFamily(
        "sparkprobe_listener_processing_seconds",
        "Time the listener spent in its on* methods on Spark's listener bus, per event offered.",
        labels=_APP,
    )

    for s in summaries:
        app = [s["app_id"], s["app_name"]]
        info.add_metric(app + [s["spark_version"], s.get("user", "")], 1)
        running.add_metric(app, 1 if s["running"] else 0)
        incomplete.add_metric(app, 1 if s.get("incomplete") else 0)
        start.add_metric(app, s["start_ms"] / 1000)
        active.add_metric(app, s["executors_active"])
        idle.add_metric(app, s["executors_idle"])
        idle_max.add_metric(app, s["executor_idle_max_seconds"])
        cores.add_metric(
            app,
            sum(e["cores"] for e in s["executors"].values() if e["removed_ms"] is None) if s["running"] else 0,
        )
        added.add_metric(app, s["executors_added"])
        for cause in REMOVAL_CAUSES:
            removed.add_metric(app + [cause], s["removed_by_reason"].get(cause, 0))
        tasks_running.add_metric(app, s["tasks"]["running"])
        for status in TASK_STATUSES:
            tasks_finished.add_metric(app + [status], s["tasks"][status])
        task_run.add_metric(app, s["tasks"]["run_seconds"])
        cached_bytes.add_metric(app + ["memory"], s["cached_bytes"]["memory"])
        cached_bytes.add_metric(app + ["disk"], s["cached_bytes"]["disk"])
        cached_blocks.add_metric(app, s["cached_blocks"])
        by_cause = s.get("cache_lost_by_cause", {})
        for cause in REMOVAL_CAUSES:
            blocks, nbytes = by_cause.get(cause, (0, 0))
            lost_blocks.add_metric(app + [cause], blocks)
            lost_bytes.add_metric(app + [cause], nbytes)
        replicas_lost.add_metric(app, s["cache_replicas_lost"])
        migrated.add_metric(app, s["cache_migrated_blocks"])
        recomputed.add_metric(app, s["cache_recomputed_blocks"])
        recompute_s.add_metric(app, s["cache_recompute_seconds"])
        uncached.add_metric(app, s["uncached_recompute_seconds"])
        allocated.add_metric(app, s["allocated_core_seconds"])
        busy.add_metric(app, s["busy_core_seconds"])
        idle_cores.add_metric(app, max(0.0, s["idle_core_seconds"]))
        for cause in IDLE_CAUSES:
            idle_by_cause.add_metric(app + [cause], s["idle_by_cause"][cause])
        for kind, n in s["findings_by_kind"].items():
            findings.add_metric(app + [kind], n)
        received.add_metric(app, s.get("events_received", 0))
        dropped.add_metric(app, s["listener"]["dropped"])
        processing.add_metric(app, count_value=s["listener"]["offered"], sum_value=s["listener"]["processing_seconds"])

    return [
        info, running, incomplete, start, active, idle, idle_max, cores, added, removed,
        tasks_running, tasks_finished, task_run, cached_bytes, cached_blocks, lost_blocks,
        lost_bytes, replicas_lost, migrated, recomputed, recompute_s, uncached, allocated, busy, idle_cores,
        idle_by_cause, findings, received, dropped, processing,
    ]


class AgentCollector(Collector):
    """Exposes every app the agent holds, plus the agent's own health, fresh at each scrape."""

    def __init__(self, agent: Agent) -> None:
        """Collect from ``agent``."""
        self.agent = agent
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

    def collect(self) -> Iterator[Metric]:
        """Build and yield the families (called by the registry at each scrape)."""
        began = time.perf_counter()
        agent = self.agent
        with agent.lock:
            summaries = [agent.summarize(rec, detail=False) for rec in agent.apps.values()]
            bad = dict(agent.bad_lines)
            rejected = dict(agent.rejected)
            conns_open = agent.connections_open
            conns_total = agent.connections_total
            apps_over = agent.apps_dropped_over_limit
            tls_failures = agent.tls_handshake_failures if agent.ssl_context is not None else None
        yield from self._monotonic(app_families(summaries))

        bad_f = CounterMetricFamily(
            "sparkprobe_agent_bad_lines", "Lines the agent could not use, by reason.", labels=["reason"]
        )
        for reason in ("json", "schema", "unknown_kind", "too_long"):
            bad_f.add_metric([reason], bad.get(reason, 0))
        yield bad_f
        rej = CounterMetricFamily(
            "sparkprobe_agent_connections_rejected", "Connections refused at the hello, by reason.", labels=["reason"]
        )
        for reason in ("bad_hello", "wire_version", "bad_token", "too_many_apps"):
            rej.add_metric([reason], rejected.get(reason, 0))
        yield rej
        yield GaugeMetricFamily("sparkprobe_agent_connections_open", "Open listener connections.", value=conns_open)
        yield CounterMetricFamily(
            "sparkprobe_agent_connections", "Listener connections accepted.", value=conns_total
        )
        yield GaugeMetricFamily(
            "sparkprobe_agent_apps", "Applications held (running and within retention).", value=len(summaries)
        )
        yield CounterMetricFamily(
            "sparkprobe_agent_apps_over_limit", "Applications refused because the agent's app cap was reached.",
            value=apps_over,
        )
        if tls_failures is not None:  # only an agent serving TLS on its event port has this family
            yield CounterMetricFamily(
                "sparkprobe_agent_tls_handshake_failures",
                "Connections to the TLS event port whose TLS handshake failed (plain TCP, untrusted certificate...).",
                value=tls_failures,
            )
        yield GaugeMetricFamily(
            "sparkprobe_agent_collect_duration_seconds", "Time this scrape spent building the families.",
            value=time.perf_counter() - began,
        )


def make_registry(agent: Agent) -> CollectorRegistry:
    """A fresh registry holding only sparkprobe's collector (tests read samples from it)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AgentCollector(agent))
    return registry


_LANDING = """<!doctype html><html><head><meta charset="utf-8"><title>sparkprobe</title></head>
<body><h1>sparkprobe agent</h1><p>Prometheus metrics: <a href="/metrics">/metrics</a></p>
<p>Applications: {apps}</p></body></html>"""


class MetricsServer:
    """Serves ``/metrics`` (Prometheus text) and a landing page at ``/``; optional TLS."""

    def __init__(
        self, agent: Agent, registry: CollectorRegistry | None = None,
        certfile: str | None = None, keyfile: str | None = None,
    ) -> None:
        """Serve ``registry`` (default: one made for ``agent``)."""
        self.agent = agent
        self.registry = registry or make_registry(agent)
        self.certfile = certfile
        self.keyfile = keyfile
        self._httpd: ThreadingHTTPServer | None = None
        self.address: tuple[str, int] | None = None

    def start(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        """Bind and serve on a daemon thread; OSError (port in use) is raised here."""
        registry = self.registry
        agent = self.agent

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    body = generate_latest(registry)
                    ctype = CONTENT_TYPE_LATEST
                elif path == "/":
                    with agent.lock:
                        names = [f"{r.state.app_name} ({r.state.app_id})" for r in agent.apps.values()]
                    body = _LANDING.format(apps=html.escape(", ".join(names) or "none yet")).encode()
                    ctype = "text/html; charset=utf-8"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
                return  # scrapes are not worth a log line each

        httpd = ThreadingHTTPServer((host, port), Handler)
        httpd.daemon_threads = True
        if self.certfile:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.certfile, self.keyfile)
            httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
        self._httpd = httpd
        threading.Thread(target=httpd.serve_forever, name="sparkprobe-metrics", daemon=True).start()
        self.address = (host, httpd.server_address[1])
        return self.address

    @property
    def url(self) -> str:
        """The /metrics URL."""
        assert self.address is not None, "server not started"
        scheme = "https" if self.certfile else "http"
        return f"{scheme}://{self.address[0]}:{self.address[1]}/metrics"

    def stop(self) -> None:
        """Stop serving."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
