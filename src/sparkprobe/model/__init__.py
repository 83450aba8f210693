"""The typed report model: immutable records out of the analyzer, like Spark's ``api.v1``.

:func:`sparkprobe.analysis.report.build_report` is the one function that makes an
:class:`AppReport`; every output (Prometheus, Pushgateway, text, JSON, HTML, ``Probe.snapshot()``)
reads these records. :meth:`AppReport.to_json` is the only place the report's plain dicts are made;
their shape is docs/report-schema.md (version :data:`REPORT_SCHEMA`, held to this module by a test).

Bounded label sets (idle causes, removal causes, task statuses, finding and advice kinds) are enums,
so a Prometheus label can only take the values declared here.

The records live in private modules by concern (``_enums``, ``_figures``, ``_advice``,
``_ledgers``, ``_report``); this module is their one public face.
"""

from __future__ import annotations

from sparkprobe.model._advice import (
    Advice,
    PolicyFigures,
    PolicyRow,
    WhatIf,
    WhatIfRow,
)
from sparkprobe.model._enums import (
    AdviceKind,
    FindingKind,
    IdleCause,
    IncompleteReason,
    PeakArea,
    RemovalCause,
    RequestArea,
    TaskStatus,
    TenantKind,
    WasteCause,
)
from sparkprobe.model._figures import (
    BadLineSample,
    CacheFigures,
    CoreFigures,
    DetailValue,
    ExecutorReport,
    Finding,
    IdleSegment,
    ListenerFigures,
    Loss,
    LostRdd,
    RddReport,
    SourceInfo,
    StageSpan,
    TaskFigures,
    TimelineReport,
    Transport,
    UncachedReuse,
)
from sparkprobe.model._ledgers import (
    CostFigures,
    DriverMemory,
    MemoryFigures,
    MemoryRemoval,
    TenantReport,
)
from sparkprobe.model._report import (
    AgentHealth,
    AppReport,
)

__all__ = [
    "REPORT_SCHEMA",
    "Advice",
    "AdviceKind",
    "AgentHealth",
    "AppReport",
    "BadLineSample",
    "CacheFigures",
    "CoreFigures",
    "CostFigures",
    "DetailValue",
    "DriverMemory",
    "ExecutorReport",
    "Finding",
    "FindingKind",
    "IdleCause",
    "IdleSegment",
    "IncompleteReason",
    "ListenerFigures",
    "Loss",
    "LostRdd",
    "MemoryFigures",
    "MemoryRemoval",
    "PeakArea",
    "PolicyFigures",
    "PolicyRow",
    "RddReport",
    "RemovalCause",
    "RequestArea",
    "SourceInfo",
    "StageSpan",
    "TaskFigures",
    "TaskStatus",
    "TenantKind",
    "TenantReport",
    "TimelineReport",
    "Transport",
    "UncachedReuse",
    "WasteCause",
    "WhatIf",
    "WhatIfRow",
]

#: Version of the JSON report document (docs/report-schema.md): it only grows within a version.
REPORT_SCHEMA = 1
