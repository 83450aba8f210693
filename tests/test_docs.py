"""The reference pages hold everything the code has: metrics, flags, Spark keys, report keys.

A metric, a command-line flag, a ``spark.sparkprobe.*`` key or a JSON report key added to the code
without its line in docs/ fails here; so does a documented one the code no longer has.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from conftest import REPO, summary
from sparkprobe.agent import AppRecord
from sparkprobe.analysis.report import build_report
from sparkprobe.analysis.state import AppState
from sparkprobe.cli import build_parser
from sparkprobe.events import (
    AppStart,
    BlockUpdated,
    Conf,
    ExecutorAdded,
    ExecutorRemoved,
    JobStart,
    StageCompleted,
    StageSubmitted,
    TaskEnd,
    TaskStart,
)

DOCS = REPO / "docs"


def backticked(text: str) -> set[str]:
    """Every `code` span of a Markdown text, and each name inside a `a, b` or `a.b` span split out."""
    spans = set(re.findall(r"`([^`\n]+)`", text))
    words = {w for span in spans for w in re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", span)}
    return spans | words


# ---------------------------------------------------------------------------- metrics


def exposed_metric_names() -> set[str]:
    """Every family in the golden expositions (agent and Pushgateway), as written on the wire."""
    names = set()
    for golden in ("metrics.prom", "pushed.prom"):
        text = (REPO / "tests" / "golden" / golden).read_text(encoding="utf-8")
        for family in text_string_to_metric_families(text):
            names.add(family.name + ("_total" if family.type == "counter" else ""))
    return names


def documented_metric_names() -> set[str]:
    text = (DOCS / "metrics.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| `(sparkprobe_[a-z0-9_]+)`", text, re.MULTILINE))


def test_every_metric_is_documented_and_every_documented_one_exists() -> None:
    exposed, documented = exposed_metric_names(), documented_metric_names()
    assert exposed, "the golden expositions are empty"
    assert sorted(exposed - documented) == [], "metrics missing from docs/metrics.md"
    assert sorted(documented - exposed) == [], "docs/metrics.md lists metrics the code does not expose"


# ---------------------------------------------------------------------------- configuration


def cli_flags() -> dict[str, set[str]]:
    """Subcommand → its long options (``--listen``...), from the real parser."""
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    out = {}
    for name, subparser in sub.choices.items():
        out[name] = {
            opt for action in subparser._actions for opt in action.option_strings
            if opt.startswith("--") and opt != "--help"
        }
    return out


def section(text: str, heading: str) -> str:
    """The Markdown section that starts at ``heading`` (up to the next ``## ``)."""
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start:] if end < 0 else text[start:end]


def test_every_cli_flag_is_documented_in_its_section() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    headings = {name: f"## `sparkprobe {name}" for name in cli_flags()}
    for name, flags in cli_flags().items():
        assert headings[name] in text, f"docs/configuration.md has no section for `sparkprobe {name}`"
        rows = [line.split("|")[1] for line in section(text, headings[name]).splitlines() if line.startswith("| `-")]
        documented = {flag for cell in rows for flag in re.findall(r"(--[a-z][a-z0-9-]*)", cell)}
        assert sorted(flags - documented) == [], f"`sparkprobe {name}` flags missing from docs/configuration.md"
        assert sorted(documented - flags) == [], f"docs/configuration.md documents `sparkprobe {name}` flags it lacks"


def spark_keys_in_code() -> set[str]:
    """Every ``spark.sparkprobe.*`` key named in the listener's sources or the Python package."""
    found = set()
    for path in [*(REPO / "jvm-listener").rglob("*.java"), *(REPO / "src").rglob("*.py")]:
        found |= set(re.findall(r'"(spark\.sparkprobe\.[A-Za-z0-9.]+)"', path.read_text(encoding="utf-8")))
    return found


def test_every_spark_key_is_documented_and_every_documented_one_is_read() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`(spark\.sparkprobe\.[A-Za-z0-9.]+)`", text))
    in_code = spark_keys_in_code()
    assert in_code, "no spark.sparkprobe key found in the sources"
    assert sorted(in_code - documented) == [], "spark.sparkprobe keys missing from docs/configuration.md"
    assert sorted(documented - in_code) == [], "docs/configuration.md lists spark.sparkprobe keys nothing reads"


# ---------------------------------------------------------------------------- report schema


def a_state() -> AppState:
    """A small app that exercises every part of the report: executors, a cached block lost, a stage."""
    state = AppState("app-1")
    state.apply(AppStart("app-1", "docs", "u", 1_000, "4.3.0"))
    state.apply(Conf({"spark.dynamicAllocation.enabled": "true"}))
    state.apply(ExecutorAdded("1", "h", 2, 1_000))
    state.apply(JobStart(0, 2_000, (0,), tags=("nightly",)))  # a tenant: the `tenants` keys
    state.apply(StageSubmitted(0, 0, "count at docs.py:1", 1, 2_000))
    state.apply(TaskStart(1, 0, 0, 0, 0, 0, "1", 2_000))
    state.apply(BlockUpdated("rdd_1_0", "1", True, False, False, True, 1, 100, 0))
    state.apply(TaskEnd(1, 0, 0, 0, 0, 0, "1", 2_000, 3_000, "success"))
    state.apply(StageCompleted(0, 0, "count at docs.py:1", 1, 3_000))
    state.apply(ExecutorRemoved("1", 9_000, "Executor killed by driver."))
    return state


#: Objects whose keys are data, not schema: advice settings, advice and policy confs (Spark keys) and
#: evidence (per advice kind, docs/advice.md).
FREE_FORM = {"settings", "evidence", "conf"}


def keys_of(value: Any, out: set[str]) -> None:
    """Every key of every object of the JSON, except the keys of id-keyed maps (executors, rdds, idle)."""
    if isinstance(value, dict):
        id_keyed = bool(value) and all(re.fullmatch(r"[0-9]+|driver", k) for k in value)
        for k, v in value.items():
            if not id_keyed:
                out.add(k)
            if k not in FREE_FORM:
                keys_of(v, out)
    elif isinstance(value, list):
        for v in value:
            keys_of(v, out)


def test_every_report_key_is_in_the_schema_doc() -> None:
    state = a_state()
    rec = AppRecord(state, events_received=9)
    live = build_report(state, 20_000, transport=rec.transport()).to_json()
    from conftest import EVENTLOGS
    from sparkprobe.offline import analyze_source
    from sparkprobe.sources.eventlog import discover

    (source,) = discover([EVENTLOGS / "recorded" / "spark-4.0.1-plain"])
    offline = analyze_source(source).to_json()
    keys: set[str] = set()
    for doc in (live, offline, summary(state)):
        keys_of(doc, keys)
    documented = backticked((DOCS / "report-schema.md").read_text(encoding="utf-8"))
    assert sorted(keys - documented) == [], "report keys missing from docs/report-schema.md"


def test_every_agent_setting_is_in_the_python_api_section() -> None:
    from sparkprobe.service import setting_names

    text = section((DOCS / "configuration.md").read_text(encoding="utf-8"), "## Python API")
    assert sorted(set(setting_names()) - backticked(text)) == []


def test_the_wire_doc_lists_every_conf_key_and_every_kind() -> None:
    from sparkprobe.events import CONF_KEYS, EVENT_TYPES

    text = (DOCS / "wire-format.md").read_text(encoding="utf-8")
    listed = section(text, "## Properties sent in `conf`")
    assert sorted(set(CONF_KEYS) - backticked(listed)) == []
    kinds = set(re.findall(r"^\| `([a-z_]+)`(?:, `([a-z_]+)`)?", text, re.MULTILINE))
    documented = {k for pair in kinds for k in pair if k}
    assert sorted(set(EVENT_TYPES) - documented) == []
