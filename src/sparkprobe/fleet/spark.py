"""A fleet read on a Spark cluster: whole log files as tasks, the rows written as Parquet, then stored.

The driver plans as a local run does (:class:`~sparkprobe.fleet.run.FleetRun`: only new, grown and
failed logs), then one Spark job runs :func:`~sparkprobe.fleet.work.analyze_task` — the function a
local worker runs — on each log, one whole file per task. Spark's own DataFrame writer writes the
results as Parquet, ``<parquet>/run=<run id>/status=ok|failed/``: the per-app rows (every
:data:`~sparkprobe.fleet.row.COLUMNS` field) and the failures with their errors. The driver then
reads that run's Parquet back and records it in the SQLite store, so the state store and the
Parquet dataset hold the same rows (``spark.read.parquet(<parquet>)`` reads every run's).

The executors run the driver's own copy of the ``sparkprobe`` package (shipped with
``SparkContext.addPyFile``); its dependencies (orjson, zstandard, lz4, cramjam) must be installed
in their Python (``spark.pyspark.python``). The logs must be readable from the executors (a shared
file system, or a History Server they can reach).
"""

from __future__ import annotations

import os
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import sparkprobe
from sparkprobe.fleet.identity import LogIdentity
from sparkprobe.fleet.report import FleetReport
from sparkprobe.fleet.row import COLUMNS, AppRow
from sparkprobe.fleet.run import FleetOptions, FleetRun
from sparkprobe.fleet.store import FleetStore
from sparkprobe.fleet.work import LogResult, LogTask, analyze_task
from sparkprobe.sources.eventlog import ReadLimits

__all__ = ["RESULT_COLUMNS", "execute_on_master", "execute_on_spark", "parquet_dir", "run_on_spark"]

#: Columns of the Parquet results beyond the row's own: the log's identity and how reading went.
RESULT_COLUMNS: Final[dict[str, str]] = {
    "log_size": "int",
    "log_mtime_ns": "int",
    "log_last_part": "str",
    "error": "str",
    "seconds": "float",
    "peak_rss_bytes": "int",
    "status": "str",
}
# Files handed to one Spark task at most (one per task while there are fewer than this many tasks).
_MAX_PARTITIONS: Final = 10_000


def parquet_dir(state: str | os.PathLike[str]) -> Path:
    """The Parquet dataset beside a state file: ``fleet.sqlite`` → ``fleet.sqlite.parquet``."""
    return Path(f"{os.fspath(state)}.parquet")


def _record(result: LogResult) -> dict[str, Any]:
    """One result as a flat record of the Parquet schema."""
    out: dict[str, Any] = dict.fromkeys(COLUMNS)
    if result.row is not None:
        out.update(result.row.encoded())
    out["log"] = result.identity.log
    out.update(
        log_size=result.identity.size,
        log_mtime_ns=result.identity.mtime_ns,
        log_last_part=result.identity.last_part,
        error=result.error,
        seconds=result.seconds,
        peak_rss_bytes=result.peak_rss_bytes,
        status="ok" if result.row is not None else "failed",
    )
    return out


def _result(record: Mapping[str, Any]) -> LogResult:
    identity = LogIdentity(record["log"], record["log_size"], record["log_mtime_ns"], record["log_last_part"] or "")
    row = AppRow.decoded({c: record[c] for c in COLUMNS}) if record["status"] == "ok" else None
    return LogResult(identity, row, record["error"] or "", record["seconds"], record["peak_rss_bytes"] or 0)


def _schema() -> Any:
    from pyspark.sql.types import BooleanType, DoubleType, LongType, StringType, StructField, StructType

    types = {"str": StringType(), "int": LongType(), "float": DoubleType(), "bool": BooleanType(), "json": StringType()}
    return StructType([StructField(name, types[kind], True) for name, kind in {**COLUMNS, **RESULT_COLUMNS}.items()])


#: Applications whose executors already have the package (``addPyFile`` once per SparkContext).
_SHIPPED: set[str] = set()


def _package_zip(directory: str) -> str:
    """A zip of this ``sparkprobe`` package (its Python files), for ``addPyFile``."""
    root = Path(sparkprobe.__file__).parent
    path = os.path.join(directory, "sparkprobe.zip")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(root.rglob("*")):
            if file.suffix in (".py", ".typed") and "__pycache__" not in file.parts:
                zf.write(file, f"sparkprobe/{file.relative_to(root).as_posix()}")
    return path


def _analyze_partition(tasks: Iterable[LogTask], read_limits: ReadLimits) -> Iterator[dict[str, Any]]:
    for task in tasks:
        yield _record(analyze_task(task, read_limits))


def execute_on_spark(run: FleetRun, spark: Any, parquet: str | os.PathLike[str] | None = None) -> None:
    """Read ``run``'s planned logs as one Spark job, write them as Parquet, record them in the store."""
    tasks = run.tasks
    run.progress.start(len(tasks))
    if not tasks:
        return
    out = Path(parquet) if parquet is not None else parquet_dir(run.store.path)
    run_dir = out.absolute() / f"run={run.run_id}"
    sc = spark.sparkContext
    limits = run.options.read_limits
    # One zip per SparkContext, kept while it lives: Spark refuses a second file of the same name,
    # and executors added later fetch it from the driver.
    if sc.applicationId not in _SHIPPED:
        sc.addPyFile(_package_zip(tempfile.mkdtemp(prefix="sparkprobe-spark-")))
        _SHIPPED.add(sc.applicationId)
    sc.setJobDescription(f"sparkprobe fleet: {len(tasks):,} event logs")
    rdd = sc.parallelize(tasks, min(len(tasks), _MAX_PARTITIONS))
    records = rdd.mapPartitions(lambda part: _analyze_partition(part, limits))
    frame = spark.createDataFrame(records, schema=_schema())
    # Not Path.as_uri(): it escapes the partition's "=" ("run%3D1"), which Hadoop then writes
    # literally, and the directory is no longer a partition for a reader of the dataset.
    target = f"file://{run_dir.as_posix()}"
    frame.write.mode("overwrite").partitionBy("status").parquet(target)
    written = spark.read.parquet(target)
    run.record(_result(row.asDict()) for row in written.toLocalIterator())


def execute_on_master(run: FleetRun, master: str, conf: Mapping[str, str], parquet: str | None = None) -> None:
    """``--spark MASTER``: a session of our own on ``master`` (stopped after), then :func:`execute_on_spark`.

    On a ``local...`` master the executors run this Python (``spark.pyspark.python``) unless the
    conf or ``PYSPARK_PYTHON`` says otherwise: they share this machine and its environment.
    """
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(master).appName("sparkprobe fleet")
    settings = dict(conf)
    if master.startswith("local") and "spark.pyspark.python" not in settings and "PYSPARK_PYTHON" not in os.environ:
        settings["spark.pyspark.python"] = sys.executable
    if "spark.pyspark.python" in settings and "PYSPARK_PYTHON" not in os.environ:
        # PySpark's SparkContext picks the workers' Python from PYSPARK_PYTHON (spark-submit sets
        # it from the conf; a session built here does not), so the conf alone would be ignored.
        os.environ["PYSPARK_PYTHON"] = settings["spark.pyspark.python"]
    settings.setdefault("spark.ui.showConsoleProgress", "false")
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    try:
        execute_on_spark(run, spark, parquet)
    finally:
        spark.stop()


def run_on_spark(
    spark: Any,
    paths: Iterable[str | os.PathLike[str]] = (),
    *,
    state: str | os.PathLike[str] = "sparkprobe-fleet.sqlite",
    history_server: str | None = None,
    options: FleetOptions | None = None,
    parquet: str | os.PathLike[str] | None = None,
    top: int = 10,
) -> FleetReport:
    """``sparkprobe fleet --spark`` from Python, on the cluster of the running ``spark`` session.

    Reads the logs under ``paths`` (and those ``history_server`` lists) and returns the report.
    The state store at ``state`` is updated as by the command, and stays open in the returned
    report (``report.store``: write it with :func:`~sparkprobe.fleet.report.write_json`, then
    close it); the session is left running.
    """
    store = FleetStore(state)
    try:
        run = FleetRun(store, options)
        if history_server is not None:
            from sparkprobe.fleet.history import HistorySource

            HistorySource(history_server, run).plan()
        run.plan_paths(paths)
        try:
            execute_on_spark(run, spark, parquet)
        except BaseException:
            run.finish("interrupted")
            raise
        counts = run.finish()
        return FleetReport.build(store, counts, run.failures(), top=top)
    except BaseException:
        store.close()
        raise
