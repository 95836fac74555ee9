//! The loopback workloads. Each opens its subscribers (one connection
//! each), waits until every one of them receives a probe message (so no
//! subscription is still being set up when timing starts), runs, and returns
//! one [`Record`].
//!
//! - W1 / W2 ([`throughput`]): publishers publish as fast as the flow
//!   control of [`Tally`] lets them (at most `window` messages not yet
//!   delivered everywhere); deliveries per second over the measured
//!   interval, after a warm-up. Then every message published must arrive.
//! - W3 ([`latency`]): a fixed publish rate; p50/p99/p999 of
//!   publish-to-receive latency.
//! - W4 ([`memory`]): the server's resident memory per idle subscriber.
//! - W5 ([`capacity`]): the publish rate is stepped up until deliveries stop
//!   keeping up; the highest sustained rate and its p99.
//! - W6 ([`resume_storm`]): SSE clients reconnect at once, each with a
//!   `Last-Event-ID` `behind` messages back; the time until all caught up.
//!
//! Publishing: `publishers` connections at once. HTTP answers each POST
//! and Redis each PUBLISH; NATS does not answer PUB. In W1 and W2 each
//! connection pipelines up to `pipeline` publishes: it writes them at once,
//! then reads their answers, so that a contender that answers every publish
//! is not held to a round trip a message while NATS streams.
//! A message's send time is read just before its publish is written;
//! latency is its receive time minus that, on the same monotonic clock.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{stream, StreamExt, TryStreamExt};
use tokio::task::JoinHandle;
use tokio::time::{sleep, sleep_until, timeout, Instant};

use super::sse::Delivery;
use super::target::{Publisher, Subscription, Target};
use crate::clock::now_ns;
use crate::latency::Latency;
use crate::payload::{Stamp, PROBE};
use crate::record::Record;
use crate::tally::Tally;
use crate::usage::{resident_bytes, Meter};
use crate::Result;

/// Connections opened at once while setting up: under the listen backlog
/// (511 by default for nginx and Node) so that setup never waits on SYN
/// retries. W6 opens all of its connections at once on purpose.
const CONNECT_CONCURRENCY: usize = 64;
/// How long a step's deliveries may take after its last publish before it
/// counts as not keeping up (W5), and how long the end of any run may take.
const GRACE: Duration = Duration::from_secs(1);
/// W5: a step in which the publishers fell further behind their schedule
/// than this did not sustain its rate.
const MAX_PUBLISH_LAG: Duration = Duration::from_millis(100);
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Flow control: a run whose oldest message has not reached every
/// subscriber after this long has lost it.
const STALL: Duration = Duration::from_secs(5);
/// Paced publishing gives up once this far behind its schedule: the server
/// cannot take the rate, and latencies past that point only measure the
/// publishers' queue.
const GIVE_UP: Duration = Duration::from_secs(1);
const PROBE_EVERY: Duration = Duration::from_millis(50);

/// What every workload is told.
pub struct Settings {
    pub target: Target,
    /// The contender's name in the records.
    pub label: String,
    pub publishers: usize,
    /// W1, W2: publishes a connection writes at once before reading their
    /// answers.
    pub pipeline: usize,
    pub warmup: Duration,
    pub seconds: Duration,
    /// The server's processes (nginx: its workers): their CPU use goes in
    /// the records, and W4 reads their memory.
    pub server_pids: Vec<u32>,
    /// Starts every topic name, so that each run has topics of its own,
    /// with no history from an earlier run (nchan, for one, loses messages
    /// for a new subscriber of a channel whose buffer is already full).
    pub topic_prefix: String,
}

impl Settings {
    /// The name of this run's topic `name`.
    pub fn topic(&self, name: &str) -> String {
        format!("{}{name}", self.topic_prefix)
    }

    fn record(&self, workload: &str, param: usize) -> Record {
        Record::new(workload, &self.label, "loopback", param as u64)
    }

    fn meter(&self) -> Meter {
        Meter::start(&self.server_pids)
    }
}

/// Adds the CPU the client and the server used (shares of one core).
fn with_usage(record: Record, meter: &Meter) -> Record {
    let (client, server) = meter.shares();
    record.set("client_cpu", client).set("server_cpu", server)
}

/// What the subscribers of a run share.
struct Shared {
    tally: Option<Tally>,
    ready: AtomicUsize,
    gaps: AtomicU64,
    /// Messages `measured_from..measured_until` are the measured ones:
    /// their deliveries are counted in `measured` and their latency
    /// recorded.
    measured_from: AtomicU64,
    measured_until: AtomicU64,
    measured: AtomicU64,
    latency: Mutex<Latency>,
}

impl Shared {
    fn new(tally: Option<Tally>) -> Arc<Shared> {
        Arc::new(Shared {
            tally,
            ready: AtomicUsize::new(0),
            gaps: AtomicU64::new(0),
            measured_from: AtomicU64::new(u64::MAX),
            measured_until: AtomicU64::new(u64::MAX),
            measured: AtomicU64::new(0),
            latency: Mutex::new(Latency::default()),
        })
    }

    /// Starts measuring messages `from..until` afresh.
    fn measure(&self, from: u64, until: u64) {
        self.measured_from.store(from, Relaxed);
        self.measured_until.store(until, Relaxed);
        self.measured.store(0, Relaxed);
        *self.latency.lock().expect("not poisoned") = Latency::default();
    }

    fn take_latency(&self) -> Latency {
        std::mem::take(&mut *self.latency.lock().expect("not poisoned"))
    }

    /// Counts `deliveries`, what one subscriber's reads brought, the last
    /// of which returned at `received_ns`. Shared counters and the latency
    /// lock are taken once for all of them: once a delivery, they were a
    /// tenth of the client's time at 1,000 subscribers (perf).
    fn receive(&self, deliveries: &[Delivery], received_ns: u64, ready: &mut bool) {
        let messages = || {
            deliveries.iter().filter_map(|delivery| match delivery {
                Delivery::Message(stamp) if !stamp.is_probe() => Some(stamp),
                _ => None,
            })
        };
        if let Some(tally) = &self.tally {
            tally.deliver(messages().map(|stamp| stamp.seq));
        }
        let gaps = deliveries.iter().filter(|d| **d == Delivery::Gap).count();
        if gaps > 0 {
            self.gaps.fetch_add(gaps as u64, Relaxed);
        }
        let is_probe = |d: &Delivery| matches!(d, Delivery::Message(stamp) if stamp.is_probe());
        if !*ready && deliveries.iter().any(is_probe) {
            *ready = true;
            self.ready.fetch_add(1, Relaxed);
        }
        let window = self.measured_from.load(Relaxed)..self.measured_until.load(Relaxed);
        let (mut latency, mut measured) = (None, 0);
        for stamp in messages().filter(|stamp| window.contains(&stamp.seq)) {
            measured += 1;
            latency
                .get_or_insert_with(|| self.latency.lock().expect("not poisoned"))
                .record(received_ns.saturating_sub(stamp.sent_ns));
        }
        if measured > 0 {
            self.measured.fetch_add(measured, Relaxed);
        }
    }
}

/// Opens `per_topic` subscribers on each of `topics` and starts receiving.
async fn subscribe_all(
    settings: &Settings,
    topics: &[String],
    per_topic: usize,
    shared: &Arc<Shared>,
) -> Result<()> {
    let wanted = topics
        .iter()
        .flat_map(|topic| std::iter::repeat_n(topic, per_topic));
    stream::iter(wanted)
        .map(|topic| settings.target.subscribe(topic, None))
        .buffer_unordered(CONNECT_CONCURRENCY)
        .try_for_each(|mut subscription: Subscription| {
            let shared = shared.clone();
            tokio::spawn(async move {
                let (mut ready, mut deliveries) = (false, Vec::new());
                while subscription.next_batch(&mut deliveries).await {
                    shared.receive(&deliveries, subscription.received_ns(), &mut ready);
                    deliveries.clear();
                }
            });
            async { Ok(()) }
        })
        .await
}

async fn open_publishers(settings: &Settings) -> Result<Vec<Publisher>> {
    let opening = (0..settings.publishers).map(|_| settings.target.publisher());
    futures_util::future::try_join_all(opening).await
}

/// Publishes probes to every topic until `subscribers` have each seen one.
async fn wait_ready(
    publisher: &mut Publisher,
    topics: &[String],
    shared: &Shared,
    subscribers: usize,
) -> Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    let probe = Stamp {
        seq: PROBE,
        sent_ns: 0,
    }
    .encode();
    while shared.ready.load(Relaxed) < subscribers {
        if Instant::now() > deadline {
            let ready = shared.ready.load(Relaxed);
            return Err(
                format!("only {ready} of {subscribers} subscribers received a probe").into(),
            );
        }
        for topic in topics {
            publisher.publish(topic, &probe).await?;
        }
        publisher.flush().await?;
        sleep(PROBE_EVERY).await;
    }
    Ok(())
}

/// Message `seq` goes to topic `seq % topics.len()`.
fn topic_of(topics: &[String], seq: u64) -> &str {
    &topics[(seq % topics.len() as u64) as usize]
}

/// Message `seq`, stamped with the time now.
fn stamped(seq: u64) -> [u8; crate::payload::LEN] {
    Stamp {
        seq,
        sent_ns: now_ns(),
    }
    .encode()
}

async fn publish(publisher: &mut Publisher, topics: &[String], seq: u64) -> Result<()> {
    publisher
        .publish(topic_of(topics, seq), &stamped(seq))
        .await
}

/// Publishers under flow control: the next message number, shared.
struct Flow {
    topics: Arc<Vec<String>>,
    next: AtomicU64,
    stop: AtomicBool,
}

fn spawn_flow(
    publishers: Vec<Publisher>,
    pipeline: usize,
    shared: &Arc<Shared>,
    flow: &Arc<Flow>,
) -> Vec<JoinHandle<Result<()>>> {
    publishers
        .into_iter()
        .map(|mut publisher| {
            let (shared, flow) = (shared.clone(), flow.clone());
            tokio::spawn(async move {
                let tally = shared.tally.as_ref().expect("flow control needs a tally");
                let mut queued = 0;
                while !flow.stop.load(Relaxed) {
                    // Every number taken is published, so `next` ends as the
                    // count of messages published.
                    let seq = flow.next.fetch_add(1, Relaxed);
                    if !tally.admits(seq) {
                        // What is queued goes first: its deliveries may be
                        // what `seq` waits for.
                        publisher.send().await?;
                        queued = 0;
                        if timeout(STALL, tally.admit(seq)).await.is_err() {
                            let (stalled, has) = tally.first_incomplete();
                            return Err(format!(
                                "deliveries stalled: message {stalled} has {has} deliveries of {per_topic}",
                                per_topic = tally.expected(),
                            )
                            .into());
                        }
                    }
                    publisher.queue(topic_of(&flow.topics, seq), &stamped(seq));
                    queued += 1;
                    if queued == pipeline {
                        publisher.send().await?;
                        queued = 0;
                    }
                }
                publisher.send().await?;
                publisher.flush().await
            })
        })
        .collect()
}

async fn join_all<T>(tasks: Vec<JoinHandle<Result<T>>>) -> Result<Vec<T>> {
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await??);
    }
    Ok(results)
}

/// W1 (`topics` = 1) and W2 (`per_topic` = 1): deliveries per second under
/// flow control.
pub async fn throughput(
    settings: &Settings,
    workload: &str,
    topics: Vec<String>,
    per_topic: usize,
    window: usize,
) -> Result<Record> {
    let subscribers = topics.len() * per_topic;
    let shared = Shared::new(Some(Tally::new(per_topic, window)));
    subscribe_all(settings, &topics, per_topic, &shared).await?;
    let mut publishers = open_publishers(settings).await?;
    wait_ready(&mut publishers[0], &topics, &shared, subscribers).await?;

    let flow = Arc::new(Flow {
        topics: Arc::new(topics),
        next: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });
    let tasks = spawn_flow(publishers, settings.pipeline, &shared, &flow);
    let tally = shared.tally.as_ref().expect("made above");
    sleep(settings.warmup).await;
    shared.measure(flow.next.load(Relaxed), u64::MAX);
    let (delivered, meter, start) = (tally.delivered(), settings.meter(), Instant::now());
    sleep(settings.seconds).await;
    let elapsed = start.elapsed().as_secs_f64();
    let delivered = tally.delivered() - delivered;
    let record = with_usage(settings.record(workload, subscribers), &meter);
    flow.stop.store(true, Relaxed);
    join_all(tasks).await?;

    let published = flow.next.load(Relaxed);
    let complete = timeout(GRACE * 5, tally.all_complete(published))
        .await
        .is_ok();
    let expected = published * per_topic as u64;
    Ok(record
        .set("topics", flow.topics.len())
        .set("deliveries_per_s", delivered as f64 / elapsed)
        .set(
            "messages_per_s",
            delivered as f64 / elapsed / per_topic as f64,
        )
        .set("seconds", elapsed)
        .set("window", window)
        .set("publishers", settings.publishers)
        .set("pipeline", settings.pipeline)
        .set("lost", expected.saturating_sub(tally.delivered()))
        .set("gaps", shared.gaps.load(Relaxed))
        .set("complete", complete)
        .set("saturated_latency", shared.take_latency().summary()))
}

/// Publishers on a schedule: message `seq` is due at
/// `start + (seq - first) / rate`.
struct Schedule {
    topics: Arc<Vec<String>>,
    first: u64,
    until: u64,
    rate: f64,
    start: Instant,
    next: AtomicU64,
    /// Set by the first publisher more than `GIVE_UP` behind: all stop.
    gave_up: AtomicBool,
}

impl Schedule {
    fn due(&self, seq: u64) -> Instant {
        self.start + Duration::from_secs_f64((seq - self.first) as f64 / self.rate)
    }
}

/// How paced publishing went.
struct Paced {
    publishers: Vec<Publisher>,
    /// The furthest behind schedule any publish was.
    behind: Duration,
    /// Whether the publishers fell `GIVE_UP` behind and stopped early.
    gave_up: bool,
}

/// Publishes messages `first..until` at `rate` a second over all
/// `publishers`.
async fn paced(
    publishers: Vec<Publisher>,
    topics: &Arc<Vec<String>>,
    first: u64,
    until: u64,
    rate: f64,
) -> Result<Paced> {
    let schedule = Arc::new(Schedule {
        topics: topics.clone(),
        first,
        until,
        rate,
        start: Instant::now(),
        next: AtomicU64::new(first),
        gave_up: AtomicBool::new(false),
    });
    let tasks = publishers
        .into_iter()
        .map(|mut publisher| {
            let schedule = schedule.clone();
            tokio::spawn(async move {
                let mut behind = Duration::ZERO;
                while !schedule.gave_up.load(Relaxed) {
                    let seq = schedule.next.fetch_add(1, Relaxed);
                    if seq >= schedule.until {
                        break;
                    }
                    let due = schedule.due(seq);
                    sleep_until(due).await;
                    behind = behind.max(due.elapsed());
                    if behind > GIVE_UP {
                        schedule.gave_up.store(true, Relaxed);
                        break;
                    }
                    publish(&mut publisher, &schedule.topics, seq).await?;
                }
                publisher.flush().await?;
                Ok((publisher, behind))
            })
        })
        .collect();
    let done = join_all(tasks).await?;
    let behind = done
        .iter()
        .map(|(_, behind)| *behind)
        .max()
        .unwrap_or_default();
    Ok(Paced {
        publishers: done.into_iter().map(|(publisher, _)| publisher).collect(),
        behind,
        gave_up: schedule.gave_up.load(Relaxed),
    })
}

/// Waits (at most `GRACE`) until `expected` measured deliveries arrived.
async fn settle(shared: &Shared, expected: u64) -> bool {
    let deadline = Instant::now() + GRACE;
    while shared.measured.load(Relaxed) < expected {
        if Instant::now() > deadline {
            return false;
        }
        sleep(Duration::from_millis(5)).await;
    }
    true
}

/// W3: `subscribers` on one topic, messages published at `rate` a second.
pub async fn latency(settings: &Settings, subscribers: usize, rate: f64) -> Result<Record> {
    let topics = Arc::new(vec![settings.topic("latency")]);
    let shared = Shared::new(None);
    subscribe_all(settings, &topics, subscribers, &shared).await?;
    let mut publishers = open_publishers(settings).await?;
    wait_ready(&mut publishers[0], &topics, &shared, subscribers).await?;

    let warm = (rate * settings.warmup.as_secs_f64()) as u64;
    let total = warm + (rate * settings.seconds.as_secs_f64()) as u64;
    shared.measure(warm, total);
    let meter = settings.meter();
    let paced = paced(publishers, &topics, 0, total, rate).await?;
    let expected = (total - warm) * subscribers as u64;
    // After giving up, some messages were never published: nothing to
    // wait for.
    let complete = !paced.gave_up && settle(&shared, expected).await;
    let lost = (!paced.gave_up).then(|| expected.saturating_sub(shared.measured.load(Relaxed)));
    Ok(with_usage(settings.record("w3", subscribers), &meter)
        .set("rate", rate)
        .set("publishers", settings.publishers)
        .set("publish_behind_ms", paced.behind.as_secs_f64() * 1e3)
        .set("rate_kept", !paced.gave_up)
        .set("lost", lost)
        .set("gaps", shared.gaps.load(Relaxed))
        .set("complete", complete)
        .merge(shared.take_latency().summary()))
}

/// W4: the server's resident memory per idle subscriber, from the growth
/// while `connections` subscribers are opened (after a first one, so that
/// the topic and lazily made state exist before).
pub async fn memory(settings: &Settings, connections: usize) -> Result<Record> {
    let pids = &settings.server_pids;
    if pids.is_empty() {
        return Err("W4 needs --server-pid".into());
    }
    let topics = vec![settings.topic("idle")];
    let shared = Shared::new(None);
    subscribe_all(settings, &topics, 1, &shared).await?;
    let mut publishers = open_publishers(settings).await?;
    wait_ready(&mut publishers[0], &topics, &shared, 1).await?;
    sleep(settings.warmup).await;
    let before = resident_bytes(pids)?;

    subscribe_all(settings, &topics, connections, &shared).await?;
    wait_ready(&mut publishers[0], &topics, &shared, connections + 1).await?;
    sleep(settings.warmup).await;
    let after = resident_bytes(pids)?;
    Ok(settings
        .record("w4", connections)
        .set(
            "bytes_per_subscriber",
            (after as f64 - before as f64) / connections as f64,
        )
        .set("rss_before", before)
        .set("rss_after", after))
}

/// W5: `connections` on one topic; the rate starts at `start` messages a
/// second and is multiplied by `factor` each step of `settings.seconds`,
/// until a step does not keep up: some delivery still missing `GRACE` after
/// the step's last publish, a gap, or publishers more than
/// `MAX_PUBLISH_LAG` behind schedule (the server answers too slowly).
/// Prints a record per step; returns the summary.
pub async fn capacity(
    settings: &Settings,
    connections: usize,
    start: f64,
    factor: f64,
    max_rate: f64,
) -> Result<Record> {
    let topics = Arc::new(vec![settings.topic("capacity")]);
    let shared = Shared::new(None);
    subscribe_all(settings, &topics, connections, &shared).await?;
    let mut publishers = open_publishers(settings).await?;
    wait_ready(&mut publishers[0], &topics, &shared, connections).await?;

    let (mut rate, mut next) = (start, 0);
    let mut best: Option<(f64, Latency)> = None;
    while rate <= max_rate {
        let count = (rate * settings.seconds.as_secs_f64()).ceil() as u64;
        shared.measure(next, next + count);
        let gaps = shared.gaps.load(Relaxed);
        let meter = settings.meter();
        let paced = paced(publishers, &topics, next, next + count, rate).await?;
        let behind = paced.behind;
        publishers = paced.publishers;
        let expected = count * connections as u64;
        let complete = !paced.gave_up && settle(&shared, expected).await;
        let gapped = shared.gaps.load(Relaxed) > gaps;
        let kept_up = complete && !gapped && behind <= MAX_PUBLISH_LAG;
        let latency = shared.take_latency();
        with_usage(settings.record("w5_step", connections), &meter)
            .set("rate", rate)
            .set("deliveries_per_s", rate * connections as f64)
            .set(
                "delivered_fraction",
                shared.measured.load(Relaxed) as f64 / expected as f64,
            )
            .set("publish_behind_ms", behind.as_secs_f64() * 1e3)
            .set("gaps", gapped)
            .set("kept_up", kept_up)
            .merge(latency.summary())
            .print();
        if !kept_up {
            break;
        }
        best = Some((rate, latency));
        next += count;
        rate *= factor;
    }
    let record = settings.record("w5", connections).set("factor", factor);
    Ok(match best {
        Some((rate, latency)) => record
            .set("sustained_rate", rate)
            .set("deliveries_per_s", rate * connections as f64)
            .set("p99_us", latency.micros(0.99)),
        None => record.set("sustained_rate", 0.0).set("below_rate", start),
    })
}

/// W6: a resume storm on topic `storm`. An observer subscribes; message 0
/// is published and its SSE id kept; messages 1..=behind follow. Then
/// `clients` connections open at once, each resuming after message 0, and
/// each must receive exactly messages 1..=behind, in order.
pub async fn resume_storm(settings: &Settings, clients: usize, behind: u64) -> Result<Record> {
    if !settings.target.is_sse() {
        return Err("W6 resumes SSE streams: pushbus or nchan only".into());
    }
    let topic = settings.topic("storm");
    let topics = [topic.clone()];
    let mut observer = settings.target.subscribe(&topic, None).await?;
    let mut publisher = settings.target.publisher().await?;
    let probe = Stamp {
        seq: PROBE,
        sent_ns: 0,
    }
    .encode();
    loop {
        publisher.publish(&topic, &probe).await?;
        if let Ok(Some(Delivery::Message(stamp))) = timeout(PROBE_EVERY, observer.next()).await {
            if stamp.is_probe() {
                break;
            }
        }
    }
    publish(&mut publisher, &topics, 0).await?;
    let resume_from = read_until(&mut observer, 0).await?;
    for seq in 1..=behind {
        publish(&mut publisher, &topics, seq).await?;
    }
    read_until(&mut observer, behind).await?;

    let start = Instant::now();
    let storm: Vec<_> = (0..clients)
        .map(|_| {
            let (target, topic, resume_from) =
                (settings.target.clone(), topic.clone(), resume_from.clone());
            tokio::spawn(
                async move { catch_up(&target, &topic, &resume_from, behind, start).await },
            )
        })
        .collect();
    let (mut done, mut failed) = (Latency::default(), 0);
    for client in storm {
        match client.await? {
            Ok(took) => done.record(took.as_nanos() as u64),
            Err(error) => {
                failed += 1;
                eprintln!("w6 client: {error}");
            }
        }
    }
    Ok(settings
        .record("w6", clients)
        .set("behind", behind)
        .set("seconds_all_caught_up", done.micros(1.0) / 1e6)
        .set("p50_client_s", done.micros(0.5) / 1e6)
        .set("p99_client_s", done.micros(0.99) / 1e6)
        .set("failed", failed))
}

/// Reads `subscription` until message `seq`; returns its SSE id.
async fn read_until(subscription: &mut Subscription, seq: u64) -> Result<String> {
    loop {
        match timeout(READY_TIMEOUT, subscription.next()).await? {
            Some(Delivery::Message(stamp)) if stamp.seq == seq => {
                let id = String::from_utf8(subscription.last_id().to_vec())?;
                return if id.is_empty() {
                    Err("the server sent no SSE id".into())
                } else {
                    Ok(id)
                };
            }
            Some(_) => {}
            None => return Err("the stream ended".into()),
        }
    }
}

/// One storm client: how long after `start` it had messages 1..=behind.
async fn catch_up(
    target: &Target,
    topic: &str,
    resume_from: &str,
    behind: u64,
    start: Instant,
) -> Result<Duration> {
    let mut subscription = target.subscribe(topic, Some(resume_from)).await?;
    let mut expected = 1;
    while expected <= behind {
        match timeout(READY_TIMEOUT, subscription.next()).await? {
            Some(Delivery::Message(stamp)) if stamp.is_probe() => {}
            Some(Delivery::Message(stamp)) if stamp.seq == expected => expected += 1,
            Some(other) => return Err(format!("expected message {expected}, got {other:?}").into()),
            None => return Err(format!("the stream ended before message {expected}").into()),
        }
    }
    Ok(start.elapsed())
}
