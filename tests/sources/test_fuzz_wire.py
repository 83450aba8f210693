"""Hostile input on the wire: property-based, no crash, every rejected line counted."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sparkprobe.agent import Agent, AppRecord
from sparkprobe.analysis.report import build_report
from sparkprobe.analysis.state import AppState
from sparkprobe.events import ListenerStats
from sparkprobe.sources.wire import BadLine, decode_line

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
kinds = st.sampled_from(["task_end", "task_start", "block_updated", "stage_submitted", "executor_added",
                         "conf", "listener_stats", "app_start", "unknown", ""])


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_arbitrary_bytes_decode_or_raise_bad_line(data: bytes) -> None:
    try:
        decode_line(data)
    except BadLine as exc:
        assert exc.reason in ("json", "schema", "unknown_kind")


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(kinds, st.dictionaries(st.sampled_from(
    ["task_id", "stage_id", "stage_attempt", "index", "partition", "attempt", "exec_id", "launch", "finish",
     "status", "block_id", "mem_size", "rdds", "props", "time", "cores", "host", "offered", "dropped"]),
    json_values, max_size=12))
def test_wrong_types_never_reach_the_analyzer(kind: str, fields: dict[str, object]) -> None:
    line = json.dumps({"k": kind, **fields})
    try:
        event = decode_line(line)
    except BadLine:
        return
    state = AppState()
    state.apply(event)  # a decoded event is well-typed: the analyzer takes it without error
    build_report(state)


def test_deep_json_is_a_bad_line_not_a_crash() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    try:
        decode_line(deep)
    except BadLine as exc:
        assert exc.reason in ("json", "schema")


def test_listener_drops_mark_a_gap_in_event_time() -> None:
    agent = Agent()
    rec = AppRecord(AppState("a"))
    agent.apps["a"] = rec
    from sparkprobe.events import AppStart, ExecutorAdded

    agent.ingest(rec, [AppStart("a", "n", "u", 1_000), ListenerStats(offered=1, dropped=0)])
    agent.ingest(rec, [ExecutorAdded("1", "h", 1, 2_000), ListenerStats(offered=50, dropped=7)])
    snap = agent.snapshot("a", now_ms=3_000)
    assert snap["incomplete"] is True and snap["gaps"] == [[1_000, 2_000]]


def test_an_agent_joining_a_stream_that_reconnected_marks_the_start_missing() -> None:
    agent = Agent()
    rec = AppRecord(AppState("a"), connections_total=1)
    agent.apps["a"] = rec
    from sparkprobe.events import AppStart, ExecutorAdded

    agent.ingest(rec, [AppStart("a", "n", "u", 1_000), ListenerStats(offered=90, dropped=0, reconnects=1),
                       ExecutorAdded("3", "h", 1, 5_000)])
    snap = agent.snapshot("a", now_ms=6_000)
    assert snap["incomplete"] is True and snap["gaps"] == [[1_000, 5_000]]
