"""Build the sparkprobe listener jar from jvm-listener/src/main/java with javac (stdlib only).

Called from setup.py at wheel build time (the jar is package data at sparkprobe/_jar/) and usable by
hand::

    python jvm-listener/build_jar.py OUT.jar [--spark-jars DIR]

Spark's jars come from ``--spark-jars``/``spark_jars``, else ``$SPARKPROBE_SPARK_JARS``, else the
``jars/`` directory of the installed ``pyspark``. Only the jars the listener compiles against are put
on the classpath. The jar is written with :mod:`zipfile`: manifest first, entries sorted, fixed
timestamps, so the same sources and JDK give a byte-identical jar.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import zipfile

__all__ = ["BuildError", "build_jar", "find_spark_jars"]

HERE = pathlib.Path(__file__).resolve().parent
SOURCES = HERE / "src" / "main" / "java"
ENV_SPARK_JARS = "SPARKPROBE_SPARK_JARS"
# The APIs the listener compiles against: Spark core, the Scala library (Option, Iterable, Tuple2),
# Spark's common-utils (holds some core types in Spark 4) and slf4j; Jackson's annotation jars only
# so that javac can read the annotations on Spark classes without warning.
CLASSPATH_PREFIXES = (
    "spark-core_",
    "scala-library-",
    "spark-common-utils",
    "slf4j-api-",
    "jackson-annotations-",
    "jackson-databind-",
)
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
MANIFEST = (
    "Manifest-Version: 1.0\r\n"
    "Created-By: sparkprobe build_jar.py\r\n"
    "Implementation-Title: sparkprobe-listener\r\n"
    "Implementation-Version: 0.1.0\r\n"
    "\r\n"
)


class BuildError(RuntimeError):
    """The jar cannot be built (no javac, no Spark jars, compilation failed)."""


def find_spark_jars(spark_jars: pathlib.Path | None = None) -> pathlib.Path:
    """The directory of Spark's jars: the argument, else $SPARKPROBE_SPARK_JARS, else pyspark/jars."""
    if spark_jars is None and os.environ.get(ENV_SPARK_JARS):
        spark_jars = pathlib.Path(os.environ[ENV_SPARK_JARS])
    if spark_jars is None:
        try:
            import pyspark
        except ImportError:
            raise BuildError(
                "no Spark jars: install pyspark, set $SPARKPROBE_SPARK_JARS or pass --spark-jars DIR"
            ) from None
        spark_jars = pathlib.Path(pyspark.__file__).resolve().parent / "jars"
    spark_jars = pathlib.Path(spark_jars)
    if not spark_jars.is_dir() or not any(spark_jars.glob("spark-core_*.jar")):
        raise BuildError(f"no spark-core_*.jar in {spark_jars}: not a Spark jars directory")
    return spark_jars


def _classpath(spark_jars: pathlib.Path) -> list[pathlib.Path]:
    jars = sorted(
        p for p in spark_jars.iterdir() if p.suffix == ".jar" and p.name.startswith(CLASSPATH_PREFIXES)
    )
    for prefix in ("spark-core_", "scala-library-", "slf4j-api-"):
        if not any(p.name.startswith(prefix) for p in jars):
            raise BuildError(f"no {prefix}*.jar in {spark_jars}")
    return jars


def _javac() -> str:
    javac = None
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = pathlib.Path(java_home) / "bin" / ("javac.exe" if os.name == "nt" else "javac")
        if candidate.is_file():
            javac = str(candidate)
    javac = javac or shutil.which("javac")
    if javac is None:
        raise BuildError("javac not found: install a JDK (8 or newer) or set $JAVA_HOME")
    return javac


def _release_8(javac: str) -> list[str]:
    """``--release 8``; a JDK 8 javac has no --release and compiles for 8 anyway."""
    proc = subprocess.run([javac, "-version"], capture_output=True, text=True)
    version = (proc.stdout + proc.stderr).strip()
    if version.startswith("javac 1."):
        return ["-source", "8", "-target", "8"]
    return ["--release", "8"]


def _write_jar(classes: pathlib.Path, out_path: pathlib.Path) -> None:
    tmp = out_path.with_name(out_path.name + ".tmp")
    entries = sorted(p.relative_to(classes).as_posix() for p in classes.rglob("*") if p.is_file())
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as jar:
            # The manifest first, as java.util.jar.JarInputStream expects.
            jar.writestr(_info("META-INF/", 0o40755 << 16 | 0x10), b"")
            jar.writestr(_info("META-INF/MANIFEST.MF", 0o100644 << 16), MANIFEST.encode("ascii"))
            dirs_written: set[str] = set()
            for name in entries:
                parts = name.split("/")[:-1]
                for i in range(1, len(parts) + 1):  # parent directory entries, in order, once each
                    d = "/".join(parts[:i]) + "/"
                    if d not in dirs_written:
                        dirs_written.add(d)
                        jar.writestr(_info(d, 0o40755 << 16 | 0x10), b"")
                jar.writestr(_info(name, 0o100644 << 16), (classes / name).read_bytes())
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)


def _info(name: str, attr: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, FIXED_TIME)
    info.external_attr = attr
    info.create_system = 3  # unix, so the attributes are fixed whatever builds the jar
    info.compress_type = zipfile.ZIP_STORED if name.endswith("/") else zipfile.ZIP_DEFLATED
    return info


def build_jar(out_path: pathlib.Path, spark_jars: pathlib.Path | None = None) -> pathlib.Path:
    """Compile the listener (``javac --release 8``) and write the jar to ``out_path``; returns it."""
    out_path = pathlib.Path(out_path).resolve()
    jars = _classpath(find_spark_jars(spark_jars))
    javac = _javac()
    sources = sorted(str(p) for p in SOURCES.rglob("*.java"))
    if not sources:
        raise BuildError(f"no Java sources under {SOURCES}")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sparkprobe-jar-") as tmp:
        classes = pathlib.Path(tmp) / "classes"
        classes.mkdir()
        cmd = [
            javac,
            *_release_8(javac),
            "-Xlint:all,-options,-processing",
            "-encoding",
            "UTF-8",
            "-Xmaxwarns",
            "100",
            "-implicit:none",
            "-cp",
            os.pathsep.join(str(p) for p in jars),
            "-d",
            str(classes),
            *sources,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BuildError(f"javac failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
        if proc.stderr.strip():
            print(proc.stderr, file=sys.stderr, end="")
        _write_jar(classes, out_path)
    return out_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the sparkprobe listener jar.")
    parser.add_argument("out", type=pathlib.Path, help="jar to write")
    parser.add_argument("--spark-jars", type=pathlib.Path, default=None, help="directory of Spark's jars")
    args = parser.parse_args(argv)
    try:
        path = build_jar(args.out, args.spark_jars)
    except BuildError as e:
        print(f"build_jar: {e}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
