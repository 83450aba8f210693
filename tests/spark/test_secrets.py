"""Credentials in a job's Spark conf never reach the wire, /metrics, logs or reports."""

from __future__ import annotations

import io
import json
import socket
import threading
import urllib.request
from typing import Any

import pytest

import sparkprobe
from conftest import wait_executors
from sparkprobe._logging import configure_logging
from sparkprobe.agent import Agent
from sparkprobe.outputs.exposition import MetricsServer
from sparkprobe.outputs.prometheus import make_registry
from sparkprobe.outputs.report import format_text, to_json

pytestmark = pytest.mark.spark

SECRETS = {
    "spark.hadoop.fs.s3a.secret.key": "S3CRET-s3a-7f3a9c",
    "spark.hadoop.fs.s3a.access.key": "AKIA-ACCESS-1b2c3d",
    "spark.myapp.db.password": "hunter2-pw-5e6f",
    "spark.myapp.api.token": "tok-9a8b7c6d",
    # sparkprobe's own secret: read by the listener (when TLS is on) and never sent, logged or exported.
    "spark.sparkprobe.tls.trustStorePassword": "tr0ust-pw-3c4d",
}


class WireTap:
    """A loopback proxy that records every byte the listener sends on its way to the agent."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.captured = bytearray()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, record: bool) -> None:
        try:
            while data := src.recv(65536):
                if record:
                    self.captured += data
                dst.sendall(data)
        except OSError:
            pass
        finally:
            dst.close()


def test_no_secret_leaves_the_driver(spark_factory: Any, tmp_path: Any) -> None:
    log = io.StringIO()
    configure_logging(log, json=True)
    agent = Agent(token="t0k")
    address = agent.start("127.0.0.1", 0)
    server = MetricsServer(make_registry(agent), app_names=agent.app_names)
    server.start("127.0.0.1", 0)
    tap = WireTap(address)
    try:
        spark = spark_factory("secrets", {
            **SECRETS,
            "spark.jars": sparkprobe.jar_path(),
            "spark.extraListeners": sparkprobe.LISTENER_CLASS,
            "spark.sparkprobe.endpoint": f"127.0.0.1:{tap.port}",
            "spark.sparkprobe.token": "t0k",
        })
        sc = spark.sparkContext
        wait_executors(sc, 2)
        sc.setLocalProperty("spark.myapp.api.token", SECRETS["spark.myapp.api.token"])
        rdd = sc.parallelize(range(1000), 4).cache()
        assert rdd.count() == 1000
        spark.range(100).selectExpr("id * 2").collect()
        spark.stop()
        snap = {}
        import time

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not snap or snap["running"]):
            snap = agent.snapshot()
            time.sleep(0.1)
        assert snap and not snap["running"], "app end not received"
        rec = agent.app()
        assert rec is not None
        report = agent.report(rec)
        metrics = urllib.request.urlopen(server.url, timeout=10).read().decode()
        outputs = {
            "wire": tap.captured.decode("utf-8", "replace"),
            "metrics": metrics,
            "logs": log.getvalue(),
            "json report": to_json([report]),
            "text report": format_text(report),
        }
        try:
            from sparkprobe.outputs.html import render_html

            outputs["html report"] = render_html([report])
        except ImportError:
            pass
        assert '"k":"conf"' in outputs["wire"] and "spark.dynamicAllocation" not in json.dumps(SECRETS)
        for where, text in outputs.items():
            for key, secret in SECRETS.items():
                assert secret not in text, f"{key} leaked into the {where}"
                assert key not in text, f"{key} (the key name) appears in the {where}"
    finally:
        server.stop()
        agent.stop()
        tap.server.close()
        configure_logging()
