"""The HTML report: real summaries and synthetic ones, parsed back; then opened in headless Chromium."""

from __future__ import annotations

import re
import struct
import subprocess
import zlib
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from conftest import EVENTLOGS, need_binary
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
from sparkprobe.offline import analyze_source
from sparkprobe.outputs.html import MAX_LANES, render_html
from sparkprobe.sources.eventlog import discover

RECORDED = EVENTLOGS / "recorded"
needs_logs = pytest.mark.skipif(not RECORDED.is_dir(), reason=f"recorded event logs not found at {RECORDED}")
RECORDED_LOGS = ["spark-3.5.9-lz4", "spark-3.5.9-snappy", "spark-4.0.1-plain", "spark-4.0.1-rolling-zstd"]
HOSTILE = "<script>alert(1)</script>"
PWN = "document.documentElement.setAttribute('data-pwned','1')"
BASE = 1_790_000_000_000  # epoch ms


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


# ------------------------------------------------------------------------------------ summaries
def recorded(name: str) -> dict[str, Any]:
    sources = discover([str(RECORDED / name)])
    assert len(sources) == 1
    return analyze_source(sources[0])


def synthetic(
    n: int, *, name: str = "synthetic", ended: bool = True, hostile: bool = False, dynamic: bool = True
) -> dict[str, Any]:
    """A real AppState fed n executors: tasks, cached blocks, removals.

    Big ones run with dynamic allocation off: the analyzer's idle-cause check under dynamic
    allocation counts active executors for every executor at every executor change (O(n²) per event).
    """
    evil = '"><svg onload=alert(1)><img src=x onerror="' + PWN + '">' if hostile else ""
    state = AppState()
    state.apply(AppStart(f"app-syn{evil}", name, f"me{evil}", BASE, "4.3.0"))
    state.apply(Conf({"spark.dynamicAllocation.enabled": str(dynamic).lower(),
                      "spark.dynamicAllocation.minExecutors": "0"}))
    rdd = RddInfo(7, f"cached{evil}", f"count at job.py:7{evil}", (), True, False, 1, n)
    for i in range(n):
        state.apply(ExecutorAdded(str(i), f"host-{i % 20}{evil}", 2, BASE + 1_000 + i * 50))
    stage_name = f"count at job.py:7 </title></svg>{evil}"
    t_stage = BASE + 1_000 + n * 50 + 1_000
    state.apply(StageSubmitted(0, 0, stage_name, n, t_stage, (rdd,)))
    for i in range(n):
        launch = t_stage + (i % 10) * 100
        state.apply(TaskStart(i, 0, 0, i, i, 0, str(i), launch))
        state.apply(BlockUpdated(f"rdd_7_{i}", str(i), True, False, False, True, 1, 10_000 + i, 0))
        state.apply(TaskEnd(i, 0, 0, i, i, 0, str(i), launch, launch + 5_000, "success", run_ms=5_000))
    t_done = t_stage + 7_000
    state.apply(StageCompleted(0, 0, stage_name, n, t_done, rdds=(rdd,)))
    for i in range(0, n, 3):
        state.apply(ExecutorRemoved(str(i), t_done + 10_000 + i * 10, f"Executor killed by driver.{evil}"))
    state.apply(StageSubmitted(1, 0, f"second stage{evil}", 1, t_done + 20_000, ()))
    if ended:
        state.apply(StageCompleted(1, 0, f"second stage{evil}", 1, t_done + 25_000, f"boom{evil}"))
        state.apply(AppEnd(t_done + 40_000))
        return state.summary()
    return state.summary(now_ms=t_done + 40_000)


# ------------------------------------------------------------------------------------ tests
@needs_logs
@pytest.mark.parametrize("log", RECORDED_LOGS)
def test_recorded_log_lanes_markers_and_figures(log: str) -> None:
    app = recorded(log)
    assert app["cache_lost_blocks"] > 0 and len(app["executors"]) == 4  # what the recordings hold
    root = parse(render_html([app]))
    assert_self_contained(root)
    (section,) = app_sections(root)

    lanes = find(section, "g", "lane")
    assert sorted(lane.attrs["data-exec"] for lane in lanes) == sorted(app["executors"])
    assert all(lane.attrs["data-count"] == "1" for lane in lanes)

    markers = find(section, cls="loss-marker")
    assert len(markers) == len(app["losses"]) > 0
    for loss in app["losses"]:
        (marker,) = [m for m in markers if m.attrs["data-exec"] == loss["exec_id"]]
        assert lane_of(marker).attrs["data-exec"] == loss["exec_id"]
        assert int(marker.attrs["data-t"]) == loss["time_ms"]
        assert "cache lost" in marker.all_text() and loss["reason"] in marker.all_text()

    removals = find(section, cls="removal-marker")
    assert len(removals) == app["executors_removed"]
    for marker in removals:
        ex = app["executors"][marker.attrs["data-exec"]]
        assert lane_of(marker).attrs["data-exec"] == marker.attrs["data-exec"]
        assert marker.attrs["data-cause"] == ex["removed_cause"] == "dynamic_allocation"
        assert ex["removed_reason"] in marker.all_text()

    # Busy shading in every lane; cache-held idle drawn (distinctly) where it lasted a while.
    for lane in lanes:
        ex = app["executors"][lane.attrs["data-exec"]]
        runs = {c for n in find(lane, "rect", "run") for c in n.classes}
        assert "s-busy" in runs
        if ex["idle_by_cause"]["cache_held"] > 2:
            assert "s-cache_held" in runs

    # Headline figures.
    share = app["idle_core_seconds"] / app["allocated_core_seconds"] * 100
    figures = {n.attrs["data-figure"]: n.all_text() for n in find(section) if "data-figure" in n.attrs}
    assert figures["idle_share"] == f"{share:.0f}%"
    assert figures["cache_lost_blocks"] == str(app["cache_lost_blocks"])
    assert figures["cache_recomputed_blocks"] == str(app["cache_recomputed_blocks"])
    assert figures["executors_added"] == "4"
    assert figures["tasks_success"] == str(app["tasks"]["success"])

    # Stages and the cached-bytes step line are drawn.
    assert len(find(section, "g", "stage")) == len(app["timeline"]["stages"])
    (cached,) = find(section, "svg", "cached")
    assert len(cached.attrs["data-points"].split(";")) == len(app["timeline"]["cached_bytes"])
    assert find(cached, "path", "cached-line")


@needs_logs
def test_advice_what_if_and_uncached_reuse() -> None:
    app = recorded("spark-4.0.1-plain")
    assert app["advice"] and app["what_if"]["rows"]
    app["uncached_reuse"] = [{"callsite": f"collect at {HOSTILE}", "times": 3, "repeat_task_seconds": 4.5}]
    app["uncached_recompute_seconds"] = 4.5
    root = parse(render_html([app]))
    items = find(root, "div", "advice-item")
    assert len(items) == len(app["advice"])
    for item, advice in zip(items, app["advice"], strict=True):
        assert advice["message"] in item.all_text()
        (pre,) = find(item, "pre", "settings")
        assert pre.all_text().splitlines() == [f"{k}={v}" for k, v in advice["settings"].items()]
    (table,) = find(root, "table", "whatif")
    rows = find(table, "tr")[1:]
    assert [r.children[0].all_text() for r in rows] == [str(r["executors"]) for r in app["what_if"]["rows"]]
    assert len([r for r in rows if "measured" in r.classes]) == 1
    assert f"collect at {HOSTILE}" in root.all_text()
    assert "4.5 s repeating uncached lineages" in root.all_text()


def test_estimated_cache_figures_and_event_gaps() -> None:
    app = synthetic(3)
    gap = [app["start_ms"] + 2_000, app["start_ms"] + 9_000]
    app.update(cache_estimated=True, cache_lost_bytes=0, gaps=[gap])
    app["timeline"]["cached_bytes"] = []
    root = parse(render_html([app]))
    text = root.all_text()
    assert "estimated from tasks" in text and "sizes unknown" in text
    figures = {n.attrs["data-figure"]: n for n in root.walk() if "data-figure" in n.attrs}
    card_value = figures["cache_lost_blocks"].parent
    assert card_value is not None and "estimated" in card_value.all_text()
    assert len(find(root, "rect", "gap")) == 1 and len(find(root, "rect", "gap-shade")) == 1
    assert "Events may be missing" in text


@needs_logs
def test_all_recorded_logs_in_one_page_with_contents() -> None:
    apps = [recorded(log) for log in RECORDED_LOGS]
    root = parse(render_html(apps))
    sections = app_sections(root)
    assert len(sections) == 4
    assert [len(find(s, "g", "lane")) for s in sections] == [4, 4, 4, 4]
    links = [a.attrs["href"] for a in find(root, "nav")[0].walk() if a.tag == "a"]
    assert links == [f"#app-{i}" for i in range(4)]
    # Every SVG id is unique across the page (patterns are referenced by id).
    ids = [n.attrs["id"] for n in root.walk() if "id" in n.attrs]
    assert len(ids) == len(set(ids))


def test_hostile_strings_are_escaped() -> None:
    app = synthetic(5, name=HOSTILE, hostile=True)
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


def test_hostile_executor_id_stays_an_attribute_value() -> None:
    evil = '0"><script>alert(1)</script>'
    app = synthetic(2)
    app["executors"] = {evil: app["executors"]["0"]}
    app["timeline"]["idle"] = {evil: app["timeline"]["idle"]["0"]}
    app["losses"] = [{**app["losses"][0], "exec_id": evil}] if app["losses"] else []
    root = parse(render_html([app]))
    (lane,) = find(root, "g", "lane")
    assert lane.attrs["data-exec"] == evil
    assert len(find(root, "script")) == 2


def test_600_executors_are_grouped_into_at_most_500_lanes() -> None:
    app = synthetic(600, dynamic=False)
    assert len(app["executors"]) == 600
    root = parse(render_html([app]))
    lanes = find(root, "g", "lane")
    assert 0 < len(lanes) <= MAX_LANES
    assert sum(int(lane.attrs["data-count"]) for lane in lanes) == 600
    assert all("group" in lane.classes for lane in lanes)
    assert "grouped" in root.all_text() or "groups" in root.all_text()
    # Executors are grouped in order of addition: lane i holds executors [2i, 2i+1] here.
    order = sorted(app["executors"], key=lambda e: (app["executors"][e]["added_ms"], int(e)))
    position = {e: i for i, e in enumerate(order)}
    for lane in lanes:
        lo = position[lane.attrs["data-exec"]]
        hi = position[lane.attrs["data-exec-last"]]
        assert hi - lo + 1 == int(lane.attrs["data-count"])
    markers = find(root, cls="loss-marker")
    assert len(markers) == len(app["losses"]) == 200
    for marker in markers:
        lane = lane_of(marker)
        assert position[lane.attrs["data-exec"]] <= position[marker.attrs["data-exec"]]
        assert position[marker.attrs["data-exec"]] <= position[lane.attrs["data-exec-last"]]
    assert len(find(root, cls="removal-marker")) == app["executors_removed"] == 200


def test_500_executors_get_one_lane_each() -> None:
    app = synthetic(500, dynamic=False)
    root = parse(render_html([app]))
    lanes = find(root, "g", "lane")
    assert len(lanes) == 500
    assert {lane.attrs["data-exec"] for lane in lanes} == set(app["executors"])
    (svg,) = find(root, "svg", "tl")
    height = float(svg.attrs["viewbox"].split()[3])
    assert height < 1100  # thin lanes, but a screenful, not 12,000 px


def test_running_app_draws_to_the_last_known_time_with_the_open_idle_stretch() -> None:
    app = synthetic(6, ended=False)
    assert app["end_ms"] is None and app["running"]
    active = [e for e, x in app["executors"].items() if x["removed_ms"] is None]
    assert active and all(app["executors"][e]["idle_now_seconds"] > 0 for e in active)
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


@needs_logs
def test_in_progress_log(tmp_path: Path) -> None:
    src = next((RECORDED / "spark-4.0.1-plain").iterdir())
    lines = src.read_bytes().splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if b'"Stage ID":3' in line and b"StageSubmitted" in line)
    partial = tmp_path / (src.name + ".inprogress")
    partial.write_bytes(b"".join(lines[: cut + 1]) + lines[cut + 1][:40])  # and a torn last line
    (source,) = discover([str(partial)])
    app = analyze_source(source)
    assert app["end_ms"] is None and app["source"]["in_progress"]
    root = parse(render_html([app]))
    assert "No application end" in root.all_text()
    assert len(find(root, "g", "lane")) == len(app["executors"])
    assert len(find(root, cls="loss-marker")) == len(app["losses"])


def test_degenerate_inputs() -> None:
    assert "No application" in render_html([])
    for app in (
        {},
        {"app_name": "local", "executors": {}, "timeline": {"idle": {}, "cached_bytes": [], "stages": []}},
        {"app_name": "odd", "end_ms": None, "executors": {"1": {"added_ms": None}}, "losses": [None, 3],
         "timeline": {"stages": [[0], "x", [1, 0, "s", 5, None, ""]], "cached_bytes": [[1], "y"]},
         "findings": ["not a dict"], "advice": ["plain string advice"], "tasks": None},
        {"executors": {"1": {"added_ms": 10, "removed_ms": 10}}, "start_ms": 10, "end_ms": 10},
    ):
        root = parse(render_html([app]))
        assert len(app_sections(root)) == 1
        assert_self_contained(root)


def test_lane_geometry_follows_event_time() -> None:
    """Busy for the first half of the app, idle (cache held) for the second: two runs, split at half."""
    app = {
        "app_name": "geometry", "start_ms": 1_000, "end_ms": 11_000,
        "executors": {"7": {"added_ms": 1_000, "removed_ms": 11_000, "removed_cause": "failure",
                            "removed_reason": "Command exited with code 137", "lifetime_seconds": 10.0}},
        "timeline": {"idle": {"7": [[6_000, 11_000, "cache_held"]]}, "cached_bytes": [[2_000, 5]],
                     "stages": [[0, 0, "s", 1_000, 6_000, ""]]},
        "losses": [{"exec_id": "7", "time_ms": 11_000, "cause": "failure", "reason": "x", "blocks": 1,
                    "bytes": 5, "rdds": []}],
    }
    root = parse(render_html([app]))
    (svg,) = find(root, "svg", "tl")
    x0, pw = float(svg.attrs["data-x0"]), float(svg.attrs["data-pw"])
    busy, idle = find(root, "rect", "run")
    assert "s-busy" in busy.classes and "s-cache_held" in idle.classes
    assert float(busy.attrs["x"]) == x0
    assert float(idle.attrs["x"]) == pytest.approx(x0 + pw / 2, abs=1)
    assert float(idle.attrs["x"]) + float(idle.attrs["width"]) == pytest.approx(x0 + pw)
    assert idle.attrs["fill"].startswith("url(#")  # hatched
    (removal,) = find(root, cls="removal-marker")
    assert float(removal.attrs["x"]) + float(removal.attrs["width"]) / 2 == pytest.approx(x0 + pw)
    assert removal.attrs["data-cause"] == "failure" and "exited with code 137" in removal.all_text()
    (stage,) = find(root, "g", "stage")
    (rect,) = [c for c in stage.children if c.tag == "rect"]
    assert float(rect.attrs["x"]) == x0
    assert float(rect.attrs["width"]) == pytest.approx(pw / 2, abs=1)


def test_summary_without_timeline_draws_lifetimes_only() -> None:
    app = synthetic(3)
    del app["timeline"]
    root = parse(render_html([app]))
    runs = find(root, "rect", "run")
    assert runs and all("s-alive" in r.classes for r in runs)
    assert "no idle segments" in root.all_text()
    assert len(find(root, cls="loss-marker")) == len(app["losses"])


def test_local_mode_app_without_executors_shows_stages() -> None:
    app = synthetic(1)
    app["executors"] = {}
    app["timeline"]["idle"] = {}
    root = parse(render_html([app]))
    assert not find(root, "g", "lane")
    assert find(root, "g", "stage")
    assert "No executor was recorded" in root.all_text()


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
r.setAttribute('data-probe-opacity',getComputedStyle(run).opacity);})();</script>"""


def chromium_args(chromium: str, profile: Path) -> list[str]:
    return [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--hide-scrollbars",
        "--window-size=1400,1000",
    ]


def test_chromium_renders_it_without_script_errors(tmp_path: Path) -> None:
    chromium = need_binary("chromium")
    apps = [
        recorded("spark-4.0.1-plain") if RECORDED.is_dir() else synthetic(8),
        synthetic(6, ended=False),
        synthetic(4, name=HOSTILE, hostile=True),
        synthetic(600, dynamic=False),
    ]
    page = tmp_path / "report.html"
    page.write_text(render_html(apps), encoding="utf-8")
    png = tmp_path / "report.png"

    shot = subprocess.run(
        [*chromium_args(chromium, tmp_path / "p1"), f"--screenshot={png}", page.as_uri()],
        capture_output=True, text=True, timeout=180, check=False,
    )
    # A copy with a probe appended: hover the first timeline, click a legend entry, note the effects.
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
