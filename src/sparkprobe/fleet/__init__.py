"""``sparkprobe fleet``: thousands of applications, read in parallel, kept in a state store, ranked.

- :class:`FleetStore` (:mod:`~sparkprobe.fleet.store`): the SQLite state store, keyed by log
  identity (:mod:`~sparkprobe.fleet.identity`) and by (app id, attempt id).
- :class:`AppRow` (:mod:`~sparkprobe.fleet.row`): one app's headline, copied from the report
  ``sparkprobe analyze`` makes of the same log.
- :class:`FleetRun` (:mod:`~sparkprobe.fleet.run`) plans and records a run;
  :class:`~sparkprobe.fleet.pool.WorkerPool` reads logs in local processes,
  :func:`~sparkprobe.fleet.spark.run_on_spark` on a Spark cluster,
  :mod:`~sparkprobe.fleet.history` from a History Server's REST API.
- :mod:`~sparkprobe.fleet.rank` ranks, groups and flags regressions; :mod:`~sparkprobe.fleet.report`
  writes the JSON document and the text summary, :mod:`~sparkprobe.fleet.html` the HTML report.

docs/fleet.md describes all of it.
"""

from sparkprobe.fleet.row import AppRow
from sparkprobe.fleet.run import FleetOptions, FleetRun
from sparkprobe.fleet.store import FleetStore, StoreError

__all__ = ["AppRow", "FleetOptions", "FleetRun", "FleetStore", "StoreError"]
