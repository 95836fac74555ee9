//! Batches: what one [`Poller::drain`](crate::Poller::drain) call hands over.
//!
//! A batch owns one reference to each distinct message and topic it
//! mentions, and its events point into those, so handing the same message
//! to ten thousand subscriptions costs one reference count, not ten
//! thousand. Events stay valid until the batch is cleared or drained into
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

#[derive(Debug, Clone, Copy)]
enum Kind {
    Message(u32),
    Gap(u32),
    Closed(CloseReason),
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    subscription: u64,
    topic: u32,
    kind: Kind,
}

/// A reusable buffer of events; see the module documentation.
#[derive(Debug, Default)]
pub struct Batch {
    entries: Vec<Entry>,
    topics: Vec<Arc<Topic>>,
    messages: Vec<Arc<Message>>,
    /// The topic (index into `topics`) of each of `messages`.
    message_topics: Vec<u32>,
    gaps: Vec<Gap>,
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
    message: &'a Arc<Message>,
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
    pub fn shared(&self) -> Arc<Message> {
        self.message.clone()
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
            entries: Vec::with_capacity(events),
            ..Batch::default()
        }
    }

    /// Events held.
    #[inline]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no event is held.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Releases every event (and the references they held).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.topics.clear();
        self.messages.clear();
        self.message_topics.clear();
        self.gaps.clear();
    }

    /// The event at `index`.
    #[inline]
    pub fn get(&self, index: usize) -> Option<Event<'_>> {
        self.entries.get(index).map(|entry| self.view(entry))
    }

    /// Every event, in delivery order (per subscription and topic, this is
    /// publish order).
    #[inline]
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Event<'_>> + '_ {
        self.entries.iter().map(|entry| self.view(entry))
    }

    #[inline]
    fn view(&self, entry: &Entry) -> Event<'_> {
        let subscription = SubscriptionId(entry.subscription);
        let topic = &self.topics[entry.topic as usize];
        match entry.kind {
            Kind::Message(index) => Event::Message(Delivery {
                subscription,
                topic,
                message: &self.messages[index as usize],
            }),
            Kind::Gap(index) => Event::Gap {
                subscription,
                topic: &topic.name,
                gap: &self.gaps[index as usize],
            },
            Kind::Closed(reason) => Event::Closed {
                subscription,
                topic: &topic.name,
                reason,
            },
        }
    }

    /// For the C ABI's conversion: event `index`, when it is a message, as
    /// (subscription, index into [`Batch::messages`]).
    #[inline]
    pub(crate) fn message_entry(&self, index: usize) -> Option<(u64, u32)> {
        let entry = self.entries.get(index)?;
        match entry.kind {
            Kind::Message(message) => Some((entry.subscription, message)),
            Kind::Gap(_) | Kind::Closed(_) => None,
        }
    }

    /// The distinct messages this batch holds, each with its topic.
    pub(crate) fn messages(&self) -> impl Iterator<Item = (&Topic, &Message)> + '_ {
        self.messages
            .iter()
            .zip(&self.message_topics)
            .map(|(message, &topic)| (&*self.topics[topic as usize], &**message))
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
        messages: impl Iterator<Item = &'m Arc<Message>>,
    ) -> u32 {
        let base = self.messages.len() as u32;
        self.messages.extend(messages.cloned());
        self.message_topics.resize(self.messages.len(), topic);
        base
    }

    /// Adds `count` deliveries to one subscription, of the messages added
    /// at `first..first + count`.
    #[inline]
    pub(crate) fn push_messages(&mut self, subscription: u64, topic: u32, first: u32, count: u32) {
        self.entries
            .extend((first..first + count).map(|index| Entry {
                subscription,
                topic,
                kind: Kind::Message(index),
            }));
    }

    pub(crate) fn push_gap(&mut self, subscription: u64, topic: u32, gap: Gap) {
        self.gaps.push(gap);
        let index = (self.gaps.len() - 1) as u32;
        self.entries.push(Entry {
            subscription,
            topic,
            kind: Kind::Gap(index),
        });
    }

    pub(crate) fn push_closed(&mut self, subscription: u64, topic: u32, reason: CloseReason) {
        self.entries.push(Entry {
            subscription,
            topic,
            kind: Kind::Closed(reason),
        });
    }
}
