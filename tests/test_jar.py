"""The listener jar carries the package's version: one home for it (src/sparkprobe/_version.py).

The hello the listener sends names its version (``Sender.LISTENER_VERSION``, from the generated
``io.sparkprobe.BuildInfo``), and the jar's manifest says it too; both come from ``__version__`` at
build time, so a release cannot ship a listener that says another version than its package.
"""

from __future__ import annotations

import importlib.util
import types
import zipfile
from pathlib import Path

import pytest

import sparkprobe
from sparkprobe import jar_path

BUILD_JAR = Path(__file__).resolve().parents[1] / "jvm-listener" / "build_jar.py"


def _build_jar_module() -> types.ModuleType:
    """jvm-listener/build_jar.py, a script rather than a package module: loaded by its path."""
    spec = importlib.util.spec_from_file_location("build_jar", BUILD_JAR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_packaged_jar_says_the_package_version() -> None:
    with zipfile.ZipFile(jar_path()) as jar:
        manifest = jar.read("META-INF/MANIFEST.MF").decode("ascii")
        build_info = jar.read("io/sparkprobe/BuildInfo.class")
        sender = jar.read("io/sparkprobe/Sender.class")
    assert f"Implementation-Version: {sparkprobe.__version__}\r\n" in manifest
    version = sparkprobe.__version__.encode()
    assert version in build_info
    assert version in sender  # the hello's constant, inlined by javac


def test_build_jar_reads_the_version_from_the_package(tmp_path: Path) -> None:
    build_jar = _build_jar_module()
    assert build_jar.package_version() == sparkprobe.__version__
    broken = tmp_path / "_version.py"
    broken.write_text("VERSION = 'no'\n")
    with pytest.raises(build_jar.BuildError, match="no line __version__"):
        build_jar.package_version(broken)
    with pytest.raises(build_jar.BuildError, match="cannot read the version"):
        build_jar.package_version(tmp_path / "missing.py")
