"""A stand-in for spark-submit: speaks wire v1 to the agent like the listener would, no Spark.

Reads ``spark.sparkprobe.endpoint`` / ``token`` from its ``--conf`` arguments, prints its argv as
JSON (and a few raw bytes) on stdout, and exits with ``FAKE_EXIT``. ``FAKE_MODE``:

- ``cache_loss`` (default): an app that caches two blocks, loses one with its executor, ends;
- ``hang``: an app that starts and then waits for a signal (written to ``FAKE_MARKER``), no end;
- ``silent``: never connects (a job that fails before its SparkContext starts).

``FAKE_METRICS_URL``: fetch it before the app ends and print ``METRICS <n>`` (lines naming
``sparkprobe_cache_lost_blocks``) on stdout. ``FAKE_SLEEP``: seconds to wait before the app ends.
Writes one line ``FAKE STDERR`` on stderr.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
import urllib.request

BLOCK = {
    "use_memory": True,
    "use_disk": False,
    "off_heap": False,
    "deserialized": True,
    "replication": 1,
    "disk_size": 0,
}


def conf(argv: list[str], key: str) -> str:
    for i, word in enumerate(argv):
        if word == "--conf" and argv[i + 1].startswith(key + "="):
            return argv[i + 1].split("=", 1)[1]
    raise SystemExit(f"fake spark-submit: no --conf {key}")


def send(sock: socket.socket, *events: dict[str, object]) -> None:
    sock.sendall(b"".join(json.dumps(e).encode() + b"\n" for e in events))


def task(tid: int, exec_id: str, launch: int, finish: int | None = None) -> dict[str, object]:
    ev: dict[str, object] = {
        "k": "task_start" if finish is None else "task_end",
        "task_id": tid,
        "stage_id": 0,
        "stage_attempt": 0,
        "index": tid,
        "partition": tid,
        "attempt": 0,
        "exec_id": exec_id,
        "launch": launch,
    }
    if finish is not None:
        ev.update(finish=finish, status="success", run_ms=finish - launch)
    return ev


def main() -> int:
    argv = sys.argv[1:]
    mode = os.environ.get("FAKE_MODE", "cache_loss")
    out = sys.stdout.buffer
    out.write(b"FAKE ARGV " + json.dumps(argv).encode() + b"\n")
    out.write(b"raw \xff\x00 bytes\r\n")
    out.flush()
    sys.stderr.write("FAKE STDERR\n")
    sys.stderr.flush()
    if mode == "silent":
        return int(os.environ.get("FAKE_EXIT", "0"))
    host, _, port = conf(argv, "spark.sparkprobe.endpoint").rpartition(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    app_id = "app-fake-0001"
    send(
        sock,
        {
            "hello": "sparkprobe",
            "wire": 1,
            "app_id": app_id,
            "token": conf(argv, "spark.sparkprobe.token"),
            "listener": "fake",
        },
    )
    reply = json.loads(sock.makefile("rb").readline())
    if reply != {"ok": True}:
        raise SystemExit(f"fake spark-submit: refused: {reply}")
    t = int(time.time() * 1000) - 10_000  # recent: no idle finding from the agent's wall-clock sweep
    send(
        sock,
        {
            "k": "app_start",
            "app_id": app_id,
            "app_name": "fake-app",
            "user": "me",
            "time": t,
            "spark_version": "9.9.9",
        },
    )
    if mode == "hang":
        marker = os.environ["FAKE_MARKER"]

        def on_signal(signum: int, _frame: object) -> None:
            with open(marker, "a", encoding="utf-8") as fh:
                fh.write(signal.Signals(signum).name + "\n")
            raise SystemExit(0)

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        with open(marker + ".ready", "w", encoding="utf-8") as fh:
            fh.write("ready\n")
        time.sleep(120)
        return 9
    send(
        sock,
        {"k": "executor_added", "exec_id": "1", "host": "h1", "cores": 1, "time": t + 100},
        {"k": "executor_added", "exec_id": "2", "host": "h2", "cores": 1, "time": t + 100},
        {"k": "block_manager_added", "exec_id": "1", "host": "h1", "time": t + 100, "max_mem": 1 << 20},
        {"k": "block_manager_added", "exec_id": "2", "host": "h2", "time": t + 100, "max_mem": 1 << 20},
        task(0, "1", t + 200),
        task(1, "2", t + 200),
        task(0, "1", t + 200, t + 700),
        task(1, "2", t + 200, t + 700),
        {"k": "block_updated", "block_id": "rdd_3_0", "exec_id": "1", "mem_size": 4096, **BLOCK},
        {"k": "block_updated", "block_id": "rdd_3_1", "exec_id": "2", "mem_size": 4096, **BLOCK},
        {"k": "executor_removed", "exec_id": "1", "time": t + 6000, "reason": "Executor killed by driver."},
        {"k": "block_manager_removed", "exec_id": "1", "time": t + 6000},
    )
    url = os.environ.get("FAKE_METRICS_URL")
    if url:
        deadline = time.monotonic() + 10
        lines = 0
        while time.monotonic() < deadline and not lines:
            body = urllib.request.urlopen(url, timeout=5).read().decode()
            lines = sum(1 for ln in body.splitlines() if ln.startswith("sparkprobe_cache_lost_blocks_total{"))
            time.sleep(0.1)
        print(f"METRICS {lines}", flush=True)
    time.sleep(float(os.environ.get("FAKE_SLEEP", "0")))
    send(sock, {"k": "app_end", "time": t + 8000})
    sock.close()
    return int(os.environ.get("FAKE_EXIT", "0"))


if __name__ == "__main__":
    sys.exit(main())
