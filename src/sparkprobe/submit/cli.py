"""The command line of ``sparkprobe submit`` (also ``python -m sparkprobe.submit``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from sparkprobe.submit.run import PROG, run_submit

__all__ = ["add_arguments", "build_parser", "main"]

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
    from sparkprobe.cli import add_price_arguments

    add_price_arguments(parser)
    parser.add_argument(
        "spark_args",
        nargs=argparse.REMAINDER,
        metavar="-- spark-submit ARGS",
        help="the spark-submit command line (client deploy mode)",
    )


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of ``python -m sparkprobe.submit`` (the arguments of ``sparkprobe submit``)."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="Run spark-submit with sparkprobe's listener and report what it saw."
    )
    add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sparkprobe.submit [options] -- spark-submit ARGS...``; returns the exit code."""
    return run_submit(build_parser().parse_args(argv))
