#!/usr/bin/env bash
# Runs the Node chat server's tests from a clean checkout: installs the
# pushbus package's and this example's dependencies from their lock files,
# builds the Rust library if it is missing, then node --test.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if [ ! -f "$root/target/release/libpushbus.so" ] && [ -z "${PUSHBUS_LIB:-}" ]; then
  (cd "$root" && cargo build --release)
fi
(cd "$root/bindings/node" && npm ci --no-audit --no-fund --prefer-offline)
(cd "$here" && npm ci --no-audit --no-fund --prefer-offline)

cd "$here"
exec node --test test/*.test.mjs
