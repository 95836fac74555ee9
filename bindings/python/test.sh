#!/usr/bin/env bash
# Builds and installs the pushbus wheel (build.sh), then runs mypy --strict
# on the package and its pytest suite. Works from a clean checkout; called
# by `make test`. Extra arguments go to pytest (`-k asyncio`, `-s`).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$(cd "$here/../.." && pwd)/target/python/venv"
export MYPY_CACHE_DIR="${venv%/venv}/mypy-cache"  # nothing written into the source tree
"$here/build.sh"

cd "$here"
"$venv/bin/python" -m mypy --strict python/pushbus build_backend
"$venv/bin/python" -m pytest -q -p no:cacheprovider tests "$@"
