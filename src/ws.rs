//! WebSocket framing for servers (RFC 6455): the handshake's accept key,
//! server frame encoding, and a streaming decoder of client frames.
//!
//! Everything here is pure: no sockets, no clocks, no allocation beyond the
//! bytes a message actually carries. The server owns the I/O and feeds the
//! bytes it reads to a [`Decoder`], and writes the bytes these functions
//! build.
//!
//! # Handshake
//!
//! [`accept_key`] computes `Sec-WebSocket-Accept` from the client's
//! `Sec-WebSocket-Key` (RFC 6455 4.2.2); [`is_valid_client_key`] tells
//! whether that key is well formed (base64 of 16 bytes, RFC 6455 4.2.1),
//! so that a bad request can be answered `400`. Parsing the HTTP request,
//! checking `Upgrade`, `Connection`, `Sec-WebSocket-Version` and `Origin`
//! is the server's job.
//!
//! # Encoding (server to client)
//!
//! - Every frame this module builds is final (FIN set) and unmasked, with
//!   the reserved bits clear, and its length in the shortest form: 7 bits up
//!   to 125, 16 bits up to 65,535, 64 bits beyond.
//! - [`frame_header`] builds just the header, so a server can write header
//!   and one shared payload with a vectored write, without copying the
//!   payload per connection; [`encode_frame`] builds a whole frame.
//! - Both **refuse** with [`Error::InvalidArgument`] a control frame (Close,
//!   Ping, Pong) whose payload exceeds 125 bytes, and a Continuation frame
//!   (server frames are always final, so there is never a message to
//!   continue). Nothing is truncated silently.
//! - [`encode_close`] always succeeds: it **truncates** the reason at a
//!   character boundary so the payload fits in 125 bytes. It writes the code
//!   as given; see [`is_valid_close_code`].
//!
//! # Decoding (client to server)
//!
//! A [`Decoder`] takes the bytes of one connection in any pieces, down to
//! one byte at a time, and yields the same messages whatever the split. Each
//! [`Decoder::decode`] call returns at most one complete message. It
//! enforces RFC 6455 section 5 and 7.4, failing the connection with a
//! [`WsError`] whose [`close_code`](WsError::close_code) is the code to send
//! before closing:
//!
//! | Rule | Code |
//! |---|---|
//! | a client frame is not masked | 1002 |
//! | a reserved bit (RSV1-3) is set (no extension is ever negotiated) | 1002 |
//! | the opcode is not one of 0, 1, 2, 8, 9, 10 | 1002 |
//! | a control frame is longer than 125 bytes, or not final | 1002 |
//! | a Continuation frame without a message in progress | 1002 |
//! | a Text or Binary frame while a fragmented message is in progress | 1002 |
//! | a 64-bit length with its most significant bit set | 1002 |
//! | a Close payload of 1 byte, an invalid close code, or a non-UTF-8 reason | 1002 |
//! | a Text message that is not UTF-8 | 1007 |
//! | a message above [`DecoderLimits::max_message_bytes`] | 1009 |
//! | a message in more than [`DecoderLimits::max_fragments`] frames | 1009 |
//!
//! Further guarantees:
//!
//! - Control frames may come between the fragments of a message; each is
//!   returned as soon as it is complete, before the message it interrupts.
//! - Text is validated incrementally: invalid UTF-8 fails the connection as
//!   soon as the offending byte arrives, not only when the message ends (a
//!   code point split across fragments is fine).
//! - Size limits are checked on each frame's declared length, before its
//!   payload arrives, and memory is never reserved on a declared length: a
//!   decoder holds at most the bytes received of one message (bounded by
//!   `max_message_bytes`), one control payload (125 bytes) and one header
//!   (14 bytes).
//! - After an error the decoder is failed for good: every later call returns
//!   the same error and consumes nothing. No input makes it panic.
//!
//! Not done here:
//!
//! - Extensions (permessage-deflate) and subprotocols: the reserved bits are
//!   refused, so none can be used.
//! - The closing handshake's state: a Close is returned like any message;
//!   the server echoes it (an empty Close when its `code` is `None`, else
//!   [`encode_close`] with the same code) and stops reading. Fed more bytes,
//!   the decoder keeps decoding.
//! - Non-minimal length encodings (say, a 5-byte payload with a 64-bit
//!   length) are accepted, as most servers do; RFC 6455 asks senders to
//!   use the minimal form but names no reaction.
//! - Timeouts, pings and write buffering belong to the server.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha1::{Digest as _, Sha1};

use crate::error::{Error, Result};

/// The GUID appended to the client's key (RFC 6455 1.3).
const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Longest payload of a control frame (Close, Ping, Pong), in bytes.
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// Longest frame header a client can send: 2 bytes, a 64-bit length and a
/// 4-byte mask.
const MAX_CLIENT_HEADER: usize = 14;

/// Strips the optional whitespace (space, tab) around an HTTP header value.
fn trim_ows(value: &str) -> &str {
    value.trim_matches(|c| c == ' ' || c == '\t')
}

/// The `Sec-WebSocket-Accept` value for a client's `Sec-WebSocket-Key`:
/// base64(SHA-1(key + `258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)).
///
/// Spaces and tabs around the key (HTTP's optional whitespace) are ignored;
/// a well-formed key holds neither, so its result is unaffected.
///
/// ```
/// assert_eq!(
///     pushbus::ws::accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
///     "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
/// );
/// ```
pub fn accept_key(client_key: &str) -> String {
    let mut hasher = Sha1::new();
    hasher.update(trim_ows(client_key).as_bytes());
    hasher.update(ACCEPT_GUID.as_bytes());
    STANDARD.encode(hasher.finalize())
}

/// True when a `Sec-WebSocket-Key` is well formed: padded base64 that
/// decodes to exactly 16 bytes (RFC 6455 4.2.1). Spaces and tabs around it
/// are ignored, as in [`accept_key`].
pub fn is_valid_client_key(client_key: &str) -> bool {
    let key = trim_ows(client_key);
    key.len() == 24 && STANDARD.decode(key).is_ok_and(|bytes| bytes.len() == 16)
}

/// True when an endpoint may send `code` in a Close frame (RFC 6455 7.4 and
/// the IANA registry): 1000-1003, 1007-1014, and 3000-4999 (for libraries
/// and applications). 1004 is reserved, 1005, 1006 and 1015 must never be
/// sent, and the rest of 1016-2999 is unassigned.
pub fn is_valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// A frame's opcode (RFC 6455 5.2). Opcodes 3-7 and 11-15 are reserved and
/// have no value here: a client frame using one fails the connection.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Opcode {
    /// Continues a fragmented message.
    Continuation = 0,
    /// The first frame of a UTF-8 text message.
    Text = 1,
    /// The first frame of a binary message.
    Binary = 2,
    /// Closes the connection; the payload is empty or a code and a reason.
    Close = 8,
    /// Asks for a Pong with the same payload.
    Ping = 9,
    /// Answers a Ping, or is a unidirectional heartbeat.
    Pong = 10,
}

impl Opcode {
    /// The opcode these four bits name, if it is defined.
    fn from_bits(bits: u8) -> Option<Opcode> {
        match bits {
            0 => Some(Opcode::Continuation),
            1 => Some(Opcode::Text),
            2 => Some(Opcode::Binary),
            8 => Some(Opcode::Close),
            9 => Some(Opcode::Ping),
            10 => Some(Opcode::Pong),
            _ => None,
        }
    }

    /// True for Close, Ping and Pong: at most 125 bytes, never fragmented.
    pub fn is_control(self) -> bool {
        (self as u8) & 0x8 != 0
    }
}

/// The header of one server frame: 2, 4 or 10 bytes, built by
/// [`frame_header`]. It is `Copy` and holds no payload, so one payload can
/// be written after many headers without being copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    bytes: [u8; 10],
    len: u8,
}

impl FrameHeader {
    /// The header's bytes, to be written just before the payload.
    pub fn as_bytes(&self) -> &[u8] {
        // `len` is 2, 4 or 10 by construction, so `get` always succeeds.
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

/// Builds the header of a final, unmasked server frame carrying
/// `payload_len` bytes.
///
/// # Errors
///
/// [`Error::InvalidArgument`] for a control opcode with more than
/// [`MAX_CONTROL_PAYLOAD`] bytes, and for [`Opcode::Continuation`] (server
/// frames are always final, so there is nothing to continue).
pub fn frame_header(opcode: Opcode, payload_len: usize) -> Result<FrameHeader> {
    if opcode == Opcode::Continuation {
        return Err(Error::InvalidArgument(
            "a server frame is always final, so it cannot be a continuation".to_owned(),
        ));
    }
    if opcode.is_control() && payload_len > MAX_CONTROL_PAYLOAD {
        return Err(Error::InvalidArgument(format!(
            "a {opcode:?} frame carries at most {MAX_CONTROL_PAYLOAD} bytes, not {payload_len}"
        )));
    }
    let first = 0x80 | opcode as u8;
    let header = match u8::try_from(payload_len) {
        Ok(short) if payload_len <= MAX_CONTROL_PAYLOAD => FrameHeader {
            bytes: [first, short, 0, 0, 0, 0, 0, 0, 0, 0],
            len: 2,
        },
        _ => match u16::try_from(payload_len) {
            Ok(medium) => {
                let [a, b] = medium.to_be_bytes();
                FrameHeader {
                    bytes: [first, 126, a, b, 0, 0, 0, 0, 0, 0],
                    len: 4,
                }
            }
            Err(_) => {
                let long = u64::try_from(payload_len).unwrap_or(u64::MAX);
                let [a, b, c, d, e, f, g, h] = long.to_be_bytes();
                FrameHeader {
                    bytes: [first, 127, a, b, c, d, e, f, g, h],
                    len: 10,
                }
            }
        },
    };
    Ok(header)
}

/// Builds a whole final, unmasked server frame: [`frame_header`] followed
/// by `payload`.
///
/// For a Close frame prefer [`encode_close`]; an empty Close (no code) is
/// `encode_frame(Opcode::Close, &[])`.
///
/// # Errors
///
/// As [`frame_header`]: a control frame above 125 bytes (a Ping or Pong is
/// never truncated, since its payload must be echoed exactly), or a
/// Continuation frame.
pub fn encode_frame(opcode: Opcode, payload: &[u8]) -> Result<Vec<u8>> {
    let header = frame_header(opcode, payload.len())?;
    let mut frame = Vec::with_capacity(header.as_bytes().len() + payload.len());
    frame.extend_from_slice(header.as_bytes());
    frame.extend_from_slice(payload);
    Ok(frame)
}

/// Builds a Close frame with a status code and a reason.
///
/// The reason is truncated at a character boundary so that the payload (two
/// bytes of code, then the reason) is at most 125 bytes; it is never split
/// inside a character. The code is written as given: an endpoint must only
/// send codes for which [`is_valid_close_code`] holds.
pub fn encode_close(code: u16, reason: &str) -> Vec<u8> {
    let mut end = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
    while end > 0 && !reason.is_char_boundary(end) {
        end -= 1;
    }
    let reason = reason.get(..end).unwrap_or("");
    let payload_len = 2 + reason.len();
    let mut frame = Vec::with_capacity(2 + payload_len);
    frame.push(0x80 | Opcode::Close as u8);
    // At most 125, so it fits the 7-bit length.
    frame.push(u8::try_from(payload_len).unwrap_or(125));
    frame.extend_from_slice(&code.to_be_bytes());
    frame.extend_from_slice(reason.as_bytes());
    frame
}

/// A complete message from a client, as returned by [`Decoder::decode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsMessage {
    /// A text message, all its fragments joined; valid UTF-8.
    Text(String),
    /// A binary message, all its fragments joined.
    Binary(Vec<u8>),
    /// A Ping; answer with a Pong carrying the same payload (at most 125
    /// bytes).
    Ping(Vec<u8>),
    /// A Pong.
    Pong(Vec<u8>),
    /// A Close. `code` is `None` for an empty payload (and `reason` is then
    /// empty); otherwise it satisfies [`is_valid_close_code`] and `reason`
    /// is valid UTF-8.
    Close {
        /// The status code, if the payload had one.
        code: Option<u16>,
        /// The reason text, possibly empty.
        reason: String,
    },
}

/// Why a client's bytes fail the connection. Each variant is one cause;
/// [`close_code`](WsError::close_code) is the status to send in the Close
/// frame, and the `Display` text is a reason fit for it (under 123 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WsError {
    /// A client frame without the mask bit (RFC 6455 5.1). Code 1002.
    Unmasked,
    /// RSV1, RSV2 or RSV3 is set (the three bits, 1 to 7), and no extension
    /// was negotiated. Code 1002.
    ReservedBits(u8),
    /// A reserved opcode (3-7 or 11-15). Code 1002.
    UnknownOpcode(u8),
    /// A control frame declared more than 125 bytes. Code 1002.
    ControlTooLong,
    /// A control frame without FIN. Code 1002.
    FragmentedControl,
    /// A Continuation frame with no fragmented message in progress.
    /// Code 1002.
    UnexpectedContinuation,
    /// A Text or Binary frame while a fragmented message awaits its
    /// continuation. Code 1002.
    ExpectedContinuation,
    /// A 64-bit payload length with its most significant bit set.
    /// Code 1002.
    LengthOverflow,
    /// A message larger than the limit. Code 1009.
    MessageTooLarge {
        /// [`DecoderLimits::max_message_bytes`].
        limit: usize,
    },
    /// A message in more frames than the limit. Code 1009.
    TooManyFragments {
        /// [`DecoderLimits::max_fragments`].
        limit: usize,
    },
    /// A text message that is not valid UTF-8. Code 1007.
    InvalidUtf8,
    /// A Close payload of exactly one byte. Code 1002.
    CloseTooShort,
    /// A Close code an endpoint must not send (see
    /// [`is_valid_close_code`]). Code 1002.
    InvalidCloseCode(u16),
    /// A Close reason that is not valid UTF-8. Code 1002.
    InvalidCloseReason,
}

impl WsError {
    /// The status code to send in the Close frame that fails the
    /// connection: 1002 (protocol error), 1007 (invalid UTF-8) or 1009
    /// (message too big).
    pub fn close_code(&self) -> u16 {
        match self {
            WsError::InvalidUtf8 => 1007,
            WsError::MessageTooLarge { .. } | WsError::TooManyFragments { .. } => 1009,
            WsError::Unmasked
            | WsError::ReservedBits(_)
            | WsError::UnknownOpcode(_)
            | WsError::ControlTooLong
            | WsError::FragmentedControl
            | WsError::UnexpectedContinuation
            | WsError::ExpectedContinuation
            | WsError::LengthOverflow
            | WsError::CloseTooShort
            | WsError::InvalidCloseCode(_)
            | WsError::InvalidCloseReason => 1002,
        }
    }
}

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WsError::Unmasked => write!(f, "client frame is not masked"),
            WsError::ReservedBits(bits) => {
                write!(f, "reserved bits {bits:#05b} set without an extension")
            }
            WsError::UnknownOpcode(op) => write!(f, "reserved opcode {op}"),
            WsError::ControlTooLong => {
                write!(f, "control frame longer than {MAX_CONTROL_PAYLOAD} bytes")
            }
            WsError::FragmentedControl => write!(f, "fragmented control frame"),
            WsError::UnexpectedContinuation => {
                write!(f, "continuation frame without a message to continue")
            }
            WsError::ExpectedContinuation => {
                write!(f, "new data frame before the fragmented message ended")
            }
            WsError::LengthOverflow => write!(f, "64-bit frame length has its top bit set"),
            WsError::MessageTooLarge { limit } => {
                write!(f, "message larger than {limit} bytes")
            }
            WsError::TooManyFragments { limit } => {
                write!(f, "message in more than {limit} fragments")
            }
            WsError::InvalidUtf8 => write!(f, "text message is not valid UTF-8"),
            WsError::CloseTooShort => write!(f, "close payload of 1 byte"),
            WsError::InvalidCloseCode(code) => write!(f, "invalid close code {code}"),
            WsError::InvalidCloseReason => write!(f, "close reason is not valid UTF-8"),
        }
    }
}

impl std::error::Error for WsError {}

/// Bounds on what one client may make a [`Decoder`] hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecoderLimits {
    /// Largest message, all fragments together, in bytes (default 16 MiB).
    /// A frame that would take its message past it fails the connection
    /// with 1009 as soon as its header is read.
    pub max_message_bytes: usize,
    /// Most frames in one message (default 65,536), empty ones included:
    /// bounds the work a stream of empty continuations can cause. 0 refuses
    /// every data message.
    pub max_fragments: usize,
}

impl Default for DecoderLimits {
    fn default() -> Self {
        DecoderLimits {
            max_message_bytes: 16 << 20,
            max_fragments: 65_536,
        }
    }
}

/// The frame whose payload is being read.
#[derive(Debug, Clone, Copy)]
struct Frame {
    fin: bool,
    opcode: Opcode,
    mask: [u8; 4],
    /// Payload bytes still to come.
    remaining: u64,
    /// Payload bytes read so far, modulo 4: where the mask resumes.
    mask_offset: usize,
}

/// A data message being assembled from its fragments.
#[derive(Debug)]
struct Partial {
    text: bool,
    data: Vec<u8>,
    /// Frames received so far, this one included.
    fragments: usize,
    /// Length of the prefix of `data` known to be valid UTF-8 (text only);
    /// the rest, at most 3 bytes, is the start of an incomplete character.
    utf8_valid: usize,
}

impl Partial {
    /// Extends the validated prefix over newly appended bytes; fails on the
    /// first byte that cannot start or continue a character.
    fn check_utf8(&mut self) -> std::result::Result<(), WsError> {
        let unchecked = self.data.get(self.utf8_valid..).unwrap_or(&[]);
        match std::str::from_utf8(unchecked) {
            Ok(_) => self.utf8_valid = self.data.len(),
            Err(e) if e.error_len().is_none() => self.utf8_valid += e.valid_up_to(),
            Err(_) => return Err(WsError::InvalidUtf8),
        }
        Ok(())
    }

    /// The complete message.
    fn finish(self) -> std::result::Result<WsMessage, WsError> {
        if !self.text {
            return Ok(WsMessage::Binary(self.data));
        }
        if self.utf8_valid != self.data.len() {
            return Err(WsError::InvalidUtf8);
        }
        String::from_utf8(self.data)
            .map(WsMessage::Text)
            .map_err(|_| WsError::InvalidUtf8)
    }
}

/// XORs `buf` with the mask, starting `offset` bytes into it.
fn unmask(buf: &mut [u8], mask: [u8; 4], offset: usize) {
    let mut key = mask;
    key.rotate_left(offset % 4);
    let mut words = buf.chunks_exact_mut(4);
    for word in &mut words {
        for (byte, k) in word.iter_mut().zip(key) {
            *byte ^= k;
        }
    }
    for (byte, k) in words.into_remainder().iter_mut().zip(key) {
        *byte ^= k;
    }
}

/// Parses a complete Close payload.
fn parse_close(payload: &[u8]) -> std::result::Result<WsMessage, WsError> {
    match payload {
        [] => Ok(WsMessage::Close {
            code: None,
            reason: String::new(),
        }),
        [_] => Err(WsError::CloseTooShort),
        [high, low, reason @ ..] => {
            let code = u16::from_be_bytes([*high, *low]);
            if !is_valid_close_code(code) {
                return Err(WsError::InvalidCloseCode(code));
            }
            let reason = std::str::from_utf8(reason).map_err(|_| WsError::InvalidCloseReason)?;
            Ok(WsMessage::Close {
                code: Some(code),
                reason: reason.to_owned(),
            })
        }
    }
}

/// An incremental decoder of the frames one client sends to a server.
///
/// Feed it the connection's bytes in order, in pieces of any size, with
/// [`decode`](Decoder::decode); see the [module documentation](self) for the
/// rules it enforces.
#[derive(Debug)]
pub struct Decoder {
    limits: DecoderLimits,
    /// The header being read; `header_len` bytes of it are filled.
    header: [u8; MAX_CLIENT_HEADER],
    header_len: usize,
    /// The frame whose payload is being read, once its header is complete.
    frame: Option<Frame>,
    /// The data message in progress, from its first frame to its last.
    message: Option<Partial>,
    /// The payload of the control frame being read.
    control: Vec<u8>,
    /// Set by the first error, and returned from then on.
    failed: Option<WsError>,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(DecoderLimits::default())
    }
}

impl Decoder {
    /// A decoder at the start of a connection.
    pub fn new(limits: DecoderLimits) -> Decoder {
        Decoder {
            limits,
            header: [0; MAX_CLIENT_HEADER],
            header_len: 0,
            frame: None,
            message: None,
            control: Vec::new(),
            failed: None,
        }
    }

    /// Decodes from `input`, the next bytes of the connection.
    ///
    /// Returns how many bytes were consumed and the message they completed,
    /// if any. At most one message is returned per call, as soon as it is
    /// complete: when a message is returned, the bytes after `consumed` have
    /// not been looked at, and must be passed again. When no message is
    /// returned, all of `input` was consumed (kept in the decoder as a
    /// partial header, frame or message). So a caller loops:
    ///
    /// ```
    /// use pushbus::ws::{Decoder, WsMessage};
    ///
    /// // A masked "Hello" (RFC 6455 5.7).
    /// let bytes = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
    /// let mut decoder = Decoder::default();
    /// let mut rest = &bytes[..];
    /// let mut messages = Vec::new();
    /// loop {
    ///     let (consumed, message) = decoder.decode(rest)?;
    ///     rest = &rest[consumed..];
    ///     match message {
    ///         Some(message) => messages.push(message),
    ///         None => break, // `rest` is empty: read more from the socket
    ///     }
    /// }
    /// assert_eq!(messages, [WsMessage::Text("Hello".to_owned())]);
    /// # Ok::<(), pushbus::ws::WsError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A [`WsError`] when the bytes break a rule: send
    /// [`encode_close`]`(error.close_code(), &error.to_string())` and close
    /// the connection. The decoder then stays failed: every later call
    /// returns the same error.
    pub fn decode(
        &mut self,
        input: &[u8],
    ) -> std::result::Result<(usize, Option<WsMessage>), WsError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        self.decode_inner(input).inspect_err(|error| {
            self.failed = Some(error.clone());
            self.frame = None;
            self.message = None;
            self.control = Vec::new();
        })
    }

    fn decode_inner(
        &mut self,
        input: &[u8],
    ) -> std::result::Result<(usize, Option<WsMessage>), WsError> {
        let mut pos = 0;
        loop {
            let Some(mut frame) = self.frame else {
                // Reading a header: first its two fixed bytes, checked at
                // once, then the extended length and the mask.
                if self.header_len < 2 {
                    if !self.fill_header(input, &mut pos, 2) {
                        return Ok((pos, None));
                    }
                    self.check_first_bytes()?;
                }
                if !self.fill_header(input, &mut pos, self.header_size()) {
                    return Ok((pos, None));
                }
                self.start_frame()?;
                continue;
            };

            let available = input.len().saturating_sub(pos);
            let take = usize::try_from(frame.remaining).map_or(available, |r| r.min(available));
            let chunk = input.get(pos..pos + take).unwrap_or(&[]);
            pos += take;
            self.append_payload(&frame, chunk)?;
            frame.remaining -= u64::try_from(take).unwrap_or(frame.remaining);
            frame.mask_offset = (frame.mask_offset + take) % 4;
            if frame.remaining > 0 {
                // `input` is exhausted.
                self.frame = Some(frame);
                return Ok((pos, None));
            }
            self.frame = None;
            if let Some(message) = self.finish_frame(&frame)? {
                return Ok((pos, Some(message)));
            }
        }
    }

    /// Copies header bytes from `input` until `want` are held; false when
    /// `input` ran out first.
    fn fill_header(&mut self, input: &[u8], pos: &mut usize, want: usize) -> bool {
        while self.header_len < want {
            let (Some(&byte), Some(slot)) = (input.get(*pos), self.header.get_mut(self.header_len))
            else {
                return false;
            };
            *slot = byte;
            self.header_len += 1;
            *pos += 1;
        }
        true
    }

    /// Checks what the first two header bytes alone decide.
    fn check_first_bytes(&self) -> std::result::Result<(), WsError> {
        let [first, second, ..] = self.header;
        let reserved = (first >> 4) & 0x7;
        if reserved != 0 {
            return Err(WsError::ReservedBits(reserved));
        }
        let opcode = Opcode::from_bits(first & 0x0f).ok_or(WsError::UnknownOpcode(first & 0x0f))?;
        if second & 0x80 == 0 {
            return Err(WsError::Unmasked);
        }
        let fin = first & 0x80 != 0;
        if opcode.is_control() {
            if !fin {
                return Err(WsError::FragmentedControl);
            }
            if usize::from(second & 0x7f) > MAX_CONTROL_PAYLOAD {
                return Err(WsError::ControlTooLong);
            }
            return Ok(());
        }
        let fragments = match (opcode, &self.message) {
            (Opcode::Continuation, None) => return Err(WsError::UnexpectedContinuation),
            (Opcode::Continuation, Some(partial)) => partial.fragments,
            (_, Some(_)) => return Err(WsError::ExpectedContinuation),
            (_, None) => 0,
        };
        if fragments >= self.limits.max_fragments {
            return Err(WsError::TooManyFragments {
                limit: self.limits.max_fragments,
            });
        }
        Ok(())
    }

    /// The whole header's size, once its first two bytes are known (the
    /// mask bit has been checked, so the 4-byte mask is always there).
    fn header_size(&self) -> usize {
        let [_, second, ..] = self.header;
        match second & 0x7f {
            126 => 2 + 2 + 4,
            127 => 2 + 8 + 4,
            _ => 2 + 4,
        }
    }

    /// Parses the complete header and sets up its frame.
    fn start_frame(&mut self) -> std::result::Result<(), WsError> {
        let [first, second, rest @ ..] = self.header;
        let (len, mask) = match second & 0x7f {
            126 => {
                let [a, b, m0, m1, m2, m3, ..] = rest;
                (u64::from(u16::from_be_bytes([a, b])), [m0, m1, m2, m3])
            }
            127 => {
                let [a, b, c, d, e, f, g, h, m0, m1, m2, m3] = rest;
                (
                    u64::from_be_bytes([a, b, c, d, e, f, g, h]),
                    [m0, m1, m2, m3],
                )
            }
            short => {
                let [m0, m1, m2, m3, ..] = rest;
                (u64::from(short), [m0, m1, m2, m3])
            }
        };
        if len >> 63 != 0 {
            return Err(WsError::LengthOverflow);
        }
        // `check_first_bytes` accepted these.
        let opcode = Opcode::from_bits(first & 0x0f).ok_or(WsError::UnknownOpcode(first & 0x0f))?;
        if opcode.is_control() {
            self.control.clear();
        } else {
            let held = self
                .message
                .as_ref()
                .map_or(0, |partial| partial.data.len());
            let limit = self.limits.max_message_bytes;
            let total = u64::try_from(held).unwrap_or(u64::MAX).saturating_add(len);
            if total > u64::try_from(limit).unwrap_or(u64::MAX) {
                return Err(WsError::MessageTooLarge { limit });
            }
            match &mut self.message {
                Some(partial) => partial.fragments += 1,
                None => {
                    self.message = Some(Partial {
                        text: opcode == Opcode::Text,
                        data: Vec::new(),
                        fragments: 1,
                        utf8_valid: 0,
                    })
                }
            }
        }
        self.frame = Some(Frame {
            fin: first & 0x80 != 0,
            opcode,
            mask,
            remaining: len,
            mask_offset: 0,
        });
        self.header_len = 0;
        Ok(())
    }

    /// Unmasks a piece of the current frame's payload into its buffer.
    fn append_payload(&mut self, frame: &Frame, chunk: &[u8]) -> std::result::Result<(), WsError> {
        if chunk.is_empty() {
            return Ok(());
        }
        let buffer = if frame.opcode.is_control() {
            &mut self.control
        } else {
            match &mut self.message {
                Some(partial) => &mut partial.data,
                None => return Err(WsError::UnexpectedContinuation),
            }
        };
        let start = buffer.len();
        buffer.extend_from_slice(chunk);
        if let Some(fresh) = buffer.get_mut(start..) {
            unmask(fresh, frame.mask, frame.mask_offset);
        }
        match &mut self.message {
            Some(partial) if partial.text && !frame.opcode.is_control() => partial.check_utf8(),
            _ => Ok(()),
        }
    }

    /// Completes a frame whose payload has been read: a control message, the
    /// last frame of a data message, or one more fragment.
    fn finish_frame(&mut self, frame: &Frame) -> std::result::Result<Option<WsMessage>, WsError> {
        match frame.opcode {
            Opcode::Ping => Ok(Some(WsMessage::Ping(std::mem::take(&mut self.control)))),
            Opcode::Pong => Ok(Some(WsMessage::Pong(std::mem::take(&mut self.control)))),
            Opcode::Close => parse_close(&self.control).map(Some),
            Opcode::Text | Opcode::Binary | Opcode::Continuation => {
                if !frame.fin {
                    return Ok(None);
                }
                match self.message.take() {
                    Some(partial) => partial.finish().map(Some),
                    None => Err(WsError::UnexpectedContinuation),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A client frame, masked when `mask` is given, with the length in the
    /// shortest form, or in 64 bits when `long` is set.
    fn client_frame_with(
        fin: bool,
        opcode: u8,
        mask: Option<[u8; 4]>,
        payload: &[u8],
        long: bool,
    ) -> Vec<u8> {
        let mut out = vec![(if fin { 0x80 } else { 0 }) | opcode];
        let mask_bit = if mask.is_some() { 0x80 } else { 0 };
        let len = payload.len();
        if len <= 125 && !long {
            out.push(mask_bit | len as u8);
        } else if len <= 0xffff && !long {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        match mask {
            Some(key) => {
                out.extend_from_slice(&key);
                out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
            }
            None => out.extend_from_slice(payload),
        }
        out
    }

    fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        client_frame_with(fin, opcode, Some([0x37, 0xfa, 0x21, 0x3d]), payload, false)
    }

    /// Feeds `chunks` in order, looping as documented; checks that a call
    /// without a message consumed everything.
    fn feed(decoder: &mut Decoder, chunks: &[&[u8]]) -> Result<Vec<WsMessage>, WsError> {
        let mut messages = Vec::new();
        for chunk in chunks {
            let mut rest = *chunk;
            loop {
                let (consumed, message) = decoder.decode(rest)?;
                rest = &rest[consumed..];
                match message {
                    Some(message) => messages.push(message),
                    None => {
                        assert!(rest.is_empty(), "no message but input left over");
                        break;
                    }
                }
            }
        }
        Ok(messages)
    }

    fn decode_all(bytes: &[u8]) -> Result<Vec<WsMessage>, WsError> {
        feed(&mut Decoder::default(), &[bytes])
    }

    fn decode_with(limits: DecoderLimits, bytes: &[u8]) -> Result<Vec<WsMessage>, WsError> {
        feed(&mut Decoder::new(limits), &[bytes])
    }

    fn bytewise(bytes: &[u8]) -> Result<Vec<WsMessage>, WsError> {
        let chunks: Vec<&[u8]> = bytes.chunks(1).collect();
        feed(&mut Decoder::default(), &chunks)
    }

    fn text(s: &str) -> WsMessage {
        WsMessage::Text(s.to_owned())
    }

    fn expect_error(bytes: &[u8], error: WsError, code: u16) {
        assert_eq!(decode_all(bytes), Err(error.clone()));
        assert_eq!(bytewise(bytes), Err(error.clone()));
        assert_eq!(error.close_code(), code);
        assert!(!error.to_string().is_empty());
        assert!(error.to_string().len() <= 123);
    }

    // ---- handshake ----

    #[test]
    fn accept_key_rfc_vector() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(
            accept_key(" dGhlIHNhbXBsZSBub25jZQ==\t"),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn client_key_validation() {
        assert!(is_valid_client_key("dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(is_valid_client_key(" dGhlIHNhbXBsZSBub25jZQ== "));
        assert!(!is_valid_client_key(""));
        assert!(!is_valid_client_key("dGhlIHNhbXBsZSBub25jZQ")); // unpadded
        assert!(!is_valid_client_key("dGhlIHNhbXBsZSBub25jZXM=")); // 17 bytes
        assert!(!is_valid_client_key("aGVsbG8=")); // 5 bytes
        assert!(!is_valid_client_key("dGhlIHNhbXBsZSBub25jZ*=="));
    }

    // ---- encoding ----

    #[test]
    fn frame_header_lengths() {
        let cases: [(usize, &[u8]); 6] = [
            (0, &[0x82, 0]),
            (125, &[0x82, 125]),
            (126, &[0x82, 126, 0, 126]),
            (256, &[0x82, 0x7e, 0x01, 0x00]), // RFC 6455 5.7
            (65_535, &[0x82, 126, 0xff, 0xff]),
            (65_536, &[0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]), // RFC 6455 5.7
        ];
        for (len, want) in cases {
            assert_eq!(frame_header(Opcode::Binary, len).unwrap().as_bytes(), want);
        }
        assert_eq!(
            frame_header(Opcode::Text, 3).unwrap().as_bytes(),
            &[0x81, 3]
        );
    }

    #[test]
    fn encode_rfc_examples() {
        // Unmasked server frames from RFC 6455 5.7.
        assert_eq!(
            encode_frame(Opcode::Text, b"Hello").unwrap(),
            [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]
        );
        assert_eq!(
            encode_frame(Opcode::Ping, b"Hello").unwrap(),
            [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]
        );
        assert_eq!(
            encode_frame(Opcode::Pong, b"Hello").unwrap(),
            [0x8a, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]
        );
        let big = vec![7u8; 70_000];
        let frame = encode_frame(Opcode::Binary, &big).unwrap();
        assert_eq!(frame.len(), 10 + big.len());
        assert_eq!(&frame[..2], &[0x82, 0x7f]);
    }

    #[test]
    fn control_frames_over_125_are_refused() {
        let payload = [0u8; 126];
        for op in [Opcode::Ping, Opcode::Pong, Opcode::Close] {
            assert!(matches!(
                encode_frame(op, &payload),
                Err(Error::InvalidArgument(_))
            ));
            assert!(frame_header(op, 126).is_err());
            assert!(encode_frame(op, &payload[..125]).is_ok());
        }
        assert!(matches!(
            frame_header(Opcode::Continuation, 1),
            Err(Error::InvalidArgument(_))
        ));
        assert!(Opcode::Close.is_control() && !Opcode::Text.is_control());
    }

    #[test]
    fn encode_close_truncates_at_char_boundary() {
        assert_eq!(encode_close(1000, ""), [0x88, 2, 0x03, 0xe8]);
        assert_eq!(
            encode_close(1002, "bad"),
            [0x88, 5, 0x03, 0xea, b'b', b'a', b'd']
        );
        let long = "é".repeat(100); // 200 bytes, 2 per char
        let frame = encode_close(1009, &long);
        assert_eq!(usize::from(frame[1]), frame.len() - 2);
        assert!(frame.len() - 2 <= 125);
        let reason = std::str::from_utf8(&frame[4..]).unwrap();
        assert_eq!(reason.len(), 122); // 123 would split a character
        let ascii = "x".repeat(300);
        assert_eq!(encode_close(1000, &ascii).len(), 2 + 125);
    }

    #[test]
    fn close_codes() {
        for code in [
            1000, 1001, 1002, 1003, 1007, 1010, 1011, 1012, 1014, 3000, 4999,
        ] {
            assert!(is_valid_close_code(code), "{code}");
        }
        for code in [
            0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535,
        ] {
            assert!(!is_valid_close_code(code), "{code}");
        }
    }

    // ---- decoding: RFC 6455 5.7 ----

    #[test]
    fn rfc_single_masked_hello() {
        let bytes = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        assert_eq!(decode_all(&bytes), Ok(vec![text("Hello")]));
        assert_eq!(bytewise(&bytes), Ok(vec![text("Hello")]));
    }

    #[test]
    fn rfc_unmasked_frames_fail() {
        // Single-frame unmasked text.
        expect_error(
            &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
            WsError::Unmasked,
            1002,
        );
        // Fragmented unmasked text: fails on the first fragment.
        let mut bytes = vec![0x01, 0x03, 0x48, 0x65, 0x6c];
        bytes.extend_from_slice(&[0x80, 0x02, 0x6c, 0x6f]);
        expect_error(&bytes, WsError::Unmasked, 1002);
        // Unmasked ping.
        expect_error(
            &[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
            WsError::Unmasked,
            1002,
        );
    }

    #[test]
    fn rfc_fragmented_hello_masked() {
        let mut bytes = client_frame(false, 1, b"Hel");
        bytes.extend(client_frame(true, 0, b"lo"));
        assert_eq!(decode_all(&bytes), Ok(vec![text("Hello")]));
    }

    #[test]
    fn rfc_ping_and_masked_pong() {
        let ping = client_frame(true, 9, b"Hello");
        assert_eq!(
            decode_all(&ping),
            Ok(vec![WsMessage::Ping(b"Hello".to_vec())])
        );
        let pong = [
            0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        assert_eq!(
            decode_all(&pong),
            Ok(vec![WsMessage::Pong(b"Hello".to_vec())])
        );
    }

    // ---- decoding: lengths ----

    #[test]
    fn sixteen_and_sixty_four_bit_lengths() {
        let medium: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
        let frame = client_frame(true, 2, &medium);
        assert_eq!(frame[1], 0x80 | 126);
        assert_eq!(
            decode_all(&frame),
            Ok(vec![WsMessage::Binary(medium.clone())])
        );

        let large: Vec<u8> = (0..70_000u32).map(|i| (i * 7) as u8).collect();
        let frame = client_frame(true, 2, &large);
        assert_eq!(frame[1], 0x80 | 127);
        assert_eq!(decode_all(&frame), Ok(vec![WsMessage::Binary(large)]));

        // A non-minimal 64-bit length is accepted.
        let frame = client_frame_with(true, 1, Some([1, 2, 3, 4]), b"hi", true);
        assert_eq!(frame.len(), 2 + 8 + 4 + 2);
        assert_eq!(decode_all(&frame), Ok(vec![text("hi")]));
        // So is a 16-bit length for a short payload.
        let mut frame = vec![0x81, 0x80 | 126, 0, 2, 0, 0, 0, 0];
        frame.extend_from_slice(b"ok");
        assert_eq!(decode_all(&frame), Ok(vec![text("ok")]));
    }

    #[test]
    fn sixty_four_bit_length_top_bit_fails() {
        let bytes = [0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
        expect_error(&bytes, WsError::LengthOverflow, 1002);
    }

    #[test]
    fn empty_messages() {
        let mut bytes = client_frame(true, 1, b"");
        bytes.extend(client_frame(true, 2, b""));
        bytes.extend(client_frame(true, 9, b""));
        let want = vec![text(""), WsMessage::Binary(vec![]), WsMessage::Ping(vec![])];
        assert_eq!(decode_all(&bytes), Ok(want.clone()));
        assert_eq!(bytewise(&bytes), Ok(want));
    }

    #[test]
    fn one_message_per_call() {
        let mut bytes = client_frame(true, 1, b"a");
        let first = bytes.len();
        bytes.extend(client_frame(true, 1, b"b"));
        let mut decoder = Decoder::default();
        assert_eq!(decoder.decode(&bytes), Ok((first, Some(text("a")))));
        assert_eq!(
            decoder.decode(&bytes[first..]),
            Ok((bytes.len() - first, Some(text("b"))))
        );
        assert_eq!(decoder.decode(&[]), Ok((0, None)));
    }

    // ---- decoding: every error rule ----

    #[test]
    fn reserved_bits_fail() {
        for (bit, value) in [(0x40, 4), (0x20, 2), (0x10, 1)] {
            let mut bytes = client_frame(true, 1, b"x");
            bytes[0] |= bit;
            expect_error(&bytes, WsError::ReservedBits(value), 1002);
        }
    }

    #[test]
    fn unknown_opcodes_fail() {
        for op in (3..=7).chain(11..=15) {
            expect_error(
                &client_frame(true, op, b""),
                WsError::UnknownOpcode(op),
                1002,
            );
        }
    }

    #[test]
    fn long_control_frames_fail() {
        for op in [8, 9, 10] {
            expect_error(
                &client_frame(true, op, &[b'a'; 126]),
                WsError::ControlTooLong,
                1002,
            );
            // Refused from the first two bytes, before the length arrives.
            let mut decoder = Decoder::default();
            assert_eq!(
                decoder.decode(&[0x80 | op, 0x80 | 127]),
                Err(WsError::ControlTooLong)
            );
        }
        // 125 bytes is fine.
        let ping = client_frame(true, 9, &[b'a'; 125]);
        assert_eq!(
            decode_all(&ping),
            Ok(vec![WsMessage::Ping(vec![b'a'; 125])])
        );
    }

    #[test]
    fn fragmented_control_frames_fail() {
        for op in [8, 9, 10] {
            expect_error(
                &client_frame(false, op, b""),
                WsError::FragmentedControl,
                1002,
            );
        }
    }

    #[test]
    fn continuation_without_message_fails() {
        expect_error(
            &client_frame(true, 0, b"x"),
            WsError::UnexpectedContinuation,
            1002,
        );
        expect_error(
            &client_frame(false, 0, b"x"),
            WsError::UnexpectedContinuation,
            1002,
        );
        // Also after a message ended.
        let mut bytes = client_frame(true, 1, b"done");
        bytes.extend(client_frame(true, 0, b"more"));
        let mut decoder = Decoder::default();
        assert_eq!(
            feed(&mut decoder, &[&bytes]),
            Err(WsError::UnexpectedContinuation)
        );
    }

    #[test]
    fn new_data_frame_during_fragmented_message_fails() {
        for op in [1, 2] {
            let mut bytes = client_frame(false, 2, b"part");
            bytes.extend(client_frame(true, op, b"new"));
            expect_error(&bytes, WsError::ExpectedContinuation, 1002);
        }
    }

    #[test]
    fn control_frames_interleave_with_fragments() {
        let mut bytes = client_frame(false, 1, b"He");
        bytes.extend(client_frame(true, 9, b"p1"));
        bytes.extend(client_frame(false, 0, b"l"));
        bytes.extend(client_frame(true, 10, b"p2"));
        bytes.extend(client_frame(true, 0, b"lo"));
        let want = vec![
            WsMessage::Ping(b"p1".to_vec()),
            WsMessage::Pong(b"p2".to_vec()),
            text("Hello"),
        ];
        assert_eq!(decode_all(&bytes), Ok(want.clone()));
        assert_eq!(bytewise(&bytes), Ok(want));
    }

    #[test]
    fn invalid_utf8_fails_with_1007() {
        expect_error(&client_frame(true, 1, &[0xff]), WsError::InvalidUtf8, 1007);
        expect_error(
            &client_frame(true, 1, b"ok\xc3\x28"),
            WsError::InvalidUtf8,
            1007,
        );
        // Surrogates and code points above U+10FFFF.
        expect_error(
            &client_frame(true, 1, &[0xed, 0xa0, 0x80]),
            WsError::InvalidUtf8,
            1007,
        );
        expect_error(
            &client_frame(true, 1, &[0xf4, 0x90, 0x80, 0x80]),
            WsError::InvalidUtf8,
            1007,
        );
        // Truncated at the end of the message.
        expect_error(
            &client_frame(true, 1, &[b'a', 0xe2, 0x82]),
            WsError::InvalidUtf8,
            1007,
        );
        let mut bytes = client_frame(false, 1, b"a\xe2");
        bytes.extend(client_frame(true, 0, b"\x82"));
        expect_error(&bytes, WsError::InvalidUtf8, 1007);
        // Binary is not checked.
        assert_eq!(
            decode_all(&client_frame(true, 2, &[0xff])),
            Ok(vec![WsMessage::Binary(vec![0xff])])
        );
    }

    #[test]
    fn invalid_utf8_fails_fast() {
        // The first fragment already holds an impossible byte: no need to
        // wait for the end of the message.
        let bytes = client_frame(false, 1, &[b'a', 0xc0]);
        let mut decoder = Decoder::default();
        assert_eq!(decoder.decode(&bytes), Err(WsError::InvalidUtf8));
        // Same within one frame, before its payload is complete.
        let bytes = client_frame(true, 1, &[0xff, b'a', b'b']);
        let mut decoder = Decoder::default();
        assert_eq!(
            decoder.decode(&bytes[..bytes.len() - 1]),
            Err(WsError::InvalidUtf8)
        );
    }

    #[test]
    fn character_split_across_fragments_is_fine() {
        let euro = "€".as_bytes(); // 3 bytes
        let mut bytes = client_frame(false, 1, &euro[..1]);
        bytes.extend(client_frame(false, 0, &euro[1..2]));
        bytes.extend(client_frame(true, 0, &euro[2..]));
        assert_eq!(decode_all(&bytes), Ok(vec![text("€")]));
        assert_eq!(bytewise(&bytes), Ok(vec![text("€")]));
    }

    #[test]
    fn too_large_fails_with_1009() {
        let limits = DecoderLimits {
            max_message_bytes: 10,
            ..DecoderLimits::default()
        };
        assert_eq!(
            decode_with(limits, &client_frame(true, 2, &[0; 10])),
            Ok(vec![WsMessage::Binary(vec![0; 10])])
        );
        let error = WsError::MessageTooLarge { limit: 10 };
        assert_eq!(
            decode_with(limits, &client_frame(true, 2, &[0; 11])),
            Err(error.clone())
        );
        assert_eq!(error.close_code(), 1009);
        // Refused on the header, before the payload arrives.
        let frame = client_frame(true, 1, &[b'a'; 1000]);
        assert_eq!(Decoder::new(limits).decode(&frame[..8]), Err(error.clone()));
        // Over several fragments.
        let mut bytes = client_frame(false, 1, b"abcdef");
        bytes.extend(client_frame(true, 0, b"ghijk"));
        assert_eq!(decode_with(limits, &bytes), Err(error.clone()));
        // The default limit refuses a frame declaring 2^62 bytes.
        let huge = [0x82, 0xff, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
        assert_eq!(
            decode_all(&huge),
            Err(WsError::MessageTooLarge { limit: 16 << 20 })
        );
    }

    #[test]
    fn too_many_fragments_fails_with_1009() {
        let limits = DecoderLimits {
            max_fragments: 3,
            ..DecoderLimits::default()
        };
        let mut ok = client_frame(false, 1, b"a");
        ok.extend(client_frame(false, 0, b""));
        ok.extend(client_frame(true, 0, b"b"));
        assert_eq!(decode_with(limits, &ok), Ok(vec![text("ab")]));
        let mut bad = client_frame(false, 1, b"a");
        for _ in 0..3 {
            bad.extend(client_frame(false, 0, b""));
        }
        let error = WsError::TooManyFragments { limit: 3 };
        assert_eq!(decode_with(limits, &bad), Err(error.clone()));
        assert_eq!(error.close_code(), 1009);
        // Control frames in between do not count.
        let mut interleaved = client_frame(false, 1, b"a");
        for _ in 0..5 {
            interleaved.extend(client_frame(true, 9, b""));
        }
        interleaved.extend(client_frame(false, 0, b""));
        interleaved.extend(client_frame(true, 0, b"b"));
        assert_eq!(decode_with(limits, &interleaved).map(|m| m.len()), Ok(6));
    }

    #[test]
    fn close_payloads() {
        assert_eq!(
            decode_all(&client_frame(true, 8, b"")),
            Ok(vec![WsMessage::Close {
                code: None,
                reason: String::new()
            }])
        );
        let mut payload = 1000u16.to_be_bytes().to_vec();
        payload.extend_from_slice("bye ✓".as_bytes());
        assert_eq!(
            decode_all(&client_frame(true, 8, &payload)),
            Ok(vec![WsMessage::Close {
                code: Some(1000),
                reason: "bye ✓".to_owned()
            }])
        );
        for code in [3000u16, 4999, 1014] {
            let frame = client_frame(true, 8, &code.to_be_bytes());
            assert!(decode_all(&frame).is_ok(), "{code}");
        }
    }

    #[test]
    fn bad_close_payloads_fail_with_1002() {
        expect_error(
            &client_frame(true, 8, &[0x03]),
            WsError::CloseTooShort,
            1002,
        );
        for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
            expect_error(
                &client_frame(true, 8, &code.to_be_bytes()),
                WsError::InvalidCloseCode(code),
                1002,
            );
        }
        let mut payload = 1000u16.to_be_bytes().to_vec();
        payload.extend_from_slice(&[0xce, 0xba, 0xff]);
        expect_error(
            &client_frame(true, 8, &payload),
            WsError::InvalidCloseReason,
            1002,
        );
    }

    #[test]
    fn failure_is_sticky() {
        let mut decoder = Decoder::default();
        assert_eq!(decoder.decode(&[0x81, 0x05]), Err(WsError::Unmasked));
        let good = client_frame(true, 1, b"fine");
        assert_eq!(decoder.decode(&good), Err(WsError::Unmasked));
        assert_eq!(decoder.decode(&[]), Err(WsError::Unmasked));
    }

    // ---- property tests ----

    #[derive(Debug, Clone)]
    enum Sent {
        Text(String),
        Binary(Vec<u8>),
        Ping(Vec<u8>),
        Pong(Vec<u8>),
        Close(Option<(u16, String)>),
    }

    fn sent() -> impl Strategy<Value = Sent> {
        let code = prop_oneof![
            Just(1000u16),
            Just(1001),
            Just(1011),
            Just(1014),
            3000u16..5000
        ];
        prop_oneof![
            "\\PC{0,60}".prop_map(Sent::Text),
            proptest::collection::vec(any::<u8>(), 0..400).prop_map(Sent::Binary),
            proptest::collection::vec(any::<u8>(), 0..=125).prop_map(Sent::Ping),
            proptest::collection::vec(any::<u8>(), 0..=125).prop_map(Sent::Pong),
            proptest::option::of((code, "\\PC{0,30}")).prop_map(Sent::Close),
        ]
    }

    /// A small deterministic generator for fragmentation, masks and splits.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn mask(&mut self) -> [u8; 4] {
            (self.next() as u32).to_le_bytes()
        }
    }

    /// Encodes the messages as a client would: data messages cut into
    /// random fragments, with pings between some of them. Returns the bytes
    /// and the messages the decoder must yield, in order.
    fn encode_stream(messages: &[Sent], rng: &mut Rng) -> (Vec<u8>, Vec<WsMessage>) {
        let mut bytes = Vec::new();
        let mut want = Vec::new();
        for message in messages {
            let (opcode, payload) = match message {
                Sent::Text(s) => (1, s.as_bytes().to_vec()),
                Sent::Binary(b) => (2, b.clone()),
                Sent::Ping(p) => (9, p.clone()),
                Sent::Pong(p) => (10, p.clone()),
                Sent::Close(None) => (8, Vec::new()),
                Sent::Close(Some((code, reason))) => {
                    let mut p = code.to_be_bytes().to_vec();
                    p.extend_from_slice(reason.as_bytes());
                    (8, p)
                }
            };
            if opcode >= 8 {
                let mask = rng.mask();
                bytes.extend(client_frame_with(true, opcode, Some(mask), &payload, false));
            } else {
                let pieces = 1 + rng.below(5);
                let mut cuts: Vec<usize> =
                    (1..pieces).map(|_| rng.below(payload.len() + 1)).collect();
                cuts.push(payload.len());
                cuts.sort_unstable();
                let mut start = 0;
                for (i, &end) in cuts.iter().enumerate() {
                    let fin = i + 1 == cuts.len();
                    let op = if i == 0 { opcode } else { 0 };
                    let long = rng.below(8) == 0;
                    let mask = rng.mask();
                    bytes.extend(client_frame_with(
                        fin,
                        op,
                        Some(mask),
                        &payload[start..end],
                        long,
                    ));
                    start = end;
                    if !fin && rng.below(3) == 0 {
                        let ping = vec![i as u8; rng.below(10)];
                        bytes.extend(client_frame_with(true, 9, Some(rng.mask()), &ping, false));
                        want.push(WsMessage::Ping(ping));
                    }
                }
            }
            want.push(match message {
                Sent::Text(s) => WsMessage::Text(s.clone()),
                Sent::Binary(b) => WsMessage::Binary(b.clone()),
                Sent::Ping(p) => WsMessage::Ping(p.clone()),
                Sent::Pong(p) => WsMessage::Pong(p.clone()),
                Sent::Close(None) => WsMessage::Close {
                    code: None,
                    reason: String::new(),
                },
                Sent::Close(Some((code, reason))) => WsMessage::Close {
                    code: Some(*code),
                    reason: reason.clone(),
                },
            });
        }
        (bytes, want)
    }

    proptest! {
        #[test]
        fn round_trip_any_split(messages in proptest::collection::vec(sent(), 0..8), seed in 1u64..) {
            let mut rng = Rng(seed);
            let (bytes, want) = encode_stream(&messages, &mut rng);

            prop_assert_eq!(decode_all(&bytes), Ok(want.clone()));
            prop_assert_eq!(bytewise(&bytes), Ok(want.clone()));

            let mut chunks = Vec::new();
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                let n = 1 + rng.below(rest.len().min(64));
                let (chunk, tail) = rest.split_at(n);
                chunks.push(chunk);
                rest = tail;
            }
            prop_assert_eq!(feed(&mut Decoder::default(), &chunks), Ok(want));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512), split in 0usize..512) {
            let whole = decode_all(&bytes);
            let split = split.min(bytes.len());
            let (a, b) = bytes.split_at(split);
            let parts = feed(&mut Decoder::default(), &[a, b]);
            prop_assert_eq!(whole.clone(), parts);
            prop_assert_eq!(whole, bytewise(&bytes));
        }

        #[test]
        fn server_frames_decode_once_masked(payload in proptest::collection::vec(any::<u8>(), 0..70_000usize), mask in any::<[u8; 4]>()) {
            // A server frame, with the mask bit and key added, is the same
            // frame a client would send.
            let frame = encode_frame(Opcode::Binary, &payload).unwrap();
            let header = frame_header(Opcode::Binary, payload.len()).unwrap();
            prop_assert_eq!(&frame[..header.as_bytes().len()], header.as_bytes());
            let mut client = header.as_bytes().to_vec();
            client[1] |= 0x80;
            client.extend_from_slice(&mask);
            client.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
            prop_assert_eq!(decode_all(&client), Ok(vec![WsMessage::Binary(payload)]));
        }
    }
}
