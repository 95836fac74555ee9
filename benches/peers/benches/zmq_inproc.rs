//! ZeroMQ inproc PUB/SUB in the rounds of the library's `benches/fanout.rs`
//! (W1 and W2, one thread), so that its numbers sit next to pushbus, tokio,
//! crossbeam and `bus` in the same tables. It lives in this crate so that
//! libzmq never enters the library's dependency graph.
//!
//! The same round as there: publish a burst of 64 messages of 64 bytes,
//! then drain every subscriber (`recv` with `DONTWAIT` until it would
//! block), touching each delivery; capacity 64 (`ZMQ_SNDHWM` and
//! `ZMQ_RCVHWM`); each publish copies the payload into a new message,
//! which libzmq shares between subscribers by reference count; checked to
//! deliver exactly the expected count before it is timed. The criterion
//! settings are the library's (`benches/support/settings.rs`, with
//! `PUSHBUS_BENCH_FULL=1` for the long run).
//!
//! - `w1_fanout/zmq_inproc/<N>`: one PUB socket, N SUB sockets;
//! - `w2_topics/zmq_inproc/10000`: 10,000 SUB sockets, each subscribed to
//!   its own topic; one publish per topic per round.

#[path = "../../support/settings.rs"]
mod settings;

use std::hint::black_box;

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use pushbus_peers::inproc::zmq::{frame, pub_sub, topic_prefix, Context};

const PAYLOAD: [u8; 64] = [0xAB; 64];
const BURST: usize = 64;
const CAPACITY: i32 = 64;
/// W1's subscriber counts: the library's three and the 1,000.
const FANOUT: [usize; 4] = [1, 100, 1_000, 10_000];
const TOPICS: usize = 10_000;

/// One PUB socket and its SUB sockets, declared before the context that
/// must outlive them.
struct Fanout {
    publisher: zmq::Socket,
    subscribers: Vec<zmq::Socket>,
    /// Each subscriber's topic prefix, in publishing order (W2), or the one
    /// topic's (W1).
    prefixes: Vec<Vec<u8>>,
    received: zmq::Message,
    _context: Context,
}

impl Fanout {
    /// `subscriptions[i]` is subscriber i's topic.
    fn new(subscriptions: Vec<Vec<u8>>) -> Self {
        let context = Context::default();
        let (publisher, subscribers) = pub_sub(&context, "bench", &subscriptions, CAPACITY);
        let mut prefixes = subscriptions;
        prefixes.dedup();
        Fanout {
            publisher,
            subscribers,
            prefixes,
            received: zmq::Message::new(),
            _context: context,
        }
    }

    /// Publishes `per_topic` messages to every topic, then drains every
    /// subscriber; returns the deliveries.
    fn round(&mut self, per_topic: usize) -> usize {
        for _ in 0..per_topic {
            for prefix in &self.prefixes {
                self.publisher
                    .send(frame(prefix, &PAYLOAD), 0)
                    .expect("send");
            }
        }
        let (mut delivered, mut bytes) = (0, 0);
        for subscriber in &self.subscribers {
            while subscriber.recv(&mut self.received, zmq::DONTWAIT).is_ok() {
                bytes += black_box(&*self.received).len();
                delivered += 1;
            }
        }
        black_box(bytes);
        delivered
    }
}

fn bench(
    c: &mut Criterion,
    group: &str,
    param: usize,
    per_topic: usize,
    expected: usize,
    subscriptions: impl Fn() -> Vec<Vec<u8>>,
) {
    let mut group = c.benchmark_group(group);
    group.throughput(Throughput::Elements(expected as u64));
    // Rounds of 10,000 subscribers take milliseconds, as in fanout.rs.
    group.sampling_mode(if param >= 10_000 {
        SamplingMode::Flat
    } else {
        SamplingMode::Auto
    });
    let mut state: Option<Fanout> = None;
    group.bench_function(BenchmarkId::new("zmq_inproc", param), |b| {
        // Built only if criterion's filter selects the benchmark.
        let state = state.get_or_insert_with(|| {
            let mut state = Fanout::new(subscriptions());
            assert_eq!(
                state.round(per_topic),
                expected,
                "zmq_inproc delivers the whole round"
            );
            state
        });
        b.iter(|| state.round(per_topic))
    });
    group.finish();
}

fn w1_fanout(c: &mut Criterion) {
    for n in FANOUT {
        bench(c, "w1_fanout", n, BURST, n * BURST, || {
            vec![topic_prefix("fanout"); n]
        });
    }
}

fn w2_topics(c: &mut Criterion) {
    bench(c, "w2_topics", TOPICS, 1, TOPICS, || {
        (0..TOPICS)
            .map(|i| topic_prefix(&format!("topics.{i}")))
            .collect()
    });
}

criterion_group! {
    name = benches;
    config = settings::config();
    targets = w1_fanout, w2_topics
}
criterion_main!(benches);
