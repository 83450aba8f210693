"""outputs/textformat.py writes the same bytes as prometheus_client, in both text formats."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.registry import Collector

from conftest import EVENTLOGS
from sparkprobe.model import AgentHealth
from sparkprobe.offline import analyze_source
from sparkprobe.outputs.prometheus import app_families, collect_duration_family, health_families
from sparkprobe.outputs.textformat import render
from sparkprobe.sources.eventlog import discover


class _Fixed(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families


def _theirs(families: list[Metric]) -> tuple[bytes, bytes]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(families))
    return generate_latest(registry), generate_openmetrics(registry)


def _check(families: list[Metric]) -> None:
    plain, om = _theirs(families)
    assert render(families, openmetrics=False) == plain
    assert render(families, openmetrics=True) == om


HEALTH = AgentHealth({"json": 1}, {"bad_token": 2}, 1, 3, 1, 0, tls_handshake_failures=0)


def test_every_family_of_real_apps_renders_identically() -> None:
    reports = [analyze_source(s) for s in discover([EVENTLOGS / "recorded"])]
    assert len(reports) >= 4
    _check([*app_families(reports), *health_families(HEALTH), collect_duration_family(0.0123)])


HOSTILE = ['a"b', "back\\slash", "new\nline", "tab\there", "ünï☃de", "", " ", "{x}", "a,b=c", "\\n", '"']
VALUES = [0, 1, -1, 0.1, 1e-9, 1e21, 123456789.0, 1234567.5, 12345678.25, -1e21, float("inf"), float("-inf"),
          float("nan"), 2**53 + 1, 3.0000000000000004, 5e-324]


def test_hostile_label_values_help_texts_and_values_render_identically() -> None:
    rng = random.Random(16)
    for _ in range(50):
        families: list[Metric] = []
        for i in range(rng.randint(1, 6)):
            labels = rng.sample(["app_id", "app_name", "reason", "cause", "zz", "a_b"], rng.randint(0, 3))
            doc = rng.choice(["Plain.", 'quo"te', "back\\slash", "new\nline", "ünï"])
            kind = rng.choice(["gauge", "counter", "summary", "info"])
            name = f"sparkprobe_test_{i}"
            family: Metric
            if kind == "gauge":
                family = GaugeMetricFamily(name, doc, labels=labels)
            elif kind == "counter":
                family = CounterMetricFamily(name, doc, labels=labels)
            elif kind == "summary":
                family = SummaryMetricFamily(name, doc, labels=labels)
            else:
                family = InfoMetricFamily(name, doc, labels=labels)
            for _ in range(rng.randint(0, 4)):
                values = [rng.choice(HOSTILE) for _ in labels]
                if kind == "summary":
                    family.add_metric(values, count_value=rng.randint(0, 9), sum_value=rng.choice(VALUES))
                elif kind == "info":
                    family.add_metric(values, {"version": rng.choice(HOSTILE)})
                else:
                    family.add_metric(values, rng.choice(VALUES))
            families.append(family)
        _check(families)


def test_units_and_created_samples_render_identically() -> None:
    gauge = GaugeMetricFamily("sparkprobe_test_seconds", "With a unit.", labels=["x"], unit="seconds")
    gauge.add_metric(["1"], 2.5)
    counter = CounterMetricFamily("sparkprobe_test", "With created.", labels=["x"], created=1700000000.5)
    counter.add_metric(["1"], 3, created=1700000000.25)
    _check([gauge, counter])


@pytest.mark.parametrize(("name", "labels"), [("sparkprobe:colon", []), ("sparkprobe_x", ["__x"])])
def test_what_it_does_not_cover_is_left_to_prometheus_client(name: str, labels: list[str]) -> None:
    family = GaugeMetricFamily(name, "Not covered.", labels=labels)
    family.add_metric(["v"] * len(labels), 1)
    assert render([family], openmetrics=False) is None
    assert render([family], openmetrics=True) is None
