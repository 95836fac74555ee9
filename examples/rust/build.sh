#!/usr/bin/env bash
# Builds the Rust chat server, release, into
# target/examples/rust/release/pushbus-chat (what `examples/serve.sh rust`
# starts). The crate is a workspace of its own with its own Cargo.lock, so
# axum and tokio stay out of the library's build.
#
#   examples/rust/build.sh [cargo build args]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export CARGO_TARGET_DIR="$root/target/examples/rust"
exec cargo build --release --locked --manifest-path "$root/examples/rust/Cargo.toml" "$@"
