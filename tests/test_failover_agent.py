"""The agent as a replaceable service, over real loopback sockets: replays counted once, a takeover's
figures and what they start at, a disconnected app frozen at its last event and closed without
inventing anything, and the graceful stop (go-elsewhere line, readiness, last scrape, SIGTERM).

The listener side of the same protocol runs on real Spark in tests/spark/test_failover_spark.py.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import free_port
from sparkprobe.agent import GO_ELSEWHERE, Agent
from sparkprobe.service import AgentService, AgentSettings

APP_ID = "app-fo"
T0 = 1_000_000  # the app's start (event time, ms)
T_JOIN = T0 + 60_000  # when the takeover replay was taken


def hello(app_id: str = APP_ID, token: str = "") -> bytes:
    return json.dumps({"hello": "sparkprobe", "wire": 1, "app_id": app_id, "token": token,
                       "listener": "test"}).encode() + b"\n"


def lines(*events: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(e).encode() + b"\n" for e in events)


def task_start(task_id: int, exec_id: str, launch: int, partition: int = 0) -> dict[str, Any]:
    return {"k": "task_start", "task_id": task_id, "stage_id": 1, "stage_attempt": 0, "index": partition,
            "partition": partition, "attempt": 0, "exec_id": exec_id, "launch": launch}


def task_end(task_id: int, exec_id: str, launch: int, finish: int, partition: int = 0) -> dict[str, Any]:
    return {**task_start(task_id, exec_id, launch, partition), "k": "task_end", "finish": finish,
            "status": "success", "run_ms": finish - launch}


def block(block_id: str, exec_id: str, mem: int) -> dict[str, Any]:
    return {"k": "block_updated", "block_id": block_id, "exec_id": exec_id, "use_memory": mem > 0,
            "use_disk": False, "off_heap": False, "deserialized": True, "replication": 1, "mem_size": mem,
            "disk_size": 0}


def replay(time_ms: int, resumed: bool, running: bool = True) -> list[dict[str, Any]]:
    """What the listener sends after a hello: the driver's state at ``time_ms``, marked as a replay
    (``running``: with task 7 still running)."""
    out = [
        {"k": "replay_start", "time": time_ms, "resumed": resumed},
        {"k": "app_start", "app_id": APP_ID, "app_name": "failover", "user": "u", "time": T0},
        {"k": "conf", "props": {"spark.dynamicAllocation.enabled": "true"}},
        {"k": "executor_added", "exec_id": "1", "host": "h1", "cores": 2, "time": T0 + 1_000},
        {"k": "executor_added", "exec_id": "2", "host": "h2", "cores": 2, "time": T0 + 2_000},
        {"k": "block_manager_added", "exec_id": "1", "host": "h1", "time": T0 + 1_000, "max_mem": 1 << 30},
        {"k": "block_manager_added", "exec_id": "2", "host": "h2", "time": T0 + 2_000, "max_mem": 1 << 30},
        {"k": "stage_submitted", "stage_id": 1, "attempt": 0, "name": "count at app.py:9", "num_tasks": 2,
         "time": T0 + 49_000, "rdds": [{"rdd_id": 3, "name": "cached", "callsite": "app.py:8", "parents": [],
                                         "use_memory": True, "use_disk": False, "replication": 1, "partitions": 2}]},
        task_start(7, "1", T0 + 50_000),
        block("rdd_3_0", "1", 1000),
        block("rdd_3_1", "2", 3000),
        {"k": "replay_end", "time": time_ms, "executors": 2, "block_managers": 2, "blocks": 2, "tasks": 1},
        {"k": "listener_stats", "offered": 40, "dropped": 0, "reconnects": 1 if resumed else 0},
    ]
    return out if running else [e for e in out if e.get("k") not in ("task_start", "stage_submitted")]


class Listener:
    """A fake listener on a real socket: sends the hello, reads the reply, then what the agent writes."""

    def __init__(self, address: tuple[str, int], app_id: str = APP_ID, token: str = "") -> None:
        self.sock = socket.create_connection(address, timeout=10)
        self.sock.sendall(hello(app_id, token))
        self.reader = self.sock.makefile("rb")
        self.reply = json.loads(self.reader.readline())

    def send(self, *events: dict[str, Any]) -> None:
        self.sock.sendall(lines(*events))

    def next_line(self) -> bytes:
        return self.reader.readline()

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


def until(predicate: Callable[[], Any], timeout_s: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def agent() -> Iterator[Agent]:
    a = Agent(app_timeout_s=3600)
    a.start("127.0.0.1", 0)
    yield a
    a.stop()


def snap(agent: Agent, now_ms: int | None = None) -> dict[str, Any]:
    return agent.snapshot(APP_ID, now_ms)


# ------------------------------------------------------------------------------------ replay
def test_a_replay_after_a_reconnect_counts_nothing_twice(agent: Agent) -> None:
    assert agent.address is not None
    first = Listener(agent.address)
    first.send(*replay(T0 + 2_000, resumed=False))
    first.send(task_end(7, "1", T0 + 50_000, T0 + 54_000))
    until(lambda: snap(agent).get("tasks", {}).get("success") == 1, what="the first stream")
    now = T0 + 70_000
    before = snap(agent, now)
    first.close()
    until(lambda: agent.app(APP_ID) is not None and agent.app(APP_ID).connections == 0)  # type: ignore[union-attr]

    # The same listener again (a network blip): the whole replay once more, then one new task.
    again = Listener(agent.address)
    assert again.reply == {"ok": True}
    again.send(*replay(T0 + 65_000, resumed=True, running=False))  # task 7 has ended since
    again.send(task_start(8, "2", T0 + 66_000, 1))
    until(lambda: snap(agent)["tasks"]["running"] == 1, what="the new task")
    after = snap(agent, now)
    again.close()
    # Nothing the replay repeated was counted again: executors, blocks, bytes, tasks, events.
    for key in ("executors_added", "cached_blocks", "cached_bytes", "cache_recomputed_blocks",
                "allocated_core_seconds", "figures_from_ms"):
        assert after[key] == before[key], key
    # Task 8 and the stats line are the only new events; the replayed lines are counted apart.
    assert after["tasks"]["success"] == 1
    assert after["events_received"] == before["events_received"] + 2
    assert before["events_replayed"] == 12 and after["events_replayed"] == 12 + 10
    assert after["figures_from_ms"] is None and "taken_over" not in after["incomplete_reasons"]


def test_a_takeover_counts_from_the_replay_and_then_exactly(agent: Agent) -> None:
    """An agent that never held the app gets a resumed replay: it took the app over."""
    assert agent.address is not None
    listener = Listener(agent.address)
    listener.send(*replay(T_JOIN, resumed=True))
    until(lambda: snap(agent).get("executors_added") == 2, what="the replay")
    s = snap(agent, T_JOIN + 10_000)
    assert s["figures_from_ms"] == T_JOIN
    assert "taken_over" in s["incomplete_reasons"] and s["incomplete"]
    assert s["gaps"] == [[T0, T_JOIN]]
    # Executors with their real add times and cores; their figures count from the takeover: 2
    # executors x 2 cores x 10 s, of which task 7 (running since before the takeover) kept 1 core busy.
    assert {e["added_ms"] for e in s["executors"].values()} == {T0 + 1_000, T0 + 2_000}
    assert s["allocated_core_seconds"] == pytest.approx(40.0)
    assert s["busy_core_seconds"] == pytest.approx(10.0)
    assert s["idle_core_seconds"] == pytest.approx(30.0)
    assert s["idle_executor_seconds"] == pytest.approx(10.0)  # executor 2, idle since the takeover
    assert s["cached_blocks"] == 2 and s["cached_bytes"]["memory"] == 4000
    assert s["tasks"] == {**s["tasks"], "running": 1, "success": 0}
    assert s["events_received"] == 1  # the stats line; the replay's 12 lines are counted apart
    assert s["events_replayed"] == 12

    # After the takeover every loss and rebuild is exact: executor 2 is reclaimed with its block...
    listener.send(
        task_end(7, "1", T0 + 50_000, T_JOIN + 20_000),
        {"k": "executor_removed", "exec_id": "2", "time": T_JOIN + 30_000, "reason": "Executor killed by driver."},
        task_start(9, "1", T_JOIN + 40_000, 1),
        block("rdd_3_1", "1", 3000),  # ...and the block is rebuilt on executor 1 by task 9
        task_end(9, "1", T_JOIN + 40_000, T_JOIN + 45_000, 1),
    )
    until(lambda: snap(agent)["tasks"]["success"] == 2, what="the events after the takeover")
    s = snap(agent, T_JOIN + 50_000)
    assert (s["cache_lost_blocks"], s["cache_lost_bytes"]) == (1, 3000)
    assert s["cache_lost_by_cause"] == {"dynamic_allocation": [1, 3000]}
    assert (s["cache_recomputed_blocks"], s["cache_recompute_seconds"]) == (1, 5.0)
    # Task 7 counts busy from the takeover only (20 s), task 9 its 5 s; executor 2 lived 30 s of it.
    assert s["busy_core_seconds"] == pytest.approx(25.0)
    assert s["allocated_core_seconds"] == pytest.approx(2 * 50 + 2 * 30)
    listener.close()


def test_an_executor_gone_before_the_takeover_adds_nothing(agent: Agent) -> None:
    assert agent.address is not None
    listener = Listener(agent.address)
    listener.send(*replay(T_JOIN, resumed=True))
    # Queued before the takeover, sent after its replay: an executor added and removed meanwhile.
    listener.send(
        {"k": "executor_added", "exec_id": "5", "host": "h5", "cores": 4, "time": T0 + 10_000},
        task_end(11, "5", T0 + 11_000, T0 + 19_000),
        {"k": "executor_removed", "exec_id": "5", "time": T0 + 20_000, "reason": "Executor killed by driver."},
    )
    until(lambda: snap(agent)["executors_removed"] == 1, what="the removal")
    s = snap(agent, T_JOIN + 10_000)
    assert s["executors"]["5"]["lifetime_seconds"] == 0 and s["executors"]["5"]["busy_core_seconds"] == 0
    assert s["allocated_core_seconds"] == pytest.approx(40.0) and s["idle_core_seconds"] >= 0
    assert s["tasks"]["success"] == 1  # the event is counted; its time fell before the figures start
    listener.close()


# ------------------------------------------------------------- frozen when the listener is gone
def test_a_disconnected_app_is_frozen_and_closed_without_inventing() -> None:
    agent = Agent(app_timeout_s=3600, limits=None)
    agent.start("127.0.0.1", 0)
    try:
        assert agent.address is not None
        listener = Listener(agent.address)
        listener.send(*replay(T0 + 2_000, resumed=False))
        # Executor 2's block manager goes first; its removal (which would say why) never comes here:
        # the listener moves to another agent in between.
        listener.send(
            task_end(7, "1", T0 + 50_000, T0 + 52_000),
            {"k": "block_manager_removed", "exec_id": "2", "time": T0 + 53_000},
        )
        until(lambda: snap(agent).get("tasks", {}).get("success") == 1, what="the stream")
        listener.close()
        rec = agent.app(APP_ID)
        assert rec is not None
        until(lambda: rec.frozen, what="the disconnect")
        # Frozen: measured to its last event, whatever "now" is; no idle finding, however long.
        a = snap(agent, T0 + 10 * 3_600_000)
        b = snap(agent)
        assert a == b and a["running"] is True
        assert a["allocated_core_seconds"] == pytest.approx(2 * 52 + 2 * 51)  # to the last event, T0 + 53 s
        agent.sweep(time.monotonic(), T0 + 10 * 3_600_000)
        assert snap(agent)["findings_by_kind"].get("idle_executor", 0) == 0

        # The timeout closes it at its last event: same figures, no idle_share finding (the app was
        # 80 % idle on this agent's books), no loss settled as "other".
        agent.app_timeout_s = 0.0
        agent.sweep(time.monotonic() + 1, int(time.time() * 1000))
        closed = snap(agent)
        assert closed["closed_by_timeout"] and not closed["running"] and closed["end_ms"] == T0 + 53_000
        assert closed["allocated_core_seconds"] == a["allocated_core_seconds"]
        assert closed["busy_core_seconds"] == a["busy_core_seconds"]
        assert "idle_share" not in closed["findings_by_kind"]
        assert closed["cache_lost_blocks"] == 0 and closed["cache_lost_by_cause"] == {}
    finally:
        agent.stop()


def test_an_app_that_reconnects_is_measured_to_now_again(agent: Agent) -> None:
    assert agent.address is not None
    first = Listener(agent.address)
    first.send(*replay(T0 + 2_000, resumed=False))
    until(lambda: snap(agent).get("executors_added") == 2)
    first.close()
    until(lambda: agent.app(APP_ID).frozen)  # type: ignore[union-attr]
    frozen = snap(agent, T0 + 100_000)
    again = Listener(agent.address)
    again.send(*replay(T0 + 90_000, resumed=True))
    until(lambda: not agent.app(APP_ID).frozen)  # type: ignore[union-attr]
    live = snap(agent, T0 + 100_000)
    assert live["allocated_core_seconds"] > frozen["allocated_core_seconds"]
    again.close()


# ----------------------------------------------------------------------------- graceful stop
def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_shutdown_sends_listeners_elsewhere_then_serves_a_last_scrape() -> None:
    service = AgentService(AgentSettings(listen="127.0.0.1:0", metrics="127.0.0.1:0", drain_timeout_s=10,
                                         last_scrape_timeout_s=60)).start()
    assert service.agent is not None and service.metrics_url is not None
    base = service.metrics_url.removesuffix("/metrics")
    agent = service.agent
    listener = Listener(agent.address)  # type: ignore[arg-type]
    listener.send(*replay(T0 + 2_000, resumed=False))
    until(lambda: agent.snapshot(APP_ID).get("executors_added") == 2)
    assert get(base + "/readyz")[0] == 200
    assert get(service.metrics_url)[0] == 200  # Prometheus scrapes this agent

    done = threading.Event()
    stopper = threading.Thread(target=lambda: (service.shutdown(), done.set()), daemon=True)
    stopper.start()
    # The listener is told to go elsewhere; what it writes before it closes still counts here.
    assert listener.next_line() == GO_ELSEWHERE
    assert get(base + "/readyz")[0] == 503
    with pytest.raises(OSError):  # the event port is closed: a reconnect lands on another agent
        socket.create_connection(agent.address, timeout=5).close()  # type: ignore[arg-type]
    listener.send(task_end(7, "1", T0 + 50_000, T0 + 51_000))
    listener.close()
    until(lambda: agent.app(APP_ID) is not None and agent.app(APP_ID).frozen, what="the listener to leave")  # type: ignore[union-attr]
    assert agent.snapshot(APP_ID)["tasks"]["success"] == 1
    # The service now waits for one more scrape, which holds the app's final figures here.
    assert not done.is_set()
    status, body = get(service.metrics_url)
    assert status == 200 and b'sparkprobe_tasks_finished_total{app_id="app-fo"' in body
    stopper.join(timeout=30)
    assert done.is_set()


def test_shutdown_without_a_scraper_does_not_wait() -> None:
    service = AgentService(AgentSettings(listen="127.0.0.1:0", metrics="127.0.0.1:0",
                                         last_scrape_timeout_s=3600)).start()
    stopper = threading.Thread(target=service.shutdown, daemon=True)
    stopper.start()
    stopper.join(timeout=60)  # never scraped: nobody comes for a last scrape, no wait
    assert not stopper.is_alive()


def test_a_hello_to_a_stopping_agent_is_sent_on(agent: Agent) -> None:
    assert agent.address is not None
    agent.draining = True  # what drain() sets just before it closes the port
    listener = Listener(agent.address)
    assert listener.reply == {"ok": False, "go_elsewhere": True, "error": "agent stopping"}
    assert agent.rejected == {}  # not a refusal: nothing is wrong with the listener
    listener.close()


def test_sigterm_on_the_agent_process(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("tok-from-a-secret\n")
    port, metrics = free_port(), free_port()
    log = tmp_path / "agent.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sparkprobe.cli", "agent", "--listen", f"127.0.0.1:{port}",
             "--metrics", f"127.0.0.1:{metrics}", "--token-file", str(token_file), "--last-scrape-timeout", "60"],
            stdout=fh, stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{metrics}/metrics"

        def up() -> bool:
            assert proc.poll() is None, log.read_text()
            try:
                return get(url)[0] == 200
            except OSError:
                return False

        until(up, 60, "the agent to serve")
        refused = Listener(("127.0.0.1", port), token="wrong")
        assert refused.reply["ok"] is False
        refused.close()
        listener = Listener(("127.0.0.1", port), token="tok-from-a-secret")
        assert listener.reply == {"ok": True}
        listener.send(*replay(T0 + 2_000, resumed=False))
        until(lambda: b'app_id="app-fo"' in get(url)[1], what="the app on /metrics")
        proc.send_signal(signal.SIGTERM)
        assert listener.next_line() == GO_ELSEWHERE
        listener.close()
        until(lambda: b"agent_drained" in log.read_bytes() or b"listeners_sent_elsewhere" in log.read_bytes(),
              what="the drain")
        assert proc.poll() is None  # waiting for its last scrape
        assert get(url)[0] == 200
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    text = log.read_text()
    assert "Traceback" not in text and "tok-from-a-secret" not in text
