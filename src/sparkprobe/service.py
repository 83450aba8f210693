"""The composition root: the one place that wires the agent, ``/metrics`` and the Pushgateway.

``sparkprobe agent``, ``attach``/``configure`` (:mod:`sparkprobe.bridge`), ``sparkprobe submit`` and
``sparkprobe demo`` all run an :class:`AgentService`; each default is declared once, in
:class:`AgentSettings`, and the command line reads its defaults from there. Start order: the agent's
event port, then ``/metrics`` (whose registry holds the agent's collector and the Pushgateway
exporter's push counters); stop order is the reverse, and pending pushes are flushed last.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields

from sparkprobe._logging import get_logger
from sparkprobe.agent import Agent, AppRecord, parse_hostport
from sparkprobe.analysis.state import Limits
from sparkprobe.model import AppReport, Finding
from sparkprobe.outputs.exposition import MetricsServer
from sparkprobe.outputs.prometheus import make_registry
from sparkprobe.outputs.pushgateway import DEFAULT_JOB, PushgatewayExporter

__all__ = ["DEFAULTS", "AgentService", "AgentSettings", "ServiceError", "price_value"]


@dataclass(frozen=True, slots=True)
class AgentSettings:
    """How an agent service runs. Every default here is the one the CLI shows (docs/configuration.md)."""

    #: Event port ``HOST:PORT`` (port 0: a free one).
    listen: str = "127.0.0.1:7733"
    #: ``/metrics`` ``HOST:PORT``; None serves no HTTP endpoint.
    metrics: str | None = "127.0.0.1:9733"
    #: Shared secret every listener must send (``spark.sparkprobe.token``); empty accepts any.
    token: str = ""
    #: Seconds a finished app keeps its series.
    retention_s: float = 300.0
    #: Seconds after its driver disconnected without ApplicationEnd before an app is closed.
    app_timeout_s: float = 300.0
    #: Applications tracked at once.
    max_apps: int = 1000
    #: Longest wire line accepted (bytes); longer lines are skipped and counted.
    max_line_bytes: int = 1 << 20
    #: Seconds an executor may sit idle before it is a finding (apps may set their own).
    idle_threshold_s: float = Limits().idle_threshold_s
    #: PEM certificate (chain) and key: serve the event port over TLS.
    tls_cert: str | None = None
    tls_key: str | None = None
    #: PEM certificate and key: serve ``/metrics`` over TLS.
    metrics_tls_cert: str | None = None
    metrics_tls_key: str | None = None
    #: Push each finished app's final figures to this Pushgateway URL.
    pushgateway: str | None = None
    pushgateway_job: str = DEFAULT_JOB
    #: One Pushgateway group per run (``app_id`` in the grouping key) instead of one per app name.
    pushgateway_per_run: bool = False
    #: Log each finding as a structlog line (``submit`` prints them itself).
    log_findings: bool = True
    #: Prices per core-hour and per GiB-hour of executor memory for apps that set none
    #: (``spark.sparkprobe.price.*``); None: no money figure (docs/figures.md, "Cost").
    price_core_hour: float | None = None
    price_gib_hour: float | None = None
    #: Tenants (sessions, users, tags, job groups, pools) kept per kind and app; the rest fold into ``other``.
    max_tenants: int = Limits().max_tenants
    #: Graceful stop (SIGTERM): seconds listeners get to leave after the "go elsewhere" line.
    drain_timeout_s: float = 5.0
    #: Graceful stop: seconds to wait for one more ``/metrics`` scrape after the listeners left
    #: (only when ``/metrics`` was scraped before). 0, the default, does not wait: a person's
    #: Ctrl-C stops at once; a deployment sets about one scrape interval (deploy/, 30 s).
    last_scrape_timeout_s: float = 0.0


#: The defaults, for the command line's ``--help``.
DEFAULTS = AgentSettings()


class ServiceError(Exception):
    """The service cannot start as configured; the message says why and what to do."""


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


class AgentService:
    """An agent with its ``/metrics`` endpoint and optional Pushgateway exporter, started and stopped together.

    ``on_finding`` and ``on_app_end`` are extra hooks (the Pushgateway push, when configured, runs
    after ``on_app_end``).
    """

    def __init__(
        self,
        settings: AgentSettings = DEFAULTS,
        *,
        on_finding: Callable[[AppRecord, Finding], None] | None = None,
        on_app_end: Callable[[AppReport], None] | None = None,
    ) -> None:
        """Configure; nothing runs until :meth:`start`."""
        self.settings = settings
        self.agent: Agent | None = None
        self.metrics: MetricsServer | None = None
        self.pushgateway: PushgatewayExporter | None = None
        self._on_finding = on_finding
        self._on_app_end = on_app_end

    def _check(self) -> tuple[tuple[str, int], tuple[str, int] | None]:
        s = self.settings
        try:
            listen = parse_hostport(s.listen)
            metrics = parse_hostport(s.metrics) if s.metrics is not None else None
        except ValueError as exc:
            raise ServiceError(str(exc)) from None
        if not _is_loopback(listen[0]) and not s.token:
            raise ServiceError(
                f"refusing to listen on {listen[0]} without --token: anyone who can reach it could feed it "
                "data. Pass --token (and set spark.sparkprobe.token), or bind 127.0.0.1."
            )
        if bool(s.tls_cert) != bool(s.tls_key):
            raise ServiceError("--tls-cert and --tls-key go together")
        if bool(s.metrics_tls_cert) != bool(s.metrics_tls_key):
            raise ServiceError("--metrics-tls-cert and --metrics-tls-key go together")
        return listen, metrics

    def _ssl_context(self) -> ssl.SSLContext | None:
        s = self.settings
        if not s.tls_cert or not s.tls_key:
            return None
        from sparkprobe.tls import server_context

        try:
            return server_context(s.tls_cert, s.tls_key)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            raise ServiceError(f"cannot load --tls-cert/--tls-key: {exc}") from None

    def start(self) -> AgentService:
        """Start the event port, then ``/metrics``; raise :class:`ServiceError` with a clear text."""
        listen, metrics_at = self._check()
        s = self.settings
        if s.pushgateway:
            self.pushgateway = PushgatewayExporter(s.pushgateway, job=s.pushgateway_job, per_run=s.pushgateway_per_run)
        agent = Agent(
            token=s.token,
            retention_s=s.retention_s,
            app_timeout_s=s.app_timeout_s,
            limits=Limits(
                idle_threshold_s=s.idle_threshold_s, price_core_hour=s.price_core_hour,
                price_gib_hour=s.price_gib_hour, max_tenants=s.max_tenants,
            ),
            max_apps=s.max_apps,
            max_line_bytes=s.max_line_bytes,
            on_app_end=self._app_ended,
            on_finding=self._on_finding,
            log_findings=s.log_findings,
            ssl_context=self._ssl_context(),
        )
        try:
            agent.start(*listen)
        except OSError as exc:
            raise ServiceError(f"cannot listen on {s.listen}: {exc.strerror or exc}") from None
        self.agent = agent
        if metrics_at is not None:
            registry = make_registry(agent)
            if self.pushgateway is not None:
                registry.register(self.pushgateway)  # sparkprobe_pushgateway_pushes_total{result}
            server = MetricsServer(
                registry,
                app_names=agent.app_names,
                ready=lambda: agent.address is not None and not agent.draining,
                certfile=s.metrics_tls_cert,
                keyfile=s.metrics_tls_key,
            )
            try:
                server.start(*metrics_at)
            except OSError as exc:
                agent.stop()
                self.agent = None
                raise ServiceError(f"cannot serve metrics on {s.metrics}: {exc.strerror or exc}") from None
            self.metrics = server
        return self

    def _app_ended(self, report: AppReport) -> None:
        # The agent logs and counts a hook that raises; the push runs even if the user's hook failed.
        try:
            if self._on_app_end is not None:
                self._on_app_end(report)
        finally:
            if self.pushgateway is not None:
                self.pushgateway(report)

    @property
    def endpoint(self) -> str:
        """``host:port`` listeners send to (``spark.sparkprobe.endpoint``)."""
        assert self.agent is not None and self.agent.address is not None, "service not started"
        return f"{self.agent.address[0]}:{self.agent.address[1]}"

    @property
    def metrics_url(self) -> str | None:
        """The ``/metrics`` URL, or None without a metrics endpoint."""
        return self.metrics.url if self.metrics is not None else None

    def stop(self, push_timeout_s: float = 10.0) -> None:
        """Stop ``/metrics`` and the event port, then finish the pending pushes (bounded)."""
        if self.metrics is not None:
            self.metrics.stop()
            self.metrics = None
        if self.agent is not None:
            self.agent.stop()
        if self.pushgateway is not None:
            self.pushgateway.close(push_timeout_s)

    def shutdown(self, hurry: threading.Event | None = None, push_timeout_s: float = 10.0) -> None:
        """Graceful stop (what ``sparkprobe agent`` does on SIGTERM); :meth:`stop` is the quick one.

        1. ``/readyz`` turns 503 and the event port closes: nothing new lands here;
        2. every listener gets the "go elsewhere" line and reconnects to its next endpoint at once;
           this agent reads what they wrote until they close (``drain_timeout_s``), and their apps
           freeze at their last event;
        3. pending Pushgateway pushes of finished apps are sent (``push_timeout_s``);
        4. ``/metrics`` serves one more scrape, so Prometheus holds every figure this agent counted
           (``last_scrape_timeout_s``, only if it was scraped before);
        5. then the quick stop. ``hurry`` set (a second signal) skips the waits left.
        """
        log = get_logger()
        began = time.monotonic()
        agent, metrics = self.agent, self.metrics
        if agent is not None:
            agent.drain(self.settings.drain_timeout_s)
        if self.pushgateway is not None and not (hurry and hurry.is_set()):
            self.pushgateway.flush(push_timeout_s)
        scraped = False
        if metrics is not None and metrics.scrapes_served > 0 and self.settings.last_scrape_timeout_s > 0:
            seen, deadline = metrics.scrapes_served, time.monotonic() + self.settings.last_scrape_timeout_s
            log.info("waiting_for_last_scrape", timeout_s=self.settings.last_scrape_timeout_s,
                     note="a second SIGTERM or SIGINT stops at once")
            while not scraped and time.monotonic() < deadline and not (hurry and hurry.is_set()):
                scraped = metrics.wait_for_scrape(seen, min(0.2, max(0.0, deadline - time.monotonic())))
        log.info("agent_drained", last_scrape=scraped, seconds=round(time.monotonic() - began, 3))
        self.stop(push_timeout_s=0 if hurry and hurry.is_set() else push_timeout_s)

    def __enter__(self) -> AgentService:
        """Start on entering a ``with`` block."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop on leaving it."""
        self.stop()


def price_value(text: str) -> float:
    """A ``--price-*`` flag's value: a finite number >= 0 (``0.045``); ValueError otherwise."""
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"not a price: {text!r} (a number >= 0, e.g. 0.045)")
    return value


def setting_names() -> list[str]:
    """Every :class:`AgentSettings` field (a test holds them to the CLI and docs/configuration.md)."""
    return [f.name for f in fields(AgentSettings)]
