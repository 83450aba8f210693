"""The agent over real loopback sockets: handshake, tokens, bad input, metrics, CLI errors."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import summary
from sparkprobe.agent import Agent
from sparkprobe.analysis.state import AppState
from sparkprobe.outputs.exposition import MetricsServer
from sparkprobe.outputs.prometheus import make_registry
from sparkprobe.sources.wire import decode_line

HELLO = {"hello": "sparkprobe", "wire": 1, "app_id": "app-7", "token": "", "listener": "test"}
APP = [
    {"k": "app_start", "app_id": "app-7", "app_name": "agent-test", "user": "u", "time": 1000,
     "spark_version": "4.3.0"},
    {"k": "executor_added", "exec_id": "1", "host": "h", "cores": 2, "time": 1000},
    {"k": "task_start", "task_id": 1, "stage_id": 0, "stage_attempt": 0, "index": 0, "partition": 0,
     "attempt": 0, "exec_id": "1", "launch": 2000},
    {"k": "task_end", "task_id": 1, "stage_id": 0, "stage_attempt": 0, "index": 0, "partition": 0,
     "attempt": 0, "exec_id": "1", "launch": 2000, "finish": 4000, "status": "success"},
    {"k": "block_updated", "block_id": "rdd_1_0", "exec_id": "1", "use_memory": True, "use_disk": False,
     "off_heap": False, "deserialized": True, "replication": 1, "mem_size": 4096, "disk_size": 0},
]


@pytest.fixture
def agent() -> Iterator[Agent]:
    a = Agent(token="s3cret")
    a.start("127.0.0.1", 0)
    yield a
    a.stop()


def connect(agent: Agent, hello: dict[str, object]) -> tuple[socket.socket, dict[str, object]]:
    assert agent.address is not None
    sock = socket.create_connection(agent.address, timeout=10)
    sock.sendall(json.dumps(hello).encode() + b"\n")
    reply = json.loads(sock.makefile("rb").readline())
    return sock, reply


def sample(registry: object, name: str, **labels: str) -> float | None:
    value: float | None = registry.get_sample_value(name, labels)  # type: ignore[attr-defined]
    return value


def wait(predicate: object, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached")


def test_stream_reaches_the_analyzer_and_metrics(agent: Agent) -> None:
    sock, reply = connect(agent, {**HELLO, "token": "s3cret"})
    assert reply == {"ok": True}
    sock.sendall(b"".join(json.dumps(e).encode() + b"\n" for e in APP))
    registry = make_registry(agent)
    labels = {"app_id": "app-7", "app_name": "agent-test"}
    wait(lambda: sample(registry, "sparkprobe_cached_bytes", storage="memory", **labels) == 4096)
    assert sample(registry, "sparkprobe_tasks_finished_total", status="success", **labels) == 1
    assert sample(registry, "sparkprobe_task_run_seconds_total", **labels) == 2
    assert sample(registry, "sparkprobe_executors_active", **labels) == 1
    assert sample(registry, "sparkprobe_cores_allocated", **labels) == 2
    assert sample(registry, "sparkprobe_events_received_total", **labels) == len(APP)
    assert sample(registry, "sparkprobe_app_info", spark_version="4.3.0", user="u", **labels) == 1
    sock.close()


def test_wrong_token_is_refused_and_counted(agent: Agent) -> None:
    sock, reply = connect(agent, {**HELLO, "token": "guess"})
    assert reply == {"ok": False, "error": "bad token"}
    assert sock.recv(1) == b""  # closed by the agent
    registry = make_registry(agent)
    assert sample(registry, "sparkprobe_agent_connections_rejected_total", reason="bad_token") == 1
    assert agent.apps == {}


def test_unknown_wire_version_names_both_versions(agent: Agent) -> None:
    _, reply = connect(agent, {**HELLO, "wire": 2, "token": "s3cret"})
    assert reply == {"ok": False, "error": "wire version 2 not supported; this agent speaks 1"}


def test_bad_lines_are_counted_and_the_connection_kept(agent: Agent) -> None:
    agent.max_line_bytes = 10_000
    sock, _ = connect(agent, {**HELLO, "token": "s3cret"})
    junk = [b"{oops", b'{"k":"martian"}', b'{"k":"app_end"}', b"x" * 50_000]
    sock.sendall(b"\n".join(junk) + b"\n" + json.dumps(APP[0]).encode() + b"\n")
    registry = make_registry(agent)
    wait(lambda: sample(registry, "sparkprobe_events_received_total", app_id="app-7", app_name="agent-test") == 1)
    assert sample(registry, "sparkprobe_agent_bad_lines_total", reason="json") == 1
    assert sample(registry, "sparkprobe_agent_bad_lines_total", reason="unknown_kind") == 1
    assert sample(registry, "sparkprobe_agent_bad_lines_total", reason="schema") == 1
    assert sample(registry, "sparkprobe_agent_bad_lines_total", reason="too_long") == 1


def test_many_apps_at_once_keep_separate_state(agent: Agent) -> None:
    socks = []
    for i in range(5):
        sock, _ = connect(agent, {**HELLO, "app_id": f"app-{i}", "token": "s3cret"})
        start = {**APP[0], "app_id": f"app-{i}", "app_name": f"n{i}"}
        lines = [start] + [{**APP[1], "exec_id": str(j)} for j in range(i + 1)]
        sock.sendall(b"".join(json.dumps(e).encode() + b"\n" for e in lines))
        socks.append(sock)
    wait(lambda: all((agent.snapshot(f"app-{i}") or {}).get("executors_added") == i + 1 for i in range(5)))
    for s in socks:
        s.close()


def test_a_reconnect_preamble_repeating_the_executors_changes_no_figure(agent: Agent) -> None:
    # After every hello the listener repeats app_start and each live executor's executor_added (so an
    # agent restarted mid-app learns them). To an agent that has them already that is a no-op, also
    # for an executor removed meanwhile whose add line is replayed (same id, same add time).
    def run(task_id: int, exec_id: str, launch: int, finish: int) -> list[dict[str, object]]:
        base = {"task_id": task_id, "stage_id": 0, "stage_attempt": 0, "index": task_id, "partition": task_id,
                "attempt": 0, "exec_id": exec_id, "launch": launch}
        return [{"k": "task_start", **base}, {"k": "task_end", **base, "finish": finish, "status": "success"}]

    exec1 = {"k": "executor_added", "exec_id": "1", "host": "h", "cores": 2, "time": 1000}
    exec2 = {"k": "executor_added", "exec_id": "2", "host": "h", "cores": 4, "time": 1500}
    first = [APP[0], exec1, exec2, *run(1, "1", 2000, 4000), *run(2, "2", 2000, 3000),
             {"k": "executor_removed", "exec_id": "2", "time": 5000, "reason": "Executor killed by driver."}]
    replay = [APP[0], exec1, exec2]
    later = run(3, "1", 6000, 7000)

    def send(lines: list[dict[str, object]]) -> socket.socket:
        sock, reply = connect(agent, {**HELLO, "token": "s3cret"})
        assert reply == {"ok": True}
        sock.sendall(b"".join(json.dumps(e).encode() + b"\n" for e in lines))
        return sock

    sock = send(first)
    wait(lambda: (agent.snapshot("app-7") or {}).get("executors_removed") == 1)
    sock.close()
    sock = send(replay + later)
    wait(lambda: agent.snapshot("app-7")["tasks"]["success"] == 3)
    sock.close()

    reference = AppState("app-7")
    for line in first + later:
        reference.apply(decode_line(json.dumps(line)))
    rec = agent.app("app-7")
    assert rec is not None
    with agent.lock:
        got = summary(rec.state, 10_000)
    assert got == summary(reference, 10_000)
    assert (got["executors_added"], got["executors_active"], got["executors_removed"]) == (2, 1, 1)
    assert got["executors"]["2"]["removed_ms"] == 5000
    assert got["allocated_core_seconds"] == 2 * 9 + 4 * 3.5


def test_metrics_http_serves_text_and_a_landing_page(agent: Agent) -> None:
    sock, _ = connect(agent, {**HELLO, "token": "s3cret"})
    sock.sendall(b"".join(json.dumps(e).encode() + b"\n" for e in APP))
    wait(lambda: agent.snapshot("app-7").get("cached_blocks") == 1)
    server = MetricsServer(make_registry(agent), app_names=agent.app_names)
    server.start("127.0.0.1", 0)
    try:
        body = urllib.request.urlopen(server.url, timeout=10).read().decode()
        names = {f.name for f in text_string_to_metric_families(body)}
        assert {"sparkprobe_cached_blocks", "sparkprobe_executors_removed", "sparkprobe_agent_bad_lines"} <= names
        landing = urllib.request.urlopen(server.url.replace("/metrics", "/"), timeout=10).read().decode()
        assert "/metrics" in landing and "agent-test" in landing
    finally:
        server.stop()


def test_app_end_then_retention_drops_the_series() -> None:
    a = Agent(retention_s=0.0)
    a.start()
    try:
        sock, _ = connect(a, HELLO)
        sock.sendall(json.dumps(APP[0]).encode() + b"\n" + b'{"k":"app_end","time":9000}\n')
        wait(lambda: (a.snapshot("app-7") or {}).get("running") is False)
        a.sweep(time.monotonic() + 1, 0)
        assert a.snapshot("app-7") == {}
    finally:
        a.stop()


def test_cli_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "sparkprobe.cli", "agent", "--listen", f"127.0.0.1:{port}",
             "--metrics", "127.0.0.1:0"],
            capture_output=True, text=True, timeout=60,
        )
    assert proc.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr


def test_cli_refuses_a_public_bind_without_token() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sparkprobe.cli", "agent", "--listen", "0.0.0.0:0"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2 and "without --token" in proc.stderr


def test_metrics_over_tls(agent: Agent, tmp_path: object) -> None:
    import shutil
    import ssl
    from pathlib import Path

    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl not installed")
    cert, key = Path(str(tmp_path)) / "cert.pem", Path(str(tmp_path)) / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    server = MetricsServer(make_registry(agent), certfile=str(cert), keyfile=str(key))
    server.start("127.0.0.1", 0)
    try:
        assert server.url.startswith("https://")
        ctx = ssl.create_default_context(cafile=str(cert))
        ctx.check_hostname = False
        body = urllib.request.urlopen(server.url, timeout=10, context=ctx).read().decode()
        assert "sparkprobe_agent_connections_open" in body
        with pytest.raises(OSError):
            urllib.request.urlopen(server.url.replace("https", "http"), timeout=10).read()
    finally:
        server.stop()
