//! W3 in process: publish-to-receive latency at a fixed rate (10,000
//! messages a second by default) to 100 subscriptions. The publisher is
//! this thread; one consumer thread serves every subscription, waiting the
//! way a user of each library would wait on many at once:
//!
//! - pushbus: `Poller::wait`, then `drain` batches of 256 (its C ABI:
//!   `pushbus_poller_wait`, `pushbus_poller_drain`);
//! - tokio broadcast: one task per receiver (`recv().await`) on a
//!   current-thread runtime;
//! - crossbeam-channel: a channel per subscriber, `Select` over them all;
//! - ZeroMQ inproc: `zmq_poll` over the SUB sockets.
//!
//! Publishing is paced as on the loopback runs: every millisecond, the
//! messages due (10 at 10,000/s), each stamped just before its publish.
//! Capacity (ring, channel, high-water mark) is 1,024 messages, so a
//! consumer that is late for a moment loses nothing; `missing` counts any
//! delivery that never came.

// Shared with the library's benches, which use the rest of it.
#[allow(dead_code)]
#[path = "../../../support/c_abi.rs"]
mod c_abi;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use pushbus::{ffi, Batch, Bus, Config, Event, Payload, Start};

use super::zmq::{frame, pub_sub, topic_prefix, Context};
use crate::clock::now_ns;
use crate::latency::Latency;
use crate::payload::{Stamp, LEN};

const CAPACITY: usize = 1024;
const DRAIN_MAX: usize = 256;
/// How long a consumer blocks before it looks at its deadline again.
const WAIT: Duration = Duration::from_millis(10);
const TICK: Duration = Duration::from_millis(1);
/// How long after the last publish a consumer keeps waiting for
/// deliveries.
const GRACE: Duration = Duration::from_secs(1);
const TOPIC: &str = "latency";

#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub subscribers: usize,
    /// Messages a second.
    pub rate: f64,
    pub warmup: Duration,
    pub seconds: Duration,
}

impl Plan {
    /// Messages published before measuring.
    fn warm(&self) -> u64 {
        (self.rate * self.warmup.as_secs_f64()) as u64
    }

    fn total(&self) -> u64 {
        self.warm() + (self.rate * self.seconds.as_secs_f64()) as u64
    }
}

/// What the consumer thread receives.
pub struct Sink {
    warm: u64,
    expected: u64,
    deadline: Instant,
    latency: Latency,
    delivered: u64,
}

impl Sink {
    /// Counts a delivery, and its latency once past the warm-up.
    fn take(&mut self, payload: &[u8]) {
        let now = now_ns();
        let Some(stamp) = Stamp::find(payload) else {
            return;
        };
        self.delivered += 1;
        if stamp.seq >= self.warm {
            self.latency.record(now.saturating_sub(stamp.sent_ns));
        }
    }

    /// Whether every delivery came, or the time for them is up.
    fn finished(&self) -> bool {
        self.delivered >= self.expected || Instant::now() > self.deadline
    }
}

/// Runs one contender's measurement.
pub type Measure = fn(&Plan) -> Outcome;

/// Every contender, by the name its records carry.
pub const CONTENDERS: &[(&str, Measure)] = &[
    ("pushbus", pushbus),
    ("pushbus_c_abi", pushbus_c_abi),
    ("tokio", tokio_broadcast),
    ("crossbeam", crossbeam),
    ("zmq_inproc", zmq_inproc),
];

/// A contender's result.
pub struct Outcome {
    pub latency: Latency,
    /// Deliveries that never came.
    pub missing: u64,
    /// How far the publisher fell behind its schedule.
    pub behind: Duration,
}

/// Runs `consume` on a thread of its own and publishes `plan` on this one
/// with `publish`, which is dropped afterwards (closing the channels of
/// those peers whose consumers stop on it).
fn run(
    plan: &Plan,
    mut publish: impl FnMut(&[u8; LEN]),
    consume: impl FnOnce(Sink) -> Sink + Send + 'static,
) -> Outcome {
    let total = plan.total();
    let per_tick = (plan.rate * TICK.as_secs_f64()).max(1.0) as u64;
    let ticks = total.div_ceil(per_tick);
    let sink = Sink {
        warm: plan.warm(),
        expected: total * plan.subscribers as u64,
        deadline: Instant::now() + TICK * ticks as u32 + GRACE,
        latency: Latency::default(),
        delivered: 0,
    };
    let consumer = thread::spawn(move || consume(sink));
    let start = Instant::now();
    let mut behind = Duration::ZERO;
    for tick in 0..ticks {
        let due = start + TICK * tick as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
        behind = behind.max(due.elapsed());
        for seq in tick * per_tick..((tick + 1) * per_tick).min(total) {
            publish(
                &Stamp {
                    seq,
                    sent_ns: now_ns(),
                }
                .encode(),
            );
        }
    }
    drop(publish);
    let sink = consumer.join().expect("the consumer thread");
    let expected = sink.expected;
    Outcome {
        missing: expected.saturating_sub(sink.delivered),
        latency: sink.latency,
        behind,
    }
}

fn pushbus_config() -> Config {
    let mut config = Config::default();
    config.ring_max_messages = CAPACITY;
    config.janitor_interval = None;
    config
}

pub fn pushbus(plan: &Plan) -> Outcome {
    let bus = Bus::new(pushbus_config()).expect("valid config");
    let poller = bus.poller();
    for _ in 0..plan.subscribers {
        poller.subscribe(&[TOPIC], Start::Now).expect("subscribe");
    }
    let publish = move |payload: &[u8; LEN]| {
        bus.publish(TOPIC, None, Payload::binary(payload))
            .expect("publish");
    };
    run(plan, publish, move |mut sink| {
        let mut batch = Batch::with_capacity(DRAIN_MAX);
        while !sink.finished() {
            poller.wait(Some(WAIT));
            while poller.drain(&mut batch, DRAIN_MAX) > 0 {
                for event in batch.iter() {
                    // Gaps and closes are counted as missing deliveries.
                    if let Event::Message(delivery) = event {
                        sink.take(delivery.message().data());
                    }
                }
            }
        }
        sink
    })
}

/// A C ABI handle moved to the consumer thread.
struct Handle<T>(*mut T);

// SAFETY: every pushbus C function is thread-safe (include/pushbus.h); a
// poller and its batch are used by the consumer thread only.
unsafe impl<T> Send for Handle<T> {}

pub fn pushbus_c_abi(plan: &Plan) -> Outcome {
    use ffi::pushbus_status::PUSHBUS_OK;
    let (bus, poller, batch) = c_abi::fanout(CAPACITY, plan.subscribers);
    let (poller, batch) = (Handle(poller), Handle(batch));
    let publish = |payload: &[u8; LEN]| {
        let topic = c_abi::TOPIC;
        let status = ffi::pushbus_publish(
            bus,
            topic.as_ptr().cast(),
            topic.len(),
            std::ptr::null(),
            0,
            ffi::PUSHBUS_PAYLOAD_BINARY,
            payload.as_ptr(),
            payload.len(),
            std::ptr::null_mut(),
        );
        assert_eq!(status, PUSHBUS_OK);
    };
    let outcome = run(plan, publish, move |mut sink| {
        let (poller, batch) = (poller, batch);
        let mut events = c_abi::events(DRAIN_MAX);
        while !sink.finished() {
            let mut ready = false;
            let status = ffi::pushbus_poller_wait(poller.0, WAIT.as_millis() as i64, &mut ready);
            assert_eq!(status, PUSHBUS_OK);
            loop {
                let mut count = 0;
                let status = ffi::pushbus_poller_drain(
                    poller.0,
                    batch.0,
                    events.as_mut_ptr(),
                    events.len(),
                    &mut count,
                );
                assert_eq!(status, PUSHBUS_OK);
                if count == 0 {
                    break;
                }
                for event in &events[..count] {
                    if event.kind == ffi::PUSHBUS_EVENT_MESSAGE {
                        // SAFETY: a message event's `message` and its data
                        // point into the batch, valid until the next drain.
                        let data = unsafe {
                            let message = &*event.message;
                            std::slice::from_raw_parts(message.data, message.data_len)
                        };
                        sink.take(data);
                    }
                }
            }
        }
        ffi::pushbus_batch_free(batch.0);
        ffi::pushbus_poller_free(poller.0);
        sink
    });
    ffi::pushbus_bus_free(bus);
    outcome
}

pub fn tokio_broadcast(plan: &Plan) -> Outcome {
    use tokio::sync::broadcast::{self, error::RecvError};
    let (sender, first) = broadcast::channel::<Arc<[u8]>>(CAPACITY);
    let mut receivers = vec![first];
    receivers.extend((1..plan.subscribers).map(|_| sender.subscribe()));
    let publish = move |payload: &[u8; LEN]| {
        sender
            .send(Arc::from(&payload[..]))
            .expect("receivers exist");
    };
    run(plan, publish, move |sink| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let tasks = tokio::task::LocalSet::new();
        let sink = Rc::new(RefCell::new(sink));
        for mut receiver in receivers {
            let sink = sink.clone();
            tasks.spawn_local(async move {
                loop {
                    match receiver.recv().await {
                        Ok(message) => sink.borrow_mut().take(&message),
                        // Counted as missing deliveries.
                        Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => break,
                    }
                }
            });
        }
        // Every task ends when the publisher drops the sender.
        runtime.block_on(tasks);
        Rc::into_inner(sink)
            .expect("the tasks have ended")
            .into_inner()
    })
}

pub fn crossbeam(plan: &Plan) -> Outcome {
    use crossbeam_channel::{bounded, Receiver, Select, TryRecvError};
    let (senders, receivers): (Vec<_>, Vec<Receiver<Arc<[u8]>>>) =
        (0..plan.subscribers).map(|_| bounded(CAPACITY)).unzip();
    let publish = move |payload: &[u8; LEN]| {
        let message: Arc<[u8]> = Arc::from(&payload[..]);
        for sender in &senders {
            // A full channel loses the message: counted as missing.
            let _ = sender.try_send(message.clone());
        }
    };
    run(plan, publish, move |mut sink| {
        let mut select = Select::new();
        for receiver in &receivers {
            select.recv(receiver);
        }
        let mut open = receivers.len();
        while open > 0 {
            let index = select.ready();
            loop {
                match receivers[index].try_recv() {
                    Ok(message) => sink.take(&message),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        select.remove(index);
                        open -= 1;
                        break;
                    }
                }
            }
        }
        sink
    })
}

pub fn zmq_inproc(plan: &Plan) -> Outcome {
    let context = Context::default();
    let prefix = topic_prefix(TOPIC);
    let (publisher, subscribers) = pub_sub(
        &context,
        TOPIC,
        &vec![prefix.clone(); plan.subscribers],
        CAPACITY as i32,
    );
    let publish = move |payload: &[u8; LEN]| {
        publisher.send(frame(&prefix, payload), 0).expect("send");
    };
    // The sockets are closed (at the end of `run`) before the context.
    run(plan, publish, move |mut sink| {
        let mut message = zmq::Message::new();
        while !sink.finished() {
            let mut items: Vec<zmq::PollItem> = subscribers
                .iter()
                .map(|s| s.as_poll_item(zmq::POLLIN))
                .collect();
            zmq::poll(&mut items, WAIT.as_millis() as i64).expect("zmq_poll");
            let readable: Vec<bool> = items.iter().map(zmq::PollItem::is_readable).collect();
            for (subscriber, _) in subscribers
                .iter()
                .zip(readable)
                .filter(|(_, readable)| *readable)
            {
                while subscriber.recv(&mut message, zmq::DONTWAIT).is_ok() {
                    sink.take(&message);
                }
            }
        }
        sink
    })
}
