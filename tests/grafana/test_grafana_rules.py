"""The Grafana dashboards and Prometheus rules in grafana/: valid, tested, and about real metrics.

- ``promtool check rules`` and ``promtool test rules`` pass on grafana/alerts/;
- every alert has labels and annotations an on-call person needs, a runbook anchor that exists in
  docs/alerts.md, and promtool unit tests that see it both fire and stay silent;
- every dashboard is the output of grafana/generate_dashboards.py (regenerated here with
  grafana-foundation-sdk and compared byte for byte), reads back through the SDK's typed models
  unchanged, has a stable unique uid, the datasource / app_name / app_id variables, a unit on
  every panel, panels that do not overlap, and only valid PromQL;
- deploy/kubernetes/prometheusrule.yaml and dashboards-configmap.yaml are grafana/generate_k8s.py's
  output, the PrometheusRule holds exactly the rules of grafana/alerts (promtool checks and unit
  tests them as extracted), and the ConfigMap exactly the dashboards;
- every metric name in a panel or a rule is one the agent really exposes (read from a real Agent's
  exposition) or a recording rule of grafana/alerts/sparkprobe-rules.yaml.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from conftest import IN_CI, REPO, need_binary
from sparkprobe.agent import Agent, AppRecord
from sparkprobe.analysis.state import AppState, Limits
from sparkprobe.events import (
    AppStart,
    BlockManagerAdded,
    BlockUpdated,
    Conf,
    ExecutorAdded,
    ExecutorMetrics,
    ExecutorRemoved,
    JobStart,
    ListenerStats,
    TaskEnd,
    TaskStart,
)
from sparkprobe.outputs.prometheus import make_registry
from sparkprobe.outputs.pushgateway import PushgatewayExporter, app_registry

ROOT = REPO
GRAFANA = ROOT / "grafana"
RULES = GRAFANA / "alerts" / "sparkprobe-rules.yaml"
ALERTS = GRAFANA / "alerts" / "sparkprobe-alerts.yaml"
RULE_TESTS = sorted((GRAFANA / "alerts" / "tests").glob("*.yaml"))
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
K8S = ROOT / "deploy" / "kubernetes"
ALERTS_DOC = ROOT / "docs" / "alerts.md"
RUNBOOK_BASE = "https://github.com/sparkprobe/sparkprobe/blob/main/docs/alerts.md#"

#: The dashboards' uids: links and bookmarks depend on them, so changing one must be deliberate.
STABLE_UIDS = {"sparkprobe-overview", "sparkprobe-cache", "sparkprobe-health"}
#: Grafana unit ids the dashboards may use (from Grafana's value-format categories).
GRAFANA_UNITS = {"short", "none", "percentunit", "bytes", "s", "ms", "cps", "ops", "dateTimeAsIso"}
SEVERITIES = {"critical", "warning", "info"}
#: Values that stand in for Grafana's variables when an expression is checked or run.
VARIABLES = {"$__rate_interval": "1m", "$__range": "1h", "$app_name": ".*", "$app_id": ".*"}
GRID_COLUMNS = 24


def need_sdk() -> None:
    """grafana-foundation-sdk (the test extra; Python >= 3.11): skip without it, except in CI."""
    if importlib.util.find_spec("grafana_foundation_sdk") is None:
        message = "grafana-foundation-sdk is not installed (pip install -e '.[test]', Python >= 3.11)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


# ---------------------------------------------------------------------------- a small YAML reader
# The repository's rule files use a plain YAML subset (block mappings and sequences, plain and
# double-quoted scalars, | and >- block scalars, comments). PyYAML is not a dependency, so this
# reads that subset; every use is cross-checked with promtool's own count of the rules.


def _scalar(text: str) -> Any:
    text = text.strip()
    if text.startswith('"'):
        return json.loads(text)
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    if text in ("[]", "{}"):
        return [] if text == "[]" else {}
    return text


def _strip_comment(line: str) -> str:
    if line.lstrip().startswith("#"):
        return ""
    in_quote = None
    for i, ch in enumerate(line):
        if ch in "\"'" and in_quote is None:
            in_quote = ch
        elif ch == in_quote:
            in_quote = None
        elif ch == "#" and in_quote is None and (i == 0 or line[i - 1] == " "):
            return line[:i].rstrip()
    return line.rstrip()


def load_yaml(path: Path) -> Any:
    """Parse the YAML subset the repository's rule and rule-test files are written in."""
    raw = path.read_text(encoding="utf-8").splitlines()
    lines = [(len(ln) - len(ln.lstrip(" ")), ln.strip(), i) for i, ln in enumerate(raw)]
    pos = 0

    def block_scalar(style: str, parent_indent: int) -> str:
        nonlocal pos
        body: list[str] = []
        indent = None
        while pos < len(raw):
            text = raw[pos]
            if text.strip() == "":
                body.append("")
                pos += 1
                continue
            ind = len(text) - len(text.lstrip(" "))
            if ind <= parent_indent:
                break
            indent = ind if indent is None else indent
            body.append(text[indent:])
            pos += 1
        while body and body[-1] == "":
            body.pop()
        if style.startswith(">"):
            out = " ".join(b for b in body if b)
        else:
            out = "\n".join(body) + "\n"
        return out.rstrip("\n") if style.endswith("-") else out

    def skip_blank() -> None:
        nonlocal pos
        while pos < len(raw) and _strip_comment(raw[pos]).strip() == "":
            pos += 1

    def value_after(rest: str, indent: int) -> Any:
        nonlocal pos
        if rest in ("|", "|-", ">", ">-"):
            return block_scalar(rest, indent)
        if rest == "":
            skip_blank()
            if pos < len(raw) and lines[pos][0] >= indent and lines[pos][1].startswith("- "):
                return node(lines[pos][0])
            if pos < len(raw) and lines[pos][0] > indent:
                return node(lines[pos][0])
            return None
        return _scalar(rest)

    def node(indent: int) -> Any:
        nonlocal pos
        skip_blank()
        if pos >= len(raw):
            return None
        if _strip_comment(raw[pos]).strip().startswith("- "):
            items: list[Any] = []
            while True:
                skip_blank()
                if pos >= len(raw):
                    break
                line = _strip_comment(raw[pos])
                ind = len(line) - len(line.lstrip(" "))
                if ind != indent or not line.strip().startswith("- "):
                    break
                content = line.strip()[2:]
                if re.match(r"^[\w./-]+:( |$)", content):
                    # a mapping that starts on the dash line: re-read it as indented by 2 more
                    raw[pos] = " " * (indent + 2) + content
                    lines[pos] = (indent + 2, content, pos)
                    items.append(node(indent + 2))
                else:
                    pos += 1
                    items.append(_scalar(content))
            return items
        mapping: dict[str, Any] = {}
        while True:
            skip_blank()
            if pos >= len(raw):
                break
            line = _strip_comment(raw[pos])
            ind = len(line) - len(line.lstrip(" "))
            if ind != indent or line.strip().startswith("- "):
                break
            m = re.match(r"^([\w./-]+):(?: (.*))?$", line.strip())
            assert m, f"{path}:{pos + 1}: not in the supported YAML subset: {line!r}"
            pos += 1
            mapping[m.group(1)] = value_after((m.group(2) or "").strip(), indent)
        return mapping

    return node(0)


def rule_list(path: Path) -> list[dict[str, Any]]:
    return [rule for group in load_yaml(path)["groups"] for rule in group["rules"]]


def promtool_count(promtool: str, path: Path) -> int:
    out = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    m = re.search(r"SUCCESS: (\d+) rules found", out.stdout + out.stderr)
    assert m, out.stdout
    return int(m.group(1))


# ---------------------------------------------------------------------------- PromQL names
_FUNCS_AND_KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "nan",
}


def metric_names(expr: str) -> set[str]:
    """The metric (and recording-rule) names an expression reads."""
    for var, value in VARIABLES.items():
        expr = expr.replace(var, value)
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    names = set()
    for m in re.finditer(r"(?<![\w:.])([a-zA-Z_:][\w:]*)(\s*\()?", expr):
        word, call = m.group(1), m.group(2)
        if call or word.lower() in _FUNCS_AND_KEYWORDS:
            continue
        names.add(word)
    return names


@pytest.fixture(scope="module")
def exposed() -> set[str]:
    """Every sample name a real agent exposes (a cache loss, a finding, memory peaks, prices), and what it pushes."""
    agent = Agent(limits=Limits(price_core_hour=0.05, price_gib_hour=0.005))
    rec = agent.apps["app-1"] = AppRecord(AppState("app-1", agent.limits))
    agent.ingest(
        rec,
        [
            AppStart("app-1", "names", "u", 1_000, "4.3.0"),
            Conf({"spark.dynamicAllocation.enabled": "true"}),
            ExecutorAdded("1", "h", 2, 1_000),
            BlockManagerAdded("1", "h", 1_000, 1 << 20),
            JobStart(0, 2_000, (0,), tags=("nightly",)),  # a tenant: the sparkprobe_tenant_* series
            TaskStart(1, 0, 0, 0, 0, 0, "1", 2_000),
            TaskEnd(1, 0, 0, 0, 0, 0, "1", 2_000, 3_000, "success"),
            ExecutorMetrics("1", {"JVMHeapMemory": 1 << 28, "ProcessTreeJVMRSSMemory": 1 << 29}, 0, 0, "task"),
            ExecutorMetrics("driver", {"JVMHeapMemory": 1 << 28}, -1, -1, "heartbeat"),
            BlockUpdated("rdd_1_0", "1", True, False, False, True, 1, 4096, 0),
            ExecutorRemoved("1", 9_000, "Executor killed by driver."),
            ListenerStats(offered=9, dropped=0, processing_ns=9_000),
        ],
    )
    registry = make_registry(agent)
    registry.register(PushgatewayExporter("http://127.0.0.1:1"))
    pushed = app_registry(agent.report(rec, detail=False))
    texts = [generate_latest(registry).decode(), generate_latest(pushed).decode()]
    names = {s.name for text in texts for fam in text_string_to_metric_families(text) for s in fam.samples}
    assert "sparkprobe_findings_total" in names, "the synthetic app must make a finding"
    return names | {"up"}  # up: Prometheus's own per-target series


@pytest.fixture(scope="module")
def recorded() -> set[str]:
    return {rule["record"] for rule in rule_list(RULES)}


def dashboard_targets() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, expr) of every query of every dashboard."""
    out = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text(encoding="utf-8"))["panels"]:
            for target in panel.get("targets", []):
                out.append((path.name, panel["title"], target["expr"]))
    return out


def data_panels(path: Path) -> list[dict[str, Any]]:
    """The panels of a dashboard that show data (not its row headers)."""
    return [p for p in json.loads(path.read_text(encoding="utf-8"))["panels"] if p["type"] != "row"]


# ---------------------------------------------------------------------------- rules


def test_promtool_check_rules_passes_and_counts_match_our_reader() -> None:
    promtool = need_binary("promtool")
    for path in (RULES, ALERTS):
        assert promtool_count(promtool, path) == len(rule_list(path)), path


def test_promtool_unit_tests_pass() -> None:
    promtool = need_binary("promtool")
    assert RULE_TESTS
    out = subprocess.run(
        [promtool, "test", "rules", *map(str, RULE_TESTS)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_alert_is_tested_firing_and_silent() -> None:
    fired: set[str] = set()
    silent: set[str] = set()
    for path in RULE_TESTS:
        doc = load_yaml(path)
        rule_files = {(path.parent / f).resolve() for f in doc["rule_files"]}
        assert {RULES.resolve(), ALERTS.resolve()} <= rule_files, path
        for test in doc["tests"]:
            assert test["input_series"], path
            for case in test.get("alert_rule_test") or []:
                (fired if case.get("exp_alerts") else silent).add(case["alertname"])
    alerts = {rule["alert"] for rule in rule_list(ALERTS)}
    assert alerts - fired == set(), "alerts never seen firing in grafana/alerts/tests"
    assert alerts - silent == set(), "alerts never seen silent in grafana/alerts/tests"


def test_alerts_carry_severity_annotations_and_a_runbook_anchor_that_exists() -> None:
    doc = ALERTS_DOC.read_text(encoding="utf-8")
    headings = {
        re.sub(r"[^\w\- ]", "", line.lstrip("#").strip()).lower().replace(" ", "-")
        for line in doc.splitlines()
        if line.startswith("## ")
    }
    rules = rule_list(ALERTS)
    names = [rule["alert"] for rule in rules]
    assert {
        "SparkprobeCachedDataLost",
        "SparkprobeIdleExecutorWaste",
        "SparkprobeListenerDroppingEvents",
        "SparkprobeAgentDown",
    } <= set(names)
    assert len(names) == len(set(names))
    for rule in rules:
        name = rule["alert"]
        assert re.fullmatch(r"Sparkprobe[A-Z][A-Za-z]+", name), name
        assert rule["labels"]["severity"] in SEVERITIES, name
        notes = rule["annotations"]
        assert notes["summary"] and notes["description"], name
        assert notes["runbook_url"] == RUNBOOK_BASE + name.lower(), name
        assert name.lower() in headings, f"docs/alerts.md has no '## {name}' section"


def test_rule_names_follow_prometheus_conventions() -> None:
    for rule in rule_list(RULES):
        level, metric, ops = rule["record"].split(":")
        assert level in ("app", "app_cause", "app_reason"), rule["record"]
        assert metric.startswith("sparkprobe_"), rule["record"]
        if ops == "max":
            # An aggregation of a raw counter keeps the counter's name (it still is one)...
            assert metric.endswith(("_total", "_sum", "_count")), rule["record"]
        else:
            # ...a rate or a ratio loses the _total (Prometheus's recording rule naming).
            assert not metric.endswith("_total"), rule["record"]
            assert re.fullmatch(r"(rate|ratio_rate|mean|increase)\d+[smh]", ops), rule["record"]


def test_rules_read_only_metrics_the_agent_exposes(exposed: set[str], recorded: set[str]) -> None:
    for path in (RULES, ALERTS):
        for rule in rule_list(path):
            unknown = metric_names(rule["expr"]) - exposed - recorded
            assert not unknown, f"{rule.get('record') or rule.get('alert')} reads unknown {unknown}"


# ---------------------------------------------------------------------------- dashboards


def _generator(name: str = "generate_dashboards") -> Any:
    spec = importlib.util.spec_from_file_location(name, GRAFANA / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dashboards_are_the_generators_output_byte_for_byte() -> None:
    need_sdk()
    rendered: dict[str, str] = _generator().render()
    assert sorted(rendered) == [p.name for p in DASHBOARDS], "a dashboard file without a generator, or vice versa"
    for path in DASHBOARDS:
        assert path.read_bytes() == rendered[path.name].encode("utf-8"), (
            f"{path.name} differs from grafana/generate_dashboards.py: edit the script and run it"
        )
    # The script's own check agrees (what a contributor runs).
    out = subprocess.run(
        [sys.executable, str(GRAFANA / "generate_dashboards.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr


def test_generator_check_fails_on_a_hand_edit(tmp_path: Path) -> None:
    need_sdk()
    generator = _generator()
    generator.OUT = tmp_path
    assert generator.main([]) == 0 and generator.main(["--check"]) == 0
    edited = tmp_path / "sparkprobe-cache.json"
    edited.write_text(edited.read_text(encoding="utf-8").replace('"30s"', '"10s"', 1), encoding="utf-8")
    assert generator.main(["--check"]) == 1


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_reads_back_through_the_sdk_models_unchanged(path: Path) -> None:
    """A key outside Grafana's schema (as the SDK types it) is dropped on the way: the bytes differ."""
    need_sdk()
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.cog.plugins import register_default_plugins
    from grafana_foundation_sdk.models.dashboard import Dashboard

    register_default_plugins()  # panel options and Prometheus queries decode to their own types
    text = path.read_text(encoding="utf-8")
    again = json.dumps(Dashboard.from_json(json.loads(text)), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"
    assert again == text


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_layout_rows_and_panels_fit_the_grid_without_overlap(path: Path) -> None:
    panels = json.loads(path.read_text(encoding="utf-8"))["panels"]
    cells: dict[tuple[int, int], str] = {}
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["w"] > 0 and pos["x"] + pos["w"] <= GRID_COLUMNS, panel["title"]
        if panel["type"] == "row":
            # Expanded rows: their panels follow them at the top level (Grafana ignores panels
            # nested in a row that is not collapsed).
            assert not panel["collapsed"] and panel["panels"] == [] and pos["w"] == GRID_COLUMNS, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]
    assert panels[0]["type"] == "row", "every panel sits under a row"


def test_dashboard_uids_are_stable_and_unique() -> None:
    uids = [json.loads(p.read_text(encoding="utf-8"))["uid"] for p in DASHBOARDS]
    assert sorted(uids) == sorted(STABLE_UIDS)
    for path in DASHBOARDS:
        model = json.loads(path.read_text(encoding="utf-8"))
        assert path.stem == model["uid"], "file name and uid agree, so a uid is found from its file"
        assert "id" not in model or model["id"] is None, "provisioned dashboards carry no database id"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_variables(path: Path) -> None:
    variables = {v["name"]: v for v in json.loads(path.read_text(encoding="utf-8"))["templating"]["list"]}
    ds = variables["datasource"]
    assert ds["type"] == "datasource" and ds["query"] == "prometheus"
    for name in ("app_name", "app_id"):
        var = variables[name]
        assert var["type"] == "query"
        assert var["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        assert re.fullmatch(rf"label_values\(sparkprobe_app_info(\{{[^}}]*\}})?, {name}\)", query), query
        assert var["includeAll"] and var["multi"] and var["allValue"] == ".*"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_panel_has_a_unit_a_datasource_and_app_filters(path: Path) -> None:
    every = json.loads(path.read_text(encoding="utf-8"))["panels"]
    assert len({p["id"] for p in every}) == len(every)
    for panel in data_panels(path):
        title = panel["title"]
        assert panel["fieldConfig"]["defaults"].get("unit") in GRAFANA_UNITS, title
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, title
        assert panel["targets"], title
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"], title
            expr = target["expr"]
            # An app-level series must follow the app selection.
            reads_app_series = any(
                n.startswith(("app:", "app_cause:", "app_reason:"))
                or (
                    n.startswith("sparkprobe_")
                    and not n.startswith(("sparkprobe_agent_", "sparkprobe_pushgateway_"))
                )
                for n in metric_names(expr)
            )
            if reads_app_series:
                assert 'app_name=~"$app_name"' in expr and 'app_id=~"$app_id"' in expr, (title, expr)


def test_dashboard_expressions_are_valid_promql(tmp_path: Path) -> None:
    promtool = need_binary("promtool")
    rules = [
        {"record": f"sparkprobe_dashboard_check_{i}", "expr": _substitute(expr)}
        for i, (_, _, expr) in enumerate(dashboard_targets())
    ]
    check = tmp_path / "dashboard-exprs.yaml"
    check.write_text(json.dumps({"groups": [{"name": "check", "rules": rules}]}), encoding="utf-8")
    assert promtool_count(promtool, check) == len(rules)


def test_dashboards_read_only_metrics_the_agent_exposes(exposed: set[str], recorded: set[str]) -> None:
    used: set[str] = set()
    for name, title, expr in dashboard_targets():
        names = metric_names(expr)
        used |= names
        unknown = names - exposed - recorded
        assert not unknown, f"{name} / {title}: unknown metric {unknown} in {expr}"
    # The recording rules exist for the dashboards and alerts: none is dead.
    alert_reads = set().union(*(metric_names(r["expr"]) for r in rule_list(ALERTS)))
    rule_reads = set().union(*(metric_names(r["expr"]) for r in rule_list(RULES)))
    assert recorded - used - alert_reads - rule_reads == set()


def _substitute(expr: str) -> str:
    for var, value in VARIABLES.items():
        expr = expr.replace(var, value)
    return expr


def test_metric_name_reader() -> None:
    expr = (
        "sum by (kind) (max by (app_id, app_name, kind) (increase(sparkprobe_findings_total"
        '{app_name=~"$app_name"}[5m]))) / on (app_id) group_left() app:x:rate5m > bool 0 or up'
    )
    assert metric_names(expr) == {"sparkprobe_findings_total", "app:x:rate5m", "up"}


# ---------------------------------------------------------------------------- provisioning


def test_provisioning_points_at_the_dashboards_and_a_prometheus_datasource() -> None:
    provider = load_yaml(GRAFANA / "provisioning" / "dashboards" / "sparkprobe.yaml")["providers"][0]
    assert (
        provider["type"] == "file" and provider["options"]["path"] == "/var/lib/grafana/dashboards/sparkprobe"
    )
    source = load_yaml(GRAFANA / "provisioning" / "datasources" / "sparkprobe.yaml")["datasources"][0]
    assert source["type"] == "prometheus" and source["url"].startswith("http")
    docs = (ROOT / "docs" / "grafana.md").read_text(encoding="utf-8")
    assert "/etc/grafana/provisioning" in docs and provider["options"]["path"] in docs


# ---------------------------------------------------------------------------- Kubernetes


def test_k8s_manifests_are_the_generators_output_byte_for_byte(tmp_path: Path) -> None:
    generator = _generator("generate_k8s")
    rendered: dict[str, str] = generator.render()
    assert sorted(rendered) == ["dashboards-configmap.yaml", "prometheusrule.yaml"]
    for name, text in rendered.items():
        assert (K8S / name).read_bytes() == text.encode("utf-8"), (
            f"deploy/kubernetes/{name} differs from grafana/generate_k8s.py: run it"
        )
    out = subprocess.run(
        [sys.executable, str(GRAFANA / "generate_k8s.py"), "--check"], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    generator.OUT = tmp_path
    assert generator.main([]) == 0
    (tmp_path / "prometheusrule.yaml").write_text("edited\n", encoding="utf-8")
    assert generator.main(["--check"]) == 1


def test_prometheusrule_holds_exactly_the_rules_of_grafana_alerts(tmp_path: Path) -> None:
    promtool = need_binary("promtool")
    manifest = load_yaml(K8S / "prometheusrule.yaml")
    assert manifest["apiVersion"] == "monitoring.coreos.com/v1" and manifest["kind"] == "PrometheusRule"
    assert manifest["metadata"]["name"] == "sparkprobe"
    groups = manifest["spec"]["groups"]
    assert groups == load_yaml(RULES)["groups"] + load_yaml(ALERTS)["groups"]
    # Prometheus's own parser on what a PrometheusRule hands it (the operator writes spec as a
    # rule file): valid, and as many rules as the two files.
    extracted = tmp_path / "extracted.yaml"
    extracted.write_text(json.dumps({"groups": groups}), encoding="utf-8")
    assert promtool_count(promtool, extracted) == promtool_count(promtool, RULES) + promtool_count(promtool, ALERTS)
    # The alert unit tests pass on the extracted rules too.
    tests = []
    for path in RULE_TESTS:
        text = path.read_text(encoding="utf-8")
        block = "rule_files:\n  - ../sparkprobe-rules.yaml\n  - ../sparkprobe-alerts.yaml\n"
        assert block in text, path
        copy = tmp_path / path.name
        copy.write_text(text.replace(block, f"rule_files:\n  - {json.dumps(str(extracted))}\n"), encoding="utf-8")
        tests.append(str(copy))
    out = subprocess.run([promtool, "test", "rules", *tests], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def test_dashboards_configmap_holds_exactly_the_dashboards_for_the_sidecar() -> None:
    manifest = load_yaml(K8S / "dashboards-configmap.yaml")
    assert manifest["apiVersion"] == "v1" and manifest["kind"] == "ConfigMap"
    assert manifest["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert manifest["data"] == {p.name: p.read_text(encoding="utf-8") for p in DASHBOARDS}
    for name, text in manifest["data"].items():
        assert json.loads(text)["uid"] == Path(name).stem
