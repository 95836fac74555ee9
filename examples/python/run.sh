#!/usr/bin/env bash
# Starts the Python chat server at http://127.0.0.1:${PORT:-8080}/ (builds the
# pushbus wheel into target/python/venv first). Arguments go to chat_server.py.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/target/python/venv"
"$root/bindings/python/build.sh" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
exec "$venv/bin/python" "$here/chat_server.py" "$@"
