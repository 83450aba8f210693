"""The Prometheus text formats, written fast for the families sparkprobe makes.

prometheus_client's ``generate_latest`` (both the 0.0.4 text format and OpenMetrics 1.0) spends
15-30 µs per sample on a 2-core VM — escaping every metric name character by character, sorting
and escaping every label of every sample — which makes it most of a scrape of a hundred apps. This
module writes the *same bytes* for the families it knows (gauges, counters, summaries, info, with
legacy-valid metric and label names, no exemplars, timestamps or native histograms): label values
are escaped once per scrape, not once per sample. :func:`render` returns None for anything else,
and the caller then uses prometheus_client. tests/outputs/test_textformat.py holds the output equal
to prometheus_client's on the golden app, on hostile label values and on edge-case values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Final

from prometheus_client.metrics_core import Metric

__all__ = ["render"]

_NAME: Final = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")  # a legacy metric name without colons
_LABEL: Final = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_TYPES: Final = frozenset({"gauge", "counter", "summary", "info", "unknown"})
_PLAIN_TYPE: Final = {"info": "gauge", "unknown": "untyped"}
_INF: Final = float("inf")


def _go_float(value: float) -> str:
    """``floatToGoString`` of prometheus_client: how it writes a sample value."""
    d = float(value)
    if d == _INF:
        return "+Inf"
    if d == -_INF:
        return "-Inf"
    if math.isnan(d):
        return "NaN"
    s = repr(d)
    dot = s.find(".")
    if d > 0 and dot > 6:  # Go switches to exponents sooner than Python
        mantissa = f"{s[0]}.{s[1:dot]}{s[dot + 1:]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return s


def _escape_value(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _escape_help(doc: str) -> str:
    return doc.replace("\\", r"\\").replace("\n", r"\n")


def render(families: Iterable[Metric], *, openmetrics: bool) -> bytes | None:
    """The families in the 0.0.4 text format, or OpenMetrics 1.0 (``openmetrics=True``).

    Byte for byte what prometheus_client's ``generate_latest`` of that format writes (underscore
    escaping, the default); None when a family is of a kind this writer does not cover.
    """
    out: list[str] = []
    append = out.append
    escaped: dict[str, str] = {}  # label value -> its escaped text, shared by every sample
    label_text: dict[tuple[tuple[str, str], ...], str] = {}
    names_ok: set[str] = set()
    for metric in families:
        name = metric.name
        if metric.type not in _TYPES or not _NAME.match(name):
            return None
        doc = metric.documentation
        if openmetrics:
            append(f"# HELP {name} {_escape_value(doc)}\n# TYPE {name} {metric.type}\n")
            if metric.unit:
                append(f"# UNIT {name} {metric.unit}\n")
        else:
            shown = name + "_total" if metric.type == "counter" else name + "_info" if metric.type == "info" else name
            kind = _PLAIN_TYPE.get(metric.type, metric.type)
            append(f"# HELP {shown} {_escape_help(doc)}\n# TYPE {shown} {kind}\n")
        created: list[str] = []
        for s in metric.samples:
            if s.exemplar is not None or s.timestamp is not None or s.native_histogram is not None:
                return None
            sample_name = s.name
            if sample_name not in names_ok:
                if not _NAME.match(sample_name):
                    return None
                names_ok.add(sample_name)
            labels = s.labels
            if labels:
                key = tuple(labels.items())
                text = label_text.get(key)
                if text is None:
                    parts = []
                    for k, v in sorted(key):
                        if not _LABEL.match(k) or k.startswith("__"):
                            return None
                        e = escaped.get(v)
                        if e is None:
                            e = escaped[v] = _escape_value(v)
                        parts.append(f'{k}="{e}"')
                    text = label_text[key] = "{" + ",".join(parts) + "}"
            else:
                text = ""
            line = f"{sample_name}{text} {_go_float(s.value)}\n"
            if not openmetrics and sample_name == name + "_created":
                created.append(line)  # the 0.0.4 format moves these into a gauge of their own
            else:
                append(line)
        if created:
            append(f"# HELP {name}_created {_escape_help(doc)}\n# TYPE {name}_created gauge\n")
            out.extend(created)
    if openmetrics:
        append("# EOF\n")
    return "".join(out).encode("utf-8")
