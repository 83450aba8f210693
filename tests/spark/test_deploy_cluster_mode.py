"""Cluster deploy mode on a real standalone cluster from the pip pyspark: a JVM app submitted with
``--deploy-mode cluster`` runs its driver on the worker (Spark's ``DriverWrapper``), and that
driver's listener reaches a ``sparkprobe agent`` process, as it would reach the agents'
Service from a driver pod (docs/deploy.md).

The pip pyspark wheel ships ``sbin/spark-daemon.sh`` but not ``start-master.sh`` or
``start-worker.sh``, so the Master and the Worker are started through ``bin/spark-class``, each in
its own process group (the worker's drivers and executors are its children), and stopped at the
end. Every wait is bounded; nothing here asserts how long anything took.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_executor_faults_spark import stop_agent, stop_process_group, wait_app_ended
from test_faults_spark import listener_conf, scrape_app, start_agent_process, until

from conftest import APPS, compile_jvm_app, find_javac, free_port, need_binary, pyspark_home

pytestmark = pytest.mark.spark

PARTITIONS = 4
N = 40_000


@pytest.fixture(scope="module")
def cached_sum_jar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/apps/jvm/CachedSum.java compiled against this pyspark's jars."""
    javac = find_javac() or need_binary("javac")
    return compile_jvm_app(javac, APPS / "jvm" / "CachedSum.java", tmp_path_factory.mktemp("cached-sum"),
                           "cached-sum.jar")


class Standalone:
    """A standalone Master on 127.0.0.1 and one Worker (2 cores, 2 GB) from the pip pyspark."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = pyspark_home()
        self.procs: list[subprocess.Popen[bytes]] = []
        self.port = free_port()
        self.url = f"spark://127.0.0.1:{self.port}"
        self.work_dir = root / "work"
        self.work_dir.mkdir()
        self.master_log = self._start("master", [
            "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(self.port),
            "--webui-port", "0",
        ])
        until(lambda: self._log_has(self.master_log, r"I have been elected leader"), 120, "the standalone master")
        self.worker_log = self._start("worker", [
            "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--webui-port", "0", "--cores", "2",
            "--memory", "2g", "--work-dir", str(self.work_dir), self.url,
        ])
        until(lambda: self._log_has(self.master_log, r"Registering worker 127\.0\.0\.1:\d+"), 120,
              "the worker to register")

    def _start(self, name: str, args: list[str]) -> Path:
        log = self.root / f"{name}.log"
        with log.open("wb") as fh:
            self.procs.append(subprocess.Popen(
                [str(self.home / "bin" / "spark-class"), *args], stdout=fh, stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "SPARK_HOME": str(self.home), "SPARK_LOCAL_IP": "127.0.0.1",
                     # No REST submission server (it would take the fixed port 6066): spark-submit
                     # falls back to the RPC gateway, as a locked-down cluster would have it.
                     "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false",
                     "SPARK_WORKER_DIR": str(self.work_dir)},
            ))
        return log

    def _log_has(self, log: Path, pattern: str) -> bool:
        for proc in self.procs:
            if proc.poll() is not None:
                raise AssertionError(f"a cluster process exited early:\n{log.read_text(errors='replace')[-4000:]}")
        return re.search(pattern, log.read_text(errors="replace")) is not None

    def driver_stdout(self) -> str:
        """The stdout of the (one) driver the worker ran: ``work/driver-*/stdout``."""
        outs = sorted(self.work_dir.glob("driver-*/stdout"))
        return outs[0].read_text(errors="replace") if outs else ""

    def stop(self) -> None:
        for proc in reversed(self.procs):
            stop_process_group(proc)


@pytest.fixture
def standalone(tmp_path: Path) -> Iterator[Standalone]:
    cluster = Standalone(tmp_path)
    try:
        yield cluster
    finally:
        cluster.stop()


def test_a_cluster_mode_driver_on_the_worker_is_profiled(
    standalone: Standalone, cached_sum_jar: Path, tmp_path: Path
) -> None:
    listen, metrics = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    agent_log = tmp_path / "agent.log"
    agent = start_agent_process(listen, metrics, agent_log)
    try:
        conf = {
            **listener_conf(listen),
            "spark.executor.cores": "1",
            "spark.executor.memory": "512m",
            "spark.cores.max": "1",
            "spark.ui.enabled": "false",
            # A driver the Worker launches gets none of the module flags spark-submit gives a client
            # driver: Spark 3.5 on Java 17 needs this one to start (StorageUtils reads DirectBuffer).
            "spark.driver.extraJavaOptions": "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED",
        }
        cmd = [
            str(standalone.home / "bin" / "spark-submit"), "--master", standalone.url, "--deploy-mode", "cluster",
            "--driver-memory", "512m", "--driver-cores", "1",
            *[arg for key, value in conf.items() for arg in ("--conf", f"{key}={value}")],
            "--class", "sparkprobe.testapps.CachedSum", str(cached_sum_jar), str(PARTITIONS),
        ]
        submit = subprocess.run(cmd, capture_output=True, timeout=300,
                                env={**os.environ, "SPARK_HOME": str(standalone.home), "SPARK_LOCAL_IP": "127.0.0.1"})
        err = submit.stderr.decode(errors="replace")
        assert submit.returncode == 0, err[-5000:]

        # The master launched the driver on the worker, and the driver ran there to its end.
        until(lambda: standalone._log_has(standalone.master_log, r"Launching driver driver-\S+ on worker"), 120,
              "the master to launch the driver on the worker")

        def finished() -> str | None:
            out = standalone.driver_stdout()
            worker = standalone.worker_log.read_text(errors="replace")
            if re.search(r"Driver driver-\S+ exited with failure|Driver driver-\S+ failed", worker):
                raise AssertionError(f"the driver failed:\n{worker[-3000:]}\n{out[-3000:]}")
            return out if re.search(r"Driver driver-\S+ exited successfully", worker) else None

        out = until(finished, 300, "the driver to finish on the worker")
        app_id = re.search(r"^APP ID (\S+)$", out, re.MULTILINE)
        assert app_id, out
        app_id_s = app_id.group(1)
        total = N * (N + 1) * (2 * N + 1) // 6
        assert f"SUM OF SQUARES {total} {total}\n" in out, out
        assert "DEPLOY MODE cluster\n" in out, out
        cached = re.search(r"^CACHED (\d+) (\d+)$", out, re.MULTILINE)
        assert cached, out
        cached_partitions, cached_memory = int(cached.group(1)), int(cached.group(2))
        assert cached_partitions == PARTITIONS

        # The agent got the whole app from the driver on the worker: ended, complete, exact.
        wait_app_ended(agent_log, app_id_s)
        m: dict[tuple[str, Any], float] = scrape_app(f"http://{metrics}/metrics", app_id_s)
    finally:
        stop_agent(agent)
    assert "Traceback" not in agent_log.read_text(errors="replace")
    assert m[("sparkprobe_app_running", ())] == 0
    assert m[("sparkprobe_app_incomplete", ())] == 0
    # Two jobs of 4 tasks each; the app's one executor (spark.cores.max=1) ran them all.
    assert m[("sparkprobe_tasks_finished_total", (("status", "success"),))] == 2 * PARTITIONS
    assert m[("sparkprobe_executors_added_total", ())] == 1
    # The block updates reached the agent while the data was cached: what Spark reported cached
    # before the app ended is what the agent saw cached, and the app's end dropped nothing as lost.
    assert m[("sparkprobe_listener_events_dropped_total", ())] == 0
    assert sum(v for (name, _), v in m.items() if name == "sparkprobe_cache_lost_blocks_total") == 0
    assert m[("sparkprobe_cached_blocks", ())] == cached_partitions
    assert m[("sparkprobe_cached_bytes", (("storage", "memory"),))] == cached_memory > 0
