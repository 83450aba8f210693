"""structlog set-up: readable on a terminal, one JSON object per line otherwise."""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog

__all__ = ["configure_logging", "get_logger"]


def configure_logging(stream: TextIO | None = None, *, json: bool | None = None, level: int = logging.INFO) -> None:
    """Configure structlog for sparkprobe's own events.

    ``json`` None picks JSON lines when ``stream`` is not a terminal (piped into a collector) and a
    coloured console layout when it is.
    """
    out = stream or sys.stderr
    as_json = not out.isatty() if json is None else json
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )


def get_logger(**bind: Any) -> Any:
    """A structlog logger bound to ``bind`` (e.g. ``app_id``)."""
    return structlog.get_logger("sparkprobe").bind(**bind)
