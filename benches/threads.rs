//! Two-thread variants of W1 (N = 10,000) and W2 (10,000 topics): a
//! publisher thread publishes bursts of 64 messages while one drain thread
//! drains, as the issue's calibration numbers were taken ("with one drain
//! thread"). `benches/fanout.rs` has the single-threaded rounds.
//!
//! Every contender gets the same flow control, so that none loses a message
//! and none is timed waiting on a full buffer of its own:
//!
//! - capacity (pushbus ring, tokio `channel`, crossbeam `bounded`, `bus`
//!   length) is two bursts, 128 messages;
//! - the publisher publishes burst b only once the drain thread has received
//!   every delivery of bursts 0..=b-2, so publishing and draining overlap by
//!   one burst and no reader is ever more than 128 messages behind;
//! - each payload carries its burst number in its first 8 bytes; the drain
//!   thread counts the deliveries of each burst in flight (a [`Tally`]) and
//!   stores how many bursts are complete in an atomic, which the publisher
//!   polls (spinning, then yielding).
//!
//! Criterion's thread is the publisher; the drain thread is started once per
//! benchmark and parks between iterations. An iteration (`iter_custom`) is
//! a fixed number of bursts, timed from the first publish until the drain
//! thread has counted the last delivery. Before timing, each contender runs
//! until every ring and channel slot has been used (see [`Work::warm_up`])
//! and must deliver exactly the expected count: pushbus panics on any gap,
//! tokio on `Lagged`, every tally checks each burst's count, and every
//! iteration checks the total.
//!
//! How each contender drains, as a user of it would write a thread that
//! serves many subscriptions:
//!
//! - pushbus: `poller.wait(Some(timeout))`, then `poller.drain(&mut batch,
//!   256)` until it returns 0 (its C ABI: `pushbus_poller_wait` and
//!   `pushbus_poller_drain` into an array of 256 events);
//! - tokio broadcast, crossbeam, `bus`: none can wait on many receivers at
//!   once without an async runtime, so the thread sweeps its receivers with
//!   `try_recv`, taking all each holds, and yields when a sweep finds
//!   nothing;
//! - W2 also has `<peer>_in_order`: the drain thread blocks (`recv`,
//!   `blocking_recv`) on each topic's receiver in the order the publisher
//!   publishes. A real consumer does not know which topic fills next, so
//!   this is the peers' best case, shown for comparison only.
//!
//! On a 2-core machine the publisher and the drain thread use both cores.
//! The targets are the same as for the single-threaded rounds; see
//! BENCHMARKS.md and `benches/report.py`.

#![deny(clippy::undocumented_unsafe_blocks)]

// The one-thread round (publish_then_drain) is fanout.rs's and instr.rs's.
#[allow(dead_code)]
#[path = "support/c_abi.rs"]
mod c_abi;
#[path = "support/config.rs"]
mod config;
#[path = "support/settings.rs"]
mod settings;
#[path = "support/subscribed.rs"]
mod subscribed;

use std::collections::HashMap;
use std::hint::spin_loop;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use config::{topic_names, TOPICS};
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, SamplingMode,
    Throughput,
};
use pushbus::{ffi, Batch, Bus, Event, Payload, Poller, Publisher};

/// Messages per burst.
const BURST: usize = 64;
/// Ring and channel capacity of every contender: two bursts.
const CAPACITY: usize = 2 * BURST;
/// Events per pushbus drain call.
const DRAIN_MAX: usize = 256;
/// Subscriptions of W1.
const SUBSCRIPTIONS: usize = 10_000;

/// How much work a workload's benchmarks do.
#[derive(Debug, Clone, Copy)]
struct Work {
    /// Deliveries a burst makes.
    per_burst: u64,
    /// Bursts per criterion iteration: a few milliseconds of work or more
    /// for every contender, so that the pipeline's start and end (one burst
    /// not overlapped) weigh little.
    bursts: u64,
    /// Bursts run before timing, checking that every delivery arrives:
    /// enough for every ring and channel slot to have been used once, so
    /// that the timed bursts see the steady state (pushbus's rings full,
    /// each publish evicting the oldest message; the peers' slot arrays
    /// touched).
    warm_up: u64,
}

const W1_WORK: Work = Work {
    per_burst: (SUBSCRIPTIONS * BURST) as u64,
    bursts: 4,
    warm_up: 4,
};

/// W2: each topic gets one message every 10,000 / 64 bursts, so its ring
/// fills after 128 x 10,000 / 64 = 20,000 bursts.
const W2_WORK: Work = Work {
    per_burst: BURST as u64,
    bursts: 160,
    warm_up: (CAPACITY * TOPICS / BURST) as u64,
};
/// How long the pushbus drain thread waits at most before looking at its
/// stop flag again.
const WAIT: Duration = Duration::from_millis(100);
/// Spins of a waiting publisher before it starts yielding its core.
const SPINS: u32 = 1_000;

/// What every peer passes around: a shared, immutable payload, the closest
/// equivalent of a pushbus message.
type Shared = Arc<[u8]>;

/// The payload of every message of burst `burst`: its number, then filler.
fn payload(burst: u64) -> [u8; 64] {
    let mut payload = [0xAB; 64];
    payload[..8].copy_from_slice(&burst.to_le_bytes());
    payload
}

/// What the two threads share.
#[derive(Debug, Default)]
struct Flow {
    /// Bursts whose every delivery the drain thread has received.
    drained: AtomicU64,
    /// Deliveries the drain thread has received, stored before `drained`.
    delivered: AtomicU64,
    /// Bursts the publisher will have published by the end of the current
    /// iteration: the drain thread parks once it has drained them all.
    goal: AtomicU64,
    stop: AtomicBool,
}

/// Bursts that can be in flight: the one being drained and the next, told
/// apart by parity.
const WINDOW: u64 = 2;

/// The drain thread's count of deliveries per burst in flight.
#[derive(Debug)]
struct Tally {
    flow: Arc<Flow>,
    /// Deliveries a burst makes (64 x subscriptions in W1, 64 in W2).
    per_burst: u64,
    /// Deliveries of the even and the odd burst in flight.
    counts: [u64; WINDOW as usize],
    drained: u64,
    delivered: u64,
}

/// Deliveries counted by one drain call or receiver visit, kept in
/// registers (a counter in memory would make every delivery wait for the
/// previous one's store) and then added to the tally.
#[derive(Debug, Clone, Copy)]
struct Counter {
    drained: u64,
    all: u64,
    odd: u64,
}

impl Counter {
    /// Counts one delivery, given its payload; every contender reads it.
    #[inline]
    fn count(&mut self, data: &[u8]) {
        let burst = u64::from_le_bytes(data[..8].try_into().expect("8 bytes"));
        // Flow control admits only bursts `drained` and `drained + 1`:
        // anything else is a duplicate, or a bug in this harness.
        if burst.wrapping_sub(self.drained) >= WINDOW {
            out_of_window(burst, self.drained);
        }
        self.all += 1;
        self.odd += burst & 1;
    }
}

#[cold]
#[inline(never)]
fn out_of_window(burst: u64, drained: u64) -> ! {
    panic!("a delivery of burst {burst} while draining burst {drained}")
}

impl Tally {
    /// A counter for the deliveries about to be taken.
    fn counter(&self) -> Counter {
        Counter {
            drained: self.drained,
            all: 0,
            odd: 0,
        }
    }

    /// Adds what `counter` counted and tells the publisher about every
    /// burst now complete.
    fn add(&mut self, counter: Counter) {
        self.counts[0] += counter.all - counter.odd;
        self.counts[1] += counter.odd;
        self.delivered += counter.all;
        loop {
            let slot = (self.drained % WINDOW) as usize;
            if self.counts[slot] < self.per_burst {
                return;
            }
            assert_eq!(
                self.counts[slot], self.per_burst,
                "burst {} delivered more than once",
                self.drained
            );
            self.counts[slot] = 0;
            self.drained += 1;
            self.flow.delivered.store(self.delivered, Ordering::Relaxed);
            self.flow.drained.store(self.drained, Ordering::Release);
        }
    }
}

/// The draining half of a contender, moved to the drain thread.
trait Drain: Send + 'static {
    /// Takes what has arrived, waiting a little if nothing has, each
    /// contender in its natural way; counts every delivery in `tally`.
    fn drain(&mut self, tally: &mut Tally);
}

/// The publishing half of a contender, kept by criterion's thread.
trait Publish {
    /// Publishes the 64 messages of burst number `burst`.
    fn publish(&mut self, burst: u64);
}

/// A contender running: its publisher here, its drain thread, their flow.
struct TwoThreads<P> {
    publisher: P,
    flow: Arc<Flow>,
    drainer: Option<JoinHandle<()>>,
    /// Bursts published so far.
    published: u64,
    per_burst: u64,
}

impl<P: Publish> TwoThreads<P> {
    fn start(publisher: P, mut drain: impl Drain, per_burst: u64) -> Self {
        let flow = Arc::new(Flow::default());
        let mut tally = Tally {
            flow: flow.clone(),
            per_burst,
            counts: [0; WINDOW as usize],
            drained: 0,
            delivered: 0,
        };
        let shared = flow.clone();
        let drainer = thread::Builder::new()
            .name("drain".into())
            .spawn(move || {
                while !shared.stop.load(Ordering::Acquire) {
                    if tally.drained == shared.goal.load(Ordering::Acquire) {
                        // Between iterations: sleep rather than poll.
                        thread::park();
                    } else {
                        drain.drain(&mut tally);
                    }
                }
            })
            .expect("spawn the drain thread");
        TwoThreads {
            publisher,
            flow,
            drainer: Some(drainer),
            published: 0,
            per_burst,
        }
    }

    fn drainer(&self) -> &JoinHandle<()> {
        self.drainer.as_ref().expect("runs until dropped")
    }

    /// Waits until the drain thread has drained `bursts` bursts.
    fn wait_drained(&self, bursts: u64) {
        let mut spins = 0;
        while self.flow.drained.load(Ordering::Acquire) < bursts {
            if spins < SPINS {
                spins += 1;
                spin_loop();
            } else {
                // A drain thread that panicked (on a lost message) would
                // leave the publisher waiting for ever.
                assert!(
                    !self.drainer().is_finished(),
                    "the drain thread stopped: see its panic above"
                );
                thread::yield_now();
            }
        }
    }

    /// Publishes `bursts` more bursts under the flow control; returns the
    /// time until the last delivery was counted.
    fn run(&mut self, bursts: u64) -> Duration {
        let (first, end) = (self.published, self.published + bursts);
        self.flow.goal.store(end, Ordering::Release);
        self.drainer().thread().unpark();
        let start = Instant::now();
        for burst in first..end {
            self.wait_drained(burst.saturating_sub(1));
            self.publisher.publish(burst);
        }
        self.wait_drained(end);
        let elapsed = start.elapsed();
        self.published = end;
        assert_eq!(
            self.flow.delivered.load(Ordering::Relaxed),
            end * self.per_burst,
            "every delivery arrives exactly once"
        );
        elapsed
    }
}

impl<P> Drop for TwoThreads<P> {
    fn drop(&mut self) {
        self.flow.stop.store(true, Ordering::Release);
        if let Some(drainer) = self.drainer.take() {
            drainer.thread().unpark();
            // Unwinding from a failed check: the drain thread may be stuck.
            if !thread::panicking() {
                drainer.join().expect("the drain thread panicked");
            }
        }
    }
}

/// pushbus's drain thread: one poller holding every subscription.
struct PushbusDrain {
    poller: Poller,
    batch: Batch,
}

impl Drain for PushbusDrain {
    fn drain(&mut self, tally: &mut Tally) {
        if !self.poller.wait(Some(WAIT)) {
            return;
        }
        while self.poller.drain(&mut self.batch, DRAIN_MAX) > 0 {
            let mut counter = tally.counter();
            for event in self.batch.iter() {
                match event {
                    Event::Message(delivery) => counter.count(delivery.message().data()),
                    other => panic!("pushbus lost messages in a benchmark: {other:?}"),
                }
            }
            tally.add(counter);
        }
    }
}

/// pushbus's publisher in W1: 64 messages to one topic, through a
/// [`Publisher`] (the peers hold their senders too).
struct PushbusFanout {
    publisher: Publisher,
}

impl Publish for PushbusFanout {
    fn publish(&mut self, burst: u64) {
        let payload = payload(burst);
        for _ in 0..BURST {
            self.publisher
                .publish(None, Payload::binary(&payload))
                .expect("publish");
        }
    }
}

fn pushbus_fanout() -> (PushbusFanout, PushbusDrain) {
    let (publisher, poller) = subscribed::fanout(CAPACITY, SUBSCRIPTIONS);
    let batch = Batch::with_capacity(DRAIN_MAX);
    (PushbusFanout { publisher }, PushbusDrain { poller, batch })
}

/// pushbus's publisher in W2: 64 messages to the next 64 topics.
struct PushbusTopics {
    bus: Bus,
    names: Vec<String>,
    next: usize,
}

impl Publish for PushbusTopics {
    fn publish(&mut self, burst: u64) {
        let payload = payload(burst);
        for _ in 0..BURST {
            self.bus
                .publish(&self.names[self.next], None, Payload::binary(&payload))
                .expect("publish");
            self.next = (self.next + 1) % TOPICS;
        }
    }
}

fn pushbus_topics(ring: usize) -> (PushbusTopics, PushbusDrain) {
    let (bus, poller, names) = subscribed::topics(ring);
    let batch = Batch::with_capacity(DRAIN_MAX);
    let publisher = PushbusTopics {
        bus,
        names,
        next: 0,
    };
    (publisher, PushbusDrain { poller, batch })
}

/// W1 through the C ABI, the publisher's half: a publisher handle.
struct CAbiFanout {
    publisher: *mut ffi::pushbus_publisher,
}

impl Publish for CAbiFanout {
    fn publish(&mut self, burst: u64) {
        let payload = payload(burst);
        for _ in 0..BURST {
            c_abi::publish(self.publisher, &payload);
        }
    }
}

impl Drop for CAbiFanout {
    fn drop(&mut self) {
        ffi::pushbus_publisher_free(self.publisher);
    }
}

/// W1 through the C ABI, the drain thread's half: a poller, a batch and the
/// caller's array of events, as a C server's thread would hold them.
struct CAbiDrain {
    poller: *mut ffi::pushbus_poller,
    batch: *mut ffi::pushbus_batch,
    events: Vec<ffi::pushbus_event>,
}

// SAFETY: pushbus.h allows calls on a poller from any thread and on a batch
// from one thread at a time; this value is their only user and moves to the
// drain thread whole, and the events point only into its batch.
unsafe impl Send for CAbiDrain {}

impl Drain for CAbiDrain {
    fn drain(&mut self, tally: &mut Tally) {
        use ffi::pushbus_status::PUSHBUS_OK;
        let mut ready = false;
        let timeout = WAIT.as_millis() as i64;
        assert_eq!(
            ffi::pushbus_poller_wait(self.poller, timeout, &mut ready),
            PUSHBUS_OK
        );
        if !ready {
            return;
        }
        loop {
            let count = c_abi::drain_once(self.poller, self.batch, &mut self.events);
            if count == 0 {
                return;
            }
            let mut counter = tally.counter();
            for event in &self.events[..count] {
                assert_eq!(
                    event.kind,
                    ffi::PUSHBUS_EVENT_MESSAGE,
                    "pushbus lost messages in a benchmark"
                );
                // SAFETY: a message event's `message` points into the batch,
                // valid until the next drain into it, and its `data` to
                // `data_len` bytes of the message, valid as long.
                let data = unsafe {
                    let message = &*event.message;
                    std::slice::from_raw_parts(message.data, message.data_len)
                };
                counter.count(data);
            }
            tally.add(counter);
        }
    }
}

impl Drop for CAbiDrain {
    fn drop(&mut self) {
        ffi::pushbus_batch_free(self.batch);
        ffi::pushbus_poller_free(self.poller);
    }
}

fn c_abi_fanout() -> (CAbiFanout, CAbiDrain) {
    let (bus, poller, batch) = c_abi::fanout(CAPACITY, SUBSCRIPTIONS);
    let events = c_abi::events(DRAIN_MAX);
    let publisher = c_abi::publisher(bus);
    // The publisher and the poller keep the bus alive.
    ffi::pushbus_bus_free(bus);
    (
        CAbiFanout { publisher },
        CAbiDrain {
            poller,
            batch,
            events,
        },
    )
}

/// A peer's sending end.
trait PeerSender {
    /// Sends without blocking: the flow control guarantees room.
    fn put(&mut self, message: Shared);
}

impl PeerSender for tokio::sync::broadcast::Sender<Shared> {
    fn put(&mut self, message: Shared) {
        self.send(message).expect("receivers exist");
    }
}

impl PeerSender for crossbeam_channel::Sender<Shared> {
    fn put(&mut self, message: Shared) {
        self.try_send(message)
            .expect("the flow control leaves room");
    }
}

impl PeerSender for bus::Bus<Shared> {
    fn put(&mut self, message: Shared) {
        self.try_broadcast(message)
            .expect("the flow control leaves room");
    }
}

/// A peer's receiving end.
trait PeerReceiver: Send + 'static {
    /// The next message if one is there; panics if one was lost.
    fn try_take(&mut self) -> Option<Shared>;
    /// The next message, blocking until it comes; `None` once the sender
    /// is gone.
    fn take(&mut self) -> Option<Shared>;
}

impl PeerReceiver for tokio::sync::broadcast::Receiver<Shared> {
    fn try_take(&mut self) -> Option<Shared> {
        use tokio::sync::broadcast::error::TryRecvError;
        match self.try_recv() {
            Ok(message) => Some(message),
            Err(TryRecvError::Empty | TryRecvError::Closed) => None,
            Err(lagged) => panic!("tokio lost messages in a benchmark: {lagged}"),
        }
    }

    fn take(&mut self) -> Option<Shared> {
        use tokio::sync::broadcast::error::RecvError;
        match self.blocking_recv() {
            Ok(message) => Some(message),
            Err(RecvError::Closed) => None,
            Err(lagged) => panic!("tokio lost messages in a benchmark: {lagged}"),
        }
    }
}

impl PeerReceiver for crossbeam_channel::Receiver<Shared> {
    fn try_take(&mut self) -> Option<Shared> {
        self.try_recv().ok()
    }

    fn take(&mut self) -> Option<Shared> {
        self.recv().ok()
    }
}

impl PeerReceiver for bus::BusReader<Shared> {
    fn try_take(&mut self) -> Option<Shared> {
        self.try_recv().ok()
    }

    fn take(&mut self) -> Option<Shared> {
        self.recv().ok()
    }
}

/// A peer's drain thread without a way to wait on all its receivers: it
/// sweeps them, taking everything each holds.
struct Sweep<R> {
    receivers: Vec<R>,
}

impl<R: PeerReceiver> Drain for Sweep<R> {
    fn drain(&mut self, tally: &mut Tally) {
        let mut found = false;
        for receiver in &mut self.receivers {
            let mut counter = tally.counter();
            while let Some(message) = receiver.try_take() {
                counter.count(&message);
            }
            if counter.all > 0 {
                found = true;
                tally.add(counter);
            }
        }
        if !found {
            thread::yield_now();
        }
    }
}

/// A W2 peer's drain thread that knows the publisher's topic order and
/// blocks on each topic's receiver in turn: the peers' best case.
struct InOrder<R> {
    receivers: Vec<R>,
    next: usize,
}

impl<R: PeerReceiver> Drain for InOrder<R> {
    fn drain(&mut self, tally: &mut Tally) {
        // One burst per call: the drain thread parks at the iteration's end
        // instead of blocking for a burst that will not come.
        let mut counter = tally.counter();
        for _ in 0..BURST {
            let Some(message) = self.receivers[self.next].take() else {
                return;
            };
            counter.count(&message);
            self.next = (self.next + 1) % TOPICS;
        }
        tally.add(counter);
    }
}

/// W1 on a peer: each message is one shared allocation (as a pushbus
/// publish copies the payload once), sent to every sender: one for tokio
/// and `bus`, one channel per subscriber for crossbeam.
struct PeerFanout<S> {
    senders: Vec<S>,
}

impl<S: PeerSender> Publish for PeerFanout<S> {
    fn publish(&mut self, burst: u64) {
        let payload = payload(burst);
        let (last, others) = self.senders.split_last_mut().expect("a sender");
        for _ in 0..BURST {
            let message: Shared = Arc::from(&payload[..]);
            for sender in others.iter_mut() {
                sender.put(message.clone());
            }
            last.put(message);
        }
    }
}

fn tokio_fanout() -> (
    PeerFanout<tokio::sync::broadcast::Sender<Shared>>,
    Sweep<tokio::sync::broadcast::Receiver<Shared>>,
) {
    let (sender, first) = tokio::sync::broadcast::channel(CAPACITY);
    let mut receivers = vec![first];
    receivers.extend((1..SUBSCRIPTIONS).map(|_| sender.subscribe()));
    let senders = vec![sender];
    (PeerFanout { senders }, Sweep { receivers })
}

fn crossbeam_fanout() -> (
    PeerFanout<crossbeam_channel::Sender<Shared>>,
    Sweep<crossbeam_channel::Receiver<Shared>>,
) {
    let (senders, receivers) = (0..SUBSCRIPTIONS)
        .map(|_| crossbeam_channel::bounded(CAPACITY))
        .unzip();
    (PeerFanout { senders }, Sweep { receivers })
}

fn bus_fanout() -> (PeerFanout<bus::Bus<Shared>>, Sweep<bus::BusReader<Shared>>) {
    let mut bus = bus::Bus::new(CAPACITY);
    let receivers = (0..SUBSCRIPTIONS).map(|_| bus.add_rx()).collect();
    (PeerFanout { senders: vec![bus] }, Sweep { receivers })
}

/// W2 on a peer: one channel per topic. The publisher finds a topic's
/// sender by name, as it must with a broker, which is addressed by topic
/// name (as in `benches/fanout.rs`).
struct PeerTopics<S> {
    names: Vec<String>,
    by_name: HashMap<String, usize>,
    senders: Vec<S>,
    next: usize,
}

impl<S: PeerSender> Publish for PeerTopics<S> {
    fn publish(&mut self, burst: u64) {
        let payload = payload(burst);
        for _ in 0..BURST {
            let topic = self.by_name[self.names[self.next].as_str()];
            self.senders[topic].put(Arc::from(&payload[..]));
            self.next = (self.next + 1) % TOPICS;
        }
    }
}

/// A W2 peer from its channel constructor: the publisher and the receivers.
fn peer_topics<S, R>(channel: impl FnMut(usize) -> (S, R)) -> (PeerTopics<S>, Vec<R>) {
    let names = topic_names();
    let by_name = names.iter().cloned().zip(0..).collect();
    let (senders, receivers) = (0..TOPICS).map(channel).unzip();
    let publisher = PeerTopics {
        names,
        by_name,
        senders,
        next: 0,
    };
    (publisher, receivers)
}

fn tokio_channel(
    _: usize,
) -> (
    tokio::sync::broadcast::Sender<Shared>,
    tokio::sync::broadcast::Receiver<Shared>,
) {
    tokio::sync::broadcast::channel(CAPACITY)
}

fn crossbeam_channel(
    _: usize,
) -> (
    crossbeam_channel::Sender<Shared>,
    crossbeam_channel::Receiver<Shared>,
) {
    crossbeam_channel::bounded(CAPACITY)
}

/// Each `bus::Bus` starts its own unparking thread: 10,000 idle threads.
fn bus_channel(_: usize) -> (bus::Bus<Shared>, bus::BusReader<Shared>) {
    let mut bus = bus::Bus::new(CAPACITY);
    let reader = bus.add_rx();
    (bus, reader)
}

/// A W2 peer whose drain thread sweeps its receivers.
fn sweep<S, R>((publisher, receivers): (PeerTopics<S>, Vec<R>)) -> (PeerTopics<S>, Sweep<R>) {
    (publisher, Sweep { receivers })
}

/// A W2 peer whose drain thread follows the publisher's order.
fn in_order<S, R>((publisher, receivers): (PeerTopics<S>, Vec<R>)) -> (PeerTopics<S>, InOrder<R>) {
    (publisher, InOrder { receivers, next: 0 })
}

/// Times contender `name`, which `setup` builds only if criterion's filter
/// selects it.
fn bench_threads<P: Publish, D: Drain>(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    parameter: usize,
    work: Work,
    setup: impl FnOnce() -> (P, D),
) {
    group.throughput(Throughput::Elements(work.per_burst * work.bursts));
    let mut setup = Some(setup);
    let mut state = None;
    group.bench_function(BenchmarkId::new(name, parameter), |b| {
        let state = state.get_or_insert_with(|| {
            let (publisher, drain) = setup.take().expect("criterion calls back after setup")();
            let mut state = TwoThreads::start(publisher, drain, work.per_burst);
            state.run(work.warm_up);
            state
        });
        b.iter_custom(|iters| state.run(iters * work.bursts))
    });
}

fn w1_threads(c: &mut Criterion) {
    let mut group = c.benchmark_group("w1_threads");
    group.sampling_mode(SamplingMode::Flat);
    let g = &mut group;
    let (n, work) = (SUBSCRIPTIONS, W1_WORK);
    bench_threads(g, "pushbus", n, work, pushbus_fanout);
    bench_threads(g, "pushbus_c_abi", n, work, c_abi_fanout);
    bench_threads(g, "bus", n, work, bus_fanout);
    bench_threads(g, "tokio", n, work, tokio_fanout);
    bench_threads(g, "crossbeam", n, work, crossbeam_fanout);
    group.finish();
}

fn w2_threads(c: &mut Criterion) {
    let mut group = c.benchmark_group("w2_threads");
    group.sampling_mode(SamplingMode::Flat);
    let g = &mut group;
    let (n, work) = (TOPICS, W2_WORK);
    bench_threads(g, "pushbus", n, work, || pushbus_topics(CAPACITY));
    // A ring of one message, which W2's flow control allows (a topic gets a
    // message every 156 bursts): what keeping replay history costs.
    bench_threads(g, "pushbus_ring1", n, work, || pushbus_topics(1));
    bench_threads(g, "tokio", n, work, || sweep(peer_topics(tokio_channel)));
    bench_threads(g, "crossbeam", n, work, || {
        sweep(peer_topics(crossbeam_channel))
    });
    bench_threads(g, "bus", n, work, || sweep(peer_topics(bus_channel)));
    bench_threads(g, "tokio_in_order", n, work, || {
        in_order(peer_topics(tokio_channel))
    });
    bench_threads(g, "crossbeam_in_order", n, work, || {
        in_order(peer_topics(crossbeam_channel))
    });
    bench_threads(g, "bus_in_order", n, work, || {
        in_order(peer_topics(bus_channel))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = settings::config();
    targets = w1_threads, w2_threads
}
criterion_main!(benches);
