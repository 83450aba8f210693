"""The dynamic-allocation policy simulator: a recorded run replayed under other allocation settings.

- :mod:`~sparkprobe.analysis.policy.recorder`: what a run leaves for the replay, bounded per app;
- :mod:`~sparkprobe.analysis.policy.policy`: a policy from Spark keys, with Spark's defaults and checks;
- :mod:`~sparkprobe.analysis.policy.allocation`: ``ExecutorAllocationManager``'s and
  ``ExecutorMonitor``'s rules;
- :mod:`~sparkprobe.analysis.policy.simulator`: the discrete-event replay;
- :mod:`~sparkprobe.analysis.policy.advisor`: the advisor's grid and its choice.

docs/advice.md describes the model, its sources in Spark and its measured error.
"""

from sparkprobe.analysis.policy.advisor import DEFAULT_WALL_BOUND, choose, grid, with_prerequisites
from sparkprobe.analysis.policy.policy import POLICY_KEYS, Policy, PolicyError, policy_from_conf
from sparkprobe.analysis.policy.recorder import PolicyRecorder, Recording
from sparkprobe.analysis.policy.simulator import simulate

__all__ = [
    "DEFAULT_WALL_BOUND",
    "POLICY_KEYS",
    "Policy",
    "PolicyError",
    "PolicyRecorder",
    "Recording",
    "choose",
    "grid",
    "policy_from_conf",
    "simulate",
    "with_prerequisites",
]
