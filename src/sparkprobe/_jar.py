"""The one place that finds the listener jar (invariant 5)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["LISTENER_CLASS", "JarMissing", "jar_path"]

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
