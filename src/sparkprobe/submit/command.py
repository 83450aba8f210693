"""The spark-submit command builder of ``sparkprobe submit``: pure, no I/O, tested directly.

:func:`parse_submit_args` takes a spark-submit argument list apart the way spark-submit does;
:func:`build_command` adds the listener (the confs of :func:`sparkprobe._jar.listener_confs`) in
front of the application resource, merged with what the user set; :func:`find_spark_submit`
picks the spark-submit to run.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sparkprobe._jar import listener_confs

__all__ = [
    "DEPLOY_MODE_KEY",
    "FLAG_OPTIONS",
    "PROPERTY_KEYS",
    "VALUE_OPTIONS",
    "SubmitArgs",
    "SubmitError",
    "build_command",
    "check_client_mode",
    "find_spark_submit",
    "parse_submit_args",
    "split_spark_submit",
]

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

_JARS_KEY = "spark.jars"
_LISTENERS_KEY = "spark.extraListeners"
_ENDPOINT_KEY = "spark.sparkprobe.endpoint"
_TOKEN_KEY = "spark.sparkprobe.token"
#: The only keys read from properties files (sparkprobe.submit.properties).
PROPERTY_KEYS = (_JARS_KEY, _LISTENERS_KEY, DEPLOY_MODE_KEY)
_SUBMIT_NAMES = ("spark-submit", "spark-submit.cmd", "spark-submit2.cmd")


class SubmitError(ValueError):
    """The spark-submit command cannot be profiled as given (the message says why and what to do)."""



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


def build_command(
    spark_submit: str,
    args: Sequence[str] | SubmitArgs,
    *,
    jar: str,
    endpoint: str,
    token: str,
    defaults: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
) -> list[str]:
    """Return the spark-submit command with the listener added, as an argument list (pure).

    ``jar`` joins the jars (one ``--jars`` list: the user's ``--jars`` and ``spark.jars`` values,
    no duplicates), the listener class joins ``spark.extraListeners``, and the endpoint and token
    confs are set (:func:`sparkprobe._jar.listener_confs`); all go in front of the application
    resource. ``defaults`` holds ``spark.jars``, ``spark.extraListeners`` and
    ``spark.submit.deployMode`` from the properties files spark-submit would load
    (:mod:`sparkprobe.submit.properties`): their values are kept when the command line does not
    override them, as spark-submit itself would. Raises :class:`SubmitError` in cluster mode.
    """
    parsed = args if isinstance(args, SubmitArgs) else parse_submit_args(args)
    defaults = defaults or {}
    check_client_mode(parsed, defaults, env)
    confs = listener_confs(
        endpoint,
        token,
        jars=parsed.jars if parsed.jars_given else _split_list(defaults.get(_JARS_KEY, "")),
        listeners=parsed.listeners if parsed.listeners_given else _split_list(defaults.get(_LISTENERS_KEY, "")),
        jar=jar,
    )
    added = ["--jars", confs.pop(_JARS_KEY)]
    for key in (_LISTENERS_KEY, _ENDPOINT_KEY, _TOKEN_KEY):
        added += ["--conf", f"{key}={confs[key]}"]
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
