//! A message's wire frames, encoded once and shared by every subscriber.
//!
//! The first transport that asks for a message's frames encodes them; every
//! later delivery of that message, on any poller and any transport, reuses
//! the same bytes. A publish to a full ring whose evicted message had its
//! frames encoded, and of the new frames' size, encodes the new message's
//! frames itself, into that buffer (`Message::encode_frames_into`): no
//! allocation and no free a message once the ring turns over.
//!
//! One buffer serves three transports:
//!
//! ```text
//! id: <key>\nevent: <event>\ndata: <envelope>\n\n
//! |------------- SSE event (the whole buffer) ---|
//!                              |envelope|
//!                              |envelope\n| = the NDJSON line (XHR streaming)
//! ```
//!
//! The iframe chunk is [`iframe::script_open`](crate::iframe::script_open),
//! then the envelope, then [`iframe::SCRIPT_CLOSE`](crate::iframe::SCRIPT_CLOSE);
//! a WebSocket text frame is a frame header, then the envelope: both are written with
//! vectored I/O around the shared envelope, never copied into one buffer per
//! client. The envelope's guarantees are in [`crate::envelope`].
//!
//! # Keeping frames beyond a batch
//!
//! [`Frames`] borrows from a drain's batch. A server that writes later, from
//! other tasks, keeps a [`MessageFrames`] instead
//! ([`Delivery::shared_frames`](crate::Delivery::shared_frames)): it holds
//! the message by reference count, so the same encoded bytes outlive the
//! batch, the ring's eviction, the poller and the bus, without a copy. Each
//! transport's part of it is a [`FrameBytes`], an owner that implements
//! `AsRef<[u8]>` and is `Send + Sync + 'static`, which is what zero-copy
//! buffer types take (for instance `bytes::Bytes::from_owner`, bytes 1.9 or
//! later); pushbus itself does not depend on any of them.

use std::ops::Range;

use crate::envelope;
use crate::message::Message;
use crate::position::Position;

/// The frames of one message or gap; see the module docs.
#[derive(Debug, Clone, Copy)]
pub struct Frames<'a> {
    /// The whole SSE event.
    buf: &'a [u8],
    /// Where the envelope starts in `buf`.
    start: usize,
}

impl<'a> Frames<'a> {
    /// The SSE event: `id:`, `event:`, one `data:` line and a blank line.
    pub fn sse(&self) -> &'a [u8] {
        self.buf
    }

    /// The JSON envelope alone (one line, script-safe).
    pub fn envelope(&self) -> &'a [u8] {
        &self.buf[self.start..self.buf.len() - 2]
    }

    /// The envelope and a newline: one NDJSON line.
    pub fn ndjson(&self) -> &'a [u8] {
        &self.buf[self.ndjson_range()]
    }

    /// Where [`Frames::envelope`] lies in [`Frames::sse`]. For callers that
    /// hold the SSE event in a buffer of their own (one reference-counted
    /// buffer sliced per transport): they get the place by name instead of
    /// deriving it from the layout in the module docs.
    pub fn envelope_range(&self) -> Range<usize> {
        self.start..self.buf.len() - 2
    }

    /// Where [`Frames::ndjson`] lies in [`Frames::sse`]; see
    /// [`Frames::envelope_range`].
    pub fn ndjson_range(&self) -> Range<usize> {
        self.start..self.buf.len() - 1
    }
}

/// A message's frames, owned: they stay valid after the batch that handed
/// them over is cleared, and after the message leaves its ring, its poller
/// and its bus are dropped (see the module docs). Cloning is one reference
/// count; the bytes are the ones every subscriber shares, never copied.
#[derive(Debug, Clone)]
pub struct MessageFrames {
    /// Its frames are encoded: [`MessageFrames::new`] made sure of it, and a
    /// message's frames, once encoded, never change.
    message: Message,
}

impl MessageFrames {
    /// Encodes `message`'s frames if no reader did yet; `topic` and `key`
    /// must be its own.
    pub(crate) fn new(message: Message, topic: &str, key: Position) -> MessageFrames {
        message.frames(topic, key);
        MessageFrames { message }
    }

    /// The frames, borrowed from this handle.
    pub fn frames(&self) -> Frames<'_> {
        self.message
            .encoded_frames()
            .expect("a MessageFrames' message has its frames encoded")
    }

    /// The message they frame.
    pub fn message(&self) -> &Message {
        &self.message
    }

    fn part(&self, range: Range<usize>) -> FrameBytes {
        FrameBytes {
            frames: self.clone(),
            start: range.start,
            end: range.end,
        }
    }

    /// The SSE event, owned.
    pub fn sse(&self) -> FrameBytes {
        self.part(0..self.frames().sse().len())
    }

    /// The NDJSON line (XHR streaming), owned.
    pub fn ndjson(&self) -> FrameBytes {
        self.part(self.frames().ndjson_range())
    }

    /// The envelope, owned: the body of a WebSocket text frame, and what the
    /// iframe transport wraps in
    /// [`iframe::script_open`](crate::iframe::script_open) and
    /// [`iframe::SCRIPT_CLOSE`](crate::iframe::SCRIPT_CLOSE).
    pub fn envelope(&self) -> FrameBytes {
        self.part(self.frames().envelope_range())
    }
}

impl AsRef<[u8]> for MessageFrames {
    /// The SSE event: the whole buffer, of which the other transports'
    /// frames are slices ([`Frames::envelope_range`],
    /// [`Frames::ndjson_range`]).
    fn as_ref(&self) -> &[u8] {
        self.frames().sse()
    }
}

/// One transport's frame of a message, owned: a slice of its
/// [`MessageFrames`] that holds them alive. It implements `AsRef<[u8]>` so
/// that a zero-copy buffer type can own it (`bytes::Bytes::from_owner`).
#[derive(Debug, Clone)]
pub struct FrameBytes {
    frames: MessageFrames,
    start: usize,
    end: usize,
}

impl FrameBytes {
    /// The frames this is a part of.
    pub fn frames(&self) -> &MessageFrames {
        &self.frames
    }
}

impl AsRef<[u8]> for FrameBytes {
    fn as_ref(&self) -> &[u8] {
        &self.frames.frames().sse()[self.start..self.end]
    }
}

/// Frames owned by their caller (gaps, which are rare and per client).
#[derive(Debug, Clone)]
pub struct OwnedFrames {
    buf: Vec<u8>,
    start: usize,
}

impl OwnedFrames {
    /// The frames, borrowed.
    pub fn frames(&self) -> Frames<'_> {
        Frames {
            buf: &self.buf,
            start: self.start,
        }
    }
}

impl AsRef<[u8]> for OwnedFrames {
    /// The SSE event, as [`MessageFrames`] gives it, so that one zero-copy
    /// buffer type takes gaps and messages alike; the other transports'
    /// frames lie at [`Frames::envelope_range`] and [`Frames::ndjson_range`].
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

/// The fixed pieces of an SSE event, in the order [`write_sse_event`]
/// writes them; [`encoded_len`] counts them.
const ID_FIELD: &[u8] = b"id: ";
const EVENT_FIELD: &[u8] = b"\nevent: ";
const DATA_FIELD: &[u8] = b"\ndata: ";
const END: &[u8] = b"\n\n";

/// Appends an SSE event whose data is the envelope `write_envelope`
/// writes, which is told where in `out` the id's text is; returns where the
/// envelope starts in `out`.
fn write_sse_event(
    out: &mut Vec<u8>,
    id: Position,
    event: &str,
    write_envelope: impl FnOnce(&mut Vec<u8>, Range<usize>),
) -> usize {
    // Ids are keys and events are checked names: neither can hold CR, LF or
    // NUL, so they go into their fields as they are.
    out.extend_from_slice(ID_FIELD);
    let id_start = out.len();
    id.write_key(out);
    let id_text = id_start..out.len();
    out.extend_from_slice(EVENT_FIELD);
    out.extend_from_slice(event.as_bytes());
    out.extend_from_slice(DATA_FIELD);
    let start = out.len();
    write_envelope(out, id_text);
    out.extend_from_slice(END);
    start
}

/// Encodes a message's frames for its cache: one byte, the envelope's
/// offset in the rest (always below 256: a key is at most 33 bytes and an
/// event type at most 64), then the SSE event. Written into one buffer of
/// exactly [`encoded_len`] bytes when the payload needs no escapes (the
/// common case), so it is allocated once and never shrunk (shrinking to
/// fit was a `realloc` a message).
pub(crate) fn encode_message(topic: &str, key: Position, message: &Message) -> Box<[u8]> {
    encode_message_into(
        Vec::with_capacity(encoded_len(topic, key, message)),
        topic,
        key,
        message,
    )
}

/// Encodes a message's frames into `recycled`, an evicted message's cache,
/// when it has the size [`encode_message`] would allocate: a ring turning
/// over then allocates and frees no frames. `None`, and `recycled` is freed,
/// when the sizes differ.
pub(crate) fn reencode_message(
    recycled: Box<[u8]>,
    topic: &str,
    key: Position,
    message: &Message,
) -> Option<Box<[u8]>> {
    if recycled.len() != encoded_len(topic, key, message) {
        return None;
    }
    let mut cache = Vec::from(recycled);
    cache.clear();
    Some(encode_message_into(cache, topic, key, message))
}

/// [`encode_message`] into `cache`, empty, whose capacity is the frames'
/// [`encoded_len`].
fn encode_message_into(
    mut cache: Vec<u8>,
    topic: &str,
    key: Position,
    message: &Message,
) -> Box<[u8]> {
    cache.push(0);
    let start = write_sse_event(
        &mut cache,
        key,
        envelope::event_name(message),
        |out, key| envelope::write_message_copying_key(out, topic, key, message),
    );
    cache[0] = (start - 1) as u8;
    cache.into_boxed_slice()
}

/// How many bytes [`encode_message`] writes when the payload needs no
/// escapes: the offset byte, then the SSE event around the envelope.
fn encoded_len(topic: &str, key: Position, message: &Message) -> usize {
    const FIXED: usize = 1 + ID_FIELD.len() + EVENT_FIELD.len() + DATA_FIELD.len() + END.len();
    FIXED
        + key.key_len()
        + envelope::event_name(message).len()
        + envelope::message_len(topic, key, message)
}

/// Reads a cache made by [`encode_message`].
pub(crate) fn cached(cache: &[u8]) -> Frames<'_> {
    Frames {
        buf: &cache[1..],
        start: usize::from(cache[0]),
    }
}

/// The frames of a gap: an SSE event `gap` whose id is the key reading
/// continues after, so a browser that reconnects after it resumes past it.
/// `from` is the key the client sent, as it sent it.
pub fn gap(topic: &str, from: &str, to: Position) -> OwnedFrames {
    let mut buf = Vec::with_capacity(128 + topic.len() + from.len());
    let start = write_sse_event(&mut buf, to, "gap", |out, _| {
        envelope::write_gap(out, topic, from, to)
    });
    OwnedFrames { buf, start }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Payload;

    #[test]
    fn one_buffer_serves_sse_ndjson_and_the_envelope() {
        let message = Message::new(3, 5, Some("join"), Payload::text("line1\nline2"));
        let key = Position {
            epoch: 0xab,
            seq: 3,
        };
        let cache = encode_message("chat.x", key, &message);
        let frames = cached(&cache);
        let envelope = r#"{"id":"ab-3","topic":"chat.x","seq":3,"event":"join","time":5,"data":"line1\nline2"}"#;
        assert_eq!(std::str::from_utf8(frames.envelope()).unwrap(), envelope);
        assert_eq!(frames.ndjson(), format!("{envelope}\n").as_bytes());
        assert_eq!(
            frames.sse(),
            format!("id: ab-3\nevent: join\ndata: {envelope}\n\n").as_bytes()
        );
    }

    #[test]
    fn a_payload_without_escapes_is_encoded_at_its_exact_size() {
        let keys = [(0, 0), (0xf, 9), (0x10, 10), (u64::MAX, u64::MAX)];
        let payloads = [
            Payload::json(br#"{"user":"ann","text":"hi"}"#),
            Payload::json(b"7"),
            Payload::text("plain words"),
            Payload::text(""),
            Payload::binary(b""),
            Payload::binary(b"a"),
            Payload::binary(b"ab"),
            Payload::binary(b"abc"),
            Payload::binary(&[0xff; 100]),
        ];
        for (epoch, seq) in keys {
            let key = Position { epoch, seq };
            for (i, payload) in payloads.iter().enumerate() {
                for event in [None, Some("join")] {
                    let message = Message::new(seq, 1_700_000_000_000 + i as u64, event, *payload);
                    let len = encode_message("chat.lobby", key, &message).len();
                    assert_eq!(
                        len,
                        encoded_len("chat.lobby", key, &message),
                        "{key:?} {i} {event:?}"
                    );
                }
            }
        }
        // Escapes only lengthen the frames.
        let message = Message::new(1, 2, None, Payload::json("\"<\u{2028}>\"".as_bytes()));
        let key = Position { epoch: 1, seq: 1 };
        assert!(encode_message("t", key, &message).len() > encoded_len("t", key, &message));
    }

    #[test]
    fn gaps_carry_the_resume_key_as_their_id() {
        let owned = gap(
            "chat.x",
            "bad\nkey",
            Position {
                epoch: 0xab,
                seq: 9,
            },
        );
        let frames = owned.frames();
        let sse = std::str::from_utf8(frames.sse()).unwrap();
        assert!(
            sse.starts_with("id: ab-9\nevent: gap\ndata: {\"event\":\"gap\""),
            "{sse}"
        );
        assert_eq!(
            sse.matches('\n').count(),
            4,
            "the client's key cannot add lines: {sse}"
        );
        assert!(frames.ndjson().ends_with(b"}\n"));
    }
}
