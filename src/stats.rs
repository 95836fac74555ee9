//! Statistics: counters kept with relaxed atomics, read as one snapshot.
//!
//! The counters are exact, but a snapshot taken while other threads work is
//! not atomic across fields (it may show a delivery whose publish is not yet
//! counted).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

/// A snapshot of the bus's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Messages published (presence events included).
    pub published: u64,
    /// Messages handed to subscribers by pollers.
    pub delivered: u64,
    /// Gap events: resumes from keys no longer held, and lagging readers.
    pub gaps: u64,
    /// Subscriptions closed because they lagged (lag policy `Close`).
    pub lag_closes: u64,
    /// Topics that exist now.
    pub topics: u64,
    /// Subscriptions open now.
    pub subscriptions: u64,
    /// Message bytes (payloads and event types) held by all replay rings now.
    pub replay_bytes: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub published: AtomicU64,
    pub delivered: AtomicU64,
    pub gaps: AtomicU64,
    pub lag_closes: AtomicU64,
    pub subscriptions: AtomicU64,
    pub replay_bytes: AtomicUsize,
}

impl Counters {
    /// Records a ring change of `added` bytes in and `freed` bytes out;
    /// returns the bus-wide total after it.
    pub fn account_replay(&self, added: usize, freed: usize) -> usize {
        // A message replacing one of its size (the steady state of a full
        // ring) changes nothing: a load, not a read-modify-write.
        if added == freed {
            self.replay_bytes.load(Relaxed)
        } else if added > freed {
            self.replay_bytes.fetch_add(added - freed, Relaxed) + (added - freed)
        } else {
            self.replay_bytes.fetch_sub(freed - added, Relaxed) - (freed - added)
        }
    }

    pub fn snapshot(&self, topics: usize) -> Stats {
        Stats {
            published: self.published.load(Relaxed),
            delivered: self.delivered.load(Relaxed),
            gaps: self.gaps.load(Relaxed),
            lag_closes: self.lag_closes.load(Relaxed),
            topics: topics as u64,
            subscriptions: self.subscriptions.load(Relaxed),
            replay_bytes: self.replay_bytes.load(Relaxed) as u64,
        }
    }
}
