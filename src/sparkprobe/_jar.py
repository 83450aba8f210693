"""The one place that finds the listener jar (invariant 5), and the Spark confs that load it."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["LISTENER_CLASS", "JarMissing", "jar_path", "listener_confs", "same_jar"]

#: The listener class to put in ``spark.extraListeners``.
LISTENER_CLASS = "io.sparkprobe.ProbeListener"

_JAR = Path(__file__).resolve().parent / "_jar" / "sparkprobe-listener.jar"


class JarMissing(FileNotFoundError):
    """The package was installed without its jar (built by ``javac`` at package build time)."""


def jar_path() -> str:
    """Absolute path of the ``io.sparkprobe.ProbeListener`` jar shipped inside this package."""
    if not _JAR.is_file():
        raise JarMissing(
            f"the listener jar is missing at {_JAR}: it is compiled with javac when the package is "
            "built; reinstall sparkprobe with a JDK (javac) on PATH, e.g. `pip install --force-reinstall .`"
        )
    return str(_JAR)


def same_jar(entry: str, jar: str) -> bool:
    """Whether a ``spark.jars`` entry (a path or a ``file:`` URL) names the file ``jar``."""
    if entry == jar:
        return True
    if entry.startswith("file:"):
        entry = entry[len("file:") :]
        while entry.startswith("//"):
            entry = entry[1:]
    elif ":" in entry.split("/", 1)[0]:
        return False  # another scheme (hdfs:, s3a:, local:, ...)
    return os.path.normpath(entry) == os.path.normpath(jar)


def _dedupe(items: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def listener_confs(
    endpoint: str, token: str, *, jars: Iterable[str] = (), listeners: Iterable[str] = (), jar: str | None = None
) -> dict[str, str]:
    """The Spark properties that load the listener and point it at an agent.

    ``jars`` and ``listeners`` are what the application already sets in ``spark.jars`` and
    ``spark.extraListeners``: they are kept, in order, with the listener's jar and class added once.
    Used by ``attach``/``configure`` (``sparkprobe.bridge``) and ``sparkprobe submit`` alike.
    """
    jar = jar or jar_path()
    jar_list = [j for j in jars if j]
    if not any(same_jar(entry, jar) for entry in jar_list):
        jar_list.append(jar)
    return {
        "spark.jars": ",".join(_dedupe(jar_list)),
        "spark.extraListeners": ",".join(_dedupe([*(c for c in listeners if c), LISTENER_CLASS])),
        "spark.sparkprobe.endpoint": endpoint,
        "spark.sparkprobe.token": token,
    }
