"""TLS on the event port, over real sockets: `sparkprobe agent --tls-cert/--tls-key` and the listener's
``spark.sparkprobe.tls.*`` on real local-cluster Spark.

Certificates are made here with the ``openssl`` command line (a test CA, server certificates signed by it
naming 127.0.0.1 and localhost, a second CA nobody should trust) and the JDK's ``keytool`` (a PKCS12
trust store). Every wait is bounded by a deadline; nothing asserts how long anything took.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_faults_spark import (
    TOKEN,
    kill_quietly,
    listener_conf,
    scrape_until,
    start_agent_process,
    until,
)

import sparkprobe
from conftest import BASE_CONF, executor_pids, free_port, need_binary

STORE_PASSWORD = "tr0ust-st0re-pw-4d2e"
FAILURES = "sparkprobe_agent_tls_handshake_failures_total"


# ------------------------------------------------------------------------------------ certificates
@dataclass(frozen=True)
class Pki:
    ca: Path  # PEM of the test CA
    other_ca: Path  # PEM of a CA that signed nothing the agent serves
    server: Path  # signed by ca, names IP 127.0.0.1 and DNS localhost
    server_key: Path
    elsewhere: Path  # signed by ca, names only DNS elsewhere.invalid
    elsewhere_key: Path
    trust_store: Path  # PKCS12 holding ca, password STORE_PASSWORD
    other_trust_store: Path  # PKCS12 holding other_ca, password STORE_PASSWORD


def _run(*cmd: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{cmd[0]} failed: {proc.stdout}{proc.stderr}"


def _make_ca(openssl: str, d: Path, name: str) -> tuple[Path, Path]:
    cert, key = d / f"{name}.pem", d / f"{name}.key"
    _run(
        openssl,
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        f"/CN={name}",
        "-keyout",
        str(key),
        "-out",
        str(cert),
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    )
    return cert, key


def _make_server(openssl: str, d: Path, name: str, ca: tuple[Path, Path], san: str) -> tuple[Path, Path]:
    cert, key, csr, ext = d / f"{name}.pem", d / f"{name}.key", d / f"{name}.csr", d / f"{name}.ext"
    ext.write_text(
        f"subjectAltName={san}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
    )
    _run(
        openssl,
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        f"/CN={name}",
        "-keyout",
        str(key),
        "-out",
        str(csr),
    )
    _run(
        openssl,
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca[0]),
        "-CAkey",
        str(ca[1]),
        "-CAcreateserial",
        "-days",
        "2",
        "-out",
        str(cert),
        "-extfile",
        str(ext),
    )
    return cert, key


def _make_trust_store(keytool: str, ca: Path, store: Path) -> Path:
    _run(
        keytool,
        "-importcert",
        "-noprompt",
        "-alias",
        "sparkprobe-test-ca",
        "-file",
        str(ca),
        "-keystore",
        str(store),
        "-storetype",
        "PKCS12",
        "-storepass",
        STORE_PASSWORD,
    )
    return store


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    openssl, keytool = need_binary("openssl"), need_binary("keytool")
    d = tmp_path_factory.mktemp("pki")
    ca = _make_ca(openssl, d, "sparkprobe-test-ca")
    other = _make_ca(openssl, d, "sparkprobe-other-ca")
    server = _make_server(openssl, d, "agent", ca, "IP:127.0.0.1,DNS:localhost")
    elsewhere = _make_server(openssl, d, "elsewhere", ca, "DNS:elsewhere.invalid")
    return Pki(
        ca=ca[0],
        other_ca=other[0],
        server=server[0],
        server_key=server[1],
        elsewhere=elsewhere[0],
        elsewhere_key=elsewhere[1],
        trust_store=_make_trust_store(keytool, ca[0], d / "trust.p12"),
        other_trust_store=_make_trust_store(keytool, other[0], d / "other-trust.p12"),
    )


# ---------------------------------------------------------------------------------------- helpers
@pytest.fixture
def tls_agent(pki: Pki, tmp_path: Path) -> Iterator[Any]:
    """Start ``sparkprobe agent`` with TLS on free loopback ports: call with (cert, key)."""
    started: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(cert: Path, key: Path) -> tuple[str, str, Path]:
        listen, metrics = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
        log = tmp_path / f"agent-{len(started)}.log"
        proc = start_agent_process(listen, metrics, log, ("--tls-cert", str(cert), "--tls-key", str(key)))
        started.append((proc, log))
        return listen, f"http://{metrics}/metrics", log

    yield start
    for proc, log in started:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        text = log.read_text(errors="replace")
        assert "Traceback" not in text, text[-4000:]
        assert STORE_PASSWORD not in text


def scrape_all(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample on /metrics: (name, labels) → value."""
    body = urllib.request.urlopen(url, timeout=10).read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def hostport(listen: str) -> tuple[str, int]:
    host, port = listen.rsplit(":", 1)
    return host, int(port)


def tls_client(listen: str, cafile: Path) -> ssl.SSLSocket:
    """A wire client over TLS, verifying the agent as the listener does (CA and host name)."""
    ctx = ssl.create_default_context(cafile=str(cafile))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    host, port = hostport(listen)
    return ctx.wrap_socket(socket.create_connection((host, port), timeout=10), server_hostname=host)


def send_hello(sock: socket.socket, app_id: str) -> bytes:
    """Send a hello; return the agent's first reply line (b"" when it closed instead)."""
    hello = {"hello": "sparkprobe", "wire": 1, "app_id": app_id, "token": TOKEN, "listener": "test"}
    sock.sendall(json.dumps(hello).encode() + b"\n")
    reply = b""
    try:
        while not reply.endswith(b"\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
    except OSError:
        pass  # reset by the agent
    return reply


def trust_conf(how: str, pki: Pki, ca: str = "right") -> dict[str, str]:
    """spark.sparkprobe.tls.* trusting the test CA (or the other one) through a PEM file or a trust store."""
    if how == "caCert":
        return {
            "spark.sparkprobe.tls.enabled": "true",
            "spark.sparkprobe.tls.caCert": str(pki.ca if ca == "right" else pki.other_ca),
        }
    return {
        "spark.sparkprobe.tls.enabled": "true",
        "spark.sparkprobe.tls.trustStore": str(pki.trust_store if ca == "right" else pki.other_trust_store),
        "spark.sparkprobe.tls.trustStorePassword": STORE_PASSWORD,
        "spark.sparkprobe.tls.trustStoreType": "PKCS12",
    }


# ------------------------------------------------------------------- the Spark driver, in its own process
# Each test's driver runs in a process of its own: the first SparkContext of a Python process launches
# the JVM with that session's conf as system properties, which later sessions of the process inherit
# (spark.sparkprobe.tls.* would then leak into other tests' listeners). Its output is the driver log.
DRIVER_SCRIPT = """
import json, os, sys, time
from pyspark import StorageLevel
from pyspark.sql import SparkSession

conf, out, go = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
builder = SparkSession.builder.master("local-cluster[2,1,1024]").appName(conf.pop("app_name"))
for key, value in conf.items():
    builder = builder.config(key, value)
spark = builder.getOrCreate()
sc = spark.sparkContext
app_id = sc.applicationId
deadline = time.monotonic() + 120
while sc._jsc.sc().getExecutorMemoryStatus().size() - 1 < 2 and time.monotonic() < deadline:
    time.sleep(0.1)
sc.setJobGroup("tls", "jobs while the listener talks TLS")
data = sc.parallelize(range(80000), 4).map(lambda x: x * 3).persist(StorageLevel.MEMORY_ONLY)
total = data.sum()
evens = data.filter(lambda x: x % 2 == 0).count()
tracker = sc.statusTracker()
deadline = time.monotonic() + 60  # Spark's status store trails the actions that just returned
while time.monotonic() < deadline and not all(
    (info := tracker.getJobInfo(j)) is not None and str(info.status) in ("SUCCEEDED", "FAILED")
    for j in tracker.getJobIdsForGroup("tls")
):
    time.sleep(0.1)
done = sum(tracker.getStageInfo(s).numCompletedTasks for j in tracker.getJobIdsForGroup("tls")
           for s in tracker.getJobInfo(j).stageIds if tracker.getStageInfo(s) is not None)
execs = sc._jsc.sc().statusStore().executorList(True)
live = {str(e.id()): int(e.totalCores()) for e in (execs.apply(i) for i in range(execs.size())) if e.id() != "driver"}
cached = sum(int(i.numCachedPartitions()) for i in sc._jsc.sc().getRDDStorageInfo())
listeners = sc._jsc.sc().listenerBus().listeners()
probe = [l for l in listeners if l.getClass().getName() == "io.sparkprobe.ProbeListener"][0]

def report(name, **extra):
    with open(out + name + ".tmp", "w") as fh:
        json.dump({"app_id": app_id, "sum": total, "evens": evens, **extra}, fh)
    os.rename(out + name + ".tmp", out + name)

connected = probe.isConnected()
report(".job", tasks=done, live=live, cached=cached, connected=connected)
deadline = time.monotonic() + 180
while not os.path.exists(go) and time.monotonic() < deadline:  # the test checks the agent meanwhile
    time.sleep(0.1)
counters = sc._jsc.sc().listenerBus().metrics().metricRegistry().getCounters()
bus_drops = sum(int(counters.get(n).getCount()) for n in counters.keySet() if str(n).endswith("numDroppedEvents"))
spark.stop()
deadline = time.monotonic() + 30  # a sender that never connected counts what it never sent as it stops
while not connected and probe.droppedEvents() != probe.offeredEvents() and time.monotonic() < deadline:
    time.sleep(0.1)
report(".end", bus_drops=bus_drops, offered=probe.offeredEvents(), dropped=probe.droppedEvents(),
       internal_errors=probe.internalErrors())
"""


class Driver:
    """A Spark driver process running DRIVER_SCRIPT with the listener: ``job()`` once its jobs ran and
    Spark's own figures are in, then ``finish()`` to stop Spark and get the listener's final counters."""

    def __init__(self, tmp_path: Path, app_name: str, listen: str, tls: dict[str, str]) -> None:
        conf = {
            **BASE_CONF,
            **listener_conf(listen, **tls),
            "app_name": app_name,
            "spark.sparkprobe.maxBackoffMs": "300",
        }
        script, self.out, self.go = tmp_path / "driver.py", tmp_path / "driver", tmp_path / "go"
        script.write_text(textwrap.dedent(DRIVER_SCRIPT))
        self.log = tmp_path / "driver.log"
        self.app_id = ""
        with self.log.open("wb") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, str(script), json.dumps(conf), str(self.out), str(self.go)],
                stdout=fh,
                stderr=subprocess.STDOUT,
            )

    def _report(self, name: str, timeout_s: float, what: str) -> dict[str, Any]:
        path = Path(f"{self.out}{name}")

        def ready() -> bool:
            if self.proc.poll() is not None and not path.exists():
                raise AssertionError(f"the driver exited early:\n{self.log.read_text(errors='replace')[-4000:]}")
            return path.exists()

        until(ready, timeout_s, what)
        report: dict[str, Any] = json.loads(path.read_text())
        self.app_id = report["app_id"]
        return report

    def job(self) -> dict[str, Any]:
        report = self._report(".job", 240, "the driver's jobs")
        assert report["sum"] == 3 * sum(range(80_000)) and report["evens"] == 40_000  # the job's own results
        return report

    def finish(self) -> dict[str, Any]:
        self.go.write_text("")
        report = self._report(".end", 120, "the driver to stop")
        assert self.proc.wait(timeout=60) == 0
        assert report["bus_drops"] == 0 and report["internal_errors"] == 0  # Spark's bus lost nothing
        return report

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        if self.app_id:
            for pid in executor_pids(self.app_id).values():
                kill_quietly(pid)

    def sparkprobe_warnings(self) -> list[str]:
        return [line for line in self.log.read_text(errors="replace").splitlines() if "sparkprobe:" in line]


# ---------------------------------------------------------------- 1. a real Spark app over TLS
@pytest.mark.spark
@pytest.mark.parametrize("how", ["caCert", "trustStore"])
def test_spark_app_streams_over_tls(how: str, pki: Pki, tls_agent: Any, tmp_path: Path) -> None:
    pytest.importorskip("pyspark")
    listen, url, log = tls_agent(pki.server, pki.server_key)
    driver = Driver(tmp_path, f"tls-{how}", listen, trust_conf(how, pki))
    try:
        job = driver.job()
        assert len(job["live"]) == 2 and job["cached"] == 4
        success = ("sparkprobe_tasks_finished_total", (("status", "success"),))
        m = scrape_until(
            url,
            job["app_id"],
            lambda m: m.get(success) == job["tasks"] and m.get(("sparkprobe_cached_blocks", ())) == job["cached"],
            "the app's tasks and cached blocks over TLS",
        )
        assert m[("sparkprobe_executors_added_total", ())] == len(job["live"])
        assert m[("sparkprobe_executors_active", ())] == len(job["live"])
        assert m[("sparkprobe_cores_allocated", ())] == sum(job["live"].values())
        assert m[("sparkprobe_listener_events_dropped_total", ())] == 0
        assert m[("sparkprobe_app_incomplete", ())] == 0
        end = driver.finish()
    finally:
        driver.kill()
    m = scrape_until(url, job["app_id"], lambda m: m.get(("sparkprobe_app_running", ())) == 0, "the app's end")
    assert m[success] == job["tasks"]
    assert m[("sparkprobe_listener_events_dropped_total", ())] == end["dropped"] == 0
    everything = scrape_all(url)
    assert everything[(FAILURES, ())] == 0
    assert everything[("sparkprobe_agent_connections_total", ())] == 1  # one TLS connection, never broken
    assert "app_connected" in log.read_text()
    assert [w for w in driver.sparkprobe_warnings() if "WARN" in w] == []
    assert STORE_PASSWORD not in driver.log.read_text(errors="replace")


# ------------------------------------------- 2. a listener that must not trust the agent: nothing sent
@pytest.mark.spark
@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("untrusted_ca", "is not signed by a CA in spark.sparkprobe.tls.caCert / spark.sparkprobe.tls.trustStore"),
        ("wrong_host", "does not name the host of spark.sparkprobe.endpoint"),
    ],
)
def test_untrusted_agent_gets_nothing_and_the_job_is_unaffected(
    case: str, expected: str, pki: Pki, tls_agent: Any, tmp_path: Path
) -> None:
    pytest.importorskip("pyspark")
    if case == "untrusted_ca":  # the agent's certificate is fine, but the listener trusts another CA
        listen, url, agent_log = tls_agent(pki.server, pki.server_key)
        tls = trust_conf("trustStore", pki, ca="other")
    else:  # the right CA, but the certificate names another host than the endpoint's 127.0.0.1
        listen, url, agent_log = tls_agent(pki.elsewhere, pki.elsewhere_key)
        tls = trust_conf("caCert", pki)
    driver = Driver(tmp_path, f"tls-{case}", listen, {**tls, "spark.sparkprobe.closeTimeoutMs": "1000"})
    try:
        job = driver.job()
        assert job["connected"] is False
        # The listener keeps retrying with backoff; every attempt fails its handshake on the agent too.
        until(lambda: scrape_all(url).get((FAILURES, ()), 0) >= 2, 60, "two failed handshakes on the agent")
        metrics = scrape_all(url)
        assert not any(("app_id", job["app_id"]) in labels for _, labels in metrics), "the agent accepted the app"
        assert metrics[("sparkprobe_agent_connections_total", ())] == 0  # no connection got past TLS
        end = driver.finish()
    finally:
        driver.kill()
    # The job did not notice (results and Spark's bus checked by the driver); every event was dropped and counted.
    assert end["offered"] > 0 and end["dropped"] == end["offered"]
    warnings = [w for w in driver.sparkprobe_warnings() if "sparkprobe: TLS to agent" in w]
    assert len(warnings) == 1, driver.log.read_text(errors="replace")[-4000:]  # once, though it retried
    assert expected in warnings[0] and "WARN" in warnings[0]
    assert STORE_PASSWORD not in driver.log.read_text(errors="replace")
    assert "tls_handshake_failed" in agent_log.read_text()


# ------------------------------------------------------ 3. plain TCP to the TLS port: refused, counted
def test_plain_tcp_hello_to_the_tls_port_is_refused_and_counted(pki: Pki, tls_agent: Any) -> None:
    listen, url, log = tls_agent(pki.server, pki.server_key)
    with socket.create_connection(hostport(listen), timeout=10) as plain:
        reply = send_hello(plain, "app-plain")
    assert b'"ok"' not in reply
    until(lambda: scrape_all(url).get((FAILURES, ())) == 1, 30, "the failed handshake on /metrics")
    assert "tls_handshake_failed" in log.read_text()

    # The agent is still up and serves TLS clients that trust it.
    with tls_client(listen, pki.ca) as sock:
        assert json.loads(send_hello(sock, "app-tls")) == {"ok": True}
        start = {"k": "app_start", "app_id": "app-tls", "app_name": "tls-client", "user": "u", "time": 1000}
        added = {"k": "executor_added", "exec_id": "1", "host": "h", "cores": 3, "time": 1000}
        sock.sendall(b"".join(json.dumps(e).encode() + b"\n" for e in (start, added)))
        m = scrape_until(
            url, "app-tls", lambda m: m.get(("sparkprobe_cores_allocated", ())) == 3, "the TLS client's app"
        )
    assert m[("sparkprobe_app_running", ())] == 1
    metrics = scrape_all(url)
    assert metrics[(FAILURES, ())] == 1
    assert metrics[("sparkprobe_agent_connections_total", ())] == 1


def test_a_client_that_does_not_trust_the_agent_is_counted(pki: Pki, tls_agent: Any) -> None:
    listen, url, _ = tls_agent(pki.server, pki.server_key)
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_client(listen, pki.other_ca)
    until(lambda: scrape_all(url).get((FAILURES, ())) == 1, 30, "the failed handshake on /metrics")


def test_cli_tls_flags_are_checked(pki: Pki, tmp_path: Path) -> None:
    def agent(*flags: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "sparkprobe.cli",
                "agent",
                "--listen",
                "127.0.0.1:0",
                "--metrics",
                "127.0.0.1:0",
                *flags,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )

    proc = agent("--tls-cert", str(pki.server))
    assert proc.returncode == 2 and "--tls-cert and --tls-key go together" in proc.stderr
    proc = agent("--tls-cert", str(tmp_path / "missing.pem"), "--tls-key", str(pki.server_key))
    assert proc.returncode == 2 and "cannot load --tls-cert/--tls-key" in proc.stderr
    proc = agent("--tls-cert", str(pki.server), "--tls-key", str(pki.elsewhere_key))  # not its key
    assert proc.returncode == 2 and "cannot load --tls-cert/--tls-key" in proc.stderr


# ---------------------------------------- 4. a TLS listener never speaks plain text, even to a plain agent
class RecordingServer:
    """A plain-TCP server on loopback that answers nothing and records what each connection sent."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.received: list[bytes] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.done.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            data = b""
            with conn:
                conn.settimeout(0.2)
                while not self.done.is_set():
                    try:
                        chunk = conn.recv(65536)
                    except TimeoutError:
                        continue
                    except OSError:
                        break
                    if not chunk:
                        break
                    data += chunk
            self.received.append(data)

    def close(self) -> None:
        self.done.set()
        self.server.close()
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def listener_jvm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
    """A bare Spark JVM (no SparkContext) with the listener jar on its class path, its output in a file."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no JVM")
    pytest.importorskip("pyspark")
    from pyspark import SparkConf
    from pyspark.java_gateway import launch_gateway

    log = tmp_path_factory.mktemp("jvm") / "jvm.log"
    with log.open("wb") as fh:
        conf = SparkConf().set("spark.driver.extraClassPath", sparkprobe.jar_path())
        gateway = launch_gateway(conf, popen_kwargs={"stdout": fh, "stderr": subprocess.STDOUT})  # type: ignore[no-untyped-call]
    try:
        yield gateway.jvm, log
    finally:
        gateway.shutdown()
        gateway.proc.stdin.close()  # the JVM exits when its stdin closes
        gateway.proc.wait(timeout=60)


@pytest.mark.spark
@pytest.mark.parametrize("enabled", ["true", "yes"])  # "yes" is a typo: taken as true, never as plain TCP
def test_tls_listener_never_sends_the_hello_in_clear(enabled: str, pki: Pki, listener_jvm: tuple[Any, Path]) -> None:
    jvm, log = listener_jvm
    plain = RecordingServer()
    app_id = f"app-clear-{enabled}"
    conf = (
        jvm.org.apache.spark.SparkConf(False)
        .set("spark.app.id", app_id)
        .set("spark.sparkprobe.endpoint", f"127.0.0.1:{plain.port}")
        .set("spark.sparkprobe.token", TOKEN)
        .set("spark.sparkprobe.tls.enabled", enabled)
        .set("spark.sparkprobe.tls.caCert", str(pki.ca))
        .set("spark.sparkprobe.connectTimeoutMs", "300")
        .set("spark.sparkprobe.maxBackoffMs", "200")
    )
    listener = jvm.io.sparkprobe.ProbeListener(conf)
    try:
        until(lambda: len(plain.received) >= 2, 60, "two connection attempts")  # it retried
        # Attempts that ended on their own (the handshake timed out). One still open when the test
        # shuts down can be cut before its first byte, so it proves nothing either way.
        finished = list(plain.received)
        assert not listener.isConnected()
    finally:
        listener.close()
        plain.close()
    for data in plain.received:
        assert TOKEN.encode() not in data and b"hello" not in data and app_id.encode() not in data
    assert len(finished) >= 2
    for data in finished:
        assert data[:1] == b"\x16"  # a TLS handshake record: the ClientHello
    text = log.read_text(errors="replace")
    warnings = [line for line in text.splitlines() if "sparkprobe: TLS to agent" in line and str(plain.port) in line]
    assert len(warnings) == 1, text[-4000:]
    assert "no TLS answer" in warnings[0]
    if enabled != "true":
        assert f"ignoring spark.sparkprobe.tls.enabled={enabled} (expected true or false); using true" in text
