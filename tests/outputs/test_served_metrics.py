"""/metrics over a real socket: the bytes prometheus_client's own app serves, for every request kind.

The two usual formats are written by outputs/textformat.py; everything else goes to
prometheus_client. Either way the response must be what ``make_wsgi_app`` gives for the same
request: the same body, content type and encoding.
"""

from __future__ import annotations

import gzip
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from conftest import EVENTLOGS, compare_golden
from sparkprobe.model import AgentHealth
from sparkprobe.offline import analyze_source
from sparkprobe.outputs.exposition import MetricsServer
from sparkprobe.outputs.prometheus import app_families, collect_duration_family, health_families
from sparkprobe.outputs.pushgateway import PushgatewayExporter
from sparkprobe.outputs.textformat import render
from sparkprobe.sources.eventlog import discover

RECORDED = EVENTLOGS / "recorded"
HEALTH = AgentHealth({"json": 1}, {"bad_token": 2}, 1, 3, 1, 0, tls_handshake_failures=0)


class _Fixed(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families

    def describe(self) -> list[Metric]:
        return self.families  # lets ?name[]= pick them, as AgentCollector.describe does


@pytest.fixture(scope="module")
def registry() -> CollectorRegistry:
    reports = [analyze_source(s) for s in discover([RECORDED])]
    reg = CollectorRegistry(auto_describe=False)
    reg.register(_Fixed([*app_families(reports), *health_families(HEALTH), collect_duration_family(0.5)]))
    return reg


@pytest.fixture(scope="module")
def server(registry: CollectorRegistry) -> Iterator[MetricsServer]:
    srv = MetricsServer(registry)
    srv.start()
    yield srv
    srv.stop()


def _get(url: str, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as resp:
        return resp.read(), {k.lower(): v for k, v in resp.headers.items()}


ACCEPTS = [
    "", "text/plain", "*/*", "application/openmetrics-text", "application/openmetrics-text; version=1.0.0",
    "application/openmetrics-text; version=0.0.1,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "application/openmetrics-text; version=1.0.0; escaping=values", "text/plain; version=1.0.0; escaping=dots",
]


@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("compressed", [False, True])
def test_served_body_and_headers_are_prometheus_clients(
    server: MetricsServer, registry: CollectorRegistry, accept: str, compressed: bool
) -> None:
    headers = {"Accept": accept} if accept else {}
    if compressed:
        headers["Accept-Encoding"] = "gzip"
    body, got = _get(server.url, headers)
    encoder, content_type = choose_encoder(accept)
    assert got["content-type"] == content_type
    if compressed:
        assert got["content-encoding"] == "gzip"
        body = gzip.decompress(body)
    else:
        assert "content-encoding" not in got
    assert body == encoder(registry)


def test_a_name_filter_is_prometheus_clients(server: MetricsServer, registry: CollectorRegistry) -> None:
    body, _ = _get(server.url + "?name[]=sparkprobe_app_info&name[]=sparkprobe_agent_apps", {})
    assert body == generate_latest(registry.restricted_registry(["sparkprobe_app_info", "sparkprobe_agent_apps"]))
    assert b"sparkprobe_agent_apps " in body and b"sparkprobe_agent_bad_lines" not in body


def test_textformat_writes_the_golden_expositions() -> None:
    from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

    (source,) = discover([RECORDED / "spark-4.0.1-plain"])
    report = analyze_source(source)
    golden_health = AgentHealth({"json": 1}, {"bad_token": 2}, 1, 3, 1, 0, tls_handshake_failures=0)
    reg = CollectorRegistry(auto_describe=False)
    reg.register(_Fixed([*app_families([report]), *health_families(golden_health), collect_duration_family(0.0)]))
    reg.register(PushgatewayExporter("http://127.0.0.1:1"))
    families = list(reg.collect())
    plain = render(families, openmetrics=False)
    om = render(families, openmetrics=True)
    assert plain is not None and om is not None  # every family the agent serves is textformat's
    compare_golden("metrics.prom", plain.decode())
    compare_golden("metrics.openmetrics", om.decode())
    assert plain == generate_latest(reg) and om == generate_openmetrics(reg)
