//! Side-by-side delivery throughput of pushbus and in-process peers, in one
//! run, so that the ratios in BENCHMARKS.md compare numbers taken on the
//! same machine under the same load.
//!
//! Every contender runs the same single-threaded round: publish a burst of
//! 64-byte messages, then drain every delivery, touching each one. Capacities
//! hold the whole burst, so nothing is dropped; each contender is checked to
//! deliver exactly the expected count before it is timed.
//!
//! - `w1_fanout/<contender>/<N>`: one topic, N subscriptions.
//! - `w2_topics/<contender>/10000`: 10,000 topics with one subscription each.
//! - `w3_publish/<case>`: the cost of one publish with no subscription, and
//!   with 10,000 subscriptions that never drain.
//!
//! `benches/threads.rs` runs W1 and W2 again with a publisher thread and a
//! drain thread. The default run is short (about a minute);
//! `PUSHBUS_BENCH_FULL=1` selects longer warm-up and measurement.
//! `benches/report.py` turns the results into the tables of BENCHMARKS.md.

#[path = "support/c_abi.rs"]
mod c_abi;
#[path = "support/config.rs"]
mod config;
#[path = "support/rounds.rs"]
mod rounds;
#[path = "support/settings.rs"]
mod settings;
#[path = "support/subscribed.rs"]
mod subscribed;

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;

use config::{topic_names, TOPICS};
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, SamplingMode,
    Throughput,
};
use pushbus::Payload;
use rounds::{
    behind, PushbusCAbiFanout, PushbusFanout, PushbusTopics, Round, BEHIND, BURST, CAPACITY,
    PAYLOAD,
};

/// Subscription counts of W1.
const FANOUT: [usize; 4] = [1, 100, 1_000, 10_000];

/// What every peer passes around: a shared, immutable payload, the closest
/// equivalent of a pushbus message.
type Shared = Arc<[u8]>;

/// A new message for a peer: like a pushbus publish, it copies the
/// publisher's bytes into one shared allocation.
fn message() -> Shared {
    Arc::from(&PAYLOAD[..])
}

/// Drains one peer receiver through its `try_recv`, touching every value.
fn drain_peer<E>(mut try_recv: impl FnMut() -> Result<Shared, E>) -> usize {
    let (mut delivered, mut bytes) = (0, 0);
    while let Ok(value) = try_recv() {
        bytes += black_box(&*value).len();
        delivered += 1;
    }
    black_box(bytes);
    delivered
}

/// W1 on tokio: one broadcast channel, `n` receivers.
struct TokioFanout {
    sender: tokio::sync::broadcast::Sender<Shared>,
    receivers: Vec<tokio::sync::broadcast::Receiver<Shared>>,
}

impl TokioFanout {
    fn new(n: usize) -> Self {
        let (sender, first) = tokio::sync::broadcast::channel(CAPACITY);
        let mut receivers = vec![first];
        receivers.extend((1..n).map(|_| sender.subscribe()));
        TokioFanout { sender, receivers }
    }
}

impl Round for TokioFanout {
    fn round(&mut self) -> usize {
        for _ in 0..BURST {
            self.sender.send(message()).expect("receivers exist");
        }
        self.receivers
            .iter_mut()
            .map(|receiver| drain_peer(|| receiver.try_recv()))
            .sum()
    }
}

/// W1 on crossbeam-channel: one bounded channel per subscriber, the
/// publisher sends each a clone of the message.
struct CrossbeamFanout {
    senders: Vec<crossbeam_channel::Sender<Shared>>,
    receivers: Vec<crossbeam_channel::Receiver<Shared>>,
}

impl CrossbeamFanout {
    fn new(n: usize) -> Self {
        let (senders, receivers) = (0..n).map(|_| crossbeam_channel::bounded(CAPACITY)).unzip();
        CrossbeamFanout { senders, receivers }
    }
}

impl Round for CrossbeamFanout {
    fn round(&mut self) -> usize {
        for _ in 0..BURST {
            let message = message();
            for sender in &self.senders {
                sender
                    .try_send(message.clone())
                    .expect("capacity holds the burst");
            }
        }
        self.receivers
            .iter()
            .map(|receiver| drain_peer(|| receiver.try_recv()))
            .sum()
    }
}

/// W1 on the `bus` crate: one bus, `n` readers.
struct BusCrateFanout {
    bus: bus::Bus<Shared>,
    readers: Vec<bus::BusReader<Shared>>,
}

impl BusCrateFanout {
    fn new(n: usize) -> Self {
        let mut bus = bus::Bus::new(CAPACITY);
        let readers = (0..n).map(|_| bus.add_rx()).collect();
        BusCrateFanout { bus, readers }
    }
}

impl Round for BusCrateFanout {
    fn round(&mut self) -> usize {
        for _ in 0..BURST {
            // try_: a full bus would block the only thread for ever.
            self.bus
                .try_broadcast(message())
                .expect("capacity holds the burst");
        }
        self.readers
            .iter_mut()
            .map(|reader| drain_peer(|| reader.try_recv()))
            .sum()
    }
}

/// W2 on a peer: one channel per topic. The publisher finds a topic's
/// sender by name, as pushbus must (a broker is addressed by topic name);
/// `by_index` skips that lookup to show the peer's best case.
struct PeerTopics<S, R> {
    names: Vec<String>,
    by_name: HashMap<String, usize>,
    by_index: bool,
    senders: Vec<S>,
    receivers: Vec<R>,
}

impl<S, R> PeerTopics<S, R> {
    fn new(by_index: bool, mut channel: impl FnMut() -> (S, R)) -> Self {
        let names = topic_names();
        let by_name = names.iter().cloned().zip(0..).collect();
        let (senders, receivers) = (0..TOPICS).map(|_| channel()).unzip();
        PeerTopics {
            names,
            by_name,
            by_index,
            senders,
            receivers,
        }
    }

    /// Sends one message to every topic, in order.
    fn publish_all(&mut self, mut send: impl FnMut(&mut S, Shared)) {
        for (index, name) in self.names.iter().enumerate() {
            let topic = if self.by_index {
                index
            } else {
                self.by_name[name.as_str()]
            };
            send(&mut self.senders[topic], message());
        }
    }
}

type TokioTopics =
    PeerTopics<tokio::sync::broadcast::Sender<Shared>, tokio::sync::broadcast::Receiver<Shared>>;

impl Round for TokioTopics {
    fn round(&mut self) -> usize {
        self.publish_all(|sender, message| {
            sender.send(message).expect("a receiver exists");
        });
        self.receivers
            .iter_mut()
            .map(|receiver| drain_peer(|| receiver.try_recv()))
            .sum()
    }
}

type CrossbeamTopics =
    PeerTopics<crossbeam_channel::Sender<Shared>, crossbeam_channel::Receiver<Shared>>;

impl Round for CrossbeamTopics {
    fn round(&mut self) -> usize {
        self.publish_all(|sender, message| {
            sender.try_send(message).expect("capacity holds the burst");
        });
        self.receivers
            .iter()
            .map(|receiver| drain_peer(|| receiver.try_recv()))
            .sum()
    }
}

type BusCrateTopics = PeerTopics<bus::Bus<Shared>, bus::BusReader<Shared>>;

impl Round for BusCrateTopics {
    fn round(&mut self) -> usize {
        self.publish_all(|bus, message| {
            bus.try_broadcast(message)
                .expect("capacity holds the burst");
        });
        self.receivers
            .iter_mut()
            .map(|reader| drain_peer(|| reader.try_recv()))
            .sum()
    }
}

/// Times the rounds of the state `setup` builds, after checking that a
/// round delivers `expected`. Setup runs only if criterion's filter selects
/// the benchmark: some build 10,000 channels or threads.
fn bench_round<R: Round>(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    parameter: usize,
    expected: usize,
    setup: impl FnOnce() -> R,
) {
    let mut setup = Some(setup);
    let mut state = None;
    group.bench_function(BenchmarkId::new(name, parameter), |b| {
        let state = state.get_or_insert_with(|| {
            let mut state = setup.take().expect("criterion calls back after setup")();
            assert_eq!(state.round(), expected, "{name} delivers the whole burst");
            state
        });
        b.iter(|| state.round())
    });
}

fn w1_fanout(c: &mut Criterion) {
    let mut group = c.benchmark_group("w1_fanout");
    for n in FANOUT {
        let deliveries = n * BURST;
        group.throughput(Throughput::Elements(deliveries as u64));
        // Rounds of 10,000 subscriptions take milliseconds: flat sampling
        // keeps the run within its time budget.
        group.sampling_mode(if n >= 10_000 {
            SamplingMode::Flat
        } else {
            SamplingMode::Auto
        });
        let g = &mut group;
        bench_round(g, "pushbus", n, deliveries, || PushbusFanout::new(n));
        bench_round(g, "pushbus_c_abi", n, deliveries, || {
            PushbusCAbiFanout::new(n)
        });
        bench_round(g, "bus", n, deliveries, || BusCrateFanout::new(n));
        bench_round(g, "tokio", n, deliveries, || TokioFanout::new(n));
        bench_round(g, "crossbeam", n, deliveries, || CrossbeamFanout::new(n));
    }
    group.finish();
}

fn w2_topics(c: &mut Criterion) {
    let mut group = c.benchmark_group("w2_topics");
    group.throughput(Throughput::Elements(TOPICS as u64));
    group.sampling_mode(SamplingMode::Flat);
    let g = &mut group;
    let n = TOPICS;
    bench_round(g, "pushbus", n, n, || PushbusTopics::new(CAPACITY));
    // The smallest ring that holds a W2 burst: what replay retention costs.
    bench_round(g, "pushbus_ring1", n, n, || PushbusTopics::new(1));
    // A Publisher per topic: no name lookup, like `tokio_by_index`.
    bench_round(g, "pushbus_publishers", n, n, || {
        PushbusTopics::with_publishers(CAPACITY)
    });
    let tokio_topics =
        |by_index| TokioTopics::new(by_index, || tokio::sync::broadcast::channel(CAPACITY));
    bench_round(g, "tokio", n, n, || tokio_topics(false));
    bench_round(g, "tokio_by_index", n, n, || tokio_topics(true));
    let crossbeam = || CrossbeamTopics::new(false, || crossbeam_channel::bounded(CAPACITY));
    bench_round(g, "crossbeam", n, n, crossbeam);
    // Each bus::Bus starts its own unparking thread: 10,000 idle threads.
    let bus_crate = || {
        BusCrateTopics::new(false, || {
            let mut bus = bus::Bus::new(CAPACITY);
            let reader = bus.add_rx();
            (bus, reader)
        })
    };
    bench_round(g, "bus", n, n, bus_crate);
    group.finish();
}

fn w3_publish(c: &mut Criterion) {
    let mut group = c.benchmark_group("w3_publish");
    group.throughput(Throughput::Elements(1));
    let cases = [
        ("0_subs", 0),
        ("10000_subs_1_poller", 1),
        // Not a target: shows what a publish costs per watching poller.
        ("10000_subs_10000_pollers", BEHIND),
    ];
    for (name, pollers) in cases {
        let mut state = None;
        group.bench_function(name, |b| {
            let (bus, _pollers) = state.get_or_insert_with(|| behind(pollers));
            b.iter(|| bus.publish("behind", None, Payload::binary(&PAYLOAD)))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = settings::config();
    targets = w1_fanout, w2_topics, w3_publish
}
criterion_main!(benches);
