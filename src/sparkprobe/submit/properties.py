"""spark-defaults.conf and ``--properties-file``: read for the three keys the builder needs, only those.

Invariant 6: a properties file can hold credentials, so nothing else is ever read from it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from sparkprobe.submit.command import PROPERTY_KEYS, SubmitArgs

__all__ = ["defaults_files", "load_defaults", "read_properties"]

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


def read_properties(text: str, keys: Iterable[str] = PROPERTY_KEYS) -> dict[str, str]:
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


def load_defaults(files: Sequence[Path]) -> dict[str, str]:
    """The builder's keys from these files, later files winning (a missing file is skipped)."""
    merged: dict[str, str] = {}
    for path in files:
        try:
            merged.update(read_properties(path.read_text(encoding="utf-8", errors="replace")))
        except OSError:
            continue  # a missing file is spark-submit's to report
    return merged
