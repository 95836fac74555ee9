//! # pushbus
//!
//! An embeddable publish/subscribe broker for real-time web push: topics,
//! subscriptions, replay history, version keys, presence, and batch
//! delivery to event loops through one pollable file descriptor.
//!
//! ## The one idea
//!
//! **A topic's replay buffer is also its delivery queue.** Each topic owns
//! one bounded ring of immutable messages, numbered by a per-topic sequence.
//! A subscription is only a cursor into the rings of its topics. So:
//!
//! - publishing is O(1) in the number of subscriptions: append one message,
//!   evict what the limits say, and signal each poller that had caught up;
//! - a slow subscriber costs no memory: it falls behind, and when its cursor
//!   drops off the ring's tail it gets an explicit gap event, never a silent
//!   loss;
//! - resuming is free: an SSE `Last-Event-ID`, a long-poll key and a short
//!   poll key are all [`Position`]s, and "subscribe after P" replays the ring
//!   after P;
//! - memory is bounded by the ring limits and a bus-wide budget.
//!
//! ## Quick start
//!
//! ```
//! use pushbus::{Batch, Bus, Config, Event, Payload, Start};
//! use std::time::Duration;
//!
//! let bus = Bus::new(Config::default())?;
//! let poller = bus.poller();
//! let sub = poller.subscribe(&["chat.lobby"], Start::Now)?;
//! let key = bus.publish("chat.lobby", Some("message"), Payload::json(br#"{"text":"hi"}"#))?;
//!
//! assert!(poller.wait(Some(Duration::from_secs(1))));
//! let mut batch = Batch::new();
//! poller.drain(&mut batch, 256);
//! match batch.get(0) {
//!     Some(Event::Message(delivery)) => {
//!         assert_eq!(delivery.subscription, sub);
//!         assert_eq!(delivery.key(), key);
//!         assert_eq!(delivery.message().data(), br#"{"text":"hi"}"#);
//!     }
//!     other => panic!("unexpected {other:?}"),
//! }
//! # Ok::<(), pushbus::Error>(())
//! ```
//!
//! ## Map
//!
//! - [`Bus`]: topics, publish, short and long polls, presence, stats;
//! - [`Publisher`]: publishes to one topic without looking its name up;
//! - [`Poller`]: subscriptions, the pollable fd, wait, batch drain;
//! - [`Batch`] and [`Event`]: what a drain hands over;
//! - [`Position`] and [`Token`]: version keys;
//! - [`Config`]: every limit.
//!
//! Module documentation states each part's guarantees; `wake` holds the
//! wake-up protocol and its loom model.

#![warn(missing_docs)]

mod batch;
mod bus;
mod clock;
mod config;
mod digits;
pub mod envelope;
mod error;
mod fd;
pub mod ffi;
pub mod frames;
mod group;
pub mod iframe;
mod janitor;
mod json;
pub mod jwt;
mod message;
mod name;
pub mod ndjson;
mod poller;
mod position;
pub mod presence;
mod publisher;
mod registry;
mod ring;
pub mod sse;
mod stats;
mod subscription;
mod sync;
mod topic;
mod utf8;
pub mod wake;
pub mod ws;

pub use batch::{Batch, CloseReason, Delivery, Event};
pub use bus::{Bus, Poll};
pub use config::{Config, LagPolicy};
pub use error::{Error, Result};
pub use fd::{FdMode, PollerFd};
pub use message::{Message, Payload, PayloadKind};
pub use name::{Pattern, MAX_CLIENT_ID_LEN, MAX_EVENT_LEN};
pub use poller::Poller;
pub use position::{Position, Token, MAX_TOKEN_LEN};
pub use presence::PresenceEntry;
pub use publisher::Publisher;
pub use stats::Stats;
pub use subscription::{Gap, Start, SubscribeOptions, SubscriptionId};
