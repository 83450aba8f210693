"""The PySpark bridge: profile a live session from Python.

:func:`attach` loads the listener into a session that was started without any sparkprobe setting
(through py4j), :func:`configure` sets a session builder up before it starts. Both run an
in-process agent on a free loopback port with a random token, and optionally serve /metrics.
py4j is needed only here: JVM-only jobs use ``spark.extraListeners`` and ``sparkprobe agent``.
"""

from __future__ import annotations

import functools
import os
import secrets
import sys
import threading
import time
from dataclasses import replace
from typing import Any

from sparkprobe._jar import LISTENER_CLASS, jar_path, listener_confs
from sparkprobe.agent import Agent, AppRecord
from sparkprobe.model import AppReport
from sparkprobe.service import AgentService, AgentSettings

__all__ = ["ConnectClientError", "Probe", "attach", "configure"]


class ConnectClientError(RuntimeError):
    """``attach``/``configure`` was given a Spark Connect client: the listener belongs on the server."""


def _connect_client_error(where: str, remote: str) -> ConnectClientError:
    return ConnectClientError(
        f"sparkprobe.{where}: this is a Spark Connect client ({remote}); a Connect client has no driver JVM "
        "to load the listener into. Profile the Connect server instead, with the server-side listener: "
        "run `sparkprobe agent` and start the server with `--jars \"$(sparkprobe jar)\" "
        "--conf spark.extraListeners=io.sparkprobe.ProbeListener --conf spark.sparkprobe.endpoint=HOST:7733` "
        "(sbin/start-connect-server.sh takes spark-submit's options). Every session of the server is then "
        "reported, per session and per user (docs/tenants.md)."
    )


def _remote_of_session(spark: Any) -> str | None:
    """The ``sc://`` target of a Spark Connect client session, else None (a classic session)."""
    if not type(spark).__module__.startswith("pyspark.sql.connect"):
        return None
    client = getattr(spark, "client", None)
    # The channel builder's host:port (pyspark keeps it private); the public host alone otherwise.
    where = getattr(getattr(client, "_builder", None), "endpoint", None) or getattr(client, "host", None)
    return f"sc://{where}" if isinstance(where, str) else "a pyspark.sql.connect session"


def _remote_of_builder(builder: Any) -> str | None:
    """The ``sc://`` target a builder will connect to (``.remote()``, ``spark.remote``, SPARK_REMOTE), else None."""
    options = getattr(builder, "_options", {})
    remote = options.get("spark.remote") if isinstance(options, dict) else None
    if remote is None and options.get("spark.master") is None:
        remote = os.environ.get("SPARK_REMOTE")  # what getOrCreate() reads when neither is set
    if remote is None and str(options.get("spark.api.mode", "")).lower() == "connect":
        remote = "spark.api.mode=connect"
    return str(remote) if remote else None


class Probe:
    """A running profile of one Spark application: figures, /metrics, and ``close()``."""

    def __init__(self, service: AgentService) -> None:
        """Wrap a started :class:`~sparkprobe.service.AgentService`."""
        self.service = service
        assert service.agent is not None, "service not started"
        self.agent: Agent = service.agent
        self.app_id: str | None = None
        self._listener: Any = None
        self._jsc: Any = None

    @property
    def endpoint(self) -> str:
        """``host:port`` the listener sends to."""
        return self.service.endpoint

    @property
    def metrics_url(self) -> str | None:
        """The /metrics URL, or None when started without ``metrics``."""
        return self.service.metrics_url

    def record(self) -> AppRecord | None:
        """The agent's record of this app (None until its first event arrived)."""
        return self.agent.app(self.app_id)

    def report(self) -> AppReport | None:
        """The app's typed report, measured to now while it runs (None before its first event)."""
        rec = self.record()
        return self.agent.report(rec) if rec is not None else None

    def snapshot(self) -> dict[str, Any]:
        """All figures of the app as the JSON report's app object (docs/report-schema.md); {} before any."""
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
        """Wait (bounded) until the agent holds every event the listener took so far; snapshot.

        Only for ``attach`` (the probe holds the listener object); otherwise a plain snapshot.
        """
        listener = self._listener
        if listener is None:
            return self.snapshot()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            rec = self.record()
            expected = int(listener.offeredEvents()) - int(listener.droppedEvents())
            if rec is not None and rec.events_received - rec.stats_received >= expected:
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
        self.service.stop()

    def __enter__(self) -> Probe:
        """Use as a context manager: ``with attach(spark) as probe: ...``."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close on leaving the block."""
        self.close()


#: DataFrame and DataFrameWriter methods that run jobs: the bridge gives their jobs the user's
#: Python line as ``callSite.short``, as PySpark already does for RDD actions (Spark's events
#: otherwise name a JVM frame such as "count at NativeMethodAccessorImpl.java:0").
_DF_ACTIONS = ("count", "collect", "show", "take", "head", "first", "tail", "toPandas", "foreach",
               "foreachPartition", "toLocalIterator")
_WRITER_ACTIONS = ("save", "saveAsTable", "insertInto", "parquet", "csv", "json", "orc", "text", "jdbc")
_callsite_lock = threading.Lock()
_callsite_patches: list[tuple[type, str, Any]] = []


def _with_callsite(name: str, method: Any) -> Any:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        from pyspark import SparkContext

        sc = SparkContext._active_spark_context
        frame = sys._getframe(1)
        if sc is None or sc.getLocalProperty("callSite.short"):
            return method(self, *args, **kwargs)  # an outer action already named the call
        sc._jsc.setCallSite(f"{name} at {frame.f_code.co_filename}:{frame.f_lineno}")
        try:
            return method(self, *args, **kwargs)
        finally:
            sc._jsc.setCallSite(None)

    wrapper._sparkprobe_original = method  # type: ignore[attr-defined]
    return wrapper


def _install_callsites(spark: Any) -> None:
    """Patch DataFrame actions (once per process) so their jobs carry the user's Python line."""
    with _callsite_lock:
        if _callsite_patches:
            return
        df = spark.range(0)
        for cls, names in ((type(df), _DF_ACTIONS), (type(df.write), _WRITER_ACTIONS)):
            for name in names:
                method = cls.__dict__.get(name)
                if method is None or hasattr(method, "_sparkprobe_original"):
                    continue
                setattr(cls, name, _with_callsite(name, method))
                _callsite_patches.append((cls, name, method))


def _start(
    metrics: str | None, idle_threshold_s: float | None, token: str, pushgateway: str | None,
    prices: tuple[float | None, float | None] = (None, None),
) -> Probe:
    settings = AgentSettings(listen="127.0.0.1:0", metrics=metrics, token=token, pushgateway=pushgateway,
                             price_core_hour=prices[0], price_gib_hour=prices[1])
    if idle_threshold_s is not None:
        settings = replace(settings, idle_threshold_s=idle_threshold_s)
    return Probe(AgentService(settings).start())


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


def attach(
    spark: Any, metrics: str | None = "127.0.0.1:0", *, idle_threshold_s: float | None = None,
    callsites: bool = True, pushgateway: str | None = None,
    price_core_hour: float | None = None, price_gib_hour: float | None = None,
) -> Probe:
    """Profile a running PySpark session that was started with no sparkprobe settings.

    Loads the listener into the driver through py4j, replays what already happened that Spark
    still knows (the app, its live executors, its cached blocks), registers the listener, and
    serves /metrics on ``metrics`` (``None``: no server; port 0: a free port). ``callsites``
    names DataFrame jobs after the user's Python line (see ``_DF_ACTIONS``). ``pushgateway``
    (a URL) receives the app's final figures when it ends (its push counters are on /metrics).
    ``idle_threshold_s`` overrides the agent's idle-finding threshold. ``price_core_hour`` and
    ``price_gib_hour`` price the app where it sets no ``spark.sparkprobe.price.*`` (the agent's
    ``--price-*``: docs/figures.md, "Cost").
    Raises :class:`~sparkprobe.service.ServiceError` when /metrics cannot be served there, and
    :class:`ConnectClientError` for a Spark Connect client session (the listener goes on the server).
    """
    remote = _remote_of_session(spark)
    if remote is not None:
        raise _connect_client_error("attach", remote)
    sc = spark.sparkContext
    jsc = sc._jsc.sc()
    token = secrets.token_hex(16)
    probe = _start(metrics, idle_threshold_s, token, pushgateway, (price_core_hour, price_gib_hour))
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
        if callsites:
            _install_callsites(spark)
        probe._listener = listener
        probe._jsc = jsc
        probe.app_id = jsc.applicationId()
    except Exception:
        probe.close()
        raise
    return probe


def configure(
    builder: Any, metrics: str | None = "127.0.0.1:0", *, idle_threshold_s: float | None = None,
    callsites: bool = True, pushgateway: str | None = None,
    price_core_hour: float | None = None, price_gib_hour: float | None = None,
) -> Probe:
    """Set a ``SparkSession.builder`` up so the session it builds is profiled from its start.

    Adds the jar to ``spark.jars`` (keeping jars already set), the listener to
    ``spark.extraListeners``, and the in-process agent's endpoint and token. Call before
    ``getOrCreate()``; the returned probe reports the app once it runs. ``callsites`` names
    DataFrame jobs after the user's Python line, from the first DataFrame action on.
    ``pushgateway`` (a URL) receives the app's final figures when it ends; the prices as for
    :func:`attach`.
    Raises :class:`ConnectClientError` for a builder set up for Spark Connect (``.remote(...)``).
    """
    remote = _remote_of_builder(builder)
    if remote is not None:
        raise _connect_client_error("configure", remote)
    token = secrets.token_hex(16)
    probe = _start(metrics, idle_threshold_s, token, pushgateway, (price_core_hour, price_gib_hour))
    options = getattr(builder, "_options", {})
    confs = listener_confs(
        probe.endpoint,
        token,
        jars=str(options.get("spark.jars", "")).split(","),
        listeners=str(options.get("spark.extraListeners", "")).split(","),
    )
    for key, value in confs.items():
        builder.config(key, value)
    if callsites:
        _patch_builder_for_callsites(builder)
    return probe


def _patch_builder_for_callsites(builder: Any) -> None:
    """Install the DataFrame callsite patch once the builder has made its session."""
    original = builder.getOrCreate

    @functools.wraps(original)
    def get_or_create() -> Any:
        spark = original()
        _install_callsites(spark)
        return spark

    builder.getOrCreate = get_or_create
