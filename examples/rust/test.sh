#!/usr/bin/env bash
# The Rust chat server's own checks: rustfmt, clippy (warnings are errors),
# its unit tests and its integration tests (tests/: the hub and the drain
# task on a real poller fd). The contract itself is checked by the shared
# end-to-end suite: tests/e2e/run.sh rust.
#
#   examples/rust/test.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export CARGO_TARGET_DIR="$root/target/examples/rust"
cd "$root/examples/rust"
cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --release --locked  # reuses the release build of build.sh
