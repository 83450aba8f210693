"""The wire v1 decoder: valid lines become typed events, everything else a counted BadLine."""

from __future__ import annotations

import json

import pytest

from conftest import REPO
from sparkprobe.events import EVENT_TYPES, BlockUpdated, StageSubmitted, TaskEnd
from sparkprobe.sources.wire import WIRE_VERSION, BadLine, decode_line, parse_hello

TASK_END = {
    "k": "task_end", "task_id": 7, "stage_id": 1, "stage_attempt": 0, "index": 3, "partition": 3,
    "attempt": 0, "exec_id": "1", "launch": 1000, "finish": 3500, "status": "success",
    "reason": "Success", "run_ms": 2142, "cpu_ns": 337458524,
}


def test_task_end_decodes_with_defaults_for_missing_optional_fields() -> None:
    event = decode_line(json.dumps(TASK_END).encode())
    assert isinstance(event, TaskEnd)
    assert (event.task_id, event.exec_id, event.finish - event.launch) == (7, "1", 2500)
    assert event.run_ms == 2142 and event.shuffle_write_bytes == 0


def test_nested_rdd_infos_decode() -> None:
    line = {
        "k": "stage_submitted", "stage_id": 2, "attempt": 0, "name": "count at x.py:3", "num_tasks": 8,
        "time": 5, "rdds": [{
            "rdd_id": 4, "name": "PythonRDD", "callsite": "count at x.py:3", "parents": [3],
            "use_memory": True, "use_disk": False, "replication": 2, "partitions": 8,
        }],
    }
    event = decode_line(json.dumps(line))
    assert isinstance(event, StageSubmitted)
    assert event.rdds[0].parents == (3,) and event.rdds[0].replication == 2


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"not json", "json"),
        (b"[1,2]", "schema"),
        (b'{"k":"nope"}', "unknown_kind"),
        (b'{"task_id":1}', "unknown_kind"),
        (json.dumps({**TASK_END, "task_id": "7"}).encode(), "schema"),
        (json.dumps({**TASK_END, "speculative": 1}).encode(), "schema"),
        (json.dumps({k: v for k, v in TASK_END.items() if k != "finish"}).encode(), "schema"),
        (b'{"k":"stage_submitted","stage_id":1,"attempt":0,"name":"","num_tasks":1,"time":0,"rdds":[1]}', "schema"),
        (b'{"k":"conf","props":{"a":1}}', "schema"),
        (b"\xff\xfe", "json"),
    ],
)
def test_bad_lines_raise_with_a_bounded_reason(line: bytes, reason: str) -> None:
    with pytest.raises(BadLine) as info:
        decode_line(line)
    assert info.value.reason == reason


def test_every_kind_round_trips_from_its_own_fields() -> None:
    import dataclasses

    samples = {"int": 1, "str": "x", "bool": True, "tuple[int, ...]": [1], "tuple[str, ...]": ["t"],
               "dict[str, str]": {"a": "b"}, "dict[str, int]": {"JVMHeapMemory": 1}, "tuple[RddInfo, ...]": [],
               "tuple[BlockUpdated, ...]": []}
    for kind, cls in EVENT_TYPES.items():
        line = {"k": kind, **{f.name: samples[str(f.type)] for f in dataclasses.fields(cls)}}
        event = decode_line(json.dumps(line))
        assert type(event) is cls


def test_block_updated_keeps_sizes() -> None:
    event = decode_line(json.dumps({
        "k": "block_updated", "block_id": "rdd_3_1", "exec_id": "0", "use_memory": True,
        "use_disk": False, "off_heap": False, "deserialized": True, "replication": 1,
        "mem_size": 1234, "disk_size": 0,
    }))
    assert event == BlockUpdated("rdd_3_1", "0", True, False, False, True, 1, 1234, 0)


def test_hello_is_parsed_and_other_first_lines_are_not() -> None:
    hello = parse_hello(b'{"hello":"sparkprobe","wire":1,"app_id":"app-1","token":"t","listener":"0.1.0"}')
    assert (hello.wire, hello.app_id, hello.token) == (WIRE_VERSION, "app-1", "t")
    with pytest.raises(BadLine):
        parse_hello(b'{"k":"app_end","time":1}')
    with pytest.raises(BadLine):
        parse_hello(b'{"hello":"sparkprobe","wire":"1"}')


def test_the_listener_sends_exactly_the_conf_keys_the_python_side_lists() -> None:
    # The allow-list lives on both sides of the wire (invariant 6): they must not drift apart.
    import re

    from sparkprobe.events import CONF_KEYS

    java = (REPO / "jvm-listener" / "src" / "main" / "java" / "io" / "sparkprobe"
            / "ProbeListener.java").read_text()
    block = re.search(r"CONF_KEYS = \{(.*?)\};", java, re.S)
    assert block is not None
    assert tuple(re.findall(r'"([^"]+)"', block.group(1))) == CONF_KEYS
