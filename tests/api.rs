//! Integration tests of the public Rust API: every behaviour of the bus,
//! and every error.

mod common;
use common::{bus, bus_with_ring, config, eventually, readable};

use std::time::Duration;

use pushbus::{
    Batch, Bus, CloseReason, Config, Error, Event, FdMode, Gap, LagPolicy, Payload, Poller,
    Position, Start, SubscribeOptions, SubscriptionId, Token,
};

/// What a drain handed over, in a form tests can compare.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Message {
        sub: SubscriptionId,
        topic: String,
        key: Position,
        event: Option<String>,
        data: Vec<u8>,
    },
    Gap {
        sub: SubscriptionId,
        topic: String,
        gap: Gap,
    },
    Closed {
        sub: SubscriptionId,
        reason: CloseReason,
    },
}

fn drain_all(poller: &Poller) -> Vec<Seen> {
    let mut batch = Batch::new();
    let mut seen = Vec::new();
    while poller.drain(&mut batch, 7) > 0 {
        seen.extend(batch.iter().map(|event| match event {
            Event::Message(d) => Seen::Message {
                sub: d.subscription,
                topic: d.topic().to_owned(),
                key: d.key(),
                event: d.message().event().map(str::to_owned),
                data: d.message().data().to_vec(),
            },
            Event::Gap {
                subscription,
                topic,
                gap,
            } => Seen::Gap {
                sub: subscription,
                topic: topic.to_owned(),
                gap: *gap,
            },
            Event::Closed {
                subscription,
                reason,
                ..
            } => Seen::Closed {
                sub: subscription,
                reason,
            },
        }));
    }
    seen
}

fn datas(seen: &[Seen]) -> Vec<Vec<u8>> {
    seen.iter()
        .filter_map(|s| match s {
            Seen::Message { data, .. } => Some(data.clone()),
            _ => None,
        })
        .collect()
}

fn text(bus: &Bus, topic: &str, body: &str) -> Position {
    bus.publish(topic, None, Payload::text(body)).unwrap()
}

#[test]
fn publish_returns_consecutive_keys_that_deliveries_repeat() {
    let bus = bus();
    let poller = bus.poller();
    let sub = poller.subscribe(&["t"], Start::Now).unwrap();
    let k1 = bus
        .publish("t", Some("message"), Payload::json(b"{\"a\":1}"))
        .unwrap();
    let k2 = text(&bus, "t", "two");
    assert_eq!((k1.epoch, k1.seq, k2.seq), (k2.epoch, 1, 2));
    let seen = drain_all(&poller);
    assert_eq!(
        seen,
        vec![
            Seen::Message {
                sub,
                topic: "t".into(),
                key: k1,
                event: Some("message".into()),
                data: b"{\"a\":1}".to_vec()
            },
            Seen::Message {
                sub,
                topic: "t".into(),
                key: k2,
                event: None,
                data: b"two".to_vec()
            },
        ]
    );
    assert_eq!(poller.position(sub).unwrap(), Token::Key(k2));
    assert_eq!(bus.head("t").unwrap(), k2);
}

#[test]
fn refused_publishes_change_nothing() {
    let mut config = config();
    config.max_message_bytes = 8;
    config.ring_max_bytes = 64;
    let bus = Bus::new(config).unwrap();
    let head = text(&bus, "t", "ok");
    /// A refused publish and the check its error must pass.
    type Case = (Result<Position, Error>, fn(&Error) -> bool);
    let cases: Vec<Case> = vec![
        (bus.publish("", None, Payload::text("x")), |e| {
            matches!(e, Error::InvalidTopic(_))
        }),
        (bus.publish("a b", None, Payload::text("x")), |e| {
            matches!(e, Error::InvalidTopic(_))
        }),
        (bus.publish("t.*", None, Payload::text("x")), |e| {
            matches!(e, Error::PatternNotAllowed(_))
        }),
        (bus.publish("t.>", None, Payload::text("x")), |e| {
            matches!(e, Error::PatternNotAllowed(_))
        }),
        (
            bus.publish("t", Some("a\nevent: x"), Payload::text("x")),
            |e| matches!(e, Error::InvalidEvent(_)),
        ),
        (bus.publish("t", Some(""), Payload::text("x")), |e| {
            matches!(e, Error::InvalidEvent(_))
        }),
        (bus.publish("t", None, Payload::binary(&[0; 9])), |e| {
            *e == Error::MessageTooLarge { size: 9, limit: 8 }
        }),
        (
            bus.publish(
                "t",
                None,
                Payload {
                    kind: pushbus::PayloadKind::Text,
                    bytes: b"\xff",
                },
            ),
            |e| *e == Error::InvalidUtf8,
        ),
        (bus.publish("t", None, Payload::json(b"{\"a\":")), |e| {
            matches!(e, Error::InvalidJson(_))
        }),
        (bus.publish("t", None, Payload::json(b"1},{")), |e| {
            matches!(e, Error::InvalidJson(_))
        }),
    ];
    for (result, is_expected) in cases {
        let error = result.unwrap_err();
        assert!(is_expected(&error), "{error:?}");
        assert!(!error.to_string().is_empty());
    }
    assert_eq!(bus.head("t").unwrap(), head);
    assert_eq!(bus.stats().published, 1);
    assert_eq!(bus.stats().topics, 1, "refused publishes create no topic");
}

#[test]
fn starts_now_oldest_last_n() {
    let bus = bus();
    for i in 1..=5 {
        text(&bus, "t", &i.to_string());
    }
    let poller = bus.poller();
    let now = poller.subscribe(&["t"], Start::Now).unwrap();
    let oldest = poller.subscribe(&["t"], Start::Oldest).unwrap();
    let last2 = poller.subscribe(&["t"], Start::Last(2)).unwrap();
    text(&bus, "t", "6");
    let seen = drain_all(&poller);
    let of = |sub| {
        datas(
            &seen
                .iter()
                .filter(|s| matches!(s, Seen::Message { sub: x, .. } if *x == sub))
                .cloned()
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(of(now), vec![b"6".to_vec()]);
    assert_eq!(
        of(oldest),
        (1..=6)
            .map(|i| i.to_string().into_bytes())
            .collect::<Vec<_>>()
    );
    assert_eq!(of(last2), vec![b"4".to_vec(), b"5".to_vec(), b"6".to_vec()]);
}

#[test]
fn resume_from_a_token_delivers_exactly_what_follows() {
    let bus = bus();
    let keys: Vec<Position> = (1..=10).map(|i| text(&bus, "t", &i.to_string())).collect();
    for (index, key) in keys.iter().enumerate() {
        let poller = bus.poller();
        poller
            .subscribe(&["t"], Start::After(Token::Key(*key)))
            .unwrap();
        let expected: Vec<Vec<u8>> = (index + 2..=10)
            .map(|i| i.to_string().into_bytes())
            .collect();
        assert_eq!(datas(&drain_all(&poller)), expected);
    }
}

#[test]
fn tokens_no_longer_held_give_a_gap_then_the_oldest() {
    let bus = bus_with_ring(3);
    let keys: Vec<Position> = (1..=6).map(|i| text(&bus, "t", &i.to_string())).collect();
    let epoch = keys[0].epoch;

    let poller = bus.poller();
    let sub = poller
        .subscribe(&["t"], Start::After(Token::Key(keys[0])))
        .unwrap();
    let seen = drain_all(&poller);
    let to = Position { epoch, seq: 3 };
    assert_eq!(
        seen[0],
        Seen::Gap {
            sub,
            topic: "t".into(),
            gap: Gap {
                from: keys[0],
                to,
                lost: Some(2)
            }
        }
    );
    assert_eq!(
        datas(&seen),
        vec![b"4".to_vec(), b"5".to_vec(), b"6".to_vec()]
    );

    let foreign = Position {
        epoch: epoch ^ 1,
        seq: 5,
    };
    let sub = poller
        .subscribe(&["t"], Start::After(Token::Key(foreign)))
        .unwrap();
    let seen = drain_all(&poller);
    assert_eq!(
        seen[0],
        Seen::Gap {
            sub,
            topic: "t".into(),
            gap: Gap {
                from: foreign,
                to,
                lost: None
            }
        }
    );
    assert_eq!(datas(&seen).len(), 3);
    assert_eq!(bus.stats().gaps, 2);
}

#[test]
fn a_lagging_subscriber_gets_a_gap_never_a_silent_loss() {
    let bus = bus_with_ring(4);
    let poller = bus.poller();
    let sub = poller.subscribe(&["t"], Start::Now).unwrap();
    let keys: Vec<Position> = (1..=10).map(|i| text(&bus, "t", &i.to_string())).collect();
    let seen = drain_all(&poller);
    assert_eq!(
        seen[0],
        Seen::Gap {
            sub,
            topic: "t".into(),
            gap: Gap {
                from: Position { seq: 0, ..keys[0] },
                to: keys[5],
                lost: Some(6)
            }
        }
    );
    assert_eq!(
        datas(&seen),
        (7..=10)
            .map(|i| i.to_string().into_bytes())
            .collect::<Vec<_>>()
    );
}

fn subscribe_with_lag_policy(poller: &Poller, topic: &str, policy: LagPolicy) -> SubscriptionId {
    let options = SubscribeOptions {
        lag_policy: Some(policy),
    };
    poller
        .subscribe_with(&[topic], Start::Now, options)
        .unwrap()
}

/// Publishes five messages to `topic`, whose ring holds two, and drains:
/// `closing` must have been closed for the three it lost.
fn lag_behind_two_messages(
    bus: &Bus,
    poller: &Poller,
    topic: &str,
    closing: SubscriptionId,
) -> Vec<Seen> {
    for i in 1..=5 {
        text(bus, topic, &i.to_string());
    }
    let seen = drain_all(poller);
    assert!(seen.contains(&Seen::Closed {
        sub: closing,
        reason: CloseReason::Lagged { lost: 3 }
    }));
    seen
}

#[test]
fn lag_policy_close_ends_the_subscription_with_a_reason() {
    let mut config = config();
    config.ring_max_messages = 2;
    config.lag_policy = LagPolicy::Close;
    let bus = Bus::new(config).unwrap();
    let poller = bus.poller();
    let closing = poller.subscribe(&["t"], Start::Now).unwrap();
    let gapping = subscribe_with_lag_policy(&poller, "t", LagPolicy::GapAndContinue);
    let seen = lag_behind_two_messages(&bus, &poller, "t", closing);
    assert!(!seen
        .iter()
        .any(|s| matches!(s, Seen::Message { sub, .. } if *sub == closing)));
    assert_eq!(
        seen.iter()
            .filter(|s| matches!(s, Seen::Message { sub, .. } if *sub == gapping))
            .count(),
        2
    );
    assert_eq!(
        poller.unsubscribe(closing),
        Err(Error::UnknownSubscription(closing.0))
    );
    assert_eq!(bus.stats().subscriptions, 1);
    assert_eq!(bus.stats().lag_closes, 1);
}

/// A pattern's lag policy reaches the cursors of topics created after it,
/// whichever policy the bus defaults to.
#[test]
fn a_patterns_lag_policy_holds_for_topics_created_later() {
    let bus = bus_with_ring(2);
    let poller = bus.poller();
    let closing = subscribe_with_lag_policy(&poller, "late.*", LagPolicy::Close);
    let gapping = poller.subscribe(&["late.*"], Start::Now).unwrap();
    let seen = lag_behind_two_messages(&bus, &poller, "late.t", closing);
    assert!(seen
        .iter()
        .any(|s| matches!(s, Seen::Gap { sub, .. } if *sub == gapping)));
}

/// Holding presence does not change what a one-topic subscription's
/// position is: a key, not a composite token.
#[test]
fn presence_keeps_a_one_topic_position_a_key() {
    let bus = bus();
    let poller = bus.poller();
    let sub = poller.subscribe(&["room"], Start::Now).unwrap();
    poller.join(sub, "room", "ann", "{}").unwrap();
    let key = text(&bus, "room", "hi");
    drain_all(&poller);
    assert_eq!(poller.position(sub).unwrap(), Token::Key(key));
    let both = poller.subscribe(&["room", "other"], Start::Now).unwrap();
    assert!(matches!(
        poller.position(both).unwrap(),
        Token::Composite(_)
    ));
}

#[test]
fn patterns_match_existing_and_later_topics() {
    let bus = bus();
    text(&bus, "chat.a", "old-a");
    text(&bus, "news.a", "no");
    let poller = bus.poller();
    let star = poller.subscribe(&["chat.*"], Start::Oldest).unwrap();
    let rest = poller.subscribe(&["chat.>"], Start::Now).unwrap();
    text(&bus, "chat.b", "new-b");
    text(&bus, "chat.b.c", "deep");
    text(&bus, "chat", "bare");
    let seen = drain_all(&poller);
    let of = |sub| {
        let mut got: Vec<Vec<u8>> = datas(
            &seen
                .iter()
                .filter(|s| matches!(s, Seen::Message { sub: x, .. } if *x == sub))
                .cloned()
                .collect::<Vec<_>>(),
        );
        got.sort();
        got
    };
    assert_eq!(of(star), vec![b"new-b".to_vec(), b"old-a".to_vec()]);
    assert_eq!(of(rest), vec![b"deep".to_vec(), b"new-b".to_vec()]);
    poller.unsubscribe(star).unwrap();
    text(&bus, "chat.d", "after");
    let seen = drain_all(&poller);
    assert_eq!(datas(&seen), vec![b"after".to_vec()]);
    assert!(seen
        .iter()
        .all(|s| matches!(s, Seen::Message { sub, .. } if *sub == rest)));
}

#[test]
fn multi_topic_subscriptions_resume_from_a_composite_token() {
    let bus = bus();
    let poller = bus.poller();
    let sub = poller.subscribe(&["a", "b"], Start::Now).unwrap();
    text(&bus, "a", "a1");
    text(&bus, "b", "b1");
    assert_eq!(datas(&drain_all(&poller)).len(), 2);
    let token = poller.position(sub).unwrap();
    assert!(matches!(&token, Token::Composite(entries) if entries.len() == 2));
    let reparsed = Token::parse(&token.to_string(), 128).unwrap();
    assert_eq!(reparsed, token);
    poller.unsubscribe(sub).unwrap();
    text(&bus, "a", "a2");
    text(&bus, "b", "b2");
    let resumed = bus.poller();
    resumed
        .subscribe(&["a", "b"], Start::After(reparsed))
        .unwrap();
    let mut got = datas(&drain_all(&resumed));
    got.sort();
    assert_eq!(got, vec![b"a2".to_vec(), b"b2".to_vec()]);
}

/// Closing a subscription moves another one's member into its place in
/// each group; the moved subscription must keep reading every topic it
/// reads, whichever of its cursors moved.
#[test]
fn closing_subscriptions_keeps_the_others_reading_every_topic() {
    let bus = bus();
    let poller = bus.poller();
    let sets: [&[&str]; 6] = [
        &["a", "b", "c"],
        &["c", "b"],
        &["b"],
        &["c", "a", "b"],
        &["a"],
        &["b", "c", "a"],
    ];
    let subs: Vec<SubscriptionId> = sets
        .iter()
        .map(|topics| poller.subscribe(topics, Start::Now).unwrap())
        .collect();
    for closed in [0, 2, 4] {
        poller.unsubscribe(subs[closed]).unwrap();
    }
    let keys: Vec<(String, Position)> = ["a", "b", "c"]
        .iter()
        .map(|topic| (topic.to_string(), text(&bus, topic, topic)))
        .collect();
    let seen = drain_all(&poller);
    for (index, topics) in sets.iter().enumerate() {
        let mut got: Vec<String> = seen
            .iter()
            .filter_map(|s| match s {
                Seen::Message { sub, topic, .. } if *sub == subs[index] => Some(topic.clone()),
                _ => None,
            })
            .collect();
        got.sort();
        let mut want: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
        want.sort();
        if index % 2 == 0 {
            assert!(got.is_empty(), "closed subscription {index} got {got:?}");
            continue;
        }
        assert_eq!(got, want, "subscription {index}");
        let Token::Composite(entries) = poller.position(subs[index]).unwrap() else {
            panic!("a multi-topic subscription has a composite token");
        };
        let mut entries = entries;
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut expected: Vec<(String, Position)> = keys
            .iter()
            .filter(|(topic, _)| topics.contains(&topic.as_str()))
            .cloned()
            .collect();
        expected.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(entries, expected, "position of subscription {index}");
    }
}

#[test]
fn subscribe_refuses_bad_input() {
    let bus = bus();
    let poller = bus.poller();
    assert_eq!(poller.subscribe(&[], Start::Now), Err(Error::NoTopics));
    assert!(matches!(
        poller.subscribe(&["a..b"], Start::Now),
        Err(Error::InvalidTopic(_))
    ));
    assert!(matches!(
        poller.subscribe(&["a.>.b"], Start::Now),
        Err(Error::InvalidPattern(_))
    ));
    let key = Token::Key(Position { epoch: 1, seq: 1 });
    assert!(matches!(
        poller.subscribe(&["a", "b"], Start::After(key.clone())),
        Err(Error::BadToken(_))
    ));
    assert!(matches!(
        poller.subscribe(&["a.*"], Start::After(key)),
        Err(Error::BadToken(_))
    ));
    assert!(poller.is_empty());
    assert_eq!(bus.stats().subscriptions, 0);
}

#[test]
fn closing_twice_and_unknown_ids_are_errors_not_ub() {
    let bus = bus();
    let poller = bus.poller();
    let sub = poller.subscribe(&["t"], Start::Now).unwrap();
    assert_eq!(poller.unsubscribe(sub), Ok(()));
    assert_eq!(
        poller.unsubscribe(sub),
        Err(Error::UnknownSubscription(sub.0))
    );
    assert_eq!(poller.position(sub), Err(Error::UnknownSubscription(sub.0)));
    assert_eq!(
        poller.join(sub, "t", "ann", "{}"),
        Err(Error::UnknownSubscription(sub.0))
    );
    let other = bus.poller();
    let theirs = other.subscribe(&["t"], Start::Now).unwrap();
    assert_eq!(
        poller.unsubscribe(theirs),
        Err(Error::UnknownSubscription(theirs.0))
    );
    assert_eq!(other.len(), 1);
}

#[test]
fn batches_respect_max_and_resume_where_they_stopped() {
    let bus = bus();
    let poller = bus.poller();
    let subs: Vec<_> = (0..10)
        .map(|_| poller.subscribe(&["t"], Start::Now).unwrap())
        .collect();
    for i in 0..5 {
        text(&bus, "t", &i.to_string());
    }
    let mut batch = Batch::new();
    let mut per_sub = std::collections::HashMap::<SubscriptionId, Vec<u64>>::new();
    let mut drains = 0;
    while poller.drain(&mut batch, 3) > 0 {
        assert!(batch.len() <= 3);
        drains += 1;
        for event in batch.iter() {
            let Event::Message(d) = event else {
                panic!("{event:?}")
            };
            per_sub
                .entry(d.subscription)
                .or_default()
                .push(d.message().seq());
        }
    }
    assert_eq!(drains, 17);
    for sub in subs {
        assert_eq!(per_sub[&sub], vec![1, 2, 3, 4, 5]);
    }
    assert_eq!(bus.stats().delivered, 50);
}

#[test]
fn shared_messages_outlive_their_batch() {
    let bus = bus();
    let poller = bus.poller();
    poller.subscribe(&["t"], Start::Now).unwrap();
    text(&bus, "t", "keep me");
    let mut batch = Batch::new();
    poller.drain(&mut batch, 10);
    let Some(Event::Message(d)) = batch.get(0) else {
        panic!()
    };
    let kept = d.shared();
    batch.clear();
    assert_eq!(kept.data(), b"keep me");
}

#[test]
fn the_fd_is_readable_exactly_while_something_is_ready_in_both_modes() {
    for mode in [FdMode::EventFd, FdMode::Pipe] {
        let bus = bus();
        let poller = bus.poller();
        text(&bus, "t", "before");
        poller.subscribe(&["t"], Start::Oldest).unwrap();
        let fd = poller.fd(mode).unwrap();
        assert_eq!(poller.fd(mode).unwrap(), fd, "the same fd every time");
        let other = if mode == FdMode::Pipe {
            FdMode::EventFd
        } else {
            FdMode::Pipe
        };
        assert!(matches!(poller.fd(other), Err(Error::InvalidConfig(_))));
        assert!(readable(fd), "{mode:?}: backlog at creation");
        assert_eq!(drain_all(&poller).len(), 1);
        assert!(!readable(fd), "{mode:?}: drained");
        text(&bus, "t", "1");
        text(&bus, "t", "2");
        assert!(readable(fd), "{mode:?}: published");
        let mut batch = Batch::new();
        assert_eq!(poller.drain(&mut batch, 1), 1);
        assert!(readable(fd), "{mode:?}: a partial drain leaves it readable");
        assert_eq!(poller.drain(&mut batch, 10), 1);
        assert!(!readable(fd), "{mode:?}");
    }
}

#[test]
fn wait_times_out_and_wakes_on_publish() {
    let bus = bus();
    let poller = bus.poller();
    poller.subscribe(&["t"], Start::Now).unwrap();
    assert!(!poller.wait(Some(Duration::from_millis(20))));
    let publisher = {
        let bus = bus.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            text(&bus, "t", "wake");
        })
    };
    assert!(poller.wait(Some(Duration::from_secs(10))));
    publisher.join().unwrap();
    assert_eq!(datas(&drain_all(&poller)), vec![b"wake".to_vec()]);
}

#[test]
fn short_poll_reads_without_waiting() {
    let bus = bus_with_ring(3);
    let empty = bus.poll("t", &Start::Oldest, 50).unwrap();
    assert!(empty.messages.is_empty() && empty.gap.is_none());
    assert_eq!(empty.position.seq, 0);
    let keys: Vec<Position> = (1..=5).map(|i| text(&bus, "t", &i.to_string())).collect();
    let poll = bus
        .poll("t", &Start::After(Token::Key(keys[2])), 50)
        .unwrap();
    assert_eq!(
        poll.messages
            .iter()
            .map(|m| poll.key(m))
            .collect::<Vec<_>>(),
        keys[3..].to_vec()
    );
    assert_eq!(poll.position, keys[4]);
    let limited = bus.poll("t", &Start::Oldest, 2).unwrap();
    assert_eq!(limited.messages.len(), 2);
    assert_eq!(limited.position, keys[3]);
    let stale = bus
        .poll("t", &Start::After(Token::Key(keys[0])), 50)
        .unwrap();
    assert_eq!(
        stale.gap,
        Some(Gap {
            from: keys[0],
            to: keys[1],
            lost: Some(1)
        })
    );
    assert_eq!(stale.messages.len(), 3);
    let nothing = bus
        .poll("t", &Start::After(Token::Key(keys[4])), 50)
        .unwrap();
    assert!(nothing.messages.is_empty());
    assert_eq!(nothing.position, keys[4]);
    assert!(matches!(
        bus.poll("t.*", &Start::Now, 1),
        Err(Error::PatternNotAllowed(_))
    ));
}

#[test]
fn long_poll_answers_on_the_first_message_or_at_the_timeout() {
    let bus = bus();
    let key = text(&bus, "t", "1");
    let timed_out = bus
        .long_poll(
            "t",
            &Start::After(Token::Key(key)),
            10,
            Duration::from_millis(30),
        )
        .unwrap();
    assert!(timed_out.messages.is_empty());
    assert_eq!(timed_out.position, key);
    let publisher = {
        let bus = bus.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            text(&bus, "t", "2")
        })
    };
    let answer = bus
        .long_poll(
            "t",
            &Start::After(Token::Key(key)),
            10,
            Duration::from_secs(10),
        )
        .unwrap();
    let published = publisher.join().unwrap();
    assert_eq!(answer.messages.len(), 1);
    assert_eq!(answer.position, published);
    assert_eq!(answer.messages[0].data(), b"2");
    let at_once = bus
        .long_poll(
            "t",
            &Start::After(Token::Key(key)),
            10,
            Duration::from_secs(10),
        )
        .unwrap();
    assert_eq!(
        at_once.messages.len(),
        1,
        "a key older than the newest answers at once"
    );
    assert_eq!(
        bus.stats().subscriptions,
        0,
        "the one-shot subscription is gone"
    );
}

#[test]
fn presence_follows_subscriptions_and_publishes_join_and_leave() {
    let bus = bus();
    let watcher = bus.poller();
    watcher.subscribe(&["room"], Start::Now).unwrap();
    let poller = bus.poller();
    let a = poller.subscribe(&["room"], Start::Now).unwrap();
    let b = poller.subscribe(&["room"], Start::Now).unwrap();
    let before = bus.head("room").unwrap();
    poller.join(a, "room", "ann", "{\"tab\":1}").unwrap();
    poller.join(b, "room", "ann", "{\"tab\":2}").unwrap();
    let listed = bus.presence("room").unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].client.as_str(), listed[0].info.as_str()),
        ("ann", "{\"tab\":2}")
    );
    assert_eq!(
        bus.head("room").unwrap().seq,
        before.seq + 1,
        "one join bumps the key once"
    );
    poller.unsubscribe(a).unwrap();
    assert_eq!(bus.presence("room").unwrap().len(), 1, "b still holds ann");
    drop(poller);
    assert!(
        bus.presence("room").unwrap().is_empty(),
        "dropping the poller releases b"
    );
    let seen = drain_all(&watcher);
    let events: Vec<(Option<String>, Vec<u8>)> = seen
        .iter()
        .filter_map(|s| match s {
            Seen::Message { event, data, .. } => Some((event.clone(), data.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        events,
        vec![
            (
                Some("join".into()),
                b"{\"client\":\"ann\",\"info\":{\"tab\":1}}".to_vec()
            ),
            (Some("leave".into()), b"{\"client\":\"ann\"}".to_vec()),
        ]
    );
}

#[test]
fn leases_expire_and_leave_is_explicit() {
    let bus = bus();
    bus.join_lease("room", "poller-1", "{}", Duration::from_millis(1))
        .unwrap();
    bus.join_lease("room", "poller-2", "{}", Duration::from_secs(60))
        .unwrap();
    let listed = || -> Vec<String> {
        let present = bus.presence("room").unwrap();
        present.into_iter().map(|p| p.client).collect()
    };
    eventually("the 1 ms lease ends", || listed() == ["poller-2"]);
    let head = bus.head("room").unwrap();
    bus.sweep();
    assert_eq!(
        bus.head("room").unwrap().seq,
        head.seq + 1,
        "the sweep publishes the lease's leave"
    );
    assert_eq!(bus.leave("room", "poller-2"), Ok(true));
    assert_eq!(bus.leave("room", "poller-2"), Ok(false));
    assert_eq!(bus.leave("nowhere", "x"), Ok(false));
    assert!(bus.presence("room").unwrap().is_empty());
    assert!(bus.presence("nowhere").unwrap().is_empty());
    assert_eq!(bus.stats().topics, 1, "presence reads create no topic");
}

#[test]
fn presence_refuses_bad_input_and_can_be_quiet() {
    let mut config = config();
    config.presence_events = false;
    config.max_presence_info_bytes = 16;
    let bus = Bus::new(config).unwrap();
    let ttl = Duration::from_secs(1);
    for (client, info) in [
        ("", "{}"),
        ("a\nb", "{}"),
        ("ann", "{"),
        ("ann", "not json"),
        ("ann", "[1,2,3,4,5,6,7,8,9]"),
    ] {
        assert!(
            matches!(
                bus.join_lease("room", client, info, ttl),
                Err(Error::InvalidPresence(_))
            ),
            "{client:?} {info:?}"
        );
    }
    assert!(matches!(
        bus.join_lease("room.*", "ann", "{}", ttl),
        Err(Error::PatternNotAllowed(_))
    ));
    bus.join_lease("room", "ann", "{}", ttl).unwrap();
    assert_eq!(
        bus.head("room").unwrap().seq,
        0,
        "no join event when presence events are off"
    );
}

#[test]
fn idle_topics_expire_and_come_back_with_a_new_epoch() {
    let mut config = config();
    config.topic_idle_ttl = Some(Duration::from_millis(1));
    let bus = Bus::new(config).unwrap();
    let old = text(&bus, "idle", "x");
    let poller = bus.poller();
    poller.subscribe(&["busy"], Start::Now).unwrap();
    eventually("the idle topic expires", || {
        bus.sweep();
        bus.stats().topics == 1
    });
    let stats = bus.stats();
    assert_eq!(
        (stats.topics, stats.replay_bytes),
        (1, 0),
        "idle expired, busy stays"
    );
    let new = text(&bus, "idle", "y");
    assert_ne!(new.epoch, old.epoch);
    assert_eq!(new.seq, 1);
    let resumed = bus.poller();
    let sub = resumed
        .subscribe(&["idle"], Start::After(Token::Key(old)))
        .unwrap();
    let seen = drain_all(&resumed);
    assert_eq!(
        seen[0],
        Seen::Gap {
            sub,
            topic: "idle".into(),
            gap: Gap {
                from: old,
                to: Position {
                    epoch: new.epoch,
                    seq: 0
                },
                lost: None
            }
        }
    );
    assert_eq!(datas(&seen), vec![b"y".to_vec()]);
}

#[test]
fn limits_on_topics_and_subscriptions() {
    let mut config = config();
    config.max_topics = 2;
    config.max_subscriptions_per_poller = 2;
    let bus = Bus::new(config).unwrap();
    text(&bus, "a", "x");
    text(&bus, "b", "x");
    assert_eq!(
        bus.publish("c", None, Payload::text("x")),
        Err(Error::TooManyTopics { limit: 2 })
    );
    let poller = bus.poller();
    assert_eq!(
        poller.subscribe(&["a", "c"], Start::Now),
        Err(Error::TooManyTopics { limit: 2 })
    );
    assert!(
        poller.is_empty(),
        "a failed subscribe leaves nothing behind"
    );
    poller.subscribe(&["a"], Start::Now).unwrap();
    poller.subscribe(&["b"], Start::Now).unwrap();
    assert_eq!(
        poller.subscribe(&["a"], Start::Now),
        Err(Error::TooManySubscriptions { limit: 2 })
    );
}

#[test]
fn ring_byte_age_and_budget_limits_evict() {
    let mut config = config();
    config.ring_max_bytes = 10;
    config.max_message_bytes = 10;
    config.replay_budget_bytes = 15;
    let bus = Bus::new(config).unwrap();
    bus.publish("a", None, Payload::binary(&[0; 6])).unwrap();
    bus.publish("a", None, Payload::binary(&[0; 6])).unwrap();
    assert_eq!(
        bus.stats().replay_bytes,
        6,
        "ring bytes keep only the newest"
    );
    bus.publish("b", None, Payload::binary(&[0; 6])).unwrap();
    bus.publish("b", None, Payload::binary(&[0; 4])).unwrap();
    assert_eq!(
        bus.stats().replay_bytes,
        10,
        "over budget: b evicts its own oldest"
    );
    let poll = bus.poll("b", &Start::Oldest, 10).unwrap();
    assert_eq!(poll.messages.len(), 1);

    let mut config = self::config();
    config.ring_max_age = Some(Duration::from_millis(1));
    let bus = Bus::new(config).unwrap();
    text(&bus, "t", "old");
    eventually("the 1 ms old message is evicted", || {
        bus.sweep();
        bus.poll("t", &Start::Oldest, 10)
            .unwrap()
            .messages
            .is_empty()
    });
    assert_eq!(bus.stats().replay_bytes, 0);
}

#[test]
fn config_validation_names_the_bad_value() {
    let bad: Vec<fn(&mut Config)> = vec![
        |c| c.ring_max_messages = 0,
        |c| c.max_message_bytes = 0,
        |c| c.max_message_bytes = c.ring_max_bytes + 1,
        |c| c.ring_max_bytes = c.replay_budget_bytes + 1,
        |c| c.max_topics = 0,
        |c| c.max_topic_len = 0,
        |c| c.max_subscriptions_per_poller = 0,
        |c| c.ring_max_age = Some(Duration::ZERO),
        |c| c.janitor_interval = Some(Duration::ZERO),
    ];
    for change in bad {
        let mut config = Config::default();
        change(&mut config);
        assert!(matches!(Bus::new(config), Err(Error::InvalidConfig(_))));
    }
}

#[test]
fn the_janitor_thread_sweeps_by_itself() {
    let mut config = Config::default();
    config.janitor_interval = Some(Duration::from_millis(5));
    config.topic_idle_ttl = Some(Duration::from_millis(1));
    let bus = Bus::new(config).unwrap();
    text(&bus, "t", "x");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while bus.stats().topics != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the janitor never removed the idle topic"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn stats_count_what_happened() {
    let bus = bus();
    let poller = bus.poller();
    poller.subscribe(&["a"], Start::Now).unwrap();
    poller.subscribe(&["a", "b"], Start::Now).unwrap();
    text(&bus, "a", "1");
    text(&bus, "b", "2");
    drain_all(&poller);
    let stats = bus.stats();
    assert_eq!(
        (
            stats.published,
            stats.delivered,
            stats.gaps,
            stats.topics,
            stats.subscriptions
        ),
        (2, 3, 0, 2, 2)
    );
    assert_eq!(stats.replay_bytes, 2);
    drop(poller);
    assert_eq!(bus.stats().subscriptions, 0);
}

#[test]
fn frames_are_encoded_once_and_shared_by_every_delivery() {
    let bus = bus();
    let (one, two) = (bus.poller(), bus.poller());
    one.subscribe(&["chat.x"], Start::Now).unwrap();
    two.subscribe(&["chat.>"], Start::Now).unwrap();
    let key = bus
        .publish(
            "chat.x",
            Some("message"),
            Payload::json(br#"{"text":"</script>"}"#),
        )
        .unwrap();
    let (mut a, mut b) = (Batch::new(), Batch::new());
    one.drain(&mut a, 10);
    two.drain(&mut b, 10);
    let (Some(Event::Message(x)), Some(Event::Message(y))) = (a.get(0), b.get(0)) else {
        panic!()
    };
    assert_eq!(
        x.frames().sse().as_ptr(),
        y.frames().sse().as_ptr(),
        "one encoding for both"
    );
    let envelope = format!(
        r#"{{"id":"{key}","topic":"chat.x","seq":1,"event":"message","time":{},"data":{{"text":"\u003c/script>"}}}}"#,
        x.message().time_ms()
    );
    assert_eq!(
        std::str::from_utf8(x.frames().envelope()).unwrap(),
        envelope
    );
    assert_eq!(
        x.frames().sse(),
        format!("id: {key}\nevent: message\ndata: {envelope}\n\n").as_bytes()
    );

    let poll = bus.poll("chat.x", &Start::Oldest, 10).unwrap();
    assert_eq!(poll.topic(), "chat.x");
    assert_eq!(
        poll.frames(&poll.messages[0]).sse().as_ptr(),
        x.frames().sse().as_ptr()
    );
    let answer: serde_json::Value = serde_json::from_slice(&poll.to_json()).unwrap();
    assert_eq!(answer["key"], serde_json::json!(key.to_string()));
    assert_eq!(
        answer["messages"][0]["data"]["text"],
        serde_json::json!("</script>")
    );
    assert_eq!(answer["gap"], serde_json::Value::Null);
}

#[test]
fn poll_answers_name_their_gap() {
    let bus = bus_with_ring(1);
    let first = text(&bus, "t", "1");
    let second = text(&bus, "t", "2");
    let poll = bus
        .poll(
            "t",
            &Start::After(Token::Key(Position { seq: 0, ..first })),
            10,
        )
        .unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&poll.to_json()).unwrap();
    assert_eq!(
        answer["gap"],
        serde_json::json!({"event": "gap", "topic": "t", "from": Position { seq: 0, ..first }.to_string(), "to": first.to_string()})
    );
    assert_eq!(answer["key"], serde_json::json!(second.to_string()));
    assert_eq!(answer["messages"].as_array().unwrap().len(), 1);
}

#[test]
fn a_publisher_continues_the_topics_keys_and_reaches_its_subscribers() {
    let bus = bus();
    let poller = bus.poller();
    let sub = poller.subscribe(&["t"], Start::Now).unwrap();
    let first = text(&bus, "t", "by name");
    let publisher = bus.publisher("t").unwrap();
    assert_eq!(publisher.topic(), "t");
    let second = publisher
        .publish(Some("message"), Payload::json(b"{\"a\":1}"))
        .unwrap();
    let third = text(&bus, "t", "by name again");
    assert_eq!(
        (second.epoch, second.seq, third.seq),
        (first.epoch, 2, 3),
        "one sequence, whichever way a message comes in"
    );
    assert_eq!(
        drain_all(&poller)[1],
        Seen::Message {
            sub,
            topic: "t".into(),
            key: second,
            event: Some("message".into()),
            data: b"{\"a\":1}".to_vec()
        }
    );
    assert_eq!(bus.stats().published, 3);
    // From another thread, sharing the handle.
    let key = std::thread::scope(|scope| {
        scope
            .spawn(|| publisher.publish(None, Payload::text("shared")).unwrap())
            .join()
            .unwrap()
    });
    assert_eq!(key.seq, 4);
}

#[test]
fn a_publisher_refuses_what_publish_refuses_and_changes_nothing() {
    let mut config = config();
    config.max_message_bytes = 8;
    config.max_topics = 1;
    let bus = Bus::new(config).unwrap();
    assert!(matches!(bus.publisher(""), Err(Error::InvalidTopic(_))));
    assert!(matches!(bus.publisher("a b"), Err(Error::InvalidTopic(_))));
    assert!(matches!(
        bus.publisher("t.*"),
        Err(Error::PatternNotAllowed(_))
    ));
    assert_eq!(
        bus.stats().topics,
        0,
        "a refused publisher creates no topic"
    );
    let publisher = bus.publisher("t").unwrap();
    assert_eq!(
        bus.publisher("u").unwrap_err(),
        Error::TooManyTopics { limit: 1 }
    );
    let head = publisher.publish(None, Payload::text("ok")).unwrap();
    let refused = [
        publisher.publish(Some("a\nevent: x"), Payload::text("x")),
        publisher.publish(Some(""), Payload::text("x")),
        publisher.publish(None, Payload::binary(&[0; 9])),
        publisher.publish(
            None,
            Payload {
                kind: pushbus::PayloadKind::Text,
                bytes: b"\xff",
            },
        ),
        publisher.publish(None, Payload::json(b"{\"a\":")),
    ];
    let errors: Vec<Error> = refused.into_iter().map(Result::unwrap_err).collect();
    assert!(matches!(errors[0], Error::InvalidEvent(_)), "{errors:?}");
    assert!(matches!(errors[1], Error::InvalidEvent(_)), "{errors:?}");
    assert_eq!(errors[2], Error::MessageTooLarge { size: 9, limit: 8 });
    assert_eq!(errors[3], Error::InvalidUtf8);
    assert!(matches!(errors[4], Error::InvalidJson(_)), "{errors:?}");
    assert_eq!(bus.head("t").unwrap(), head);
    assert_eq!(bus.stats().published, 1);
}

#[test]
fn a_publisher_keeps_its_topic_from_expiring_until_dropped() {
    let mut config = config();
    // Long enough that a sweep right after a drop is surely within it.
    let ttl = Duration::from_millis(100);
    config.topic_idle_ttl = Some(ttl);
    let bus = Bus::new(config).unwrap();
    let publisher = bus.publisher("held").unwrap();
    let before = publisher.publish(None, Payload::text("x")).unwrap();
    std::thread::sleep(ttl + ttl / 5);
    bus.sweep();
    assert_eq!(bus.stats().topics, 1, "held topics are not idle");
    let after = publisher.publish(None, Payload::text("y")).unwrap();
    assert_eq!((after.epoch, after.seq), (before.epoch, 2));
    let second = bus.publisher("held").unwrap();
    drop(publisher);
    std::thread::sleep(ttl + ttl / 5);
    bus.sweep();
    assert_eq!(bus.stats().topics, 1, "held while any publisher is");
    drop(second);
    bus.sweep();
    assert_eq!(
        bus.stats().topics,
        1,
        "idle time counts from the last publisher's drop"
    );
    std::thread::sleep(ttl + ttl / 5);
    bus.sweep();
    assert_eq!(bus.stats().topics, 0, "expired once no publisher held it");
    assert_ne!(text(&bus, "held", "z").epoch, before.epoch);
}
