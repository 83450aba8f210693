"""The HTML report's memory ledger, beside the core ledger: figures from the typed report, escaped."""

from __future__ import annotations

import re

from report_builders import PUBLIC, log_report, needs_public

from sparkprobe.analysis.report import build_report
from sparkprobe.analysis.state import AppState, Limits
from sparkprobe.events import AppEnd, AppStart, Conf, ExecutorAdded, ExecutorMetrics, ExecutorRemoved
from sparkprobe.outputs.html import render_html
from sparkprobe.outputs.html.memory import memory_ledger

MIB = 1 << 20


def section(html: str) -> str:
    found = re.search(r'<section class="memory">.*?</section>', html, re.S)
    assert found, "no memory section"
    return found.group(0)


def figure(html: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}">([^<]*)<', html)
    assert found, name
    return found.group(1)


@needs_public
def test_a_real_log_shows_given_peaks_held_and_executors() -> None:
    report = log_report(str(PUBLIC / "application_1538416563558_0014"))
    m = report.memory
    assert m is not None and m.available
    html = render_html([report])
    ledger = section(html)
    # Beside the core ledger: right after the headline cards, before the timeline.
    assert html.index('<section class="memory">') < html.index("<h3>Executor timeline</h3>")
    assert figure(ledger, "memory_container") == "1.4 GiB"  # 1 GiB heap + 384 MiB overhead (YARN)
    assert figure(ledger, "memory_peak_heap") == "246.7 MiB"
    assert figure(ledger, "memory_allocated").endswith("GiB-h")
    rows = re.findall(r'<tr[^>]*data-exec="([^"]+)"', ledger)
    assert sorted(rows, key=int) == [e.exec_id for e in sorted(report.executors, key=lambda e: int(e.exec_id))]
    assert "process_rss" in ledger and "python_rss" in ledger
    assert 'data-figure="cost_total"' not in ledger  # no price, no money


@needs_public
def test_a_log_without_metrics_says_unavailable() -> None:
    ledger = section(render_html([log_report(str(PUBLIC / "rp_sql_eventlog.zstd"))]))
    assert figure(ledger, "memory_peak_heap") == "unavailable"
    assert "memory peaks unavailable" in ledger


def test_removals_cost_and_hostile_text() -> None:
    state = AppState(limits=Limits(price_core_hour=0.05, price_gib_hour=0.01))
    state.apply(AppStart("app-h", "<b>x</b>", "u", 0, "4.3.0"))
    state.apply(Conf({"spark.master": "yarn", "spark.executor.memory": "2g"}))
    state.apply(ExecutorAdded("<img src=x onerror=alert(1)>", "h", 1, 0))
    state.apply(ExecutorMetrics("<img src=x onerror=alert(1)>", {"JVMHeapMemory": 500 * MIB}, 0, 0, "task"))
    state.apply(ExecutorRemoved("<img src=x onerror=alert(1)>", 5_000, "java.lang.OutOfMemoryError <script>"))
    state.apply(AppEnd(10_000))
    report = build_report(state)
    ledger = memory_ledger(report)
    assert "<img" not in ledger and "<script>" not in ledger and "&lt;img" in ledger
    assert figure(ledger, "memory_removals") == "1"
    assert report.cost is not None
    assert figure(ledger, "cost_total") == f"{report.cost.total:,.4f}"
    assert 'class="bad"' in ledger


def test_a_headline_report_without_memory_has_no_section() -> None:
    from dataclasses import replace

    state = AppState()
    state.apply(AppStart("app-n", "n", "u", 0))
    report = replace(build_report(state), memory=None)
    assert memory_ledger(report) == ""
