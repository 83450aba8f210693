#!/usr/bin/env bash
# Set sparkprobe up in .venv and run `sparkprobe demo`: a real local-cluster Spark job under
# dynamic allocation, profiled live. README quick start, first command. Needs python3 (>= 3.10)
# and a JDK 17 with javac.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v javac >/dev/null || { echo "scripts/demo.sh: javac not found: install a JDK 17" >&2; exit 2; }
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip >/dev/null
.venv/bin/pip install -q .
exec .venv/bin/sparkprobe demo "$@"
