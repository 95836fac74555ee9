//! The registry: topics by name in a sharded map, and pattern
//! subscriptions waiting for topics that do not exist yet.
//!
//! Guarantee: a pattern subscription learns of every matching topic, whether
//! it existed when the pattern was added ([`Registry::add_pattern`] returns
//! it) or was created later (its creation sends [`Ready::Attach`] to the
//! pattern's poller); it may learn of a topic both ways, so attaching is
//! idempotent. This holds because creation reads the patterns after
//! inserting the topic, under the shard's lock, and `add_pattern` scans the
//! shards after adding the pattern: whichever comes second sees the other.
//!
//! Lock order: a shard, then the pattern list (read) or a topic's state.
//! The pattern list is never held while taking a shard.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::config::LagPolicy;
use crate::error::{Error, Result};
use crate::name::Pattern;
use crate::poller::Ready;
use crate::topic::Topic;
use crate::wake::ReadyQueue;

const SHARDS: usize = 64;

type Shard = RwLock<HashMap<Box<str>, Arc<Topic>>>;

/// A pattern subscription's standing order for topics created later.
#[derive(Debug)]
pub(crate) struct PatternWatch {
    pub pattern: Pattern,
    pub subscription: u64,
    /// The subscription's, for the cursors of topics created later.
    pub lag_policy: LagPolicy,
    pub queue: Arc<ReadyQueue<Ready>>,
}

#[derive(Debug)]
pub(crate) struct Registry {
    shards: Box<[Shard]>,
    /// Seeds the shard hash, so shard choice differs between processes.
    seed: u64,
    patterns: RwLock<Vec<PatternWatch>>,
    count: AtomicUsize,
    next_id: AtomicU64,
}

impl Registry {
    pub fn new() -> Registry {
        Registry {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            seed: std::collections::hash_map::RandomState::new().hash_one(0u64) | 1,
            patterns: RwLock::new(Vec::new()),
            count: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
        }
    }

    /// The shard of `name`: FNV-1a from a random seed. The maps inside
    /// hash with SipHash, so a client who could aim names at one shard only
    /// makes that shard's lock busier; a second SipHash per lookup cost a
    /// tenth of a publish.
    fn shard(&self, name: &str) -> &Shard {
        let hash = name.bytes().fold(self.seed, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        &self.shards[(hash ^ (hash >> 32)) as usize % SHARDS]
    }

    /// Topics that exist now.
    pub fn len(&self) -> usize {
        self.count.load(Relaxed)
    }

    /// Calls `f` with the topic named `name`, if it exists, under its
    /// shard's read lock (so the topic cannot be removed meanwhile): a
    /// publish then needs no `Arc` clone, whose increment and decrement
    /// are atomic operations on a line that is cold when topics are many.
    /// `f` may lock the topic's state (lock order: shard, then topic).
    #[inline]
    pub fn with<R>(&self, name: &str, f: impl FnOnce(&Topic) -> R) -> Option<R> {
        self.shard(name).read().get(name).map(|topic| f(topic))
    }

    pub fn get(&self, name: &str) -> Option<Arc<Topic>> {
        self.shard(name).read().get(name).cloned()
    }

    /// The topic named `name` (valid), created if it does not exist.
    pub fn get_or_create(&self, name: &str, max_topics: usize) -> Result<Arc<Topic>> {
        if let Some(topic) = self.get(name) {
            return Ok(topic);
        }
        let mut shard = self.shard(name).write();
        if let Some(topic) = shard.get(name) {
            return Ok(topic.clone());
        }
        // Reserve a slot first so racing creators cannot overshoot the limit.
        if self.count.fetch_add(1, Relaxed) >= max_topics {
            self.count.fetch_sub(1, Relaxed);
            return Err(Error::TooManyTopics { limit: max_topics });
        }
        let topic = Arc::new(Topic::new(name, self.next_id.fetch_add(1, Relaxed)));
        shard.insert(name.into(), topic.clone());
        for watch in self.patterns.read().iter() {
            if watch.pattern.matches(name) {
                watch.queue.push(Ready::Attach {
                    subscription: watch.subscription,
                    lag_policy: watch.lag_policy,
                    topic: topic.clone(),
                });
            }
        }
        Ok(topic)
    }

    /// Registers a pattern; returns the topics that match it already.
    pub fn add_pattern(&self, watch: PatternWatch) -> Vec<Arc<Topic>> {
        let pattern = watch.pattern.clone();
        self.patterns.write().push(watch);
        self.shards
            .iter()
            .flat_map(|shard| {
                shard
                    .read()
                    .iter()
                    .filter(|(name, _)| pattern.matches(name))
                    .map(|(_, topic)| topic.clone())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Forgets every pattern of a subscription.
    pub fn remove_patterns(&self, subscription: u64) {
        self.patterns
            .write()
            .retain(|watch| watch.subscription != subscription);
    }

    /// Every topic that exists now.
    pub fn topics(&self) -> Vec<Arc<Topic>> {
        self.shards
            .iter()
            .flat_map(|shard| shard.read().values().cloned().collect::<Vec<_>>())
            .collect()
    }

    /// Removes every topic for which `idle` says so (it is called with the
    /// topic's state locked for writing, and the topic is marked removed
    /// under that lock); returns the removed topics.
    pub fn remove_idle(&self, idle: impl Fn(&crate::topic::TopicState) -> bool) -> Vec<Arc<Topic>> {
        let mut removed = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = shard.write();
            shard.retain(|_, topic| {
                let mut state = topic.state.write();
                if !idle(&state) {
                    return true;
                }
                state.removed = true;
                removed.push(topic.clone());
                false
            });
        }
        self.count.fetch_sub(removed.len(), Relaxed);
        removed
    }
}
