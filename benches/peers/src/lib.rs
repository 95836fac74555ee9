//! Side-by-side benchmarks of pushbus and the peers a user would pick
//! instead (issue 8). The binaries:
//!
//! - `loadclient`: one process that subscribes and publishes over loopback to
//!   a server (pushbus's chat server over SSE, nchan over SSE, Redis pub/sub,
//!   NATS core) and measures workloads W1-W6 (see [`net::workload`]);
//! - `inproc`: in-process latency (W3) and heap per idle subscription (W4)
//!   of pushbus, tokio broadcast, crossbeam-channel and ZeroMQ inproc;
//! - `benches/zmq_inproc.rs`: ZeroMQ inproc PUB/SUB in the criterion rounds
//!   of the library's own `benches/fanout.rs` (W1, W2).
//!
//! Every result is one JSON object a line on stdout ([`record`]), which
//! `benches/scripts/run.sh` collects into one results file.

#![deny(clippy::undocumented_unsafe_blocks)]

pub mod clock;
pub mod inproc;
pub mod latency;
pub mod net;
pub mod payload;
pub mod record;
pub mod tally;
pub mod usage;

/// Errors of the benchmark clients: any library's error, with its message.
pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T> = std::result::Result<T, Error>;
