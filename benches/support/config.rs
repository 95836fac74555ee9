//! What every pushbus benchmark shares: the bus's configuration and W2's
//! topics.

use pushbus::Config;

/// Topics of W2 (one subscription and one message per topic per round).
pub const TOPICS: usize = 10_000;

/// A pushbus config for benchmarks, with rings of `ring` messages and no
/// janitor thread: it would compete for the two cores, and allocate in the
/// middle of a memory measurement.
pub fn pushbus_config(ring: usize) -> Config {
    let mut config = Config::default();
    config.ring_max_messages = ring;
    config.janitor_interval = None;
    config
}

/// Names of the W2 topics, in publishing order.
pub fn topic_names() -> Vec<String> {
    (0..TOPICS).map(|i| format!("topics.{i}")).collect()
}
