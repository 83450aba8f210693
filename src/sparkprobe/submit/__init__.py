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

Only client deploy mode is supported: in cluster mode the driver runs on a cluster node, which
cannot reach an agent listening on this machine's loopback address.

Where things are: :mod:`~sparkprobe.submit.command` (the pure command builder),
:mod:`~sparkprobe.submit.properties` (spark-defaults.conf, three keys only),
:mod:`~sparkprobe.submit.console` (stderr and the status row), :mod:`~sparkprobe.submit.run`
(the run), :mod:`~sparkprobe.submit.cli` (arguments).
"""

from sparkprobe.submit.cli import add_arguments, build_parser, main
from sparkprobe.submit.command import (
    DEPLOY_MODE_KEY,
    FLAG_OPTIONS,
    VALUE_OPTIONS,
    SubmitArgs,
    SubmitError,
    build_command,
    check_client_mode,
    find_spark_submit,
    parse_submit_args,
    split_spark_submit,
)
from sparkprobe.submit.properties import defaults_files, read_properties
from sparkprobe.submit.run import END_WAIT_S, run_submit

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
