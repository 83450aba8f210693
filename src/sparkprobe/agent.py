"""The agent: receives listener streams over TCP, keeps one :class:`AppState` per application.

One asyncio loop on a background thread accepts any number of concurrent connections (one per
Spark application, plus reconnects). Lines are decoded outside the lock and applied under it, so a
Prometheus scrape (another thread) always sees whole events. Everything the agent refuses is
counted: bad lines by reason, rejected connections by reason, apps and lines past the caps.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sparkprobe._logging import get_logger
from sparkprobe.analysis.report import build_report
from sparkprobe.analysis.state import AppState, Limits
from sparkprobe.events import AppEnd, AppStart, Event, ListenerStats, ReplayEnd, ReplayStart
from sparkprobe.model import AgentHealth, AppReport, Finding, Transport
from sparkprobe.sources.fastwire import FALLBACK, fast_decode_line
from sparkprobe.sources.wire import WIRE_VERSION, BadLine, decode_line, parse_hello

__all__ = ["GO_ELSEWHERE", "Agent", "AppRecord", "parse_hostport"]

_READ_CHUNK = 256 * 1024
_HELLO_TIMEOUT_S = 10.0

#: The line a stopping agent writes to each listener (docs/wire-format.md, "Graceful stop"): the
#: listener stops writing, closes, and connects to its next endpoint at once, without backoff.
GO_ELSEWHERE = b'{"go_elsewhere":true,"reason":"agent stopping"}\n'


def parse_hostport(value: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """``"host:port"``, ``":port"`` or ``"port"`` → (host, port); raises ValueError with a clear text."""
    host, sep, port = value.rpartition(":")
    if not sep:
        host, port = "", value
    host = host.strip("[]") or default_host
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"not a HOST:PORT address: {value!r}") from None
    if not 0 <= number <= 65535:
        raise ValueError(f"port out of range in {value!r}")
    return host, number


@dataclass(slots=True)
class AppRecord:
    """One application as the agent holds it: its analyzer state plus transport facts."""

    state: AppState
    events_received: int = 0
    #: Of those, the listener's own ``listener_stats`` lines (not Spark events).
    stats_received: int = 0
    connections: int = 0
    connections_total: int = 0
    #: Monotonic clock when the app ended (for retention); None while it runs.
    ended_at: float | None = None
    #: Monotonic clock when its last connection closed without the app ending.
    disconnected_at: float | None = None
    #: Set when the agent had to close the app itself (driver gone without ApplicationEnd).
    closed_by_timeout: bool = False
    #: Event-time ranges [from_ms, to_ms] in which events may be missing: the listener reported
    #: drops, or this agent joined a stream that had been sending to an agent before it.
    gaps: list[list[int]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    #: Lines received inside replays (from ``replay_start`` to ``replay_end``), not counted as events.
    events_replayed: int = 0
    #: The current connection is inside a replay.
    in_replay: bool = False

    def transport(self) -> Transport:
        """What the agent knows of this app's stream, for its report."""
        return Transport(
            events_received=self.events_received,
            closed_by_timeout=self.closed_by_timeout,
            gaps=tuple((g[0], g[1]) for g in self.gaps),
            events_replayed=self.events_replayed,
        )

    @property
    def frozen(self) -> bool:
        """Its listener went away without ``ApplicationEnd``: figures stay at its last event.

        The app may go on with another agent (its listener moved) or its driver died; either way
        this agent learns nothing more, so it measures nothing more (no "to now", no idle
        finding) until the listener comes back or ``app_timeout_s`` closes the app.
        """
        return self.ended_at is None and self.connections == 0 and self.disconnected_at is not None


class Agent:
    """Accepts listener connections and keeps the state of every application they report.

    ``token``: required in every hello when set. ``retention_s``: how long a finished app keeps its
    series. ``app_timeout_s``: an app whose driver disconnected without ApplicationEnd is closed
    after this long. ``on_app_end`` is called (on the agent thread) with each finished app's
    headline report; ``on_finding`` with each finding as it is made.
    ``ssl_context``: serve the event port over TLS with this server context
    (:func:`sparkprobe.tls.server_context`); failed handshakes are counted and logged.
    """

    def __init__(
        self,
        *,
        token: str = "",
        retention_s: float = 300.0,
        app_timeout_s: float = 300.0,
        limits: Limits | None = None,
        max_apps: int = 1000,
        max_line_bytes: int = 1 << 20,
        on_app_end: Callable[[AppReport], None] | None = None,
        on_finding: Callable[[AppRecord, Finding], None] | None = None,
        log_findings: bool = True,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """Configure; nothing listens until :meth:`start`."""
        self.token = token
        self.retention_s = retention_s
        self.app_timeout_s = app_timeout_s
        self.limits = limits or Limits()
        self.max_apps = max_apps
        self.max_line_bytes = max_line_bytes
        self.on_app_end = on_app_end
        self.on_finding = on_finding
        self.log_findings = log_findings
        self.lock = threading.RLock()
        self.apps: dict[str, AppRecord] = {}
        self.bad_lines: dict[str, int] = {}
        self.rejected: dict[str, int] = {}
        self.connections_open = 0
        self.connections_total = 0
        self.apps_dropped_over_limit = 0
        self.apps_expired = 0
        self.ssl_context = ssl_context
        #: Connections whose TLS handshake failed (a plain-TCP client, an untrusted certificate...).
        self.tls_handshake_failures = 0
        self._log = get_logger()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._housekeeper: asyncio.Task[None] | None = None
        self.address: tuple[str, int] | None = None
        #: Set by :meth:`drain`: the event port is closed and listeners are sent elsewhere.
        self.draining = False
        # Writers of accepted connections and their handler tasks (the loop thread only).
        self._streams: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ lifecycle
    def start(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        """Listen on ``host:port`` (0 picks a free port) and return the bound address.

        Raises OSError (e.g. port in use) before returning, so callers can report it clearly.
        """
        loop = asyncio.new_event_loop()
        ready: dict[str, Any] = {}
        started = threading.Event()
        tls: dict[str, Any] = {}
        if self.ssl_context is not None:
            from sparkprobe.tls import counting_handshake_failures

            counting_handshake_failures(self.ssl_context, self._tls_failed)
            tls = {"ssl": self.ssl_context, "ssl_handshake_timeout": _HELLO_TIMEOUT_S}

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._handle, host, port, limit=_READ_CHUNK, **tls)
                )
                sock = self._server.sockets[0].getsockname()
                ready["address"] = (sock[0], sock[1])
            except OSError as exc:
                ready["error"] = exc
                started.set()
                return
            self._housekeeper = loop.create_task(self._housekeeping())
            started.set()
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="sparkprobe-agent", daemon=True)
        self._thread.start()
        started.wait()
        if "error" in ready:
            raise ready["error"]
        address: tuple[str, int] = ready["address"]
        self.address = address
        return address

    def drain(self, timeout_s: float = 5.0) -> int:
        """Stop accepting, send every listener elsewhere, and wait (bounded) until they have left.

        The event port is closed first, so a listener reconnecting through a Service cannot land
        here again; then each accepted connection gets :data:`GO_ELSEWHERE` and the agent keeps
        reading what the listener wrote before it saw the line, until the listener closes (at most
        ``timeout_s``). Its apps are then frozen at their last event (:attr:`AppRecord.frozen`).
        Returns how many connections were still open when the line was sent.
        """
        loop = self._loop
        if loop is None:
            return 0
        self.draining = True

        async def send_away() -> int:
            if self._server is not None:
                self._server.close()
            streams = list(self._streams)
            for writer in streams:
                try:
                    writer.write(GO_ELSEWHERE)
                except (OSError, RuntimeError):
                    pass  # already closing
            handlers = [t for t in self._handlers if not t.done()]
            if handlers:
                _, pending = await asyncio.wait(handlers, timeout=timeout_s)
                for task in pending:
                    task.cancel()
            return len(streams)

        try:
            sent: int = asyncio.run_coroutine_threadsafe(send_away(), loop).result(timeout=timeout_s + 5)
        except Exception:  # noqa: BLE001 - stopping must not raise on a loop already gone
            return 0
        self._log.info("listeners_sent_elsewhere", connections=sent)
        return sent

    def stop(self) -> None:
        """Stop listening and close every connection."""
        loop = self._loop
        if loop is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=5)
        except Exception:  # noqa: BLE001 - stopping must not raise on a loop already gone
            pass
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._loop = None

    # ------------------------------------------------------------------ reading state
    def app(self, app_id: str | None = None) -> AppRecord | None:
        """The record of ``app_id``, or of the only/most recent app when None."""
        with self.lock:
            if app_id is not None:
                return self.apps.get(app_id)
            if not self.apps:
                return None
            return list(self.apps.values())[-1]

    def report(self, rec: AppRecord, now_ms: int | None = None, *, detail: bool = True) -> AppReport:
        """The app's report (:func:`~sparkprobe.analysis.report.build_report`) with its transport facts.

        Measured to ``now_ms`` (default: the wall clock now) while the app runs. ``detail=False``:
        the headline only, what a scrape or a push needs.
        """
        with self.lock:
            return build_report(rec.state, self._measure_to(rec, now_ms), detail=detail, transport=rec.transport())

    @staticmethod
    def _measure_to(rec: AppRecord, now_ms: int | None) -> int | None:
        """Where a report of ``rec`` measures open intervals to: now, or its last event when frozen."""
        if rec.frozen:
            return None
        return now_ms if now_ms is not None else int(time.time() * 1000)

    def snapshot(self, app_id: str | None = None, now_ms: int | None = None) -> dict[str, Any]:
        """One app's full report as its JSON object (docs/report-schema.md); {} when unknown."""
        with self.lock:
            rec = self.app(app_id)
            if rec is None:
                return {}
            return self.report(rec, now_ms).to_json()

    def metrics_snapshot(self) -> tuple[list[AppReport], AgentHealth]:
        """Headline reports of every app held, and the agent's own figures, taken at one instant.

        The narrow source :class:`sparkprobe.outputs.prometheus.AgentCollector` reads.
        """
        now = int(time.time() * 1000)
        with self.lock:
            reports = [
                build_report(r.state, self._measure_to(r, now), detail=False, transport=r.transport())
                for r in self.apps.values()
            ]
            health = AgentHealth(
                bad_lines=dict(self.bad_lines),
                rejected=dict(self.rejected),
                connections_open=self.connections_open,
                connections_total=self.connections_total,
                apps_held=len(self.apps),
                apps_over_limit=self.apps_dropped_over_limit,
                tls_handshake_failures=self.tls_handshake_failures if self.ssl_context is not None else None,
            )
        return reports, health

    def app_names(self) -> list[str]:
        """``name (id)`` of every app held, for the metrics landing page."""
        with self.lock:
            return [f"{r.state.app_name} ({r.state.app_id})" for r in self.apps.values()]

    # ------------------------------------------------------------------ feeding
    def ingest(self, rec: AppRecord, events: list[Event]) -> None:
        """Apply events to an app (the same path the TCP reader uses; tests may call it directly)."""
        ended = False
        with self.lock:
            state = rec.state
            before_time, before_dropped = state.last_time, state.listener_dropped
            for event in events:
                state.apply(event)
                kind = type(event)
                if rec.in_replay or kind is ReplayStart:
                    # What the driver knows now, repeated after a hello: not new events.
                    rec.events_replayed += 1
                    rec.in_replay = kind is not ReplayEnd
                    continue
                rec.events_received += 1
                if kind is AppEnd:
                    ended = True
                elif kind is ListenerStats:
                    rec.stats_received += 1
            if state.joined_ms is not None and not rec.extra.get("joined_gap"):
                # Taken over mid-run: everything before the replay went to another agent.
                rec.extra["joined_gap"] = rec.extra["stats_seen"] = True
                rec.gaps.append([state.start_ms, state.joined_ms])
            if not rec.extra.get("stats_seen") and state.listener_offered > 0:
                rec.extra["stats_seen"] = True
                if state.listener_reconnects > 0 and rec.connections_total == 1:
                    # A listener that had connected before, to an agent that is gone (restarted):
                    # everything it sent then is missing here.
                    rec.gaps.append([state.start_ms, state.last_time])
            dropped_now = state.listener_dropped - before_dropped
            if dropped_now > 0:
                # The listener dropped events somewhere since the last batch.
                rec.gaps.append([before_time, state.last_time])
            findings = state.take_new_findings()
        if dropped_now > 0:
            self._log.warning(
                "listener_dropping", app_id=state.app_id, app_name=state.app_name, dropped=dropped_now,
                dropped_total=state.listener_dropped, between_ms=[before_time, state.last_time],
                note="raise spark.sparkprobe.queueCapacity or check the agent's reachability",
            )
        for finding in findings:
            self._report_finding(rec, finding)
        if ended and rec.ended_at is None:
            self._finish(rec)

    def _report_finding(self, rec: AppRecord, finding: Finding) -> None:
        if self.log_findings:
            fields = {k: v for k, v in finding.to_json().items() if k not in ("kind", "message")}
            self._log.warning(finding.kind.value, app_id=rec.state.app_id, app_name=rec.state.app_name, **fields)
        if self.on_finding is not None:
            self.on_finding(rec, finding)

    def _finish(self, rec: AppRecord) -> None:
        rec.ended_at = time.monotonic()
        report = self.report(rec, detail=False)  # the log line and the hooks need headline figures only
        self._log.info(
            "app_ended",
            app_id=report.app_id,
            app_name=report.app_name,
            executors_added=report.executors_added,
            tasks_succeeded=report.tasks.success,
            idle_core_seconds=round(report.cores.idle_core_seconds, 3),
            cache_lost_blocks=report.cache.lost_blocks,
            cache_lost_bytes=report.cache.lost_bytes,
            incomplete=report.incomplete,
        )
        if self.on_app_end is not None:
            try:
                self.on_app_end(report)
            except Exception as exc:  # noqa: BLE001 - an exporter failing must not stop the agent
                self._log.error("app_end_hook_failed", app_id=report.app_id, error=str(exc))

    def _record_for(self, app_id: str) -> AppRecord | None:
        with self.lock:
            rec = self.apps.get(app_id)
            if rec is None:
                if len(self.apps) >= self.max_apps:
                    self.apps_dropped_over_limit += 1
                    return None
                rec = self.apps[app_id] = AppRecord(AppState(app_id, self.limits))
            return rec

    def _tls_failed(self, exc: ssl.SSLError) -> None:
        # Called on the agent's loop thread, inside the handshake; the peer is not known there.
        with self.lock:
            self.tls_handshake_failures += 1
        self._log.warning(
            "tls_handshake_failed",
            reason=exc.reason or type(exc).__name__,
            error=str(exc)[:300],
            note="a plain-TCP client (set spark.sparkprobe.tls.enabled=true) or a client that does not trust "
            "this certificate; counted in sparkprobe_agent_tls_handshake_failures_total",
        )

    def _count(self, table: dict[str, int], reason: str) -> None:
        with self.lock:
            table[reason] = table.get(reason, 0) + 1

    # ------------------------------------------------------------------ the connection
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        with self.lock:
            self.connections_open += 1
            self.connections_total += 1
        rec: AppRecord | None = None
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            rec = await self._handshake(reader, writer, peer)
            if rec is not None:
                self._streams.add(writer)
                await self._read_stream(reader, rec, peer)
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError):
            pass  # the peer went away, timed out, or broke TLS (ssl.SSLError is an OSError)
        except asyncio.CancelledError:
            # Agent shutdown: end the connection quietly (re-raising makes asyncio log the
            # cancelled handler task as an error).
            pass
        finally:
            self._streams.discard(writer)
            if task is not None:
                self._handlers.discard(task)
            with self.lock:
                self.connections_open -= 1
                if rec is not None:
                    rec.connections -= 1
                    if rec.connections == 0 and rec.ended_at is None:
                        rec.disconnected_at = time.monotonic()
            writer.close()

    async def _reject(self, writer: asyncio.StreamWriter, reason: str, error: str, peer: Any) -> None:
        self._count(self.rejected, reason)
        self._log.warning("connection_rejected", peer=str(peer), reason=reason, error=error)
        writer.write(b'{"ok":false,"error":' + _json_str(error) + b"}\n")
        await writer.drain()

    async def _handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: Any
    ) -> AppRecord | None:
        try:
            line = await asyncio.wait_for(reader.readline(), _HELLO_TIMEOUT_S)
        except ValueError:  # a first line longer than the read limit: not a hello
            line = b"x"
        if not line:
            return None
        try:
            hello = parse_hello(line)
        except BadLine:
            await self._reject(writer, "bad_hello", "first line is not a sparkprobe hello", peer)
            return None
        if hello.wire != WIRE_VERSION:
            error = f"wire version {hello.wire} not supported; this agent speaks {WIRE_VERSION}"
            await self._reject(writer, "wire_version", error, peer)
            return None
        if self.token and not hmac.compare_digest(hello.token.encode(), self.token.encode()):
            await self._reject(writer, "bad_token", "bad token", peer)
            return None
        if self.draining:  # accepted just before the port closed: send it on, before any event
            writer.write(b'{"ok":false,"go_elsewhere":true,"error":"agent stopping"}\n')
            await writer.drain()
            return None
        rec = self._record_for(hello.app_id) if hello.app_id else None
        if hello.app_id and rec is None:
            await self._reject(writer, "too_many_apps", f"agent tracks {self.max_apps} apps already", peer)
            return None
        writer.write(b'{"ok":true}\n')
        await writer.drain()
        if rec is None:
            # No app id in the hello: the app is known from its first app_start line.
            rec = AppRecord(AppState("", self.limits))
            rec.extra["pending"] = True
        with self.lock:
            rec.connections += 1
            rec.connections_total += 1
            rec.disconnected_at = None
            rec.in_replay = False
        self._log.info(
            "app_connected", app_id=rec.state.app_id, peer=str(peer), listener=hello.listener,
            reconnect=rec.connections_total > 1,
        )
        return rec

    async def _read_stream(self, reader: asyncio.StreamReader, rec: AppRecord, peer: Any) -> None:
        buf = bytearray()
        skipping = False  # inside a line longer than the cap: drop until its newline
        logged_bad = False
        while True:
            chunk = await reader.read(_READ_CHUNK)
            if not chunk:
                break
            buf += chunk
            lines = buf.split(b"\n")
            buf = bytearray(lines.pop())
            if skipping and lines:
                lines.pop(0)
                skipping = False
            if len(buf) > self.max_line_bytes:
                buf.clear()
                skipping = True
                self._count(self.bad_lines, "too_long")
            events: list[Event] = []
            for line in lines:
                if not line.strip():
                    continue
                if len(line) > self.max_line_bytes:
                    self._count(self.bad_lines, "too_long")
                    continue
                raw = bytes(line)
                event = fast_decode_line(raw)  # msgspec, straight into the record: the common case
                if event is not FALLBACK:
                    events.append(event)  # type: ignore[arg-type]  # not FALLBACK: a record
                    continue
                try:
                    events.append(decode_line(raw))  # refused by the fast path: the checked verdict
                except BadLine as exc:
                    self._count(self.bad_lines, exc.reason)
                    if not logged_bad:
                        logged_bad = True
                        self._log.warning(
                            "bad_line", app_id=rec.state.app_id, peer=str(peer), reason=exc.reason,
                            detail=exc.detail, note="logged once per connection; all are counted",
                        )
            if events:
                rec = self._bind_pending(rec, events)
                self.ingest(rec, events)

    def _bind_pending(self, rec: AppRecord, events: list[Event]) -> AppRecord:
        """A connection without an app id in its hello gets its record from its first app_start."""
        if not rec.extra.get("pending"):
            return rec
        for event in events:
            if type(event) is AppStart and event.app_id:
                found = self._record_for(event.app_id)
                if found is not None:
                    with self.lock:
                        found.connections += 1
                        found.connections_total += 1
                    rec.extra.pop("pending")
                    rec.connections -= 1
                    return found
        return rec

    # ------------------------------------------------------------------ housekeeping
    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                self.sweep(time.monotonic(), int(time.time() * 1000))
            except Exception as exc:  # noqa: BLE001 - housekeeping must keep running
                self._log.error("housekeeping_failed", error=str(exc))

    def sweep(self, mono_now: float, now_ms: int) -> None:
        """Live idle findings, close apps whose driver vanished, drop apps past retention."""
        to_close: list[AppRecord] = []
        with self.lock:
            for app_id, rec in list(self.apps.items()):
                if rec.ended_at is not None:
                    if mono_now - rec.ended_at > self.retention_s:
                        del self.apps[app_id]
                        self.apps_expired += 1
                    continue
                if not rec.frozen:
                    rec.state.check_idle(now_ms)
                elif rec.disconnected_at is not None and mono_now - rec.disconnected_at > self.app_timeout_s:
                    to_close.append(rec)
        for rec in to_close:
            self._log.warning(
                "app_closed_by_timeout", app_id=rec.state.app_id,
                note="listener gone without ApplicationEnd (driver died, or the app moved to another agent); "
                "figures end at its last event",
            )
            with self.lock:
                rec.closed_by_timeout = True
                rec.state.close_unended()
                findings = rec.state.take_new_findings()
            for finding in findings:
                self._report_finding(rec, finding)
            if rec.ended_at is None:
                self._finish(rec)
        with self.lock:
            pending = [(rec, rec.state.take_new_findings()) for rec in self.apps.values()]
        for rec, findings in pending:
            for finding in findings:
                self._report_finding(rec, finding)


def _json_str(text: str) -> bytes:
    return json.dumps(text).encode()
