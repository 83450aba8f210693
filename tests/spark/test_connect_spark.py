"""A real Spark Connect server (pip pyspark 4.x) profiled: sessions, users, their cache and its loss.

The server is ``spark-submit --class org.apache.spark.sql.connect.service.SparkConnectServer`` with
``pyspark/jars/spark-connect_2.13-*.jar`` on ``local-cluster[2,1,1024]`` under dynamic allocation,
with the listener loaded and the event log written; the clients are real Connect clients
(``SparkSession.builder.remote("sc://127.0.0.1:<port>/;user_id=alice")``, the ``pyspark[connect]``
extras). Every figure of the live agent must equal ``analyze`` of the server's event log, and the
per-session figures are checked against an independent reading of that log. Spark 3.5 skips: its
Connect Python client is not the goal (docs/tenants.md).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import sparkprobe
from conftest import BASE_CONF, DYNAMIC_CONF, IN_CI, free_port, pyspark_home
from sparkprobe._jar import listener_confs
from sparkprobe.events import EVENT_TYPES
from sparkprobe.offline import analyze_source
from sparkprobe.service import AgentService, AgentSettings
from sparkprobe.sources.eventlog import discover, read_events

pytestmark = pytest.mark.spark

CONNECT_SERVER = "org.apache.spark.sql.connect.service.SparkConnectServer"
#: Keys only one side knows (the transport, the reader), as in test_parity.py.
TRANSPORT_ONLY = {"events_received", "events_replayed", "listener", "incomplete", "closed_by_timeout", "gaps",
                  "bad_lines", "source"}


@pytest.fixture(scope="module", autouse=True)
def _classic_mode_after() -> Iterator[None]:
    """A Connect client sets SPARK_CONNECT_MODE_ENABLED for the process: later classic sessions must not see it.

    Module-scoped so it is set up before (and torn down after) the module's Connect run.
    """
    saved = {k: os.environ.get(k) for k in ("SPARK_CONNECT_MODE_ENABLED", "SPARK_REMOTE")}
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _need_connect() -> None:
    import pyspark

    if pyspark.__version__.startswith("3."):
        pytest.skip("Spark Connect tests run on pyspark 4.x: Connect's Python client for 3.5 is not the goal")
    try:
        import grpc  # noqa: F401 - the client extras of pyspark[connect]
        import pyarrow  # noqa: F401
    except ImportError as exc:
        if IN_CI:
            pytest.fail(f"pyspark[connect] extras missing in CI ({exc}): scripts/test.sh installs them for 4.x")
        pytest.skip(f"pyspark[connect] extras not installed ({exc}); scripts/test.sh installs them for 4.x")


class ConnectServer:
    """A Connect server process from the pip pyspark distribution, stopped by :meth:`stop`."""

    def __init__(self, workdir: Path, conf: dict[str, str]) -> None:
        self.port = free_port()
        self.log_path = workdir / "connect-server.log"
        home = pyspark_home()
        (jar,) = sorted((home / "jars").glob("spark-connect_2.13-*.jar"))
        args = [str(home / "bin" / "spark-submit"), "--class", CONNECT_SERVER, "--master", "local-cluster[2,1,1024]"]
        full = {
            **BASE_CONF,
            "spark.connect.grpc.binding.address": "127.0.0.1",
            "spark.connect.grpc.binding.port": str(self.port),
            **conf,
        }
        for key, value in full.items():
            args += ["--conf", f"{key}={value}"]
        args.append(str(jar))
        self._log = open(self.log_path, "wb")  # closed in stop()
        env = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED")}
        # Its own process group: stop() can end the executors the Worker started if they linger.
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self._wait_listening()

    @property
    def url(self) -> str:
        """The ``sc://`` address, without the user part."""
        return f"sc://127.0.0.1:{self.port}"

    def _wait_listening(self, timeout_s: float = 180.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"Connect server exited {self.proc.returncode}:\n{self.tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.5)
        raise AssertionError(f"Connect server not listening after {timeout_s}s:\n{self.tail()}")

    def tail(self) -> str:
        """The end of the server's log (for assertion messages)."""
        return self.log_path.read_bytes()[-4000:].decode(errors="replace")

    def stop(self) -> None:
        """SIGTERM the driver (its shutdown hook stops the SparkContext: ApplicationEnd), then its group."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # executors the Worker may have left behind
        except ProcessLookupError:
            pass
        self._log.close()


@contextlib.contextmanager
def client(server: ConnectServer, user: str) -> Iterator[Any]:
    """A new Connect client session for ``user``, released at the end (even when the test fails).

    ``create()``: one session per call, not a shared one. A session left open keeps the client's
    gRPC threads alive and the test process from exiting.
    """
    from pyspark.sql import SparkSession

    session = SparkSession.builder.remote(f"{server.url}/;user_id={user}").create()
    try:
        yield session
    finally:
        session.stop()


def live_and_offline(
    tmp: Path, server_conf: dict[str, str], scenario: Callable[[ConnectServer, AgentService], None],
    max_tenants: int = 50,
) -> tuple[dict[str, Any], dict[str, Any], Path, str]:
    """Run ``scenario`` on a Connect server profiled live and event-logged; (live, offline, log, /metrics)."""
    logs = tmp / "eventlog"
    logs.mkdir()
    service = AgentService(AgentSettings(listen="127.0.0.1:0", metrics="127.0.0.1:0", token="t",
                                         max_tenants=max_tenants)).start()
    server = None
    try:
        conf = {
            **listener_confs(service.endpoint, "t"),
            "spark.eventLog.enabled": "true",
            "spark.eventLog.dir": str(logs),
            "spark.eventLog.logBlockUpdates.enabled": "true",
            **server_conf,
        }
        server = ConnectServer(tmp, conf)
        scenario(server, service)
        server.stop()
        server = None
        agent = service.agent
        assert agent is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(r.ended_at is not None for r in agent.apps.values()):
            time.sleep(0.2)
        (rec,) = agent.apps.values()
        live = agent.report(rec).to_json()
        assert service.metrics_url is not None
        with urllib.request.urlopen(service.metrics_url, timeout=10) as resp:
            metrics = resp.read().decode()
    finally:
        if server is not None:
            server.stop()
        service.stop()
    (source,) = discover([logs])
    offline = analyze_source(source, _limits(max_tenants)).to_json()
    assert offline["bad_lines"] == 0
    return live, offline, logs, metrics


def _limits(max_tenants: int) -> Any:
    from sparkprobe.analysis.state import Limits

    return Limits(max_tenants=max_tenants)


def raw_events(logs: Path) -> Iterator[dict[str, Any]]:
    """Every event of the (rolling, zstd) event log, read without sparkprobe's reader."""
    import zstandard

    (app_dir,) = logs.iterdir()
    parts = sorted(app_dir.glob("events_*"), key=lambda p: int(p.name.split("_")[1]))
    for part in parts:
        with part.open("rb") as fh:
            data = zstandard.ZstdDecompressor().stream_reader(fh).read() if part.suffix == ".zstd" else fh.read()
        for line in data.splitlines():
            if line.strip():
                yield json.loads(line)


def independent_session_figures(logs: Path) -> dict[str, dict[str, Any]]:
    """Per Connect session, from the raw log: its user, start and close, and Σ task spans of its jobs."""
    out: dict[str, dict[str, Any]] = {}
    stage_session: dict[int, str] = {}
    prefix = "org.apache.spark.sql.connect.service.SparkListenerConnectSession"
    for o in raw_events(logs):
        kind = o["Event"]
        if kind in (prefix + "Started", prefix + "Closed"):
            row = out.setdefault(o["sessionId"], {"task_ms": 0})
            row["user"] = o["userId"]
            row["start_ms" if kind.endswith("Started") else "end_ms"] = o["eventTime"]
        elif kind == "SparkListenerJobStart":
            for tag in o.get("Properties", {}).get("spark.job.tags", "").split(","):
                if tag.startswith("SparkConnect_OperationTag_User_"):
                    session = tag.rsplit("_Operation_", 1)[0].rsplit("_Session_", 1)[1]
                    for stage_id in o["Stage IDs"]:
                        stage_session.setdefault(stage_id, session)
        elif kind == "SparkListenerTaskEnd" and o["Task End Reason"]["Reason"] != "Resubmitted":
            session = stage_session.get(o["Stage ID"])
            if session is not None:
                info = o["Task Info"]
                out.setdefault(session, {"task_ms": 0})["task_ms"] += max(0, info["Finish Time"] - info["Launch Time"])
    return out


def tenants_of(snap: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {t["id"]: t for t in snap["tenants"] if t["kind"] == kind}


def assert_sums_to_the_app(snap: dict[str, Any], kind: str) -> None:
    rows = tenants_of(snap, kind).values()
    assert round(sum(t["busy_core_seconds"] for t in rows) * 1000) == round(snap["busy_core_seconds"] * 1000)
    assert round(sum(t["task_seconds"] for t in rows) * 1000) == round(snap["tasks"]["run_seconds"] * 1000)
    assert sum(t["cache_lost_bytes"] for t in rows) == snap["cache_lost_bytes"]
    assert round(sum(t["recompute_seconds"] for t in rows) * 1000) == round(snap["cache_recompute_seconds"] * 1000)


def wait_agent(service: AgentService, predicate: Callable[[dict[str, Any]], bool], timeout_s: float) -> dict[str, Any]:
    agent = service.agent
    assert agent is not None
    deadline = time.monotonic() + timeout_s
    snap: dict[str, Any] = {}
    while time.monotonic() < deadline:
        snap = agent.snapshot()
        if snap and predicate(snap):
            return snap
        time.sleep(0.2)
    seen = {k: snap.get(k) for k in ("executors_active", "cached_blocks", "cache_lost_blocks")}
    raise AssertionError(f"the agent never saw the expected state within {timeout_s}s: {seen}")


# ------------------------------------------------------------------------------ Must show 1


def two_users_one_caches(server: ConnectServer, service: AgentService) -> None:
    """alice caches and loses her cache to dynamic allocation, then rebuilds it; bob runs uncached work."""
    from pyspark.sql import functions as sf

    wait_agent(service, lambda s: s["executors_active"] == 2, 120)
    cached = threading.Event()
    errors: list[BaseException] = []

    def alice() -> None:
        try:
            with client(server, "alice") as s:
                df = s.range(0, 300_000, 1, 4).withColumn("k", sf.col("id") % 17).cache()
                assert df.count() == 300_000
                cached.set()
                # Idle past cachedExecutorIdleTimeout: dynamic allocation reclaims the executors and the cache.
                wait_agent(service, lambda snap: snap["executors_active"] == 0 and snap["cache_lost_blocks"] > 0, 120)
                assert df.groupBy("k").count().count() == 17  # rebuilds the lost blocks
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            errors.append(exc)

    def bob() -> None:
        try:
            with client(server, "bob") as s:
                cached.wait(120)
                for _ in range(2):
                    assert s.range(0, 400_000, 1, 4).select(sf.sum("id")).collect()[0][0] == 399_999 * 400_000 // 2
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=alice), threading.Thread(target=bob)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(400)
    if errors:
        raise errors[0]
    # Both sessions closed (the clients released them): the server may stop.
    wait_agent(service, lambda snap: all(t["end_ms"] is not None for t in snap["tenants"] if t["kind"] == "session"
                                         and t["id"] not in ("other", "none")), 60)


@pytest.fixture(scope="module")
def connect_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any], Path, str]:
    _need_connect()
    return live_and_offline(tmp_path_factory.mktemp("connect"), DYNAMIC_CONF, two_users_one_caches)


def test_connect_sessions_offline_equal_an_independent_reading_of_the_log(
    connect_run: tuple[dict[str, Any], dict[str, Any], Path, str],
) -> None:
    _, offline, logs, _ = connect_run
    sessions = tenants_of(offline, "session")
    expected = independent_session_figures(logs)
    assert set(expected) == set(sessions) - {"none"} and len(expected) == 2
    for sid, row in expected.items():
        got = sessions[sid]
        assert (got["user"], got["start_ms"], got["end_ms"]) == (row["user"], row["start_ms"], row["end_ms"])
        assert round(got["task_seconds"] * 1000) == row["task_ms"]
    users = tenants_of(offline, "user")
    assert {"alice", "bob"} <= set(users)
    for kind in ("session", "user"):
        assert_sums_to_the_app(offline, kind)
    # The run lost cached data, and the loss is alice's: her session cached it.
    by_user = {row["user"]: sid for sid, row in expected.items()}
    alice, bob = sessions[by_user["alice"]], sessions[by_user["bob"]]
    assert offline["cache_lost_bytes"] > 0 and offline["cache_recompute_seconds"] > 0
    assert alice["cache_lost_bytes"] == offline["cache_lost_bytes"] and bob["cache_lost_bytes"] == 0
    assert alice["recompute_seconds"] == pytest.approx(offline["cache_recompute_seconds"])
    assert bob["busy_core_seconds"] > 0 and bob["cached_bytes"] == 0
    # Connect jobs are not named after their plans (statement texts) anywhere in the report.
    assert strings_holding("user_context", offline) == []


def strings_holding(needle: str, value: Any, path: str = "") -> list[str]:
    """Where in a JSON value a string holds ``needle`` (paths, for the assertion message)."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in strings_holding(needle, v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in strings_holding(needle, v, f"{path}[{i}]")]
    return [path] if isinstance(value, str) and needle in value else []


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Every leaf where two JSON values differ, as ``path: a != b`` (for an assertion message)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b), key=str) for d in differences(a.get(k), b.get(k), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def test_connect_live_figures_equal_the_servers_event_log(
    connect_run: tuple[dict[str, Any], dict[str, Any], Path, str],
) -> None:
    live, offline, _, metrics = connect_run
    assert live["app_id"] == offline["app_id"]
    live_figures = {k: v for k, v in live.items() if k not in TRANSPORT_ONLY}
    offline_figures = {k: v for k, v in offline.items() if k not in TRANSPORT_ONLY}
    assert live_figures == offline_figures, (
        f"listener {live['listener']}, incomplete {live['incomplete']}; live != offline at:\n"
        + "\n".join(differences(live_figures, offline_figures))
    )
    assert tenants_of(live, "session") and live["tenants"] == offline["tenants"]
    # The figures reach /metrics: one busy series per session, summing to the app's.
    busy = [line for line in metrics.splitlines() if line.startswith("sparkprobe_tenant_busy_core_seconds_total{")
            and 'kind="session"' in line]
    assert len(busy) == len(tenants_of(live, "session"))
    assert sum(float(line.rsplit(" ", 1)[1]) for line in busy) == pytest.approx(live["busy_core_seconds"])


def wire_line(event: Any) -> bytes:
    """The wire v1 line of a record (docs/wire-format.md: the record's fields under the kind's name)."""
    kind = {cls: k for k, cls in EVENT_TYPES.items()}[type(event)]
    return json.dumps({"k": kind, **dataclasses.asdict(event)}).encode() + b"\n"


def test_connect_log_streamed_over_the_wire_equals_analyze(
    connect_run: tuple[dict[str, Any], dict[str, Any], Path, str],
) -> None:
    """The server's events sent as the wire kinds the listener sends (session_started, job_start tags...).

    A real agent on a real socket: what the live path makes of the Connect kinds equals analyze.
    """
    _, offline, logs, _ = connect_run
    service = AgentService(AgentSettings(listen="127.0.0.1:0", metrics=None, token="t")).start()
    try:
        host, port = service.endpoint.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            hello = {"hello": "sparkprobe", "wire": 1, "app_id": offline["app_id"], "token": "t", "listener": "test"}
            sock.sendall(json.dumps(hello).encode() + b"\n")
            assert b'"ok":true' in sock.recv(100)
            (source,) = discover([logs])
            sock.sendall(b"".join(wire_line(e) for e in read_events(source)))
            agent = service.agent
            assert agent is not None
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not (agent.apps and next(iter(agent.apps.values())).ended_at):
                time.sleep(0.1)
            live = agent.snapshot(offline["app_id"])
    finally:
        service.stop()
    assert live["tenants"] == offline["tenants"] and tenants_of(live, "session")
    assert live["idle_by_cause"] == offline["idle_by_cause"]


# ------------------------------------------------------------------------------ Must show 3


def many_sessions(server: ConnectServer, service: AgentService) -> None:
    """200 sessions of 7 users, 8 at a time; every 8th runs a job, the others ask the server's version.

    Any request opens the session on the server (SparkListenerConnectSessionStarted), so every
    session is a tenant; jobs from sessions across the fold keep the sums honest.
    """
    wait_agent(service, lambda s: s["executors_active"] == 2, 120)

    def one(i: int) -> int:
        with client(server, f"user{i % 7}") as s:
            if i % 8 == 0:
                return int(s.range(0, 1_000 + i, 1, 2).count())
            assert s.version.startswith("4.")
            return 1_000 + i

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(one, range(200))) == [1_000 + i for i in range(200)]


def test_200_sessions_keep_at_most_max_tenants_series(tmp_path: Path) -> None:
    _need_connect()
    live, offline, _, metrics = live_and_offline(tmp_path, {}, many_sessions, max_tenants=20)
    assert live["tenants"] == offline["tenants"]
    sessions = tenants_of(offline, "session")
    assert "other" in sessions and len(sessions) <= 20 + 2  # 20 kept, the fold, none
    assert offline["tenants_folded"]["session"] >= 180
    assert len(tenants_of(offline, "user")) == 7
    for kind in ("session", "user"):
        assert_sums_to_the_app(offline, kind)
    series = [line for line in metrics.splitlines()
              if line.startswith("sparkprobe_tenant_busy_core_seconds_total{") and 'kind="session"' in line]
    assert 0 < len(series) <= 22 and any('tenant="other"' in line for line in series)


# ------------------------------------------------------------------------------ Must show 4


def test_the_server_serves_its_clients_with_the_agent_down(tmp_path: Path) -> None:
    _need_connect()
    dead = free_port()  # nothing listens here: the listener can never connect
    server = ConnectServer(tmp_path, listener_confs(f"127.0.0.1:{dead}", "t"))
    try:
        results = []
        for user in ("alice", "bob"):
            with client(server, user) as s:
                results.append(s.range(0, 100_000, 1, 4).selectExpr("sum(id)").collect()[0][0])
                if user == "alice":
                    # A Connect client has no driver JVM: attach says so and how to profile the server.
                    with pytest.raises(sparkprobe.ConnectClientError) as raised:
                        sparkprobe.attach(s)
                    message = str(raised.value)
                    assert "server-side listener" in message
                    assert "spark.extraListeners=io.sparkprobe.ProbeListener" in message
                    assert server.url in message
        assert results == [99_999 * 100_000 // 2] * 2
        from pyspark.sql import SparkSession

        with pytest.raises(sparkprobe.ConnectClientError, match=r"sparkprobe\.configure: this is a Spark Connect"):
            sparkprobe.configure(SparkSession.builder.remote(f"{server.url}/;user_id=carol"))
        assert server.proc.poll() is None, server.tail()
    finally:
        server.stop()
    log = server.log_path.read_text(errors="replace")
    # The listener was loaded, found no agent, said so once, and never threw on Spark's bus.
    assert f"sparkprobe: agent 127.0.0.1:{dead} unavailable" in log
    assert "threw an exception" not in log
