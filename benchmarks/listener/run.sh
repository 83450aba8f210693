#!/usr/bin/env bash
# Listener throughput benchmarks; see README.md next to this script.
#   benchmarks/listener/run.sh                       # offer 5, e2e 5, sustained 100000 10, bus 2000 10 2
#   benchmarks/listener/run.sh offer|e2e [seconds]
#   benchmarks/listener/run.sh sustained [rate] [seconds]
#   benchmarks/listener/run.sh bus [rate] [seconds] [noise threads]     ($JOPTS: extra JVM options)
# Needs a JDK and an installed pyspark (its jars are the classpath); $PYTHON picks the interpreter,
# $SPARKPROBE_SPARK_JARS overrides the jars directory.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3}"
jars="${SPARKPROBE_SPARK_JARS:-$("$python" -c 'import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), "jars"))')}"
work="$(mktemp -d "${TMPDIR:-/tmp}/sparkprobe-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT

"$python" "$repo/jvm-listener/build_jar.py" "$work/sparkprobe-listener.jar" --spark-jars "$jars" >/dev/null
cp="$work/sparkprobe-listener.jar:$jars/*"
# -nowarn + filter: javac notes about Jackson annotations on Spark classes are noise here.
javac -nowarn -encoding UTF-8 -cp "$cp" -d "$work/classes" "$here/EncodeBench.java" 2>&1 \
    | grep -v '^warning\|^Note\|^ *reason\|Cannot find annotation\|warnings$' || true

echo "machine: $(uname -srm), $(nproc 2>/dev/null || echo '?') cpus," \
    "$(sed -n 's/^model name\s*: //p' /proc/cpuinfo 2>/dev/null | head -1), load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
echo "spark jars: $jars"
bench() {
    echo "--- $*"
    # log4j's default config would print Spark's INFO lines; keep the output to the numbers.
    # shellcheck disable=SC2086 # JOPTS is a list of JVM options
    java ${JOPTS:-} -Xms512m -Xmx512m -Dlog4j2.level=WARN -cp "$work/classes:$cp" io.sparkprobe.EncodeBench "$@" 2>&1 \
        | grep -v 'log4j\|WARN Utils\|Your hostname\|SPARK_LOCAL_IP'
}
if [ $# -eq 0 ]; then
    bench offer 5
    bench e2e 5
    bench sustained 100000 10
    bench bus 2000 10 2
else
    bench "$@"
fi
