#!/usr/bin/env bash
# The end-to-end suite of the chat contract (shared CHAT_API.md) against one
# example chat server, started by examples/serve.sh on free loopback ports.
#
#   tests/e2e/run.sh c|c-asan|rust|python|node [pytest args]
#
# The server must be built first; this script says how when it is not. The
# suite's clients live in their own venv, target/e2e/venv, made (or remade
# when requirements.txt changes) from PyPI.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
usage="usage: tests/e2e/run.sh c|c-asan|rust|python|node [pytest args]"
server="${1:?$usage}"
shift

missing() {
    echo "tests/e2e/run.sh: the $server server is not built: $1" >&2
    echo "  build it with: $2" >&2
    exit 2
}
case "$server" in
    c)      [[ -x "$root/target/examples/c/chat-server" ]] ||
                missing "target/examples/c/chat-server is missing" "make servers" ;;
    c-asan) [[ -x "$root/target/examples/c/chat-server-asan" ]] ||
                missing "target/examples/c/chat-server-asan is missing" "make servers" ;;
    rust)   [[ -x "$root/target/examples/rust/release/pushbus-chat" ]] ||
                missing "target/examples/rust/release/pushbus-chat is missing" "make servers" ;;
    python) "$root/target/python/venv/bin/python" -c 'import pushbus, aiohttp' 2>/dev/null ||
                missing "target/python/venv has no pushbus or aiohttp" \
                    "bash bindings/python/build.sh && target/python/venv/bin/pip install -r examples/python/requirements.txt" ;;
    node)   command -v node >/dev/null || missing "node is not installed" "apt-get install nodejs"
            [[ -d "$root/examples/node/node_modules/ws" && -d "$root/bindings/node/node_modules/koffi" ]] ||
                missing "its npm dependencies are not installed" \
                    "(cd bindings/node && npm ci) && (cd examples/node && npm ci)"
            [[ -f "$root/target/release/libpushbus.so" || -n "${PUSHBUS_LIB:-}" ]] ||
                missing "target/release/libpushbus.so is missing" "cargo build --release" ;;
    *) echo "$usage" >&2; exit 2 ;;
esac

venv="$root/target/e2e/venv"
stamp="$venv/.requirements"
mkdir -p "$root/target/e2e"
exec 9>"$root/target/e2e/venv.lock"  # one venv build at a time
flock 9
if ! "$venv/bin/python" -c '' 2>/dev/null || ! cmp -s "$here/requirements.txt" "$stamp"; then
    rm -rf "$venv"
    "${PYTHON:-python3}" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$stamp"
fi
flock -u 9

cd "$here"
exec "$venv/bin/python" -m pytest --server "$server" "$@"
