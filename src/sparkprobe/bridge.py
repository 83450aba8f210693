"""The PySpark bridge: profile a live session from Python.

:func:`attach` loads the listener into a session that was started without any sparkprobe setting
(through py4j), :func:`configure` sets a session builder up before it starts. Both run an
in-process agent on a free loopback port with a random token, and optionally serve /metrics.
py4j is needed only here: JVM-only jobs use ``spark.extraListeners`` and ``sparkprobe agent``.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from sparkprobe._jar import LISTENER_CLASS, jar_path
from sparkprobe.agent import Agent, AppRecord, parse_hostport
from sparkprobe.analysis.state import Limits
from sparkprobe.outputs.prometheus import MetricsServer

__all__ = ["Probe", "attach", "configure"]


class Probe:
    """A running profile of one Spark application: figures, /metrics, and ``close()``."""

    def __init__(self, agent: Agent, metrics: MetricsServer | None) -> None:
        """Wrap an agent (already listening) and its optional metrics server."""
        self.agent = agent
        self.metrics = metrics
        self.app_id: str | None = None
        self._listener: Any = None
        self._jsc: Any = None

    @property
    def endpoint(self) -> str:
        """``host:port`` the listener sends to."""
        assert self.agent.address is not None
        return f"{self.agent.address[0]}:{self.agent.address[1]}"

    @property
    def metrics_url(self) -> str | None:
        """The /metrics URL, or None when started without ``metrics``."""
        return self.metrics.url if self.metrics is not None else None

    def record(self) -> AppRecord | None:
        """The agent's record of this app (None until its first event arrived)."""
        return self.agent.app(self.app_id)

    def snapshot(self) -> dict[str, Any]:
        """All figures of the app (docs/report-schema.md, one app), measured to now while it runs."""
        return self.agent.snapshot(self.app_id)

    def wait_for(self, predicate: Any, timeout_s: float = 30.0) -> dict[str, Any]:
        """Poll :meth:`snapshot` until ``predicate(snapshot)`` holds; return it (or the last one)."""
        deadline = time.monotonic() + timeout_s
        snap = self.snapshot()
        while time.monotonic() < deadline:
            snap = self.snapshot()
            if snap and predicate(snap):
                return snap
            time.sleep(0.05)
        return snap

    def flush(self, timeout_s: float = 10.0) -> dict[str, Any]:
        """Wait until the agent has every event the listener offered so far, then snapshot."""
        listener = self._listener
        if listener is None:
            return self.snapshot()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if listener.pendingEvents() == 0:
                break
            time.sleep(0.02)
        return self.snapshot()

    def close(self) -> None:
        """Detach the listener (when attached) and stop the agent and /metrics."""
        if self._listener is not None and self._jsc is not None:
            try:
                self._jsc.removeSparkListener(self._listener)
                self._listener.close()
            except Exception:  # noqa: BLE001 - the JVM may already be gone at interpreter exit
                pass
            self._listener = None
        if self.metrics is not None:
            self.metrics.stop()
        self.agent.stop()

    def __enter__(self) -> Probe:
        """Use as a context manager: ``with attach(spark) as probe: ...``."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close on leaving the block."""
        self.close()


def _start(metrics: str | None, limits: Limits | None, token: str) -> Probe:
    agent = Agent(token=token, limits=limits)
    agent.start("127.0.0.1", 0)
    server = None
    if metrics is not None:
        server = MetricsServer(agent)
        try:
            server.start(*parse_hostport(metrics))
        except OSError:
            agent.stop()
            raise
    return Probe(agent, server)


def _load_listener_class(sc: Any) -> Any:
    """Make the listener class visible to the running driver JVM and return it (a py4j JavaClass).

    The driver's context class loader under PySpark is Spark's ``MutableURLClassLoader``: adding
    the jar's URL to it makes the class loadable by py4j, which resolves classes through it.
    """
    jvm = sc._jvm
    url = jvm.java.io.File(jar_path()).toURI().toURL()
    loader = jvm.java.lang.Thread.currentThread().getContextClassLoader()
    try:
        loader.loadClass(LISTENER_CLASS)
    except Exception:  # noqa: BLE001 - py4j wraps ClassNotFoundException
        loader.addURL(url)
    return loader.loadClass(LISTENER_CLASS)


def attach(spark: Any, metrics: str | None = "127.0.0.1:0", *, limits: Limits | None = None) -> Probe:
    """Profile a running PySpark session that was started with no sparkprobe settings.

    Loads the listener into the driver through py4j, replays what already happened that Spark
    still knows (the app, its live executors, its cached blocks), registers the listener, and
    serves /metrics on ``metrics`` (``None``: no server; port 0: a free port).
    """
    sc = spark.sparkContext
    jsc = sc._jsc.sc()
    token = secrets.token_hex(16)
    probe = _start(metrics, limits, token)
    try:
        conf = jsc.conf().clone()
        conf.set("spark.sparkprobe.endpoint", probe.endpoint)
        conf.set("spark.sparkprobe.token", token)
        cls = _load_listener_class(sc)
        gateway = sc._gateway
        arg_types = gateway.new_array(sc._jvm.java.lang.Class, 1)
        arg_types[0] = conf.getClass()
        args = gateway.new_array(sc._jvm.java.lang.Object, 1)
        args[0] = conf
        listener = cls.getConstructor(arg_types).newInstance(args)
        listener.bootstrap(jsc)
        jsc.addSparkListener(listener)
        probe._listener = listener
        probe._jsc = jsc
        probe.app_id = jsc.applicationId()
    except Exception:
        probe.close()
        raise
    return probe


def configure(builder: Any, metrics: str | None = "127.0.0.1:0", *, limits: Limits | None = None) -> Probe:
    """Set a ``SparkSession.builder`` up so the session it builds is profiled from its start.

    Adds the jar to ``spark.jars`` (keeping jars already set), the listener to
    ``spark.extraListeners``, and the in-process agent's endpoint and token. Call before
    ``getOrCreate()``; the returned probe reports the app once it runs.
    """
    token = secrets.token_hex(16)
    probe = _start(metrics, limits, token)
    options = getattr(builder, "_options", {})
    jars = [j for j in str(options.get("spark.jars", "")).split(",") if j]
    listeners = [c for c in str(options.get("spark.extraListeners", "")).split(",") if c]
    if jar_path() not in jars:
        jars.append(jar_path())
    if LISTENER_CLASS not in listeners:
        listeners.append(LISTENER_CLASS)
    builder.config("spark.jars", ",".join(jars))
    builder.config("spark.extraListeners", ",".join(listeners))
    builder.config("spark.sparkprobe.endpoint", probe.endpoint)
    builder.config("spark.sparkprobe.token", token)
    return probe
