"""The msgspec fast path of the wire decoder agrees with ``decode_line`` wherever it decides."""

from __future__ import annotations

import dataclasses
import json
import random
from typing import Any

import pytest

from conftest import EVENTLOGS
from sparkprobe.events import EVENT_TYPES
from sparkprobe.sources.eventlog import LogReader, discover
from sparkprobe.sources.fastwire import FALLBACK, fast_decode_line
from sparkprobe.sources.wire import BadLine, decode_line

KINDS = {cls: kind for kind, cls in EVENT_TYPES.items()}


def _checked(line: bytes) -> Any:
    try:
        return decode_line(line)
    except BadLine as exc:
        return exc.reason


def _wire(event: Any) -> dict[str, Any]:
    return {"k": KINDS[type(event)], **dataclasses.asdict(event)}


@pytest.fixture(scope="module")
def wire_objects() -> list[dict[str, Any]]:
    out = []
    for folder in ("recorded/spark-4.0.1-plain", "recorded/spark-3.5.9-lz4", "public/eventlog-2"):
        for source in discover([EVENTLOGS / folder]):
            out += [_wire(e) for e in LogReader(source).events()]
    assert len({o["k"] for o in out}) >= 10
    return out


def _dumps(obj: dict[str, Any]) -> bytes:
    # "k" first, as the listener writes it.
    return json.dumps({"k": obj["k"], **obj}, separators=(",", ":")).encode() + b"\n"


def test_real_records_take_the_fast_path_and_decode_to_the_same(wire_objects: list[dict[str, Any]]) -> None:
    for obj in wire_objects:
        line = _dumps(obj)
        fast = fast_decode_line(line)
        assert fast is not FALLBACK
        assert fast == decode_line(line)


_HOSTILE: tuple[Any, ...] = (None, True, False, 0, -1, 1.5, 2**63, "", "x", [], [1], ["a"], {}, {"a": 1}, {"a": "b"})


def test_every_field_with_a_wrong_value_or_missing_agrees(wire_objects: list[dict[str, Any]]) -> None:
    rng = random.Random(16)
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for obj in wire_objects:
        by_kind.setdefault(obj["k"], []).append(obj)
    for objs in by_kind.values():
        for obj in rng.sample(objs, min(20, len(objs))):
            for key in obj:
                if key == "k":
                    continue
                variants = [{k: v for k, v in obj.items() if k != key}]
                variants += [{**obj, key: value} for value in _HOSTILE]
                if isinstance(obj[key], list) and obj[key] and isinstance(obj[key][0], dict):
                    inner = obj[key][0]
                    for ikey in inner:
                        variants += [{**obj, key: [{**inner, ikey: value}]} for value in _HOSTILE]
                for variant in variants:
                    line = _dumps(variant)
                    fast = fast_decode_line(line)
                    if fast is not FALLBACK:
                        assert fast == _checked(line), line


@pytest.mark.parametrize("line", [
    b"", b"\n", b"not json", b"[1]", b'{"k":"nope"}', b'{"k":', b'{"k":"task_end"', b'{"k":"task_end"}',
    b'{"k":"app_end","time":true}', b'{"k":"app_end","time":1.0}', b'{"k":"app_end","time":"1"}',
    b'{"k":"app_end","time":1,"time":2}', b'{"k":"app_end","time":1}x', b'{"k":"app_end","time":1} ',
    b'{"k":"app_end","time":-0}', b'{"k":"app_end","time":1,"x":"\\ud800"}', b'{"k":"app_end","time":1,"x":NaN}',
    b'{"k":"app_end","time":1,"x":' + b"[" * 3000 + b"]" * 3000 + b"}", b'{"k":"app_end","time":1,"x":"\xff"}',
    b'{"k":"conf","props":{"a":1}}', b'{"k":"conf","props":{"a":"b"}}', b'{"k":"app_end","time":9223372036854775808}',
    b'{"k":"app_end","time":1,"k":"job_end","job_id":2,"succeeded":true}',
    b'{"k":"app_end","time":1,"\\u006b":"job_end","job_id":2,"succeeded":true}',
])
def test_edge_lines_agree(line: bytes) -> None:
    fast = fast_decode_line(line)
    if fast is not FALLBACK:
        assert fast == _checked(line)


def test_an_integer_beyond_64_bits_is_the_one_documented_difference() -> None:
    line = b'{"k":"app_end","time":18446744073709551616}'
    assert _checked(line) == "schema"  # orjson read it as a float
    fast = fast_decode_line(line)
    assert fast is not FALLBACK and fast == EVENT_TYPES["app_end"](time=2**64)


def _one_of_each() -> list[Any]:
    from sparkprobe import events as ev

    block = ev.BlockUpdated("rdd_1_0", "1", True, False, False, True, 1, 10, 0)
    rdd = ev.RddInfo(1, "r", "c at x:1", (0,), True, False, 1, 4, 2, 10, 0, "map")
    return [
        ev.AppStart("app-1", "n", "u", 1, "4.0.1", "1"), ev.AppEnd(9), ev.Conf({"spark.master": "local"}),
        ev.ExecutorAdded("1", "h", 2, 3, 1), ev.ExecutorRemoved("1", 8, "gone"),
        ev.ExecutorMetrics("1", {"JVMHeapMemory": 5}, 1, 0, "task"), ev.ResourceProfileAdded(1, {"cores": 2}, 2),
        ev.SessionStarted("s", "u", 2), ev.SessionClosed("s", "u", 3), ev.ConnectServerStarted(1),
        ev.BlockManagerAdded("1", "h", 2, 100), ev.BlockManagerRemoved("1", 8), block, ev.UnpersistRDD(1),
        ev.JobStart(1, 2, (1, 2), "count at x:1", ("a", "b"), "g", "p", "q-1"), ev.JobEnd(1, 5, True),
        ev.StageSubmitted(1, 0, "s", 4, 2, (rdd,)), ev.StageCompleted(1, 0, "s", 4, 5, "", (rdd,)),
        ev.TaskStart(1, 1, 0, 0, 0, 0, "1", 3, True),
        ev.TaskEnd(1, 1, 0, 0, 0, 0, "1", 3, 4, "success", "Success", False, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                   (block,)),
        ev.ListenerStats(10, 1, 300, 2), ev.ReplayStart(5, True), ev.ReplayEnd(6, 1, 2, 3, 4),
    ]


def test_every_wire_kind_with_every_field_set_takes_the_fast_path_and_agrees() -> None:
    events = _one_of_each()
    assert {KINDS[type(e)] for e in events} == set(EVENT_TYPES)
    for event in events:
        line = _dumps(_wire(event))
        fast = fast_decode_line(line)
        assert fast is not FALLBACK, line
        assert fast == decode_line(line) == event
