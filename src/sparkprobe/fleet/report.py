"""The fleet report: the JSON document (docs/fleet.md, "JSON report") and a one-screen text summary.

Both read the state store, never a list of every app held in memory: the summary and the
regressions are one streaming pass each (:mod:`sparkprobe.fleet.rank`), and the JSON's ``apps``
are written one row at a time, so the report of 100,000 apps costs what one of 100 costs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final, TextIO

from sparkprobe.fleet.rank import Group, Regression, Summary, find_regressions, summarize
from sparkprobe.fleet.store import FleetStore, RunCounts
from sparkprobe.outputs.report import format_bytes

__all__ = ["FLEET_SCHEMA", "FleetReport", "format_summary", "write_json"]

#: Version of the fleet JSON document: it only grows within a version.
FLEET_SCHEMA: Final = 1


@dataclass(slots=True)
class FleetReport:
    """What a fleet report shows: this run, and the store's summary and regressions."""

    store: FleetStore
    counts: RunCounts
    failures: list[tuple[str, str]]
    summary: Summary
    regressions: list[Regression]
    top: int
    price_core_hour: float | None

    @classmethod
    def build(
        cls,
        store: FleetStore,
        counts: RunCounts,
        failures: list[tuple[str, str]],
        *,
        top: int = 10,
        price_core_hour: float | None = None,
    ) -> FleetReport:
        """Summarise the store (two streaming passes)."""
        summary = summarize(store.apps(), top=top, price_core_hour=price_core_hour)
        regressions = find_regressions(store.apps(by_name=True))
        return cls(store, counts, failures, summary, regressions, top, price_core_hour)


def _group_json(group: Group) -> dict[str, Any]:
    out: dict[str, Any] = {
        "key": group.key,
        "apps": group.apps,
        "allocated_core_seconds": group.allocated_core_seconds,
        "idle_core_seconds": group.idle_core_seconds,
        "idle_share": group.idle_share,
        "cache_lost_bytes": group.cache_lost_bytes,
        "recompute_seconds": group.recompute_seconds,
        "first_start_ms": group.first_start_ms,
        "last_start_ms": group.last_start_ms,
    }
    if group.cost is not None:
        out["cost"] = group.cost
    return out


def _head(report: FleetReport) -> dict[str, Any]:
    """Everything of the document but ``apps``."""
    c, s = report.counts, report.summary
    totals = _group_json(s.totals)
    totals.pop("key")
    totals["in_progress"] = s.in_progress
    totals["incomplete"] = s.incomplete
    return {
        "schema": FLEET_SCHEMA,
        "state": str(report.store.path),
        "run": {
            "analysed": c.analysed,
            "skipped": c.skipped,
            "failed": c.failed,
            "seconds": c.seconds,
            "found": c.found,
            "unchanged": c.unchanged,
            "older": c.older,
            "duplicates": c.duplicates,
            "status": c.status,
            "worker_peak_rss_bytes": c.worker_peak_rss_bytes,
        },
        "totals": totals,
        "rankings": {
            name: [
                {"app_id": r.app_id, "attempt_id": r.attempt_id, "app_name": r.app_name, "value": r.value}
                for r in ranked
            ]
            for name, ranked in s.rankings.items()
        },
        "groups": {name: [_group_json(g) for g in groups] for name, groups in s.groups.items()},
        "regressions": [
            {
                "app_id": r.app_id,
                "attempt_id": r.attempt_id,
                "app_name": r.app_name,
                "start_ms": r.start_ms,
                "metric": r.metric,
                "value": r.value,
                "median": r.median,
                "runs": r.runs,
                "factor": r.factor,
                "message": r.message,
            }
            for r in report.regressions
        ],
        "failures": [{"log": log, "error": error} for log, error in report.failures],
    }


def write_json(report: FleetReport, stream: TextIO) -> None:
    """Write the document (keys sorted, ``apps`` by app id and attempt), one app at a time."""
    head = _head(report)
    keys = sorted([*head, "apps"])
    stream.write("{\n")
    for i, key in enumerate(keys):
        stream.write(f"  {json.dumps(key)}: ")
        if key == "apps":
            _write_apps(report.store.apps(), stream)
        else:
            text = json.dumps(head[key], indent=2, sort_keys=True)
            stream.write(text.replace("\n", "\n  "))
        stream.write(",\n" if i < len(keys) - 1 else "\n")
    stream.write("}\n")


def _write_apps(rows: Iterator[Any], stream: TextIO) -> None:
    stream.write("[")
    first = True
    for row in rows:
        text = json.dumps(row.to_json(), sort_keys=True)
        stream.write(("\n    " if first else ",\n    ") + text)
        first = False
    stream.write("]" if first else "\n  ]")


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:,.1f}"


def _app(name: str, app_id: str, attempt_id: str) -> str:
    attempt = f", attempt {attempt_id}" if attempt_id else ""
    return f"{name or '?'} ({app_id}{attempt})"


def format_summary(report: FleetReport, *, lines: int = 3) -> str:
    """The run and the fleet on one screen: counts, totals, the top apps and names, regressions, failures."""
    c, s = report.counts, report.summary
    t = s.totals
    out = [
        f"sparkprobe fleet: {t.apps:,} apps in {report.store.path}; this run: {c.analysed:,} analysed, "
        f"{c.skipped:,} skipped ({c.unchanged:,} unchanged, {c.older:,} older), {c.failed:,} failed, "
        f"{c.seconds:,.1f}s" + (" (interrupted)" if c.status == "interrupted" else ""),
    ]
    if c.duplicates:
        out.append(f"  {c.duplicates:,} logs held an app another log holds too (the complete copy is kept)")
    cost = f", cost {t.cost:,.2f}" if t.cost is not None else ""
    out.append(
        f"  totals     {_hours(t.allocated_core_seconds)} core-hours allocated, {_hours(t.idle_core_seconds)} "
        f"idle ({t.idle_share:.0%}); cache lost {format_bytes(t.cache_lost_bytes)}; "
        f"recompute {_hours(t.recompute_seconds)} h{cost}"
    )
    sections: list[tuple[str, str, Callable[[float], str]]] = [
        ("top idle", "idle_core_seconds", lambda v: f"{_hours(v)} core-hours idle"),
        ("cache lost", "cache_lost_bytes", format_bytes),
        ("recompute", "recompute_seconds", lambda v: f"{v:,.1f}s of tasks"),
    ]
    for title, ranking, show in sections:
        ranked = s.rankings.get(ranking, [])
        for i, r in enumerate(ranked[:lines]):
            label = title if i == 0 else ""
            out.append(f"  {label:<10} {i + 1}. {_app(r.app_name, r.app_id, r.attempt_id)}: {show(r.value)}")
    for i, g in enumerate(s.groups.get("app_name", [])[:lines]):
        label = "top names" if i == 0 else ""
        out.append(
            f"  {label:<10} {i + 1}. {g.key or '?'}: {g.apps:,} runs, {_hours(g.idle_core_seconds)} core-hours idle "
            f"({g.idle_share:.0%})"
        )
    if report.regressions:
        out.append(f"  regressions {len(report.regressions):,}:")
        for reg in report.regressions[:lines]:
            out.append(f"    {_app(reg.app_name, reg.app_id, reg.attempt_id)}: {reg.message}")
    if report.failures:
        out.append(f"  failures   {len(report.failures):,} (each is read again on the next run):")
        for log, error in report.failures[:lines]:
            out.append(f"    {log}: {error}")
        if len(report.failures) > lines:
            out.append(f"    ... {len(report.failures) - lines:,} more in the JSON report (-o report.json)")
    return "\n".join(out)
