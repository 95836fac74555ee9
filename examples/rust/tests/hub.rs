//! The hub and its drain task, with a real poller fd in tokio's reactor:
//! routing by subscription, shared frames, order under bursts, and closing
//! (by the connection, for falling behind, at shutdown).

use std::sync::Arc;
use std::time::Duration;

use pushbus::{Bus, Config, Payload, Start};
use pushbus_chat::frame::Frame;
use pushbus_chat::hub::{Hub, SubscribeError, Subscription};
use pushbus_chat::poller_task;
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// A bus without janitor, a hub on one of its pollers, and the drain task.
struct Fixture {
    bus: Bus,
    hub: Arc<Hub>,
    drain: JoinHandle<std::io::Result<()>>,
}

impl Fixture {
    fn new(queue_bytes: usize) -> Fixture {
        let mut config = Config::default();
        config.janitor_interval = None;
        config.ring_max_messages = 10_000;
        let bus = Bus::new(config).unwrap();
        let hub = Hub::new(bus.poller(), queue_bytes);
        let drain = tokio::spawn(poller_task::run(hub.clone()));
        Fixture { bus, hub, drain }
    }

    fn publish(&self, topic: &str, text: &str) {
        let payload = serde_json::json!({ "text": text }).to_string();
        self.bus
            .publish(topic, Some("message"), Payload::json(payload.as_bytes()))
            .unwrap();
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.drain.abort();
    }
}

/// The next frame, within a bound that only a lost wake-up would exceed.
async fn next(subscription: &mut Subscription) -> Option<Frame> {
    timeout(Duration::from_secs(5), subscription.next())
        .await
        .expect("a frame or the end of the queue within 5 s")
}

fn envelope(frame: &Frame) -> Value {
    serde_json::from_slice(&frame.envelope()).unwrap()
}

/// Waits (briefly) until `condition` holds: routing happens on the drain task.
async fn eventually(what: &str, condition: impl Fn() -> bool) {
    for _ in 0..500 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not within 5 s: {what}");
}

#[tokio::test]
async fn each_subscription_gets_its_own_topic_and_shares_frames_with_its_peers() {
    let fixture = Fixture::new(1 << 20);
    let mut lobby_a = fixture
        .hub
        .subscribe("chat.lobby", Start::Now, None)
        .unwrap();
    let mut lobby_b = fixture
        .hub
        .subscribe("chat.lobby", Start::Now, None)
        .unwrap();
    let mut other = fixture
        .hub
        .subscribe("chat.other", Start::Now, None)
        .unwrap();
    fixture.publish("chat.lobby", "for the lobby");
    fixture.publish("chat.other", "elsewhere");

    let (a, b) = (
        next(&mut lobby_a).await.unwrap(),
        next(&mut lobby_b).await.unwrap(),
    );
    assert_eq!(envelope(&a)["data"]["text"], "for the lobby");
    assert_eq!(a, b);
    assert_eq!(
        a.envelope().as_ptr(),
        b.envelope().as_ptr(),
        "one buffer of a message's frames (pushbus's own) serves every subscription"
    );
    let elsewhere = next(&mut other).await.unwrap();
    assert_eq!(envelope(&elsewhere)["topic"], "chat.other");
    assert!(a.sse().starts_with(b"id: "), "the SSE view is whole");
    assert!(a.ndjson().ends_with(b"}\n"), "the NDJSON view is one line");
}

#[tokio::test]
async fn a_burst_larger_than_many_drains_arrives_whole_and_in_order() {
    let fixture = Fixture::new(64 << 20);
    let mut reader = fixture
        .hub
        .subscribe("chat.burst", Start::Now, None)
        .unwrap();
    let publisher = {
        let bus = fixture.bus.clone();
        tokio::task::spawn_blocking(move || {
            for seq in 0..5000 {
                let payload = format!("{seq}");
                bus.publish("chat.burst", None, Payload::json(payload.as_bytes()))
                    .unwrap();
            }
        })
    };
    for expected in 0..5000u64 {
        let frame = next(&mut reader).await.expect("the queue stays open");
        assert_eq!(envelope(&frame)["data"], expected);
    }
    publisher.await.unwrap();
}

#[tokio::test]
async fn dropping_a_subscription_closes_it_and_releases_presence_at_once() {
    let fixture = Fixture::new(1 << 20);
    let mut watcher = fixture
        .hub
        .subscribe("chat.room", Start::Now, None)
        .unwrap();
    let stream = fixture
        .hub
        .subscribe("chat.room", Start::Now, Some("ann"))
        .unwrap();
    let present: Vec<String> = fixture
        .bus
        .presence("chat.room")
        .unwrap()
        .into_iter()
        .map(|entry| entry.client)
        .collect();
    assert_eq!(present, ["ann"]);
    assert_eq!(fixture.hub.poller().len(), 2);

    drop(stream);
    assert!(fixture.bus.presence("chat.room").unwrap().is_empty());
    assert_eq!(fixture.hub.poller().len(), 1);
    let join = next(&mut watcher).await.unwrap();
    let leave = next(&mut watcher).await.unwrap();
    assert_eq!(envelope(&join)["event"], "join");
    assert_eq!(envelope(&leave)["event"], "leave");
    assert_eq!(envelope(&leave)["data"]["client"], "ann");
}

#[tokio::test]
async fn a_reader_that_falls_behind_is_closed_and_keeps_only_what_it_was_handed() {
    // Room for a few frames: the fourth overflows.
    let fixture = Fixture::new(600);
    let mut slow = fixture
        .hub
        .subscribe("chat.flood", Start::Now, Some("slow"))
        .unwrap();
    let mut fast = fixture
        .hub
        .subscribe("chat.flood", Start::Now, None)
        .unwrap();
    let mut handed = 0;
    for index in 0..20 {
        fixture.publish("chat.flood", &format!("{index:0>100}"));
        // The fast reader keeps up; the slow one never reads.
        loop {
            let frame = next(&mut fast).await.unwrap();
            if envelope(&frame)["event"] == "message" {
                break;
            }
        }
    }
    eventually("the slow reader is closed", || {
        fixture.hub.slow_closes() == 1
    })
    .await;
    while let Some(frame) = next(&mut slow).await {
        handed += 1;
        assert!(frame.size() < 600);
    }
    assert!((1..20).contains(&handed), "{handed} frames held for it");
    assert!(
        fixture.bus.presence("chat.flood").unwrap().is_empty(),
        "its presence went with it"
    );
    assert_eq!(
        fixture.hub.poller().len(),
        1,
        "only the fast reader is left"
    );
}

#[tokio::test]
async fn shutdown_ends_every_queue_and_refuses_new_subscriptions() {
    let fixture = Fixture::new(1 << 20);
    let mut open = fixture
        .hub
        .subscribe("chat.end", Start::Now, Some("ann"))
        .unwrap();
    fixture.hub.shutdown();
    assert!(fixture.hub.is_shut_down());
    assert_eq!(next(&mut open).await, None);
    assert!(fixture.bus.presence("chat.end").unwrap().is_empty());
    assert!(matches!(
        fixture.hub.subscribe("chat.end", Start::Now, None),
        Err(SubscribeError::ShuttingDown)
    ));
}

#[tokio::test]
async fn a_refused_presence_opens_nothing() {
    let fixture = Fixture::new(1 << 20);
    let refused = fixture
        .hub
        .subscribe("chat.room", Start::Now, Some("bad\nname"));
    assert!(matches!(
        refused,
        Err(SubscribeError::Bus(pushbus::Error::InvalidPresence(_)))
    ));
    assert!(fixture.hub.poller().is_empty());
}
