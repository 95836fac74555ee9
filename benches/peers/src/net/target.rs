//! The servers under test and how each one subscribes and publishes. A
//! subscriber is always its own connection, as a browser or an app client
//! would be.
//!
//! - `pushbus`: a pushbus chat server (CHAT_API.md): SSE at
//!   `GET /rooms/{topic}/events?user=bench`, publish with
//!   `POST /rooms/{topic}/messages` and `{"user":"bench","text":payload}`.
//!   Every stream uses the same user, so presence announces one join, not
//!   one per connection.
//! - `nchan`: nginx with nchan (benches/peers/nchan/nginx.conf): SSE at
//!   `GET /sub/{topic}`, publish the raw payload with `POST /pub/{topic}`.
//! - `redis`: `SUBSCRIBE topic` on its own connection; `PUBLISH`.
//! - `nats`: NATS core, a connection per subscriber (`SUB`); `PUB`.

use std::str::FromStr;

use super::http::Connection;
use super::scan::StampStream;
use super::sse::{self, Delivery};
use super::{nats, redis};
use crate::payload::LEN;
use crate::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pushbus,
    Nchan,
    Redis,
    Nats,
}

/// A server to test: `KIND=HOST:PORT`, for example `nchan=127.0.0.1:8081`.
#[derive(Debug, Clone)]
pub struct Target {
    pub kind: Kind,
    pub addr: String,
}

impl FromStr for Target {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let (kind, addr) = text.split_once('=').ok_or("expected KIND=HOST:PORT")?;
        let kind = match kind {
            "pushbus" => Kind::Pushbus,
            "nchan" => Kind::Nchan,
            "redis" => Kind::Redis,
            "nats" => Kind::Nats,
            other => {
                return Err(format!(
                    "unknown kind {other} (pushbus, nchan, redis, nats)"
                ))
            }
        };
        Ok(Target {
            kind,
            addr: addr.to_owned(),
        })
    }
}

impl Target {
    /// Whether subscribers read Server-Sent Events (and can resume).
    pub fn is_sse(&self) -> bool {
        matches!(self.kind, Kind::Pushbus | Kind::Nchan)
    }

    /// Opens one subscriber of `topic`; an SSE subscriber resumes after
    /// `last_event_id` when given.
    pub async fn subscribe(
        &self,
        topic: &str,
        last_event_id: Option<&str>,
    ) -> Result<Subscription> {
        Ok(match self.kind {
            Kind::Pushbus | Kind::Nchan => {
                let path = match self.kind {
                    Kind::Pushbus => format!("/rooms/{topic}/events?user=bench"),
                    _ => format!("/sub/{topic}"),
                };
                let connection = Connection::open(&self.addr).await?;
                let body = connection.stream(&path, last_event_id).await?;
                Subscription::Sse(sse::Stream::new(body))
            }
            Kind::Redis => Subscription::Scan(redis::subscribe(&self.addr, topic).await?),
            Kind::Nats => Subscription::Scan(nats::subscribe(&self.addr, topic).await?),
        })
    }

    /// Opens one publishing connection.
    pub async fn publisher(&self) -> Result<Publisher> {
        Ok(match self.kind {
            Kind::Pushbus | Kind::Nchan => {
                Publisher::Http(self.kind, Connection::open(&self.addr).await?)
            }
            Kind::Redis => Publisher::Redis(redis::Publisher::connect(&self.addr).await?),
            Kind::Nats => Publisher::Nats(nats::Publisher::connect(&self.addr).await?),
        })
    }
}

pub enum Subscription {
    Sse(sse::Stream),
    /// Redis and NATS.
    Scan(StampStream),
}

impl Subscription {
    /// The next delivery; `None` once the connection has ended.
    pub async fn next(&mut self) -> Option<Delivery> {
        match self {
            Subscription::Sse(stream) => stream.next().await,
            Subscription::Scan(stream) => stream.next().await.map(Delivery::Message),
        }
    }

    /// Waits for the next delivery, then appends it and every other one
    /// already read to `out`; false once the connection has ended.
    pub async fn next_batch(&mut self, out: &mut Vec<Delivery>) -> bool {
        let Some(first) = self.next().await else {
            return false;
        };
        out.push(first);
        match self {
            Subscription::Sse(stream) => out.extend(stream.take_ready()),
            Subscription::Scan(stream) => out.extend(stream.take_ready().map(Delivery::Message)),
        }
        true
    }

    /// When the read that carried the last delivery returned: its receive
    /// time for latency ([`Wire`](super::wire::Wire) reads the clock).
    pub fn received_ns(&self) -> u64 {
        match self {
            Subscription::Sse(stream) => stream.received_ns(),
            Subscription::Scan(stream) => stream.received_ns(),
        }
    }

    /// The last SSE event id received (empty for other protocols).
    pub fn last_id(&self) -> &[u8] {
        match self {
            Subscription::Sse(stream) => stream.last_id(),
            _ => b"",
        }
    }
}

pub enum Publisher {
    Http(Kind, Connection),
    Redis(redis::Publisher),
    Nats(nats::Publisher),
}

impl Publisher {
    /// Publishes one message and waits for the server's answer (NATS: until
    /// it is written).
    pub async fn publish(&mut self, topic: &str, payload: &[u8; LEN]) -> Result<()> {
        self.queue(topic, payload);
        self.send().await
    }

    /// Queues a publish; nothing is written until [`send`](Self::send).
    pub fn queue(&mut self, topic: &str, payload: &[u8; LEN]) {
        match self {
            Publisher::Http(Kind::Pushbus, connection) => {
                // The payload is ASCII with neither quotes nor backslashes
                // (crate::payload): it goes into the JSON as it is.
                let body: [&[u8]; 3] = [br#"{"user":"bench","text":""#, payload, br#""}"#];
                connection.queue_post(&["/rooms/", topic, "/messages"], CONTENT_TYPE, &body)
            }
            Publisher::Http(_, connection) => {
                connection.queue_post(&["/pub/", topic], CONTENT_TYPE, &[payload])
            }
            Publisher::Redis(publisher) => publisher.queue(topic, payload),
            Publisher::Nats(publisher) => publisher.queue(topic, payload),
        }
    }

    /// Writes every queued publish at once (pipelined), then reads their
    /// answers, each of which must be a success.
    pub async fn send(&mut self) -> Result<()> {
        match self {
            Publisher::Http(_, connection) => {
                connection.send().await?;
                while connection.unanswered() > 0 {
                    let (status, answer) = connection.answer().await?;
                    if !(200..300).contains(&status) {
                        let answer = String::from_utf8_lossy(answer);
                        return Err(format!("POST: {status} {answer}").into());
                    }
                }
                Ok(())
            }
            Publisher::Redis(publisher) => publisher.send().await,
            Publisher::Nats(publisher) => publisher.send().await,
        }
    }

    /// Waits until the server has read everything published (only NATS
    /// does not answer each publish).
    pub async fn flush(&mut self) -> Result<()> {
        match self {
            Publisher::Nats(publisher) => publisher.flush().await,
            _ => Ok(()),
        }
    }
}

/// The content type of every HTTP publish.
const CONTENT_TYPE: &str = "application/json";
