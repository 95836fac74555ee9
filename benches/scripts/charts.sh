#!/usr/bin/env bash
# Draws the charts of a results file (benches/scripts/charts.py) with
# matplotlib from a venv under target/, made on first use.
#
#   benches/scripts/charts.sh RESULTS.jsonl OUT_DIR
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$root/target/bench-peers/venv"
if ! "$venv/bin/python" -c 'import matplotlib' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check 'matplotlib>=3.8,<4'
fi
exec "$venv/bin/python" "$root/benches/scripts/charts.py" "$@"
