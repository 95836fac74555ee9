//! In-process contenders beyond the library's own benches: ZeroMQ inproc,
//! and the latency (W3) and heap (W4) measurements of every in-process
//! contender that need a thread per side or libzmq's allocations.

pub mod latency;
pub mod memory;
pub mod zmq;
