//! A poller's cursors on one topic, and how a visit turns them into
//! deliveries.
//!
//! A poller keeps one group per topic it reads, holding the cursor of every
//! subscription of the poller on that topic. One wake-up of the group serves
//! all of them: a visit takes the topic's lock once, then walks the cursors
//! in a tight loop, so fan-out to many subscriptions in one poller costs a
//! few nanoseconds per delivery and one reference count per message.
//!
//! Invariants:
//! - a member's `cursor` is the seq of the last message it was given (or
//!   skipped past with a gap), so it never exceeds the ring's `last_seq`;
//! - `scan_from < members.len()` unless the group is empty: a visit that
//!   stops early resumes at the member it stopped on, so no member starves.

use std::sync::Arc;

use crate::batch::{Batch, CloseReason};
use crate::config::LagPolicy;
use crate::poller::Watch;
use crate::subscription::Gap;
use crate::topic::Topic;

#[derive(Debug)]
pub(crate) struct Member {
    pub subscription: u64,
    pub cursor: u64,
    pub lag_policy: LagPolicy,
    /// A gap found when the subscription started from a token no longer
    /// held. Boxed: it is rare, and members are walked in the hot loop.
    pub pending_gap: Option<Box<Gap>>,
}

#[derive(Debug)]
pub(crate) struct Group {
    pub topic: Arc<Topic>,
    pub watch: Arc<Watch>,
    pub members: Vec<Member>,
    pub scan_from: usize,
}

/// How a visit ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Visit {
    /// Every member reached the head seen during the visit.
    CaughtUp,
    /// The batch filled first.
    BatchFull,
}

impl Group {
    /// Adds deliveries for every member, up to `max` events in the batch.
    /// Members that lagged with lag policy `Close` get a closed event and
    /// are pushed to `closing`; the caller must then remove them.
    pub fn visit(
        &mut self,
        batch: &mut Batch,
        max: usize,
        slots: &mut Vec<u32>,
        closing: &mut Vec<u64>,
        gaps: &mut u64,
    ) -> Visit {
        let count = self.members.len();
        if count == 0 {
            return Visit::CaughtUp;
        }
        let state = self.topic.state.read();
        let ring = &state.ring;
        let (first, head) = (ring.first_seq(), ring.last_seq());
        let topic = batch.topic_index(&self.topic);
        // One batch slot per message of the ring, shared by every member.
        slots.clear();
        slots.resize(ring.len(), u32::MAX);
        let mut index = self.scan_from.min(count - 1);
        for _ in 0..count {
            if batch.len() >= max {
                self.scan_from = index;
                return Visit::BatchFull;
            }
            let member = &mut self.members[index];
            // At most one gap or close per member and visit, pushed only
            // while the batch has room: a resume gap and a lag found in the
            // same visit merge into one gap.
            let mut gap = member.pending_gap.take().map(|gap| *gap);
            if member.cursor + 1 < first {
                let lost = first - 1 - member.cursor;
                let to = self.topic.position(first - 1);
                match member.lag_policy {
                    LagPolicy::GapAndContinue => {
                        gap = Some(match gap {
                            Some(resumed) => Gap {
                                to,
                                lost: resumed.lost.map(|before| before + lost),
                                ..resumed
                            },
                            None => Gap {
                                from: self.topic.position(member.cursor),
                                to,
                                lost: Some(lost),
                            },
                        });
                        member.cursor = first - 1;
                    }
                    LagPolicy::Close => {
                        batch.push_closed(member.subscription, topic, CloseReason::Lagged { lost });
                        closing.push(member.subscription);
                        // Skipped from now on: it is about to be removed.
                        member.cursor = head;
                        gap = None;
                    }
                }
            }
            if let Some(gap) = gap {
                *gaps += 1;
                batch.push_gap(member.subscription, topic, gap);
            }
            while member.cursor < head && batch.len() < max {
                let seq = member.cursor + 1;
                // Always held: `first <= seq <= head` and the ring has no holes.
                let Some(message) = ring.get(seq) else { break };
                batch.push_message(
                    member.subscription,
                    topic,
                    message,
                    &mut slots[(seq - first) as usize],
                );
                member.cursor = seq;
            }
            if member.cursor < head {
                self.scan_from = index;
                return Visit::BatchFull;
            }
            index = if index + 1 == count { 0 } else { index + 1 };
        }
        self.scan_from = index;
        Visit::CaughtUp
    }
}
