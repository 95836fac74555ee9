//! What a subscription is made of: its id, where it starts, its options.
//!
//! A subscription is a set of cursors, one per topic it reads, owned by one
//! [`Poller`](crate::Poller). It names topics (`chat.lobby`) and patterns
//! (`chat.*`, `chat.>`); a pattern also picks up topics created after the
//! subscription, from their first message.

use std::fmt;

use crate::config::LagPolicy;
use crate::position::{Position, Token};
use crate::ring::Ring;

/// A subscription's id: unique within its bus, never reused. A closed or
/// unknown id is an error ([`Error::UnknownSubscription`](crate::Error::UnknownSubscription)),
/// so closing twice is harmless.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriptionId(pub u64);

impl fmt::Display for SubscriptionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a subscription (or a poll) starts reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// Only messages published from now on.
    Now,
    /// Every message still held, then live ones.
    Oldest,
    /// The last `n` messages held of each topic, then live ones.
    Last(u64),
    /// Exactly the messages after this token: in order, without
    /// duplicates. If the token's position is no longer held (older than the
    /// ring, or from another epoch), a gap event says so first and reading
    /// continues from the oldest message held. Topics a composite token does
    /// not name start from their oldest message held.
    After(Token),
}

/// Messages that were lost between two positions of one topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// Where the reader was (its token, or its cursor when it lagged).
    pub from: Position,
    /// Where reading continues: the next message delivered is the one
    /// after this position, so it is also the key to resume from.
    pub to: Position,
    /// How many messages were lost, when known (unknown across epochs).
    pub lost: Option<u64>,
}

/// Options of one subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SubscribeOptions {
    /// Overrides the bus's [`Config::lag_policy`](crate::Config::lag_policy).
    pub lag_policy: Option<LagPolicy>,
}

/// Where a reader starting at `start` on a topic (`name`, `epoch`, with this
/// `ring`) is: its cursor, and the gap to report first, if any. Shared by
/// subscriptions and polls so both resume identically.
pub(crate) fn start_cursor(
    start: &Start,
    name: &str,
    epoch: u64,
    ring: &Ring,
) -> (u64, Option<Gap>) {
    let oldest = ring.first_seq() - 1;
    match start {
        Start::Now => (ring.last_seq(), None),
        Start::Oldest => (oldest, None),
        Start::Last(n) => (ring.last_seq().saturating_sub(*n).max(oldest), None),
        Start::After(token) => match token.position_for(name) {
            None => (oldest, None),
            Some(from)
                if from.epoch == epoch && from.seq >= oldest && from.seq <= ring.last_seq() =>
            {
                (from.seq, None)
            }
            Some(from) => {
                let lost = (from.epoch == epoch && from.seq < oldest).then(|| oldest - from.seq);
                (
                    oldest,
                    Some(Gap {
                        from,
                        to: Position { epoch, seq: oldest },
                        lost,
                    }),
                )
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Message, Payload};
    use crate::ring::RingLimits;

    /// A ring holding seqs 4..=6 of 6.
    fn ring() -> Ring {
        let mut ring = Ring::default();
        let limits = RingLimits {
            max_messages: 3,
            max_bytes: usize::MAX,
            max_age_ms: None,
        };
        for seq in 1..=6 {
            ring.push(Message::new(seq, 0, None, Payload::text("x")));
            ring.evict(&limits, 0);
        }
        ring
    }

    fn after(epoch: u64, seq: u64) -> Start {
        Start::After(Token::Key(Position { epoch, seq }))
    }

    #[test]
    fn plain_starts() {
        let ring = ring();
        assert_eq!(start_cursor(&Start::Now, "t", 9, &ring), (6, None));
        assert_eq!(start_cursor(&Start::Oldest, "t", 9, &ring), (3, None));
        assert_eq!(start_cursor(&Start::Last(2), "t", 9, &ring), (4, None));
        assert_eq!(start_cursor(&Start::Last(99), "t", 9, &ring), (3, None));
        assert_eq!(start_cursor(&Start::Last(0), "t", 9, &ring), (6, None));
    }

    #[test]
    fn tokens_inside_the_window_resume_exactly() {
        let ring = ring();
        for seq in 3..=6 {
            assert_eq!(start_cursor(&after(9, seq), "t", 9, &ring), (seq, None));
        }
    }

    #[test]
    fn tokens_outside_the_window_give_gaps() {
        let ring = ring();
        let to = Position { epoch: 9, seq: 3 };
        let old = start_cursor(&after(9, 1), "t", 9, &ring);
        assert_eq!(
            old,
            (
                3,
                Some(Gap {
                    from: Position { epoch: 9, seq: 1 },
                    to,
                    lost: Some(2)
                })
            )
        );
        let foreign = start_cursor(&after(8, 5), "t", 9, &ring);
        assert_eq!(
            foreign,
            (
                3,
                Some(Gap {
                    from: Position { epoch: 8, seq: 5 },
                    to,
                    lost: None
                })
            )
        );
        let future = start_cursor(&after(9, 7), "t", 9, &ring);
        assert_eq!(future.0, 3);
        assert_eq!(future.1.unwrap().lost, None);
    }

    #[test]
    fn composite_tokens_pick_their_topic() {
        let ring = ring();
        let token = Token::composite([("a".to_owned(), Position { epoch: 9, seq: 5 })]);
        assert_eq!(
            start_cursor(&Start::After(token.clone()), "a", 9, &ring),
            (5, None)
        );
        assert_eq!(start_cursor(&Start::After(token), "b", 9, &ring), (3, None));
    }
}
