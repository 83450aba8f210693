"""The fleet HTML report, opened in headless Chromium: no console error, ranking, trends, links, offline.

A fleet run over real logs (the recorded cache-loss runs and copies of a few public logs, so that
app names have several runs and one of them regresses) writes ``fleet.html`` and the per-app
reports beside it. Chromium opens it with a probe script that sorts the apps table and reads the
page back; its network log must hold no request at all but the page itself.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from log_copies import copy_log

from conftest import EVENTLOGS, need_binary
from sparkprobe.sources.eventlog import discover

RECORDED = EVENTLOGS / "recorded"
pytestmark = pytest.mark.skipif(not RECORDED.is_dir(), reason=f"real event logs not found at {EVENTLOGS}")

PROBE = """<script>(function(){var r=document.documentElement;
var box=document.querySelector('table.fleet-apps').closest('div.tbl');
var th=box.querySelectorAll('th')[8].querySelector('button.sort');th.click();
r.setAttribute('data-probe-asc',Array.prototype.map.call(box.querySelector('tbody').rows,
 function(t){return t.cells[8].getAttribute('data-sort');}).join(','));
var svg=document.querySelector('svg.trend'),b=svg.getBoundingClientRect();
svg.dispatchEvent(new MouseEvent('mousemove',{clientX:b.left+b.width*0.5,clientY:b.top+b.height*0.5,bubbles:true}));
var l=svg.querySelector('.xhair-label');
r.setAttribute('data-probe-xhair',l.getAttribute('visibility')+'|'+l.textContent);
})();</script>"""


class Page(HTMLParser):
    """Collects what the test checks: app rows, trend charts, links, scripts' origins."""

    def __init__(self) -> None:
        super().__init__()
        self.root: dict[str, str] = {}
        self.app_rows: list[dict[str, str]] = []
        self.trends: list[str] = []
        self.links: list[str] = []
        self.external: list[str] = []
        self._in_apps = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.root = a
        if tag == "table" and "fleet-apps" in a.get("class", ""):
            self._in_apps = True
        if tag == "tr" and self._in_apps and "data-app-id" in a:
            self.app_rows.append(a)
        if tag == "div" and a.get("class") == "trend-box":
            self.trends.append(a["data-app-name"])
        if tag == "a":
            self.links.append(a["href"])
        for key in ("src", "href"):
            if re.match(r"[a-z]+://", a.get(key, "")):
                self.external.append(a[key])

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_apps = False


def make_fleet(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    logs = tmp_path / "logs"
    shutil.copytree(RECORDED, logs / "recorded", ignore=shutil.ignore_patterns("*.py"))
    small = discover([EVENTLOGS / "public" / "local-1532512550423"])[0]
    for n in range(1, 5):  # one app name, four runs a day apart
        copy_log(small, logs / "copies", n)
    page = tmp_path / "out" / "fleet.html"
    page.parent.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "sparkprobe.cli", "fleet", str(logs), "--jobs", "2", "--state",
         str(tmp_path / "s.sqlite"), "-o", str(page), "--price-core-hour", "0.04"],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    json_out = tmp_path / "fleet.json"
    again = subprocess.run(
        [sys.executable, "-m", "sparkprobe.cli", "fleet", str(logs), "--state", str(tmp_path / "s.sqlite"),
         "-o", str(json_out)], capture_output=True, text=True, timeout=600,
    )
    assert again.returncode == 0, again.stderr
    return page, json.loads(json_out.read_text())


def test_the_fleet_page_in_chromium(tmp_path: Path) -> None:
    chromium = need_binary("chromium")
    page, doc = make_fleet(tmp_path)
    text = page.read_text(encoding="utf-8")
    parsed = Page()
    parsed.feed(text)
    apps = doc["apps"]
    # Ranked: every app, most idle core-hours first, each linked to its own report beside the page.
    idle = sorted(((a["idle_core_seconds"], a["app_id"]) for a in apps), key=lambda x: (-x[0], x[1]))
    assert [r["data-app-id"] for r in parsed.app_rows] == [app_id for _, app_id in idle]
    assert len(parsed.links) == len(apps)
    for href in parsed.links:
        assert href.startswith("fleet.apps/") and (page.parent / href).is_file(), href
    # One trend chart per app name with two runs or more.
    names = sorted({a["app_name"] for a in apps if sum(b["app_name"] == a["app_name"] for b in apps) >= 2})
    assert sorted(parsed.trends) == names and len(names) == 2
    assert text.count('class="chart trend"') == 2
    assert parsed.external == []

    probed = page.with_name("probed.html")
    probed.write_text(text.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom, requests = open_in_chromium(chromium, probed, tmp_path / "a")
    root = Page()
    root.feed(dom.stdout)
    assert root.root.get("data-sparkprobe-js") == "ok"
    assert "data-sparkprobe-errors" not in root.root
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
    # A click on "idle core-h" sorts ascending; the crosshair follows the mouse on a trend chart.
    ascending = [float(v) for v in root.root["data-probe-asc"].split(",")]
    assert ascending == sorted(ascending) and len(ascending) == len(apps)
    assert root.root["data-probe-xhair"].startswith("visible|") and "idle core-h" in root.root["data-probe-xhair"]
    # Offline: the page asked the network for nothing (its own file is not a network request).
    assert requests == []
    # The check can fail: a page that fetches is caught.
    control = tmp_path / "control.html"
    control.write_text('<html><body><img src="http://example.invalid/x.png"></body></html>', encoding="utf-8")
    _, control_requests = open_in_chromium(chromium, control, tmp_path / "b")
    assert "http://example.invalid/x.png" in control_requests


def open_in_chromium(chromium: str, page: Path, work: Path) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Chromium's DOM of ``page`` after its scripts, and the URLs the page asked the network for.

    The network log (``--log-net-log``) also holds the browser's own requests (its clock, updates),
    whose initiator is "not an origin"; a request of the page has the page's origin (``null`` for
    a file).
    """
    work.mkdir()
    netlog = work / "net.json"
    args = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={work / 'profile'}", "--enable-logging=stderr", "--v=0", "--window-size=1400,1000",
        f"--log-net-log={netlog}", "--net-log-capture-mode=Everything", "--dump-dom", page.as_uri(),
    ]
    dom = subprocess.run(args, capture_output=True, text=True, timeout=180, check=False)
    assert dom.returncode == 0, dom.stderr[-2000:]
    log = json.loads(netlog.read_text(encoding="utf-8", errors="replace"))
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    requests = [
        e["params"]["url"] for e in log["events"]
        if e["type"] == start and "url" in e.get("params", {}) and e["params"].get("initiator") != "not an origin"
    ]
    return dom, requests
