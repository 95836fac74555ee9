//! The replay ring: a topic's history, which is also its delivery queue.
//!
//! The ring holds the newest messages of one topic, oldest first, numbered
//! by consecutive sequence numbers. Readers are cursors (the sequence number
//! of the last message they read), so the ring is shared by every reader and
//! costs nothing per reader.
//!
//! Invariants:
//! - `messages[i].seq() == first_seq() + i`: no holes;
//! - `last_seq` is the sequence number of the newest message ever pushed
//!   (0 before the first), even when eviction has emptied the ring;
//! - `bytes` is the sum of the held messages' weights;
//! - the limits are met after every publish ([`Ring::make_room`], then
//!   [`Ring::push`] and [`Ring::evict_aged`]), except that the newest
//!   message is never evicted by count or size: a reader parked at the head
//!   must always be able to read the message that woke it.

use std::collections::VecDeque;

use crate::message::Message;

/// Eviction limits of one ring.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RingLimits {
    pub max_messages: usize,
    pub max_bytes: usize,
    pub max_age_ms: Option<u64>,
}

#[derive(Debug, Default)]
pub(crate) struct Ring {
    messages: VecDeque<Message>,
    last_seq: u64,
    bytes: usize,
}

impl Ring {
    /// Sequence number of the newest message ever pushed, 0 if none.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Sequence number of the oldest message held; `last_seq + 1` when the
    /// ring is empty, so "held" is always `first_seq()..=last_seq()`.
    pub fn first_seq(&self) -> u64 {
        self.last_seq + 1 - self.messages.len() as u64
    }

    /// Payload bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Messages held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Appends the next message; its seq must be `last_seq() + 1`.
    pub fn push(&mut self, message: Message) {
        debug_assert_eq!(message.seq(), self.last_seq + 1);
        self.last_seq = message.seq();
        self.bytes += message.weight();
        self.messages.push_back(message);
    }

    /// The message numbered `seq`, if held.
    pub fn get(&self, seq: u64) -> Option<&Message> {
        let index = seq.checked_sub(self.first_seq())?;
        self.messages.get(usize::try_from(index).ok()?)
    }

    /// The messages numbered `first..=last`, which must be held.
    pub fn range(&self, first: u64, last: u64) -> impl Iterator<Item = &Message> {
        let start = (first - self.first_seq()) as usize;
        self.messages.range(start..=start + (last - first) as usize)
    }

    /// Evicts what a message of `weight` bytes pushed next would take out
    /// by count and size (the limits, never the newest); returns
    /// the bytes freed and the last message evicted, whose block the next
    /// message may take over ([`Message::new_reusing`]). Evicting before
    /// the push also keeps the buffer within the count limit: one cold ring
    /// line touched per publish instead of two.
    // Inlined into the publish path: left to the compiler's choice it
    // became a call when Topic::append gained callers (15 instructions a
    // publish, callgrind on `benches/instr.rs`).
    #[inline]
    pub fn make_room(&mut self, weight: usize, limits: &RingLimits) -> (usize, Option<Message>) {
        let mut freed = 0;
        let mut spare = None;
        while self.messages.len() >= limits.max_messages || self.bytes + weight > limits.max_bytes {
            let Some(oldest) = self.take_oldest() else {
                break;
            };
            freed += oldest.weight();
            spare = Some(oldest);
        }
        (freed, spare)
    }

    /// Evicts down to the limits; returns the payload bytes freed. (A
    /// publish calls [`Ring::make_room`] before pushing instead.)
    #[cfg(test)]
    pub fn evict(&mut self, limits: &RingLimits, now_ms: u64) -> usize {
        let mut freed = 0;
        while self.messages.len() > 1
            && (self.messages.len() > limits.max_messages || self.bytes > limits.max_bytes)
        {
            freed += self.pop_oldest();
        }
        freed + self.evict_aged(limits, now_ms)
    }

    /// Evicts every message older than the age limit, the newest too: age is
    /// the one limit under which a topic's history may become empty.
    pub fn evict_aged(&mut self, limits: &RingLimits, now_ms: u64) -> usize {
        let Some(max_age) = limits.max_age_ms else {
            return 0;
        };
        let mut freed = 0;
        while self
            .messages
            .front()
            .is_some_and(|m| now_ms.saturating_sub(m.time_ms()) > max_age)
        {
            freed += self.pop_oldest();
        }
        freed
    }

    /// Evicts the oldest message unless it is the newest; returns the bytes
    /// freed (0 when nothing was evicted). Used to meet the bus-wide budget.
    pub fn evict_one_keeping_newest(&mut self) -> usize {
        if self.messages.len() > 1 {
            self.pop_oldest()
        } else {
            0
        }
    }

    /// Drops the oldest message; returns the bytes freed (0 if none).
    fn pop_oldest(&mut self) -> usize {
        self.take_oldest().map_or(0, |m| m.weight())
    }

    /// Removes the oldest message, keeping `bytes` the sum of the rest.
    fn take_oldest(&mut self) -> Option<Message> {
        let oldest = self.messages.pop_front()?;
        self.bytes -= oldest.weight();
        Some(oldest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Payload;

    fn push(ring: &mut Ring, len: usize, time_ms: u64) {
        let seq = ring.last_seq() + 1;
        ring.push(Message::new(
            seq,
            time_ms,
            None,
            Payload::binary(&vec![0; len]),
        ));
    }

    const UNLIMITED: RingLimits = RingLimits {
        max_messages: usize::MAX,
        max_bytes: usize::MAX,
        max_age_ms: None,
    };

    #[test]
    fn empty_ring_holds_nothing() {
        let ring = Ring::default();
        assert_eq!((ring.first_seq(), ring.last_seq(), ring.len()), (1, 0, 0));
        assert!(ring.get(0).is_none() && ring.get(1).is_none());
    }

    #[test]
    fn count_limit_evicts_oldest_first() {
        let mut ring = Ring::default();
        let limits = RingLimits {
            max_messages: 3,
            ..UNLIMITED
        };
        for _ in 0..5 {
            push(&mut ring, 10, 0);
            ring.evict(&limits, 0);
        }
        assert_eq!(
            (ring.first_seq(), ring.last_seq(), ring.bytes()),
            (3, 5, 30)
        );
        assert_eq!(ring.get(3).unwrap().seq(), 3);
        assert!(ring.get(2).is_none() && ring.get(6).is_none());
    }

    #[test]
    fn byte_limit_keeps_the_newest_message() {
        let mut ring = Ring::default();
        let limits = RingLimits {
            max_bytes: 25,
            ..UNLIMITED
        };
        push(&mut ring, 10, 0);
        push(&mut ring, 10, 0);
        assert_eq!(ring.evict(&limits, 0), 0);
        push(&mut ring, 10, 0);
        assert_eq!(ring.evict(&limits, 0), 10);
        assert_eq!((ring.first_seq(), ring.bytes()), (2, 20));
        push(&mut ring, 100, 0);
        assert_eq!(ring.evict(&limits, 0), 20);
        assert_eq!((ring.first_seq(), ring.len(), ring.bytes()), (4, 1, 100));
        assert_eq!(ring.evict_one_keeping_newest(), 0);
    }

    #[test]
    fn making_room_first_evicts_what_evicting_after_would() {
        for (max_messages, max_bytes) in
            [(1, usize::MAX), (3, usize::MAX), (usize::MAX, 25), (3, 25)]
        {
            let limits = RingLimits {
                max_messages,
                max_bytes,
                ..UNLIMITED
            };
            let (mut after, mut before) = (Ring::default(), Ring::default());
            for len in [10, 10, 1, 30, 5, 5, 5, 12, 0, 7] {
                push(&mut after, len, 0);
                let freed_after = after.evict(&limits, 0);
                let (freed_before, _) = before.make_room(len, &limits);
                push(&mut before, len, 0);
                assert_eq!(freed_before, freed_after);
                assert_eq!(
                    (before.first_seq(), before.last_seq(), before.bytes()),
                    (after.first_seq(), after.last_seq(), after.bytes())
                );
            }
        }
    }

    #[test]
    fn age_limit_can_empty_the_ring() {
        let mut ring = Ring::default();
        let limits = RingLimits {
            max_age_ms: Some(100),
            ..UNLIMITED
        };
        push(&mut ring, 1, 1000);
        push(&mut ring, 1, 1050);
        assert_eq!(ring.evict(&limits, 1100), 0);
        assert_eq!(ring.evict(&limits, 1101), 1);
        assert_eq!(ring.first_seq(), 2);
        assert_eq!(ring.evict_aged(&limits, 2000), 1);
        assert_eq!((ring.first_seq(), ring.last_seq(), ring.len()), (3, 2, 0));
    }
}
