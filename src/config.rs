//! Configuration: every limit of the bus, with sane defaults.
//!
//! All limits are checked by [`Config::validate`], which [`Bus::new`](crate::Bus::new)
//! calls: a configuration that could never work (a message limit larger than
//! a ring can hold, a zero-sized ring) is refused up front with
//! [`Error::InvalidConfig`] rather than failing later at publish time.

use std::time::Duration;

use crate::error::{Error, Result};

/// What happens to a subscription whose cursor falls off the tail of a
/// topic's replay ring (it read too slowly and messages it had not read were
/// evicted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LagPolicy {
    /// Deliver a gap event naming what was lost, then continue from the
    /// oldest message still held. The default.
    #[default]
    GapAndContinue,
    /// End the subscription with [`CloseReason::Lagged`](crate::CloseReason::Lagged).
    Close,
}

/// The bus's limits and policies. Start from [`Config::default`] and change
/// the fields you need.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Most messages a topic's ring holds; older ones are evicted. Default 1024.
    pub ring_max_messages: usize,
    /// Most message bytes (payloads and event types) a topic's ring holds.
    /// Default 4 MiB. What publishers sent, not memory: see
    /// [`Config::replay_budget_bytes`].
    pub ring_max_bytes: usize,
    /// Messages older than this are evicted (at publish and by the janitor).
    /// `None`: no age limit. Default `None`.
    pub ring_max_age: Option<Duration>,
    /// Message bytes (payloads and event types) all rings together may
    /// hold. When a publish goes over it, the publishing topic evicts its
    /// own oldest messages (keeping at least the new one) until the bus is
    /// under budget again, so these bytes stay within the budget plus one
    /// message per topic. Default 256 MiB.
    ///
    /// It counts what publishers sent, not the memory that holds it: each
    /// message also takes about 75 bytes of bookkeeping, and, once a
    /// transport has asked for them, its frames (an SSE event is about the
    /// payload and 150 bytes). Rings of 100-byte chat messages read over SSE
    /// take about four times their counted bytes (BENCHMARKS.md, W2 over
    /// loopback): size the budget for that.
    pub replay_budget_bytes: usize,
    /// Largest payload accepted. Default 1 MiB; at most `ring_max_bytes`.
    pub max_message_bytes: usize,
    /// Most topics that may exist at once. Default 100,000.
    pub max_topics: usize,
    /// Longest topic name or pattern, in bytes. Default 128.
    pub max_topic_len: usize,
    /// A topic with no subscription, no presence and no publish for this long
    /// is removed (its history goes with it; a new topic of the same name has
    /// a new epoch). `None`: topics live forever. Default 5 minutes.
    pub topic_idle_ttl: Option<Duration>,
    /// Lag policy of subscriptions that do not choose their own.
    pub lag_policy: LagPolicy,
    /// Most subscriptions one poller may hold. Default 1,000,000.
    pub max_subscriptions_per_poller: usize,
    /// Publish `join` and `leave` events in a topic when its presence changes.
    /// Default `true`.
    pub presence_events: bool,
    /// Largest presence info (JSON), in bytes. Default 1 KiB.
    pub max_presence_info_bytes: usize,
    /// How often the background janitor expires idle topics, presence
    /// leases and aged messages. `None`: no thread is started, and
    /// [`Bus::sweep`](crate::Bus::sweep) must be called instead. Default 1 s.
    pub janitor_interval: Option<Duration>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            ring_max_messages: 1024,
            ring_max_bytes: 4 << 20,
            ring_max_age: None,
            replay_budget_bytes: 256 << 20,
            max_message_bytes: 1 << 20,
            max_topics: 100_000,
            max_topic_len: 128,
            topic_idle_ttl: Some(Duration::from_secs(300)),
            lag_policy: LagPolicy::GapAndContinue,
            max_subscriptions_per_poller: 1_000_000,
            presence_events: true,
            max_presence_info_bytes: 1024,
            janitor_interval: Some(Duration::from_secs(1)),
        }
    }
}

impl Config {
    /// Checks that the limits are consistent; says which one is not.
    pub fn validate(&self) -> Result<()> {
        let fail = |why: &str| Err(Error::InvalidConfig(why.to_owned()));
        if self.ring_max_messages == 0 {
            return fail("ring_max_messages must be at least 1");
        }
        if self.max_message_bytes == 0 {
            return fail("max_message_bytes must be at least 1");
        }
        if self.max_message_bytes > self.ring_max_bytes {
            return fail("max_message_bytes must not exceed ring_max_bytes");
        }
        if self.ring_max_bytes > self.replay_budget_bytes {
            return fail("ring_max_bytes must not exceed replay_budget_bytes");
        }
        if self.max_topics == 0 {
            return fail("max_topics must be at least 1");
        }
        if self.max_topic_len == 0 || self.max_topic_len > 1024 {
            return fail("max_topic_len must be between 1 and 1024");
        }
        if self.max_subscriptions_per_poller == 0 {
            return fail("max_subscriptions_per_poller must be at least 1");
        }
        if self.ring_max_age == Some(Duration::ZERO) {
            return fail("ring_max_age must be positive (or None)");
        }
        if self.janitor_interval == Some(Duration::ZERO) {
            return fail("janitor_interval must be positive (or None)");
        }
        Ok(())
    }
}
