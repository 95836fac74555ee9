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

impl Member {
    /// Before delivering: reports a pending resume gap, and handles a
    /// cursor that fell off the ring's tail (`first..=head` is held) by its
    /// lag policy. At most one gap or close per call, pushed only while the
    /// batch has room (the caller checks): a resume gap and a lag merge.
    fn settle(
        &mut self,
        topic: &Topic,
        (first, head): (u64, u64),
        topic_index: u32,
        batch: &mut Batch,
        closing: &mut Vec<u64>,
        gaps: &mut u64,
    ) {
        let mut gap = self.pending_gap.take().map(|gap| *gap);
        if self.cursor + 1 < first {
            let lost = first - 1 - self.cursor;
            let to = topic.position(first - 1);
            match self.lag_policy {
                LagPolicy::GapAndContinue => {
                    gap = Some(match gap {
                        Some(resumed) => Gap {
                            to,
                            lost: resumed.lost.map(|before| before + lost),
                            ..resumed
                        },
                        None => Gap {
                            from: topic.position(self.cursor),
                            to,
                            lost: Some(lost),
                        },
                    });
                    self.cursor = first - 1;
                }
                LagPolicy::Close => {
                    batch.push_closed(self.subscription, topic_index, CloseReason::Lagged { lost });
                    closing.push(self.subscription);
                    // Skipped from now on: it is about to be removed.
                    self.cursor = head;
                    gap = None;
                }
            }
        }
        if let Some(gap) = gap {
            *gaps += 1;
            batch.push_gap(self.subscription, topic_index, gap);
        }
    }
}

#[derive(Debug)]
pub(crate) struct Group {
    pub topic: Arc<Topic>,
    pub watch: Arc<Watch>,
    pub members: Vec<Member>,
    pub scan_from: usize,
}

/// Messages `first..=last` of the ring, added to the batch at `base..`.
#[derive(Debug, Clone, Copy)]
struct Run {
    first: u64,
    last: u64,
    base: u32,
}

/// Most messages one member gets per pass of a visit.
const PASS_MESSAGES: u64 = 16;

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
    ///
    /// Members are served in passes of at most [`PASS_MESSAGES`] messages
    /// each, so one batch spreads over many members reading the same few
    /// messages: the batch then holds one reference per message for many
    /// deliveries, and no subscriber waits for another's whole backlog.
    pub fn visit(
        &mut self,
        batch: &mut Batch,
        max: usize,
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
        // The messages most recently added to the batch, shared by every
        // member that reads the same range (all of them, when they keep up).
        let mut run: Option<Run> = None;
        let mut index = self.scan_from.min(count - 1);
        loop {
            let mut behind = false;
            for _ in 0..count {
                if batch.len() >= max {
                    self.scan_from = index;
                    return Visit::BatchFull;
                }
                let member = &mut self.members[index];
                index = if index + 1 == count { 0 } else { index + 1 };
                member.settle(&self.topic, (first, head), topic, batch, closing, gaps);
                let room = (max - batch.len()) as u64;
                let (from, upto) = (
                    member.cursor + 1,
                    head.min(member.cursor + room.min(PASS_MESSAGES)),
                );
                if from <= upto {
                    let run = match run {
                        Some(run) if run.first <= from && upto <= run.last => run,
                        _ => *run.insert(Run {
                            first: from,
                            last: upto,
                            base: batch.add_messages(ring.range(from, upto)),
                        }),
                    };
                    let start = run.base + (from - run.first) as u32;
                    batch.push_messages(
                        member.subscription,
                        topic,
                        start,
                        (upto - from + 1) as u32,
                    );
                    member.cursor = upto;
                }
                behind |= member.cursor < head;
            }
            if !behind {
                self.scan_from = index;
                return Visit::CaughtUp;
            }
        }
    }
}
