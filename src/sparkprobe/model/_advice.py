"""Advice and the what-ifs: the policy simulator's figures and the static replay."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sparkprobe.model._enums import AdviceKind


@dataclass(frozen=True, slots=True)
class PolicyFigures:
    """What a run costs under one allocation policy: measured, or predicted by the policy simulator."""

    wall_seconds: float
    allocated_core_seconds: float
    busy_core_seconds: float
    idle_core_seconds: float
    cache_lost_blocks: int
    recompute_seconds: float
    executors_added: int = 0
    peak_executors: int = 0
    #: Allocated core-hours times ``spark.sparkprobe.price.coreHour``; None without a price.
    cost: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The figures as in ``policy_whatif[].predicted`` / ``measured`` and ``advice[].predicted``."""
        out: dict[str, Any] = {
            "wall_seconds": self.wall_seconds,
            "allocated_core_seconds": self.allocated_core_seconds,
            "busy_core_seconds": self.busy_core_seconds,
            "idle_core_seconds": self.idle_core_seconds,
            "cache_lost_blocks": self.cache_lost_blocks,
            "recompute_seconds": self.recompute_seconds,
            "executors_added": self.executors_added,
            "peak_executors": self.peak_executors,
        }
        if self.cost is not None:
            out["cost"] = self.cost
        return out


@dataclass(frozen=True, slots=True)
class PolicyRow:
    """One policy of the what-if (docs/advice.md): its Spark keys and what the simulator predicts.

    The first row of a report's ``policy_whatif`` is the recorded run (``baseline``): its
    ``measured`` figures, and the simulator's replay of its own policy (the model's check).
    """

    conf: Mapping[str, str]
    predicted: PolicyFigures | None
    baseline: bool = False
    measured: PolicyFigures | None = None
    #: The advisor's choice among its grid (on the baseline row when no candidate beats it).
    recommended: bool = False
    #: Why this policy could not be predicted (Spark would refuse it, or the run cannot be replayed).
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        """The row as in the report's ``policy_whatif``."""
        out: dict[str, Any] = {
            "conf": dict(self.conf),
            "predicted": self.predicted.to_json() if self.predicted is not None else None,
            "baseline": self.baseline,
            "recommended": self.recommended,
        }
        if self.measured is not None:
            out["measured"] = self.measured.to_json()
        if self.error:
            out["error"] = self.error
        return out


@dataclass(frozen=True, slots=True)
class Advice:
    """A recommendation in Spark's own configuration keys, with its evidence and estimated saving.

    ``conf`` is the complete policy to run with (its prerequisites included) and ``predicted`` what
    the policy simulator predicts under it, when the advice is an allocation policy it could replay.
    """

    kind: AdviceKind
    settings: Mapping[str, str]
    message: str
    evidence: Mapping[str, float]
    saving_core_hours: float
    #: Spark key → suggested value (the keys of ``settings`` when empty: the core advice's).
    conf: Mapping[str, str] = field(default_factory=dict)
    #: What the policy simulator predicts under ``conf`` (allocation advice it could replay).
    predicted: PolicyFigures | None = None
    #: The estimated saving: ``core_hours``, ``gib_hours`` (negative: the advice costs more, as
    #: raising memory after an out-of-memory loss does) and, with prices, ``cost``.
    saving: Mapping[str, float] = field(default_factory=dict)
    #: How likely the change is to hurt the job: ``low``, ``medium``, ``high`` (memory advice).
    risk: str = ""

    def to_json(self) -> dict[str, Any]:
        """The advice as in the report's ``advice``."""
        return {
            "kind": self.kind.value,
            "settings": dict(self.settings),
            "message": self.message,
            "evidence": dict(self.evidence),
            "saving_core_hours": self.saving_core_hours,
            "conf": dict(self.conf or self.settings),
            "predicted": self.predicted.to_json() if self.predicted is not None else None,
            "saving": dict(self.saving) if self.saving else {"core_hours": self.saving_core_hours},
            "risk": self.risk,
        }


@dataclass(frozen=True, slots=True)
class WhatIfRow:
    """The replay's estimate at one static executor count."""

    executors: int
    est_wall_seconds: float
    est_allocated_core_seconds: float


@dataclass(frozen=True, slots=True)
class WhatIf:
    """The measured stages replayed with other static executor counts (docs/advice.md)."""

    measured_wall_seconds: float
    measured_avg_executors: float
    driver_seconds: float
    #: None when no executor core was alive during the busy periods (nothing to check the model at).
    model_wall_seconds_at_measured: float | None
    model_error: float | None
    executor_cores: int
    rows: tuple[WhatIfRow, ...]

    def to_json(self) -> dict[str, Any]:
        """The report's ``what_if`` object."""
        return {
            "measured_wall_seconds": self.measured_wall_seconds,
            "measured_avg_executors": self.measured_avg_executors,
            "driver_seconds": self.driver_seconds,
            "model_wall_seconds_at_measured": self.model_wall_seconds_at_measured,
            "model_error": self.model_error,
            "executor_cores": self.executor_cores,
            "rows": [
                {
                    "executors": r.executors,
                    "est_wall_seconds": r.est_wall_seconds,
                    "est_allocated_core_seconds": r.est_allocated_core_seconds,
                }
                for r in self.rows
            ],
        }
