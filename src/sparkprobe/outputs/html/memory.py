"""The memory ledger of an app's page, beside its core ledger: what executors were given and used.

Reads the typed report only (``report.memory``, ``report.cost``, the executors' memory fields);
every figure is the analyzer's (docs/figures.md, "Memory" and "Cost"). Hooks for tests:
``section.memory``, ``[data-figure=...]`` on the headline values, ``tr[data-exec]`` per executor.
"""

from __future__ import annotations

from sparkprobe.model import AppReport, IdleCause, PeakArea, RequestArea
from sparkprobe.outputs.html.format import esc, exec_sort_key, format_bytes, format_number
from sparkprobe.outputs.html.sections import _card, _kv
from sparkprobe.outputs.html.table import Column, Row, cell, code_cell, num_cell, table
from sparkprobe.outputs.html.timeline import COLOR

__all__ = ["memory_ledger"]

_GIB_HOUR = float(1 << 30) * 3600
_SHOWN_PEAKS = (PeakArea.JVM_HEAP, PeakArea.JVM_OFFHEAP, PeakArea.EXECUTION, PeakArea.STORAGE,
                PeakArea.PROCESS_RSS, PeakArea.PYTHON_RSS, PeakArea.OTHER_RSS)


def _bytes(value: int | None) -> str:
    return "—" if value is None else format_bytes(value)


def _gib_h(byte_seconds: float) -> str:
    return f"{format_number(byte_seconds / _GIB_HOUR, 2)} GiB-h"


def _cards(report: AppReport) -> str:
    m = report.memory
    assert m is not None
    req = m.requested
    container = req[RequestArea.CONTAINER]
    given = "".join(
        _kv(area.value, format_bytes(req[area]))
        for area in (RequestArea.HEAP, RequestArea.OVERHEAD, RequestArea.OFFHEAP, RequestArea.PYSPARK)
        if req[area]
    )
    out = [
        _card(
            "Memory per executor",
            f'<span data-figure="memory_container">{esc(format_bytes(container))}</span>',
            f"the container {esc(m.cluster_manager)} reserves, by area:",
            f'<ul class="kv">{given}</ul>',
        )
    ]
    if m.available:
        peaks = "".join(
            _kv(area.value, format_bytes(value)) for area in _SHOWN_PEAKS if (value := m.peak[area]) is not None
        )
        heap = m.peak[PeakArea.JVM_HEAP] or 0
        share = heap / req[RequestArea.HEAP] * 100 if req[RequestArea.HEAP] else 0.0
        meter = f'<div class="meter"><span style="width:{min(100.0, share):.1f}%"></span></div>'
        out.append(
            _card(
                "Peak heap used",
                f'<span data-figure="memory_peak_heap">{esc(format_bytes(heap))}</span>',
                f"{share:.0f}% of the heap at most; {m.executors_measured} of {m.executors_busy} busy executors "
                "measured. Peaks by area:",
                meter + f'<ul class="kv">{peaks}</ul>',
                "warn" if share < 50 else "",
            )
        )
    else:
        out.append(_card("Peak memory used", '<span data-figure="memory_peak_heap">unavailable</span>',
                         "no executor reported its memory (see the notes below)"))
    allocated = m.allocated_byte_seconds or 1.0
    segs: list[str] = []
    rows: list[str] = []
    for cause in IdleCause:
        held = m.idle_by_cause_byte_seconds[cause]
        if held <= 0:
            continue
        colour = COLOR[cause.value]
        segs.append(f'<span class="seg" style="width:{held / allocated * 100:.2f}%;background-color:{colour}" '
                    f'title="{cause.value}: {esc(_gib_h(held))}"></span>')
        rows.append(_kv(cause.value, _gib_h(held), f'<span class="sw" style="background-color:{colour}"></span>'))
    if m.unused_busy_byte_seconds is not None:
        rows.append(_kv("unused while busy", _gib_h(m.unused_busy_byte_seconds)))
    out.append(
        _card(
            "Memory held",
            f'<span data-figure="memory_allocated">{esc(_gib_h(m.allocated_byte_seconds))}</span>',
            f"{esc(_gib_h(m.idle_byte_seconds))} of it while no task ran, by cause:",
            (f'<div class="stack">{"".join(segs)}</div>' if segs else "") + f'<ul class="kv">{"".join(rows)}</ul>',
        )
    )
    if m.memory_removals:
        lost = "".join(_kv(f"executor {r.exec_id}", f"ran out of {r.area}") for r in m.memory_removals)
        out.append(_card("Lost to memory", f'<span data-figure="memory_removals">{len(m.memory_removals)}</span>',
                         "executors removed for memory (the advice raises the area that ran out)",
                         f'<ul class="kv">{lost}</ul>', "bad"))
    c = report.cost
    if c is not None:
        parts = "".join(_kv(resource, format_number(value, 4)) for resource, value in c.by_resource.items())
        wasted = "".join(_kv(f"wasted: {cause.value}", format_number(value, 4))
                         for cause, value in c.wasted_by_cause.items() if value > 0)
        out.append(_card("Cost", f'<span data-figure="cost_total">{esc(format_number(c.total, 4))}</span>',
                         f"at the prices given; wasted {esc(format_number(c.wasted, 4))}:",
                         f'<ul class="kv">{parts}{wasted}</ul>'))
    return f'<div class="cards">{"".join(out)}</div>'


def _executors(report: AppReport) -> str:
    columns = (
        Column("executor"), Column("container", numeric=True), Column("heap", numeric=True),
        Column("heap peak", numeric=True), Column("process RSS", numeric=True), Column("Python RSS", numeric=True),
        Column("removed", cls="nowrap"),
    )
    rows = []
    for e in sorted(report.executors, key=lambda x: exec_sort_key(x.exec_id)):
        req = e.requested_memory
        peaks = [e.peak_memory_by_area.get(area) for area in (PeakArea.JVM_HEAP, PeakArea.PROCESS_RSS,
                                                               PeakArea.PYTHON_RSS)]
        rows.append(Row(
            (
                code_cell(e.exec_id),
                num_cell(req.get(RequestArea.CONTAINER, 0), format_bytes(req.get(RequestArea.CONTAINER, 0))),
                num_cell(req.get(RequestArea.HEAP, 0), format_bytes(req.get(RequestArea.HEAP, 0))),
                *(num_cell(-1 if v is None else v, _bytes(v)) for v in peaks),
                cell(e.removed_cause.value if e.removed_cause is not None else ""),
            ),
            cls="bad" if e.removed_cause is not None and e.removed_cause.value == "memory" else "",
            data={"exec": e.exec_id},
        ))
    return table(columns, rows) if rows else ""


def memory_ledger(report: AppReport) -> str:
    """The app's memory ledger: cards (given, peak, held by cause, lost, cost), executors, notes."""
    m = report.memory
    if m is None:
        return ""
    notes = "".join(f'<p class="muted">{esc(n)}</p>' for n in m.notes)
    return (
        '<section class="memory"><h3>Memory ledger</h3>'
        f"{_cards(report)}{_executors(report)}{notes}</section>"
    )
