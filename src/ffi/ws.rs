//! WebSocket helpers for C servers: handshake, server frames, and a
//! decoder of client frames (`pushbus_ws_decoder`).

use std::ffi::c_char;

use super::{bytes_arg, free_raw, guard, into_raw, mut_arg, pushbus_buf, pushbus_status, str_arg};
use crate::ws::{self, Decoder, DecoderLimits, Opcode, WsMessage};

/// Length of a `Sec-WebSocket-Accept` value.
pub const PUSHBUS_WS_ACCEPT_LEN: usize = 28;
/// Longest server frame header, in bytes.
pub const PUSHBUS_WS_HEADER_MAX_LEN: usize = 10;

/// Opcode: a text message.
pub const PUSHBUS_WS_TEXT: u32 = 1;
/// Opcode: a binary message.
pub const PUSHBUS_WS_BINARY: u32 = 2;
/// Opcode: a Close.
pub const PUSHBUS_WS_CLOSE: u32 = 8;
/// Opcode: a Ping.
pub const PUSHBUS_WS_PING: u32 = 9;
/// Opcode: a Pong.
pub const PUSHBUS_WS_PONG: u32 = 10;
/// `pushbus_ws_message.kind` when the input held no complete message yet.
pub const PUSHBUS_WS_NONE: u32 = 0;

fn opcode(code: u32) -> Result<Opcode, pushbus_status> {
    match code {
        PUSHBUS_WS_TEXT => Ok(Opcode::Text),
        PUSHBUS_WS_BINARY => Ok(Opcode::Binary),
        PUSHBUS_WS_CLOSE => Ok(Opcode::Close),
        PUSHBUS_WS_PING => Ok(Opcode::Ping),
        PUSHBUS_WS_PONG => Ok(Opcode::Pong),
        _ => Err(pushbus_status::PUSHBUS_INVALID_ARGUMENT),
    }
}

/// Writes the `Sec-WebSocket-Accept` value for a client's
/// `Sec-WebSocket-Key` to `out` (`PUSHBUS_WS_ACCEPT_LEN` bytes, no NUL).
/// Errors: `PUSHBUS_NULL_POINTER`, `PUSHBUS_INVALID_UTF8`,
/// `PUSHBUS_INVALID_ARGUMENT` (not the base64 of 16 bytes: answer 400).
#[no_mangle]
pub extern "C" fn pushbus_ws_accept(
    key: *const c_char,
    key_len: usize,
    out: *mut u8,
) -> pushbus_status {
    guard!({
        // SAFETY: NULL or valid for `key_len`, per contract.
        let key = unsafe { str_arg(key, key_len) }?;
        if out.is_null() {
            return Err(pushbus_status::PUSHBUS_NULL_POINTER);
        }
        if !ws::is_valid_client_key(key) {
            return Err(pushbus_status::PUSHBUS_INVALID_ARGUMENT);
        }
        let accept = ws::accept_key(key);
        debug_assert_eq!(accept.len(), PUSHBUS_WS_ACCEPT_LEN);
        // SAFETY: `out` has room for PUSHBUS_WS_ACCEPT_LEN bytes, per
        // contract, and the accept key is exactly that long.
        unsafe { std::ptr::copy_nonoverlapping(accept.as_ptr(), out, PUSHBUS_WS_ACCEPT_LEN) };
        Ok(())
    })
}

/// Writes the header of an unmasked, final server frame carrying
/// `payload_len` bytes to `out` (room for `PUSHBUS_WS_HEADER_MAX_LEN`) and
/// its length to `*out_len`: send it, then the payload (for a message, its
/// frames' `envelope`). Errors: `PUSHBUS_NULL_POINTER`,
/// `PUSHBUS_INVALID_ARGUMENT` (unknown opcode, control payload over 125).
#[no_mangle]
pub extern "C" fn pushbus_ws_frame_header(
    opcode_code: u32,
    payload_len: usize,
    out: *mut u8,
    out_len: *mut usize,
) -> pushbus_status {
    guard!({
        // SAFETY: NULL or writable, per contract.
        let out_len = unsafe { mut_arg(out_len) }?;
        if out.is_null() {
            return Err(pushbus_status::PUSHBUS_NULL_POINTER);
        }
        let header = ws::frame_header(opcode(opcode_code)?, payload_len)?;
        let bytes = header.as_bytes();
        // SAFETY: `out` has room for PUSHBUS_WS_HEADER_MAX_LEN bytes, per
        // contract, and a header is at most that long.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), out, bytes.len()) };
        *out_len = bytes.len();
        Ok(())
    })
}

/// Writes a whole unmasked server frame (header and payload) to `*out`.
/// Errors: `PUSHBUS_NULL_POINTER`, `PUSHBUS_INVALID_ARGUMENT` (unknown
/// opcode, control payload over 125 bytes).
#[no_mangle]
pub extern "C" fn pushbus_ws_frame(
    opcode_code: u32,
    payload: *const u8,
    payload_len: usize,
    out: *mut pushbus_buf,
) -> pushbus_status {
    guard!({
        // SAFETY: pointers NULL or valid, per contract.
        let (payload, out) = unsafe { (bytes_arg(payload, payload_len)?, mut_arg(out)?) };
        *out = pushbus_buf::from_vec(ws::encode_frame(opcode(opcode_code)?, payload)?);
        Ok(())
    })
}

/// Writes a Close frame with `code` and `reason` (truncated at a character
/// boundary to fit 125 bytes) to `*out`. Errors: `PUSHBUS_NULL_POINTER`,
/// `PUSHBUS_INVALID_UTF8`, `PUSHBUS_INVALID_ARGUMENT` (a code a server may
/// not send).
#[no_mangle]
pub extern "C" fn pushbus_ws_close_frame(
    code: u16,
    reason: *const c_char,
    reason_len: usize,
    out: *mut pushbus_buf,
) -> pushbus_status {
    guard!({
        // SAFETY: pointers NULL or valid, per contract.
        let (reason, out) = unsafe { (str_arg(reason, reason_len)?, mut_arg(out)?) };
        if !ws::is_valid_close_code(code) {
            return Err(pushbus_status::PUSHBUS_INVALID_ARGUMENT);
        }
        *out = pushbus_buf::from_vec(ws::encode_close(code, reason));
        Ok(())
    })
}

/// A decoder of one connection's client frames (opaque). Not thread-safe:
/// one thread at a time.
pub struct pushbus_ws_decoder {
    decoder: Decoder,
    /// The last message returned, which `pushbus_ws_message` points into.
    last: Option<WsMessage>,
}

/// A message decoded from a client. `data` points into the decoder and is
/// valid until its next `pushbus_ws_decode` or its free.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pushbus_ws_message {
    /// `PUSHBUS_WS_NONE` (no complete message yet), or a `PUSHBUS_WS_*` opcode.
    pub kind: u32,
    /// Close: the code, or 0 when the Close had none. On
    /// `PUSHBUS_WS_PROTOCOL`: the code to close the connection with.
    pub close_code: u16,
    /// Text (UTF-8, validated), binary, ping or pong payload, or a close reason.
    pub data: *const u8,
    /// Its length.
    pub len: usize,
}

/// Creates a decoder with limits (0: the default, 16 MiB per message and
/// 65,536 fragments) and writes it to `*out`. Errors: `PUSHBUS_NULL_POINTER`.
#[no_mangle]
pub extern "C" fn pushbus_ws_decoder_new(
    max_message_bytes: usize,
    max_fragments: usize,
    out: *mut *mut pushbus_ws_decoder,
) -> pushbus_status {
    guard!({
        // SAFETY: NULL or writable, per contract.
        let out = unsafe { mut_arg(out) }?;
        let defaults = DecoderLimits::default();
        let limits = DecoderLimits {
            max_message_bytes: if max_message_bytes == 0 {
                defaults.max_message_bytes
            } else {
                max_message_bytes
            },
            max_fragments: if max_fragments == 0 {
                defaults.max_fragments
            } else {
                max_fragments
            },
        };
        *out = into_raw(pushbus_ws_decoder {
            decoder: Decoder::new(limits),
            last: None,
        });
        Ok(())
    })
}

/// Frees a decoder. NULL does nothing.
#[no_mangle]
pub extern "C" fn pushbus_ws_decoder_free(decoder: *mut pushbus_ws_decoder) {
    guard!({
        // SAFETY: NULL or a decoder from pushbus_ws_decoder_new, not yet freed.
        unsafe { free_raw(decoder) };
        Ok(())
    });
}

/// Decodes client frames from `input`: consumes what it can, writes the
/// byte count to `*consumed` and at most one complete message to `*out`
/// (kind `PUSHBUS_WS_NONE` when none is complete: then all input was
/// consumed). Call again with the rest while a message comes out.
/// Errors: `PUSHBUS_NULL_POINTER`; `PUSHBUS_WS_PROTOCOL` when the client
/// broke RFC 6455 (unmasked frame, reserved bits, bad opcode, bad control
/// frame or fragmentation, invalid UTF-8, message too large): then
/// `out->close_code` says how to close (1002, 1007 or 1009), and the decoder
/// refuses everything after.
#[no_mangle]
pub extern "C" fn pushbus_ws_decode(
    decoder: *mut pushbus_ws_decoder,
    input: *const u8,
    input_len: usize,
    consumed: *mut usize,
    out: *mut pushbus_ws_message,
) -> pushbus_status {
    guard!({
        // SAFETY: pointers NULL or valid, per contract; the decoder is used
        // by this thread only.
        let (decoder, input, consumed, out) = unsafe {
            (
                mut_arg(decoder)?,
                bytes_arg(input, input_len)?,
                mut_arg(consumed)?,
                mut_arg(out)?,
            )
        };
        let (used, message) = match decoder.decoder.decode(input) {
            Ok(result) => result,
            Err(error) => {
                *out = pushbus_ws_message {
                    kind: PUSHBUS_WS_NONE,
                    close_code: error.close_code(),
                    data: std::ptr::null(),
                    len: 0,
                };
                return Err(pushbus_status::PUSHBUS_WS_PROTOCOL);
            }
        };
        *consumed = used;
        decoder.last = message;
        *out = match &decoder.last {
            None => pushbus_ws_message {
                kind: PUSHBUS_WS_NONE,
                close_code: 0,
                data: std::ptr::null(),
                len: 0,
            },
            Some(message) => {
                let (kind, close_code, data): (u32, u16, &[u8]) = match message {
                    WsMessage::Text(text) => (PUSHBUS_WS_TEXT, 0, text.as_bytes()),
                    WsMessage::Binary(bytes) => (PUSHBUS_WS_BINARY, 0, bytes),
                    WsMessage::Ping(bytes) => (PUSHBUS_WS_PING, 0, bytes),
                    WsMessage::Pong(bytes) => (PUSHBUS_WS_PONG, 0, bytes),
                    WsMessage::Close { code, reason } => {
                        (PUSHBUS_WS_CLOSE, code.unwrap_or(0), reason.as_bytes())
                    }
                };
                pushbus_ws_message {
                    kind,
                    close_code,
                    data: data.as_ptr(),
                    len: data.len(),
                }
            }
        };
        Ok(())
    })
}
