"""sparkprobe: live and offline profiling of Apache Spark cache loss and idle executors.

Public API:

- :func:`attach` profiles a running PySpark session; :func:`configure` sets a session builder up.
- :class:`Probe` is what they return: ``snapshot()``, ``metrics_url``, ``close()``.
- :func:`jar_path` is the listener jar for ``spark.jars`` / ``--jars``.
- :class:`Agent` receives listener streams; :class:`AppState` is the pure analyzer.
"""

from sparkprobe._jar import LISTENER_CLASS, jar_path
from sparkprobe._version import __version__
from sparkprobe.agent import Agent
from sparkprobe.analysis.state import AppState, Limits
from sparkprobe.bridge import Probe, attach, configure

__all__ = [
    "LISTENER_CLASS",
    "Agent",
    "AppState",
    "Limits",
    "Probe",
    "__version__",
    "attach",
    "configure",
    "jar_path",
]
