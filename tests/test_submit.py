"""``sparkprobe submit``: the command builder, the wrapper around a stand-in spark-submit, real Spark jobs."""

from __future__ import annotations

import contextlib
import fcntl
import http.server
import importlib.util
import io
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import APPS, BASE_CONF, DYNAMIC_CONF, REPO, compile_jvm_app, find_javac, pyspark_home
from sparkprobe._jar import LISTENER_CLASS
from sparkprobe.submit import (
    SubmitError,
    build_command,
    build_parser,
    defaults_files,
    find_spark_submit,
    parse_submit_args,
    read_properties,
    split_spark_submit,
)

ROOT = REPO
JAR = "/opt/sp/sparkprobe-listener.jar"
EP = "127.0.0.1:4000"
TOK = "t0k"
OURS = [
    "--jars",
    JAR,
    "--conf",
    f"spark.extraListeners={LISTENER_CLASS}",
    "--conf",
    f"spark.sparkprobe.endpoint={EP}",
    "--conf",
    f"spark.sparkprobe.token={TOK}",
]


def build(args: list[str], **kw: Any) -> list[str]:
    return build_command("spark-submit", args, jar=JAR, endpoint=EP, token=TOK, **kw)


def conf_values(cmd: list[str], key: str) -> list[str]:
    return [
        cmd[i + 1].split("=", 1)[1]
        for i, w in enumerate(cmd[:-1])
        if w == "--conf" and cmd[i + 1].startswith(key + "=")
    ]


def jars_values(cmd: list[str]) -> list[str]:
    return [cmd[i + 1] for i, w in enumerate(cmd[:-1]) if w == "--jars"]


# --------------------------------------------------------------------------- the command builder
def test_listener_goes_before_the_python_file_and_app_args_are_untouched() -> None:
    cmd = build(["--master", "local[2]", "app.py", "3", "--jars", "x.jar", "--conf", "a=b"])
    assert cmd == [
        "spark-submit",
        "--master",
        "local[2]",
        *OURS,
        "app.py",
        "3",
        "--jars",
        "x.jar",
        "--conf",
        "a=b",
    ]


def test_options_with_values_are_not_taken_for_the_application() -> None:
    args = [
        "--name",
        "n.py",
        "--class",
        "org.Main",
        "--driver-memory",
        "1g",
        "--verbose",
        "--supervise",
        "-c",
        "k=v",
        "--properties-file",
        "p.conf",
        "--py-files",
        "d.zip",
        "main.jar",
        "arg",
    ]
    parsed = parse_submit_args(args)
    assert parsed.resource == "main.jar" and parsed.app_args == ["arg"]
    assert build(args) == ["spark-submit", *args[:-2], *OURS, "main.jar", "arg"]


def test_user_jars_are_merged_into_one_list_without_duplicates() -> None:
    cmd = build(
        [
            "--jars",
            "a.jar,b.jar",
            "--conf",
            "spark.jars=c.jar,a.jar",
            "--jars=d.jar",
            "--conf=spark.jars=e.jar",
            "-c",
            "spark.jars= f.jar , ",
            "app.py",
        ]
    )
    assert jars_values(cmd) == [f"a.jar,b.jar,c.jar,d.jar,e.jar,f.jar,{JAR}"]
    assert conf_values(cmd, "spark.jars") == []
    assert cmd[-1] == "app.py"


@pytest.mark.parametrize(
    "given", [JAR, f"file:{JAR}", f"file://{JAR}", "/opt/sp/../sp/sparkprobe-listener.jar"]
)
def test_our_jar_is_not_added_twice(given: str) -> None:
    assert jars_values(build(["--jars", f"a.jar,{given}", "app.py"])) == [f"a.jar,{given}"]


def test_a_remote_jar_of_the_same_path_is_another_jar() -> None:
    assert jars_values(build(["--jars", f"hdfs://{JAR}", "app.py"])) == [f"hdfs://{JAR},{JAR}"]


def test_user_listeners_are_kept_and_ours_added_once() -> None:
    cmd = build(
        [
            "--conf",
            "spark.extraListeners=com.a.L1,com.b.L2",
            "--conf",
            f"spark.extraListeners={LISTENER_CLASS},com.a.L1",
            "--class",
            "M",
            "app.jar",
        ]
    )
    assert conf_values(cmd, "spark.extraListeners") == [f"com.a.L1,com.b.L2,{LISTENER_CLASS}"]


def test_user_sparkprobe_endpoint_and_token_are_replaced() -> None:
    args = [
        "--conf",
        "spark.sparkprobe.endpoint=10.0.0.1:7733",
        "--conf",
        "spark.sparkprobe.token=old",
        "app.py",
    ]
    assert parse_submit_args(args).replaced_keys == ["spark.sparkprobe.endpoint", "spark.sparkprobe.token"]
    cmd = build(args)
    assert conf_values(cmd, "spark.sparkprobe.endpoint") == [EP]
    assert conf_values(cmd, "spark.sparkprobe.token") == [TOK]


def test_properties_file_values_are_kept_unless_the_command_line_overrides_them() -> None:
    defaults = {"spark.jars": "/d/dj.jar", "spark.extraListeners": "com.d.DL"}
    cmd = build(["app.py"], defaults=defaults)
    assert jars_values(cmd) == [f"/d/dj.jar,{JAR}"]
    assert conf_values(cmd, "spark.extraListeners") == [f"com.d.DL,{LISTENER_CLASS}"]
    # spark-submit: --jars / --conf replace the file's value, so the file's value is gone there too.
    cmd = build(["--jars", "a.jar", "--conf", "spark.extraListeners=com.a.L", "app.py"], defaults=defaults)
    assert jars_values(cmd) == [f"a.jar,{JAR}"]
    assert conf_values(cmd, "spark.extraListeners") == [f"com.a.L,{LISTENER_CLASS}"]


@pytest.mark.parametrize(
    ("args", "defaults", "env"),
    [
        (["--deploy-mode", "cluster", "app.py"], {}, {}),
        (["--deploy-mode=cluster", "app.py"], {}, {}),
        (["--conf", "spark.submit.deployMode=cluster", "app.py"], {}, {}),
        (["app.py"], {"spark.submit.deployMode": "cluster"}, {}),
        (["app.py"], {}, {"DEPLOY_MODE": "cluster"}),
    ],
)
def test_cluster_mode_is_refused(args: list[str], defaults: dict[str, str], env: dict[str, str]) -> None:
    with pytest.raises(SubmitError, match="cluster"):
        build(args, defaults=defaults, env=env)


def test_client_mode_wins_over_a_cluster_default() -> None:
    args = ["--deploy-mode", "client", "app.py"]
    assert build(args, defaults={"spark.submit.deployMode": "cluster"})[-1] == "app.py"


def test_without_an_application_the_settings_go_last() -> None:
    assert build(["--version"]) == ["spark-submit", "--version", *OURS]
    # A value option missing its value stays last, for spark-submit to report.
    assert build(["--master", "local", "--name"]) == ["spark-submit", "--master", "local", *OURS, "--name"]


def test_read_properties_keeps_only_the_keys_it_needs() -> None:
    text = (
        "# comment\n! also a comment\n"
        "spark.jars   /x/a.jar,\\\n    /x/b.jar\n"
        "spark.extraListeners=com.a.L\n"
        "spark.submit.deployMode : client\n"
        "spark.hadoop.fs.s3a.secret.key = hunter2\n"
        "spark.my\\ key=1\n"
    )
    assert read_properties(text) == {
        "spark.jars": "/x/a.jar,/x/b.jar",
        "spark.extraListeners": "com.a.L",
        "spark.submit.deployMode": "client",
    }


def test_defaults_files_follow_spark_submit(tmp_path: Path) -> None:
    env = {"SPARK_CONF_DIR": str(tmp_path)}
    assert defaults_files(parse_submit_args(["app.py"]), None, env) == [tmp_path / "spark-defaults.conf"]
    assert defaults_files(parse_submit_args(["--properties-file", "p.conf", "app.py"]), None, env) == [
        Path("p.conf")
    ]
    both = parse_submit_args(["--properties-file", "p.conf", "--load-spark-defaults", "app.py"])
    assert defaults_files(both, None, env) == [tmp_path / "spark-defaults.conf", Path("p.conf")]


def test_spark_submit_word_and_lookup(tmp_path: Path) -> None:
    assert split_spark_submit(["spark-submit", "--master", "x"]) == ("spark-submit", ["--master", "x"])
    assert split_spark_submit(["/opt/spark/bin/spark-submit", "a.py"]) == (
        "/opt/spark/bin/spark-submit",
        ["a.py"],
    )
    assert split_spark_submit(["--master", "x", "spark-submit.py"]) == (
        None,
        ["--master", "x", "spark-submit.py"],
    )
    venv_bin, path_bin = tmp_path / "venv" / "bin", tmp_path / "path"
    venv_bin.mkdir(parents=True)
    path_bin.mkdir()
    for d in (venv_bin, path_bin):
        (d / "spark-submit").write_text("#!/bin/sh\n")
        (d / "spark-submit").chmod(0o755)
    exe = str(venv_bin / "python")
    assert find_spark_submit(executable=exe, path=str(path_bin)) == str(venv_bin / "spark-submit")
    assert find_spark_submit(None, "spark-submit", executable=exe, path=str(path_bin)) == str(
        path_bin / "spark-submit"
    )
    assert find_spark_submit(None, "spark-submit", executable=exe, path=str(tmp_path)) == str(
        venv_bin / "spark-submit"
    )
    assert find_spark_submit("/x/spark-submit", "spark-submit", executable=exe) == "/x/spark-submit"
    assert find_spark_submit(executable=str(tmp_path / "python"), path=str(tmp_path)) is None


def test_cli_parser_matches_when_wired() -> None:
    from sparkprobe.cli import build_parser as cli_parser

    parser = cli_parser()
    argv = [
        "--metrics",
        ":0",
        "--json",
        "o.json",
        "--report",
        "r.html",
        "--pushgateway",
        "http://p:9091",
        "--spark-submit",
        "/s/spark-submit",
        "--",
        "spark-submit",
        "--master",
        "local",
        "a.py",
        "--json",
        "x",
    ]
    if not cli_has_submit():
        pytest.skip("`sparkprobe submit` is not wired into sparkprobe.cli yet")
    wired = parser.parse_args(["submit", *argv])
    ours = vars(build_parser().parse_args(argv))
    assert {k: v for k, v in vars(wired).items() if k in ours} == ours
    assert callable(wired.func)


# --------------------------------------------------------------------------- the wrapper, around a stand-in
def cli_has_submit() -> bool:
    from sparkprobe.cli import build_parser as cli_parser

    with contextlib.redirect_stderr(io.StringIO()):
        try:
            cli_parser().parse_args(["submit", "--", "x"])
        except SystemExit:
            return False
    return True


def submit_cmd() -> list[str]:
    """How to run `sparkprobe submit`: the CLI once it has the subcommand, else the module."""
    if cli_has_submit():
        return [sys.executable, "-m", "sparkprobe.cli", "submit"]
    return [sys.executable, "-m", "sparkprobe.submit"]


def child_env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join(
        # Not src/: the subprocess must run the installed package, as users do.
        p for p in (str(ROOT / "tests"), os.environ.get("PYTHONPATH")) if p
    )
    return {**os.environ, "PYTHONPATH": path, **extra}


@pytest.fixture
def fake(tmp_path: Path) -> Path:
    """An executable stand-in for spark-submit (tests/apps/fake_spark_submit.py)."""
    script = tmp_path / "bin" / "spark-submit"
    script.parent.mkdir()
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{APPS / "fake_spark_submit.py"}" "$@"\n')
    script.chmod(0o755)
    return script


def json_lines(stderr: str) -> list[dict[str, Any]]:
    out = []
    for line in stderr.splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def test_exit_code_stdout_findings_and_json_pass_through(fake: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    proc = subprocess.run(
        [
            *submit_cmd(),
            "--json",
            str(out),
            "--",
            str(fake),
            "--master",
            "local[2]",
            "--jars",
            "u.jar",
            "app.py",
            "--jars",
            "app-arg",
        ],
        capture_output=True,
        env=child_env(FAKE_EXIT="5"),
        timeout=60,
    )
    stderr = proc.stderr.decode()
    assert proc.returncode == 5, stderr
    # stdout is the child's, byte for byte.
    first, raw, rest = proc.stdout.split(b"\n", 2)
    assert raw == b"raw \xff\x00 bytes\r" and rest == b""
    argv = json.loads(first.removeprefix(b"FAKE ARGV "))
    jar = argv[argv.index("--jars") + 1]
    assert jar.startswith("u.jar,") and jar.endswith("sparkprobe-listener.jar")
    assert argv[-3:] == ["app.py", "--jars", "app-arg"]
    (finding,) = [d for d in json_lines(stderr) if d["event"] == "cache_lost"]
    assert finding["app_id"] == "app-fake-0001" and finding["blocks"] == 1 and finding["level"] == "warning"
    assert "executor 1 removed" in finding["message"]
    assert "FAKE STDERR" in stderr
    assert "== fake-app (app-fake-0001)" in stderr  # the summary
    token = next(a for a in argv if a.startswith("spark.sparkprobe.token=")).split("=", 1)[1]
    assert len(token) == 32 and token not in stderr  # the secret is not echoed
    doc = json.loads(out.read_text())
    assert doc["schema"] == 1
    (app,) = doc["apps"]
    assert app["cache_lost_blocks"] == 1 and app["tasks"]["success"] == 2 and not app["running"]
    assert not app["incomplete"]


def test_metrics_are_served_while_the_job_runs_and_pushed_at_the_end(fake: Path, tmp_path: Path) -> None:
    from conftest import free_port

    pushes: list[tuple[str, str, bytes]] = []

    class Gateway(http.server.BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            pushes.append(("PUT", self.path, body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    gateway = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=gateway.serve_forever, daemon=True).start()
    metrics = f"127.0.0.1:{free_port()}"
    try:
        proc = subprocess.run(
            [
                *submit_cmd(),
                "--metrics",
                metrics,
                "--pushgateway",
                f"http://127.0.0.1:{gateway.server_address[1]}",
                "--",
                str(fake),
                "app.py",
            ],
            capture_output=True,
            env=child_env(FAKE_METRICS_URL=f"http://{metrics}/metrics"),
            timeout=60,
        )
    finally:
        gateway.shutdown()
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"METRICS 0" not in proc.stdout and b"METRICS " in proc.stdout
    assert any(d["event"] == "submit_pushed" for d in json_lines(proc.stderr.decode()))
    (push,) = pushes
    assert push[1] == "/metrics/job/sparkprobe/app_name/fake-app"
    assert b"sparkprobe_cache_lost_blocks" in push[2]


def test_html_report_and_spark_submits_exit_code(fake: Path, tmp_path: Path) -> None:
    html = tmp_path / "r.html"
    args = ["--report", str(html), "--", str(fake), "app.py"]
    proc = subprocess.run([*submit_cmd(), *args], capture_output=True, env=child_env(FAKE_EXIT="4"), timeout=60)
    assert proc.returncode == 4, proc.stderr.decode()
    assert html.read_text().lstrip().lower().startswith("<!doctype html")


def test_cluster_mode_is_refused_before_anything_runs(fake: Path) -> None:
    proc = subprocess.run(
        [*submit_cmd(), "--", str(fake), "--deploy-mode", "cluster", "app.py"],
        capture_output=True,
        env=child_env(),
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stdout == b""  # the stand-in never ran
    assert "cannot reach the agent" in proc.stderr.decode()


def test_missing_spark_submit(tmp_path: Path) -> None:
    proc = subprocess.run(
        [*submit_cmd(), "--spark-submit", str(tmp_path / "nope" / "spark-submit"), "--", "app.py"],
        capture_output=True,
        env=child_env(),
        timeout=60,
    )
    assert proc.returncode == 127
    assert "cannot run" in proc.stderr.decode()


def test_a_job_that_never_starts_spark(fake: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.json"
    proc = subprocess.run(
        [*submit_cmd(), "--json", str(out), "--", str(fake), "app.py"],
        capture_output=True,
        env=child_env(FAKE_MODE="silent", FAKE_EXIT="1"),
        timeout=60,
    )
    assert proc.returncode == 1
    assert any(d["event"] == "submit_no_app" for d in json_lines(proc.stderr.decode()))
    assert json.loads(out.read_text())["apps"] == []


def test_ctrl_c_is_forwarded_and_exits_130(fake: Path, tmp_path: Path) -> None:
    marker = tmp_path / "signals"
    out = tmp_path / "o.json"
    proc = subprocess.Popen(
        [*submit_cmd(), "--json", str(out), "--", str(fake), "app.py"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(FAKE_MODE="hang", FAKE_MARKER=str(marker)),
    )
    deadline = time.monotonic() + 30
    while not Path(str(marker) + ".ready").exists():
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    time.sleep(0.3)  # let the agent take the app_start line
    proc.send_signal(signal.SIGINT)  # to sparkprobe only, not its process group
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr.decode()
    assert marker.read_text().splitlines() == ["SIGINT"]
    (app,) = json.loads(out.read_text())["apps"]
    assert app["closed_by_timeout"] and app["incomplete"]  # no ApplicationEnd: closed, flagged
    assert "INCOMPLETE" in stderr.decode()


def run_on_terminal(cmd: list[str], env: dict[str, str], rows: int = 24, cols: int = 120) -> tuple[int, str]:
    """Run with stdout and stderr on a pseudo-terminal of that size; return (exit code, what it showed)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        assert ready, "no output on the terminal for 60s"
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: every writer closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=30), b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")


def test_on_a_terminal_findings_are_lines_and_the_status_has_its_own_row(fake: Path) -> None:
    code, screen = run_on_terminal(
        [*submit_cmd(), "--", str(fake), "app.py"], child_env(FAKE_SLEEP="2.5", TERM="xterm"), rows=30
    )
    assert code == 0, screen
    assert "\nsparkprobe: cache_lost: executor 1 removed (dynamic_allocation): 1 cached blocks" in screen
    # Rows 1-29 scroll; row 30 holds the status, drawn between cursor save and restore.
    assert "\x1b7\x1b[1;29r\x1b8" in screen
    status = "sparkprobe | fake-app | executors 1 active, 1 idle | cached 4.0 KiB | lost 1 blocks (4.0 KiB)"
    assert "\x1b7\x1b[30;1H\x1b[2K" + status + " | tasks 0 running, 2 done\x1b8" in screen
    assert screen.count("\x1b[r") == 1  # the whole terminal is given back once, at the end
    assert screen.index("\x1b[r") < screen.index("== fake-app (app-fake-0001)")
    # The child's own output is on the terminal, untouched.
    assert "FAKE ARGV [" in screen and "\nFAKE STDERR\n" in screen
    assert not any(line.startswith("{") for line in screen.splitlines())


def test_on_a_dumb_terminal_there_is_no_status_row(fake: Path) -> None:
    code, screen = run_on_terminal([*submit_cmd(), "--", str(fake), "app.py"], child_env(TERM="dumb"))
    assert code == 0, screen
    assert "\x1b" not in screen
    assert "sparkprobe: cache_lost: executor 1 removed" in screen


# --------------------------------------------------------------------------- real Spark
def spark_submit_path() -> str:
    path = Path(sys.executable).parent / "spark-submit"
    if not path.is_file():
        pytest.skip(f"no spark-submit next to {sys.executable}")
    return str(path)


def conf_args(conf: dict[str, str]) -> list[str]:
    return [arg for key, value in conf.items() for arg in ("--conf", f"{key}={value}")]


def spark_env() -> dict[str, str]:
    return child_env(PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)


@pytest.mark.spark
def test_real_pyspark_job_loses_its_cache(tmp_path: Path) -> None:
    out, html = tmp_path / "report.json", tmp_path / "report.html"
    cmd = [
        *submit_cmd(),
        "--json",
        str(out),
        "--report",
        str(html),
        "--",
        spark_submit_path(),
        "--master",
        "local-cluster[2,1,1024]",
        *conf_args({**BASE_CONF, **DYNAMIC_CONF}),
        str(APPS / "cache_loss.py"),
        "3",
        "--conf",
        "not-for-spark",
    ]
    proc = subprocess.run(cmd, capture_output=True, env=spark_env(), timeout=400)
    stderr = proc.stderr.decode(errors="replace")
    assert proc.returncode == 3, stderr[-5000:]
    assert b'APP ARGS ["3", "--conf", "not-for-spark"]\n' in proc.stdout
    lost = [d for d in json_lines(stderr) if d.get("event") == "cache_lost"]
    assert lost and all(d["app_name"] == "sparkprobe-submit-cache-loss" for d in lost), stderr[-5000:]
    (app,) = json.loads(out.read_text())["apps"]
    assert app["app_name"] == "sparkprobe-submit-cache-loss" and not app["running"] and not app["incomplete"]
    assert app["cache_lost_blocks"] > 0
    assert app["cache_lost_blocks"] == sum(d["blocks"] for d in lost)
    assert app["cache_recomputed_blocks"] > 0
    assert app["removed_by_reason"].get("dynamic_allocation", 0) >= 2
    if importlib.util.find_spec("sparkprobe.outputs.html") is not None:
        assert html.is_file() and html.stat().st_size > 0
    else:
        assert "no HTML report renderer" in stderr


def run_jvm_app(tmp_path: Path, args: list[str]) -> tuple[subprocess.CompletedProcess[bytes], dict[str, Any]]:
    out = tmp_path / "jvm.json"
    cmd = [
        *submit_cmd(),
        "--json",
        str(out),
        "--",
        spark_submit_path(),
        "--master",
        "local[2]",
        *conf_args(BASE_CONF),
        *args,
    ]
    proc = subprocess.run(cmd, capture_output=True, env=spark_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-5000:]
    (app,) = json.loads(out.read_text())["apps"]
    return proc, app


@pytest.mark.spark
def test_jvm_examples_sparkpi_is_profiled(tmp_path: Path) -> None:
    home = pyspark_home()
    jars = sorted(home.glob("examples/jars/spark-examples*.jar")) or sorted(home.rglob("spark-examples*.jar"))
    if not jars:
        pytest.skip(f"this pyspark wheel ships no examples jar (no spark-examples*.jar under {home})")
    proc, app = run_jvm_app(tmp_path, ["--class", "org.apache.spark.examples.SparkPi", str(jars[0]), "3"])
    assert b"Pi is roughly" in proc.stdout
    assert app["tasks"]["success"] >= 3 and not app["running"]


@pytest.fixture(scope="module")
def sum_squares_jar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/apps/jvm/SumSquares.java compiled against this pyspark's jars."""
    javac = find_javac()
    if javac is None:
        pytest.skip("no javac to compile the JVM test application")
    build_dir = tmp_path_factory.mktemp("jvm-app")
    return compile_jvm_app(javac, APPS / "jvm" / "SumSquares.java", build_dir, "sum-squares.jar")


@pytest.mark.spark
def test_jvm_application_is_profiled(tmp_path: Path, sum_squares_jar: Path) -> None:
    proc, app = run_jvm_app(
        tmp_path, ["--class", "sparkprobe.testapps.SumSquares", str(sum_squares_jar), "4"]
    )
    n = 20_000
    assert f"SUM OF SQUARES {n * (n + 1) * (2 * n + 1) // 6}\n".encode() in proc.stdout
    assert app["app_name"] == "sparkprobe-submit-jvm" and not app["running"] and not app["incomplete"]
    assert app["tasks"]["success"] == 4
