"""docs/fleet.md holds every row field and every key of the fleet JSON report, and nothing else."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from conftest import EVENTLOGS, REPO
from sparkprobe.fleet.report import FleetReport, format_summary, write_json
from sparkprobe.fleet.row import COLUMNS
from sparkprobe.fleet.run import FleetOptions, FleetRun
from sparkprobe.fleet.store import FleetStore

DOC = (REPO / "docs" / "fleet.md").read_text(encoding="utf-8")
RECORDED = EVENTLOGS / "recorded"


def section(heading: str) -> str:
    start = DOC.index(heading)
    end = DOC.find("\n## ", start + len(heading))
    return DOC[start:end]


def backticked(text: str) -> set[str]:
    return {w for span in re.findall(r"`([^`\n]+)`", text) for w in re.findall(r"[a-z_]+", span)}


def test_every_row_field_is_in_the_rows_table() -> None:
    rows = section("## Rows")
    documented = {w for line in rows.splitlines() if line.startswith("| `") for w in backticked(line.split("|")[1])}
    assert sorted(set(COLUMNS) - documented) == []
    assert sorted(documented - set(COLUMNS)) == []


@pytest.mark.skipif(not RECORDED.is_dir(), reason=f"real event logs not found at {EVENTLOGS}")
def test_every_key_of_the_json_report_is_documented(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    shutil.copytree(RECORDED, logs)
    (logs / "app-broken").write_bytes(b'{"Event":"SparkListenerLogStart"}\n')
    with FleetStore(tmp_path / "s.sqlite") as store:
        run = FleetRun(store, FleetOptions(jobs=2))
        run.plan_paths([logs])
        run.execute()
        counts = run.finish()
        report = FleetReport.build(store, counts, run.failures(), price_core_hour=0.05)
        with (tmp_path / "r.json").open("w") as out:
            write_json(report, out)
        summary = format_summary(report)
    doc: dict[str, Any] = json.loads((tmp_path / "r.json").read_text())
    keys: set[str] = set()

    def walk(value: Any, inside: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if inside not in ("rankings", "groups", "findings_by_kind"):
                    keys.add(k)
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, inside)

    walk(doc)
    documented = backticked(section("## JSON report")) | set(COLUMNS) | {"kind", "time_ms", "message"}
    assert sorted(keys - documented) == []
    assert set(doc["rankings"]) == {"idle_core_seconds", "cache_lost_bytes", "recompute_seconds", "cost"}
    assert set(doc["groups"]) == {"app_name", "user", "queue"}
    assert doc["failures"] and doc["regressions"] == [] and len(doc["apps"]) == 4
    # One screen: at most 24 lines.
    assert len(summary.splitlines()) <= 24, summary
