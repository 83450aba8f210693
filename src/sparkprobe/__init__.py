"""sparkprobe: live and offline profiling of Apache Spark cache loss and idle executors.

Public API:

- :func:`attach` profiles a running PySpark session; :func:`configure` sets a session builder up.
  :class:`Probe` is what they return: ``report()``, ``snapshot()``, ``metrics_url``, ``close()``.
- :func:`jar_path` is the listener jar for ``spark.jars`` / ``--jars`` (class :data:`LISTENER_CLASS`).
- :class:`AgentService` runs an agent with ``/metrics`` and an optional Pushgateway exporter, as
  ``sparkprobe agent`` does (:class:`AgentSettings`); :class:`Agent` is the bare receiver.
- :class:`AppState` is the pure analyzer; :func:`build_report` turns it into an :class:`AppReport`;
  :func:`analyze_source` does both for one event log found by :func:`discover`.
- :func:`configure_logging` sets structlog up the way the command line does.
"""

from sparkprobe._jar import LISTENER_CLASS, jar_path
from sparkprobe._logging import configure_logging
from sparkprobe._version import __version__
from sparkprobe.agent import Agent
from sparkprobe.analysis.report import build_report
from sparkprobe.analysis.state import AppState, Limits
from sparkprobe.bridge import ConnectClientError, Probe, attach, configure
from sparkprobe.model import AppReport
from sparkprobe.offline import analyze_source
from sparkprobe.service import AgentService, AgentSettings
from sparkprobe.sources.eventlog import discover

__all__ = [
    "LISTENER_CLASS",
    "Agent",
    "AgentService",
    "AgentSettings",
    "AppReport",
    "AppState",
    "ConnectClientError",
    "Limits",
    "Probe",
    "__version__",
    "analyze_source",
    "attach",
    "build_report",
    "configure",
    "configure_logging",
    "discover",
    "jar_path",
]
