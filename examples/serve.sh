#!/usr/bin/env bash
# Starts one example chat server by name, in the foreground (exec: the pid
# you started is the server's). Used by `make demo` and by the end-to-end and
# browser suites, so every caller starts every server the same way.
#
#   examples/serve.sh c|c-asan|rust|python|node [--port N]
#
# The server must already be built (`make servers` builds them all). Every
# server reads the same environment (examples/README.md):
#   PORT (8080), ALLOWED_ORIGINS, JWT_SECRET        as in CHAT_API.md
#   HEARTBEAT_SECONDS (15)    SSE ping / XHR, iframe heartbeat / WS ping
#   STREAM_BUDGET_BYTES (131072)  XHR and iframe streams end after this much
#   REPLAY_MESSAGES           messages kept per room (pushbus's default)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
name="${1:?usage: examples/serve.sh c|c-asan|rust|python|node [--port N]}"
shift
case "$name" in
  c)      exec "$root/target/examples/c/chat-server" "$@" ;;
  c-asan) ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}" \
          exec "$root/target/examples/c/chat-server-asan" "$@" ;;
  rust)   exec "$root/target/examples/rust/release/pushbus-chat" "$@" ;;
  python) exec "$root/target/python/venv/bin/python" "$root/examples/python/chat_server.py" "$@" ;;
  node)   exec node "$root/examples/node/server.js" "$@" ;;
  *) echo "examples/serve.sh: unknown server '$name' (c, c-asan, rust, python, node)" >&2; exit 2 ;;
esac
