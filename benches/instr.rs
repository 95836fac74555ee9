//! Instruction counts of the pushbus workloads, for callgrind.
//!
//! Wall-clock benchmarks on a shared 2-core VM move with the neighbours'
//! load; instruction counts do not. This binary builds one workload of
//! `benches/fanout.rs` (same sizes, same config), warms it up, then runs
//! `rounds` rounds inside [`measured`], so that
//!
//! ```sh
//! cargo bench --bench instr --no-run
//! valgrind --tool=callgrind --toggle-collect='*instr*measured*' \
//!     target/release/deps/instr-<hash> w1 4
//! ```
//!
//! counts only the timed rounds; the binary prints the deliveries (or
//! publishes) they made, to divide by. Workloads: `w1` (one topic, 10,000
//! subscriptions, bursts of 64), `w1_c` (the same through the C ABI), `w2`
//! (10,000 topics x 1 subscription, ring of 64, warmed until every ring is
//! full), `w2_ring1` (ring of 1), `w3` (one publish to a full ring with
//! 10,000 lagging subscriptions in one poller), `w3_0` (no subscription).
//! Add `--cache-sim=yes` to callgrind for simulated cache misses (W2 is
//! bound by them).

#[path = "support/c_abi.rs"]
mod c_abi;

use std::hint::black_box;

use pushbus::{ffi, Batch, Bus, Config, Event, Payload, Poller, Start};

const PAYLOAD: [u8; 64] = [0xAB; 64];
const BURST: usize = 64;
const CAPACITY: usize = 64;
const DRAIN_MAX: usize = 256;
const N: usize = 10_000;

fn config(ring: usize) -> Config {
    let mut config = Config::default();
    config.ring_max_messages = ring;
    config.janitor_interval = None;
    config
}

fn drain(poller: &Poller, batch: &mut Batch) -> usize {
    let (mut delivered, mut bytes) = (0, 0);
    while poller.drain(batch, DRAIN_MAX) > 0 {
        for event in batch.iter() {
            match event {
                Event::Message(delivery) => {
                    bytes += black_box(delivery.message().data()).len();
                    delivered += 1;
                }
                other => panic!("lost messages: {other:?}"),
            }
        }
    }
    black_box(bytes);
    delivered
}

trait Round {
    /// One round; returns the deliveries (or publishes) it made.
    fn round(&mut self) -> usize;
}

struct Fanout {
    bus: Bus,
    poller: Poller,
    batch: Batch,
}

impl Round for Fanout {
    fn round(&mut self) -> usize {
        for _ in 0..BURST {
            self.bus
                .publish("fanout", None, Payload::binary(&PAYLOAD))
                .expect("publish");
        }
        drain(&self.poller, &mut self.batch)
    }
}

struct CFanout {
    bus: *mut ffi::pushbus_bus,
    poller: *mut ffi::pushbus_poller,
    batch: *mut ffi::pushbus_batch,
    events: Vec<ffi::pushbus_event>,
}

impl Round for CFanout {
    fn round(&mut self) -> usize {
        let (bus, poller, batch) = (self.bus, self.poller, self.batch);
        c_abi::publish_then_drain(bus, poller, batch, &mut self.events, BURST, &PAYLOAD)
    }
}

struct Topics {
    bus: Bus,
    poller: Poller,
    batch: Batch,
    names: Vec<String>,
}

impl Round for Topics {
    fn round(&mut self) -> usize {
        for name in &self.names {
            self.bus
                .publish(name, None, Payload::binary(&PAYLOAD))
                .expect("publish");
        }
        drain(&self.poller, &mut self.batch)
    }
}

struct Behind {
    bus: Bus,
    _pollers: Vec<Poller>,
}

impl Round for Behind {
    fn round(&mut self) -> usize {
        for _ in 0..BURST {
            black_box(
                self.bus
                    .publish("behind", None, Payload::binary(&PAYLOAD))
                    .expect("publish"),
            );
        }
        BURST
    }
}

fn fanout() -> Fanout {
    let bus = Bus::new(config(CAPACITY)).expect("config");
    let poller = bus.poller();
    for _ in 0..N {
        poller
            .subscribe(&["fanout"], Start::Now)
            .expect("subscribe");
    }
    Fanout {
        bus,
        poller,
        batch: Batch::with_capacity(DRAIN_MAX),
    }
}

fn topics(ring: usize) -> Topics {
    let bus = Bus::new(config(ring)).expect("config");
    let poller = bus.poller();
    let names: Vec<String> = (0..N).map(|i| format!("topics.{i}")).collect();
    for name in &names {
        poller.subscribe(&[name], Start::Now).expect("subscribe");
    }
    Topics {
        bus,
        poller,
        batch: Batch::with_capacity(DRAIN_MAX),
        names,
    }
}

fn behind(subscriptions: usize) -> Behind {
    let bus = Bus::new(config(CAPACITY)).expect("config");
    let poller = bus.poller();
    for _ in 0..subscriptions {
        poller
            .subscribe(&["behind"], Start::Now)
            .expect("subscribe");
    }
    for _ in 0..CAPACITY {
        bus.publish("behind", None, Payload::binary(&PAYLOAD))
            .expect("publish");
    }
    Behind {
        bus,
        _pollers: vec![poller],
    }
}

/// The rounds callgrind counts (`--toggle-collect`).
#[inline(never)]
fn measured(state: &mut dyn Round, rounds: usize) -> usize {
    (0..rounds).map(|_| state.round()).sum()
}

fn run(mut state: impl Round, warm_up: usize, rounds: usize) {
    for _ in 0..warm_up {
        state.round();
    }
    let done = measured(&mut state, rounds);
    println!("{rounds} rounds: {done} deliveries or publishes");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo bench` runs every bench binary with `--bench`: do nothing then.
    let (Some(workload), Some(rounds)) = (args.get(1), args.get(2)) else {
        return;
    };
    if workload.starts_with("--") {
        return;
    }
    let rounds: usize = rounds.parse().expect("rounds: a number");
    match workload.as_str() {
        "w1" => run(fanout(), 2, rounds),
        "w1_c" => {
            let (bus, poller, batch) = c_abi::fanout(CAPACITY, N);
            let state = CFanout {
                bus,
                poller,
                batch,
                events: c_abi::events(DRAIN_MAX),
            };
            run(state, 2, rounds);
        }
        // Every ring full, so that each publish evicts (steady state).
        "w2" => run(topics(CAPACITY), CAPACITY + 1, rounds),
        "w2_ring1" => run(topics(1), 2, rounds),
        "w3" => run(behind(N), 1, rounds),
        "w3_0" => run(behind(0), 1, rounds),
        other => panic!("unknown workload {other}"),
    }
}
