#!/usr/bin/env bash
# Builds the C chat server and runs its own tests (examples/c/tests): the
# HTTP parser's limits and malformed requests, /ws-echo conformance, slow
# readers, and clean SIGTERM/SIGINT exits, against the ASan+UBSan build
# (CHAT_SERVER=c for the -O2 one); every server started must exit 0 with no
# sanitizer report. The chat contract itself is tests/e2e's (run.sh c-asan).
#
# Needs a C compiler, pkg-config, libjansson-dev and uthash-dev, cargo, and
# python3 with venv; the test clients (tests/requirements.txt) go into
# target/examples/c/venv. Extra arguments go to pytest.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

for package in jansson; do
    pkg-config --exists "$package" ||
        { echo "examples/c/test.sh: $package is missing: apt-get install libjansson-dev uthash-dev" >&2; exit 2; }
done
[[ -f /usr/include/uthash.h ]] ||
    { echo "examples/c/test.sh: uthash.h is missing: apt-get install uthash-dev" >&2; exit 2; }

(cd "$root" && cargo build --release --quiet)
make -C "$here" --no-print-directory

venv="$root/target/examples/c/venv"
stamp="$venv/.requirements"
if ! "$venv/bin/python" -c '' 2>/dev/null || ! cmp -s "$here/tests/requirements.txt" "$stamp"; then
    rm -rf "$venv"
    "${PYTHON:-python3}" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/tests/requirements.txt"
    cp "$here/tests/requirements.txt" "$stamp"
fi

cd "$here/tests"
exec "$venv/bin/python" -m pytest -q "$@"
