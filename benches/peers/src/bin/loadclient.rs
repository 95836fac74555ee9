//! The loopback load client: subscribes to and publishes on one server,
//! runs one workload, prints its records (JSON lines). One thread (a tokio
//! current-thread runtime over epoll), so that on a 2-core machine the
//! server under test keeps a core of its own; each record's `client_cpu`
//! says how busy this thread was.
//!
//!     loadclient --target nchan=127.0.0.1:8081 --label nchan w1 --subscribers 1000

use std::time::Duration;

use clap::{Parser, Subcommand};
use pushbus_peers::net::target::Target;
use pushbus_peers::net::workload::{self, Settings};
use pushbus_peers::record::Record;
use pushbus_peers::Result;

#[derive(Parser)]
// A later option overrides an earlier one (run.sh sets W5's step length
// after the common options).
#[command(args_override_self = true)]
struct Args {
    /// KIND=HOST:PORT, KIND one of pushbus, nchan, redis, nats.
    #[arg(long)]
    target: Target,
    /// The contender's name in the records.
    #[arg(long)]
    label: String,
    /// Publishing connections.
    #[arg(long, default_value_t = 16)]
    publishers: usize,
    /// W1, W2: publishes a connection writes at once before reading their
    /// answers (1: one round trip a publish).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pipeline: u16,
    /// Seconds of warm-up before measuring.
    #[arg(long, default_value_t = 0.5)]
    warmup: f64,
    /// Seconds measured (W5: of each step).
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// The server's processes (nginx: its workers), comma-separated: their
    /// CPU use is recorded; W4 needs them for their memory.
    #[arg(long, value_delimiter = ',')]
    server_pid: Vec<u32>,
    #[command(subcommand)]
    workload: Workload,
}

#[derive(Subcommand)]
enum Workload {
    /// Fan-out: one topic, N subscribers, deliveries per second.
    W1 {
        #[arg(long)]
        subscribers: usize,
        /// Messages in flight (published, not yet delivered everywhere).
        #[arg(long, default_value_t = 128)]
        window: usize,
    },
    /// T topics with one subscriber each, deliveries per second.
    W2 {
        #[arg(long)]
        topics: usize,
        #[arg(long, default_value_t = 1024)]
        window: usize,
    },
    /// Latency at a fixed publish rate.
    W3 {
        #[arg(long, default_value_t = 100)]
        subscribers: usize,
        #[arg(long, default_value_t = 10_000.0)]
        rate: f64,
    },
    /// Server memory per idle subscriber.
    W4 {
        #[arg(long)]
        connections: usize,
    },
    /// The highest publish rate to N subscribers that still keeps up.
    W5 {
        #[arg(long, default_value_t = 1000)]
        connections: usize,
        #[arg(long, default_value_t = 100.0)]
        start_rate: f64,
        #[arg(long, default_value_t = 1.5)]
        factor: f64,
        #[arg(long, default_value_t = 1_000_000.0)]
        max_rate: f64,
    },
    /// A resume storm: N SSE clients reconnect at once, `behind` messages back.
    W6 {
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        #[arg(long, default_value_t = 1000)]
        behind: u64,
    },
}

fn main() -> Result<()> {
    let args = Args::parse();
    let settings = Settings {
        target: args.target,
        label: args.label,
        publishers: args.publishers,
        pipeline: args.pipeline.into(),
        warmup: Duration::from_secs_f64(args.warmup),
        seconds: Duration::from_secs_f64(args.seconds),
        server_pids: args.server_pid,
        topic_prefix: format!("r{}-", std::process::id()),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (name, param) = args.workload.name_and_param();
    let label = settings.label.clone();
    let measured = runtime.block_on(async {
        match args.workload {
            Workload::W1 {
                subscribers,
                window,
            } => {
                workload::throughput(
                    &settings,
                    "w1",
                    vec![settings.topic("fanout")],
                    subscribers,
                    window,
                )
                .await
            }
            Workload::W2 { topics, window } => {
                let names = (0..topics)
                    .map(|i| settings.topic(&format!("t{i}")))
                    .collect();
                workload::throughput(&settings, "w2", names, 1, window).await
            }
            Workload::W3 { subscribers, rate } => {
                workload::latency(&settings, subscribers, rate).await
            }
            Workload::W4 { connections } => workload::memory(&settings, connections).await,
            Workload::W5 {
                connections,
                start_rate,
                factor,
                max_rate,
            } => workload::capacity(&settings, connections, start_rate, factor, max_rate).await,
            Workload::W6 { clients, behind } => {
                workload::resume_storm(&settings, clients, behind).await
            }
        }
    });
    // Open connections and their tasks are dropped with the process.
    match measured {
        Ok(record) => {
            record.print();
            std::process::exit(0)
        }
        Err(error) => {
            // The failure goes in the results too, so the report shows it.
            eprintln!("{label}, {name}: {error}");
            Record::new(name, &label, "loopback", param as u64)
                .set("error", error.to_string())
                .print();
            std::process::exit(1)
        }
    }
}

impl Workload {
    /// The workload's name and size, as its records carry them.
    fn name_and_param(&self) -> (&'static str, usize) {
        match *self {
            Workload::W1 { subscribers, .. } => ("w1", subscribers),
            Workload::W2 { topics, .. } => ("w2", topics),
            Workload::W3 { subscribers, .. } => ("w3", subscribers),
            Workload::W4 { connections } => ("w4", connections),
            Workload::W5 { connections, .. } => ("w5", connections),
            Workload::W6 { clients, .. } => ("w6", clients),
        }
    }
}
