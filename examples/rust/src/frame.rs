//! One event as connections write it: a message's or a gap's pushbus wire
//! frames in one reference-counted buffer, never copied.
//!
//! pushbus encodes a message's frames once, and `Delivery::shared_frames`
//! hands over an owner of those very bytes that outlives the drain's batch.
//! `Bytes::from_owner` wraps it without a copy; the SSE event, the NDJSON
//! line and the envelope are slices of it at the places pushbus names
//! (`Frames::envelope_range`, `Frames::ndjson_range`). A gap's frames
//! (`frames::gap`, made per client) are wrapped the same way.

use std::collections::HashMap;
use std::ops::Range;

use bytes::Bytes;
use pushbus::frames::{MessageFrames, OwnedFrames};
use pushbus::Delivery;

/// A message's or gap's frames; cloning shares them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The whole SSE event: `id:`, `event:`, `data: <envelope>`, blank line.
    sse: Bytes,
    /// Where the envelope lies in `sse`.
    envelope: Range<usize>,
    /// Where the NDJSON line lies in `sse`.
    ndjson: Range<usize>,
}

impl Frame {
    /// Wraps `owner`, whose bytes are the SSE event, without copying.
    fn wrap(
        owner: impl AsRef<[u8]> + Send + 'static,
        envelope: Range<usize>,
        ndjson: Range<usize>,
    ) -> Frame {
        Frame {
            sse: Bytes::from_owner(owner),
            envelope,
            ndjson,
        }
    }

    /// A message's frames: the bytes pushbus encoded, shared.
    pub fn of_message(frames: MessageFrames) -> Frame {
        let view = frames.frames();
        let (envelope, ndjson) = (view.envelope_range(), view.ndjson_range());
        Frame::wrap(frames, envelope, ndjson)
    }

    /// A gap's frames, as `pushbus::frames::gap` made them.
    pub fn of_gap(frames: OwnedFrames) -> Frame {
        let view = frames.frames();
        let (envelope, ndjson) = (view.envelope_range(), view.ndjson_range());
        Frame::wrap(frames, envelope, ndjson)
    }

    /// Bytes held (the SSE event, of which the other views are slices).
    pub fn size(&self) -> usize {
        self.sse.len()
    }

    /// The SSE event.
    pub fn sse(&self) -> Bytes {
        self.sse.clone()
    }

    /// The envelope and a newline: one NDJSON line.
    pub fn ndjson(&self) -> Bytes {
        self.sse.slice(self.ndjson.clone())
    }

    /// The JSON envelope alone: one line, script-safe.
    pub fn envelope(&self) -> Bytes {
        self.sse.slice(self.envelope.clone())
    }
}

/// The frames of one drained batch's messages, one `Bytes` each however
/// many subscriptions receive them: a delivery then costs a reference
/// count, not an allocation.
#[derive(Debug, Default)]
pub struct BatchFrames {
    /// By message address: the batch holds every message it mentions, so
    /// no address is reused while it lives. Clear it with the batch.
    frames: HashMap<usize, Frame>,
}

impl BatchFrames {
    /// The frames of a delivery's message.
    pub fn of(&mut self, delivery: &Delivery<'_>) -> Frame {
        let address = delivery.message() as *const pushbus::Message as usize;
        self.frames
            .entry(address)
            .or_insert_with(|| Frame::of_message(delivery.shared_frames()))
            .clone()
    }

    /// Forgets every frame (before the batch is drained into again); the
    /// frames already handed out stay valid.
    pub fn clear(&mut self) {
        self.frames.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pushbus::{Batch, Bus, Config, Event, Payload, Position, Start};

    #[test]
    fn the_three_views_share_one_buffer() {
        let to = Position {
            epoch: 0xab,
            seq: 9,
        };
        let frame = Frame::of_gap(pushbus::frames::gap("chat.lobby", "bad key", to));
        let envelope = r#"{"event":"gap","topic":"chat.lobby","from":"bad key","to":"ab-9"}"#;
        assert_eq!(frame.envelope(), envelope.as_bytes());
        assert_eq!(frame.ndjson(), format!("{envelope}\n").as_bytes());
        assert_eq!(
            frame.sse(),
            format!("id: ab-9\nevent: gap\ndata: {envelope}\n\n").as_bytes()
        );
        assert_eq!(frame.envelope().as_ptr(), frame.ndjson().as_ptr());
        assert_eq!(frame.size(), frame.sse().len());
    }

    #[test]
    fn a_message_frame_is_pushbus_own_bytes_and_outlives_the_bus() {
        let mut config = Config::default();
        config.janitor_interval = None;
        let bus = Bus::new(config).unwrap();
        let poller = bus.poller();
        poller.subscribe(&["chat.a"], Start::Now).unwrap();
        bus.publish("chat.a", None, Payload::text("hi")).unwrap();
        let mut batch = Batch::new();
        assert_eq!(poller.drain(&mut batch, 16), 1);
        let mut frames = BatchFrames::default();
        let Some(Event::Message(delivery)) = batch.get(0) else {
            panic!("a message")
        };
        let frame = frames.of(&delivery);
        let lent = delivery.frames();
        assert_eq!(frame.sse().as_ptr(), lent.sse().as_ptr(), "not copied");
        assert_eq!(frame.envelope().as_ptr(), lent.envelope().as_ptr());
        let expected = (lent.sse().to_vec(), lent.ndjson().to_vec());
        assert_eq!(frames.of(&delivery).sse().as_ptr(), frame.sse().as_ptr());
        frames.clear();
        batch.clear();
        drop((poller, bus));
        assert_eq!((frame.sse().to_vec(), frame.ndjson().to_vec()), expected);
        let envelope: serde_json::Value = serde_json::from_slice(&frame.envelope()).unwrap();
        assert_eq!(envelope["data"], "hi");
    }
}
