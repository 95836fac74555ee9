//! A poller's cursors on one topic, and how a visit turns them into
//! deliveries.
//!
//! A poller keeps one group per topic it reads, holding the cursor of every
//! subscription of the poller on that topic. One wake-up of the group serves
//! all of them: a visit takes the topic's lock once, then walks the cursors
//! in a tight loop, so fan-out to many subscriptions in one poller costs a
//! few nanoseconds per delivery and one reference count per message per
//! batch.
//!
//! Invariants:
//! - a member's `cursor` is the seq of the last message it was given (or
//!   skipped past with a gap), so it never exceeds the ring's `last_seq`;
//! - `scan_from < members.len()` unless the group is empty: a visit that
//!   stops early resumes at the member it stopped on, so no member starves;
//! - `pending_gaps` holds at most one gap per member, until it is delivered.

use std::collections::HashMap;
use std::sync::Arc;

use crate::batch::{Batch, CloseReason};
use crate::config::LagPolicy;
use crate::poller::Watch;
use crate::subscription::Gap;
use crate::topic::Topic;

/// One subscription's cursor in a group: 16 bytes, as groups of many
/// thousands of members are walked on every wake-up and held by idle
/// subscriptions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Member {
    /// The subscription id, with [`CLOSE_ON_LAG`] set for lag policy `Close`.
    tagged: u64,
    pub cursor: u64,
}

/// Marks a member whose lag policy is `Close` (ids never reach 2^63).
const CLOSE_ON_LAG: u64 = 1 << 63;

impl Member {
    pub fn new(subscription: u64, cursor: u64, lag_policy: LagPolicy) -> Member {
        let tag = match lag_policy {
            LagPolicy::GapAndContinue => 0,
            LagPolicy::Close => CLOSE_ON_LAG,
        };
        Member {
            tagged: subscription | tag,
            cursor,
        }
    }

    pub fn subscription(&self) -> u64 {
        self.tagged & !CLOSE_ON_LAG
    }

    fn lag_policy(&self) -> LagPolicy {
        if self.tagged & CLOSE_ON_LAG == 0 {
            LagPolicy::GapAndContinue
        } else {
            LagPolicy::Close
        }
    }

    /// Before delivering: reports a pending resume gap, and handles a
    /// cursor that fell off the ring's tail (`first..=head` is held) by its
    /// lag policy. At most one gap or close per call, pushed only while the
    /// batch has room (the caller checks): a resume gap and a lag merge.
    #[allow(clippy::too_many_arguments)]
    fn settle(
        &mut self,
        mut gap: Option<Gap>,
        topic: &Topic,
        (first, head): (u64, u64),
        topic_index: u32,
        batch: &mut Batch,
        closing: &mut Vec<u64>,
        gaps: &mut u64,
    ) {
        if self.cursor + 1 < first {
            let lost = first - 1 - self.cursor;
            let to = topic.position(first - 1);
            match self.lag_policy() {
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
                    batch.push_closed(
                        self.subscription(),
                        topic_index,
                        CloseReason::Lagged { lost },
                    );
                    closing.push(self.subscription());
                    // Skipped from now on: it is about to be removed.
                    self.cursor = head;
                    gap = None;
                }
            }
        }
        if let Some(gap) = gap {
            *gaps += 1;
            batch.push_gap(self.subscription(), topic_index, gap);
        }
    }
}

#[derive(Debug)]
pub(crate) struct Group {
    pub topic: Arc<Topic>,
    pub watch: Arc<Watch>,
    pub members: Vec<Member>,
    pub scan_from: usize,
    /// Gaps found when subscriptions started from tokens no longer held, by
    /// subscription: rare, so kept out of the members.
    pub pending_gaps: Vec<(u64, Gap)>,
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
    /// The gap a subscription still has to be told about, if any.
    pub fn pending_gap(&self, subscription: u64) -> Option<&Gap> {
        self.pending_gaps
            .iter()
            .find(|(id, _)| *id == subscription)
            .map(|(_, gap)| gap)
    }

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
        let Group {
            topic: topic_arc,
            members,
            scan_from,
            pending_gaps,
            ..
        } = self;
        let count = members.len();
        if count == 0 {
            return Visit::CaughtUp;
        }
        let state = topic_arc.state.read();
        let ring = &state.ring;
        let bounds = (ring.first_seq(), ring.last_seq());
        let head = bounds.1;
        let topic = batch.topic_index(topic_arc);
        // The messages most recently added to the batch, shared by every
        // member that reads the same range (all of them, when they keep up).
        let mut run: Option<Run> = None;
        let mut index = (*scan_from).min(count - 1);
        loop {
            let mut behind = false;
            // Members left to serve in this pass.
            let mut left = count;
            while left > 0 {
                if batch.len() >= max {
                    *scan_from = index;
                    return Visit::BatchFull;
                }
                left -= 1;
                let member = &mut members[index];
                let pending = take_pending_gap(pending_gaps, member.subscription());
                index = if index + 1 == count { 0 } else { index + 1 };
                member.settle(pending, topic_arc, bounds, topic, batch, closing, gaps);
                let room = (max - batch.len()) as u64;
                let (from, upto) = (
                    member.cursor + 1,
                    head.min(member.cursor + room.min(PASS_MESSAGES)),
                );
                if from > upto {
                    behind |= member.cursor < head;
                    continue;
                }
                let run = match run {
                    Some(run) if run.first <= from && upto <= run.last => run,
                    _ => *run.insert(Run {
                        first: from,
                        last: upto,
                        base: batch.add_messages(topic, ring.range(from, upto)),
                    }),
                };
                let messages = (upto - from + 1) as u32;
                let start = run.base + (from - run.first) as u32;
                batch.push_messages(member.subscription(), topic, start, messages);
                member.cursor = upto;
                behind |= upto < head;
                if left == 0 || !pending_gaps.is_empty() {
                    continue;
                }
                // The fast path: the members after it that stood where it
                // stood get exactly what it got (they cannot have lagged,
                // and while the batch has room for `messages` more, room
                // does not shorten their range): one id each in the same
                // run, until a member stands elsewhere.
                let fits = ((max - batch.len()) / messages as usize) as u32;
                batch.extend_last_run(|subscriptions| {
                    let mut added = 0;
                    while left > 0 && added < fits {
                        let next = &mut members[index];
                        if next.cursor + 1 != from {
                            break;
                        }
                        next.cursor = upto;
                        subscriptions.push(next.subscription());
                        added += 1;
                        left -= 1;
                        index = if index + 1 == count { 0 } else { index + 1 };
                    }
                    added
                });
            }
            if !behind {
                *scan_from = index;
                return Visit::CaughtUp;
            }
        }
    }
}

fn take_pending_gap(pending_gaps: &mut Vec<(u64, Gap)>, subscription: u64) -> Option<Gap> {
    if pending_gaps.is_empty() {
        return None;
    }
    let index = pending_gaps
        .iter()
        .position(|(id, _)| *id == subscription)?;
    Some(pending_gaps.swap_remove(index).1)
}

/// A poller's groups: a slab indexed by the slot each group's [`Watch`]
/// carries, so a wake-up finds its group without hashing, plus an index by
/// topic id for subscribing.
#[derive(Debug, Default)]
pub(crate) struct Groups {
    slots: Vec<Option<Group>>,
    free: Vec<u32>,
    by_topic: HashMap<u64, u32>,
}

impl Groups {
    /// The slot of the group reading `topic_id`, if any.
    pub fn slot_of(&self, topic_id: u64) -> Option<u32> {
        self.by_topic.get(&topic_id).copied()
    }

    pub fn get(&self, slot: u32) -> Option<&Group> {
        self.slots.get(slot as usize)?.as_ref()
    }

    pub fn get_mut(&mut self, slot: u32) -> Option<&mut Group> {
        self.slots.get_mut(slot as usize)?.as_mut()
    }

    /// The slot of the group reading `topic_id`, created by `make` (given
    /// its slot) if there is none.
    pub fn get_or_insert(&mut self, topic_id: u64, make: impl FnOnce(u32) -> Group) -> u32 {
        if let Some(slot) = self.slot_of(topic_id) {
            return slot;
        }
        let slot = self.free.pop().unwrap_or(self.slots.len() as u32);
        let group = make(slot);
        match self.slots.get_mut(slot as usize) {
            Some(place) => *place = Some(group),
            None => self.slots.push(Some(group)),
        }
        self.by_topic.insert(topic_id, slot);
        slot
    }

    pub fn remove(&mut self, slot: u32) -> Option<Group> {
        let group = self.slots.get_mut(slot as usize)?.take()?;
        self.by_topic.remove(&group.topic.id);
        self.free.push(slot);
        Some(group)
    }
}
