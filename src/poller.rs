//! Pollers: one consumer's subscriptions, one fd, batch drains.
//!
//! # Specification
//!
//! A [`Poller`] groups any number of subscriptions for one consumer (an
//! event loop, a thread). It guarantees:
//!
//! - **Order and exactness.** For each subscription and topic, messages are
//!   delivered in publish order, each once. A message is skipped only with a
//!   gap event naming what was lost (or, with lag policy `Close`, a closed
//!   event that ends the subscription).
//! - **Readiness.** [`Poller::fd`] is readable, and [`Poller::wait`]
//!   returns, while something may be drained: it never stays quiet while a
//!   message waits (no lost wake-up, see [`crate::wake`]). It may rarely be
//!   readable with nothing to drain (a drain then returns 0).
//! - **Bounded work.** [`Poller::drain`] never blocks on publishers for
//!   longer than they hold a topic's lock, and hands over at most `max`
//!   events per call; topics it could not finish come first next time.
//! - **Thread safety.** Every method takes `&self` and may be called from any
//!   thread; calls on one poller are serialised by its consumer lock, so
//!   give each thread that drains its own poller.
//!
//! Subscriptions are ids, not handles: closing an unknown or closed id is
//! [`Error::UnknownSubscription`], never undefined behaviour. Dropping the
//! poller closes all of its subscriptions.
//!
//! # Lock order
//!
//! Consumer lock, then registry shards, then a topic's state, then the ready
//! queue. Publishers never take a consumer lock.

use std::collections::{HashMap, VecDeque};
use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::batch::Batch;
use crate::bus::Shared;
use crate::clock::monotonic_ms;
use crate::config::LagPolicy;
use crate::error::{Error, Result};
use crate::fd::{FdMode, PollerFd};
use crate::group::{Group, Groups, Member, Visit};
use crate::name::{check_topic, is_pattern, Pattern};
use crate::position::Token;
use crate::registry::PatternWatch;
use crate::subscription::{start_cursor, Start, SubscribeOptions, SubscriptionId};
use crate::topic::Topic;
use crate::wake::{ReadyQueue, Signal};

/// Work for a poller, queued by publishers and topic creators.
#[derive(Debug)]
pub(crate) enum Ready {
    /// A topic this poller reads has news.
    Topic(Arc<Watch>),
    /// A topic matching one of the subscription's patterns was created.
    Attach {
        subscription: u64,
        lag_policy: LagPolicy,
        topic: Arc<Topic>,
    },
}

/// A poller's registration on one topic: what a publisher raises.
#[derive(Debug)]
pub(crate) struct Watch {
    signal: Signal,
    /// The group's slot in its poller's [`Groups`]; fixed for its life.
    slot: u32,
    queue: Arc<ReadyQueue<Ready>>,
}

impl Watch {
    /// Queues this topic for its poller unless it is queued already.
    pub fn notify(self: &Arc<Self>) {
        if self.signal.raise() {
            self.queue.push(Ready::Topic(self.clone()));
        }
    }
}

/// Where a new cursor starts.
#[derive(Debug, Clone, Copy)]
enum From<'a> {
    /// Where the subscriber asked.
    Start(&'a Start),
    /// Before the topic's first message; anything already evicted is lag.
    Beginning,
}

/// Where one of a subscription's cursors lives: its group's slot and its
/// index among the group's members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CursorRef {
    slot: u32,
    member: u32,
}

impl CursorRef {
    /// No cursor: what a subscription holds before it reads any topic (a
    /// pattern that matches nothing yet). Slots are far fewer than 2^32.
    const NONE: CursorRef = CursorRef {
        slot: u32::MAX,
        member: u32::MAX,
    };
}

/// A topic where a subscription holds a client's presence, and the client.
type HeldPresence = (Arc<Topic>, Box<str>);

/// A poller's subscriptions by id. Idle subscriptions are most of a
/// server's memory (W4 allows 128 bytes each, map entry and group member
/// included), and most read one concrete topic and hold no presence: their
/// entry in `firsts`, 16 bytes with the id, is all they take here. The few
/// that have more (several topics, patterns, presence) also have an entry
/// in `rests`. Lag policies are in the group members' tags; a pattern's is
/// in its [`PatternWatch`].
#[derive(Debug, Default)]
struct Subscriptions {
    /// Every subscription's first cursor, or [`CursorRef::NONE`].
    firsts: HashMap<u64, CursorRef>,
    /// What few subscriptions have besides: a subscription's entry is made
    /// when it first needs one (it subscribes to several topics or to
    /// patterns, gains a second cursor, or joins a topic's presence) and
    /// goes when it closes.
    rests: HashMap<u64, Rest>,
}

// The entry W4 counts on: growing it should be a decision, not an accident.
const _: () = assert!(std::mem::size_of::<(u64, CursorRef)>() == 16);

/// What few subscriptions have.
#[derive(Debug, Default)]
struct Rest {
    /// Subscribed to several topics or to patterns: its token is composite
    /// even while it reads one topic.
    composite: bool,
    has_patterns: bool,
    /// Cursors after the first.
    cursors: Vec<CursorRef>,
    /// Presence it holds, released when it closes.
    presence: Vec<HeldPresence>,
}

/// One subscription, read from [`Subscriptions`] (or taken out of it).
#[derive(Debug, Clone, Copy)]
struct State<'a> {
    first: CursorRef,
    rest: Option<&'a Rest>,
}

impl<'a> State<'a> {
    /// Whether it asked for a single concrete topic (its token is a key).
    fn single_topic(&self) -> bool {
        !self.rest.is_some_and(|rest| rest.composite)
    }

    fn has_patterns(&self) -> bool {
        self.rest.is_some_and(|rest| rest.has_patterns)
    }

    /// One per topic read, in the order they were added.
    fn cursors(&self) -> impl Iterator<Item = CursorRef> + Clone + 'a {
        let rest = self.rest.map_or(&[][..], |rest| &rest.cursors);
        std::iter::once(self.first)
            .filter(|cursor| *cursor != CursorRef::NONE)
            .chain(rest.iter().copied())
    }

    fn presence(&self) -> &'a [HeldPresence] {
        self.rest.map_or(&[], |rest| &rest.presence)
    }
}

impl Subscriptions {
    fn len(&self) -> usize {
        self.firsts.len()
    }

    fn ids(&self) -> Vec<u64> {
        self.firsts.keys().copied().collect()
    }

    /// Adds subscription `id`, with no cursor yet: to one concrete topic
    /// when `single_topic`; else to several, or to patterns when
    /// `has_patterns`.
    fn insert(&mut self, id: u64, single_topic: bool, has_patterns: bool) {
        self.firsts.insert(id, CursorRef::NONE);
        if !single_topic {
            let rest = Rest {
                composite: true,
                has_patterns,
                ..Rest::default()
            };
            self.rests.insert(id, rest);
        }
    }

    fn get(&self, id: u64) -> Option<State<'_>> {
        Some(State {
            first: *self.firsts.get(&id)?,
            rest: self.rests.get(&id),
        })
    }

    /// Takes subscription `id` out: its first cursor and the rest.
    fn remove(&mut self, id: u64) -> Option<(CursorRef, Option<Rest>)> {
        Some((self.firsts.remove(&id)?, self.rests.remove(&id)))
    }

    fn add_cursor(&mut self, id: u64, cursor: CursorRef) {
        let Some(first) = self.firsts.get_mut(&id) else {
            return;
        };
        if *first == CursorRef::NONE {
            *first = cursor;
        } else {
            self.rests.entry(id).or_default().cursors.push(cursor);
        }
    }

    /// Points subscription `id`'s cursor in group `slot` at `member`, where
    /// its group member has moved.
    fn move_cursor(&mut self, id: u64, slot: u32, member: u32) {
        let first = self.firsts.get_mut(&id).into_iter();
        let rest = self.rests.get_mut(&id).into_iter();
        let cursors = first.chain(rest.flat_map(|rest| rest.cursors.iter_mut()));
        for cursor in cursors.filter(|cursor| cursor.slot == slot) {
            cursor.member = member;
        }
    }

    /// The presence subscription `id` holds, to add to; `id` must exist.
    fn presence_mut(&mut self, id: u64) -> &mut Vec<HeldPresence> {
        &mut self.rests.entry(id).or_default().presence
    }
}

#[derive(Debug, Default)]
struct Consumer {
    subscriptions: Subscriptions,
    groups: Groups,
    /// Items taken from the ready queue and not yet processed; empty
    /// between calls (leftovers go back to the queue's front).
    taken: VecDeque<Ready>,
    closing: Vec<u64>,
}

/// A group of subscriptions drained by one consumer; see the module docs.
#[derive(Debug)]
pub struct Poller {
    bus: Arc<Shared>,
    queue: Arc<ReadyQueue<Ready>>,
    consumer: Mutex<Consumer>,
}

impl Poller {
    pub(crate) fn new(bus: Arc<Shared>) -> Poller {
        Poller {
            bus,
            queue: Arc::new(ReadyQueue::new()),
            consumer: Mutex::new(Consumer::default()),
        }
    }

    /// Subscribes to topics and patterns, starting at `start`, with the bus's
    /// default lag policy.
    pub fn subscribe(&self, selectors: &[&str], start: Start) -> Result<SubscriptionId> {
        self.subscribe_with(selectors, start, SubscribeOptions::default())
    }

    /// Subscribes with options.
    ///
    /// Topics that do not exist are created. A [`Token::Key`] resumes only a
    /// subscription to a single topic; several topics or patterns need a
    /// composite token. Errors: [`Error::NoTopics`], [`Error::InvalidTopic`],
    /// [`Error::InvalidPattern`], [`Error::BadToken`],
    /// [`Error::TooManyTopics`], [`Error::TooManySubscriptions`].
    pub fn subscribe_with(
        &self,
        selectors: &[&str],
        start: Start,
        options: SubscribeOptions,
    ) -> Result<SubscriptionId> {
        let config = &self.bus.config;
        if selectors.is_empty() {
            return Err(Error::NoTopics);
        }
        let mut topics: Vec<&str> = Vec::new();
        let mut patterns = Vec::new();
        for &selector in selectors {
            if is_pattern(selector) {
                patterns.push(Pattern::parse(selector, config.max_topic_len)?);
            } else {
                check_topic(selector, config.max_topic_len)?;
                if !topics.contains(&selector) {
                    topics.push(selector);
                }
            }
        }
        let single_topic = topics.len() == 1 && patterns.is_empty();
        if matches!(start, Start::After(Token::Key(_))) && !single_topic {
            return Err(Error::BadToken(
                "a single key resumes a subscription to one topic; use a composite token"
                    .to_owned(),
            ));
        }
        let mut consumer = self.consumer.lock();
        if consumer.subscriptions.len() >= config.max_subscriptions_per_poller {
            return Err(Error::TooManySubscriptions {
                limit: config.max_subscriptions_per_poller,
            });
        }
        let id = self.bus.next_subscription_id();
        consumer
            .subscriptions
            .insert(id, single_topic, !patterns.is_empty());
        let lag_policy = options.lag_policy.unwrap_or(config.lag_policy);
        let attached = self.attach_all(&mut consumer, id, lag_policy, &topics, patterns, &start);
        if !consumer.taken.is_empty() {
            self.queue.push_front_all(consumer.taken.drain(..));
        }
        if let Err(error) = attached {
            self.remove(&mut consumer, id);
            return Err(error);
        }
        self.bus
            .counters
            .subscriptions
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(SubscriptionId(id))
    }

    fn attach_all(
        &self,
        consumer: &mut Consumer,
        id: u64,
        lag_policy: LagPolicy,
        topics: &[&str],
        patterns: Vec<Pattern>,
        start: &Start,
    ) -> Result<()> {
        let from = From::Start(start);
        for name in topics {
            while !self.attach(consumer, id, lag_policy, &self.bus.topic(name)?, from) {}
        }
        for pattern in patterns {
            let watch = PatternWatch {
                pattern,
                subscription: id,
                lag_policy,
                queue: self.queue.clone(),
            };
            for topic in self.bus.registry.add_pattern(watch) {
                self.attach(consumer, id, lag_policy, &topic, from);
            }
        }
        Ok(())
    }

    /// Adds a cursor for `subscription` on `topic`, unless it has one, and
    /// queues the topic (on the consumer's side) when the cursor has
    /// something to read. Returns false when the topic was removed meanwhile (look it up again).
    fn attach(
        &self,
        consumer: &mut Consumer,
        subscription: u64,
        lag_policy: LagPolicy,
        topic: &Arc<Topic>,
        from: From<'_>,
    ) -> bool {
        let Consumer {
            subscriptions,
            groups,
            taken,
            ..
        } = consumer;
        let Some(state) = subscriptions.get(subscription) else {
            return true;
        };
        if let Some(slot) = groups.slot_of(topic.id) {
            if state.cursors().any(|cursor| cursor.slot == slot) {
                return true;
            }
        }
        let mut topic_state = topic.state.write();
        if topic_state.removed {
            return false;
        }
        let (cursor, pending_gap) = match from {
            From::Start(start) => start_cursor(start, &topic.name, topic.epoch, &topic_state.ring),
            From::Beginning => (0, None),
        };
        let backlog = pending_gap.is_some() || cursor < topic_state.ring.last_seq();
        let slot = groups.get_or_insert(topic.id, |slot| {
            let watch = Arc::new(Watch {
                signal: Signal::new(),
                slot,
                queue: self.queue.clone(),
            });
            topic_state.watchers.push(watch.clone());
            Group {
                topic: topic.clone(),
                watch,
                members: Vec::new(),
                scan_from: 0,
                pending_gaps: Vec::new(),
            }
        });
        drop(topic_state);
        let Some(group) = groups.get_mut(slot) else {
            return true;
        };
        let members = &mut group.members;
        if members.len() == members.capacity() {
            // Half again, not double: a topic's members are most of an idle
            // subscription's memory (W4), and 1.5x growth leaves them at
            // least two thirds full where doubling can leave them half.
            members.reserve_exact((members.len() / 2).max(4));
        }
        members.push(Member::new(subscription, cursor, lag_policy));
        if let Some(gap) = pending_gap {
            group.pending_gaps.push((subscription, gap));
        }
        let member = (group.members.len() - 1) as u32;
        subscriptions.add_cursor(subscription, CursorRef { slot, member });
        // Queued on the consumer's side: a drain in progress (attaching a new
        // topic for a pattern) then serves it in the same call.
        if backlog && group.watch.signal.raise() {
            taken.push_back(Ready::Topic(group.watch.clone()));
        }
        true
    }

    /// Removes a subscription's cursors, patterns and presence; false if
    /// there is no such subscription.
    fn remove(&self, consumer: &mut Consumer, subscription: u64) -> bool {
        let Consumer {
            subscriptions,
            groups,
            ..
        } = consumer;
        let Some((first, rest)) = subscriptions.remove(subscription) else {
            return false;
        };
        let state = State {
            first,
            rest: rest.as_ref(),
        };
        if state.has_patterns() {
            self.bus.registry.remove_patterns(subscription);
        }
        for CursorRef { slot, member } in state.cursors() {
            let Some(group) = groups.get_mut(slot) else {
                continue;
            };
            let index = member as usize;
            group.members.swap_remove(index);
            group.pending_gaps.retain(|(id, _)| *id != subscription);
            if let Some(moved) = group.members.get(index) {
                subscriptions.move_cursor(moved.subscription(), slot, member);
            }
            if group.scan_from >= group.members.len() {
                group.scan_from = 0;
            }
            if group.members.is_empty() {
                if let Some(group) = groups.remove(slot) {
                    let mut topic_state = group.topic.state.write();
                    topic_state
                        .watchers
                        .retain(|watch| !Arc::ptr_eq(watch, &group.watch));
                    topic_state.last_active_ms = monotonic_ms();
                }
            }
        }
        for (topic, client) in state.presence() {
            self.bus.release_presence(topic, client, subscription);
        }
        true
    }

    /// Closes a subscription: its cursors go, and presence it held is
    /// released. Errors: [`Error::UnknownSubscription`] if it is unknown or
    /// already closed.
    pub fn unsubscribe(&self, subscription: SubscriptionId) -> Result<()> {
        let mut consumer = self.consumer.lock();
        if !self.remove(&mut consumer, subscription.0) {
            return Err(Error::UnknownSubscription(subscription.0));
        }
        self.bus
            .counters
            .subscriptions
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// The configuration of the bus this poller belongs to.
    pub fn config(&self) -> &crate::Config {
        &self.bus.config
    }

    /// Subscriptions open in this poller.
    pub fn len(&self) -> usize {
        self.consumer.lock().subscriptions.len()
    }

    /// True when this poller holds no subscription.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Where a subscription is: every message it was handed is covered.
    /// Resuming from this token (on any poller of the bus) delivers exactly
    /// what it has not been handed yet. A subscription to one topic has a
    /// key; others a composite token.
    pub fn position(&self, subscription: SubscriptionId) -> Result<Token> {
        let consumer = self.consumer.lock();
        let state = consumer
            .subscriptions
            .get(subscription.0)
            .ok_or(Error::UnknownSubscription(subscription.0))?;
        let positions = state.cursors().filter_map(|cursor| {
            let group = consumer.groups.get(cursor.slot)?;
            let member = group.members.get(cursor.member as usize)?;
            let position = match group.pending_gap(member.subscription()) {
                Some(gap) => gap.from,
                None => group.topic.position(member.cursor),
            };
            Some((group.topic.name.to_string(), position))
        });
        if state.single_topic() {
            if let Some((_, position)) = positions.clone().next() {
                return Ok(Token::Key(position));
            }
        }
        Ok(Token::composite(positions))
    }

    /// Makes `client` present in `topic` for as long as `subscription` is
    /// open (or until [`Bus::leave`](crate::Bus::leave)). `info` is a small
    /// JSON value. Publishes a `join` event when the client was not present
    /// and presence events are on.
    pub fn join(
        &self,
        subscription: SubscriptionId,
        topic: &str,
        client: &str,
        info: &str,
    ) -> Result<()> {
        self.bus.check_presence(topic, client, info)?;
        let mut consumer = self.consumer.lock();
        if consumer.subscriptions.get(subscription.0).is_none() {
            return Err(Error::UnknownSubscription(subscription.0));
        }
        let topic = self.bus.join_presence(
            topic,
            client,
            info,
            crate::presence::Holder::Subscription(subscription.0),
        )?;
        let held = consumer.subscriptions.presence_mut(subscription.0);
        if !held
            .iter()
            .any(|(topic_held, name)| Arc::ptr_eq(topic_held, &topic) && **name == *client)
        {
            held.push((topic, client.into()));
        }
        Ok(())
    }

    /// The fd to watch for readability; created in `mode` on first call.
    /// The poller owns it: never read or close it. Asking for the other mode
    /// once it exists is [`Error::InvalidConfig`].
    pub fn fd(&self, mode: FdMode) -> Result<RawFd> {
        self.queue.fd(mode).map(|fd| fd.raw())
    }

    /// The same fd as [`Poller::fd`] (created in `mode` on first call, the
    /// same mode rule), as an owner that implements [`AsFd`](std::os::fd::AsFd)
    /// and [`AsRawFd`](std::os::fd::AsRawFd) and keeps the fd open while it
    /// lives: what safe code needs to register the fd with an event loop,
    /// where a bare [`RawFd`] would need `unsafe`. See [`PollerFd`].
    pub fn fd_handle(&self, mode: FdMode) -> Result<PollerFd> {
        self.queue.fd(mode).map(PollerFd::new)
    }

    /// Blocks until something may be drained or `timeout` passes (`None`:
    /// no limit); says whether something may be drained.
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        let deadline = timeout.map(|timeout| Instant::now() + timeout);
        // `taken` is empty between calls: everything pending is in the queue.
        self.queue.wait(deadline)
    }

    /// Clears `batch`, then fills it with up to `max` events without
    /// blocking; returns how many. See the module docs for the guarantees.
    pub fn drain(&self, batch: &mut Batch, max: usize) -> usize {
        use std::sync::atomic::Ordering::Relaxed;
        batch.recycle();
        let mut guard = self.consumer.lock();
        let consumer = &mut *guard;
        let mut gaps = 0;
        let mut closed = 0;
        while batch.len() < max {
            if consumer.taken.is_empty() {
                // Each item usually yields at least one event.
                self.queue.take(&mut consumer.taken, max - batch.len());
            }
            let Some(item) = consumer.taken.pop_front() else {
                break;
            };
            let watch = match item {
                Ready::Topic(watch) => watch,
                Ready::Attach {
                    subscription,
                    lag_policy,
                    topic,
                } => {
                    // From the topic's first message: it was created after
                    // the pattern, so the subscription is owed all of it, and
                    // what was evicted before this attach is lag.
                    self.attach(consumer, subscription, lag_policy, &topic, From::Beginning);
                    continue;
                }
            };
            let Some(group) = consumer.groups.get_mut(watch.slot) else {
                continue;
            };
            if !Arc::ptr_eq(&group.watch, &watch) {
                continue;
            }
            watch.signal.rearm();
            let visit = group.visit(batch, max, &mut consumer.closing, &mut gaps);
            if visit == Visit::BatchFull && watch.signal.raise() {
                consumer.taken.push_front(Ready::Topic(watch));
            }
            while let Some(subscription) = consumer.closing.pop() {
                if self.remove(consumer, subscription) {
                    closed += 1;
                }
            }
        }
        if !consumer.taken.is_empty() {
            self.queue.push_front_all(consumer.taken.drain(..));
        }
        drop(guard);
        batch.release_stale();
        let counters = &self.bus.counters;
        counters
            .delivered
            .fetch_add((batch.len() - gaps as usize - closed) as u64, Relaxed);
        if gaps > 0 {
            counters.gaps.fetch_add(gaps, Relaxed);
        }
        if closed > 0 {
            counters.lag_closes.fetch_add(closed as u64, Relaxed);
            counters.subscriptions.fetch_sub(closed as u64, Relaxed);
        }
        batch.len()
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        let mut consumer = self.consumer.lock();
        let ids = consumer.subscriptions.ids();
        for id in &ids {
            self.remove(&mut consumer, *id);
        }
        self.bus
            .counters
            .subscriptions
            .fetch_sub(ids.len() as u64, std::sync::atomic::Ordering::Relaxed);
        // Queued items hold references to this queue: break the cycle.
        drop(self.queue.clear());
        consumer.taken.clear();
    }
}
