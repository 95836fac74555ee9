#!/usr/bin/env bash
# Tests of the Node package, from a clean checkout: installs the locked
# dependencies, builds the Rust library if it is missing, type-checks the
# declarations, runs the node:test suites. Called by `make test`.
#
#   bash bindings/node/test.sh            # uses target/release/libpushbus.so
#   PUSHBUS_LIB=/path/libpushbus.so bash bindings/node/test.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$here"

command -v node >/dev/null || { echo "test.sh: node is not installed" >&2; exit 1; }
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 18 ]; then
  echo "test.sh: Node >= 18 is needed (found $(node --version))" >&2
  exit 1
fi

if [ -z "${PUSHBUS_LIB:-}" ] && [ ! -f "$root/target/release/libpushbus.so" ]; then
  echo "test.sh: building the library (cargo build --release)"
  (cd "$root" && cargo build --release)
fi

npm ci --no-audit --no-fund --loglevel=error
npx --no-install tsc --noEmit -p tsconfig.json
echo "test.sh: tsc --noEmit: the declarations check"

# One test file at a time: the timing tests measure an otherwise idle loop.
node --test --test-concurrency=1 test/*.test.mjs
