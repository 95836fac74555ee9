//! In-process measurements that the library's criterion benches do not
//! make: W3 latency at a fixed rate for every in-process contender, and W4
//! heap per idle subscription of ZeroMQ (with pushbus measured the same
//! way). Prints one JSON record per contender.
//!
//!     inproc w3 --subscribers 100 --rate 10000 --seconds 2
//!     inproc w4 --subscriptions 10000

use std::time::Duration;

use clap::{Parser, Subcommand};
use pushbus_peers::inproc::latency::{self, Plan};
use pushbus_peers::inproc::memory;
use pushbus_peers::record::Record;

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    workload: Workload,
}

#[derive(Subcommand)]
enum Workload {
    W3 {
        #[arg(long, default_value_t = 100)]
        subscribers: usize,
        #[arg(long, default_value_t = 10_000.0)]
        rate: f64,
        #[arg(long, default_value_t = 0.5)]
        warmup: f64,
        #[arg(long, default_value_t = 2.0)]
        seconds: f64,
    },
    W4 {
        #[arg(long, default_value_t = 10_000)]
        subscriptions: usize,
    },
}

fn main() {
    match Args::parse().workload {
        Workload::W3 {
            subscribers,
            rate,
            warmup,
            seconds,
        } => {
            let plan = Plan {
                subscribers,
                rate,
                warmup: Duration::from_secs_f64(warmup),
                seconds: Duration::from_secs_f64(seconds),
            };
            for (name, measure) in latency::CONTENDERS {
                let outcome = measure(&plan);
                Record::new("w3", name, "in-process", subscribers as u64)
                    .set("rate", rate)
                    .set("missing", outcome.missing)
                    .set("publish_behind_ms", outcome.behind.as_secs_f64() * 1e3)
                    .merge(outcome.latency.summary())
                    .print();
            }
        }
        Workload::W4 { subscriptions } => {
            for (name, measure) in memory::CONTENDERS {
                Record::new("w4", name, "in-process", subscriptions as u64)
                    .set("bytes_per_subscriber", measure(subscriptions))
                    .set("method", "mallinfo2")
                    .print();
            }
        }
    }
}
