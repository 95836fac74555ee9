//! Batches: what one [`Poller::drain`](crate::Poller::drain) call hands over.
//!
//! A batch owns one reference to each distinct message and topic it
//! mentions, and its events point into those, so handing the same message
//! to ten thousand subscriptions costs one reference count, not ten
//! thousand. Deliveries are held as runs, "these subscriptions each get
//! these messages", so a member of a poller that keeps up costs the batch
//! one subscription id per visit, not one entry per delivery; iteration
//! still yields one event per delivery. Events stay valid until the batch is cleared or drained into
//! again; [`Delivery::shared`] keeps a message beyond that without copying it.

use std::sync::Arc;

use crate::message::Message;
use crate::position::Position;
use crate::subscription::{Gap, SubscriptionId};
use crate::topic::Topic;

/// Why a subscription was closed by the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// It fell behind its topic's replay ring and its lag policy is
    /// [`LagPolicy::Close`](crate::LagPolicy::Close); `lost` messages were
    /// evicted before it read them.
    Lagged {
        /// Messages it missed.
        lost: u64,
    },
}

/// A run of events with one topic.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// Each of the subscriptions `subscriptions[subs..subs + subs_len]`
    /// gets the messages `messages[first..first + count]`, subscription by
    /// subscription: `subs_len * count` events. Consecutive members of a
    /// group that read the same messages (all of them, when they keep up)
    /// share one run, so a delivery costs 8 bytes for its subscription id
    /// per `count` messages instead of one entry each.
    Deliveries {
        subs: u32,
        subs_len: u32,
        first: u32,
        count: u32,
    },
    Gap {
        subscription: u64,
        gap: u32,
    },
    Closed {
        subscription: u64,
        reason: CloseReason,
    },
}

impl Kind {
    fn events(&self) -> usize {
        match *self {
            Kind::Deliveries {
                subs_len, count, ..
            } => subs_len as usize * count as usize,
            Kind::Gap { .. } | Kind::Closed { .. } => 1,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Index of the entry's first event in the batch.
    start: usize,
    topic: u32,
    kind: Kind,
}

/// A reusable buffer of events; see the module documentation.
#[derive(Debug, Default)]
pub struct Batch {
    /// Runs of events, in delivery order.
    entries: Vec<Entry>,
    /// Events held: the sum of the entries' events.
    len: usize,
    /// The subscriptions of the delivery runs.
    subscriptions: Vec<u64>,
    topics: Vec<Arc<Topic>>,
    messages: Vec<Message>,
    /// The topic (index into `topics`) of each of `messages`.
    message_topics: Vec<u32>,
    gaps: Vec<Gap>,
    /// During a drain, how many of `messages` are this drain's; those
    /// after them are the previous drain's, kept so that a drain adding
    /// the same message at the same position keeps that reference instead
    /// of cloning one and dropping the other (two atomic operations saved
    /// per message: in a wide fan-out, drain after drain hands over the
    /// same messages). Equal to `messages.len()` between drains.
    fresh: usize,
}

/// For the C ABI's conversion: one run of a batch's events.
pub(crate) enum RawRun<'a> {
    /// Each subscription gets the messages at `messages` (indices into the
    /// batch's distinct messages), subscription by subscription.
    Deliveries {
        subscriptions: &'a [u64],
        messages: std::ops::Range<usize>,
    },
    /// One gap or closed event, at this event index.
    Other(usize),
}

/// One event of a batch.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A message for a subscription.
    Message(Delivery<'a>),
    /// Messages a subscription will never see: it resumed from a key no
    /// longer held, or it lagged. Reading continues after `gap.to`.
    Gap {
        /// The subscription concerned.
        subscription: SubscriptionId,
        /// The topic concerned.
        topic: &'a str,
        /// What was lost.
        gap: &'a Gap,
    },
    /// The bus closed a subscription; its id is now unknown.
    Closed {
        /// The subscription closed.
        subscription: SubscriptionId,
        /// The topic on which it lagged.
        topic: &'a str,
        /// Why.
        reason: CloseReason,
    },
}

impl Event<'_> {
    /// The subscription the event is for.
    #[inline]
    pub fn subscription(&self) -> SubscriptionId {
        match self {
            Event::Message(delivery) => delivery.subscription,
            Event::Gap { subscription, .. } | Event::Closed { subscription, .. } => *subscription,
        }
    }
}

/// A message delivered to a subscription.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// The subscription it is for.
    pub subscription: SubscriptionId,
    topic: &'a Topic,
    message: &'a Message,
}

impl<'a> Delivery<'a> {
    /// The topic it was published to.
    #[inline]
    pub fn topic(&self) -> &'a str {
        &self.topic.name
    }

    /// Its version key: resuming after it delivers what came next.
    #[inline]
    pub fn key(&self) -> Position {
        self.topic.position(self.message.seq())
    }

    /// The message: seq, time, event type, payload.
    #[inline]
    pub fn message(&self) -> &'a Message {
        self.message
    }

    /// The message's wire frames (SSE, NDJSON, envelope), encoded once for
    /// all subscribers; see [`crate::frames`].
    pub fn frames(&self) -> crate::frames::Frames<'a> {
        self.message.frames(&self.topic.name, self.key())
    }

    /// A shared reference to the message that outlives the batch (no copy).
    #[inline]
    pub fn shared(&self) -> Message {
        self.message.clone()
    }

    /// The message's wire frames, owned: they outlive the batch (and the
    /// ring, poller and bus) without a copy, for servers that write them
    /// later from other tasks. [`Delivery::shared`] alone cannot reach them,
    /// since they are encoded with the topic and key it does not hold. See
    /// [`crate::frames::MessageFrames`].
    pub fn shared_frames(&self) -> crate::frames::MessageFrames {
        crate::frames::MessageFrames::new(self.message.clone(), &self.topic.name, self.key())
    }
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Batch {
        Batch::default()
    }

    /// An empty batch with room for `events` events.
    pub fn with_capacity(events: usize) -> Batch {
        Batch {
            subscriptions: Vec::with_capacity(events),
            ..Batch::default()
        }
    }

    /// Events held.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no event is held.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Releases every event (and the references they held).
    pub fn clear(&mut self) {
        self.messages.clear();
        self.fresh = 0;
        self.clear_events();
    }

    fn clear_events(&mut self) {
        self.entries.clear();
        self.len = 0;
        self.subscriptions.clear();
        self.topics.clear();
        self.message_topics.clear();
        self.gaps.clear();
    }

    /// The event at `index`.
    pub fn get(&self, index: usize) -> Option<Event<'_>> {
        if index >= self.len {
            return None;
        }
        // The last entry starting at or before `index`; entries are never
        // empty, so it holds `index`.
        let entry = &self.entries[self.entries.partition_point(|e| e.start <= index) - 1];
        let topic = &self.topics[entry.topic as usize];
        Some(match entry.kind {
            Kind::Deliveries {
                subs, first, count, ..
            } => {
                let offset = index - entry.start;
                let count = count as usize;
                Event::Message(Delivery {
                    subscription: SubscriptionId(
                        self.subscriptions[subs as usize + offset / count],
                    ),
                    topic,
                    message: &self.messages[first as usize + offset % count],
                })
            }
            kind => self.rare(topic, kind),
        })
    }

    /// Every event, in delivery order (per subscription and topic, this is
    /// publish order).
    #[inline]
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Event<'_>> + '_ {
        Iter {
            batch: self,
            entries: self.entries.iter(),
            topic: None,
            subscription: SubscriptionId(0),
            subscriptions: [].iter(),
            run: &[],
            messages: [].iter(),
            after_run: self.len,
        }
    }

    /// A gap or closed event.
    fn rare<'a>(&'a self, topic: &'a Topic, kind: Kind) -> Event<'a> {
        match kind {
            Kind::Gap { subscription, gap } => Event::Gap {
                subscription: SubscriptionId(subscription),
                topic: &topic.name,
                gap: &self.gaps[gap as usize],
            },
            Kind::Closed {
                subscription,
                reason,
            } => Event::Closed {
                subscription: SubscriptionId(subscription),
                topic: &topic.name,
                reason,
            },
            Kind::Deliveries { .. } => unreachable!("deliveries are not rare"),
        }
    }

    /// Clears the batch for a drain, but keeps its messages for
    /// [`Batch::add_messages`] to reuse; the drain must end with
    /// [`Batch::release_stale`].
    pub(crate) fn recycle(&mut self) {
        self.fresh = 0;
        self.clear_events();
    }

    /// Drops the previous drain's messages that this one did not reuse.
    pub(crate) fn release_stale(&mut self) {
        self.messages.truncate(self.fresh);
    }

    /// For the C ABI's conversion: the events as runs, in delivery order.
    pub(crate) fn raw_runs(&self) -> impl Iterator<Item = RawRun<'_>> + '_ {
        self.entries.iter().map(|entry| match entry.kind {
            Kind::Deliveries {
                subs,
                subs_len,
                first,
                count,
            } => RawRun::Deliveries {
                subscriptions: &self.subscriptions[subs as usize..(subs + subs_len) as usize],
                messages: first as usize..(first + count) as usize,
            },
            Kind::Gap { .. } | Kind::Closed { .. } => RawRun::Other(entry.start),
        })
    }

    /// The distinct messages this batch holds, each with its topic.
    pub(crate) fn messages(&self) -> impl Iterator<Item = (&Topic, &Message)> + '_ {
        self.messages
            .iter()
            .zip(&self.message_topics)
            .map(|(message, &topic)| (&*self.topics[topic as usize], message))
    }

    /// Index of `topic` in this batch, adding it if it is not the last one
    /// added (pollers add a topic once per visit).
    pub(crate) fn topic_index(&mut self, topic: &Arc<Topic>) -> u32 {
        if !self
            .topics
            .last()
            .is_some_and(|last| Arc::ptr_eq(last, topic))
        {
            self.topics.push(topic.clone());
        }
        (self.topics.len() - 1) as u32
    }

    /// Adds messages to the batch (one reference each); returns the index
    /// of the first, for [`Batch::push_messages`].
    pub(crate) fn add_messages<'m>(
        &mut self,
        topic: u32,
        messages: impl Iterator<Item = &'m Message>,
    ) -> u32 {
        let base = self.fresh as u32;
        for message in messages {
            match self.messages.get_mut(self.fresh) {
                Some(kept) if kept.ptr_eq(message) => {}
                Some(stale) => *stale = message.clone(),
                None => self.messages.push(message.clone()),
            }
            self.fresh += 1;
        }
        self.message_topics.resize(self.fresh, topic);
        base
    }

    /// Adds `count` (at least 1) deliveries to one subscription, of the
    /// messages added at `first..first + count`: one subscription id more in
    /// the last run when it has the same messages.
    #[inline]
    pub(crate) fn push_messages(&mut self, subscription: u64, topic: u32, first: u32, count: u32) {
        debug_assert!(count > 0);
        if let Some(Entry {
            topic: last_topic,
            kind:
                Kind::Deliveries {
                    subs_len,
                    first: last_first,
                    count: last_count,
                    ..
                },
            ..
        }) = self.entries.last_mut()
        {
            // The last entry's subscriptions end the list: only delivery
            // runs add to it.
            if (*last_topic, *last_first, *last_count) == (topic, first, count) {
                *subs_len += 1;
                self.subscriptions.push(subscription);
                self.len += count as usize;
                return;
            }
        }
        self.push_entry(
            topic,
            Kind::Deliveries {
                subs: self.subscriptions.len() as u32,
                subs_len: 1,
                first,
                count,
            },
        );
        self.subscriptions.push(subscription);
    }

    /// Adds subscriptions to the last run, which must be a delivery run:
    /// `add` pushes them to the list it is given and returns how many it
    /// pushed. Each gets the run's messages.
    #[inline]
    pub(crate) fn extend_last_run(&mut self, add: impl FnOnce(&mut Vec<u64>) -> u32) {
        let Some(Entry {
            kind: Kind::Deliveries {
                subs_len, count, ..
            },
            ..
        }) = self.entries.last_mut()
        else {
            unreachable!("extend_last_run follows push_messages");
        };
        let added = add(&mut self.subscriptions);
        *subs_len += added;
        self.len += added as usize * *count as usize;
    }

    fn push_entry(&mut self, topic: u32, kind: Kind) {
        self.entries.push(Entry {
            start: self.len,
            topic,
            kind,
        });
        self.len += kind.events();
    }

    pub(crate) fn push_gap(&mut self, subscription: u64, topic: u32, gap: Gap) {
        self.gaps.push(gap);
        let index = (self.gaps.len() - 1) as u32;
        self.push_entry(
            topic,
            Kind::Gap {
                subscription,
                gap: index,
            },
        );
    }

    pub(crate) fn push_closed(&mut self, subscription: u64, topic: u32, reason: CloseReason) {
        self.push_entry(
            topic,
            Kind::Closed {
                subscription,
                reason,
            },
        );
    }
}

/// [`Batch::iter`]: walks the runs, yielding one event per delivery.
struct Iter<'a> {
    batch: &'a Batch,
    entries: std::slice::Iter<'a, Entry>,
    /// The current run's topic (none before the first run).
    topic: Option<&'a Topic>,
    /// The current run's current subscription.
    subscription: SubscriptionId,
    /// The current run's subscriptions after `subscription`.
    subscriptions: std::slice::Iter<'a, u64>,
    /// The current run's messages.
    run: &'a [Message],
    /// What is left of them for `subscription`.
    messages: std::slice::Iter<'a, Message>,
    /// Events after the current run.
    after_run: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Event<'a>;

    #[inline]
    fn next(&mut self) -> Option<Event<'a>> {
        if let Some(message) = self.messages.next() {
            // SAFETY: `messages` is empty until `next_run` sets `topic`
            // along with the run it iterates, and `topic` is never reset.
            let topic = unsafe { self.topic.unwrap_unchecked() };
            return Some(Event::Message(Delivery {
                subscription: self.subscription,
                topic,
                message,
            }));
        }
        self.next_run()
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let remaining =
            self.messages.len() + self.subscriptions.len() * self.run.len() + self.after_run;
        (remaining, Some(remaining))
    }
}

impl<'a> Iter<'a> {
    /// The next event once the current subscription's messages are done.
    #[inline]
    fn next_run(&mut self) -> Option<Event<'a>> {
        loop {
            if let Some(&subscription) = self.subscriptions.next() {
                self.subscription = SubscriptionId(subscription);
                self.messages = self.run.iter();
                if let (Some(message), Some(topic)) = (self.messages.next(), self.topic) {
                    return Some(Event::Message(Delivery {
                        subscription: self.subscription,
                        topic,
                        message,
                    }));
                }
                continue;
            }
            let entry = self.entries.next()?;
            let batch = self.batch;
            let topic = &*batch.topics[entry.topic as usize];
            match entry.kind {
                Kind::Deliveries {
                    subs,
                    subs_len,
                    first,
                    count,
                } => {
                    self.topic = Some(topic);
                    self.after_run -= entry.kind.events();
                    self.subscriptions =
                        batch.subscriptions[subs as usize..(subs + subs_len) as usize].iter();
                    self.run = &batch.messages[first as usize..(first + count) as usize];
                }
                kind => {
                    self.after_run -= 1;
                    return Some(batch.rare(topic, kind));
                }
            }
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Payload;
    use crate::position::Position;

    fn describe(event: Event<'_>) -> String {
        match event {
            Event::Message(delivery) => format!(
                "{} {} {}",
                delivery.subscription,
                delivery.topic(),
                delivery.message().seq()
            ),
            Event::Gap {
                subscription,
                topic,
                gap,
            } => format!("{subscription} {topic} gap {:?}", gap.lost),
            Event::Closed {
                subscription,
                topic,
                ..
            } => format!("{subscription} {topic} closed"),
        }
    }

    #[test]
    fn runs_iterate_subscription_by_subscription_and_match_get() {
        let topics = [Arc::new(Topic::new("a", 1)), Arc::new(Topic::new("b", 2))];
        let messages: Vec<Message> = (1..=4)
            .map(|seq| Message::new(seq, 0, None, Payload::text("x")))
            .collect();
        let mut batch = Batch::new();
        let a = batch.topic_index(&topics[0]);
        let first = batch.add_messages(a, messages[..3].iter());
        batch.push_messages(1, a, first, 3);
        batch.push_messages(2, a, first, 3);
        batch.extend_last_run(|subscriptions| {
            subscriptions.extend([3, 4]);
            2
        });
        batch.push_messages(5, a, first + 1, 2);
        let position = Position { epoch: 1, seq: 0 };
        let gap = Gap {
            from: position,
            to: position,
            lost: Some(7),
        };
        batch.push_gap(6, a, gap);
        batch.push_messages(6, a, first, 1);
        let b = batch.topic_index(&topics[1]);
        let last = batch.add_messages(b, messages[3..].iter());
        batch.push_messages(7, b, last, 1);
        batch.push_closed(8, b, CloseReason::Lagged { lost: 1 });
        let mut expected = Vec::new();
        for subscription in 1..=4 {
            expected.extend((1..=3).map(|seq| format!("{subscription} a {seq}")));
        }
        expected.extend(
            [
                "5 a 2",
                "5 a 3",
                "6 a gap Some(7)",
                "6 a 1",
                "7 b 4",
                "8 b closed",
            ]
            .map(String::from),
        );
        let mut iter = batch.iter();
        let mut got = Vec::new();
        while let Some(event) = iter.next() {
            got.push(describe(event));
            assert_eq!(iter.len(), expected.len() - got.len());
        }
        drop(iter);
        assert_eq!(got, expected);
        assert_eq!(batch.len(), expected.len());
        for (index, want) in expected.iter().enumerate() {
            assert_eq!(&describe(batch.get(index).unwrap()), want);
        }
        assert!(batch.get(expected.len()).is_none());
        batch.clear();
        assert!(batch.is_empty() && batch.iter().next().is_none());
    }

    #[test]
    fn a_recycled_batch_keeps_the_references_it_hands_over_again() {
        let topic = Arc::new(Topic::new("a", 1));
        let messages: Vec<Message> = (1..=3)
            .map(|seq| Message::new(seq, 0, None, Payload::text("x")))
            .collect();
        let mut batch = Batch::new();
        let a = batch.topic_index(&topic);
        batch.add_messages(a, messages.iter());
        batch.push_messages(1, a, 0, 3);
        batch.recycle();
        let a = batch.topic_index(&topic);
        // The same first two messages, then another one at position 2.
        let first = batch.add_messages(a, messages[..2].iter().chain(&messages[..1]));
        batch.push_messages(2, a, first, 3);
        batch.release_stale();
        let counts: Vec<usize> = messages.iter().map(Message::handles).collect();
        assert_eq!(counts, [3, 2, 1]);
        let seqs: Vec<u64> = batch
            .iter()
            .map(|event| match event {
                Event::Message(delivery) => delivery.message().seq(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(seqs, [1, 2, 1]);
        batch.clear();
        assert_eq!(messages.iter().map(Message::handles).sum::<usize>(), 3);
    }
}
