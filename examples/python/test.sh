#!/usr/bin/env bash
# Tests the Python chat server (chat_server.py) end to end: builds and
# installs the pushbus wheel into target/python/venv (bindings/python/build.sh),
# adds aiohttp and the independent test clients (httpx-sse, aiohttp's client,
# websockets), and runs tests/ against real server processes on 127.0.0.1.
# Extra arguments go to pytest.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/target/python/venv"
export MYPY_CACHE_DIR="${venv%/venv}/mypy-cache"  # nothing written into the source tree
"$root/bindings/python/build.sh"

stamp="$venv/.examples-requirements"
if ! cat "$here/requirements.txt" "$here/requirements-test.txt" | cmp -s - "$stamp"; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        -r "$here/requirements.txt" -r "$here/requirements-test.txt"
    cat "$here/requirements.txt" "$here/requirements-test.txt" > "$stamp"
fi

cd "$here"
"$venv/bin/python" -m mypy --strict chat_server.py
"$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
