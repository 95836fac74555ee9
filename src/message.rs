//! Messages: immutable once published, shared by every reader.
//!
//! A [`Message`] is allocated once at publish, header, event type and
//! payload in one block, and shared by reference count by the topic's ring
//! and by every delivery; nothing copies its payload. One block because a
//! ring may hold millions of them and every publish pays for its
//! allocation and, at eviction, its free: one block instead of two saves
//! 15 % of a publish's instructions and 16 bytes a message (callgrind on
//! `benches/instr.rs`, the counting allocator of `benches/memory.rs`).
//! A publish to a full ring skips both when it can: the new message takes
//! over the evicted one's block if no reader holds that one any more and
//! it has the same size ([`Message::new_reusing`]). A message is never
//! changed while anyone but its ring can see it.

use std::mem::MaybeUninit;
use std::sync::OnceLock;

use triomphe::{Arc, HeaderWithLength, ThinArc, UniqueArc};

use crate::error::{Error, Result};

/// How a payload's bytes are to be read. It decides how the payload is
/// embedded in envelopes: JSON as it is, text as a JSON string, binary as
/// base64 (or a binary WebSocket frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PayloadKind {
    /// One JSON value (RFC 8259), checked at publish.
    Json = 0,
    /// UTF-8 text, checked at publish.
    Text = 1,
    /// Any bytes.
    Binary = 2,
}

/// A payload to publish: bytes and how to read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payload<'a> {
    /// How the bytes are to be read.
    pub kind: PayloadKind,
    /// The bytes.
    pub bytes: &'a [u8],
}

impl<'a> Payload<'a> {
    /// A JSON payload; checked at publish.
    pub fn json(bytes: &'a [u8]) -> Self {
        Payload {
            kind: PayloadKind::Json,
            bytes,
        }
    }

    /// A text payload.
    pub fn text(text: &'a str) -> Self {
        Payload {
            kind: PayloadKind::Text,
            bytes: text.as_bytes(),
        }
    }

    /// A binary payload.
    pub fn binary(bytes: &'a [u8]) -> Self {
        Payload {
            kind: PayloadKind::Binary,
            bytes,
        }
    }

    /// Checks size, UTF-8 (text and JSON) and JSON syntax.
    pub(crate) fn validate(&self, max_bytes: usize) -> Result<()> {
        if self.bytes.len() > max_bytes {
            return Err(Error::MessageTooLarge {
                size: self.bytes.len(),
                limit: max_bytes,
            });
        }
        match self.kind {
            PayloadKind::Binary => Ok(()),
            PayloadKind::Text => crate::utf8::utf8(self.bytes)
                .map(drop)
                .ok_or(Error::InvalidUtf8),
            PayloadKind::Json => crate::json::validate(self.bytes),
        }
    }
}

/// One published message: immutable, shared by the ring and every reader.
///
/// A handle: cloning it is one reference count, and the message is freed
/// with its last handle. Header, event type and payload live in one
/// allocation (one `malloc` and one `free` a message, and reading a
/// delivered payload touches the header's cache lines).
#[derive(Clone)]
pub struct Message(ThinArc<Header, u8>);

/// What a message knows besides its bytes (the event type's, then the
/// payload's).
struct Header {
    seq: u64,
    time_ms: u64,
    /// Wire frames, encoded by the first reader that needs them
    /// (see [`crate::frames`]).
    frames: OnceLock<Box<[u8]>>,
    event_len: u8,
    kind: PayloadKind,
}

impl Message {
    /// Builds a message; `event` must already be valid (at most 64 bytes).
    pub(crate) fn new(seq: u64, time_ms: u64, event: Option<&str>, payload: Payload<'_>) -> Self {
        let event = event.unwrap_or("").as_bytes();
        debug_assert!(event.len() <= crate::name::MAX_EVENT_LEN);
        let header = Header {
            seq,
            time_ms,
            frames: OnceLock::new(),
            event_len: event.len() as u8,
            kind: payload.kind,
        };
        let len = event.len() + payload.bytes.len();
        let mut block =
            UniqueArc::from_header_and_uninit_slice(HeaderWithLength::new(header, len), len);
        let (event_part, payload_part) = block.slice.split_at_mut(event.len());
        fill(event_part, event);
        fill(payload_part, payload.bytes);
        // SAFETY: the two writes above initialised all `len` bytes.
        let block = unsafe { block.assume_init_slice_with_header() };
        Message(Arc::into_thin(block.shareable()))
    }

    /// Builds the message [`Message::new`] would, in `spare`'s block when
    /// no one else holds `spare` and its block is the same size: a publish
    /// to a full ring then neither allocates nor, later, frees (a quarter
    /// of a one-subscriber delivery's instructions, 571 to 433, callgrind
    /// on `benches/instr.rs`).
    /// Otherwise `spare` is dropped first, so the allocator can hand its
    /// block to the new message.
    ///
    /// Also returns `spare`'s encoded frames when its block was reused and
    /// a reader had encoded them: the caller encodes the new message's
    /// frames into that buffer ([`Message::encode_frames_into`]).
    // Inlined into `Topic::append`: the compiler stopped doing so once
    // `TopicState` grew, and the call cost 34 of a delivery's 407
    // instructions (`benches/instr.rs`, w1_1).
    #[inline]
    pub(crate) fn new_reusing(
        mut spare: Message,
        seq: u64,
        time_ms: u64,
        event: Option<&str>,
        payload: Payload<'_>,
    ) -> (Self, Option<Box<[u8]>>) {
        let event_bytes = event.unwrap_or("").as_bytes();
        let mut old_frames = None;
        let reused = spare.0.with_arc_mut(|arc| {
            // `get_mut` checks, with an acquire load, that this is the last
            // handle; a reader can only clone one out of the ring, under the
            // topic's lock that the caller holds for writing.
            let Some(block) = Arc::get_mut(arc) else {
                return false;
            };
            if block.length() != event_bytes.len() + payload.bytes.len() {
                return false;
            }
            let header = block.header_mut();
            header.seq = seq;
            header.time_ms = time_ms;
            header.event_len = event_bytes.len() as u8;
            header.kind = payload.kind;
            old_frames = header.frames.take();
            let (event_part, payload_part) = block.slice_mut().split_at_mut(event_bytes.len());
            event_part.copy_from_slice(event_bytes);
            payload_part.copy_from_slice(payload.bytes);
            true
        });
        if !reused {
            drop(spare);
            return (Message::new(seq, time_ms, event, payload), None);
        }
        (spare, old_frames)
    }

    /// Encodes the frames of this message, new and not yet shared, into
    /// `old_frames`, the frames of the spare [`Message::new_reusing`] built
    /// it in, when they have the same size; otherwise frees them and leaves
    /// the frames to the first reader. A spare's frames were encoded because
    /// its topic's readers use frames, so the new message's will be needed
    /// too: encoding them now saves a `free` and the reader's `malloc` (350
    /// of the 7,440 instructions a POST cost the C chat server: callgrind, W1
    /// with one subscriber). `topic` and `key` are the message's own, as
    /// [`Message::frames`] takes them. Out of line: only topics read through
    /// frames take it.
    #[inline(never)]
    pub(crate) fn encode_frames_into(
        &self,
        old_frames: Box<[u8]>,
        topic: &str,
        key: crate::Position,
    ) {
        if let Some(frames) = crate::frames::reencode_message(old_frames, topic, key, self) {
            // Not yet shared, so no reader encoded them first.
            let _ = self.header().frames.set(frames);
        }
    }

    #[inline]
    fn header(&self) -> &Header {
        &self.0.header.header
    }

    #[inline]
    fn bytes(&self) -> &[u8] {
        &self.0.slice
    }

    /// Whether both handles are the same message.
    #[inline]
    pub fn ptr_eq(&self, other: &Message) -> bool {
        self.0.as_ptr() == other.0.as_ptr()
    }

    /// How many handles to this message exist (for tests of who holds it).
    #[cfg(test)]
    pub(crate) fn handles(&self) -> usize {
        ThinArc::strong_count(&self.0)
    }

    /// Hands this handle to C as a pointer; [`Message::from_raw`] takes it
    /// back.
    pub(crate) fn into_raw(self) -> *const std::ffi::c_void {
        ThinArc::into_raw(self.0)
    }

    /// Takes back a handle given out by [`Message::into_raw`].
    ///
    /// # Safety
    /// `raw` must come from `Message::into_raw` and be taken back once.
    pub(crate) unsafe fn from_raw(raw: *const std::ffi::c_void) -> Message {
        // SAFETY: per this function's contract, `raw` came from
        // `ThinArc::into_raw` of a message and still owns its count.
        Message(unsafe { ThinArc::from_raw(raw) })
    }

    /// Lends the message behind a pointer from [`Message::into_raw`]
    /// without taking the handle back.
    ///
    /// # Safety
    /// `raw` must come from `Message::into_raw` and not be taken back yet.
    pub(crate) unsafe fn borrow_raw<R>(
        raw: *const std::ffi::c_void,
        f: impl FnOnce(&Message) -> R,
    ) -> R {
        // SAFETY: per this function's contract; `ManuallyDrop` leaves the
        // count the pointer owns untouched.
        let message = std::mem::ManuallyDrop::new(unsafe { Message::from_raw(raw) });
        f(&message)
    }

    /// The message's number in its topic: 1, 2, 3, ... within one epoch.
    #[inline]
    pub fn seq(&self) -> u64 {
        self.header().seq
    }

    /// When it was published, in milliseconds since the Unix epoch.
    #[inline]
    pub fn time_ms(&self) -> u64 {
        self.header().time_ms
    }

    /// The event type, if one was given.
    #[inline]
    pub fn event(&self) -> Option<&str> {
        let event_len = self.header().event_len;
        if event_len == 0 {
            return None;
        }
        let event = &self.bytes()[..usize::from(event_len)];
        // SAFETY: these bytes were copied from a `&str` (a checked event type)
        // in `Message::new` and are never modified.
        Some(unsafe { std::str::from_utf8_unchecked(event) })
    }

    /// How the payload is to be read.
    #[inline]
    pub fn kind(&self) -> PayloadKind {
        self.header().kind
    }

    /// The payload.
    #[inline]
    pub fn data(&self) -> &[u8] {
        // SAFETY: `Message::new` stores the event type's `event_len` bytes
        // first, so `event_len <= bytes.len()`; neither changes afterwards.
        unsafe {
            self.bytes()
                .get_unchecked(usize::from(self.header().event_len)..)
        }
    }

    /// The message's frames, encoded on first use; `topic` and `key` must be
    /// the message's own (they are not stored in it).
    pub(crate) fn frames(&self, topic: &str, key: crate::Position) -> crate::frames::Frames<'_> {
        crate::frames::cached(
            self.header()
                .frames
                .get_or_init(|| crate::frames::encode_message(topic, key, self)),
        )
    }

    /// The message's frames if a reader encoded them already.
    pub(crate) fn encoded_frames(&self) -> Option<crate::frames::Frames<'_>> {
        self.header()
            .frames
            .get()
            .map(|cache| crate::frames::cached(cache))
    }

    /// Bytes this message holds beyond its header: what the ring and the
    /// replay budget count.
    pub(crate) fn weight(&self) -> usize {
        self.bytes().len()
    }
}

/// Initialises `dst` with a copy of `src` (same length); the loop compiles
/// to a `memcpy` (`write_copy_of_slice` needs Rust 1.93, above our MSRV).
fn fill(dst: &mut [MaybeUninit<u8>], src: &[u8]) {
    debug_assert_eq!(dst.len(), src.len());
    for (dst, &src) in dst.iter_mut().zip(src) {
        dst.write(src);
    }
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("seq", &self.seq())
            .field("time_ms", &self.time_ms())
            .field("event", &self.event())
            .field("kind", &self.kind())
            .field("data", &self.data())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_payloads_are_checked_strictly() {
        for ok in [
            &b"{}"[..],
            b" [1,2] ",
            b"\"a\\u2028\"",
            b"null",
            b"{\"a\":{\"b\":[true]}}",
        ] {
            assert_eq!(Payload::json(ok).validate(1024), Ok(()));
        }
        for bad in [
            &b""[..],
            b"{",
            b"{} {}",
            b"1},{",
            b"'a'",
            b"{\"a\":1,}",
            b"\"\n\"",
            b"\"\xff\"",
        ] {
            assert!(Payload::json(bad).validate(1024).is_err(), "{bad:?}");
        }
        assert_eq!(
            Payload::json(b"\"\xff\"").validate(1024),
            Err(Error::InvalidUtf8)
        );
    }

    #[test]
    fn text_must_be_utf8_and_size_is_limited() {
        let bad = Payload {
            kind: PayloadKind::Text,
            bytes: b"\xc3\x28",
        };
        assert_eq!(bad.validate(1024), Err(Error::InvalidUtf8));
        assert_eq!(Payload::binary(b"\xff\x00").validate(1024), Ok(()));
        assert_eq!(
            Payload::binary(&[0; 11]).validate(10),
            Err(Error::MessageTooLarge {
                size: 11,
                limit: 10
            })
        );
        assert_eq!(Payload::binary(&[0; 10]).validate(10), Ok(()));
    }

    #[test]
    fn a_spare_block_is_reused_only_when_unshared_and_the_same_size() {
        let key = crate::Position { epoch: 1, seq: 1 };
        // Five bytes of event type and payload, as the next message's.
        let spare = Message::new(1, 10, Some("e"), Payload::text("abcd"));
        let old_frames = spare.frames("t", key).sse().as_ptr();
        let block = spare.0.as_ptr();
        let (m, frames) = Message::new_reusing(spare, 2, 20, Some("ev"), Payload::json(b"[1]"));
        assert_eq!(m.0.as_ptr(), block, "same size, unshared: reused");
        assert_eq!(
            (m.seq(), m.time_ms(), m.event(), m.kind(), m.data()),
            (2, 20, Some("ev"), PayloadKind::Json, &b"[1]"[..])
        );
        assert!(m.encoded_frames().is_none(), "the old frames are gone");
        let frames = frames.expect("the spare's frames are handed back");
        assert_eq!(frames[1..].as_ptr(), old_frames);

        let reader = m.clone();
        let (n, frames) = Message::new_reusing(m, 3, 30, None, Payload::binary(b"12345"));
        assert!(!n.ptr_eq(&reader), "a reader's message is never rewritten");
        assert_eq!((reader.seq(), reader.data()), (2, &b"[1]"[..]));
        assert_eq!((n.seq(), n.event(), n.data()), (3, None, &b"12345"[..]));
        assert!(frames.is_none());

        let (o, _) = Message::new_reusing(reader, 4, 40, None, Payload::binary(b"1234"));
        assert_eq!((o.seq(), o.data()), (4, &b"1234"[..]), "another size");
    }

    #[test]
    fn frames_of_the_same_size_are_encoded_into_the_spare_frames() {
        let topic = "chat.room";
        let key = |seq| crate::Position { epoch: 0xab, seq };
        // What `Topic::append` does with a spare.
        let publish = |spare, seq, text: &'static str| {
            let time = 1_700_000_000_000 + seq;
            let payload = Payload::json(text.as_bytes());
            let (message, old_frames) = Message::new_reusing(spare, seq, time, None, payload);
            if let Some(old_frames) = old_frames {
                message.encode_frames_into(old_frames, topic, key(seq));
            }
            message
        };
        let spare = Message::new(1, 1_700_000_000_001, None, Payload::json(br#"{"t":"a"}"#));
        let buffer = spare.frames(topic, key(1)).sse().as_ptr();

        let m = publish(spare, 2, r#"{"t":"b"}"#);
        let frames = m.encoded_frames().expect("encoded at publish");
        assert_eq!(frames.sse().as_ptr(), buffer, "in the spare's buffer");
        let fresh = Message::new(2, 1_700_000_000_002, None, Payload::json(br#"{"t":"b"}"#));
        let expected = fresh.frames(topic, key(2));
        assert_eq!(
            (frames.sse(), frames.envelope()),
            (expected.sse(), expected.envelope())
        );

        // A key with one more digit: frames one byte longer, left to readers.
        let n = publish(m, 10, r#"{"t":"c"}"#);
        assert_eq!(n.data(), br#"{"t":"c"}"#);
        assert!(n.encoded_frames().is_none());

        // No reader encoded the spare's frames: none are encoded at publish.
        let o = publish(n, 11, r#"{"t":"d"}"#);
        assert!(o.encoded_frames().is_none());
    }

    #[test]
    fn message_keeps_event_and_payload_apart() {
        let m = Message::new(7, 99, Some("join"), Payload::text("hi"));
        assert_eq!(
            (m.seq(), m.time_ms(), m.event(), m.data()),
            (7, 99, Some("join"), &b"hi"[..])
        );
        assert_eq!(m.kind(), PayloadKind::Text);
        let m = Message::new(1, 0, None, Payload::binary(b""));
        assert_eq!((m.event(), m.data()), (None, &b""[..]));
    }
}
