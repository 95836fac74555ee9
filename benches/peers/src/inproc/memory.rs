//! W4 in process for ZeroMQ: heap per idle subscription. libzmq allocates
//! with C `malloc`, which the library's `benches/memory.rs` (a counting Rust
//! allocator) cannot see, so this counts glibc's bytes in use
//! (`mallinfo2`: `uordblks` + `hblkhd`, allocator overhead included), for
//! ZeroMQ and, measured the same way, pushbus. Each SUB socket also holds
//! an eventfd, kernel memory that no heap count includes.

use pushbus::{Bus, Config, Start};

use super::zmq::{pub_sub, topic_prefix, wait_subscribed, Context};

/// Heap bytes per subscription, measured over this many subscriptions.
pub type Measure = fn(usize) -> f64;

/// Every contender, by the name its records carry.
pub const CONTENDERS: &[(&str, Measure)] = &[("pushbus", pushbus), ("zmq_inproc", zmq_inproc)];

/// Bytes glibc's allocator has handed out and not had back.
fn heap_in_use() -> usize {
    // SAFETY: mallinfo2 only reads the allocator's statistics.
    let info = unsafe { libc::mallinfo2() };
    info.uordblks + info.hblkhd
}

/// Heap growth per item while `build`'s result is alive.
fn per_item<T>(items: usize, build: impl FnOnce() -> T) -> f64 {
    let before = heap_in_use();
    let built = build();
    let after = heap_in_use();
    drop(built);
    (after as f64 - before as f64) / items as f64
}

/// `subscriptions` more subscriptions to a topic that already has one, in a
/// poller that already exists.
pub fn pushbus(subscriptions: usize) -> f64 {
    let mut config = Config::default();
    config.janitor_interval = None;
    let bus = Bus::new(config).expect("valid config");
    let poller = bus.poller();
    poller.subscribe(&["idle"], Start::Now).expect("subscribe");
    per_item(subscriptions, || {
        (0..subscriptions)
            .map(|_| poller.subscribe(&["idle"], Start::Now).expect("subscribe"))
            .collect::<Vec<_>>()
    })
}

/// `subscriptions` more SUB sockets on a PUB socket that already has one,
/// each connected, subscribed and known to the PUB socket.
pub fn zmq_inproc(subscriptions: usize) -> f64 {
    let context = Context::default();
    let prefix = topic_prefix("idle");
    let (publisher, first) = pub_sub(&context, "idle", std::slice::from_ref(&prefix), 64);
    let bytes = per_item(subscriptions, || {
        let subscribers: Vec<zmq::Socket> = (0..subscriptions)
            .map(|_| {
                let subscriber = context.subscriber();
                subscriber.connect("inproc://idle").expect("connect");
                subscriber.set_subscribe(&prefix).expect("ZMQ_SUBSCRIBE");
                subscriber
            })
            .collect();
        wait_subscribed(
            &publisher,
            &subscribers,
            std::slice::from_ref(&prefix),
            &[0],
        );
        subscribers
    });
    drop((first, publisher));
    bytes
}
