//! Stress tests: concurrent publishers, many subscriptions over several
//! pollers, each poller drained by its own thread.
//!
//! Two of the four pollers are drained by threads blocking in
//! [`Poller::wait`], one by a thread sleeping in `poll()` on the poller's
//! pipe fd, one on its eventfd. Every drainer checks each event of each of
//! its subscriptions (single topics, two topics, and the pattern
//! `stress.*`): per topic, seqs follow each other exactly (no duplicate, no
//! reordering, nothing skipped without a gap event), keys and payloads
//! match, and each publisher's messages arrive in the order it published
//! them. Before every wait, a drainer also reads the topics' heads: if one
//! of its subscriptions is owed a message already published, the wait must
//! report readiness (no lost wake-up). Drainers also resume subscriptions
//! from their own tokens while messages flow, to check that a token resumes
//! exactly.
//!
//! Each test publishes for two seconds by default; set
//! `PUSHBUS_STRESS_SECS` for longer runs. Every thread stops by itself
//! (publishers at their deadline or message cap, drainers once everything
//! published reached them, or at a hard deadline) and is joined.

mod common;
use common::readable_within;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use pushbus::{
    Batch, Bus, Config, Event, FdMode, LagPolicy, Payload, Poller, Position, Publisher, Start,
    SubscribeOptions, SubscriptionId, Token,
};

/// Topics `stress.0` to `stress.7`, which exist before anything is
/// published.
const NAMED: usize = 8;
/// Index of `stress.late`, which a publisher creates while the others
/// publish (in the lossless test): pattern subscriptions pick it up.
const LATE: usize = NAMED;
/// Every topic, `stress.late` included.
const TOPICS: usize = NAMED + 1;
const PUBLISHERS: usize = 4;
const POLLERS: usize = 4;
/// Subscriptions to one or two named topics, per poller.
const SUBS_PER_POLLER: usize = 300;
/// Subscriptions to the pattern, per poller.
const PATTERN_SUBS_PER_POLLER: usize = 4;
const PATTERN: &str = "stress.*";
/// How long a drainer blocks before it looks around again.
const WAIT: Duration = Duration::from_millis(50);
/// Most errors a drainer records (the first ones tell the story).
const MAX_ERRORS: usize = 20;

fn topic_name(t: usize) -> String {
    if t == LATE {
        "stress.late".to_owned()
    } else {
        format!("stress.{t}")
    }
}

fn topic_index(name: &str) -> Option<usize> {
    match name.strip_prefix("stress.")? {
        "late" => Some(LATE),
        number => number.parse().ok().filter(|&t| t < NAMED),
    }
}

/// Seconds each test publishes for: `PUSHBUS_STRESS_SECS`, default 2.
fn publish_duration() -> Duration {
    let secs = std::env::var("PUSHBUS_STRESS_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(2.0);
    Duration::from_secs_f64(secs)
}

/// A payload naming its publisher, topic and per-(publisher, topic) count.
fn encode(publisher: usize, topic: usize, count: u64) -> [u8; 10] {
    let mut bytes = [0u8; 10];
    bytes[0] = publisher as u8;
    bytes[1] = topic as u8;
    bytes[2..].copy_from_slice(&count.to_le_bytes());
    bytes
}

fn decode(bytes: &[u8]) -> Option<(usize, usize, u64)> {
    let bytes: &[u8; 10] = bytes.try_into().ok()?;
    let count = u64::from_le_bytes(bytes[2..].try_into().ok()?);
    Some((usize::from(bytes[0]), usize::from(bytes[1]), count))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wake {
    /// Blocks in `Poller::wait`.
    Wait,
    /// Sleeps in `poll()` on the poller's fd, made in this mode.
    Fd(FdMode),
}

/// What the test expects of a run.
#[derive(Debug, Clone, Copy)]
struct Scenario {
    /// Rings hold everything: no gap may occur.
    lossless: bool,
    ring_max_messages: usize,
    /// Publishers stop after this many messages each.
    cap_per_publisher: u64,
    /// Publishers sleep `pause` after every `burst` messages (0: never).
    burst: u64,
    pause: Duration,
    /// Publishers wait while the drainers are more than this many
    /// deliveries behind (0: never); see [`Flow`].
    flow_limit: u64,
    /// Drainers of these pollers sleep a little after each drain, to lag.
    slow_pollers: [bool; POLLERS],
    /// Every how many single-topic subscriptions one has lag policy `Close`
    /// (0: none).
    close_every: usize,
    /// Publisher 0 creates `stress.late` a third of the way through (by
    /// time, or by its cap if that comes first).
    late_topic: bool,
}

/// Flow control, so that a run takes about as long as it publishes: the
/// drainers of a debug build deliver far fewer messages a second than
/// publishers can publish.
#[derive(Debug, Default)]
struct Flow {
    /// Per topic: subscriptions reading it, over all pollers.
    fanout: [AtomicU64; TOPICS],
    /// Deliveries the messages published so far owe (without gaps).
    expected: AtomicU64,
    /// Messages delivered so far, over all pollers.
    delivered: AtomicU64,
}

/// One subscription as its drainer sees it.
#[derive(Debug)]
struct Sub {
    id: SubscriptionId,
    selectors: Vec<String>,
    topics: Vec<usize>,
    policy: LagPolicy,
    /// Per topic: the last seq handed over or skipped by a gap.
    cursor: [u64; TOPICS],
    delivered: [u64; TOPICS],
    lost: [u64; TOPICS],
    /// Per topic and publisher: the count its next message must have
    /// (lossless) or at least have (with gaps).
    next_count: [[u64; PUBLISHERS]; TOPICS],
    closed: bool,
}

/// What a drainer did and found.
#[derive(Debug, Default)]
struct Report {
    poller: usize,
    errors: Vec<String>,
    subscriptions: usize,
    delivered: u64,
    gaps: u64,
    lost: u64,
    closes: u64,
    resumes: u64,
    drains: u64,
    empty_wakeups: u64,
}

impl Report {
    fn error(&mut self, text: String) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(format!("poller {}: {text}", self.poller));
        }
    }
}

/// One poller, its subscriptions, and the checks of what it hands over.
struct Drainer {
    bus: Bus,
    poller: Poller,
    /// Known once the topic exists (`stress.late` appears during the run).
    epochs: [Option<u64>; TOPICS],
    /// Set once `stress.late` exists (looking its head up would create it).
    late: Arc<AtomicBool>,
    subs: Vec<Sub>,
    by_id: HashMap<SubscriptionId, usize>,
    /// Per topic: open subscriptions reading it, and the sum of their cursors;
    /// something is owed exactly while `readers * head > cursor_sum`.
    readers: [u64; TOPICS],
    cursor_sum: [u64; TOPICS],
    report: Report,
}

impl Drainer {
    fn new(
        bus: Bus,
        index: usize,
        epochs: [Option<u64>; TOPICS],
        late: Arc<AtomicBool>,
        scenario: &Scenario,
    ) -> Drainer {
        let poller = bus.poller();
        let mut drainer = Drainer {
            bus,
            poller,
            epochs,
            late,
            subs: Vec::new(),
            by_id: HashMap::new(),
            readers: [0; TOPICS],
            cursor_sum: [0; TOPICS],
            report: Report {
                poller: index,
                ..Report::default()
            },
        };
        for k in 0..SUBS_PER_POLLER + PATTERN_SUBS_PER_POLLER {
            let (selectors, topics) = if k >= SUBS_PER_POLLER {
                let mut topics: Vec<usize> = (0..NAMED).collect();
                if scenario.late_topic {
                    topics.push(LATE);
                }
                (vec![PATTERN.to_owned()], topics)
            } else if k % 3 == 2 {
                let (a, b) = ((k + index) % NAMED, (k + index + 3) % NAMED);
                (vec![topic_name(a), topic_name(b)], vec![a, b])
            } else {
                let t = (k + index) % NAMED;
                (vec![topic_name(t)], vec![t])
            };
            // Nothing is published yet: every start means "from the first".
            let start = match k % 4 {
                0 => Start::Oldest,
                1 => Start::Now,
                2 => Start::Last(3),
                _ if topics.len() == 1 && k < SUBS_PER_POLLER => {
                    Start::After(Token::Key(Position {
                        epoch: epochs[topics[0]].expect("named topics exist"),
                        seq: 0,
                    }))
                }
                _ => Start::Oldest,
            };
            let policy = if scenario.close_every > 0
                && topics.len() == 1
                && k < SUBS_PER_POLLER
                && k % scenario.close_every == 0
            {
                LagPolicy::Close
            } else {
                LagPolicy::GapAndContinue
            };
            drainer.add(selectors, topics, policy, start);
        }
        drainer.report.subscriptions = drainer.subs.len();
        drainer
    }

    fn add(&mut self, selectors: Vec<String>, topics: Vec<usize>, policy: LagPolicy, start: Start) {
        let refs: Vec<&str> = selectors.iter().map(String::as_str).collect();
        let options = SubscribeOptions {
            lag_policy: Some(policy),
        };
        let id = self
            .poller
            .subscribe_with(&refs, start, options)
            .expect("subscribe");
        for &t in &topics {
            self.readers[t] += 1;
        }
        self.by_id.insert(id, self.subs.len());
        self.subs.push(Sub {
            id,
            selectors,
            topics,
            policy,
            cursor: [0; TOPICS],
            delivered: [0; TOPICS],
            lost: [0; TOPICS],
            next_count: [[0; PUBLISHERS]; TOPICS],
            closed: false,
        });
    }

    fn heads(&self) -> [u64; TOPICS] {
        let late = self.late.load(Ordering::SeqCst);
        std::array::from_fn(|t| {
            if t == LATE && !late {
                return 0;
            }
            self.bus.head(&topic_name(t)).expect("head").seq
        })
    }

    /// The epoch of topic `t`, which exists.
    fn epoch(&mut self, t: usize) -> u64 {
        *self.epochs[t].get_or_insert_with(|| self.bus.head(&topic_name(t)).expect("head").epoch)
    }

    /// Whether a message at or below `heads` is still owed to a subscription.
    fn owed(&self, heads: &[u64; TOPICS]) -> bool {
        (0..TOPICS).any(|t| self.readers[t] * heads[t] > self.cursor_sum[t])
    }

    fn advance(&mut self, s: usize, t: usize, to: u64) {
        let sub = &mut self.subs[s];
        self.cursor_sum[t] += to - sub.cursor[t];
        sub.cursor[t] = to;
    }

    fn on_event(&mut self, event: Event<'_>, lossless: bool) {
        let id = event.subscription();
        let Some(&s) = self.by_id.get(&id) else {
            self.report.error(format!(
                "event for a subscription it does not hold: {event:?}"
            ));
            return;
        };
        match event {
            Event::Message(delivery) => {
                let Some(t) =
                    topic_index(delivery.topic()).filter(|t| self.subs[s].topics.contains(t))
                else {
                    let topic = delivery.topic().to_owned();
                    self.report.error(format!(
                        "{id} got a message of topic {topic:?} it does not read"
                    ));
                    return;
                };
                let message = delivery.message();
                let seq = message.seq();
                let epoch = self.epoch(t);
                let sub = &self.subs[s];
                if seq != sub.cursor[t] + 1 {
                    let cursor = sub.cursor[t];
                    self.report.error(format!(
                        "{id} on topic {t}: seq {seq} after {cursor} \
                         (duplicate, reordered or lost without a gap)"
                    ));
                }
                let key = delivery.key();
                if key != (Position { epoch, seq }) {
                    self.report
                        .error(format!("{id}: wrong key {key:?} for seq {seq} of {t}"));
                }
                match decode(message.data()) {
                    Some((publisher, topic, count)) if topic == t && publisher < PUBLISHERS => {
                        let expected = sub.next_count[t][publisher];
                        let in_order = if lossless {
                            count == expected
                        } else {
                            count >= expected
                        };
                        if !in_order {
                            self.report.error(format!(
                                "{id} on topic {t}: publisher {publisher}'s message {count} \
                                 where {expected} was due"
                            ));
                        }
                        self.subs[s].next_count[t][publisher] = count + 1;
                    }
                    other => self
                        .report
                        .error(format!("{id}: payload {other:?} in seq {seq} of topic {t}")),
                }
                self.subs[s].delivered[t] += 1;
                self.report.delivered += 1;
                if seq > self.subs[s].cursor[t] {
                    self.advance(s, t, seq);
                }
            }
            Event::Gap { topic, gap, .. } => {
                self.report.gaps += 1;
                let Some(t) = topic_index(topic).filter(|t| self.subs[s].topics.contains(t)) else {
                    self.report.error(format!(
                        "{id} got a gap of topic {topic:?} it does not read"
                    ));
                    return;
                };
                if lossless {
                    self.report.error(format!(
                        "{id}: gap {gap:?} on {topic} with rings holding everything"
                    ));
                }
                let epoch = self.epoch(t);
                let cursor = self.subs[s].cursor[t];
                let lost = gap.to.seq.checked_sub(cursor);
                if gap.from != (Position { epoch, seq: cursor })
                    || gap.to.epoch != epoch
                    || !matches!(lost, Some(lost) if lost > 0)
                    || gap.lost != lost
                {
                    self.report.error(format!(
                        "{id} on {topic} at {cursor}: inconsistent gap {gap:?}"
                    ));
                    return;
                }
                let lost = gap.to.seq - cursor;
                self.subs[s].lost[t] += lost;
                self.report.lost += lost;
                self.advance(s, t, gap.to.seq);
            }
            Event::Closed { reason, .. } => {
                self.report.closes += 1;
                let sub = &self.subs[s];
                if lossless || sub.policy != LagPolicy::Close {
                    let policy = sub.policy;
                    self.report
                        .error(format!("{id} ({policy:?}) closed: {reason:?}"));
                }
                self.by_id.remove(&id);
                self.subs[s].closed = true;
                for t in self.subs[s].topics.clone() {
                    self.readers[t] -= 1;
                    self.cursor_sum[t] -= self.subs[s].cursor[t];
                }
                if let Ok(token) = self.poller.position(id) {
                    self.report
                        .error(format!("{id} closed, yet it still has a position: {token}"));
                }
            }
        }
    }

    /// Moves subscription `s` to a new subscription resumed from its token.
    fn resume(&mut self, s: usize) {
        let old = self.subs[s].id;
        let token = match self.poller.position(old) {
            Ok(token) => token,
            Err(e) => return self.report.error(format!("position of {old}: {e}")),
        };
        if let Err(e) = self.poller.unsubscribe(old) {
            return self.report.error(format!("unsubscribe {old}: {e}"));
        }
        let refs: Vec<&str> = self.subs[s].selectors.iter().map(String::as_str).collect();
        let options = SubscribeOptions {
            lag_policy: Some(self.subs[s].policy),
        };
        match self
            .poller
            .subscribe_with(&refs, Start::After(token.clone()), options)
        {
            Ok(id) => {
                self.by_id.remove(&old);
                self.by_id.insert(id, s);
                self.subs[s].id = id;
                self.report.resumes += 1;
            }
            Err(e) => self.report.error(format!("resume {old} from {token}: {e}")),
        }
    }

    /// Final checks, once every publisher has stopped and all was drained.
    fn finish(&mut self, heads: &[u64; TOPICS], lossless: bool) {
        for s in 0..self.subs.len() {
            let sub = &self.subs[s];
            if sub.closed {
                continue;
            }
            for &t in &sub.topics {
                let (cursor, delivered, lost) = (sub.cursor[t], sub.delivered[t], sub.lost[t]);
                if cursor != heads[t] || delivered + lost != heads[t] || (lossless && lost != 0) {
                    let id = sub.id;
                    let head = heads[t];
                    self.report.error(format!(
                        "{id} on topic {t}: cursor {cursor}, delivered {delivered} + lost {lost}, \
                         published {head}"
                    ));
                }
            }
        }
    }
}

/// A drainer thread: drains until publishing is over and everything
/// published reached every subscription, or until `hard_deadline`.
fn drain_loop(
    mut drainer: Drainer,
    wake: Wake,
    scenario: Scenario,
    done: &AtomicBool,
    flow: &Flow,
    hard_deadline: Instant,
) -> Report {
    let index = drainer.report.poller;
    let fd = match wake {
        Wake::Wait => None,
        Wake::Fd(mode) => Some(drainer.poller.fd(mode).expect("fd")),
    };
    let max = [128, 256, 37, 64][index];
    let mut batch = Batch::with_capacity(max);
    let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ index as u64;
    loop {
        // Read the heads before waiting: whatever they show was published
        // before the wait, so the wait must not miss it.
        let over = done.load(Ordering::SeqCst);
        let heads = drainer.heads();
        let owed = drainer.owed(&heads);
        if over && !owed {
            drainer.finish(&heads, scenario.lossless);
            break;
        }
        // A drainer that found errors stops once publishing is over rather
        // than wait for messages that may never come.
        if over && !drainer.report.errors.is_empty() {
            break;
        }
        if Instant::now() > hard_deadline {
            let owed: Vec<String> = (0..TOPICS)
                .map(|t| {
                    let (readers, sum) = (drainer.readers[t], drainer.cursor_sum[t]);
                    format!(
                        "topic {t}: {readers} readers, cursors {sum} of {}",
                        readers * heads[t]
                    )
                })
                .collect();
            drainer
                .report
                .error(format!("gave up at the hard deadline still owed: {owed:?}"));
            break;
        }
        let wait = |timeout: Duration| match fd {
            None => drainer.poller.wait(Some(timeout)),
            Some(fd) => readable_within(fd, timeout),
        };
        // Owed something published before this point: the poller must be
        // ready right now, not merely after the next publish.
        let ready = if owed && !wait(Duration::ZERO) {
            drainer.report.error(format!(
                "lost wake-up: not ready while owed messages up to {heads:?}"
            ));
            wait(WAIT)
        } else {
            owed || wait(WAIT)
        };
        if !ready {
            continue;
        }
        let n = drainer.poller.drain(&mut batch, max);
        drainer.report.drains += 1;
        if n == 0 {
            drainer.report.empty_wakeups += 1;
        }
        if n > max {
            drainer
                .report
                .error(format!("drain(max = {max}) handed over {n}"));
        }
        let delivered = drainer.report.delivered;
        for event in batch.iter() {
            drainer.on_event(event, scenario.lossless);
        }
        flow.delivered
            .fetch_add(drainer.report.delivered - delivered, Ordering::SeqCst);
        // Now and then, resume a subscription from its own token.
        if drainer.report.drains % 16 == 0 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let s = (rng % drainer.subs.len() as u64) as usize;
            if !drainer.subs[s].closed {
                drainer.resume(s);
            }
        }
        if scenario.slow_pollers[index] {
            thread::sleep(Duration::from_millis(1));
        }
    }
    drainer.report
}

/// A publisher thread: publishes round the topics until `until` or its cap;
/// returns how many messages it published to each topic. Odd publishers
/// publish to the named topics through [`pushbus::Publisher`] handles, even
/// ones by name, so both paths append to the same rings at once. Publisher
/// 0 also creates `stress.late` a third of the way through (when the
/// scenario says so), then sets `late`, and publishes every other message
/// to it.
fn publish_loop(
    bus: &Bus,
    publisher: usize,
    mut epochs: [Option<u64>; TOPICS],
    scenario: Scenario,
    late: &AtomicBool,
    flow: &Flow,
    until: Instant,
) -> [u64; TOPICS] {
    let mut counts = [0u64; TOPICS];
    let mut last_seq = [0u64; TOPICS];
    let names: Vec<String> = (0..TOPICS).map(topic_name).collect();
    let handles: Vec<Publisher> = if publisher % 2 == 1 {
        names[..NAMED]
            .iter()
            .map(|name| bus.publisher(name).expect("publisher"))
            .collect()
    } else {
        Vec::new()
    };
    let late_from = Instant::now() + (until - Instant::now()) / 3;
    let mut late_on = false;
    let mut total = 0u64;
    while total < scenario.cap_per_publisher && (total % 64 != 0 || Instant::now() < until) {
        if publisher == 0 && scenario.late_topic && !late_on && total % 64 == 0 {
            // A third of the way by time, or by the cap if that comes first
            // (a long release run reaches the cap early).
            late_on = Instant::now() >= late_from || total >= scenario.cap_per_publisher / 3;
        }
        // Each publisher walks the topics in its own order.
        let t = if late_on && total % 2 == 1 {
            LATE
        } else {
            (publisher + (total as usize) * (2 * publisher + 1)) % NAMED
        };
        let payload = encode(publisher, t, counts[t]);
        let key = match handles.get(t) {
            Some(handle) => handle.publish(None, Payload::binary(&payload)),
            None => bus.publish(&names[t], None, Payload::binary(&payload)),
        }
        .expect("publish");
        let epoch = *epochs[t].get_or_insert(key.epoch);
        assert_eq!(key.epoch, epoch, "epoch of {}", names[t]);
        assert!(key.seq > last_seq[t], "keys of one publisher go up");
        if t == LATE {
            late.store(true, Ordering::SeqCst);
        }
        last_seq[t] = key.seq;
        counts[t] += 1;
        total += 1;
        if scenario.burst > 0 && total % scenario.burst == 0 {
            thread::sleep(scenario.pause);
        }
        if scenario.flow_limit > 0 {
            let fanout = flow.fanout[t].load(Ordering::SeqCst);
            let expected = flow.expected.fetch_add(fanout, Ordering::SeqCst) + fanout;
            while expected.saturating_sub(flow.delivered.load(Ordering::SeqCst))
                > scenario.flow_limit
                && Instant::now() < until
            {
                thread::sleep(Duration::from_millis(1));
            }
        }
    }
    counts
}

fn run(scenario: Scenario) {
    let duration = publish_duration();
    let mut config = Config::default();
    config.ring_max_messages = scenario.ring_max_messages;
    config.ring_max_bytes = 1 << 30;
    config.replay_budget_bytes = 1 << 30;
    config.janitor_interval = None;
    config.topic_idle_ttl = None;
    let bus = Bus::new(config).expect("bus");
    let epochs: [Option<u64>; TOPICS] =
        std::array::from_fn(|t| (t < NAMED).then(|| bus.head(&topic_name(t)).expect("head").epoch));
    let late = Arc::new(AtomicBool::new(false));
    let wakes = [
        Wake::Wait,
        Wake::Wait,
        Wake::Fd(FdMode::Pipe),
        Wake::Fd(FdMode::EventFd),
    ];
    let done = Arc::new(AtomicBool::new(false));
    let flow = Arc::new(Flow::default());
    let ready = Arc::new(Barrier::new(POLLERS + PUBLISHERS));
    let started = Instant::now();
    // Subscribing 1,200 subscriptions and catching up in a debug build on a
    // loaded machine takes a while: the hard deadline only catches hangs.
    let hard_deadline = started + duration * 4 + Duration::from_secs(30);

    let drainers: Vec<_> = (0..POLLERS)
        .map(|index| {
            let (bus, done, ready, late, flow) = (
                bus.clone(),
                done.clone(),
                ready.clone(),
                late.clone(),
                flow.clone(),
            );
            thread::Builder::new()
                .name(format!("drainer-{index}"))
                .spawn(move || {
                    let drainer = Drainer::new(bus, index, epochs, late, &scenario);
                    for (t, readers) in drainer.readers.iter().enumerate() {
                        flow.fanout[t].fetch_add(*readers, Ordering::SeqCst);
                    }
                    ready.wait();
                    drain_loop(drainer, wakes[index], scenario, &done, &flow, hard_deadline)
                })
                .expect("spawn drainer")
        })
        .collect();
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|publisher| {
            let (bus, ready, late, flow) = (bus.clone(), ready.clone(), late.clone(), flow.clone());
            thread::Builder::new()
                .name(format!("publisher-{publisher}"))
                .spawn(move || {
                    ready.wait();
                    let until = Instant::now() + duration;
                    publish_loop(&bus, publisher, epochs, scenario, &late, &flow, until)
                })
                .expect("spawn publisher")
        })
        .collect();

    let published: Vec<_> = publishers.into_iter().map(|p| p.join()).collect();
    let publishing = started.elapsed();
    // Stop the drainers even if a publisher failed.
    done.store(true, Ordering::SeqCst);
    let reports: Vec<_> = drainers.into_iter().map(|d| d.join()).collect();
    let elapsed = started.elapsed();

    let published: Vec<[u64; TOPICS]> = published
        .into_iter()
        .map(|p| p.expect("a publisher panicked"))
        .collect();
    let reports: Vec<Report> = reports
        .into_iter()
        .map(|r| r.expect("a drainer panicked"))
        .collect();
    let per_topic: Vec<u64> = (0..TOPICS)
        .map(|t| published.iter().map(|p| p[t]).sum())
        .collect();
    assert_eq!(
        per_topic[LATE] > 0,
        scenario.late_topic,
        "messages published to stress.late"
    );
    for (t, &count) in per_topic
        .iter()
        .enumerate()
        .filter(|&(_, &count)| count > 0)
    {
        assert_eq!(
            bus.head(&topic_name(t)).unwrap().seq,
            count,
            "head of topic {t}"
        );
    }
    let errors: Vec<&String> = reports.iter().flat_map(|r| &r.errors).collect();
    let total: u64 = per_topic.iter().sum();
    let sum = |f: fn(&Report) -> u64| reports.iter().map(f).sum::<u64>();
    eprintln!(
        "published {total} ({} to stress.late) in {publishing:?}, drained in {elapsed:?}: \
         {} subscriptions, \
         {} delivered, {} gaps ({} lost), {} closed, {} resumed, {} drains, {} empty",
        per_topic[LATE],
        reports.iter().map(|r| r.subscriptions).sum::<usize>(),
        sum(|r| r.delivered),
        sum(|r| r.gaps),
        sum(|r| r.lost),
        sum(|r| r.closes),
        sum(|r| r.resumes),
        sum(|r| r.drains),
        sum(|r| r.empty_wakeups),
    );
    assert!(errors.is_empty(), "{errors:#?}");
    assert!(total > 0, "nothing was published");
    let stats = bus.stats();
    assert_eq!(stats.published, total);
    assert_eq!(stats.delivered, sum(|r| r.delivered));
    assert_eq!(stats.gaps, sum(|r| r.gaps));
    assert_eq!(stats.lag_closes, sum(|r| r.closes));
    assert_eq!(stats.subscriptions, 0, "the drainers dropped their pollers");
    if scenario.lossless {
        assert_eq!(sum(|r| r.gaps), 0);
    } else {
        assert!(
            sum(|r| r.gaps) > 0,
            "small rings, yet no subscription lagged"
        );
    }
}

/// With rings large enough to hold everything, 1,216 subscriptions over
/// four pollers (woken by `wait`, a pipe fd and an eventfd) each get every
/// message of their topics exactly once, in publish order, with the right
/// keys and payloads, including the pattern subscriptions' share of a topic
/// created mid-run; no wake-up is lost; resuming from a token while
/// messages flow continues exactly where the subscription was.
#[test]
fn lossless_fan_out_under_concurrent_publishers() {
    // Publishers are throttled to what the drainers take; the cap keeps a
    // long (or release) run within the rings and a few hundred MB.
    let cap = 100_000;
    run(Scenario {
        lossless: true,
        ring_max_messages: (cap as usize) * PUBLISHERS,
        cap_per_publisher: cap,
        burst: 0,
        pause: Duration::ZERO,
        flow_limit: 200_000,
        slow_pollers: [false; POLLERS],
        close_every: 0,
        late_topic: true,
    });
}

/// With small rings (16 messages) and drainers that fall behind, every
/// subscription still accounts for every message of its topics: each is
/// either delivered (in order, once) or inside a gap event whose `from`,
/// `to` and `lost` match exactly (delivered + lost == published), and
/// subscriptions with lag policy `Close` end with a `Closed` event.
#[test]
fn gaps_account_for_every_message_with_small_rings() {
    run(Scenario {
        lossless: false,
        ring_max_messages: 16,
        cap_per_publisher: u64::MAX,
        burst: 200,
        pause: Duration::from_millis(1),
        flow_limit: 0,
        slow_pollers: [true, false, true, false],
        close_every: 10,
        late_topic: false,
    });
}
