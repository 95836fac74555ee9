//! Topics: a name, an epoch, a replay ring, the pollers watching it, and
//! its presence.
//!
//! Everything mutable lives in [`TopicState`] behind one `RwLock`:
//! publishers and presence changes take it for writing; pollers take it for
//! reading while they copy deliveries out of the ring, which bounds how long
//! a publisher can wait for them to one batch.
//!
//! Lock order: registry shard, then topic state, then a poller's ready
//! queue. Pollers take a topic's state only while holding their own consumer
//! lock, and nothing that holds a topic's state takes a consumer lock.

use std::sync::Arc;

use parking_lot::RwLock;

use crate::bus::Shared;
use crate::message::{Message, Payload};
use crate::poller::Watch;
use crate::position::Position;
use crate::presence::Presence;
use crate::ring::Ring;

#[derive(Debug)]
pub(crate) struct Topic {
    /// The topic's name; immutable.
    pub name: Box<str>,
    /// This life's epoch; immutable.
    pub epoch: u64,
    /// Unique among every topic the bus ever had: a new life of the same
    /// name gets a new id, so per-topic state keyed by id never mixes lives.
    pub id: u64,
    pub state: RwLock<TopicState>,
}

#[derive(Debug)]
pub(crate) struct TopicState {
    pub ring: Ring,
    /// One entry per poller with at least one subscription cursor here.
    pub watchers: Vec<Arc<Watch>>,
    pub presence: Presence,
    /// Live [`crate::Publisher`]s of this topic: while any, it is not idle.
    pub publishers: usize,
    /// The topic's last activity, on the monotonic clock ([`crate::clock`]):
    /// its creation, a watcher, publisher or presence entry going away, or
    /// the newest publish a sweep dated (see [`crate::bus`]'s `sweep`; a
    /// publish itself reads no second clock). Idle expiry counts from here.
    pub last_active_ms: u64,
    /// The newest sequence number the last sweep saw.
    pub seq_at_sweep: u64,
    /// Set, under this lock, when the janitor removes the topic from the
    /// registry: a caller that looked the topic up before must look again.
    pub removed: bool,
}

impl Topic {
    pub fn new(name: &str, id: u64) -> Topic {
        Topic {
            name: name.into(),
            epoch: crate::position::new_epoch(),
            id,
            state: RwLock::new(TopicState {
                ring: Ring::default(),
                watchers: Vec::new(),
                presence: Presence::default(),
                publishers: 0,
                last_active_ms: crate::clock::monotonic_ms(),
                seq_at_sweep: 0,
                removed: false,
            }),
        }
    }

    pub fn position(&self, seq: u64) -> Position {
        Position {
            epoch: self.epoch,
            seq,
        }
    }

    /// Appends a message (already validated), evicts to the ring's limits
    /// and the bus's budget, and wakes the watching pollers. O(1) in the
    /// number of subscriptions: one signal per watching poller, and only
    /// when that poller had caught up.
    pub fn append(
        &self,
        state: &mut TopicState,
        shared: &Shared,
        event: Option<&str>,
        payload: Payload<'_>,
        now_ms: u64,
    ) -> Position {
        let seq = state.ring.last_seq() + 1;
        let added = event.map_or(0, str::len) + payload.bytes.len();
        let (mut freed, spare) = state.ring.make_room(added, &shared.limits);
        let message = match spare {
            Some(spare) => {
                let (message, old_frames) =
                    Message::new_reusing(spare, seq, now_ms, event, payload);
                if let Some(old_frames) = old_frames {
                    message.encode_frames_into(old_frames, &self.name, self.position(seq));
                }
                message
            }
            None => Message::new(seq, now_ms, event, payload),
        };
        debug_assert_eq!(message.weight(), added);
        state.ring.push(message);
        freed += state.ring.evict_aged(&shared.limits, now_ms);
        let mut total = shared.counters.account_replay(added, freed);
        while total > shared.config.replay_budget_bytes {
            let freed = state.ring.evict_one_keeping_newest();
            if freed == 0 {
                break;
            }
            total = shared.counters.account_replay(0, freed);
        }
        for watch in &state.watchers {
            watch.notify();
        }
        shared
            .counters
            .published
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.position(seq)
    }
}
