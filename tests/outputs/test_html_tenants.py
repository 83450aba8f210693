"""The HTML report's tenants table: one row per tenant, the figures of the report, hostile ids escaped."""

from __future__ import annotations

from html.parser import HTMLParser

from sparkprobe.analysis.report import build_report
from sparkprobe.analysis.state import AppState
from sparkprobe.events import AppEnd, AppStart, ExecutorAdded, JobStart, StageSubmitted, TaskEnd, TaskStart
from sparkprobe.outputs.html import render_html

S1 = "11111111-1111-4111-8111-111111111111"


class Rows(HTMLParser):
    """The ``data-kind``/``data-tenant`` rows of the page, with their cells' text."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, str, list[str]]] = []
        self._cells: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr" and "data-tenant" in a:
            self._cells = []
            self.rows.append((a.get("data-kind") or "", a.get("data-tenant") or "", self._cells))
        elif tag == "td" and self._cells is not None:
            self._cells.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._cells = None

    def handle_data(self, data: str) -> None:
        if self._cells:
            self._cells[-1] += data


def app(tag: str) -> AppState:
    s = AppState("app-h")
    s.apply(AppStart("app-h", "srv", "u", 0))
    s.apply(ExecutorAdded("1", "h", 1, 0))
    op = f"SparkConnect_OperationTag_User_mallory_Session_{S1}_Operation_x"
    s.apply(JobStart(0, 0, (0,), tags=(op, tag)))
    s.apply(JobStart(1, 0, (1,)))
    s.apply(StageSubmitted(0, 0, "s", 1, 0))
    s.apply(StageSubmitted(1, 0, "s", 1, 0))
    s.apply(TaskStart(1, 0, 0, 0, 0, 0, "1", 0))
    s.apply(TaskEnd(1, 0, 0, 0, 0, 0, "1", 0, 3_000, "success"))
    s.apply(TaskStart(2, 1, 0, 0, 0, 0, "1", 3_000))
    s.apply(TaskEnd(2, 1, 0, 0, 0, 0, "1", 3_000, 4_000, "success"))
    s.apply(AppEnd(5_000))
    return s


def test_one_row_per_tenant_with_the_reports_figures() -> None:
    report = build_report(app("nightly"))
    parser = Rows()
    parser.feed(render_html([report]))
    got = {(kind, tenant): cells for kind, tenant, cells in parser.rows}
    assert set(got) == {(t.kind.value, t.id) for t in report.tenants}
    session = got[("session", S1)]
    assert session[2] == "mallory" and session[3] == "3.0" and session[4].strip() == "75%"
    assert got[("session", "none")][3] == "1.0"  # job 1 had no session


def test_hostile_tenant_ids_are_escaped() -> None:
    hostile = '<script>alert(1)</script>"onmouseover="x'
    page = render_html([build_report(app(hostile))])
    assert "<script>alert(1)" not in page and 'onmouseover="x' not in page
    parser = Rows()
    parser.feed(page)
    assert any(tenant == hostile for kind, tenant, _ in parser.rows if kind == "tag")
