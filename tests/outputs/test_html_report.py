"""The HTML report: typed reports of real AppStates and real logs, parsed back; then opened in headless Chromium."""

from __future__ import annotations

import re
import struct
import subprocess
import zlib
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest
from report_builders import (
    BASE,
    EMR_LOG,
    HOSTILE,
    PUBLIC,
    PWN,
    RECORDED,
    RECORDED_LOGS,
    idle_stretches,
    log_report,
    needs_logs,
    needs_public,
    recorded,
    synthetic,
    synthetic_state,
)

from conftest import need_binary
from sparkprobe.analysis.report import build_report
from sparkprobe.analysis.state import AppState
from sparkprobe.events import (
    AppEnd,
    AppStart,
    BlockUpdated,
    Conf,
    ExecutorAdded,
    ExecutorRemoved,
    RddInfo,
    StageCompleted,
    StageSubmitted,
    TaskEnd,
    TaskStart,
)
from sparkprobe.model import FindingKind, IdleCause, RemovalCause, Transport, UncachedReuse
from sparkprobe.offline import analyze_source
from sparkprobe.outputs.html import MAX_LANES, render_html
from sparkprobe.outputs.html.charts import Frame, line_chart
from sparkprobe.outputs.html.table import Column, Row, cell, num_cell, table
from sparkprobe.outputs.html.timeline import REMOVAL_COLOR, STATES
from sparkprobe.sources.eventlog import discover


# ------------------------------------------------------------------------------------ parsing
@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def ancestors(self) -> list[Node]:
        out, node = [], self.parent
        while node is not None:
            out.append(node)
            node = node.parent
        return out

    def walk(self) -> list[Node]:
        out = [self]
        for c in self.children:
            out.extend(c.walk())
        return out

    def all_text(self) -> str:
        return "".join(self.text) + "".join(c.all_text() for c in self.children)


VOID = {"meta", "br", "img", "input", "link", "hr", "wbr", "source", "area", "base", "col", "embed"}


class TreeBuilder(HTMLParser):
    """A strict tree: an end tag must close the element open last (catches unbalanced markup)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.cur = self.root
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, self.cur)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.cur.children.append(Node(tag, {k: v or "" for k, v in attrs}, self.cur))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if self.cur.tag != tag:
            self.errors.append(f"</{tag}> closes <{self.cur.tag}>")
            return
        assert self.cur.parent is not None
        self.cur = self.cur.parent

    def handle_data(self, data: str) -> None:
        self.cur.text.append(data)


def parse(page: str) -> Node:
    builder = TreeBuilder()
    builder.feed(page)
    builder.close()
    assert builder.errors == []
    assert builder.cur is builder.root, f"unclosed <{builder.cur.tag}>"
    return builder.root


def find(root: Node, tag: str | None = None, cls: str | None = None) -> list[Node]:
    return [n for n in root.walk() if (tag is None or n.tag == tag) and (cls is None or cls in n.classes)]


def lane_of(node: Node) -> Node:
    return next(a for a in node.ancestors() if a.tag == "g" and "lane" in a.classes)


def app_sections(root: Node) -> list[Node]:
    return find(root, "section", "app")


def assert_self_contained(root: Node) -> None:
    for node in root.walk():
        assert node.tag not in ("link", "iframe", "object", "embed", "img", "base"), node.tag
        for name, value in node.attrs.items():
            if name in ("src", "href", "xlink:href", "action", "formaction", "poster", "data", "srcset"):
                assert not re.match(r"\s*(https?:|//|ftp:|ws)", value, re.I), (name, value)
                if name in ("href", "xlink:href"):
                    assert value.startswith("#"), (name, value)
            if name == "style":
                assert "url(" not in value
    for style in find(root, "style"):
        css = style.all_text()
        assert "@import" not in css
        assert re.search(r"url\(\s*['\"]?(https?:|//)", css) is None
    for script in find(root, "script"):
        assert "src" not in script.attrs
        assert re.search(r"\b(fetch|XMLHttpRequest|WebSocket|import\()", script.all_text()) is None


def figures(root: Node) -> dict[str, str]:
    return {n.attrs["data-figure"]: n.all_text() for n in root.walk() if "data-figure" in n.attrs}


# ------------------------------------------------------------------------------------ tests
@needs_logs
@pytest.mark.parametrize("log", RECORDED_LOGS)
def test_recorded_log_lanes_markers_and_figures(log: str) -> None:
    app = recorded(log)
    assert app.cache.lost_blocks > 0 and len(app.executors) == 4  # what the recordings hold
    executors = {e.exec_id: e for e in app.executors}
    root = parse(render_html([app]))
    assert_self_contained(root)
    (section,) = app_sections(root)
    assert section.attrs["data-app-id"] == app.app_id

    lanes = find(section, "g", "lane")
    assert sorted(lane.attrs["data-exec"] for lane in lanes) == sorted(executors)
    assert all(lane.attrs["data-count"] == "1" for lane in lanes)

    markers = find(section, cls="loss-marker")
    assert len(markers) == len(app.losses) > 0
    for loss in app.losses:
        (marker,) = [m for m in markers if m.attrs["data-exec"] == loss.exec_id]
        assert lane_of(marker).attrs["data-exec"] == loss.exec_id
        assert int(marker.attrs["data-t"]) == loss.time_ms
        assert int(marker.attrs["data-blocks"]) == loss.blocks
        assert "cache lost" in marker.all_text() and loss.reason in marker.all_text()

    removals = find(section, cls="removal-marker")
    assert len(removals) == app.executors_removed
    for marker in removals:
        ex = executors[marker.attrs["data-exec"]]
        assert lane_of(marker).attrs["data-exec"] == marker.attrs["data-exec"]
        assert ex.removed_cause == RemovalCause.DYNAMIC_ALLOCATION
        assert marker.attrs["data-cause"] == "dynamic_allocation"
        assert int(marker.attrs["data-t"]) == ex.removed_ms
        assert ex.removed_reason in marker.all_text()

    # Busy shading in every lane; cache-held idle drawn (distinctly) where it lasted a while.
    for lane in lanes:
        ex = executors[lane.attrs["data-exec"]]
        runs = {c for n in find(lane, "rect", "run") for c in n.classes}
        assert "s-busy" in runs
        if ex.idle_by_cause[IdleCause.CACHE_HELD] > 2:
            assert "s-cache_held" in runs

    # Headline figures.
    share = app.cores.idle_core_seconds / app.cores.allocated_core_seconds * 100
    shown = figures(section)
    assert shown["idle_share"] == f"{share:.0f}%"
    assert shown["cache_lost_blocks"] == str(app.cache.lost_blocks)
    assert shown["cache_recomputed_blocks"] == str(app.cache.recomputed_blocks)
    assert shown["executors_added"] == "4"
    assert shown["tasks_success"] == str(app.tasks.success)

    # Stages and the cached-bytes step line are drawn.
    assert app.timeline is not None
    assert len(find(section, "g", "stage")) == len(app.timeline.stages)
    (cached,) = find(section, "svg", "cached")
    points = [tuple(int(v) for v in p.split(",")) for p in cached.attrs["data-points"].split(";")]
    assert points == sorted(app.timeline.cached_bytes)
    assert cached.attrs["data-readout"] == "bytes"
    assert find(cached, "path", "line")
    # The losses table lists each loss, sortable by its time.
    (losses,) = [t for t in find(section, "table", "data") if "Spark reason" in t.all_text()]
    rows = find(find(losses, "tbody")[0], "tr")
    assert sorted(int(r.children[0].attrs["data-sort"]) for r in rows) == sorted(x.time_ms for x in app.losses)


@needs_logs
def test_advice_what_if_and_uncached_reuse() -> None:
    app = recorded("spark-4.0.1-plain")
    assert app.advice and app.what_if is not None and app.what_if.rows
    app = replace(
        app, uncached_reuse=(UncachedReuse(f"collect at {HOSTILE}", 3, 4.5),), uncached_recompute_seconds=4.5
    )
    root = parse(render_html([app]))
    items = find(root, "div", "advice-item")
    assert len(items) == len(app.advice)
    for item, advice in zip(items, app.advice, strict=True):
        assert advice.message in item.all_text()
        (pre,) = find(item, "pre", "settings")
        assert pre.all_text().splitlines() == [f"{k}={v}" for k, v in advice.settings.items()]
    (whatif,) = find(root, "table", "whatif")
    rows = find(whatif, "tr")[1:]
    assert [r.children[0].all_text() for r in rows] == [str(r.executors) for r in app.what_if.rows]
    assert len([r for r in rows if "measured" in r.classes]) == 1
    assert f"collect at {HOSTILE}" in root.all_text()
    assert "4.5 s repeating uncached lineages" in root.all_text()


@needs_public
def test_estimated_cache_figures_from_a_log_without_block_updates() -> None:
    # YARN containers failed while RDD 5 was persisted: the estimate counts the blocks (README).
    app = log_report(str(PUBLIC / "application_1538416563558_0014"))
    assert app.cache.estimated and app.cache.lost_blocks > 0 and not app.losses
    root = parse(render_html([app]))
    text = root.all_text()
    assert "estimated from tasks" in text and "sizes unknown" in text
    card_value = next(n for n in root.walk() if n.attrs.get("data-figure") == "cache_lost_blocks").parent
    assert card_value is not None and "estimated" in card_value.all_text()
    assert figures(root)["cache_lost_blocks"] == str(app.cache.lost_blocks)
    assert not find(root, cls="loss-marker")  # estimated losses have no time or executor
    assert "cached bytes over time are unknown" in text


def test_event_gaps_of_a_live_stream_are_shaded() -> None:
    gap = (BASE + 2_000, BASE + 9_000)
    app = synthetic(3, transport=Transport(events_received=100, closed_by_timeout=False, gaps=(gap,)))
    root = parse(render_html([app]))
    assert len(find(root, "rect", "gap")) == 1 and len(find(root, "rect", "gap-shade")) == 1
    (shade,) = find(root, "rect", "gap-shade")
    (svg,) = find(root, "svg", "tl")
    t0, t1 = float(svg.attrs["data-t0"]), float(svg.attrs["data-t1"])
    x0, pw = float(svg.attrs["data-x0"]), float(svg.attrs["data-pw"])
    assert float(shade.attrs["x"]) == pytest.approx(x0 + (gap[0] - t0) / (t1 - t0) * pw, abs=0.01)
    assert "Events may be missing" in root.all_text()


@needs_logs
def test_all_recorded_logs_in_one_page_with_contents() -> None:
    apps = [recorded(log) for log in RECORDED_LOGS]
    root = parse(render_html(apps))
    sections = app_sections(root)
    assert len(sections) == 4
    assert [len(find(s, "g", "lane")) for s in sections] == [4, 4, 4, 4]
    (nav,) = find(root, "nav")
    links = [a.attrs["href"] for a in nav.walk() if a.tag == "a"]
    assert links == [f"#app-{i}" for i in range(4)]
    # The contents table sorts: its headers are buttons, numeric cells carry their value.
    heads = find(nav, "th")
    assert [h.attrs.get("data-sort-type") for h in heads] == ["text", "text", "text", "num", "num", "num", "num"]
    blocks_lost = [int(r.children[5].attrs["data-sort"]) for r in find(find(nav, "tbody")[0], "tr")]
    assert blocks_lost == [a.cache.lost_blocks for a in apps]
    # Every SVG id is unique across the page (patterns are referenced by id).
    ids = [n.attrs["id"] for n in root.walk() if "id" in n.attrs]
    assert len(ids) == len(set(ids))


def test_hostile_strings_are_escaped() -> None:
    app = synthetic(5, name=HOSTILE, hostile=True)
    # Strings the analyzer writes itself get markup too: findings, advice, loss reasons.
    app = replace(
        app,
        findings=tuple(replace(f, message=f"{f.message} {HOSTILE}") for f in app.findings),
        advice=tuple(replace(a, message=HOSTILE, settings={HOSTILE: HOSTILE}) for a in app.advice),
    )
    assert app.findings and app.losses
    page = render_html([app])
    assert HOSTILE not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<svg onload" not in page and "<img" not in page
    root = parse(page)
    assert_self_contained(root)
    # Only the report's own two scripts; no element came from the data.
    assert len(find(root, "script")) == 2
    assert not [n for n in root.walk() if any(k.startswith("on") for k in n.attrs)]
    # The text survives intact, as text.
    assert find(root, "title")[0].all_text() == f"sparkprobe · {HOSTILE}"
    assert HOSTILE in find(root, "h2")[0].all_text()
    stage_titles = [n.all_text() for n in find(root, "g", "stage")]
    assert any("</title></svg>" in t and PWN in t for t in stage_titles)
    assert all(m.attrs["data-exec"].isdigit() for m in find(root, cls="removal-marker"))
    removal = find(root, cls="removal-marker")[0]
    assert "Executor killed by driver." in removal.all_text() and PWN in removal.all_text()
    assert 'user me"><svg onload=alert(1)>' in root.all_text()  # the user, quote and all, as text
    assert any(HOSTILE in n.all_text() for n in find(root, "pre", "settings"))


def test_hostile_executor_id_stays_an_attribute_value() -> None:
    evil = '0"><script>alert(1)</script>'
    app = synthetic(2, exec_prefix=evil)
    assert {e.exec_id for e in app.executors} == {f"{evil}0", f"{evil}1"} and app.losses
    root = parse(render_html([app]))
    assert {lane.attrs["data-exec"] for lane in find(root, "g", "lane")} == {f"{evil}0", f"{evil}1"}
    assert {m.attrs["data-exec"] for m in find(root, cls="loss-marker")} == {x.exec_id for x in app.losses}
    assert len(find(root, "script")) == 2


def test_600_executors_are_grouped_into_at_most_500_lanes() -> None:
    app = synthetic(600, dynamic=False)
    assert len(app.executors) == 600
    root = parse(render_html([app]))
    lanes = find(root, "g", "lane")
    assert 0 < len(lanes) <= MAX_LANES
    assert sum(int(lane.attrs["data-count"]) for lane in lanes) == 600
    assert all("group" in lane.classes for lane in lanes)
    assert "grouped" in root.all_text() or "groups" in root.all_text()
    # Executors are grouped in order of addition: lane i holds executors [2i, 2i+1] here.
    order = [e.exec_id for e in sorted(app.executors, key=lambda e: (e.added_ms, int(e.exec_id)))]
    position = {e: i for i, e in enumerate(order)}
    for lane in lanes:
        lo = position[lane.attrs["data-exec"]]
        hi = position[lane.attrs["data-exec-last"]]
        assert hi - lo + 1 == int(lane.attrs["data-count"])
    markers = find(root, cls="loss-marker")
    assert len(markers) == len(app.losses) == 200
    for marker in markers:
        lane = lane_of(marker)
        assert position[lane.attrs["data-exec"]] <= position[marker.attrs["data-exec"]]
        assert position[marker.attrs["data-exec"]] <= position[lane.attrs["data-exec-last"]]
    assert len(find(root, cls="removal-marker")) == app.executors_removed == 200
    # 200 losses: 60 listed, the rest folded (and sortable together: same columns).
    (box,) = [t for t in find(root, "div", "tbl") if "Spark reason" in t.all_text()]
    bodies = find(box, "tbody")
    assert box.attrs["data-limit"] == "60" and [len(find(b, "tr")) for b in bodies] == [60, 140]


def test_500_executors_get_one_lane_each() -> None:
    app = synthetic(500, dynamic=False)
    root = parse(render_html([app]))
    lanes = find(root, "g", "lane")
    assert len(lanes) == 500
    assert {lane.attrs["data-exec"] for lane in lanes} == {e.exec_id for e in app.executors}
    (svg,) = find(root, "svg", "tl")
    height = float(svg.attrs["viewbox"].split()[3])
    assert height < 1100  # thin lanes, but a screenful, not 12,000 px


def test_running_app_draws_to_the_last_known_time_with_the_open_idle_stretch() -> None:
    app = synthetic(6, ended=False)
    assert app.end_ms is None and app.running
    active = {e.exec_id for e in app.executors if e.removed_ms is None}
    assert active and all(e.idle_now_seconds > 0 for e in app.executors if e.exec_id in active)
    root = parse(render_html([app]))
    (svg,) = find(root, "svg", "tl")
    x0, pw = float(svg.attrs["data-x0"]), float(svg.attrs["data-pw"])
    for lane in find(root, "g", "lane"):
        runs = find(lane, "rect", "run")
        last = max(runs, key=lambda r: float(r.attrs["x"]))
        end = float(last.attrs["x"]) + float(last.attrs["width"])
        if lane.attrs["data-exec"] in active:
            # Idle (holding its cached block) up to the last known time, marked as still open.
            assert end == pytest.approx(x0 + pw)
            assert "s-cache_held" in last.classes
            assert "still open" in last.all_text()
        else:
            assert end < x0 + pw
    assert "still running" in root.all_text() or "No application end" in root.all_text()
    assert [s for s in find(root, "g", "stage") if "running" in s.classes]
    assert "active now" in root.all_text()


@needs_logs
def test_in_progress_log(tmp_path: Path) -> None:
    src = next((RECORDED / "spark-4.0.1-plain").iterdir())
    lines = src.read_bytes().splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if b'"Stage ID":3' in line and b"StageSubmitted" in line)
    partial = tmp_path / (src.name + ".inprogress")
    partial.write_bytes(b"".join(lines[: cut + 1]) + lines[cut + 1][:40])  # and a torn last line
    (source,) = discover([str(partial)])
    app = analyze_source(source)
    assert app.end_ms is None and app.source is not None and app.source.in_progress
    root = parse(render_html([app]))
    assert "No application end" in root.all_text()
    assert len(find(root, "g", "lane")) == len(app.executors)
    assert len(find(root, cls="loss-marker")) == len(app.losses)


def test_degenerate_inputs() -> None:
    assert "No application" in render_html([])
    started = AppState()
    started.apply(AppStart("app-1", "started only", "me", BASE))
    instant = AppState()  # an executor added and removed at the instant the app starts and ends
    instant.apply(AppStart("app-2", "instant", "me", BASE))
    instant.apply(ExecutorAdded("1", "h", 1, BASE))
    instant.apply(ExecutorRemoved("1", BASE, ""))
    instant.apply(AppEnd(BASE))
    stage_only = AppState()  # a stage that never ends, and no AppStart
    stage_only.apply(StageSubmitted(0, 0, "s", 1, BASE + 5, ()))
    for app in (
        build_report(AppState()),
        build_report(started),
        build_report(instant),
        build_report(stage_only),
        build_report(synthetic_state(6)[0], detail=False),  # a headline report: no executors, no timeline
        replace(synthetic(2), start_ms=0),
    ):
        root = parse(render_html([app]))
        assert len(app_sections(root)) == 1
        assert_self_contained(root)


def test_lane_geometry_follows_event_time() -> None:
    """Busy for the first half of the app, idle (cache held) for the second: two runs, split at half."""
    state = AppState()
    state.apply(AppStart("app-geo", "geometry", "me", 1_000))
    state.apply(Conf({"spark.dynamicAllocation.enabled": "true", "spark.dynamicAllocation.minExecutors": "0"}))
    state.apply(ExecutorAdded("7", "h", 1, 1_000))
    rdd = RddInfo(1, "r", "count at g.py:1", (), True, False, 1, 1)
    state.apply(StageSubmitted(0, 0, "s", 1, 1_000, (rdd,)))
    state.apply(TaskStart(0, 0, 0, 0, 0, 0, "7", 1_000))
    state.apply(BlockUpdated("rdd_1_0", "7", True, False, False, True, 1, 5, 0))
    state.apply(TaskEnd(0, 0, 0, 0, 0, 0, "7", 1_000, 6_000, "success"))
    state.apply(StageCompleted(0, 0, "s", 1, 6_000, rdds=(rdd,)))
    state.apply(ExecutorRemoved("7", 11_000, "Command exited with code 137"))
    state.apply(AppEnd(11_000))
    app = build_report(state)
    assert app.timeline is not None and app.losses and app.losses[0].cause == RemovalCause.FAILURE
    root = parse(render_html([app]))
    (svg,) = find(root, "svg", "tl")
    x0, pw = float(svg.attrs["data-x0"]), float(svg.attrs["data-pw"])
    assert (svg.attrs["data-t0"], svg.attrs["data-t1"]) == ("1000", "11000")
    busy, idle = find(root, "rect", "run")
    assert "s-busy" in busy.classes and "s-cache_held" in idle.classes
    assert float(busy.attrs["x"]) == x0
    assert float(idle.attrs["x"]) == pytest.approx(x0 + pw / 2, abs=1)
    assert float(idle.attrs["x"]) + float(idle.attrs["width"]) == pytest.approx(x0 + pw)
    assert idle.attrs["fill"].startswith("url(#")  # hatched
    (removal,) = find(root, cls="removal-marker")
    assert float(removal.attrs["x"]) + float(removal.attrs["width"]) / 2 == pytest.approx(x0 + pw)
    assert removal.attrs["data-cause"] == "failure" and "exited with code 137" in removal.all_text()
    (loss,) = find(root, cls="loss-marker")
    assert loss.attrs["data-t"] == "11000"
    (stage,) = find(root, "g", "stage")
    (rect,) = [c for c in stage.children if c.tag == "rect"]
    assert float(rect.attrs["x"]) == x0
    assert float(rect.attrs["width"]) == pytest.approx(pw / 2, abs=1)


def test_report_without_timeline_draws_lifetimes_only() -> None:
    app = replace(synthetic(3), timeline=None)
    root = parse(render_html([app]))
    runs = find(root, "rect", "run")
    assert runs and all("s-alive" in r.classes for r in runs)
    assert "no idle segments" in root.all_text()
    assert len(find(root, cls="loss-marker")) == len(app.losses)


def test_local_mode_app_without_executors_shows_stages() -> None:
    state = AppState()
    state.apply(AppStart("local-1", "local", "me", BASE))
    state.apply(StageSubmitted(0, 0, "count at l.py:1", 1, BASE + 100, ()))
    state.apply(TaskStart(0, 0, 0, 0, 0, 0, "driver", BASE + 100))
    state.apply(TaskEnd(0, 0, 0, 0, 0, 0, "driver", BASE + 100, BASE + 900, "success"))
    state.apply(StageCompleted(0, 0, "count at l.py:1", 1, BASE + 1_000))
    state.apply(AppEnd(BASE + 1_200))
    root = parse(render_html([build_report(state)]))
    assert not find(root, "g", "lane")
    assert find(root, "g", "stage")
    assert "No executor was recorded" in root.all_text()


def test_findings_are_grouped_by_kind_and_cause_with_the_full_list_folded() -> None:
    app = idle_stretches()
    root = parse(render_html([app]))
    groups = {(r.attrs["data-kind"], r.attrs["data-cause"]): r for r in find(root, "tr", "finding-group")}
    assert set(groups) == {
        ("idle_executor", ""), ("cache_lost", "failure"), ("cache_lost", "other"), ("idle_share", "")
    }
    idle = groups[("idle_executor", "")]
    assert idle.attrs["data-count"] == "3"
    cells = [c.all_text() for c in idle.children]
    assert cells[2] == "3 min 00 s idle past the threshold"
    assert cells[3] == "executor 2: 2 min 30 s idle"
    assert cells[4] == "+1m02s … +1m04s"
    assert groups[("cache_lost", "failure")].attrs["data-count"] == "2"
    # Every finding is still there, one per line, in a collapsed block.
    (folded,) = find(root, "details", "findings-all")
    assert "open" not in folded.attrs
    assert len(find(folded, "tr")) - 1 == len(app.findings) == 3 + 3 + 1
    assert {f.message for f in app.findings} <= {r.children[2].all_text() for r in find(folded, "tr")[1:]}


@needs_public
def test_the_emr_log_shows_two_finding_rows_not_137() -> None:
    app = log_report(str(PUBLIC / EMR_LOG))
    assert app.findings_by_kind[FindingKind.IDLE_EXECUTOR] == 136 and len(app.findings) == 137
    root = parse(render_html([app]))
    rows = find(root, "tr", "finding-group")
    assert [(r.attrs["data-kind"], r.attrs["data-count"]) for r in rows] == [
        ("uncached_reuse", "1"), ("idle_executor", "136")
    ]
    (folded,) = find(root, "details", "findings-all")
    assert len(find(folded, "tr")) - 1 == 137
    assert "+51m27s … +1h04m" in rows[1].all_text()
    # Every lane of this log is capped, but each finding carries where its stretch ended.
    assert "1 h 17 min idle past the threshold" in rows[1].all_text()
    assert "executor 25: 3 min 41 s idle" in rows[1].all_text()


def test_style_and_script_are_package_files_inlined() -> None:
    package = resources.files("sparkprobe.outputs.html")
    css = package.joinpath("style.css").read_text(encoding="utf-8")
    js = package.joinpath("report.js").read_text(encoding="utf-8")
    page = render_html([synthetic(2)])
    assert css in page and js in page
    # Every removal cause has its marker colour and legend entry.
    assert set(REMOVAL_COLOR) == set(RemovalCause)
    assert all(f"removed: {c.value}" in page for c in RemovalCause)
    # The legend's focus filter needs one rule per state.
    for key, _, _ in STATES:
        assert f'.app[data-focus="{key}"] .tl .run:not(.s-{key})' in css


def test_table_helper_sorts_escapes_and_folds() -> None:
    columns = (Column("name"), Column("bytes", numeric=True), Column("note", sortable=False))
    rows = [Row((cell(f"{HOSTILE}{i}"), num_cell(i * 1.5, f"{i} B"), cell("x")), data={"i": f'"{i}'})
            for i in range(5)]
    root = parse(table(columns, rows, cls="demo", limit=3))
    (box,) = find(root, "div", "tbl")
    assert box.attrs["data-limit"] == "3"
    first, rest = find(box, "tbody")
    assert len(find(first, "tr")) == 3 and len(find(rest, "tr")) == 2
    assert [h.attrs.get("data-sort-type") for h in find(find(box, "thead")[0], "th")] == ["text", "num", None]
    row = find(first, "tr")[1]
    assert row.attrs["data-i"] == '"1'
    assert row.children[0].all_text() == f"{HOSTILE}1" and row.children[1].attrs["data-sort"] == "1.5"
    assert "open" not in find(root, "details", "more")[0].attrs


def test_line_chart_helper_draws_points_and_a_sparkline() -> None:
    points = [(BASE + i * 1_000, i / 10) for i in range(5)]
    svg = line_chart(points, (BASE, BASE + 4_000), uid="t", cls="trend", label="idle share", step=False,
                     y_format=lambda v: f"{v:.0%}", readout="percent")
    root = parse(svg)
    (chart,) = find(root, "svg", "trend")
    assert chart.attrs["data-readout"] == "percent" and chart.attrs["id"] == "t-trend"
    assert chart.attrs["data-points"].split(";")[1] == f"{BASE + 1_000},0.1"
    assert len(find(chart, "circle", "dot")) == 5
    assert {t.all_text() for t in find(chart, "text", "ytick")} >= {"0%", "40%"}
    spark = parse(line_chart(points, (BASE, BASE + 4_000), uid="s", cls="spark", label="trend", step=False,
                             frame=Frame(width=160, left=2, right=2, top=2, plot_height=30, bottom=2), axes=False))
    assert not find(spark, "text", "tick") and not find(spark, "text", "ytick")
    (path,) = find(spark, "path", "line")
    assert path.attrs["d"].startswith("M2 32")  # the first point, at the plot's bottom left


# ------------------------------------------------------------------------------------ Chromium
def png_pixels(path: Path) -> tuple[int, int, list[bytearray], int]:
    """Decode an 8-bit RGB/RGBA PNG (what Chromium writes) with the stdlib: width, height, rows, bpp."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    width = height = bpp = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6)
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytearray] = []
    prev = bytearray(stride)
    i = 0
    for _ in range(height):
        kind_, line = raw[i], bytearray(raw[i + 1 : i + 1 + stride])
        i += 1 + stride
        if kind_ == 1:
            for x in range(bpp, stride):
                line[x] = (line[x] + line[x - bpp]) & 255
        elif kind_ == 2:
            for x in range(stride):
                line[x] = (line[x] + prev[x]) & 255
        elif kind_ == 3:
            for x in range(stride):
                left = line[x - bpp] if x >= bpp else 0
                line[x] = (line[x] + (left + prev[x]) // 2) & 255
        elif kind_ == 4:
            for x in range(stride):
                a = line[x - bpp] if x >= bpp else 0
                b, c = prev[x], (prev[x - bpp] if x >= bpp else 0)
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return width, height, rows, bpp


PROBE = """<script>(function(){var r=document.documentElement;
var svg=document.querySelector('svg.tl'),b=svg.getBoundingClientRect();
svg.dispatchEvent(new MouseEvent('mousemove',
 {clientX:b.left+b.width*0.6,clientY:b.top+b.height*0.5,bubbles:true}));
var l=svg.querySelector('.xhair-label');
r.setAttribute('data-probe-tl',l.getAttribute('visibility')+'|'+l.textContent);
var c=document.querySelector('section.app svg.cached .xhair-label');
r.setAttribute('data-probe-cached',c.getAttribute('visibility')+'|'+c.textContent);
document.querySelector('.legend .lg[data-state="cache_held"]').click();
r.setAttribute('data-probe-focus',document.querySelector('section.app').getAttribute('data-focus'));
var run=document.querySelector('section.app .tl .run.s-busy');
r.setAttribute('data-probe-opacity',getComputedStyle(run).opacity);
var w=document.querySelector('table.whatif th button.sort');w.click();w.click();
r.setAttribute('data-probe-whatif',Array.prototype.map.call(
 document.querySelector('table.whatif').tBodies[0].rows,function(t){return t.cells[0].textContent;}).join(','));
var box=document.querySelectorAll('section.app')[3].querySelector(':scope > div.tbl'),
 when=box.querySelector('th button.sort');when.click();when.click();
var bodies=box.querySelectorAll('tbody');
r.setAttribute('data-probe-losses',bodies[0].rows.length+'|'+bodies[1].rows.length+'|'+
 bodies[0].rows[0].cells[0].getAttribute('data-sort')+'|'+box.querySelector('th').getAttribute('aria-sort'));
})();</script>"""


def chromium_args(chromium: str, profile: Path) -> list[str]:
    return [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--hide-scrollbars",
        "--window-size=1400,1000",
    ]


def test_chromium_renders_it_without_script_errors(tmp_path: Path) -> None:
    chromium = need_binary("chromium")
    first = recorded("spark-4.0.1-plain") if RECORDED.is_dir() else synthetic(8)
    big = synthetic(600, dynamic=False)
    apps = [first, synthetic(6, ended=False), synthetic(4, name=HOSTILE, hostile=True), big]
    page = tmp_path / "report.html"
    page.write_text(render_html(apps), encoding="utf-8")
    png = tmp_path / "report.png"

    shot = subprocess.run(
        [*chromium_args(chromium, tmp_path / "p1"), f"--screenshot={png}", page.as_uri()],
        capture_output=True, text=True, timeout=180, check=False,
    )
    # A copy with a probe appended: hover the first timeline, click a legend entry, sort two tables.
    probed = tmp_path / "probed.html"
    text = page.read_text(encoding="utf-8")
    probed.write_text(text.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = subprocess.run(
        [*chromium_args(chromium, tmp_path / "p2"), "--dump-dom", probed.as_uri()],
        capture_output=True, text=True, timeout=180, check=False,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]

    # The page's script ran to its end, recorded no error, and nothing from the data ran.
    root = parse(dom.stdout)
    (html_el,) = find(root, "html")
    assert html_el.attrs.get("data-sparkprobe-js") == "ok"
    assert "data-sparkprobe-errors" not in html_el.attrs
    assert "data-pwned" not in html_el.attrs
    assert len(app_sections(root)) == 4
    # The crosshair follows the mouse on both charts of the app; the legend highlights a state.
    assert re.fullmatch(r"visible\|\+\d+\.\ds", html_el.attrs["data-probe-tl"])
    assert re.fullmatch(r"visible\|\+\d+\.\ds  [\d.]+ (B|KiB|MiB) cached", html_el.attrs["data-probe-cached"])
    assert html_el.attrs["data-probe-focus"] == "cache_held"
    assert float(html_el.attrs["data-probe-opacity"]) < 0.5
    # Two clicks on a header sort descending; a folded table sorts across its folded rest.
    assert first.what_if is not None
    counts = sorted((r.executors for r in first.what_if.rows), reverse=True)
    assert html_el.attrs["data-probe-whatif"] == ",".join(str(n) for n in counts)
    latest = max(x.time_ms for x in big.losses)
    assert html_el.attrs["data-probe-losses"] == f"60|140|{latest}|descending"
    # No console message at all (uncaught errors, CSP refusals of a fetch, warnings).
    console = [line for line in shot.stderr.splitlines() + dom.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []

    # The screenshot is a real rendering: the right size, many colours, the timeline's busy blue
    # and cache-held orange on screen.
    assert shot.returncode == 0 and png.exists(), shot.stderr[-2000:]
    assert png.stat().st_size > 30_000
    width, height, rows, bpp = png_pixels(png)
    assert (width, height) == (1400, 1000)
    colours = {bytes(rows[y][x * bpp : x * bpp + 3]) for y in range(0, height, 7) for x in range(0, width, 7)}
    assert len(colours) > 50

    def near(rgb: tuple[int, int, int], tol: int = 24) -> bool:
        return any(all(abs(c[i] - rgb[i]) <= tol for i in range(3)) for c in colours)

    assert near((0x4C, 0x6E, 0xF5))  # busy
    assert near((0xF7, 0x67, 0x07), tol=40)  # cache held (hatched)
