"""Hostile and broken input: bounded lines, bounded decompression, no phantom apps, paths reported.

The issue's cases, tried on ``analyze`` before: a 64 KB zstd file that expands to one 2 GiB line
took 6.3 GB of RSS; 5 MB of random bytes and a valid first line plus a 400 KB nested-bracket line
came out as an application with an empty id and exit 0. Here each is a counted line or a reported
failure, in bounded memory, and the other logs of the same run are still analysed.
"""

from __future__ import annotations

import binascii
import json
import lzma
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from conftest import EVENTLOGS, IN_CI
from hostile_logs import nested_brackets, random_bytes, symlink_loops, unreadable, zstd_bomb, zstd_huge_window
from sparkprobe.offline import analyze_source
from sparkprobe.sources.codecs import CorruptStream, DecodeLimits, LimitExceeded, open_stream
from sparkprobe.sources.eventlog import LogReader, NotAnEventLog, ReadLimits, discover, scan

PLAIN_LOG = EVENTLOGS / "recorded" / "spark-4.0.1-plain" / "app-20261124030112-0000"
pytestmark = pytest.mark.skipif(not PLAIN_LOG.is_file(), reason=f"real event logs not found at {EVENTLOGS}")

# The child's own peak RSS (VmHWM of its exec'd image; wait4's maxrss also counts the parent's).
_OWN_PEAK = (
    "import sys\n"
    "from sparkprobe.cli import main\n"
    "rc = main(sys.argv[1:])\n"
    "hwm = next(l for l in open('/proc/self/status') if l.startswith('VmHWM:')).split()[1]\n"
    "print(f'VMHWM_KB={hwm}', file=sys.stderr)\n"
    "sys.exit(rc)\n"
)


def without_dac(cmd: list[str]) -> list[str]:
    """``cmd`` run so that file modes bind: as root, without the capabilities that bypass them."""
    if os.geteuid() != 0:
        return cmd
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        if IN_CI:
            pytest.fail("setpriv (util-linux) is needed to test unreadable files as root")
        pytest.skip("running as root without setpriv: an unreadable file cannot be made")
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search", *cmd]


def run_cli(*args: str, dac: bool = False, env: dict[str, str] | None = None) -> tuple[int, str, str, float]:
    """``sparkprobe ARGS`` in a child: exit code, stdout, stderr (without the peak line), peak MiB."""
    cmd = [sys.executable, "-c", _OWN_PEAK, *args]
    proc = subprocess.run(without_dac(cmd) if dac else cmd, capture_output=True, text=True, timeout=600, env=env)
    lines = proc.stderr.splitlines()
    peak = [int(x.split("=")[1]) / 1024 for x in lines if x.startswith("VMHWM_KB=")]
    stderr = "\n".join(x for x in lines if not x.startswith("VMHWM_KB="))
    return proc.returncode, proc.stdout, stderr, peak[-1] if peak else float("nan")


def figures(report: Any) -> dict[str, Any]:
    """An app's JSON without what depends on how its file was read."""
    doc: dict[str, Any] = report.to_json()
    doc.pop("source")
    doc.pop("bad_lines")
    return doc


def cap_above_every_line(path: Path) -> int:
    """A line cap just above the longest line of ``path`` (plain)."""
    return max(len(line) for line in path.read_bytes().splitlines(keepends=True)) + 1024


def only_source(path: Path) -> Any:
    (source,) = discover([path])
    return source


# --- bounded lines ------------------------------------------------------------------------------


def test_a_line_past_the_cap_is_skipped_to_the_next_newline_and_counted(tmp_path: Path) -> None:
    lines = PLAIN_LOG.read_bytes().splitlines(keepends=True)
    cap = cap_above_every_line(PLAIN_LOG)
    giant = b'{"Event":"SparkListenerTaskEnd","x":"' + b"y" * (3 * cap) + b'"}\n'
    path = tmp_path / "app-long"
    path.write_bytes(b"".join(lines[:40]) + giant + b"".join(lines[40:]))
    limits = ReadLimits(max_line_bytes=cap)
    report = analyze_source(only_source(path), read_limits=limits)
    clean = analyze_source(only_source(PLAIN_LOG))
    assert figures(report) == figures(clean)
    assert report.source is not None and clean.source is not None
    assert report.source.too_long == 1 and report.bad_lines == clean.bad_lines + 1
    assert report.source.lines == clean.source.lines + 1
    (sample,) = report.source.bad_line_samples
    assert sample.line == 41 and f"longer than {cap:,} bytes" in sample.reason
    assert report.to_json()["source"]["too_long"] == 1


def test_a_long_line_of_an_ignored_kind_is_ignored_not_bad(tmp_path: Path) -> None:
    cap = cap_above_every_line(PLAIN_LOG)
    kind = b"org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionStart"
    plan = b'{"Event":"' + kind + b'","p":"' + b"z" * 3 * cap + b'"}\n'
    path = tmp_path / "app-plan"
    path.write_bytes(PLAIN_LOG.read_bytes() + plan)
    reader = LogReader(path, limits=ReadLimits(max_line_bytes=cap))
    list(reader.events())
    assert reader.stats.too_long == 0 and reader.stats.bad_lines == 0
    assert reader.stats.ignored_kinds["org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionStart"] >= 1


@pytest.mark.parametrize("newline", [b"\n", b""])
def test_a_line_of_exactly_the_cap_is_read_whole(newline: bytes, tmp_path: Path) -> None:
    start = b'{"Event":"SparkListenerApplicationStart","App Name":"n","App ID":"app-cap","Timestamp":1,"User":"'
    end = b'"}' + newline
    cap = 2048
    line = start + b"u" * (cap - len(start) - len(end)) + end
    assert len(line) == cap
    path = tmp_path / "app-cap"
    path.write_bytes(line)
    reader = LogReader(path, limits=ReadLimits(max_line_bytes=cap))
    (event,) = list(reader.events())
    assert reader.stats.too_long == 0 and getattr(event, "app_id", None) == "app-cap"


def test_the_line_cap_has_a_floor() -> None:
    with pytest.raises(ValueError, match="at least 1024"):
        ReadLimits(max_line_bytes=10)


# --- bounded decompression ----------------------------------------------------------------------


def test_a_zstd_bomb_is_refused_after_bounded_work(tmp_path: Path) -> None:
    path = zstd_bomb(tmp_path / "bomb.zstd", 1 << 30)
    assert path.stat().st_size < 40_000
    reader = LogReader(path)
    with pytest.raises(LimitExceeded, match="decompression bomb") as err:
        list(reader.events())
    assert isinstance(err.value, CorruptStream) and err.value.codec == "zstd"
    assert reader.stats.bytes_decompressed < (80 << 20)


def test_without_the_expansion_limit_the_bomb_is_one_too_long_line(tmp_path: Path) -> None:
    path = zstd_bomb(tmp_path / "bomb.zstd", 1 << 28)
    limits = ReadLimits(max_line_bytes=1 << 20, decode=DecodeLimits(max_expansion=float("inf")))
    reader = LogReader(path, limits=limits)
    assert list(reader.events()) == []
    stats = reader.stats
    assert (stats.lines, stats.too_long, stats.bad_lines, stats.bytes_decompressed) == (1, 1, 1, 1 << 28)
    with pytest.raises(NotAnEventLog, match="not a Spark event log"):
        analyze_source(only_source(path), read_limits=limits)


def test_a_zstd_window_beyond_the_limit_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LimitExceeded, match="max_window_bytes"):
        open_stream(zstd_huge_window(tmp_path / "w.zstd")).read()


def _xz_with_dictionary(data: bytes, dict_byte: int) -> bytes:
    """An xz stream of ``data`` whose block header claims another LZMA2 dictionary size (CRC fixed)."""
    xz = bytearray(lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_NONE))
    header_at = 12  # after the stream header
    size = (xz[header_at] + 1) * 4
    header = xz[header_at : header_at + size]
    props_at = header.index(b"\x21\x01") + 2  # filter id LZMA2, one byte of properties
    header[props_at] = dict_byte
    header[-4:] = binascii.crc32(bytes(header[:-4])).to_bytes(4, "little")
    xz[header_at : header_at + size] = header
    return bytes(xz)


def test_an_xz_dictionary_beyond_the_limit_is_refused(tmp_path: Path) -> None:
    ok = tmp_path / "ok.xz"
    ok.write_bytes(_xz_with_dictionary(PLAIN_LOG.read_bytes(), 20))  # 2 MiB dictionary: fine
    with open_stream(ok) as stream:
        assert stream.read() == PLAIN_LOG.read_bytes()
    huge = tmp_path / "huge.xz"
    huge.write_bytes(_xz_with_dictionary(PLAIN_LOG.read_bytes(), 40))  # 4 GiB - 1
    with pytest.raises(LimitExceeded, match="max_window_bytes"):
        open_stream(huge).read()


def test_a_deflated_zip_member_bomb_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "history.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("app-1", "w") as member:
        block = b"\x00" * (1 << 20)
        for _ in range(128):
            member.write(block)
    assert path.stat().st_size < 200_000
    with pytest.raises(LimitExceeded, match="decompression bomb"):
        list(LogReader(only_source(path)).events())


# --- not an event log ---------------------------------------------------------------------------


def test_random_bytes_are_not_an_event_log(tmp_path: Path) -> None:
    with pytest.raises(NotAnEventLog, match="not a Spark event log: no line is a Spark event"):
        analyze_source(only_source(random_bytes(tmp_path / "app-random")))


def test_nested_brackets_after_a_valid_line_name_no_application(tmp_path: Path) -> None:
    with pytest.raises(NotAnEventLog, match="no SparkListenerApplicationStart"):
        analyze_source(only_source(nested_brackets(tmp_path / "app-nested")))


def test_an_empty_log_is_not_an_application(tmp_path: Path) -> None:
    (tmp_path / "app-1.inprogress").write_bytes(b"")
    with pytest.raises(NotAnEventLog, match="0 lines"):
        analyze_source(only_source(tmp_path / "app-1.inprogress"))


# --- paths --------------------------------------------------------------------------------------


def test_scan_reports_loops_broken_links_and_goes_on(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    nested = logs / "a" / "b"
    nested.mkdir(parents=True)
    shutil.copy(PLAIN_LOG, nested / "app-1")
    up, self_link = symlink_loops(logs / "a")
    (logs / "dangling").symlink_to(tmp_path / "gone")
    found = scan([logs], max_depth=None)
    assert [s.name for s in found.sources] == ["app-1"]
    problems = {Path(p.path).name: p.error for p in found.problems}
    assert problems == {
        "up": f"symlink loop: {up} leads back to a directory being scanned",
        "self.zstd": "symlink loop (too many levels of symbolic links)",
        "dangling": f"broken symlink to {tmp_path / 'gone'}",
    }
    # One level deep (analyze's default) does not reach a/b, and names the same problems it meets.
    shallow = scan([logs], max_depth=1)
    assert shallow.sources == [] and {Path(p.path).name for p in shallow.problems} == {"self.zstd", "dangling"}
    with pytest.raises(OSError, match="Too many levels of symbolic links"):
        discover([self_link])
    with pytest.raises(FileNotFoundError, match="no such event log"):
        discover([tmp_path / "missing"])


def test_analyze_reports_every_bad_file_once_and_analyses_the_rest(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    os.chmod(tmp_path, 0o755)
    shutil.copy(PLAIN_LOG, logs / "app-good")
    bad = {
        "bomb.zstd": "decompression bomb",
        "app-random": "not a Spark event log",
        "app-nested": "no SparkListenerApplicationStart",
        "self.zstd": "symlink loop",
        "app-locked": "permission denied",
    }
    zstd_bomb(logs / "bomb.zstd")  # 2 GiB of one line, 64 KB on disk
    random_bytes(logs / "app-random")
    nested_brackets(logs / "app-nested")
    (logs / "self.zstd").symlink_to("self.zstd")
    unreadable(logs / "app-locked")
    out = tmp_path / "report.json"
    # Random bytes do not look like a log to a directory scan (nor does a README): named, they are read.
    args = ("analyze", str(logs), str(logs / "app-random"), "--format", "json", "-o", str(out))
    code, _, stderr, peak = run_cli(*args, dac=True)
    assert code == 1, stderr
    doc = json.loads(out.read_text())
    assert [a["app_id"] for a in doc["apps"]] == ["app-20261124030112-0000"]
    for name, why in bad.items():
        mentions = [line for line in stderr.splitlines() if name in line]
        assert len(mentions) == 1 and why in mentions[0], (name, stderr)
    assert len(stderr.splitlines()) == len(bad), stderr
    assert peak < 400, f"analyze peaked at {peak:.0f} MiB"


def test_analyze_in_parallel_writes_the_serial_report(tmp_path: Path) -> None:
    """``--jobs 3`` reads logs in worker processes: the same report bytes, messages and exit code as ``--jobs 1``."""
    logs = sorted(p for p in (EVENTLOGS / "recorded").iterdir() if p.is_dir())
    public = ("app-20161115172038-0000", "eventlog_3nodes_12cores_exec_removed")
    logs += [EVENTLOGS / "public" / name for name in public]
    random_bytes(tmp_path / "app-random")
    paths = [str(p) for p in logs] + [str(tmp_path / "app-random")]
    what_if = ("--what-if", "spark.dynamicAllocation.executorIdleTimeout=30s")
    runs = {}
    for jobs in ("1", "3"):
        out = tmp_path / f"report-{jobs}.json"
        code, _, stderr, _ = run_cli("analyze", *paths, *what_if, "--jobs", jobs, "--format", "json", "-o", str(out))
        runs[jobs] = (code, stderr.splitlines(), out.read_bytes())
    assert runs["3"] == runs["1"]
    code, stderr_lines, body = runs["1"]
    assert code == 1 and len(stderr_lines) == 1, stderr_lines
    assert "app-random" in stderr_lines[0] and "not a Spark event log" in stderr_lines[0]
    assert len(json.loads(body)["apps"]) >= len(logs)


# Loaded by every interpreter of the run (the CLI's and each spawned worker's) through PYTHONPATH:
# the analyzer raises on one log, as a bug of sparkprobe's own would.
_BUGGY_ANALYZER = """
import sparkprobe.offline as offline
_real = offline.analyze_source
def analyze_source(source, *args, **kwargs):
    if source.name == "app-buggy":
        raise KeyError("a bug")
    return _real(source, *args, **kwargs)
offline.analyze_source = analyze_source
"""


@pytest.mark.parametrize("jobs", ["1", "3"])
def test_an_analyzer_bug_on_one_log_is_one_reported_failure(jobs: str, tmp_path: Path) -> None:
    """Serially and in workers alike: that log is named with the error, the others are reported, exit 1."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(_BUGGY_ANALYZER)
    shutil.copy(PLAIN_LOG, tmp_path / "app-buggy")
    paths = [str(PLAIN_LOG), str(tmp_path / "app-buggy"), str(EVENTLOGS / "recorded" / "spark-3.5.9-lz4")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH", "")])))
    out = tmp_path / "report.json"
    code, _, stderr, _ = run_cli("analyze", *paths, "--jobs", jobs, "--format", "json", "-o", str(out), env=env)
    assert code == 1, stderr
    (line,) = stderr.splitlines()
    assert "app-buggy: internal error (KeyError at " in line and "a bug" in line, line
    assert len(json.loads(out.read_text())["apps"]) == 2
