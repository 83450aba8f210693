"""Golden outputs: the /metrics exposition and the JSON report of one recorded run, byte for byte.

Any change to a metric (name, help text, type, label, value) or to the report's JSON shows up here
and must be made on purpose: `pytest tests/outputs/test_golden.py --update-golden`, then review the
diff of tests/golden/ in the commit. The input is a real event log (shared/eventlogs/recorded: a
local-cluster run that caches, loses its cache to dynamic allocation and rebuilds it).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.registry import Collector

from conftest import EVENTLOGS, compare_golden
from sparkprobe.model import AgentHealth, AppReport
from sparkprobe.offline import analyze_source
from sparkprobe.outputs.prometheus import app_families, collect_duration_family, health_families
from sparkprobe.outputs.pushgateway import PushgatewayExporter, app_registry
from sparkprobe.outputs.report import format_text, write_json
from sparkprobe.sources.eventlog import discover

RECORDED = EVENTLOGS / "recorded" / "spark-4.0.1-plain"

pytestmark = pytest.mark.skipif(not RECORDED.is_dir(), reason=f"recorded event logs not found at {RECORDED}")

#: The agent's own figures in the golden exposition: fixed, so the text is the same at every run.
HEALTH = AgentHealth(
    bad_lines={"json": 1},
    rejected={"bad_token": 2},
    connections_open=1,
    connections_total=3,
    apps_held=1,
    apps_over_limit=0,
    tls_handshake_failures=0,
)


class _Fixed(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families


@pytest.fixture(scope="module")
def report() -> AppReport:
    (source,) = discover([RECORDED])
    return analyze_source(source)


def exposition_registry(report: AppReport) -> CollectorRegistry:
    """Every family sparkprobe exposes (per app, agent health, Pushgateway pushes), with fixed values."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed([*app_families([report]), *health_families(HEALTH), collect_duration_family(0.0)]))
    registry.register(PushgatewayExporter("http://127.0.0.1:1"))
    return registry


def test_metrics_exposition_is_the_golden_one(report: AppReport, golden: Callable[[str, str], None]) -> None:
    golden("metrics.prom", generate_latest(exposition_registry(report)).decode())


def test_pushed_exposition_is_the_golden_one(report: AppReport, golden: Callable[[str, str], None]) -> None:
    golden("pushed.prom", generate_latest(app_registry(report, pushed_at=1_800_000_000.0)).decode())


def test_openmetrics_exposition_is_the_golden_one(report: AppReport, golden: Callable[[str, str], None]) -> None:
    golden("metrics.openmetrics", generate_openmetrics(exposition_registry(report)).decode())


def test_json_report_is_the_golden_one(report: AppReport, golden: Callable[[str, str], None]) -> None:
    out = io.StringIO()
    write_json([report], out)
    golden("report.json", out.getvalue())


def test_text_report_is_the_golden_one(report: AppReport, golden: Callable[[str, str], None]) -> None:
    golden("report.txt", format_text(report) + "\n")


def test_the_golden_check_catches_one_character(report: AppReport) -> None:
    text = generate_latest(exposition_registry(report)).decode()
    help_line = next(line for line in text.splitlines() if line.startswith("# HELP sparkprobe_cached_blocks "))
    changed = text.replace(help_line, help_line[:-1] + ("," if not help_line.endswith(",") else "."), 1)
    assert changed != text
    compare_golden("metrics.prom", text)  # always compares, whatever --update-golden says
    with pytest.raises(AssertionError, match=r"differs from tests/golden/metrics\.prom"):
        compare_golden("metrics.prom", changed)
