//! One event as connections write it: a message's or a gap's pushbus wire
//! frames in one reference-counted buffer.
//!
//! pushbus encodes a message's frames once and lends them for as long as a
//! drain's batch lives (`Delivery::frames`). Connections write them later,
//! on their own tasks, so the hub copies each message's frames once per
//! drain into a [`Frame`]; every connection then shares that copy, and the
//! SSE event, the NDJSON line and the envelope are slices of it.

use std::collections::HashMap;

use bytes::Bytes;
use pushbus::frames::Frames;
use pushbus::Delivery;

/// A message's or gap's frames; cloning shares them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The whole SSE event: `id:`, `event:`, `data: <envelope>`, blank line.
    sse: Bytes,
    /// Where the envelope starts in `sse`.
    envelope_start: usize,
}

/// The blank line that ends an SSE event, after the envelope.
const SSE_END: usize = "\n\n".len();

impl Frame {
    /// Copies pushbus's frames into a shared buffer.
    pub fn copy_of(frames: Frames<'_>) -> Frame {
        let sse = Bytes::copy_from_slice(frames.sse());
        // pushbus lays out one buffer as `id/event lines, data: ` + envelope
        // + "\n\n" (see pushbus::frames), so the envelope's place follows
        // from its length.
        let envelope_start = sse.len() - frames.envelope().len() - SSE_END;
        debug_assert_eq!(&sse[envelope_start..sse.len() - SSE_END], frames.envelope());
        Frame {
            sse,
            envelope_start,
        }
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
        self.sse.slice(self.envelope_start..self.sse.len() - 1)
    }

    /// The JSON envelope alone: one line, script-safe.
    pub fn envelope(&self) -> Bytes {
        self.sse
            .slice(self.envelope_start..self.sse.len() - SSE_END)
    }
}

/// The frames of one drained batch's messages, copied once each however
/// many subscriptions receive them.
#[derive(Debug, Default)]
pub struct BatchCopies {
    /// By message address: the batch holds every message it mentions, so
    /// no address is reused while it lives. Clear it with the batch.
    frames: HashMap<usize, Frame>,
}

impl BatchCopies {
    /// The frames of a delivery's message.
    pub fn of(&mut self, delivery: &Delivery<'_>) -> Frame {
        let address = delivery.message() as *const pushbus::Message as usize;
        self.frames
            .entry(address)
            .or_insert_with(|| Frame::copy_of(delivery.frames()))
            .clone()
    }

    /// Forgets every copy (before the batch is drained into again).
    pub fn clear(&mut self) {
        self.frames.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pushbus::Position;

    #[test]
    fn the_three_views_share_one_copy() {
        let to = Position {
            epoch: 0xab,
            seq: 9,
        };
        let owned = pushbus::frames::gap("chat.lobby", "bad key", to);
        let frame = Frame::copy_of(owned.frames());
        let envelope = r#"{"event":"gap","topic":"chat.lobby","from":"bad key","to":"ab-9"}"#;
        assert_eq!(frame.envelope(), envelope.as_bytes());
        assert_eq!(frame.ndjson(), format!("{envelope}\n").as_bytes());
        assert_eq!(
            frame.sse(),
            format!("id: ab-9\nevent: gap\ndata: {envelope}\n\n").as_bytes()
        );
        assert_eq!(frame.envelope().as_ptr(), frame.ndjson().as_ptr());
    }
}
