#!/usr/bin/env bash
# Set everything up and run the whole test suite, on pyspark 3.5.x and the newest 4.x.
#
# README quick start, second command; .ci/run runs exactly this. Needs python3 (>= 3.10) and a
# JDK 17 with javac. As root it installs the Debian packages the tests use (prometheus,
# prometheus-pushgateway, chromium, openssl) when they are missing.
#   SPARKPROBE_SPARK_LINES="4.3.0"  bash scripts/test.sh -k wire    # one line, some tests
set -euo pipefail
cd "$(dirname "$0")/.."
SPARK_LINES=${SPARKPROBE_SPARK_LINES:-"3.5.9 4.3.0"}

command -v javac >/dev/null || { echo "scripts/test.sh: javac not found: install a JDK 17" >&2; exit 2; }
# Debian packages the tests drive for real: Prometheus (+ promtool), the Pushgateway, Chromium, and
# openssl (test certificates for TLS; keytool comes with the JDK).
missing=""
command -v openssl >/dev/null || missing="$missing openssl"
command -v promtool >/dev/null || missing="$missing prometheus"
command -v prometheus-pushgateway >/dev/null || missing="$missing prometheus-pushgateway"
command -v chromium >/dev/null || missing="$missing chromium"
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing Debian packages:$missing"
    apt-get update -qq
    # shellcheck disable=SC2086 # one word per package
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "scripts/test.sh: missing$missing; their tests skip (and fail under CI=true)" >&2
  fi
fi

# One wheel for every Spark line: the jar inside is compiled once, against pyspark 4's jars.
echo "== building the wheel (compiles the listener jar with javac)"
python3 -m venv .venv-build
.venv-build/bin/pip install -q --upgrade pip >/dev/null
rm -rf dist && .venv-build/bin/pip wheel -q --no-deps -w dist .
wheel=$(ls dist/sparkprobe-*.whl)

status=0
for line in $SPARK_LINES; do
  venv=".venv-spark-$line"
  echo "== pyspark $line: $venv"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip >/dev/null
  # Spark Connect's Python client (grpcio, pyarrow, pandas...) on the 4.x lines only: the Connect
  # tests run a real Connect server from pip pyspark 4.x and skip on 3.5 (tests/spark/test_connect*.py).
  spark="pyspark==$line"
  case "$line" in 3.*) ;; *) spark="pyspark[connect]==$line" ;; esac
  "$venv/bin/pip" install -q "$spark" "${wheel}[test]"
  # The wheel keeps its version from build to build: without --force-reinstall pip would keep the
  # copy installed last time, and the tests would run the old listener and package.
  "$venv/bin/pip" install -q --force-reinstall --no-deps "$wheel"
  # The src/ layout keeps the checkout off sys.path: the tests import the installed wheel.
  # --durations: the slowest tests of each line, for keeping the run under its time limit.
  SPARKPROBE_EXPECT_PYSPARK="$line" "$venv/bin/python" -m pytest --durations=15 "$@" || status=$?
done
echo "== static checks"
.venv-spark-${SPARK_LINES##* }/bin/ruff check src tests benchmarks grafana || status=1
.venv-spark-${SPARK_LINES##* }/bin/mypy || status=1
# grafana/ holds build tools (the dashboard and Kubernetes generators); the Grafana SDK they use
# needs Python >= 3.11.
.venv-spark-${SPARK_LINES##* }/bin/mypy --python-version 3.11 grafana || status=1
exit $status
