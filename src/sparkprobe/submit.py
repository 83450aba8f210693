"""``sparkprobe submit``: run ``spark-submit`` with the listener wired to an in-process agent.

The wrapper starts an agent on a free loopback port with a random token, adds the listener jar,
``spark.extraListeners`` and the endpoint/token settings to the user's ``spark-submit`` command
(in front of the application jar or Python file, merged with what the user already set), runs it,
and reports while it runs and when it ends:

- findings as they happen on stderr: one readable line each on a terminal, one JSON object per
  line otherwise;
- on a terminal, a one-line live status (executors active/idle, cached bytes, lost blocks);
- at the end the text summary of every application the job ran, ``--json`` (the report document)
  and ``--report`` (HTML), and a Pushgateway push with ``--pushgateway``.

The child inherits stdin, stdout and stderr: the application's output is never touched. On a
terminal the status sits on the last row, outside the scrolling region the child's output scrolls
in (see :class:`_Console`). The exit code is spark-submit's (130 after Ctrl-C, which is forwarded
to spark-submit).

Only client deploy mode is supported: in cluster mode the driver runs on a cluster node, which
cannot reach an agent listening on this machine's loopback address.

The command builder (:func:`parse_submit_args`, :func:`build_command`) is pure: no I/O, tested
directly. Properties files are read only for the three keys the builder needs (invariant 6).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from sparkprobe.outputs.report import format_bytes

__all__ = [
    "DEPLOY_MODE_KEY",
    "END_WAIT_S",
    "FLAG_OPTIONS",
    "VALUE_OPTIONS",
    "SubmitArgs",
    "SubmitError",
    "add_arguments",
    "build_command",
    "build_parser",
    "check_client_mode",
    "defaults_files",
    "find_spark_submit",
    "main",
    "parse_submit_args",
    "read_properties",
    "run_submit",
    "split_spark_submit",
]

#: spark-submit options that take a value (the launcher's ``SparkSubmitOptionParser``, Spark 3.5
#: and 4.x). ``--opt=value`` is accepted for every ``--`` option; ``-c`` is ``--conf``.
VALUE_OPTIONS: frozenset[str] = frozenset(
    {
        "--archives",
        "--class",
        "--conf",
        "-c",
        "--deploy-mode",
        "--driver-class-path",
        "--driver-cores",
        "--driver-default-class-path",
        "--driver-java-options",
        "--driver-library-path",
        "--driver-memory",
        "--executor-cores",
        "--executor-memory",
        "--exclude-packages",
        "--extra-properties-file",
        "--files",
        "--jars",
        "--keytab",
        "--kill",
        "--master",
        "--name",
        "--num-executors",
        "--packages",
        "--principal",
        "--properties-file",
        "--proxy-user",
        "--py-files",
        "--queue",
        "--remote",
        "--repositories",
        "--status",
        "--total-executor-cores",
    }
)

#: spark-submit options that take no value.
FLAG_OPTIONS: frozenset[str] = frozenset(
    {"--help", "-h", "--load-spark-defaults", "--supervise", "--usage-error", "--verbose", "-v", "--version"}
)

#: The Spark property behind ``--deploy-mode``.
DEPLOY_MODE_KEY = "spark.submit.deployMode"

#: Seconds to wait, after spark-submit exited, for the agent to process every application's end.
END_WAIT_S = 5.0

#: Seconds to wait for queued Pushgateway pushes at the end.
PUSH_WAIT_S = 20.0

_JARS_KEY = "spark.jars"
_LISTENERS_KEY = "spark.extraListeners"
_ENDPOINT_KEY = "spark.sparkprobe.endpoint"
_TOKEN_KEY = "spark.sparkprobe.token"
#: The only keys read from properties files.
_PROPERTY_KEYS = (_JARS_KEY, _LISTENERS_KEY, DEPLOY_MODE_KEY)
_SUBMIT_NAMES = ("spark-submit", "spark-submit.cmd", "spark-submit2.cmd")
_PROG = "sparkprobe submit"


class SubmitError(ValueError):
    """The spark-submit command cannot be profiled as given (the message says why and what to do)."""


# --------------------------------------------------------------------------- the command builder
@dataclass
class SubmitArgs:
    """A spark-submit argument list taken apart: options, application resource, application args.

    ``options`` keeps the user's options in order, without the ones sparkprobe rewrites (``--jars``,
    the ``spark.jars`` / ``spark.extraListeners`` confs, and any ``spark.sparkprobe.endpoint`` /
    ``token`` conf), whose values are collected in ``jars`` and ``listeners``.
    """

    options: list[str] = field(default_factory=list)
    #: The application jar / Python file / R file, or None (``--version``, ``--kill``, ``--status``).
    resource: str | None = None
    #: Arguments of the application, untouched.
    app_args: list[str] = field(default_factory=list)
    #: Jars from ``--jars`` and ``--conf spark.jars=`` in command-line order.
    jars: list[str] = field(default_factory=list)
    #: True when the command line sets jars (``--jars`` or ``spark.jars``), even to an empty list.
    jars_given: bool = False
    #: Listener classes from ``--conf spark.extraListeners=`` in command-line order.
    listeners: list[str] = field(default_factory=list)
    #: True when the command line sets ``spark.extraListeners``.
    listeners_given: bool = False
    #: Last ``--deploy-mode`` value, or None.
    deploy_mode_option: str | None = None
    #: Last ``--conf spark.submit.deployMode=`` value, or None.
    deploy_mode_conf: str | None = None
    #: ``--properties-file`` value, or None.
    properties_file: str | None = None
    #: ``--extra-properties-file`` values (Spark 4), in order.
    extra_properties_files: list[str] = field(default_factory=list)
    #: ``--load-spark-defaults`` given (Spark 4).
    load_spark_defaults: bool = False
    #: Keys of ``spark.sparkprobe.*`` confs the user passed that sparkprobe replaces (values never kept).
    replaced_keys: list[str] = field(default_factory=list)
    #: A last option missing its value: kept last, for spark-submit to report.
    trailing: list[str] = field(default_factory=list)

    def deploy_mode(
        self, defaults: Mapping[str, str] | None = None, env: Mapping[str, str] | None = None
    ) -> str:
        """Return the deploy mode spark-submit will use: option, ``DEPLOY_MODE`` env, conf, files."""
        for value in (
            self.deploy_mode_option,
            (env or {}).get("DEPLOY_MODE"),
            self.deploy_mode_conf,
            (defaults or {}).get(DEPLOY_MODE_KEY),
        ):
            if value:
                return value.strip()
        return "client"


def _split_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _dedupe(items: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def parse_submit_args(args: Sequence[str]) -> SubmitArgs:
    """Take a spark-submit argument list (without the ``spark-submit`` word) apart.

    Follows spark-submit's own parsing: options come first, each known option that takes a value
    consumes the next word (or its ``--opt=value`` suffix), and the first word that is not an option
    is the application resource; every word after it belongs to the application. An unknown option
    is kept as is (spark-submit will report it).
    """
    out = SubmitArgs()
    i = 0
    while i < len(args):
        word = args[i]
        name, value = word, None
        if word.startswith("--") and "=" in word:
            head, _, tail = word.partition("=")
            if head in VALUE_OPTIONS:
                name, value = head, tail
        if name in VALUE_OPTIONS:
            if value is None:
                if i + 1 >= len(args):  # missing value: leave it for spark-submit to report
                    out.trailing.append(word)
                    break
                value = args[i + 1]
                i += 1
            _take_option(out, name, value)
        elif word in FLAG_OPTIONS:
            if word == "--load-spark-defaults":
                out.load_spark_defaults = True
            out.options.append(word)
        elif word.startswith("-") and word != "-":
            out.options.append(word)
        else:
            out.resource = word
            out.app_args = list(args[i + 1 :])
            break
        i += 1
    return out


def _take_option(out: SubmitArgs, name: str, value: str) -> None:
    if name == "--jars":
        out.jars.extend(_split_list(value))
        out.jars_given = True
        return
    if name in ("--conf", "-c"):
        key, sep, conf_value = value.partition("=")
        key = key.strip()
        if sep:
            if key == _JARS_KEY:
                out.jars.extend(_split_list(conf_value))
                out.jars_given = True
                return
            if key == _LISTENERS_KEY:
                out.listeners.extend(_split_list(conf_value))
                out.listeners_given = True
                return
            if key in (_ENDPOINT_KEY, _TOKEN_KEY):
                out.replaced_keys.append(key)
                return
            if key == DEPLOY_MODE_KEY:
                out.deploy_mode_conf = conf_value
    elif name == "--deploy-mode":
        out.deploy_mode_option = value
    elif name == "--properties-file":
        out.properties_file = value
    elif name == "--extra-properties-file":
        out.extra_properties_files.append(value)
    out.options += [name, value]


def _same_jar(entry: str, jar: str) -> bool:
    if entry == jar:
        return True
    if entry.startswith("file:"):
        entry = entry[len("file:") :]
        while entry.startswith("//"):
            entry = entry[1:]
    elif ":" in entry.split("/", 1)[0]:
        return False  # another scheme (hdfs:, s3a:, local:, ...)
    return os.path.normpath(entry) == os.path.normpath(jar)


def build_command(
    spark_submit: str,
    args: Sequence[str] | SubmitArgs,
    *,
    jar: str,
    listener: str,
    endpoint: str,
    token: str,
    defaults: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
) -> list[str]:
    """Return the spark-submit command with the listener added, as an argument list (pure).

    ``jar`` joins the jars (one ``--jars`` list: the user's ``--jars`` and ``spark.jars`` values,
    no duplicates), ``listener`` joins ``spark.extraListeners``, and the endpoint and token confs
    are set; all go in front of the application resource. ``defaults`` holds ``spark.jars``,
    ``spark.extraListeners`` and ``spark.submit.deployMode`` from the properties files spark-submit
    would load (:func:`read_properties`): their values are kept when the command line does not
    override them, as spark-submit itself would. Raises :class:`SubmitError` in cluster mode.
    """
    parsed = args if isinstance(args, SubmitArgs) else parse_submit_args(args)
    defaults = defaults or {}
    check_client_mode(parsed, defaults, env)
    jars = parsed.jars if parsed.jars_given else _split_list(defaults.get(_JARS_KEY, ""))
    if not any(_same_jar(entry, jar) for entry in jars):
        jars = [*jars, jar]
    listeners = parsed.listeners if parsed.listeners_given else _split_list(defaults.get(_LISTENERS_KEY, ""))
    added = [
        "--jars",
        ",".join(_dedupe(jars)),
        "--conf",
        f"{_LISTENERS_KEY}={','.join(_dedupe([*listeners, listener]))}",
        "--conf",
        f"{_ENDPOINT_KEY}={endpoint}",
        "--conf",
        f"{_TOKEN_KEY}={token}",
    ]
    tail = [] if parsed.resource is None else [parsed.resource, *parsed.app_args]
    return [spark_submit, *parsed.options, *added, *tail, *parsed.trailing]


def check_client_mode(
    parsed: SubmitArgs, defaults: Mapping[str, str] | None = None, env: Mapping[str, str] | None = None
) -> None:
    """Raise :class:`SubmitError` unless the driver will run here (client deploy mode)."""
    mode = parsed.deploy_mode(defaults, env)
    if mode != "client":
        raise SubmitError(
            f"deploy mode {mode!r} is not supported: in cluster mode the driver runs on a cluster node "
            "and cannot reach the agent sparkprobe submit runs on this machine's loopback address. "
            "Use --deploy-mode client, or run `sparkprobe agent` where the driver can reach it (with "
            "--token) and pass its jar, spark.extraListeners, spark.sparkprobe.endpoint and "
            "spark.sparkprobe.token to spark-submit yourself."
        )


# --------------------------------------------------------------------------- properties files
def _unescape(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "u" and i + 6 <= len(text):
                try:
                    out.append(chr(int(text[i + 2 : i + 6], 16)))
                    i += 6
                    continue
                except ValueError:
                    pass
            out.append({"t": "\t", "n": "\n", "r": "\r", "f": "\f"}.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def read_properties(text: str, keys: Iterable[str] = _PROPERTY_KEYS) -> dict[str, str]:
    """Return the values of ``keys`` in a Java properties text (spark-defaults.conf), only those.

    Handles comments (``#``, ``!``), ``key=value`` / ``key: value`` / ``key value`` lines, line
    continuations and backslash escapes. Values are trimmed, as Spark trims them.
    """
    wanted = set(keys)
    found: dict[str, str] = {}
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = (pending + raw.lstrip()) if pending else raw.lstrip()
        if not pending and (not line or line[0] in "#!"):
            continue
        trailing = len(line) - len(line.rstrip("\\"))
        if trailing % 2 == 1:
            pending = line[:-1]
            continue
        pending = ""
        logical.append(line)
    if pending:
        logical.append(pending)
    for line in logical:
        i = 0
        while i < len(line):
            if line[i] == "\\":
                i += 2
                continue
            if line[i] in "=: \t\f":
                break
            i += 1
        key = _unescape(line[:i])
        rest = line[i:].lstrip(" \t\f")
        if rest[:1] in ("=", ":"):
            rest = rest[1:].lstrip(" \t\f")
        if key in wanted:
            found[key] = _unescape(rest).strip()
    return found


def _spark_conf_dir(spark_submit: str | None, env: Mapping[str, str]) -> Path | None:
    if env.get("SPARK_CONF_DIR"):
        return Path(env["SPARK_CONF_DIR"])
    if env.get("SPARK_HOME"):
        return Path(env["SPARK_HOME"]) / "conf"
    if spark_submit:
        home = Path(spark_submit).resolve().parent.parent
        if (home / "jars").is_dir():
            return home / "conf"
    spec = importlib.util.find_spec("pyspark")  # pip's spark-submit runs from the pyspark package
    if spec is not None and spec.origin:
        return Path(spec.origin).parent / "conf"
    return None


def defaults_files(parsed: SubmitArgs, spark_submit: str | None, env: Mapping[str, str]) -> list[Path]:
    """Return the properties files spark-submit will load, lowest precedence first."""
    files: list[Path] = []
    if parsed.properties_file is None or parsed.load_spark_defaults:
        conf_dir = _spark_conf_dir(spark_submit, env)
        if conf_dir is not None:
            files.append(conf_dir / "spark-defaults.conf")
    if parsed.properties_file is not None:
        files.append(Path(parsed.properties_file))
    files.extend(Path(p) for p in parsed.extra_properties_files)
    return files


def _load_defaults(files: Sequence[Path]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in files:
        try:
            merged.update(read_properties(path.read_text(encoding="utf-8", errors="replace")))
        except OSError:
            continue  # a missing file is spark-submit's to report
    return merged


# --------------------------------------------------------------------------- finding spark-submit
def split_spark_submit(words: Sequence[str]) -> tuple[str | None, list[str]]:
    """Split ``[spark-submit-or-path, args...]`` into (that first word or None, the args)."""
    words = list(words)
    if words and os.path.basename(words[0]) in _SUBMIT_NAMES:
        return words[0], words[1:]
    return None, words


def find_spark_submit(
    explicit: str | None = None,
    first_word: str | None = None,
    *,
    executable: str | None = None,
    path: str | None = None,
) -> str | None:
    """Return the spark-submit to run, or None when there is none.

    ``explicit`` (``--spark-submit``) wins, then the word given after ``--``. A path is used as is;
    a bare ``spark-submit`` word is looked up on PATH, then next to the Python interpreter. With
    neither, the one next to the interpreter (the pyspark this sparkprobe runs with) comes first.
    """
    exe_dir = Path(executable or sys.executable).parent  # not resolved: a venv's bin/ holds it
    beside = exe_dir / "spark-submit"
    beside_found = str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None
    for given in (explicit, first_word):
        if not given:
            continue
        if os.sep in given or (os.altsep and os.altsep in given):
            return given
        return shutil.which(given, path=path) or (beside_found if given == "spark-submit" else None)
    return beside_found or shutil.which("spark-submit", path=path)


# --------------------------------------------------------------------------- terminal / stderr
def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


class _Console:
    """Everything sparkprobe writes to stderr, serialized; on a terminal, the live status row.

    The status lives on the terminal's last row, outside a scrolling region that covers the rows
    above it (DECSTBM, as apt's progress bar does): whatever the application writes to the same
    terminal, on stdout or stderr, scrolls above it and can neither overwrite it nor be
    overwritten. Each redraw is one ``write()`` (save cursor, draw, restore cursor), so it cannot
    interleave with the child's writes. Not used when ``TERM`` is unset or ``dumb``.
    """

    def __init__(self, stream: TextIO, tty: bool | None = None, term: str | None = None) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        term = os.environ.get("TERM", "") if term is None else term
        self.live = self.tty and term not in ("", "dumb")
        self.lock = threading.RLock()
        self._rows = 0  # terminal rows the status area was set up for; 0: no status area

    def line(self, text: str) -> None:
        """Write one line (or a block of lines)."""
        with self.lock:
            self.stream.write(text + "\n")
            self.stream.flush()

    def event(self, event: str, text: str, level: str = "info", **fields: Any) -> None:
        """Write a message: ``sparkprobe: text`` on a terminal, a JSON object otherwise."""
        if self.tty:
            self.line(f"sparkprobe: {text}")
        else:
            doc = {"event": event, "message": text, **fields, "level": level, "timestamp": _now_iso()}
            self.line(json.dumps(doc, default=str))

    def _size(self) -> os.terminal_size | None:
        try:
            return os.get_terminal_size(self.stream.fileno())
        except (AttributeError, OSError, ValueError):
            return None

    def _raw(self, text: str) -> None:
        self.stream.flush()
        try:
            os.write(self.stream.fileno(), text.encode("utf-8", errors="replace"))
        except (AttributeError, OSError, ValueError):
            self.stream.write(text)
            self.stream.flush()

    def _set_region(self, rows: int) -> None:
        # A newline first, so the line the cursor is on is not left under the status row.
        self._raw(f"\n\x1b7\x1b[1;{rows - 1}r\x1b8\x1b[1A")
        self._rows = rows

    def start_status(self) -> None:
        """Reserve the terminal's last row for the status (terminal only)."""
        if not self.live:
            return
        size = self._size()
        if size is None or size.lines < 3:
            return
        with self.lock:
            self._set_region(size.lines)

    def status(self, text: str) -> None:
        """Show ``text`` on the status row, cut to the terminal's width."""
        if not self._rows:
            return
        size = self._size()
        if size is None or size.lines < 3:
            return
        with self.lock:
            if size.lines != self._rows:  # resized: move the region's bottom
                self._set_region(size.lines)
            width = max(10, size.columns - 1)
            if len(text) > width:
                text = text[: width - 3] + "..."
            self._raw(f"\x1b7\x1b[{self._rows};1H\x1b[2K{text}\x1b8")

    def stop_status(self) -> None:
        """Give the whole terminal back and blank the status row."""
        with self.lock:
            if not self._rows:
                return
            self._raw(f"\x1b7\x1b[r\x1b8\x1b7\x1b[{self._rows};1H\x1b[2K\x1b8")
            self._rows = 0


class _LineWriter:
    """A text stream for structlog that hands whole lines to the console."""

    def __init__(self, console: _Console) -> None:
        self.console = console
        self._buf = ""

    def write(self, text: str) -> int:
        """Buffer ``text``; emit every completed line."""
        self._buf += text
        while "\n" in self._buf:
            line, self._buf = self._buf.split("\n", 1)
            self.console.line(line)
        return len(text)

    def flush(self) -> None:
        """Nothing to do: lines are emitted as they complete."""

    def isatty(self) -> bool:
        """Whether the console is a terminal (picks structlog's renderer)."""
        return self.console.tty


def _finding_line(app_id: str, app_name: str, finding: dict[str, Any]) -> str:
    label = app_name or app_id or "?"
    return f"sparkprobe: {finding.get('kind', '?')}: {finding.get('message', '')} [{label}]"


def _finding_json(app_id: str, app_name: str, finding: dict[str, Any]) -> str:
    doc: dict[str, Any] = {"event": finding.get("kind", "finding"), "app_id": app_id, "app_name": app_name}
    doc.update((k, v) for k, v in finding.items() if k != "kind")
    doc["level"] = "warning"
    doc["timestamp"] = _now_iso()
    return json.dumps(doc, default=str)


def _status_text(snap: dict[str, Any] | None) -> str:
    if not snap:
        return "sparkprobe | waiting for the Spark driver to connect..."
    cached = snap["cached_bytes"]["memory"] + snap["cached_bytes"]["disk"]
    tasks = snap["tasks"]
    name = snap.get("app_name") or snap.get("app_id") or "?"
    return (
        f"sparkprobe | {name}{'' if snap['running'] else ' (ended)'}"
        f" | executors {snap['executors_active']} active, {snap['executors_idle']} idle"
        f" | cached {format_bytes(cached)}"
        f" | lost {snap['cache_lost_blocks']} blocks ({format_bytes(snap['cache_lost_bytes'])})"
        f" | tasks {tasks['running']} running, {tasks['success']} done"
    )


# --------------------------------------------------------------------------- running
class _Forwarder:
    """Forwards SIGINT / SIGTERM to spark-submit; escalates on repeats (SIGTERM, then SIGKILL)."""

    def __init__(self, proc: subprocess.Popen[bytes], console: _Console) -> None:
        self.proc = proc
        self.console = console
        self.interrupted = False
        self.terminated = False
        self.count = 0
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        """Handle the signals (main thread only; elsewhere Python cannot)."""
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)

    def restore(self) -> None:
        """Put the previous handlers back."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.count += 1
        if signum == signal.SIGINT:
            self.interrupted = True
        else:
            self.terminated = True
        send = signum if self.count == 1 else signal.SIGTERM if self.count == 2 else signal.SIGKILL
        try:
            self.proc.send_signal(send)
        except (ProcessLookupError, OSError):
            return
        name = signal.Signals(send).name
        hint = " (again to force)" if send != signal.SIGKILL else ""
        self.console.event(
            "submit_signal", f"forwarded {name} to spark-submit, waiting for it to stop{hint}", signal=name
        )


def _ticker(agent: Any, console: _Console, stop: threading.Event) -> None:
    while not stop.wait(1.0):
        with agent.lock:
            recs = list(agent.apps.values())
            running = [r for r in recs if r.ended_at is None]
            pick = (running or recs or [None])[-1]
            snap = agent.summarize(pick) if pick is not None else None
        console.status(_status_text(snap))


def _wait_for_ends(agent: Any, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        with agent.lock:
            done = agent.connections_open == 0 and all(r.ended_at is not None for r in agent.apps.values())
        if done:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _check_output_path(path: str | None, flag: str) -> str | None:
    if path is None:
        return None
    parent = Path(path).expanduser().resolve().parent
    if not parent.is_dir():
        return f"{flag} {path}: directory {parent} does not exist"
    if Path(path).is_dir():
        return f"{flag} {path}: is a directory"
    return None


def _write_file(path: str, data: str | bytes) -> None:
    target = Path(path).expanduser()
    tmp = target.with_name(f".{target.name}.sparkprobe-tmp")
    if isinstance(data, str):
        tmp.write_text(data, encoding="utf-8")
    else:
        tmp.write_bytes(data)
    os.replace(tmp, target)


def run_submit(args: argparse.Namespace) -> int:
    """Run ``sparkprobe submit`` (parsed by :func:`add_arguments`); returns the exit code."""
    console = _Console(sys.stderr)
    words = list(args.spark_args or [])
    if words and words[0] == "--":
        words = words[1:]
    first, user_args = split_spark_submit(words)
    submit = find_spark_submit(args.spark_submit, first)
    if submit is None:
        what = args.spark_submit or first or "spark-submit"
        console.line(
            f"{_PROG}: cannot find {what}: install pyspark next to sparkprobe, put spark-submit on "
            "PATH, or pass --spark-submit PATH"
        )
        return 127
    if not user_args:
        console.line(f"{_PROG}: nothing to submit; usage: {_PROG} [options] -- spark-submit ARGS...")
        return 2
    for problem in (_check_output_path(args.json, "--json"), _check_output_path(args.report, "--report")):
        if problem:
            console.line(f"{_PROG}: {problem}")
            return 2

    from sparkprobe._jar import LISTENER_CLASS, JarMissing, jar_path
    from sparkprobe.agent import parse_hostport

    try:
        jar = jar_path()
    except JarMissing as exc:
        console.line(f"{_PROG}: {exc}")
        return 2
    metrics_at: tuple[str, int] | None = None
    if args.metrics:
        try:
            metrics_at = parse_hostport(args.metrics)
        except ValueError as exc:
            console.line(f"{_PROG}: --metrics: {exc}")
            return 2
    parsed = parse_submit_args(user_args)
    defaults = _load_defaults(defaults_files(parsed, submit, os.environ))
    try:
        check_client_mode(parsed, defaults, os.environ)
    except SubmitError as exc:
        console.line(f"{_PROG}: {exc}")
        return 2
    if parsed.replaced_keys:
        console.event(
            "submit_conf_replaced",
            f"replacing {', '.join(sorted(set(parsed.replaced_keys)))}: submit runs its own agent",
            keys=sorted(set(parsed.replaced_keys)),
        )
    return _run(args, console, submit, parsed, defaults, jar, LISTENER_CLASS, metrics_at)


def _run(
    args: argparse.Namespace,
    console: _Console,
    submit: str,
    parsed: SubmitArgs,
    defaults: Mapping[str, str],
    jar: str,
    listener: str,
    metrics_at: tuple[str, int] | None,
) -> int:
    import logging

    import structlog

    from sparkprobe.agent import Agent, AppRecord
    from sparkprobe.outputs.logs import configure_logging

    saved_logging = structlog.get_config()
    configure_logging(_LineWriter(console), level=logging.WARNING)  # type: ignore[arg-type]

    def on_finding(rec: AppRecord, finding: dict[str, Any]) -> None:
        render = _finding_line if console.tty else _finding_json
        console.line(render(rec.state.app_id, rec.state.app_name, finding))

    token = secrets.token_hex(16)
    # submit prints each finding itself (on_finding): the agent's own log line would repeat it.
    agent = Agent(token=token, retention_s=float("inf"), on_finding=on_finding, log_findings=False)
    server: Any = None
    exporter: Any = None
    try:
        host, port = agent.start("127.0.0.1", 0)
        if metrics_at is not None:
            from sparkprobe.outputs.prometheus import MetricsServer

            server = MetricsServer(agent)
            try:
                server.start(*metrics_at)
            except OSError as exc:
                console.line(f"{_PROG}: cannot serve metrics on {args.metrics}: {exc.strerror or exc}")
                server = None
                return 2
        if args.pushgateway:
            exporter = _pushgateway(args.pushgateway, agent, server, console)
        command = build_command(
            submit,
            parsed,
            jar=jar,
            listener=listener,
            endpoint=f"{host}:{port}",
            token=token,
            defaults=defaults,
            env=os.environ,
        )
        console.event(
            "submit_started",
            f"profiling {os.path.basename(submit)} (agent {host}:{port}"
            + (f", metrics {server.url}" if server is not None else "")
            + ")",
            agent=f"{host}:{port}",
            metrics=server.url if server is not None else None,
        )
        code = _supervise(command, console, agent)
        _finish(args, console, agent, exporter)
        return code
    finally:
        console.stop_status()
        if server is not None:
            server.stop()
        agent.stop()
        structlog.configure(**saved_logging)


def _pushgateway(url: str, agent: Any, server: Any, console: _Console) -> Any:
    try:
        from sparkprobe.outputs.pushgateway import PushgatewayExporter
    except ImportError as exc:
        console.event(
            "pushgateway_unavailable",
            f"--pushgateway: this install has no Pushgateway exporter ({exc}); nothing will be pushed",
            level="error",
        )
        return None
    exporter = PushgatewayExporter(url)
    exporter.install(agent)
    if server is not None:
        server.registry.register(exporter)
    return exporter


def _supervise(command: list[str], console: _Console, agent: Any) -> int:
    """Run spark-submit to its end; return its exit code (130 / 143 after a forwarded signal)."""
    try:
        proc = subprocess.Popen(command)
    except OSError as exc:
        console.line(f"{_PROG}: cannot run {command[0]}: {exc.strerror or exc}")
        return 126 if isinstance(exc, PermissionError) else 127
    forwarder = _Forwarder(proc, console)
    forwarder.install()
    stop = threading.Event()
    ticker: threading.Thread | None = None
    console.start_status()
    if console.live:
        console.status(_status_text(None))
        ticker = threading.Thread(
            target=_ticker, args=(agent, console, stop), name="sparkprobe-status", daemon=True
        )
        ticker.start()
    try:
        returncode = proc.wait()
        if not _wait_for_ends(agent, END_WAIT_S):
            console.event(
                "submit_app_end_missing",
                f"no ApplicationEnd within {END_WAIT_S:g}s of spark-submit exiting: figures end at the "
                "last event received and are marked incomplete",
                level="warning",
            )
    finally:
        stop.set()
        if ticker is not None:
            ticker.join(timeout=2.0)
        forwarder.restore()
        console.stop_status()
    if forwarder.interrupted:
        return 130
    if forwarder.terminated:
        return 143
    return returncode if returncode >= 0 else 128 - returncode


def _finish(args: argparse.Namespace, console: _Console, agent: Any, exporter: Any) -> None:
    from sparkprobe.events import AppEnd
    from sparkprobe.outputs.report import format_text, to_json

    with agent.lock:
        unended = [r for r in agent.apps.values() if r.ended_at is None]
    for rec in unended:
        # What the agent does after --app-timeout, done now: the driver is gone.
        rec.closed_by_timeout = True
        agent.ingest(rec, [AppEnd(time=rec.state.last_time)])
    with agent.lock:
        summaries = [agent.summarize(rec) for rec in agent.apps.values()]
    if not summaries:
        console.event(
            "submit_no_app",
            "no Spark application reported to sparkprobe (it failed before its SparkContext started, "
            "or ran no SparkContext in this process, e.g. --remote or --version)",
            level="warning",
        )
    for summary in summaries:
        console.line("\n" + format_text(summary))
    if args.json:
        try:
            _write_file(args.json, to_json(summaries) + "\n")
        except OSError as exc:
            console.event("submit_output_failed", f"--json {args.json}: {exc}", level="error")
    if args.report:
        _write_html(args.report, summaries, console)
    if exporter is not None:
        _close_exporter(exporter, console, len(summaries))


def _write_html(path: str, summaries: list[dict[str, Any]], console: _Console) -> None:
    try:
        module = importlib.import_module("sparkprobe.outputs.html")
        render = module.render_html
    except (ImportError, AttributeError) as exc:
        console.event(
            "submit_output_failed",
            f"--report {path}: this install of sparkprobe has no HTML report renderer "
            f"(sparkprobe.outputs.html.render_html: {exc}); no HTML report written",
            level="error",
        )
        return
    try:
        html = render(summaries)
        if not isinstance(html, (str, bytes)):
            raise TypeError(f"render_html returned {type(html).__name__}, not text")
        _write_file(path, html)
    except Exception as exc:  # noqa: BLE001 - a report failing must not change the job's exit code
        console.event("submit_output_failed", f"--report {path}: {type(exc).__name__}: {exc}", level="error")


def _close_exporter(exporter: Any, console: _Console, apps: int) -> None:
    exporter.close(timeout_s=PUSH_WAIT_S)
    pushed, failed, dropped = exporter.pushed, exporter.failed, exporter.dropped
    if failed or dropped:
        console.event(
            "submit_push_failed",
            f"Pushgateway {exporter.url}: {pushed} pushed, {failed} failed, {dropped} dropped"
            + (f" (last error: {exporter.last_error})" if exporter.last_error else ""),
            level="error",
            pushed=pushed,
            failed=failed,
            dropped=dropped,
        )
    elif pushed < apps:
        console.event(
            "submit_push_pending",
            f"Pushgateway {exporter.url}: {pushed} of {apps} pushed; the rest still pending after "
            f"{PUSH_WAIT_S:g}s",
            level="warning",
            pushed=pushed,
        )
    elif pushed:
        console.event("submit_pushed", f"pushed {pushed} app(s) to {exporter.url}", pushed=pushed)


# --------------------------------------------------------------------------- command line
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``submit``'s arguments to ``parser`` (the same lines as in ``sparkprobe.cli``)."""
    parser.add_argument("--metrics", default=None, help="serve /metrics on HOST:PORT while the job runs")
    parser.add_argument("--pushgateway", default=None, help="push each finished app to this Pushgateway URL")
    parser.add_argument("--report", default=None, metavar="FILE.html", help="write the HTML report here")
    parser.add_argument("--json", default=None, metavar="FILE", help="write the JSON report here at the end")
    parser.add_argument(
        "--spark-submit",
        default=None,
        metavar="PATH",
        help="spark-submit to run (default: the word after --, else the one next to this Python, else PATH)",
    )
    parser.add_argument(
        "spark_args",
        nargs=argparse.REMAINDER,
        metavar="-- spark-submit ARGS",
        help="the spark-submit command line (client deploy mode)",
    )


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of ``python -m sparkprobe.submit`` (the arguments of ``sparkprobe submit``)."""
    parser = argparse.ArgumentParser(
        prog=_PROG, description="Run spark-submit with sparkprobe's listener and report what it saw."
    )
    add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sparkprobe.submit [options] -- spark-submit ARGS...``; returns the exit code."""
    return run_submit(build_parser().parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
