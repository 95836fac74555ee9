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
//! subscriptions, bursts of 64), `w1_1` (one subscription), `w1_c` (10,000
//! through the C ABI), `w2` (10,000 topics x 1 subscription, published to
//! by name, ring of 64, warmed until every ring is full), `w2_pub` (the
//! same through a `Publisher` per topic), `w2_ring1` (by name, ring of 1),
//! `w3` (one publish by name to a full ring with 10,000 lagging
//! subscriptions in one poller), `w3_0` (no subscription).
//! Add `--cache-sim=yes` to callgrind for simulated cache misses (W2 is
//! bound by them).

#[path = "support/c_abi.rs"]
mod c_abi;
#[path = "support/config.rs"]
mod config;
#[path = "support/rounds.rs"]
mod rounds;
#[path = "support/subscribed.rs"]
mod subscribed;

use std::hint::black_box;

use pushbus::{Bus, Payload, Poller};
use rounds::{
    behind, PushbusCAbiFanout, PushbusFanout, PushbusTopics, Round, BURST, CAPACITY, PAYLOAD,
};

/// Subscriptions of W1 (W2's topics are [`config::TOPICS`]).
const N: usize = 10_000;

/// W3: bursts of publishes to a topic whose ring is full (see
/// [`rounds::behind`]).
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

fn behind_round(pollers: usize) -> Behind {
    let (bus, pollers) = behind(pollers);
    Behind {
        bus,
        _pollers: pollers,
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
        "w1" => run(PushbusFanout::new(N), 2, rounds),
        "w1_1" => run(PushbusFanout::new(1), 2, rounds),
        "w1_c" => run(PushbusCAbiFanout::new(N), 2, rounds),
        // Every ring full, so that each publish evicts (steady state).
        "w2" => run(PushbusTopics::new(CAPACITY), CAPACITY + 1, rounds),
        "w2_ring1" => run(PushbusTopics::new(1), 2, rounds),
        "w2_pub" => run(
            PushbusTopics::with_publishers(CAPACITY),
            CAPACITY + 1,
            rounds,
        ),
        "w3" => run(behind_round(1), 1, rounds),
        "w3_0" => run(behind_round(0), 1, rounds),
        other => panic!("unknown workload {other}"),
    }
}
