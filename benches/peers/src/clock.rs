//! Timestamps for publish-to-receive latency: nanoseconds of
//! CLOCK_MONOTONIC (what `std::time::Instant` reads on Linux) since the
//! process's first call. Publisher and subscribers of a measurement run in
//! one process, so their readings compare directly.

use std::sync::OnceLock;
use std::time::Instant;

static START: OnceLock<Instant> = OnceLock::new();

/// Nanoseconds since the first call in this process.
pub fn now_ns() -> u64 {
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}
