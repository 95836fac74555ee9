//! pushbus's side of the single-threaded rounds, shared by
//! `benches/fanout.rs` (timed by criterion beside the peers) and
//! `benches/instr.rs` (counted by callgrind), so that both measure the same
//! workloads with the same sizes and configuration.
//!
//! A round publishes a burst of 64-byte messages, then drains every
//! delivery, touching each one; the ring holds the whole burst, so nothing
//! is dropped.

use std::hint::black_box;

use pushbus::{ffi, Batch, Bus, Event, Payload, Poller, Publisher, Start};

use crate::c_abi;
use crate::config::pushbus_config;
use crate::subscribed;

/// Every message's payload.
pub const PAYLOAD: [u8; 64] = [0xAB; 64];
/// Messages published per round in W1.
pub const BURST: usize = 64;
/// Ring and channel capacity of every contender: holds a whole W1 burst.
pub const CAPACITY: usize = 64;
/// Events per pushbus drain call.
pub const DRAIN_MAX: usize = 256;
/// Subscriptions that never drain in W3.
pub const BEHIND: usize = 10_000;

/// One contender set up for a "publish a burst, then drain" round.
pub trait Round {
    /// Publishes one burst, drains every delivery; returns how many there were.
    fn round(&mut self) -> usize;
}

/// Drains `poller` until it is empty, touching every delivery.
pub fn drain_pushbus(poller: &Poller, batch: &mut Batch) -> usize {
    let (mut delivered, mut bytes) = (0, 0);
    while poller.drain(batch, DRAIN_MAX) > 0 {
        for event in batch.iter() {
            match event {
                Event::Message(delivery) => {
                    bytes += black_box(delivery.message().data()).len();
                    delivered += 1;
                }
                // A gap or a close would mean the ring was too small for
                // the burst, and the round would be doing less work.
                other => panic!("pushbus lost messages in a benchmark: {other:?}"),
            }
        }
    }
    black_box(bytes);
    delivered
}

/// W1 on pushbus: `n` subscriptions to one topic in one poller, published
/// to through a [`Publisher`] (the peers' publishers hold their senders
/// too).
pub struct PushbusFanout {
    publisher: Publisher,
    poller: Poller,
    batch: Batch,
}

impl PushbusFanout {
    pub fn new(n: usize) -> Self {
        let (publisher, poller) = subscribed::fanout(CAPACITY, n);
        PushbusFanout {
            publisher,
            poller,
            batch: Batch::with_capacity(DRAIN_MAX),
        }
    }
}

impl Round for PushbusFanout {
    fn round(&mut self) -> usize {
        for _ in 0..BURST {
            self.publisher
                .publish(None, Payload::binary(&PAYLOAD))
                .expect("publish");
        }
        drain_pushbus(&self.poller, &mut self.batch)
    }
}

/// W1 on pushbus through its C ABI, as a C, Python or Node server drives it:
/// the same round, with every call an `extern "C"` function and each drain
/// filling a caller's array of `pushbus_event` (issue: at 256 events per
/// call, at least 2/3 of the Rust API's rate).
pub struct PushbusCAbiFanout {
    bus: *mut ffi::pushbus_bus,
    publisher: *mut ffi::pushbus_publisher,
    poller: *mut ffi::pushbus_poller,
    batch: *mut ffi::pushbus_batch,
    events: Vec<ffi::pushbus_event>,
}

impl PushbusCAbiFanout {
    pub fn new(n: usize) -> Self {
        let (bus, poller, batch) = c_abi::fanout(CAPACITY, n);
        let events = c_abi::events(DRAIN_MAX);
        PushbusCAbiFanout {
            bus,
            publisher: c_abi::publisher(bus),
            poller,
            batch,
            events,
        }
    }
}

impl Round for PushbusCAbiFanout {
    fn round(&mut self) -> usize {
        let (publisher, poller, batch) = (self.publisher, self.poller, self.batch);
        c_abi::publish_then_drain(publisher, poller, batch, &mut self.events, BURST, &PAYLOAD)
    }
}

impl Drop for PushbusCAbiFanout {
    fn drop(&mut self) {
        ffi::pushbus_batch_free(self.batch);
        ffi::pushbus_publisher_free(self.publisher);
        ffi::pushbus_poller_free(self.poller);
        ffi::pushbus_bus_free(self.bus);
    }
}

/// W2 on pushbus: one subscription per topic ([`topic_names`]), all in one
/// poller, rings of `ring` messages; published to by name, as a broker is
/// addressed (the peers look their senders up by name too), or through a
/// [`Publisher`] per topic (no lookup: the peers' `by_index` case).
pub struct PushbusTopics {
    bus: Bus,
    poller: Poller,
    batch: Batch,
    names: Vec<String>,
    /// Empty when publishing by name.
    publishers: Vec<Publisher>,
}

impl PushbusTopics {
    /// Publishing by name.
    pub fn new(ring: usize) -> Self {
        let (bus, poller, names) = subscribed::topics(ring);
        PushbusTopics {
            bus,
            poller,
            batch: Batch::with_capacity(DRAIN_MAX),
            names,
            publishers: Vec::new(),
        }
    }

    /// Publishing through a [`Publisher`] per topic.
    pub fn with_publishers(ring: usize) -> Self {
        let mut topics = PushbusTopics::new(ring);
        topics.publishers = (topics.names.iter())
            .map(|name| topics.bus.publisher(name).expect("publisher"))
            .collect();
        topics
    }
}

impl Round for PushbusTopics {
    fn round(&mut self) -> usize {
        if self.publishers.is_empty() {
            for name in &self.names {
                self.bus
                    .publish(name, None, Payload::binary(&PAYLOAD))
                    .expect("publish");
            }
        } else {
            for publisher in &self.publishers {
                publisher
                    .publish(None, Payload::binary(&PAYLOAD))
                    .expect("publish");
            }
        }
        drain_pushbus(&self.poller, &mut self.batch)
    }
}

/// W3: a bus whose topic `behind` has a full ring and [`BEHIND`]
/// subscriptions spread over `pollers` pollers that never drain (no
/// subscription when `pollers` is 0). Every publish to it also evicts one
/// message.
pub fn behind(pollers: usize) -> (Bus, Vec<Poller>) {
    let bus = Bus::new(pushbus_config(CAPACITY)).expect("valid config");
    let pollers: Vec<Poller> = (0..pollers).map(|_| bus.poller()).collect();
    let subscriptions = if pollers.is_empty() { 0 } else { BEHIND };
    for i in 0..subscriptions {
        pollers[i % pollers.len()]
            .subscribe(&["behind"], Start::Now)
            .expect("subscribe");
    }
    for _ in 0..CAPACITY {
        bus.publish("behind", None, Payload::binary(&PAYLOAD))
            .expect("publish");
    }
    (bus, pollers)
}
