"""Child of ``offline.py --shared``: ``analyze`` of one log against ``orjson.loads`` of its lines, in one process.

Run with the sparkprobe under test first on PYTHONPATH::

    python benchmarks/_offline_ratio.py LOG [--repeat 3] [--json-out FILE]

It decompresses the log once into memory (sparkprobe's own reader of that tree, so every codec
and layout works), then alternates, ``--repeat`` times: (a) ``orjson.loads`` of every line, the
floor the issue sets; (b) ``sparkprobe analyze LOG --format json`` run in this process
(``sparkprobe.cli.main``: discovery, decompression, parsing, the analyzer, the report and its
JSON), output to /dev/null. Each is timed in CPU seconds of this process (``process_time``) and
the best of the repeats is kept, so a busy machine costs both the same and the ratio holds.
Prints one JSON object; with ``--json-out`` the report itself is also written there (the
byte-identical check compares two trees' files).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path


def _lines(path: str) -> tuple[list[bytes], list[str]]:
    from sparkprobe.sources.eventlog import discover

    sources = discover([path])
    lines: list[bytes] = []
    codecs: list[str] = []
    for source in sources:
        for part in source.parts:
            stream = part.open()
            try:
                codecs.append(stream.codec)
                lines.extend(stream)
            finally:
                stream.close()
    return lines, codecs


def profile_top(run: Callable[[], object], n: int) -> list[dict[str, object]]:
    """cProfile of one ``run()``: the ``n`` functions with the most own time (cProfile's clock)."""
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.runcall(run)
    stats = pstats.Stats(prof)
    total = sum(row[2] for row in stats.stats.values())
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:n]
    return [{"function": f"{Path(file).name}:{line}({name})", "calls": nc, "own_s": round(tt, 4),
             "cum_s": round(ct, 4), "share": round(tt / total, 3) if total else 0.0}
            for (file, line, name), (_cc, nc, tt, ct, _callers) in rows]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json-out", default="", help="also write the analyze JSON report here")
    ap.add_argument("--profile", type=int, default=0, help="also profile one analyze (cProfile): the top N by own time")
    args = ap.parse_args()

    import orjson

    from sparkprobe.cli import main as cli_main

    lines, codecs = _lines(args.log)
    loads = orjson.loads
    parse_s: list[float] = []
    analyze_s: list[float] = []
    failures = 0
    for _ in range(args.repeat):
        gc.collect()
        c0 = time.process_time()
        for line in lines:
            try:
                loads(line)
            except ValueError:
                failures += 1  # a malformed line: orjson's verdict costs what it costs
        parse_s.append(time.process_time() - c0)
        gc.collect()
        c0 = time.process_time()
        rc = cli_main(["analyze", args.log, "--format", "json", "-o", os.devnull])
        analyze_s.append(time.process_time() - c0)
    if args.json_out:
        rc = cli_main(["analyze", args.log, "--format", "json", "-o", args.json_out])
    profile = profile_top(lambda: cli_main(["analyze", args.log, "--format", "json", "-o", os.devnull]),
                          args.profile) if args.profile else []
    print(json.dumps({
        "log": args.log, "lines": len(lines), "bytes": sum(map(len, lines)), "codecs": sorted(set(codecs)),
        "orjson_cpu_s": min(parse_s), "analyze_cpu_s": min(analyze_s), "orjson_runs": parse_s,
        "analyze_runs": analyze_s, "orjson_failures": failures // max(1, args.repeat), "analyze_rc": rc,
        "ratio": min(analyze_s) / min(parse_s) if min(parse_s) > 0 else float("nan"), "profile": profile,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
