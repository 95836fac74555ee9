//! W4: heap cost of idle subscriptions and of retained messages, pushbus
//! next to in-process peers, measured with a counting global allocator.
//!
//! Plain `main` rather than criterion: criterion allocates while it runs,
//! which the counter would pick up. Sizes are the bytes requested from the
//! allocator (`Layout::size`), so malloc's own per-block overhead (8 to 16
//! bytes a block with glibc) comes on top: the "blocks" columns say how
//! many blocks that is. Prints markdown for BENCHMARKS.md, and writes the
//! same numbers to `target/criterion/w4_memory.json` for `benches/report.py`.

#![deny(clippy::undocumented_unsafe_blocks)]

#[path = "support/config.rs"]
mod config;

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use config::{pushbus_config, topic_names};
use pushbus::{Bus, Payload, Start, SubscriptionId};

/// Subscriptions created per contender.
const SUBSCRIPTIONS: usize = 10_000;
/// Messages retained by the ring in part (b).
const MESSAGES: usize = 100_000;
/// Payload size of part (b); subtracted from the per-message growth.
const PAYLOAD: [u8; 64] = [0xAB; 64];
/// Channel capacity of the peers, as in the throughput benchmarks.
const CAPACITY: usize = 64;
/// Targets: heap bytes per idle subscription, overhead bytes per message.
const SUBSCRIPTION_TARGET: f64 = 128.0;
const MESSAGE_TARGET: f64 = 96.0;

/// Bytes requested and not yet freed, over the whole process.
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
/// Blocks allocated and not yet freed.
static LIVE_BLOCKS: AtomicIsize = AtomicIsize::new(0);

/// The system allocator, counting what is live.
struct Counting;

// SAFETY: every method forwards its arguments unchanged to `System`, which
// upholds the `GlobalAlloc` contract; the counters only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: our caller meets `alloc`'s contract, passed on as is.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size() as isize, 1);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: our caller meets `alloc_zeroed`'s contract, passed on as is.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size() as isize, 1);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` (through us) with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        grew(-(layout.size() as isize), -1);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` was allocated by `System` (through us) with
        // `layout`, and our caller meets `realloc`'s contract for `new_size`.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            grew(new_size as isize - layout.size() as isize, 0);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn grew(bytes: isize, blocks: isize) {
    LIVE_BYTES.fetch_add(bytes, Relaxed);
    LIVE_BLOCKS.fetch_add(blocks, Relaxed);
}

/// Live heap growth caused by `build`, per item, while its result is alive.
#[derive(Debug, Clone, Copy)]
struct Growth {
    bytes: f64,
    blocks: f64,
}

fn measure<T>(items: usize, build: impl FnOnce() -> T) -> Growth {
    let (bytes, blocks) = (LIVE_BYTES.load(Relaxed), LIVE_BLOCKS.load(Relaxed));
    let built = build();
    let growth = Growth {
        bytes: (LIVE_BYTES.load(Relaxed) - bytes) as f64 / items as f64,
        blocks: (LIVE_BLOCKS.load(Relaxed) - blocks) as f64 / items as f64,
    };
    drop(black_box(built));
    growth
}

/// (a) 10,000 subscriptions to one topic in one poller. The topic and the
/// poller's group for it exist already, as they would in a busy broker.
fn pushbus_subscriptions() -> Growth {
    let bus = Bus::new(pushbus_config(CAPACITY)).expect("valid config");
    let poller = bus.poller();
    poller.subscribe(&["idle"], Start::Now).expect("subscribe");
    measure(SUBSCRIPTIONS, || {
        let mut ids: Vec<SubscriptionId> = Vec::with_capacity(SUBSCRIPTIONS);
        for _ in 0..SUBSCRIPTIONS {
            ids.push(poller.subscribe(&["idle"], Start::Now).expect("subscribe"));
        }
        ids
    })
}

/// (a') 10,000 topics with one subscription each: what a subscription
/// costs when it brings its own topic (as in W2).
fn pushbus_topics() -> Growth {
    let bus = Bus::new(pushbus_config(CAPACITY)).expect("valid config");
    let poller = bus.poller();
    let names = topic_names();
    measure(SUBSCRIPTIONS, || {
        let mut ids: Vec<SubscriptionId> = Vec::with_capacity(SUBSCRIPTIONS);
        for name in &names {
            ids.push(poller.subscribe(&[name], Start::Now).expect("subscribe"));
        }
        ids
    })
}

fn tokio_receivers() -> Growth {
    let (sender, _first) = tokio::sync::broadcast::channel::<Arc<[u8]>>(CAPACITY);
    measure(SUBSCRIPTIONS, || {
        (0..SUBSCRIPTIONS)
            .map(|_| sender.subscribe())
            .collect::<Vec<_>>()
    })
}

fn bus_readers() -> Growth {
    let mut bus = bus::Bus::<Arc<[u8]>>::new(CAPACITY);
    // Bus::new starts an unparking thread; let it finish starting up so
    // that its own allocations fall before the measurement.
    std::thread::sleep(Duration::from_millis(100));
    measure(SUBSCRIPTIONS, || {
        (0..SUBSCRIPTIONS).map(|_| bus.add_rx()).collect::<Vec<_>>()
    })
}

fn crossbeam_channels() -> Growth {
    measure(SUBSCRIPTIONS, || {
        (0..SUBSCRIPTIONS)
            .map(|_| crossbeam_channel::bounded::<Arc<[u8]>>(CAPACITY))
            .collect::<Vec<_>>()
    })
}

/// (b) Heap growth per message of a ring holding 100,000 of them.
fn pushbus_retained() -> Growth {
    let mut config = pushbus_config(2 * MESSAGES);
    config.ring_max_bytes = 64 << 20;
    let bus = Bus::new(config).expect("valid config");
    // Creates the topic, outside the measurement.
    bus.head("retained").expect("topic");
    measure(MESSAGES, || {
        for _ in 0..MESSAGES {
            bus.publish("retained", None, Payload::binary(&PAYLOAD))
                .expect("publish");
        }
    })
}

fn verdict(value: f64, target: f64) -> &'static str {
    if value <= target {
        "met"
    } else {
        "NOT met"
    }
}

/// Where `benches/report.py` looks: next to criterion's results.
fn json_path() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("criterion")
        .join("w4_memory.json")
}

fn main() {
    println!("### W4 (a): heap per idle subscription ({SUBSCRIPTIONS} subscriptions)\n");
    println!("Includes a `Vec` holding each subscription's handle (column 3).\n");
    println!(
        "| contender | heap bytes / subscription | of which the handle | blocks / subscription |"
    );
    println!("|---|---:|---:|---:|");
    let rows = [
        (
            "pushbus",
            "pushbus (1 topic, 1 poller)",
            pushbus_subscriptions(),
            size_of::<SubscriptionId>(),
        ),
        (
            "pushbus_topics",
            "pushbus (10,000 topics, 1 poller; includes the topics)",
            pushbus_topics(),
            size_of::<SubscriptionId>(),
        ),
        (
            "tokio",
            "tokio broadcast Receiver",
            tokio_receivers(),
            size_of::<tokio::sync::broadcast::Receiver<Arc<[u8]>>>(),
        ),
        (
            "bus",
            "bus BusReader",
            bus_readers(),
            size_of::<bus::BusReader<Arc<[u8]>>>(),
        ),
        (
            "crossbeam",
            "crossbeam bounded(64) channel per subscriber",
            crossbeam_channels(),
            size_of::<(
                crossbeam_channel::Sender<Arc<[u8]>>,
                crossbeam_channel::Receiver<Arc<[u8]>>,
            )>(),
        ),
    ];
    for (_, name, growth, handle) in &rows {
        println!(
            "| {name} | {:.1} | {handle} | {:.2} |",
            growth.bytes, growth.blocks
        );
    }

    let retained = pushbus_retained();
    let overhead = retained.bytes - PAYLOAD.len() as f64;
    println!("\n### W4 (b): pushbus bytes per retained message ({MESSAGES} x 64-byte payloads)\n");
    println!("| heap bytes / message | overhead over the payload | blocks / message |");
    println!("|---:|---:|---:|");
    println!(
        "| {:.1} | {overhead:.1} | {:.2} |",
        retained.bytes, retained.blocks
    );

    let subscription = rows[0].2.bytes;
    println!("\n### W4 targets\n");
    println!(
        "- idle subscription <= {SUBSCRIPTION_TARGET} B: {subscription:.1} B, {}",
        verdict(subscription, SUBSCRIPTION_TARGET)
    );
    println!(
        "- retained-message overhead <= {MESSAGE_TARGET} B: {overhead:.1} B, {}",
        verdict(overhead, MESSAGE_TARGET)
    );

    let json = serde_json::json!({
        "subscriptions": SUBSCRIPTIONS,
        "messages": MESSAGES,
        "payload_bytes": PAYLOAD.len(),
        "idle_subscription": rows.iter().map(|(key, name, growth, handle)| serde_json::json!({
            "key": key,
            "name": name,
            "bytes": growth.bytes,
            "handle_bytes": handle,
            "blocks": growth.blocks,
        })).collect::<Vec<_>>(),
        "retained_message": {
            "bytes": retained.bytes,
            "overhead": overhead,
            "blocks": retained.blocks,
        },
        "targets": {
            "subscription_bytes": SUBSCRIPTION_TARGET,
            "message_overhead_bytes": MESSAGE_TARGET,
        },
    });
    let path = json_path();
    let written = std::fs::create_dir_all(path.parent().expect("a parent"))
        .and_then(|()| std::fs::write(&path, format!("{json:#}\n")));
    if let Err(error) = written {
        eprintln!("could not write {}: {error}", path.display());
    }
}
