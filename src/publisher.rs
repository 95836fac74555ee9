//! Publishers: handles that publish to one topic without looking it up.
//!
//! # Specification
//!
//! - [`Bus::publisher`](crate::Bus::publisher) checks the name and finds or
//!   creates the topic once; every [`Publisher::publish`] then goes
//!   straight to the topic's lock and ring. That skips hashing the name and
//!   the registry's shard lock: about a quarter of a publish's instructions.
//! - A publish through a publisher is a publish: same validation, same
//!   errors (apart from the topic's, settled at creation), same version
//!   keys in the same sequence as [`Bus::publish`](crate::Bus::publish) on
//!   the same topic, same wake-ups.
//! - A publisher holds its topic, like a subscription or a presence entry:
//!   while one exists the topic is never removed as idle, so its epoch, and
//!   with it every key handed out, stays valid. Idle expiry counts from the
//!   moment the last publisher is dropped.
//! - A publisher is `Send` and `Sync`; threads may share one.

use std::sync::Arc;

use crate::bus::Shared;
use crate::clock::{monotonic_ms, wall_ms};
use crate::error::Result;
use crate::message::Payload;
use crate::position::Position;
use crate::topic::Topic;

/// Publishes to one topic; see the module docs. Made by
/// [`Bus::publisher`](crate::Bus::publisher).
#[derive(Debug)]
pub struct Publisher {
    shared: Arc<Shared>,
    /// Counted in its state's `publishers`, so never removed while held.
    topic: Arc<Topic>,
}

impl Publisher {
    /// Wraps a topic whose `publishers` count already includes this handle.
    pub(crate) fn new(shared: Arc<Shared>, topic: Arc<Topic>) -> Publisher {
        Publisher { shared, topic }
    }

    /// The topic this publisher publishes to.
    pub fn topic(&self) -> &str {
        &self.topic.name
    }

    /// Publishes a message; returns its version key. Errors, each leaving
    /// the bus unchanged: [`Error::InvalidEvent`](crate::Error::InvalidEvent),
    /// [`Error::MessageTooLarge`](crate::Error::MessageTooLarge),
    /// [`Error::InvalidUtf8`](crate::Error::InvalidUtf8),
    /// [`Error::InvalidJson`](crate::Error::InvalidJson).
    pub fn publish(&self, event: Option<&str>, payload: Payload<'_>) -> Result<Position> {
        self.shared.check_message(event, &payload)?;
        let mut state = self.topic.state.write();
        debug_assert!(!state.removed, "a held topic is never removed");
        Ok(self
            .topic
            .append(&mut state, &self.shared, event, payload, wall_ms()))
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        let mut state = self.topic.state.write();
        state.publishers -= 1;
        state.last_active_ms = monotonic_ms();
    }
}
