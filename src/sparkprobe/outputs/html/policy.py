"""The policy what-if section of an app's page: the recorded run beside the predicted policies.

One table (docs/advice.md, "The policy simulator"): the recorded run as measured, the simulator's
replay of its own policy, then each asked-for policy and the advisor's choice, with wall time,
allocated / busy / idle core-seconds, cache blocks lost and recompute time. docs/html-report.md
lists it.
"""

from __future__ import annotations

from sparkprobe.model import AppReport, PolicyFigures
from sparkprobe.outputs.html.format import esc, format_duration, format_number
from sparkprobe.outputs.html.table import Cell, Column, Row, cell, code_cell, num_cell, table
from sparkprobe.outputs.report import policy_label

__all__ = ["policy_whatif"]

_COLUMNS = (
    Column("policy"), Column("wall time", numeric=True), Column("allocated core-s", numeric=True),
    Column("busy core-s", numeric=True), Column("idle core-s", numeric=True),
    Column("cache blocks lost", numeric=True), Column("recompute", numeric=True),
)


def _figures(f: PolicyFigures) -> tuple[Cell, ...]:
    return (
        num_cell(f.wall_seconds, format_duration(f.wall_seconds)),
        num_cell(f.allocated_core_seconds, format_number(f.allocated_core_seconds)),
        num_cell(f.busy_core_seconds, format_number(f.busy_core_seconds)),
        num_cell(f.idle_core_seconds, format_number(f.idle_core_seconds)),
        num_cell(f.cache_lost_blocks),
        num_cell(f.recompute_seconds, format_duration(f.recompute_seconds)),
    )


def policy_whatif(report: AppReport) -> str:
    """The policy what-if table; a one-line note when the run cannot be replayed; "" without detail."""
    if not report.policy_whatif:
        reason = report.policy_whatif_unavailable
        if not reason:
            return ""
        return f'<h3>Other allocation policies</h3><p class="muted">Not available: {esc(reason)}.</p>'
    rows: list[Row] = []
    for r in report.policy_whatif:
        mark = " ★ recommended" if r.recommended else ""
        if r.baseline:
            if r.measured is not None:
                rows.append(Row((cell("this run, measured"), *_figures(r.measured)), cls="measured",
                                data={"policy": "measured"}))
            if r.predicted is not None:
                rows.append(Row((cell(f"this run's policy, replayed{mark}"), *_figures(r.predicted)),
                                data={"policy": "baseline", "recommended": r.recommended}))
            continue
        label = code_cell(policy_label(r.conf))
        if mark:
            label = Cell(label.markup + f' <b class="saving">{esc(mark.strip())}</b>', label.sort)
        if r.predicted is None:
            blank = tuple(cell("—") for _ in range(6))
            rows.append(Row((label, *blank), data={"policy": "refused", "error": r.error}))
            continue
        rows.append(Row((label, *_figures(r.predicted)), data={"policy": "what-if", "recommended": r.recommended}))
    hint = (
        "Predicted by the policy simulator, which replays this run under Spark's own allocation rules "
        "(docs/advice.md); compare policies with the replayed row, the same model on both sides."
    )
    refused = [r for r in report.policy_whatif if r.error]
    notes = "".join(f'<p class="note">{esc(policy_label(r.conf))}: {esc(r.error)}</p>' for r in refused)
    return (
        f'<h3>Other allocation policies <small>(predicted)</small></h3><p class="hint">{esc(hint)}</p>'
        + table(_COLUMNS, rows, cls="policy-whatif", limit=None)
        + notes
    )
