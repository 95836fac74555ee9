//! Loopback clients: one process subscribes and publishes to a server, so
//! that publish-to-receive latency is read on one clock.

pub mod http;
pub mod nats;
pub mod redis;
pub mod scan;
pub mod sse;
pub mod target;
pub mod wire;
pub mod workload;
