"""The composition root: one set of defaults, start/stop order, and the HTTP endpoint it serves."""

from __future__ import annotations

import gzip
import json
import socket
import urllib.error
import urllib.request
from dataclasses import fields

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import free_port
from sparkprobe.cli import build_parser
from sparkprobe.service import DEFAULTS, AgentService, AgentSettings, ServiceError

APP = [
    {"k": "app_start", "app_id": "app-s", "app_name": "service-test", "user": "u", "time": 1000},
    {"k": "executor_added", "exec_id": "1", "host": "h", "cores": 2, "time": 1000},
]


def test_cli_defaults_are_the_settings_defaults() -> None:
    args = build_parser().parse_args(["agent"])
    by_flag = {
        "listen": args.listen, "metrics": args.metrics, "retention_s": args.retention,
        "app_timeout_s": args.app_timeout, "max_apps": args.max_apps, "idle_threshold_s": args.idle_threshold,
        "pushgateway": args.pushgateway, "pushgateway_job": args.pushgateway_job,
        "pushgateway_per_run": args.pushgateway_per_run, "tls_cert": args.tls_cert, "tls_key": args.tls_key,
        "metrics_tls_cert": args.metrics_tls_cert, "metrics_tls_key": args.metrics_tls_key,
        "token": args.token or "",
        "price_core_hour": args.price_core_hour, "price_gib_hour": args.price_gib_hour,
        "max_tenants": args.max_tenants,
        "drain_timeout_s": args.drain_timeout, "last_scrape_timeout_s": args.last_scrape_timeout,
    }
    for name, value in by_flag.items():
        assert getattr(DEFAULTS, name) == value, name
    # Every setting is either a flag above or one the CLI never changes (documented as such).
    assert {f.name for f in fields(AgentSettings)} - set(by_flag) == {"max_line_bytes", "log_findings"}


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def feed(endpoint: str) -> None:
    host, port = endpoint.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b'{"hello":"sparkprobe","wire":1,"app_id":"app-s","token":"","listener":"test"}\n')
        assert sock.makefile("rb").readline().startswith(b'{"ok":true')
        sock.sendall(b"".join(json.dumps(e).encode() + b"\n" for e in APP))


def test_the_endpoint_negotiates_filters_and_answers_probes() -> None:
    service = AgentService(AgentSettings(listen="127.0.0.1:0", metrics="127.0.0.1:0")).start()
    url = service.metrics_url
    try:
        assert url is not None and service.agent is not None
        feed(service.endpoint)
        base = service.metrics_url.removesuffix("/metrics")
        import time

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not service.agent.snapshot("app-s"):
            time.sleep(0.05)
        status, headers, body = get(service.metrics_url)
        assert status == 200 and headers["Content-Type"].startswith("text/plain")
        names = {f.name for f in text_string_to_metric_families(body.decode())}
        assert {"sparkprobe_executors_active", "sparkprobe_agent_connections_open"} <= names
        # OpenMetrics by Accept, gzip by Accept-Encoding, one family by name[]: prometheus_client's own.
        status, headers, body = get(service.metrics_url, {"Accept": "application/openmetrics-text; version=1.0.0"})
        assert headers["Content-Type"].startswith("application/openmetrics-text") and body.endswith(b"# EOF\n")
        status, headers, body = get(service.metrics_url, {"Accept-Encoding": "gzip"})
        assert headers.get("Content-Encoding") == "gzip" and b"sparkprobe_executors_active" in gzip.decompress(body)
        status, _, body = get(service.metrics_url + "?name[]=sparkprobe_executors_active")
        assert {f.name for f in text_string_to_metric_families(body.decode())} == {"sparkprobe_executors_active"}
        assert get(base + "/healthz")[0] == 200 and get(base + "/readyz")[0] == 200
        assert b"service-test (app-s)" in get(base + "/")[2]
        assert get(base + "/nothing")[0] == 404
    finally:
        service.stop()
    with pytest.raises(OSError):  # stopped: nothing listens there any more
        urllib.request.urlopen(url, timeout=2)


def test_the_push_counters_are_on_metrics_when_pushing() -> None:
    settings = AgentSettings(listen="127.0.0.1:0", metrics="127.0.0.1:0", pushgateway=f"http://127.0.0.1:{free_port()}")
    with AgentService(settings) as service:
        assert service.metrics_url is not None
        body = get(service.metrics_url)[2].decode()
        assert 'sparkprobe_pushgateway_pushes_total{result="success"} 0.0' in body


def test_a_bad_setting_is_a_clear_error_and_nothing_is_left_listening() -> None:
    with pytest.raises(ServiceError, match="without --token"):
        AgentService(AgentSettings(listen="0.0.0.0:0", metrics=None)).start()
    with pytest.raises(ServiceError, match="go together"):
        AgentService(AgentSettings(listen="127.0.0.1:0", metrics=None, tls_cert="c.pem")).start()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        service = AgentService(AgentSettings(listen="127.0.0.1:0", metrics=f"127.0.0.1:{port}"))
        with pytest.raises(ServiceError, match=f"cannot serve metrics on 127.0.0.1:{port}"):
            service.start()
        assert service.agent is None  # the event port was closed again
