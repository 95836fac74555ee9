#!/usr/bin/env bash
# The Node end-to-end SSE benchmark, from a clean checkout, in one command:
#
#   bash benches/node-sse/run.sh             # short run, about 2 minutes
#   bash benches/node-sse/run.sh --full      # longer steps, finer rates (or BENCH_FULL=1)
#   bash benches/node-sse/run.sh --help      # every option (run.mjs)
#   bash benches/node-sse/run.sh --client loadclient [--pin 0:1]
#                                            # pushbus and plain driven by the Rust loadclient
#
# Builds the library if it is missing, installs the locked npm dependencies
# of the pushbus package, the Node chat server and this benchmark where they
# are missing or stale, raises the open-file limit (1,000 connections on
# each side), then runs run.mjs. Results: target/bench/node-sse/.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

command -v node >/dev/null || { echo "run.sh: node is not installed" >&2; exit 1; }
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "run.sh: Node >= 20 is needed (found $(node --version))" >&2
  exit 1
fi

if [ -z "${PUSHBUS_LIB:-}" ] && [ ! -f "$root/target/release/libpushbus.so" ]; then
  echo "run.sh: building the library (cargo build --release)" >&2
  (cd "$root" && cargo build --release)
fi

# npm ci where node_modules is missing or older than the lock file.
for dir in "$root/bindings/node" "$root/examples/node" "$here"; do
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done

# --client loadclient: the Rust load client of benches/peers, built where
# benches/scripts/run.sh builds it (cargo does nothing when it is up to date).
for arg in "$@"; do
  case "$arg" in
    loadclient|--client=loadclient)
      echo "run.sh: building benches/peers' loadclient (cargo build --release --locked)" >&2
      (cd "$root" && CARGO_TARGET_DIR="$root/target/bench-peers" cargo build --release --locked --quiet \
        --manifest-path benches/peers/Cargo.toml --bin loadclient)
      break ;;
  esac
done

# Each side holds one socket per connection, plus its own files.
need=4096
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
  ulimit -n "$need" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
  if [ "$(ulimit -n)" -lt "$need" ]; then
    echo "run.sh: the open-file limit is $(ulimit -n) (hard $(ulimit -Hn)); 1,000 connections may not all open" >&2
  fi
fi

exec node "$here/run.mjs" "$@"
