"""Push a finished application's final figures to a Prometheus Pushgateway.

The agent drops an app's series some time after it ended (``--retention``); a Pushgateway keeps
the final figures until they are replaced or deleted, so a dashboard or an alert can still read a
batch job that ended between two scrapes, or long after.

What is pushed for one app: exactly the per-app families the agent exposes for it
(:func:`sparkprobe.outputs.prometheus.app_families`, same names, types and labels) plus
``sparkprobe_last_push_timestamp_seconds``. The push is a PUT: it replaces the whole group, so a
second push for the same group never leaves stale series behind.

Grouping key: ``job`` (default ``sparkprobe``) and ``app_name``; ``app_id`` is a label on every
pushed series either way. By default the next run of the same application name replaces the
previous run's group, which keeps the Pushgateway bounded (one group per application name, the
Prometheus batch-job pattern). ``per_run=True`` adds ``app_id`` to the grouping key: every run
keeps its own group until :func:`delete_app` removes it (the Pushgateway has no expiry). See
docs/grafana.md, "Pushgateway".

:class:`PushgatewayExporter` is the agent's ``on_app_end`` hook (the composition root,
:mod:`sparkprobe.service`, installs it). It takes the finished app's headline report on the agent's
thread (cheap) and pushes from its own worker thread, so a slow or absent Pushgateway never blocks
the agent's event loop; failures are logged with structlog and counted, never raised.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, delete_from_gateway, push_to_gateway
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sparkprobe._logging import get_logger
from sparkprobe.model import AppReport
from sparkprobe.outputs.prometheus import app_families

__all__ = ["DEFAULT_JOB", "PushgatewayExporter", "app_registry", "delete_app", "grouping_key", "push_app"]

#: The ``job`` label of pushed groups unless told otherwise.
DEFAULT_JOB = "sparkprobe"

#: Outcomes counted by :class:`PushgatewayExporter` (a bounded label set).
RESULTS: tuple[str, ...] = ("success", "failure", "dropped")


class _Families(Collector):
    """A collector that yields a fixed list of families (one app's final figures)."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        yield from self._families


def grouping_key(report: AppReport, per_run: bool = False) -> dict[str, str]:
    """Return the Pushgateway grouping labels (besides ``job``) of this app's group."""
    key = {"app_name": report.app_name}
    if per_run:
        key["app_id"] = report.app_id
    return key


def app_registry(report: AppReport, pushed_at: float | None = None) -> CollectorRegistry:
    """Build a registry holding only this app's families and ``sparkprobe_last_push_timestamp_seconds``."""
    registry = CollectorRegistry(auto_describe=False)
    stamp = GaugeMetricFamily(
        "sparkprobe_last_push_timestamp_seconds",
        "When sparkprobe last pushed this application's figures (Unix seconds).",
        labels=["app_id", "app_name"],
    )
    stamp.add_metric([report.app_id, report.app_name], time.time() if pushed_at is None else pushed_at)
    registry.register(_Families([*app_families([report]), stamp]))
    return registry


def push_app(
    url: str,
    report: AppReport,
    job: str = DEFAULT_JOB,
    timeout: float = 10,
    *,
    per_run: bool = False,
) -> None:
    """PUT one app's figures (its headline report) to the Pushgateway at ``url``.

    Replaces the group ``{job, app_name}`` (plus ``app_id`` with ``per_run``). Raises what the
    HTTP request raises (``OSError``/``urllib.error.URLError`` when unreachable or refused);
    :class:`PushgatewayExporter` is the non-raising wrapper.
    """
    push_to_gateway(
        url,
        job=job,
        registry=app_registry(report),
        grouping_key=grouping_key(report, per_run),
        timeout=timeout,
    )


def delete_app(
    url: str, app_name: str, job: str = DEFAULT_JOB, app_id: str | None = None, timeout: float = 10
) -> None:
    """Delete an app's group from the Pushgateway (``app_id``: only for groups pushed ``per_run``).

    Raises like :func:`push_app`. Deleting a group that does not exist succeeds (the Pushgateway
    answers 202 either way).
    """
    key = {"app_name": app_name}
    if app_id is not None:
        key["app_id"] = app_id
    delete_from_gateway(url, job=job, grouping_key=key, timeout=timeout)


class PushgatewayExporter(Collector):
    """Pushes every finished app to a Pushgateway: call it with each finished app's report.

    Counters, readable as attributes and exposed as ``sparkprobe_pushgateway_pushes_total{result}``
    when this object is registered on the agent's metrics registry: ``success``, ``failure`` (every
    attempt failed; logged), ``dropped`` (the queue of pending pushes was full). ``last_error``
    holds the text of the latest failure.
    """

    def __init__(
        self,
        url: str,
        job: str = DEFAULT_JOB,
        *,
        timeout: float = 10,
        per_run: bool = False,
        attempts: int = 3,
        backoff_s: float = 0.5,
        max_pending: int = 1000,
        push: Callable[..., None] | None = None,
    ) -> None:
        """Push to ``url`` (``http://host:9091``); nothing runs until the first finished app."""
        self.url = url
        self.job = job
        self.timeout = timeout
        self.per_run = per_run
        self.attempts = max(1, attempts)
        self.backoff_s = backoff_s
        self._push = push or push_app
        self.lock = threading.Lock()
        self.counts: dict[str, int] = dict.fromkeys(RESULTS, 0)
        self.last_error: str | None = None
        self._queue: queue.Queue[AppReport | None] = queue.Queue(maxsize=max_pending)
        self._thread: threading.Thread | None = None
        self._closed = False
        self._log = get_logger(output="pushgateway")

    # ------------------------------------------------------------------ counters
    @property
    def pushed(self) -> int:
        """Apps pushed successfully."""
        return self.counts["success"]

    @property
    def failed(self) -> int:
        """Apps whose push failed after every attempt."""
        return self.counts["failure"]

    @property
    def dropped(self) -> int:
        """Apps not pushed because the queue of pending pushes was full (or the exporter closed)."""
        return self.counts["dropped"]

    def _count(self, result: str) -> None:
        with self.lock:
            self.counts[result] += 1

    # ------------------------------------------------------------------ taking reports
    def __call__(self, report: AppReport) -> None:
        """Queue the finished app's push (the agent's ``on_app_end`` signature). Never raises, never blocks."""
        self.submit(report)

    def submit(self, report: AppReport) -> None:
        """Queue one app's push (from any thread). Never raises, never blocks."""
        if self._closed:
            self._count("dropped")
            return
        self._ensure_worker()
        try:
            self._queue.put_nowait(report)
        except queue.Full:
            self._count("dropped")
            self._log.warning(
                "pushgateway_push_dropped",
                app_id=report.app_id,
                app_name=report.app_name,
                note="too many pushes pending: the Pushgateway is slow or unreachable",
            )

    def push_now(self, report: AppReport) -> bool:
        """Push one app's report on the calling thread, with retries; True on success. Never raises."""
        error = ""
        for attempt in range(1, self.attempts + 1):
            try:
                self._push(self.url, report, job=self.job, timeout=self.timeout, per_run=self.per_run)
            except Exception as exc:  # noqa: BLE001 - URLError, OSError, ValueError: all are counted
                error = f"{type(exc).__name__}: {exc}"
                if attempt < self.attempts:
                    time.sleep(self.backoff_s * attempt)
                continue
            self._count("success")
            self._log.info(
                "pushgateway_pushed",
                app_id=report.app_id,
                app_name=report.app_name,
                url=self.url,
                job=self.job,
            )
            return True
        self._count("failure")
        self.last_error = error
        self._log.error(
            "pushgateway_push_failed",
            app_id=report.app_id,
            app_name=report.app_name,
            url=self.url,
            attempts=self.attempts,
            error=error,
        )
        return False

    def _ensure_worker(self) -> None:
        with self.lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="sparkprobe-pushgateway", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            report = self._queue.get()
            try:
                if report is None:
                    return
                self.push_now(report)
            finally:
                self._queue.task_done()

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until every queued push was attempted; False if still busy after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.02)
        return self._queue.unfinished_tasks == 0

    def close(self, timeout_s: float = 10.0) -> None:
        """Finish the pending pushes (at most ``timeout_s``) and stop the worker thread."""
        self.flush(timeout_s)
        self._closed = True
        thread = self._thread
        if thread is not None and thread.is_alive():
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                return  # the daemon thread ends with the process
            thread.join(timeout=1.0)

    # ------------------------------------------------------------------ exposition
    def describe(self) -> list[Metric]:
        """The one family :meth:`collect` yields (lets ``?name[]=`` pick it)."""
        return list(self.collect())

    def collect(self) -> Iterator[Metric]:
        """``sparkprobe_pushgateway_pushes_total{result}`` for the agent's /metrics."""
        with self.lock:
            counts = dict(self.counts)
        family = CounterMetricFamily(
            "sparkprobe_pushgateway_pushes",
            "Finished applications pushed to the Pushgateway, by result (success, failure, dropped).",
            labels=["result"],
        )
        for result in RESULTS:
            family.add_metric([result], counts[result])
        yield family
