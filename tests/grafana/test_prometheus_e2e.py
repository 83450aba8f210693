"""Dashboards, rules and the Pushgateway exporter against real Prometheus, Pushgateway and Spark.

The end-to-end test runs a real local-cluster Spark job whose cached RDD is lost when dynamic
allocation reclaims its executors, with a real agent in-process, a real ``prometheus`` loading
grafana/alerts/*.yaml and scraping the agent and a real ``prometheus-pushgateway``. It checks that
every query of every dashboard returns data, that SparkprobeCachedDataLost fires, that the finished
app's figures reach Prometheus through the Pushgateway, and that ``promtool check metrics`` finds
nothing to say about the agent's exposition. A second agent, scraped under the same job, holds an
older copy of the same app (as an agent does after the app's listener moved away): the app still
raises one alert, counts once, and no rule or query fails on the two copies. The smaller tests pin
the exporter's behaviour.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from conftest import DYNAMIC_CONF, REPO, free_port, need_binary, wait_executors
from sparkprobe.agent import Agent, AppRecord
from sparkprobe.analysis.state import AppState
from sparkprobe.events import (
    AppEnd,
    AppStart,
    BlockUpdated,
    Conf,
    ExecutorAdded,
    ExecutorRemoved,
    ListenerStats,
)
from sparkprobe.model import AppReport
from sparkprobe.outputs.pushgateway import PushgatewayExporter, delete_app, push_app
from sparkprobe.service import AgentService, AgentSettings

ROOT = REPO
RULE_FILES = [
    ROOT / "grafana" / "alerts" / "sparkprobe-rules.yaml",
    ROOT / "grafana" / "alerts" / "sparkprobe-alerts.yaml",
]
DASHBOARDS = sorted((ROOT / "grafana" / "dashboards").glob("*.json"))


# ---------------------------------------------------------------------------- helpers


def poll(fn: Callable[[], Any], timeout_s: float, interval_s: float = 0.25) -> Any:
    """Call ``fn`` until it returns something truthy or the deadline passes; return the last value."""
    deadline = time.monotonic() + timeout_s
    value = fn()
    while not value and time.monotonic() < deadline:
        time.sleep(interval_s)
        value = fn()
    return value


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-n:])
    except OSError:
        return ""


class Processes:
    """Subprocesses a test started; each is stopped (TERM, then KILL) by the fixture's finalizer."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.procs: list[tuple[subprocess.Popen[bytes], Any]] = []

    def start(self, name: str, argv: list[str]) -> tuple[subprocess.Popen[bytes], Path]:
        log = self.tmp_path / f"{name}.log"
        fh = open(log, "wb")
        proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.procs.append((proc, fh))
        return proc, log

    def stop_all(self) -> None:
        for proc, fh in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=15)
            fh.close()
        self.procs.clear()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(tmp_path)
    yield procs
    procs.stop_all()


def start_pushgateway(processes: Processes) -> str:
    binary = need_binary("prometheus-pushgateway")
    port = free_port()
    # --persistence.file= : in memory only (Debian's build defaults to a file under /var/lib).
    proc, log = processes.start(
        "pushgateway", [binary, f"--web.listen-address=127.0.0.1:{port}", "--persistence.file="]
    )
    url = f"http://127.0.0.1:{port}"
    assert poll(lambda: http_ok(f"{url}/-/ready") or proc.poll() is not None, 30) and proc.poll() is None, (
        tail(log)
    )
    return url


def start_prometheus(processes: Processes, tmp_path: Path, agent_targets: list[str], pushgateway_target: str) -> str:
    binary = need_binary("prometheus")
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n"
        "  scrape_interval: 1s\n"
        "  scrape_timeout: 1s\n"
        "  evaluation_interval: 1s\n"
        "rule_files:\n" + "".join(f"  - {json.dumps(str(p))}\n" for p in RULE_FILES) + "scrape_configs:\n"
        "  - job_name: sparkprobe\n"
        "    static_configs:\n"
        f"      - targets: {json.dumps(agent_targets)}\n"
        "  - job_name: pushgateway\n"
        "    honor_labels: true\n"
        "    static_configs:\n"
        f"      - targets: [{json.dumps(pushgateway_target)}]\n",
        encoding="utf-8",
    )
    proc, log = processes.start(
        "prometheus",
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
    )
    url = f"http://127.0.0.1:{port}"
    assert poll(lambda: http_ok(f"{url}/-/ready") or proc.poll() is not None, 60) and proc.poll() is None, (
        tail(log)
    )
    return url


def prom_get(base: str, path: str, params: dict[str, str] | None = None) -> Any:
    data = urllib.parse.urlencode(params).encode() if params is not None else None
    try:
        with urllib.request.urlopen(f"{base}{path}", data=data, timeout=10) as resp:
            body = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise AssertionError(
            f"{path} {params}: HTTP {exc.code}: {exc.read().decode(errors='replace')}"
        ) from None
    assert body["status"] == "success", body
    return body["data"]


def query(base: str, expr: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = prom_get(base, "/api/v1/query", {"query": expr})["result"]
    return result


def firing(base: str, alertname: str, **labels: str) -> list[dict[str, Any]]:
    alerts = prom_get(base, "/api/v1/alerts")["alerts"]
    return [
        a
        for a in alerts
        if a["labels"].get("alertname") == alertname
        and a["state"] == "firing"
        and all(a["labels"].get(k) == v for k, v in labels.items())
    ]


def dashboard_queries() -> list[tuple[str, str, str]]:
    """(dashboard uid, panel title, expr) of every query of every dashboard."""
    out = []
    for path in DASHBOARDS:
        model = json.loads(path.read_text(encoding="utf-8"))
        for panel in model["panels"]:
            for target in panel.get("targets", []):  # row headers have none
                out.append((model["uid"], panel["title"], target["expr"]))
    return out


def regex_value(value: str) -> str:
    """A literal as a PromQL regex inside a double-quoted string (as Grafana formats one value)."""
    return re.sub(r"([.*+?()\[\]{}|^$\\])", r"\\\\\1", value)


def substitute(expr: str, app_name: str, app_id: str) -> str:
    """Fill the dashboard variables the way Grafana does for one selected app."""
    return (
        expr.replace("$__rate_interval", "30s")
        .replace("$__range", "1h")
        .replace("$app_name", regex_value(app_name))
        .replace("$app_id", regex_value(app_id))
    )


def synthetic_record(agent: Agent, app_id: str, app_name: str, ended: bool = True) -> AppRecord:
    """An app fed through Agent.ingest: one executor reclaimed with a cached block."""
    rec = agent.apps[app_id] = AppRecord(AppState(app_id, agent.limits))
    events: list[Any] = [
        AppStart(app_id, app_name, "u", 1_000, "4.3.0"),
        Conf({"spark.dynamicAllocation.enabled": "true"}),
        ExecutorAdded("1", "h", 2, 1_000),
        BlockUpdated("rdd_3_0", "1", True, False, False, True, 1, 4096, 0),
        ExecutorRemoved("1", 8_000, "Executor killed by driver."),
        ListenerStats(offered=5, dropped=0, processing_ns=5_000),
    ]
    if ended:
        events.append(AppEnd(10_000))
    agent.ingest(rec, events)
    return rec


def old_copy(agent: Agent, app_id: str, app_name: str, spark_version: str, user: str) -> AppRecord:
    """An agent's copy of an app whose listener has moved on: one executor reclaimed with a block."""
    rec = agent.apps[app_id] = AppRecord(AppState(app_id, agent.limits))
    agent.ingest(
        rec,
        [
            AppStart(app_id, app_name, user, 1_000, spark_version),
            Conf({"spark.dynamicAllocation.enabled": "true"}),
            ExecutorAdded("1", "h", 1, 1_000),
            BlockUpdated("rdd_3_0", "1", True, False, False, True, 1, 4096, 0),
            ExecutorRemoved("1", 8_000, "Executor killed by driver."),
            ListenerStats(offered=5, dropped=0, processing_ns=5_000),
        ],
    )
    return rec


def pushed_samples(pushgateway: str) -> list[Any]:
    with urllib.request.urlopen(f"{pushgateway}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return [
        s
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
        if s.name.startswith("sparkprobe_")
    ]


# ---------------------------------------------------------------------------- the exporter alone


def test_exporter_counts_failures_and_never_raises() -> None:
    exporter = PushgatewayExporter(f"http://127.0.0.1:{free_port()}", attempts=2, backoff_s=0.01, timeout=2)
    agent = Agent(on_app_end=exporter)
    synthetic_record(agent, "app-1", "unreachable")  # AppEnd → on_app_end → queued push
    assert exporter.flush(30)
    assert (exporter.pushed, exporter.failed, exporter.dropped) == (0, 1, 0)
    assert exporter.last_error and "URLError" in exporter.last_error
    text = generate_latest(exporter).decode()  # type: ignore[arg-type]
    assert 'sparkprobe_pushgateway_pushes_total{result="failure"} 1.0' in text
    exporter.close()


def test_exporter_never_blocks_the_agent_and_drops_past_its_queue() -> None:
    release = threading.Event()
    calls: list[str] = []

    def slow_push(url: str, report: AppReport, **_: Any) -> None:
        calls.append(report.app_id)
        release.wait(10)

    exporter = PushgatewayExporter("http://unused", max_pending=1, push=slow_push)
    agent = Agent(on_app_end=exporter)
    for i in range(4):  # one in flight, one queued, two dropped
        synthetic_record(agent, f"app-{i}", "slow")
        if i == 0:
            assert poll(lambda: calls, 5)
    # Every app ended while the first push was still blocked: on_app_end did not wait for it.
    assert calls == ["app-0"] and exporter.dropped == 2
    release.set()
    assert exporter.flush(10)
    assert (exporter.pushed, exporter.dropped) == (2, 2)
    exporter.close()


def test_service_runs_its_own_hook_and_the_push() -> None:
    seen: list[str] = []
    settings = AgentSettings(listen="127.0.0.1:0", metrics=None, pushgateway=f"http://127.0.0.1:{free_port()}")
    service = AgentService(settings, on_app_end=lambda report: seen.append(report.app_id)).start()
    try:
        assert service.agent is not None and service.pushgateway is not None
        synthetic_record(service.agent, "app-9", "chained")
        assert service.pushgateway.flush(30)
        assert seen == ["app-9"] and service.pushgateway.failed == 1  # nothing listens there
    finally:
        service.stop()


def test_exporter_pushes_the_agents_headline_report() -> None:
    reports: list[AppReport] = []
    agent = Agent()
    rec = synthetic_record(agent, "app-5", "forms")
    rec.state.listener_dropped = 3  # as if the listener had reported drops
    expected = agent.report(rec, detail=False)
    exporter = PushgatewayExporter("http://unused", push=lambda url, report, **_: reports.append(report))
    exporter(expected)
    assert exporter.flush(10) and exporter.pushed == 1
    exporter.close()
    (report,) = reports
    assert report.incomplete and report.transport is not None and report.transport.events_received == 7
    assert report.cache.lost_blocks == 1 and not report.detail


@pytest.mark.prometheus
def test_push_replaces_the_group_and_delete_removes_it(processes: Processes) -> None:
    pushgateway = start_pushgateway(processes)
    agent = Agent()
    name = "nightly etl/v2"  # a space and a slash: the grouping key must be encoded
    first = agent.report(synthetic_record(agent, "app-1", name), detail=False)
    second = agent.report(synthetic_record(agent, "app-2", name), detail=False)

    push_app(pushgateway, first)
    samples = pushed_samples(pushgateway)
    assert {s.labels["app_id"] for s in samples} == {"app-1"}
    assert all(s.labels["job"] == "sparkprobe" and s.labels["app_name"] == name for s in samples)
    lost = [s for s in samples if s.name == "sparkprobe_cache_lost_blocks_total" and s.value > 0]
    assert [(s.labels["reason"], s.value) for s in lost] == [("dynamic_allocation", 1.0)]
    assert any(s.name == "sparkprobe_last_push_timestamp_seconds" for s in samples)

    # The next run of the same application replaces the group: no stale app-1 series remain.
    push_app(pushgateway, second)
    assert {s.labels["app_id"] for s in pushed_samples(pushgateway)} == {"app-2"}

    # per_run keeps one group per run, until deleted.
    push_app(pushgateway, first, per_run=True)
    assert {s.labels["app_id"] for s in pushed_samples(pushgateway)} == {"app-1", "app-2"}
    delete_app(pushgateway, name, app_id="app-1")
    delete_app(pushgateway, name)
    assert pushed_samples(pushgateway) == []


# ---------------------------------------------------------------------------- end to end


@pytest.mark.spark
@pytest.mark.prometheus
def test_dashboards_alerts_and_pushgateway_on_a_real_spark_run(
    spark_factory: Any, processes: Processes, tmp_path: Path
) -> None:
    promtool = need_binary("promtool")
    need_binary("prometheus")
    need_binary("prometheus-pushgateway")
    pytest.importorskip("pyspark")
    from pyspark import StorageLevel

    from sparkprobe._jar import LISTENER_CLASS, jar_path

    token = "e2e-secret"
    pushgateway = start_pushgateway(processes)
    service = AgentService(
        AgentSettings(listen="127.0.0.1:0", metrics="127.0.0.1:0", token=token, pushgateway=pushgateway)
    ).start()
    # A second agent replica (its /metrics only): it will hold an older copy of the same app.
    other = AgentService(AgentSettings(listen="127.0.0.1:0", metrics="127.0.0.1:0", token=token)).start()
    assert service.agent is not None and service.metrics is not None and service.metrics.address is not None
    assert other.agent is not None and other.metrics is not None and other.metrics.address is not None
    agent, server, exporter = service.agent, service.metrics, service.pushgateway
    other_agent = other.agent
    agent_host, agent_port = service.endpoint.rsplit(":", 1)
    metrics_host, metrics_port = service.metrics.address
    other_host, other_port = other.metrics.address
    try:
        prometheus = start_prometheus(
            processes,
            tmp_path,
            [f"{metrics_host}:{metrics_port}", f"{other_host}:{other_port}"],
            pushgateway.removeprefix("http://"),
        )
        assert poll(lambda: len(query(prometheus, 'up{job="sparkprobe"} == 1')) == 2, 30), (
            "Prometheus never scraped both agents"
        )

        app_name = "sparkprobe-e2e-prometheus"
        spark = spark_factory(
            app_name,
            {
                **DYNAMIC_CONF,
                "spark.jars": jar_path(),
                "spark.extraListeners": LISTENER_CLASS,
                "spark.sparkprobe.endpoint": f"{agent_host}:{agent_port}",
                "spark.sparkprobe.token": token,
                # The memory panels need executor metrics peaks: polled every 100 ms, each task
                # reports its own (the default polls only at heartbeats, every 10 s, longer than
                # these executors live). The cost panels need prices: without one no money figure
                # exists (docs/figures.md, "Cost").
                "spark.executor.metrics.pollingInterval": "100ms",
                # One executor stays (the floor) while the other is reclaimed with its cache: the
                # per-executor memory panel divides by the active executors and needs one.
                "spark.dynamicAllocation.minExecutors": "1",
                "spark.sparkprobe.price.coreHour": "0.05",
                "spark.sparkprobe.price.gibHour": "0.01",
            },
        )
        sc = spark.sparkContext
        app_id = sc.applicationId
        # The other agent's copy of this app: what an agent keeps after the app's listener moved
        # to another agent (one executor, one cached block lost, then nothing new).
        old_copy(other_agent, app_id, app_name, spark.version, sc.sparkUser())
        wait_executors(sc, 2)
        sc.setJobGroup("e2e-load", "the e2e job")  # a tenant for the "Who uses the executors" panel
        cached = sc.parallelize(range(40_000), 4).map(lambda x: (x % 7, x)).persist(StorageLevel.MEMORY_ONLY)
        assert cached.count() == 40_000

        # Dynamic allocation reclaims one executor after cachedExecutorIdleTimeout (5 s); the floor keeps one.
        lost = poll(lambda: agent.snapshot(app_id).get("cache_lost_blocks", 0), 120, 0.5)
        assert lost > 0, agent.snapshot(app_id)
        # Prometheus has seen the loss (a scrape later) and the alert fires: it has no `for:`.
        selector = f'app_id="{app_id}"'
        assert poll(
            lambda: query(prometheus, f"sum(sparkprobe_cache_lost_blocks_total{{{selector}}}) > 0"), 30
        )
        assert poll(lambda: firing(prometheus, "SparkprobeCachedDataLost", app_id=app_id), 60), (
            prom_get(prometheus, "/api/v1/alerts"),
            tail(tmp_path / "prometheus.log"),
        )
        alerts = firing(prometheus, "SparkprobeCachedDataLost", app_id=app_id)
        assert len(alerts) == 1, alerts  # one alert for the app, whichever agents hold copies
        alert = alerts[0]
        assert alert["labels"]["reason"] == "dynamic_allocation" and alert["labels"]["app_name"] == app_name
        assert alert["annotations"]["runbook_url"].endswith("#sparkprobecacheddatalost")
        # Both agents expose the app: the dashboards count it once, and both agents as up.
        assert len(query(prometheus, f'sparkprobe_app_info{{{selector}, instance!=""}}')) == 2
        health = {title: expr for uid, title, expr in dashboard_queries() if uid == "sparkprobe-health"}
        held = query(prometheus, substitute(health["Applications held"], app_name, app_id))
        assert [float(s["value"][1]) for s in held] == [1.0], held
        up = query(prometheus, substitute(health["Agents up"], app_name, app_id))
        assert [float(s["value"][1]) for s in up] == [2.0], up

        # Every query of every dashboard returns data for this app (the Pushgateway panels once
        # the app was pushed, below).
        queries = [
            (uid, title, substitute(expr, app_name, app_id)) for uid, title, expr in dashboard_queries()
        ]
        after_push = [q for q in queries if "sparkprobe_last_push_timestamp_seconds" in q[2]]
        before = [q for q in queries if q not in after_push]
        assert before and after_push
        missing = _without_data(prometheus, before, 60)
        assert not missing, f"dashboard queries without data: {missing}"
        # Every rule evaluates without error (no many-to-many match, no bad template).
        rules = [r for g in prom_get(prometheus, "/api/v1/rules")["groups"] for r in g["rules"]]
        defined = sum(
            len(re.findall(r"(?m)^\s*- (?:record|alert): ", p.read_text(encoding="utf-8")))
            for p in RULE_FILES
        )
        assert len(rules) == defined and all(r["health"] == "ok" for r in rules), [
            (r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"
        ]

        # The app ends: the exporter pushes its final figures; Prometheus scrapes them from the
        # Pushgateway with the pushed job and app labels (honor_labels), and no instance label.
        spark.stop()
        assert poll(lambda: exporter is not None and exporter.pushed + exporter.failed > 0, 60, 0.2), (
            "never pushed"
        )
        assert exporter.flush(30) and exporter.pushed == 1, exporter.last_error
        pushed = poll(
            lambda: query(
                prometheus,
                f'sparkprobe_cache_lost_blocks_total{{job="sparkprobe", instance="", {selector}, '
                f'app_name="{app_name}", reason="dynamic_allocation"}}',
            ),
            30,
        )
        assert pushed, "the pushed figures never reached Prometheus"
        assert pushed[0]["metric"]["job"] == "sparkprobe" and pushed[0]["metric"]["app_name"] == app_name
        final = agent.snapshot(app_id)
        assert not final["running"]
        assert float(pushed[0]["value"][1]) == final["cache_lost_by_cause"]["dynamic_allocation"][0] >= lost
        stamp = query(prometheus, f'sparkprobe_last_push_timestamp_seconds{{job="sparkprobe", {selector}}}')
        assert stamp and stamp[0]["metric"]["app_name"] == app_name
        missing = _without_data(prometheus, after_push, 30)
        assert not missing, f"dashboard queries without data: {missing}"

        # The agent's exposition passes promtool's linter.
        with urllib.request.urlopen(server.url, timeout=10) as resp:
            exposition = resp.read()
        lint = subprocess.run(
            [promtool, "check", "metrics"], input=exposition, capture_output=True, check=False
        )
        assert lint.returncode == 0 and not (lint.stdout + lint.stderr).strip(), lint.stdout + lint.stderr
    finally:
        service.stop(push_timeout_s=5)
        other.stop()


def _without_data(prometheus: str, queries: list[tuple[str, str, str]], timeout_s: float) -> list[str]:
    """The queries still returning no series once the deadline passed (polled together)."""
    pending = list(queries)
    deadline = time.monotonic() + timeout_s
    while pending and time.monotonic() < deadline:
        pending = [q for q in pending if not query(prometheus, q[2])]
        if pending:
            time.sleep(1)
    return [f"{uid} / {title}: {expr}" for uid, title, expr in pending]
