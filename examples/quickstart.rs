//! A tour of pushbus in one process: fan-out to subscriptions on a poller,
//! resuming from a version key, a gap when history is gone, and presence.
//!
//! Run with `make demo` (or `cargo run --release --example quickstart`).

use std::time::Duration;

use pushbus::{Batch, Bus, Config, Event, Payload, Poller, Start, Token};

fn print_drained(label: &str, poller: &Poller) {
    let mut batch = Batch::new();
    while poller.wait(Some(Duration::ZERO)) && poller.drain(&mut batch, 256) > 0 {
        for event in batch.iter() {
            match event {
                Event::Message(d) => println!(
                    "  [{label}] sub {} got {} key={} event={} data={}",
                    d.subscription,
                    d.topic(),
                    d.key(),
                    d.message().event().unwrap_or("-"),
                    String::from_utf8_lossy(d.message().data())
                ),
                Event::Gap {
                    subscription,
                    topic,
                    gap,
                } => println!(
                    "  [{label}] sub {subscription} GAP on {topic}: from {} to {}, lost {}",
                    gap.from,
                    gap.to,
                    gap.lost.map_or("unknown".to_owned(), |n| n.to_string())
                ),
                Event::Closed {
                    subscription,
                    reason,
                    ..
                } => {
                    println!("  [{label}] sub {subscription} closed: {reason:?}")
                }
            }
        }
    }
}

fn main() -> Result<(), pushbus::Error> {
    let mut config = Config::default();
    config.ring_max_messages = 4;
    let bus = Bus::new(config)?;

    println!("1. Two subscriptions on one poller, one publish each reaches both:");
    let poller = bus.poller();
    let ann = poller.subscribe(&["chat.lobby"], Start::Now)?;
    poller.subscribe(&["chat.*"], Start::Now)?;
    poller.join(ann, "chat.lobby", "ann", r#"{"user":"ann"}"#)?;
    let key = bus.publish(
        "chat.lobby",
        Some("message"),
        Payload::json(br#"{"text":"hello"}"#),
    )?;
    print_drained("live", &poller);

    println!("2. A client that saw {key} reconnects and gets exactly what followed:");
    bus.publish(
        "chat.lobby",
        Some("message"),
        Payload::text("while you were away"),
    )?;
    let resumed = bus.poller();
    resumed.subscribe(&["chat.lobby"], Start::After(Token::Key(key)))?;
    print_drained("resume", &resumed);

    println!("3. History holds 4 messages; a key older than that gets a gap first:");
    for n in 0..6 {
        bus.publish("chat.lobby", None, Payload::text(&format!("burst {n}")))?;
    }
    let late = bus.poller();
    late.subscribe(&["chat.lobby"], Start::After(Token::Key(key)))?;
    print_drained("late", &late);

    println!("4. Presence: {:?}", bus.presence("chat.lobby")?);
    drop(poller);
    println!(
        "   after ann's poller closed: {:?}",
        bus.presence("chat.lobby")?
    );
    println!("5. Stats: {:?}", bus.stats());
    println!("The chat demo with every browser transport arrives with the example servers.");
    Ok(())
}
