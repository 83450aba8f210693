"""Shared fixtures: real local-cluster Spark sessions, free ports, Prometheus binaries."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sparkprobe.analysis.report import build_report
from sparkprobe.analysis.state import AppState

#: The repository checkout, the test applications, and the shared real event logs beside the checkout.
REPO = Path(__file__).resolve().parent.parent
APPS = REPO / "tests" / "apps"
EVENTLOGS = Path(os.environ.get("SPARKPROBE_EVENTLOGS", REPO.parent / "shared" / "eventlogs"))

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

#: Settings every test session uses: small executors, no UI, quiet.
BASE_CONF = {
    "spark.executor.cores": "1",
    "spark.executor.memory": "512m",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",
}

#: Dynamic allocation that reclaims idle executors quickly (cached ones after 5 s).
DYNAMIC_CONF = {
    "spark.dynamicAllocation.enabled": "true",
    "spark.dynamicAllocation.shuffleTracking.enabled": "true",
    "spark.dynamicAllocation.minExecutors": "0",
    "spark.dynamicAllocation.maxExecutors": "2",
    "spark.dynamicAllocation.initialExecutors": "2",
    # Long enough that no executor is reclaimed between wait_executors() and the first job.
    "spark.dynamicAllocation.executorIdleTimeout": "5s",
    "spark.dynamicAllocation.cachedExecutorIdleTimeout": "5s",
    "spark.dynamicAllocation.shuffleTracking.timeout": "5s",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--update-golden``: rewrite the golden files under tests/golden/ instead of comparing (on purpose only)."""
    parser.addoption(
        "--update-golden", action="store_true", default=False,
        help="rewrite tests/golden/* from the current code instead of comparing; review the diff before committing",
    )


def compare_golden(name: str, text: str, *, update: bool = False) -> None:
    """Compare ``text`` byte for byte with ``tests/golden/<name>``, or rewrite that file with ``update``."""
    path = REPO / "tests" / "golden" / name
    if update:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.is_file(), f"{path} is missing: create it with `pytest --update-golden` and review it"
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        import difflib

        lines = difflib.unified_diff(expected.splitlines(True), text.splitlines(True), f"golden/{name}", "now", n=1)
        diff = "".join(lines)
        raise AssertionError(
            f"{name} differs from tests/golden/{name} (if the change is intended, rerun with "
            f"--update-golden and review the diff):\n{diff[:6000]}"
        )


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    """:func:`compare_golden`, rewriting instead when pytest runs with ``--update-golden``."""
    update = bool(request.config.getoption("--update-golden"))
    return lambda name, text: compare_golden(name, text, update=update)


def need_binary(name: str) -> str:
    """Path of a binary a test needs; skip without it, except in CI where that is a failure."""
    path = shutil.which(name)
    if path is None:
        if IN_CI:
            pytest.fail(f"{name} is not installed: CI runs every test that needs it (scripts/test.sh installs it)")
        pytest.skip(f"{name} not installed (scripts/test.sh installs it with apt-get)")
    return path


def capped_busy_ms(intervals: list[tuple[int, int]], cores: int, task_cpus: int) -> int:
    """Core-ms busy: at each instant min(task_cpus x spans running, cores) (a sweep over all spans).

    The independent twin of the analyzer's busy core-seconds (docs/figures.md): Spark stamps a
    task's finish on the driver after the next task on that core may have launched, so plain span
    sums can exceed the cores; this cannot.
    """
    edges = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    total, running, last = 0, 0, None
    for t, step in edges:
        if last is not None:
            total += min(running * task_cpus, cores) * (t - last)
        running += step
        last = t
    return total


def summary(state: AppState, now_ms: int | None = None, *, detail: bool = True) -> dict[str, Any]:
    """The app's report as its JSON object (docs/report-schema.md): what the tests assert on."""
    return build_report(state, now_ms, detail=detail).to_json()


def pyspark_home() -> Path:
    """The pip pyspark package directory: a Spark home (bin/, jars/); skip without pyspark."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None or spec.origin is None:
        pytest.skip("pyspark is not installed")
    return Path(spec.origin).parent


def find_javac() -> str | None:
    """javac on PATH, else under JAVA_HOME; None when neither has it."""
    javac = shutil.which("javac") or (
        str(Path(os.environ["JAVA_HOME"]) / "bin" / "javac") if os.environ.get("JAVA_HOME") else None
    )
    return javac if javac is not None and Path(javac).is_file() else None


def compile_jvm_app(javac: str, source: Path, build_dir: Path, jar_name: str) -> Path:
    """Compile one Java test application against this pyspark's jars into ``build_dir/jar_name``."""
    classes = build_dir / "classes"
    proc = subprocess.run(
        [javac, "-nowarn", "-cp", str(pyspark_home() / "jars" / "*"), "-d", str(classes), str(source)],
        capture_output=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    jar = build_dir / jar_name
    with zipfile.ZipFile(jar, "w") as zf:
        for path in sorted(classes.rglob("*.class")):
            zf.write(path, path.relative_to(classes).as_posix())
    return jar


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def new_driver_jvm() -> None:
    """Stop the driver JVM this process runs (if any), so the next session launches its own.

    pyspark keeps one driver JVM per Python process across sessions; a session whose conf sets
    JVM options (``spark.driver.extraJavaOptions``) needs a JVM started with them.
    """
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    if gateway is None:
        return
    if SparkContext._active_spark_context is not None:
        raise AssertionError("a SparkContext is still running: stop it before asking for a new driver JVM")
    proc = getattr(gateway, "proc", None)
    gateway.shutdown()
    if proc is not None:
        # pyspark's gateway server exits when its stdin closes.
        proc.stdin.close()
        proc.wait(timeout=60)
    SparkContext._gateway = None
    SparkContext._jvm = None


@pytest.fixture
def spark_factory() -> Iterator[Callable[..., Any]]:
    """Build a real ``local-cluster[2,1,1024]`` session with extra conf; stopped after the test."""
    pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    sessions: list[Any] = []

    def build(app_name: str, conf: dict[str, str] | None = None, builder_hook: Any = None) -> Any:
        if "spark.driver.extraJavaOptions" in (conf or {}):
            new_driver_jvm()  # JVM options apply only to a JVM launched with them
        builder = SparkSession.builder.master("local-cluster[2,1,1024]").appName(app_name)
        # The driver JVM outlives a session: the test whose session starts it decides its class
        # path, so every session puts the listener there (a later configure() needs it loaded).
        from sparkprobe import jar_path

        for key, value in {**BASE_CONF, "spark.driver.extraClassPath": jar_path(), **(conf or {})}.items():
            builder = builder.config(key, value)
        if builder_hook is not None:
            builder_hook(builder)
        spark = builder.getOrCreate()
        spark.sparkContext.setLogLevel("ERROR")
        sessions.append(spark)
        return spark

    yield build
    for spark in sessions:
        spark.stop()
    # A stopped session must not be reused by the next test's getOrCreate.
    from pyspark import SparkContext

    SparkContext._active_spark_context = None
    SparkSession._instantiatedSession = None
    SparkSession._activeSession = None


def wait_executors(sc: Any, n: int, timeout_s: float = 60.0) -> None:
    """Wait until ``n`` executors are registered (local-cluster starts them asynchronously)."""
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        # getExecutorMemoryStatus counts the driver's block manager too.
        if sc._jsc.sc().getExecutorMemoryStatus().size() - 1 >= n:
            return
        time.sleep(0.1)
    raise AssertionError(f"{n} executors did not register within {timeout_s}s")


def spark_cached(sc: Any) -> tuple[int, int, int]:
    """What Spark reports cached right now: (memory bytes, disk bytes, cached partitions)."""
    infos = list(sc._jsc.sc().getRDDStorageInfo())
    return (
        sum(int(i.memSize()) for i in infos),
        sum(int(i.diskSize()) for i in infos),
        sum(int(i.numCachedPartitions()) for i in infos),
    )


def spark_rdd_storage(sc: Any) -> dict[int, tuple[int, int, int]]:
    """Per cached RDD, what Spark reports: (memory bytes, disk bytes, cached partitions); replicas included."""
    return {
        int(i.id()): (int(i.memSize()), int(i.diskSize()), int(i.numCachedPartitions()))
        for i in sc._jsc.sc().getRDDStorageInfo()
    }


def executor_pids(app_id: str) -> dict[str, int]:
    """Executor id → pid of this app's executor JVMs (local-cluster runs them as processes)."""
    from pathlib import Path

    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"org.apache.spark.executor.CoarseGrainedExecutorBackend" in args and app_id.encode() in args:
            found[args[args.index(b"--executor-id") + 1].decode()] = int(entry.name)
    return found
