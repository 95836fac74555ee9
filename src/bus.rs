//! The bus: topics, publishing, polls, presence and statistics.
//!
//! # Specification
//!
//! - **Publish** validates everything first (topic name, event type, payload
//!   size and encoding), so a refused publish changes nothing. It is O(1) in
//!   the number of subscriptions and never waits for a subscriber beyond a
//!   poller's short read of the ring.
//! - **Topics** are created on first use (publish, subscribe, poll, join),
//!   with a new random epoch, up to [`Config::max_topics`]. A topic with no
//!   subscription, no [`Publisher`], no presence and no publish for
//!   [`Config::topic_idle_ttl`] is removed by [`Bus::sweep`] (run by the
//!   janitor thread every [`Config::janitor_interval`]); its keys then
//!   resume with a gap.
//! - **Polls** read a topic from a position without subscribing; a long
//!   poll waits for the first message after it, up to a timeout. Both
//!   resume exactly like subscriptions (same gap rules).
//! - **Presence** is per topic; see [`crate::presence`]. `join` and `leave`
//!   events are ordinary messages of the topic (event types `join` and
//!   `leave`, JSON payloads `{"client":..,"info":..}` and `{"client":..}`),
//!   so they bump its version key and reach every subscriber in order.
//!
//! A `Bus` is a cheap handle: clones share one bus, which lives until the
//! last handle and the last [`Poller`] are gone.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::batch::{Batch, Event};
use crate::clock::{monotonic_ms, wall_ms};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::janitor::Janitor;
use crate::message::{Message, Payload};
use crate::name::{check_client_id, check_event, check_topic};
use crate::poller::Poller;
use crate::position::{Position, Token};
use crate::presence::{Holder, PresenceEntry};
use crate::publisher::Publisher;
use crate::registry::Registry;
use crate::ring::RingLimits;
use crate::stats::{Counters, Stats};
use crate::subscription::{start_cursor, Gap, Start};
use crate::topic::{Topic, TopicState};

/// State shared by a bus's handles, pollers and janitor.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: Config,
    pub limits: RingLimits,
    pub registry: Registry,
    pub counters: Counters,
    next_subscription: AtomicU64,
    /// When the last sweep ran, on the monotonic clock; 0 before the first.
    last_sweep_ms: AtomicU64,
    /// Set once after construction (it needs a weak reference to this).
    janitor: parking_lot::Mutex<Option<Janitor>>,
}

impl Shared {
    pub fn next_subscription_id(&self) -> u64 {
        self.next_subscription.fetch_add(1, Relaxed)
    }

    /// The topic named `name` (already validated), created if needed.
    pub fn topic(&self, name: &str) -> Result<Arc<Topic>> {
        self.registry.get_or_create(name, self.config.max_topics)
    }

    /// Runs `f` on the topic named `name` (already validated, created if
    /// needed) under its state's write lock, and returns the topic with
    /// `f`'s result. A topic the janitor removed between the lookup and the
    /// lock is looked up again, so `f` always acts on a live topic.
    pub fn with_live_topic<R>(
        &self,
        name: &str,
        f: impl FnOnce(&Topic, &mut TopicState) -> R,
    ) -> Result<(Arc<Topic>, R)> {
        loop {
            let topic = self.topic(name)?;
            let mut state = topic.state.write();
            if !state.removed {
                let result = f(&topic, &mut state);
                drop(state);
                return Ok((topic, result));
            }
        }
    }

    /// Validates a message's event type and payload.
    pub fn check_message(&self, event: Option<&str>, payload: &Payload<'_>) -> Result<()> {
        if let Some(event) = event {
            check_event(event)?;
        }
        payload.validate(self.config.max_message_bytes)
    }

    /// Validates a presence call's arguments.
    pub fn check_presence(&self, topic: &str, client: &str, info: &str) -> Result<()> {
        check_topic(topic, self.config.max_topic_len)?;
        check_client_id(client)?;
        if info.len() > self.config.max_presence_info_bytes {
            return Err(Error::InvalidPresence(format!(
                "info of {} bytes exceeds the limit of {}",
                info.len(),
                self.config.max_presence_info_bytes
            )));
        }
        crate::json::validate(info.as_bytes())
            .map_err(|e| Error::InvalidPresence(format!("info must be JSON: {e}")))
    }

    /// Adds a presence holder (arguments already checked); returns the topic.
    pub fn join_presence(
        &self,
        name: &str,
        client: &str,
        info: &str,
        holder: Holder,
    ) -> Result<Arc<Topic>> {
        let (topic, ()) = self.with_live_topic(name, |topic, state| {
            let now = wall_ms();
            if state.presence.join(client, info, holder, now) && self.config.presence_events {
                let payload = format!("{{\"client\":{},\"info\":{info}}}", json_string(client));
                topic.append(
                    state,
                    self,
                    Some("join"),
                    Payload::json(payload.as_bytes()),
                    now,
                );
            }
        })?;
        Ok(topic)
    }

    /// Drops a subscription's presence hold, announcing a leave if it was
    /// the last holder.
    pub fn release_presence(&self, topic: &Topic, client: &str, subscription: u64) {
        let mut state = topic.state.write();
        if !state.removed && state.presence.release(client, subscription, monotonic_ms()) {
            self.announce_leave(topic, &mut state, client, wall_ms());
        }
    }

    /// Publishes `client`'s leave at wall-clock time `now`.
    fn announce_leave(&self, topic: &Topic, state: &mut TopicState, client: &str, now: u64) {
        state.last_active_ms = monotonic_ms();
        if self.config.presence_events {
            let payload = format!("{{\"client\":{}}}", json_string(client));
            topic.append(
                state,
                self,
                Some("leave"),
                Payload::json(payload.as_bytes()),
                now,
            );
        }
    }

    /// Expires leases and aged messages, dates the topics' publishes since
    /// the last sweep, then removes idle topics.
    pub fn sweep(&self) {
        let (now, elapsed) = (wall_ms(), monotonic_ms());
        let previous = self.last_sweep_ms.swap(elapsed, Relaxed).min(elapsed);
        for topic in self.registry.topics() {
            let mut state = topic.state.write();
            if state.removed {
                continue;
            }
            for client in state.presence.expire(elapsed) {
                self.announce_leave(&topic, &mut state, &client, now);
            }
            let freed = state.ring.evict_aged(&self.limits, now);
            self.counters.account_replay(0, freed);
            let last = state.ring.last_seq();
            if last != state.seq_at_sweep {
                // Published since the last sweep: when, on the monotonic
                // clock, is the newest message's wall-clock age back from
                // now, kept between the two sweeps, so that a step of the
                // wall clock cannot date it outside them.
                let age = state
                    .ring
                    .get(last)
                    .map_or(0, |message| now.saturating_sub(message.time_ms()));
                let published = elapsed.saturating_sub(age).clamp(previous, elapsed);
                state.last_active_ms = state.last_active_ms.max(published);
                state.seq_at_sweep = last;
            }
        }
        if let Some(ttl) = self.config.topic_idle_ttl {
            let ttl_ms = ttl.as_millis() as u64;
            let removed = self.registry.remove_idle(|state| {
                state.watchers.is_empty()
                    && state.publishers == 0
                    && state.presence.is_empty()
                    // Nothing published since the loop above dated it.
                    && state.ring.last_seq() == state.seq_at_sweep
                    && elapsed.saturating_sub(state.last_active_ms) >= ttl_ms
            });
            for topic in removed {
                self.counters
                    .account_replay(0, topic.state.read().ring.bytes());
            }
        }
    }
}

fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// The result of a short or long poll.
#[derive(Debug, Clone)]
pub struct Poll {
    /// The topic's epoch: with a message's seq, it makes the message's key.
    pub epoch: u64,
    /// The messages after the starting position, oldest first.
    pub messages: Vec<Message>,
    /// Set when the starting position was no longer held.
    pub gap: Option<Gap>,
    /// The key to poll from next: the last message returned, or where the
    /// poll started when there was none.
    pub position: Position,
    topic: Arc<Topic>,
}

impl Poll {
    /// The topic polled.
    pub fn topic(&self) -> &str {
        &self.topic.name
    }

    /// The version key of one of the returned messages.
    pub fn key(&self, message: &Message) -> Position {
        Position {
            epoch: self.epoch,
            seq: message.seq(),
        }
    }

    /// The wire frames of one of the returned messages (shared with every
    /// stream that delivers it).
    pub fn frames<'a>(&self, message: &'a Message) -> crate::frames::Frames<'a> {
        message.frames(&self.topic.name, self.key(message))
    }

    /// The wire frames of one of the returned messages, owned (see
    /// [`crate::frames::MessageFrames`]): a poll's messages outlive it, and
    /// so can their frames, without a copy.
    pub fn shared_frames(&self, message: &Message) -> crate::frames::MessageFrames {
        crate::frames::MessageFrames::new(message.clone(), &self.topic.name, self.key(message))
    }

    /// The answer as JSON: `{"key":..,"messages":[envelope,..],"gap":..}`
    /// (see [`crate::envelope::poll_answer`]).
    pub fn to_json(&self) -> Vec<u8> {
        let gap = self
            .gap
            .map(|gap| crate::envelope::gap(&self.topic.name, &gap.from.to_string(), gap.to));
        let envelopes = self
            .messages
            .iter()
            .map(|message| self.frames(message).envelope());
        crate::envelope::poll_answer(self.position, envelopes, gap.as_deref())
    }
}

/// A handle to a bus; see the module docs.
#[derive(Debug, Clone)]
pub struct Bus {
    shared: Arc<Shared>,
}

impl Bus {
    /// A new bus. Starts the janitor thread unless
    /// [`Config::janitor_interval`] is `None`. Errors:
    /// [`Error::InvalidConfig`], or [`Error::Io`] if the thread cannot start.
    pub fn new(config: Config) -> Result<Bus> {
        config.validate()?;
        let limits = RingLimits {
            max_messages: config.ring_max_messages,
            max_bytes: config.ring_max_bytes,
            max_age_ms: config.ring_max_age.map(|age| age.as_millis() as u64),
        };
        let interval = config.janitor_interval;
        let shared = Arc::new(Shared {
            config,
            limits,
            registry: Registry::new(),
            counters: Counters::default(),
            next_subscription: AtomicU64::new(1),
            last_sweep_ms: AtomicU64::new(0),
            janitor: parking_lot::Mutex::new(None),
        });
        if let Some(interval) = interval {
            *shared.janitor.lock() = Some(Janitor::start(Arc::downgrade(&shared), interval)?);
        }
        Ok(Bus { shared })
    }

    /// The configuration the bus runs with.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// Publishes a message; returns its version key.
    ///
    /// `event` is an optional event type (`[A-Za-z0-9_.:-]`, at most 64
    /// bytes). Errors, each leaving the bus unchanged:
    /// [`Error::InvalidTopic`], [`Error::PatternNotAllowed`],
    /// [`Error::InvalidEvent`], [`Error::MessageTooLarge`],
    /// [`Error::InvalidUtf8`], [`Error::InvalidJson`],
    /// [`Error::TooManyTopics`].
    pub fn publish(
        &self,
        topic: &str,
        event: Option<&str>,
        payload: Payload<'_>,
    ) -> Result<Position> {
        let shared = &*self.shared;
        shared.check_message(event, &payload)?;
        let now = wall_ms();
        // An existing topic's name was checked when it was created, and no
        // invalid name (a pattern, too long, malformed) is ever a topic: the
        // name is checked only when the lookup misses (a twelfth of a
        // publish's instructions saved).
        let appended = shared.registry.with(topic, |found| {
            let mut state = found.state.write();
            // Never removed while its shard is locked; checked all the same.
            (!state.removed).then(|| found.append(&mut state, shared, event, payload, now))
        });
        if let Some(Some(position)) = appended {
            return Ok(position);
        }
        check_topic(topic, shared.config.max_topic_len)?;
        let (_, position) = shared.with_live_topic(topic, |found, state| {
            found.append(state, shared, event, payload, now)
        })?;
        Ok(position)
    }

    /// A [`Publisher`] for `topic` (created if needed): it publishes
    /// without looking the name up, and keeps the topic from expiring while
    /// it exists. Errors: [`Error::InvalidTopic`],
    /// [`Error::PatternNotAllowed`], [`Error::TooManyTopics`].
    pub fn publisher(&self, topic: &str) -> Result<Publisher> {
        check_topic(topic, self.shared.config.max_topic_len)?;
        let (found, ()) = self
            .shared
            .with_live_topic(topic, |_, state| state.publishers += 1)?;
        Ok(Publisher::new(self.shared.clone(), found))
    }

    /// A new poller on this bus.
    pub fn poller(&self) -> Poller {
        Poller::new(self.shared.clone())
    }

    /// The topic's newest key (creating the topic if needed): polling or
    /// subscribing from it gets only what is published after this call.
    pub fn head(&self, topic: &str) -> Result<Position> {
        check_topic(topic, self.shared.config.max_topic_len)?;
        let topic = self.shared.topic(topic)?;
        let last = topic.state.read().ring.last_seq();
        Ok(topic.position(last))
    }

    /// The key just before the topic's oldest held message (creating the
    /// topic if needed, like [`Bus::head`]): resuming after it replays
    /// everything still held, with no gap. It is the `to` of the gap a
    /// server sends for a resume key it cannot read, and what
    /// `poll(topic, &Start::Oldest, 0).position` computed, without building
    /// a poll. When nothing is held (a new topic, or every message aged
    /// out) it equals [`Bus::head`]. Errors: [`Error::InvalidTopic`],
    /// [`Error::PatternNotAllowed`], [`Error::TooManyTopics`].
    pub fn oldest(&self, topic: &str) -> Result<Position> {
        check_topic(topic, self.shared.config.max_topic_len)?;
        let topic = self.shared.topic(topic)?;
        let first = topic.state.read().ring.first_seq();
        Ok(topic.position(first - 1))
    }

    /// Short poll: up to `max` messages of one topic after `start`, without
    /// waiting. A composite token resumes from its entry for this topic.
    /// Errors: [`Error::InvalidTopic`], [`Error::PatternNotAllowed`],
    /// [`Error::TooManyTopics`].
    pub fn poll(&self, topic: &str, start: &Start, max: usize) -> Result<Poll> {
        check_topic(topic, self.shared.config.max_topic_len)?;
        let topic = self.shared.topic(topic)?;
        let state = topic.state.read();
        let (cursor, gap) = start_cursor(start, &topic.name, topic.epoch, &state.ring);
        let upto = state.ring.last_seq().min(cursor.saturating_add(max as u64));
        let messages = (cursor + 1..=upto)
            .filter_map(|seq| state.ring.get(seq).cloned())
            .collect();
        if gap.is_some() {
            self.shared.counters.gaps.fetch_add(1, Relaxed);
        }
        let position = topic.position(upto);
        drop(state);
        Ok(Poll {
            epoch: topic.epoch,
            messages,
            gap,
            position,
            topic,
        })
    }

    /// Long poll: like [`Bus::poll`], but when nothing is newer than `start`
    /// it waits up to `timeout` for the first message, then answers with what
    /// arrived. A timeout answers with no messages and the same position.
    /// Blocks the calling thread; event loops subscribe on their own poller
    /// instead.
    pub fn long_poll(
        &self,
        topic: &str,
        start: &Start,
        max: usize,
        timeout: Duration,
    ) -> Result<Poll> {
        let first = self.poll(topic, start, max)?;
        if !first.messages.is_empty() || first.gap.is_some() || timeout.is_zero() || max == 0 {
            return Ok(first);
        }
        let deadline = Instant::now() + timeout;
        let poller = self.poller();
        poller.subscribe(&[topic], Start::After(Token::Key(first.position)))?;
        let mut batch = Batch::new();
        loop {
            if !poller.wait(Some(deadline.saturating_duration_since(Instant::now()))) {
                return Ok(first);
            }
            poller.drain(&mut batch, max);
            let mut answer = Poll {
                messages: Vec::new(),
                ..first.clone()
            };
            for event in batch.iter() {
                match event {
                    Event::Message(delivery) => {
                        answer.position = delivery.key();
                        answer.epoch = answer.position.epoch;
                        answer.messages.push(delivery.shared());
                    }
                    Event::Gap { gap, .. } => {
                        answer.position = gap.to;
                        answer.epoch = gap.to.epoch;
                        answer.gap = Some(*gap);
                    }
                    Event::Closed { .. } => {}
                }
            }
            if !answer.messages.is_empty() || answer.gap.is_some() {
                return Ok(answer);
            }
        }
    }

    /// Makes `client` present in `topic` for `ttl` (polling clients: each
    /// poll renews it). `info` is a small JSON value. Publishes `join` when
    /// the client was not present. Errors: [`Error::InvalidTopic`],
    /// [`Error::InvalidPresence`], [`Error::TooManyTopics`].
    pub fn join_lease(&self, topic: &str, client: &str, info: &str, ttl: Duration) -> Result<()> {
        self.shared.check_presence(topic, client, info)?;
        let until_ms = monotonic_ms().saturating_add(ttl.as_millis() as u64);
        self.shared
            .join_presence(topic, client, info, Holder::Lease { until_ms })
            .map(drop)
    }

    /// Removes `client` from `topic`'s presence, whatever holds it; says
    /// whether it was present. Publishes `leave` if it was.
    pub fn leave(&self, topic: &str, client: &str) -> Result<bool> {
        check_topic(topic, self.shared.config.max_topic_len)?;
        check_client_id(client)?;
        let Some(topic) = self.shared.registry.get(topic) else {
            return Ok(false);
        };
        let mut state = topic.state.write();
        if state.removed || !state.presence.leave(client) {
            return Ok(false);
        }
        self.shared
            .announce_leave(&topic, &mut state, client, wall_ms());
        Ok(true)
    }

    /// The clients present in `topic`, by client id (empty for a topic that
    /// does not exist; the call does not create it).
    pub fn presence(&self, topic: &str) -> Result<Vec<PresenceEntry>> {
        check_topic(topic, self.shared.config.max_topic_len)?;
        Ok(match self.shared.registry.get(topic) {
            Some(topic) => topic.state.read().presence.list(monotonic_ms()),
            None => Vec::new(),
        })
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.shared.counters.snapshot(self.shared.registry.len())
    }

    /// Runs the janitor's work now: expires presence leases and aged
    /// messages, removes idle topics.
    pub fn sweep(&self) {
        self.shared.sweep();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::tests::step_wall_clock;
    use crate::config::Config;

    const HOURS_2: i64 = 2 * 3_600_000;

    /// A bus whose sweeps the test runs itself: on its own thread, whose
    /// wall clock the test steps.
    fn bus() -> Bus {
        idle_after(Duration::from_secs(300))
    }

    fn idle_after(ttl: Duration) -> Bus {
        Bus::new(Config {
            topic_idle_ttl: Some(ttl),
            janitor_interval: None,
            ..Config::default()
        })
        .expect("valid config")
    }

    fn publish(bus: &Bus, topic: &str) -> Position {
        bus.publish(topic, None, Payload::text("x"))
            .expect("published")
    }

    /// Sweeps until `done` or two seconds have passed.
    fn sweep_until(bus: &Bus, what: &str, done: impl Fn() -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        loop {
            bus.sweep();
            if done() {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{what}: not after 2 s"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn present(bus: &Bus, topic: &str) -> Vec<String> {
        let entries = bus.presence(topic).expect("valid topic");
        entries.into_iter().map(|entry| entry.client).collect()
    }

    #[test]
    fn a_wall_clock_step_forward_ends_no_lease() {
        let bus = bus();
        bus.join_lease("room", "ann", "{}", Duration::from_secs(60))
            .expect("joined");
        step_wall_clock(HOURS_2);
        bus.sweep();
        assert_eq!(present(&bus, "room"), ["ann"]);
        // The presence's `since`, as message times, is the wall clock's.
        let since = bus.presence("room").expect("valid topic")[0].since_ms;
        assert!(since + HOURS_2 as u64 <= crate::clock::wall_ms());
        step_wall_clock(-HOURS_2);
    }

    #[test]
    fn a_wall_clock_step_back_does_not_stretch_a_lease() {
        let bus = bus();
        bus.join_lease("room", "ann", "{}", Duration::from_millis(30))
            .expect("joined");
        step_wall_clock(-HOURS_2);
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while !present(&bus, "room").is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "a 30 ms lease still held after 2 s"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        step_wall_clock(HOURS_2);
    }

    #[test]
    fn a_wall_clock_step_forward_removes_no_idle_topic() {
        let ttl = Duration::from_millis(200);
        let bus = idle_after(ttl);
        let first = publish(&bus, "t");
        bus.sweep();
        std::thread::sleep(ttl * 3 / 4);
        bus.sweep();
        // Published after the last sweep; the next one dates it after the
        // step, between the two sweeps, not two hours back.
        let second = publish(&bus, "t");
        std::thread::sleep(ttl / 2);
        step_wall_clock(HOURS_2);
        bus.sweep();
        assert_eq!(bus.head("t").expect("head"), second);
        assert_eq!(second.epoch, first.epoch);
        step_wall_clock(-HOURS_2);
    }

    #[test]
    fn a_wall_clock_step_back_does_not_keep_an_idle_topic() {
        let bus = idle_after(Duration::from_millis(30));
        publish(&bus, "dated");
        bus.sweep();
        publish(&bus, "undated");
        step_wall_clock(-HOURS_2);
        sweep_until(&bus, "both topics idle", || bus.stats().topics == 0);
        step_wall_clock(HOURS_2);
    }

    #[test]
    fn idle_time_counts_from_the_last_publish_not_the_sweep_that_saw_it() {
        let ttl = Duration::from_millis(200);
        let bus = idle_after(ttl);
        publish(&bus, "t");
        bus.sweep();
        std::thread::sleep(ttl / 2);
        publish(&bus, "t");
        // The first sweep after a quiet stretch longer than the TTL removes
        // the topic: its last publish is dated when it was made, not when
        // this sweep saw it.
        std::thread::sleep(ttl + ttl / 2);
        bus.sweep();
        assert_eq!(bus.stats().topics, 0);
    }
}
