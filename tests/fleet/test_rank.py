"""Ranking, grouping and regressions on hand-made rows: every figure checked against arithmetic."""

from __future__ import annotations

import dataclasses
import random
import re
from typing import Any

import pytest

from conftest import REPO
from sparkprobe.fleet.rank import HISTORY, MIN_HISTORY, RULES, find_regressions, summarize
from sparkprobe.fleet.row import COLUMNS, AppRow


def row(app_id: str, name: str = "etl", start_ms: int = 0, **figures: Any) -> AppRow:
    zero = {"int": 0, "float": 0.0, "bool": False, "str": ""}
    values: dict[str, Any] = {c: zero.get(k, "") for c, k in COLUMNS.items()}
    values.update(app_id=app_id, app_name=name, start_ms=start_ms, end_ms=start_ms + 1000, findings_by_kind={},
                  findings=(), dynamic_allocation=None)
    values.update(figures)
    return AppRow(**values)


def test_rankings_keep_the_top_n_with_ties_by_key_whatever_the_order() -> None:
    rows = [row(f"app-{i:02d}", idle_core_seconds=float(i % 7), cache_lost_bytes=i * 10) for i in range(40)]
    expected_idle = sorted(rows, key=lambda r: (-r.idle_core_seconds, r.app_id))[:5]
    for seed in range(5):
        random.Random(seed).shuffle(rows)
        s = summarize(rows, top=5)
        assert [r.app_id for r in s.rankings["idle_core_seconds"]] == [r.app_id for r in expected_idle]
        assert [r.value for r in s.rankings["cache_lost_bytes"]] == [390, 380, 370, 360, 350]
    assert "cost" not in s.rankings
    # Apps with nothing to rank by are not ranked.
    assert summarize([row("a")], top=5).rankings["idle_core_seconds"] == []


def test_groups_and_totals_sum_their_apps() -> None:
    rows = [
        row("a", "etl", 10, user="ann", queue="q1", allocated_core_seconds=3600, idle_core_seconds=1800,
            recompute_seconds=5, uncached_recompute_seconds=1, cache_lost_bytes=7),
        row("b", "etl", 20, user="bob", queue="q1", allocated_core_seconds=7200, idle_core_seconds=0),
        row("c", "report", 5, user="ann", queue="", allocated_core_seconds=1800, idle_core_seconds=900),
    ]
    s = summarize(rows, price_core_hour=2.0)
    etl, report = s.groups["app_name"]
    assert (etl.key, etl.apps, etl.allocated_core_seconds, etl.idle_core_seconds) == ("etl", 2, 10800, 1800)
    assert (etl.recompute_seconds, etl.cache_lost_bytes, etl.first_start_ms, etl.last_start_ms) == (6, 7, 10, 20)
    assert etl.cost == 6.0 and report.cost == 1.0 and etl.idle_share == 1800 / 10800
    assert [(g.key, g.apps) for g in s.groups["user"]] == [("ann", 2), ("bob", 1)]
    assert [(g.key, g.apps) for g in s.groups["queue"]] == [("q1", 2), ("", 1)]
    assert (s.totals.apps, s.totals.allocated_core_seconds, s.totals.cost) == (3, 12600, 7.0)
    assert [r.app_id for r in s.rankings["cost"]] == ["b", "a", "c"]


def history(values: list[float], metric: str = "idle_share", name: str = "etl") -> list[AppRow]:
    base = {"allocated_core_seconds": 10_000.0}
    return [row(f"{name}-{i:02d}", name, i * 1000, **base, **{metric: v}) for i, v in enumerate(values)]


def test_a_figure_three_times_its_median_is_a_regression() -> None:
    rows = history([0.1, 0.12, 0.1, 0.11, 0.35])
    (reg,) = find_regressions(rows)
    assert (reg.app_id, reg.metric, reg.runs) == ("etl-04", "idle_share", 4)
    assert reg.median == pytest.approx(0.105) and reg.factor == pytest.approx(0.35 / 0.105)
    assert reg.message == "idle share 35% is 3.3x its median 11% over the last 4 runs"
    assert find_regressions(history([0.1, 0.12, 0.1, 0.11, 0.3])) == []  # 2.9x


def test_the_history_is_the_last_runs_of_the_same_name_only() -> None:
    assert find_regressions(history([0.1, 0.1, 0.5])) == []  # two runs before: too few
    assert len(history([0.1] * MIN_HISTORY + [0.5])) == MIN_HISTORY + 1
    assert [r.app_id for r in find_regressions(history([0.1] * MIN_HISTORY + [0.5]))] == [f"etl-{MIN_HISTORY:02d}"]
    # Spikes are flagged until they are half the window; once HISTORY plain runs pushed them out,
    # a spike is 3x the median again.
    values = [0.1] * 3 + [0.31] * HISTORY + [0.1] * HISTORY + [0.31]
    flagged = [r.app_id for r in find_regressions(history(values))]
    assert flagged == ["etl-03", "etl-04", "etl-05", f"etl-{len(values) - 1:02d}"]
    mixed = history([0.1, 0.1, 0.1], name="a") + history([0.9], name="b")
    assert find_regressions(mixed) == []


def test_a_median_near_zero_is_taken_at_its_floor() -> None:
    (floor,) = [r.floor for r in RULES if r.metric == "idle_share"]
    assert find_regressions(history([0.0, 0.0, 0.0, 2.9 * floor])) == []
    (reg,) = find_regressions(history([0.0, 0.0, 0.0, 3 * floor]))
    assert reg.median == 0.0 and reg.factor == pytest.approx(3.0)


def test_in_progress_apps_are_not_judged_nor_history() -> None:
    rows = history([0.1, 0.1, 0.1, 0.9, 0.1, 0.5])
    rows[3] = dataclasses.replace(rows[3], in_progress=True)
    flagged = [r.app_id for r in find_regressions(rows)]
    assert flagged == ["etl-05"]  # etl-03 is skipped; etl-05 is compared with the four ended runs


def test_every_rule_is_documented() -> None:
    text = (REPO / "docs" / "fleet.md").read_text(encoding="utf-8")
    table = re.findall(r"^\| `([a-z_]+)` \| ([0-9.]+)\u00d7 \|", text, re.MULTILINE)
    assert {(m, float(f)) for m, f in table} == {(r.metric, r.factor) for r in RULES}
