"""The msgspec fast path of the event-log decoder gives what the checked decoder gives, or steps aside.

``logshapes.fast_decode`` may refuse any line (FALLBACK: the reader then takes the checked path);
whatever it accepts must be exactly the checked decoder's records (``decode_records``: none where
that ignores the line, a TaskEnd's executor-metric peaks after it), on every line of the shared
real logs and on hostile variants of them.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from conftest import EVENTLOGS
from sparkprobe.sources.eventlog import _loads, discover
from sparkprobe.sources.logshapes import FALLBACK, FAST_KINDS, fast_decode
from sparkprobe.sources.sparkjson import BadEvent, decode_records

_PREFIX = b'{"Event":"'


def _kind(line: bytes) -> bytes | None:
    if not line.startswith(_PREFIX):
        return None
    end = line.find(b'"', 10)
    return line[10:end] if end > 0 else None


def _checked(line: bytes) -> Any:
    """The checked path's verdict: the records (none if ignored), or the BadEvent / parse error type."""
    try:
        obj = _loads(line)
    except (ValueError, RecursionError):
        return "not json"
    if not isinstance(obj, dict):
        return "not an object"
    try:
        return decode_records(obj)
    except BadEvent:
        return "bad"


def _fast_lines(limit_per_log: int = 400) -> list[bytes]:
    out: list[bytes] = []
    for folder in ("public", "recorded"):
        for entry in sorted((EVENTLOGS / folder).iterdir()):
            if entry.suffix in (".md", ".py"):
                continue
            try:
                sources = discover([entry])
            except (OSError, ValueError):
                continue
            for source in sources:
                taken = 0
                for part in source.parts:
                    try:
                        stream = part.open()
                    except Exception:  # noqa: BLE001 - unreadable test logs are other tests' business
                        continue
                    try:
                        for line in stream:
                            if _kind(line) in FAST_KINDS:
                                out.append(line)
                                taken += 1
                                if taken >= limit_per_log:
                                    break
                    except Exception:  # noqa: BLE001 - a corrupt stream: keep what was read
                        pass
                    finally:
                        stream.close()
    return out


@pytest.fixture(scope="module")
def real_lines() -> list[bytes]:
    lines = _fast_lines()
    assert len(lines) > 5000
    return lines


def _agree(line: bytes) -> None:
    kind = _kind(line)
    if kind not in FAST_KINDS:
        return
    fast = fast_decode(kind, line)
    if fast is FALLBACK:
        return
    assert fast == _checked(line), line[:300]


def test_every_real_line_agrees_and_most_take_the_fast_path(real_lines: list[bytes]) -> None:
    fallbacks = 0
    for line in real_lines:
        kind = _kind(line)
        assert kind is not None
        fast = fast_decode(kind, line)
        if fast is FALLBACK:
            fallbacks += 1
            continue
        assert fast == _checked(line), line[:300]
    assert fallbacks < len(real_lines) // 20  # the fast path is the common path


_HOSTILE_VALUES: tuple[Any, ...] = (
    None, True, False, 0, -1, 1.5, 2**63, 2**64, -(2**63) - 1, 10**30, "", "x", "7", [], [1], {}, {"a": 1},
)


def _read_keys() -> list[str]:
    """Every JSON key a shape reads (so a mutation can add one where Spark left it out)."""
    import msgspec

    from sparkprobe.sources import logshapes

    keys = set()
    for value in vars(logshapes).values():
        if isinstance(value, type) and issubclass(value, msgspec.Struct):
            keys.update(f.encode_name for f in msgspec.structs.fields(value))
    return sorted(keys)


_KEYS = _read_keys()


def _mutations(obj: Any, rng: random.Random, depth: int = 0) -> Any:
    """A copy of ``obj`` with one value somewhere replaced or added, one key dropped, or nothing changed."""
    if isinstance(obj, dict) and obj:
        key = rng.choice(list(obj))
        copy = dict(obj)
        roll = rng.random()
        if roll < 0.15:
            copy[rng.choice(_KEYS)] = rng.choice(_HOSTILE_VALUES)
        elif roll < 0.3:
            del copy[key]
        elif roll < 0.6 or depth > 4:
            copy[key] = rng.choice(_HOSTILE_VALUES)
        else:
            copy[key] = _mutations(obj[key], rng, depth + 1)
        return copy
    if isinstance(obj, list) and obj:
        i = rng.randrange(len(obj))
        copy_l = list(obj)
        copy_l[i] = _mutations(obj[i], rng, depth + 1) if rng.random() < 0.5 else rng.choice(_HOSTILE_VALUES)
        return copy_l
    return rng.choice(_HOSTILE_VALUES)


def test_hostile_variants_of_real_lines_agree(real_lines: list[bytes]) -> None:
    rng = random.Random(16)
    sample = rng.sample(real_lines, min(1500, len(real_lines)))
    for line in sample:
        obj = json.loads(line)
        for _ in range(12):
            mutated = _mutations(obj, rng)
            if not isinstance(mutated, dict) or mutated.get("Event") != obj["Event"]:
                continue
            # The "Event" key first, as Spark writes it (the reader dispatches on that prefix).
            text = json.dumps({"Event": mutated.pop("Event"), **mutated}, separators=(",", ":")).encode() + b"\n"
            _agree(text)


def test_duplicate_keys_and_json_edge_cases_agree(real_lines: list[bytes]) -> None:
    task_end = next(line for line in real_lines if line.startswith(b'{"Event":"SparkListenerTaskEnd"'))
    body = task_end.rstrip(b"\n")[:-1]
    for extra in (b',"Stage ID":true', b',"Stage ID":7', b',"Task Info":null', b',"Stage ID":1e3',
                  b',"Stage ID":18446744073709551616', b',"Stage ID":-0', b',"x":NaN', b',"x":"\\ud800"',
                  b',"x":"\xff"'):
        _agree(body + extra + b"}\n")
    _agree(task_end.replace(b'"Stage ID":', b'"Stage ID": ', 1))
    _agree(b'{"Event":"SparkListenerTaskEnd"}\n')
    _agree(body + b',"Event":"SparkListenerJobEnd","Job ID":1,"Job Result":{"Result":"JobSucceeded"}}\n')
    _agree(body + b',"\\u0045vent":"SparkListenerJobEnd","Job ID":1,"Job Result":{"Result":"JobSucceeded"}}\n')
    _agree(b'{"Event":"SparkListenerTaskEnd",' + b'[' * 3000 + b']' * 3000 + b'}\n')


def _dict_paths(obj: Any, path: tuple[Any, ...] = (), depth: int = 0) -> list[tuple[Any, ...]]:
    """Paths to the objects inside ``obj`` (the first element of each list), up to depth 3."""
    out = [path] if isinstance(obj, dict) else []
    if depth >= 3:
        return out
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _dict_paths(v, (*path, k), depth + 1)
    elif isinstance(obj, list) and obj:
        out += _dict_paths(obj[0], (*path, 0), depth + 1)
    return out


def _set(obj: Any, path: tuple[Any, ...], key: str, value: Any) -> Any:
    if not path:
        return {**obj, key: value}
    copy = dict(obj) if isinstance(obj, dict) else list(obj)
    copy[path[0]] = _set(obj[path[0]], path[1:], key, value)
    return copy


def test_every_read_key_at_every_level_with_a_wrong_value_agrees(real_lines: list[bytes]) -> None:
    rng = random.Random(1616)
    by_kind: dict[bytes, list[bytes]] = {}
    for line in real_lines:
        by_kind.setdefault(_kind(line) or b"", []).append(line)
    for lines in by_kind.values():
        for line in rng.sample(lines, min(12, len(lines))):
            obj = json.loads(line)
            for path in _dict_paths(obj):
                for key in _KEYS:
                    mutated = _set(obj, path, key, rng.choice(_HOSTILE_VALUES))
                    text = json.dumps({"Event": mutated.pop("Event"), **mutated}, separators=(",", ":")).encode()
                    _agree(text + b"\n")


def test_job_properties_of_streaming_and_connect_jobs_agree_on_the_fast_path() -> None:
    tag = "SparkConnect_OperationTag_User_u_Session_s_Operation_o"
    for props in (
        {"sql.streaming.queryId": "q-1", "callSite.short": "start at q.py:3"},
        {"spark.streaming.internal.batchTime": "1700000000000"},
        {"spark.job.tags": f"mine,{tag}", "callSite.short": "Spark Connect - SELECT 1", "spark.scheduler.pool": "p"},
        {"spark.job.tags": " a , b ,", "spark.jobGroup.id": "g", "callSite.short": "count at x.py:1"},
    ):
        line = json.dumps({"Event": "SparkListenerJobStart", "Job ID": 3, "Submission Time": 5,
                           "Stage IDs": [1, 2], "Properties": props}).encode() + b"\n"
        fast = fast_decode(b"SparkListenerJobStart", line)
        assert fast is not FALLBACK
        assert fast == _checked(line)


def test_task_peaks_and_updated_blocks_agree_on_the_fast_path() -> None:
    level = {"Use Disk": False, "Use Memory": True, "Deserialized": True, "Replication": 1}
    blocks = [{"Block ID": "rdd_1_2", "Status": {"Storage Level": level, "Memory Size": 10, "Disk Size": 0}},
              {"Block ID": "broadcast_0", "Status": {"Storage Level": level, "Memory Size": 1, "Disk Size": 0}}]
    for peaks in (None, {}, {"JVMHeapMemory": 0}, {"JVMHeapMemory": 7, "Unknown": 3, "MinorGCCount": 0}):
        task: dict[str, Any] = {
            "Event": "SparkListenerTaskEnd", "Stage ID": 1, "Stage Attempt ID": 0,
            "Task End Reason": {"Reason": "Success"},
            "Task Info": {"Task ID": 4, "Index": 0, "Attempt": 0, "Executor ID": "2", "Launch Time": 10,
                          "Finish Time": 20},
            "Task Metrics": {"Executor Run Time": 9, "Updated Blocks": blocks},
        }
        if peaks is not None:
            task["Task Executor Metrics"] = peaks
        line = json.dumps(task).encode() + b"\n"
        fast = fast_decode(b"SparkListenerTaskEnd", line)
        assert fast is not FALLBACK
        assert fast == _checked(line)
        assert len(fast[0].updated_blocks) == 1  # type: ignore[index]  # a tuple of records here
