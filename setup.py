"""Build hook: compile the listener jar with javac into the wheel (never committed to git)."""

from __future__ import annotations

import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildPyWithJar(build_py):
    """``build_py`` plus ``jvm-listener/build_jar.py`` → ``sparkprobe/_jar/sparkprobe-listener.jar``."""

    def run(self) -> None:
        super().run()
        sys.path.insert(0, str(HERE / "jvm-listener"))
        from build_jar import build_jar

        build_jar(Path(self.build_lib) / "sparkprobe" / "_jar" / "sparkprobe-listener.jar")


setup(cmdclass={"build_py": BuildPyWithJar})
