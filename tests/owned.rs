//! Integration tests of what async servers keep beyond a drain: owned
//! frames ([`MessageFrames`], [`FrameBytes`]), the poller's fd as an owner
//! ([`PollerFd`]), and [`Bus::oldest`].

mod common;
use common::{bus, bus_with_ring, config, eventually, readable};

use std::io::{ErrorKind, Read};
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use pushbus::frames::{FrameBytes, MessageFrames, OwnedFrames};
use pushbus::{Batch, Bus, Error, Event, FdMode, Payload, PollerFd, Position, Start, Token};

/// Drains `poller` once (it must have something) and returns the owned
/// frames of every delivery.
fn drain_frames(poller: &pushbus::Poller, batch: &mut Batch) -> Vec<MessageFrames> {
    assert!(poller.wait(Some(Duration::from_secs(5))));
    poller.drain(batch, 64);
    batch
        .iter()
        .map(|event| match event {
            Event::Message(delivery) => delivery.shared_frames(),
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

/// What zero-copy buffer types (`bytes::Bytes::from_owner`) ask of an owner.
fn assert_owner<T: AsRef<[u8]> + Send + Sync + Clone + 'static>() {}

#[test]
fn owned_frames_are_send_static_byte_owners() {
    assert_owner::<MessageFrames>();
    assert_owner::<FrameBytes>();
    assert_owner::<OwnedFrames>();
    fn assert_fd_owner<T: AsFd + AsRawFd + Send + Sync + Clone + 'static>() {}
    assert_fd_owner::<PollerFd>();
}

#[test]
fn frames_outlive_the_batch_the_ring_the_poller_and_the_bus() {
    let bus = bus_with_ring(1);
    let poller = bus.poller();
    poller.subscribe(&["chat.x"], Start::Now).unwrap();
    let key = bus
        .publish("chat.x", Some("join"), Payload::text("a\nb"))
        .unwrap();
    let mut batch = Batch::new();
    let kept = drain_frames(&poller, &mut batch).pop().unwrap();
    let (sse_ptr, envelope_ptr) = match batch.get(0) {
        Some(Event::Message(delivery)) => (
            delivery.frames().sse().as_ptr(),
            delivery.frames().envelope().as_ptr(),
        ),
        other => panic!("unexpected {other:?}"),
    };
    let (sse, ndjson, envelope) = (kept.sse(), kept.ndjson(), kept.envelope());

    // Evict it from the ring, then drop everything else that held it.
    for _ in 0..3 {
        bus.publish("chat.x", None, Payload::text("later")).unwrap();
    }
    assert!(
        bus.poll("chat.x", &Start::Oldest, 10)
            .unwrap()
            .messages
            .len()
            == 1
    );
    batch.clear();
    drop(batch);
    drop(poller);
    drop(bus);
    drop(kept);

    let expected_envelope = format!(
        r#"{{"id":"{key}","topic":"chat.x","seq":1,"event":"join","time":{},"data":"a\nb"}}"#,
        sse.frames().message().time_ms()
    );
    assert_eq!(
        std::str::from_utf8(envelope.as_ref()).unwrap(),
        expected_envelope
    );
    assert_eq!(ndjson.as_ref(), format!("{expected_envelope}\n").as_bytes());
    assert_eq!(
        sse.as_ref(),
        format!("id: {key}\nevent: join\ndata: {expected_envelope}\n\n").as_bytes()
    );
    // The very bytes the batch lent: never copied.
    assert_eq!(sse.as_ref().as_ptr(), sse_ptr);
    assert_eq!(envelope.as_ref().as_ptr(), envelope_ptr);
    assert_eq!(ndjson.as_ref().as_ptr(), envelope_ptr);
    assert_eq!(sse.frames().message().data(), b"a\nb");
    assert_eq!(sse.frames().as_ref(), sse.as_ref());
}

#[test]
fn every_subscriber_and_poll_shares_one_encoding() {
    let bus = bus();
    let (one, two) = (bus.poller(), bus.poller());
    one.subscribe(&["chat.x"], Start::Now).unwrap();
    two.subscribe(&["chat.>"], Start::Now).unwrap();
    bus.publish("chat.x", None, Payload::json(br#"{"n":1}"#))
        .unwrap();
    let (mut a, mut b) = (Batch::new(), Batch::new());
    let from_one = drain_frames(&one, &mut a).pop().unwrap();
    let from_two = drain_frames(&two, &mut b).pop().unwrap();
    let poll = bus.poll("chat.x", &Start::Oldest, 10).unwrap();
    let from_poll = poll.shared_frames(&poll.messages[0]);
    assert_eq!(from_one.as_ref().as_ptr(), from_two.as_ref().as_ptr());
    assert_eq!(from_one.as_ref().as_ptr(), from_poll.as_ref().as_ptr());
    assert_eq!(
        from_poll.envelope().as_ref(),
        poll.frames(&poll.messages[0]).envelope()
    );
}

#[test]
fn ranges_name_each_transports_place_in_the_sse_event() {
    let bus = bus();
    let poller = bus.poller();
    poller.subscribe(&["chat.x"], Start::Now).unwrap();
    bus.publish("chat.x", Some("e"), Payload::binary(&[0, 1, 2]))
        .unwrap();
    let mut batch = Batch::new();
    let kept = drain_frames(&poller, &mut batch).pop().unwrap();
    let gap = pushbus::frames::gap("chat.x", "not a key", Position { epoch: 1, seq: 2 });
    for (whole, frames) in [(kept.as_ref(), kept.frames()), (gap.as_ref(), gap.frames())] {
        assert_eq!(whole, frames.sse());
        assert_eq!(&whole[frames.envelope_range()], frames.envelope());
        assert_eq!(&whole[frames.ndjson_range()], frames.ndjson());
        let envelope: serde_json::Value = serde_json::from_slice(frames.envelope()).unwrap();
        assert!(envelope.is_object());
        assert!(frames.ndjson().ends_with(b"}\n"));
        assert!(!frames.envelope().contains(&b'\n'));
    }
    assert_eq!(&kept.envelope().as_ref()[..1], b"{");
}

#[test]
fn the_fd_handle_is_the_pollers_fd_in_both_modes() {
    for (mode, other) in [
        (FdMode::EventFd, FdMode::Pipe),
        (FdMode::Pipe, FdMode::EventFd),
    ] {
        let bus = bus();
        let poller = bus.poller();
        let handle = poller.fd_handle(mode).unwrap();
        assert_eq!(handle.mode(), mode);
        assert_eq!(handle.as_raw_fd(), poller.fd(mode).unwrap());
        assert_eq!(handle.as_fd().as_raw_fd(), handle.as_raw_fd());
        assert_eq!(handle.clone().as_raw_fd(), handle.as_raw_fd());
        assert!(matches!(
            poller.fd_handle(other),
            Err(Error::InvalidConfig(_))
        ));
        poller.subscribe(&["chat.x"], Start::Now).unwrap();
        assert!(!readable(handle.as_raw_fd()), "{mode:?}");
        bus.publish("chat.x", None, Payload::text("hi")).unwrap();
        assert!(readable(handle.as_raw_fd()), "{mode:?}");
        poller.drain(&mut Batch::new(), 64);
        assert!(!readable(handle.as_raw_fd()), "{mode:?}");
    }
}

#[test]
fn the_fd_handle_keeps_the_fd_open_until_the_last_clone_goes() {
    let bus = bus();
    let poller = bus.poller();
    let handle = poller.fd_handle(FdMode::Pipe).unwrap();
    let clone = handle.clone();
    // Our own duplicate of the read end: once the pipe's write end (owned
    // with the read end by the poller's fd) is closed, it reads end of file
    // instead of "would block".
    let mut watcher = std::fs::File::from(handle.as_fd().try_clone_to_owned().unwrap());
    let would_block = |watcher: &mut std::fs::File| matches!(watcher.read(&mut [0u8; 1]), Err(e) if e.kind() == ErrorKind::WouldBlock);
    assert!(would_block(&mut watcher));
    drop(poller);
    drop(bus);
    assert!(would_block(&mut watcher), "the handle keeps the fd open");
    assert!(!readable(handle.as_raw_fd()), "and never readable again");
    drop(handle);
    assert!(would_block(&mut watcher), "so does any clone");
    assert!(!readable(clone.as_raw_fd()));
    drop(clone);
    assert_eq!(
        watcher.read(&mut [0u8; 1]).unwrap(),
        0,
        "closed with the last one"
    );
}

#[test]
fn oldest_is_the_key_before_the_oldest_held_message() {
    let bus = bus_with_ring(2);
    // Unknown: created (like head), nothing held, so it is the head.
    assert_eq!(bus.stats().topics, 0);
    let empty = bus.oldest("chat.x").unwrap();
    assert_eq!(bus.stats().topics, 1);
    assert_eq!(empty.seq, 0);
    assert_eq!(empty, bus.head("chat.x").unwrap());
    assert_eq!(
        bus.oldest("chat.x").unwrap(),
        empty,
        "same topic, same epoch"
    );
    // Some evicted: just before the oldest held.
    for n in 1..=5 {
        bus.publish("chat.x", None, Payload::text(&n.to_string()))
            .unwrap();
    }
    let oldest = bus.oldest("chat.x").unwrap();
    assert_eq!(
        oldest,
        Position {
            epoch: empty.epoch,
            seq: 3
        }
    );
    assert_eq!(
        oldest,
        bus.poll("chat.x", &Start::Oldest, 0).unwrap().position
    );
    let replay = bus
        .poll("chat.x", &Start::After(Token::Key(oldest)), 10)
        .unwrap();
    assert_eq!(replay.gap, None);
    let texts: Vec<&[u8]> = replay.messages.iter().map(|m| m.data()).collect();
    assert_eq!(texts, [&b"4"[..], b"5"]);
    // Refused like head.
    assert!(matches!(
        bus.oldest("chat.*"),
        Err(Error::PatternNotAllowed(_)) | Err(Error::InvalidTopic(_))
    ));
    assert!(matches!(bus.oldest(""), Err(Error::InvalidTopic(_))));
}

#[test]
fn oldest_is_the_head_when_every_message_aged_out() {
    let mut config = config();
    config.ring_max_age = Some(Duration::from_millis(1));
    let bus = Bus::new(config).unwrap();
    bus.publish("chat.x", None, Payload::text("one")).unwrap();
    bus.publish("chat.x", None, Payload::text("two")).unwrap();
    eventually("both 1 ms old messages are evicted", || {
        bus.sweep();
        bus.poll("chat.x", &Start::Oldest, 10)
            .unwrap()
            .messages
            .is_empty()
    });
    let oldest = bus.oldest("chat.x").unwrap();
    assert_eq!(oldest.seq, 2);
    assert_eq!(oldest, bus.head("chat.x").unwrap());
    let after = bus
        .poll("chat.x", &Start::After(Token::Key(oldest)), 10)
        .unwrap();
    assert_eq!((after.gap, after.messages.len()), (None, 0));
}
