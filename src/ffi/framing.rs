//! Framing helpers for C servers: keys, SSE, NDJSON, iframe, gaps.
//!
//! Message frames come from `pushbus_batch_frames` (encoded once per
//! message); these build the rest of a stream.

use std::cell::RefCell;
use std::ffi::c_char;

use super::{
    bytes_arg, guard, mut_arg, opt_str_arg, pushbus_buf, pushbus_key, pushbus_start,
    pushbus_status, str_arg,
};
use crate::position::{Position, Token};

/// Longest key text `pushbus_key_format` writes, in bytes.
pub const PUSHBUS_KEY_MAX_LEN: usize = 33;

/// Topic names in tokens are checked against this length (the longest any
/// configuration allows).
const TOKEN_TOPIC_LEN: usize = 1024;

thread_local! {
    /// A key's text on its way to the caller's buffer, kept: a C server
    /// formats a key for every POST it answers, and a buffer allocated and
    /// freed each time was a third of what formatting cost (callgrind).
    static KEY_TEXT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Writes `key` as text (`<epoch hex>-<seq>`, no NUL) to `buf` and its length
/// to `*out_len`. Errors: `PUSHBUS_NULL_POINTER`, `PUSHBUS_BUFFER_TOO_SMALL`
/// (`*out_len` then holds the size needed; at most `PUSHBUS_KEY_MAX_LEN`).
#[no_mangle]
pub extern "C" fn pushbus_key_format(
    key: pushbus_key,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> pushbus_status {
    guard!({
        // SAFETY: NULL or writable, per contract.
        let out_len = unsafe { mut_arg(out_len) }?;
        KEY_TEXT.with_borrow_mut(|text| {
            // Written as the frames write it: no `core::fmt`.
            text.clear();
            Position {
                epoch: key.epoch,
                seq: key.seq,
            }
            .write_key(text);
            *out_len = text.len();
            if buf.is_null() {
                return Err(pushbus_status::PUSHBUS_NULL_POINTER);
            }
            if cap < text.len() {
                return Err(pushbus_status::PUSHBUS_BUFFER_TOO_SMALL);
            }
            // SAFETY: `buf` has room for `cap >= text.len()` bytes, per
            // contract, and cannot overlap the Rust-owned `text`.
            unsafe { std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast(), text.len()) };
            Ok(())
        })
    })
}

/// Parses a key's text into `*out`. Errors: `PUSHBUS_NULL_POINTER`,
/// `PUSHBUS_INVALID_UTF8`, `PUSHBUS_BAD_TOKEN` (anything `pushbus_key_format`
/// would not have written, composite tokens included).
#[no_mangle]
pub extern "C" fn pushbus_key_parse(
    text: *const c_char,
    len: usize,
    out: *mut pushbus_key,
) -> pushbus_status {
    guard!({
        // SAFETY: pointers NULL or valid, per contract.
        let (text, out) = unsafe { (str_arg(text, len)?, mut_arg(out)?) };
        *out = Position::parse(text)?.into();
        Ok(())
    })
}

/// Checks that `text` is a key or a composite token. Errors:
/// `PUSHBUS_NULL_POINTER`, `PUSHBUS_INVALID_UTF8`, `PUSHBUS_BAD_TOKEN`.
#[no_mangle]
pub extern "C" fn pushbus_token_check(text: *const c_char, len: usize) -> pushbus_status {
    guard!({
        // SAFETY: NULL or valid for `len`, per contract.
        let text = unsafe { str_arg(text, len) }?;
        Token::parse(text, TOKEN_TOPIC_LEN)?;
        Ok(())
    })
}

/// Picks an EventSource's resume token: the `Last-Event-ID` header if given
/// (NULL: absent), else the `lastEventId` query parameter (NULL: absent).
/// Fills `*out` with `PUSHBUS_START_NOW` when neither is given, else with
/// `PUSHBUS_START_TOKEN` pointing at the chosen input (valid as long as it
/// is). Errors: `PUSHBUS_NULL_POINTER`, `PUSHBUS_BAD_TOKEN` (too long, CR,
/// LF or NUL, or unparsable: answer with a gap from the oldest message, not
/// an error status, which would end an EventSource for good).
#[no_mangle]
pub extern "C" fn pushbus_last_event_id(
    header: *const c_char,
    header_len: usize,
    query: *const c_char,
    query_len: usize,
    out: *mut pushbus_start,
) -> pushbus_status {
    guard!({
        // SAFETY: pointers NULL or valid for their lengths, per contract.
        let out = unsafe { mut_arg(out) }?;
        // SAFETY: as above.
        let header_bytes = if header.is_null() {
            None
        } else {
            Some(unsafe { bytes_arg(header.cast(), header_len) }?)
        };
        // SAFETY: as above.
        let query_text = unsafe { opt_str_arg(query, query_len) }?;
        let token = crate::sse::last_event_id(header_bytes, query_text, TOKEN_TOPIC_LEN)?;
        let (ptr, len) = match (token, header_bytes) {
            (None, _) => (std::ptr::null(), 0),
            (Some(_), Some(bytes)) if !bytes.is_empty() => (header, header_len),
            (Some(_), _) => (query, query_len),
        };
        let kind = if ptr.is_null() {
            super::PUSHBUS_START_NOW
        } else {
            super::PUSHBUS_START_TOKEN
        };
        *out = pushbus_start {
            kind,
            last_n: 0,
            token: ptr,
            token_len: len,
        };
        Ok(())
    })
}

/// Writes the first bytes of an SSE stream to `*out`: `retry: <retry_ms>`
/// and a comment of 2 KiB padding. Errors: `PUSHBUS_NULL_POINTER`.
#[no_mangle]
pub extern "C" fn pushbus_sse_preamble(retry_ms: u32, out: *mut pushbus_buf) -> pushbus_status {
    guard!({
        // SAFETY: NULL or writable, per contract.
        *unsafe { mut_arg(out) }? = pushbus_buf::from_vec(crate::sse::preamble(retry_ms));
        Ok(())
    })
}

/// Borrows a static byte string into `*data`, `*len`.
fn borrow_static(bytes: &'static [u8], data: *mut *const u8, len: *mut usize) -> pushbus_status {
    guard!({
        // SAFETY: pointers NULL or writable, per contract.
        let (data, len) = unsafe { (mut_arg(data)?, mut_arg(len)?) };
        *data = bytes.as_ptr();
        *len = bytes.len();
        Ok(())
    })
}

/// Borrows the SSE heartbeat (`: ping` and a blank line; static, never
/// freed). Send one at least every 15 s. Errors: `PUSHBUS_NULL_POINTER`.
#[no_mangle]
pub extern "C" fn pushbus_sse_heartbeat(data: *mut *const u8, len: *mut usize) -> pushbus_status {
    borrow_static(crate::sse::HEARTBEAT, data, len)
}

/// Writes one SSE event to `*out`: `id:` (NULL: none), `event:` (NULL:
/// none), one `data:` line per line of `data` (split on CR, LF and CRLF).
/// Errors: `PUSHBUS_NULL_POINTER`, `PUSHBUS_INVALID_UTF8`,
/// `PUSHBUS_INVALID_ARGUMENT` (an id with CR, LF or NUL),
/// `PUSHBUS_INVALID_EVENT`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn pushbus_sse_event(
    id: *const c_char,
    id_len: usize,
    event: *const c_char,
    event_len: usize,
    data: *const c_char,
    data_len: usize,
    out: *mut pushbus_buf,
) -> pushbus_status {
    guard!({
        // SAFETY: pointers NULL or valid for their lengths, per contract.
        let (id, event, data, out) = unsafe {
            (
                opt_str_arg(id, id_len)?,
                opt_str_arg(event, event_len)?,
                str_arg(data, data_len)?,
                mut_arg(out)?,
            )
        };
        let mut bytes = Vec::new();
        crate::sse::write_event(&mut bytes, id, event, data)?;
        *out = pushbus_buf::from_vec(bytes);
        Ok(())
    })
}

/// Writes a gap's JSON envelope to `*out`:
/// `{"event":"gap","topic":..,"from":<from, escaped>,"to":<key of to>}`.
/// `from` is the key the client sent, as it sent it. For SSE, send it with
/// `pushbus_sse_event` as event `gap` with id `to`. Errors:
/// `PUSHBUS_NULL_POINTER`, `PUSHBUS_INVALID_UTF8`.
#[no_mangle]
pub extern "C" fn pushbus_gap_envelope(
    topic: *const c_char,
    topic_len: usize,
    from: *const c_char,
    from_len: usize,
    to: pushbus_key,
    out: *mut pushbus_buf,
) -> pushbus_status {
    guard!({
        // SAFETY: pointers NULL or valid for their lengths, per contract.
        let (topic, from, out) = unsafe {
            (
                str_arg(topic, topic_len)?,
                str_arg(from, from_len)?,
                mut_arg(out)?,
            )
        };
        let to = Position {
            epoch: to.epoch,
            seq: to.seq,
        };
        *out = pushbus_buf::from_vec(crate::envelope::gap(topic, from, to));
        Ok(())
    })
}

/// Writes the first bytes of an XHR (NDJSON) stream to `*out`: a line of
/// 2 KiB of spaces. Errors: `PUSHBUS_NULL_POINTER`.
#[no_mangle]
pub extern "C" fn pushbus_xhr_preamble(out: *mut pushbus_buf) -> pushbus_status {
    guard!({
        // SAFETY: NULL or writable, per contract.
        *unsafe { mut_arg(out) }? = pushbus_buf::from_vec(crate::ndjson::preamble());
        Ok(())
    })
}

/// Checks an iframe callback name: `[A-Za-z_$][A-Za-z0-9_$.]{0,63}`; answer
/// anything else with 400 (a reflected-XSS vector). Errors:
/// `PUSHBUS_NULL_POINTER`, `PUSHBUS_INVALID_UTF8`, `PUSHBUS_INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn pushbus_iframe_check_callback(
    callback: *const c_char,
    len: usize,
) -> pushbus_status {
    guard!({
        // SAFETY: NULL or valid for `len`, per contract.
        crate::iframe::check_callback(unsafe { str_arg(callback, len) }?)?;
        Ok(())
    })
}

/// Writes the first bytes of an iframe stream to `*out`: a minimal HTML head
/// and 2 KiB of padding. Errors: `PUSHBUS_NULL_POINTER`.
#[no_mangle]
pub extern "C" fn pushbus_iframe_preamble(out: *mut pushbus_buf) -> pushbus_status {
    guard!({
        // SAFETY: NULL or writable, per contract.
        *unsafe { mut_arg(out) }? = pushbus_buf::from_vec(crate::iframe::preamble());
        Ok(())
    })
}

/// Writes `<script>parent.<callback>(` to `*out` after checking the
/// callback. A chunk is this, then an envelope (or `null` as a heartbeat),
/// then `pushbus_iframe_script_close`. Errors: `PUSHBUS_NULL_POINTER`,
/// `PUSHBUS_INVALID_UTF8`, `PUSHBUS_INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn pushbus_iframe_script_open(
    callback: *const c_char,
    len: usize,
    out: *mut pushbus_buf,
) -> pushbus_status {
    guard!({
        // SAFETY: pointers NULL or valid, per contract.
        let (callback, out) = unsafe { (str_arg(callback, len)?, mut_arg(out)?) };
        *out = pushbus_buf::from_vec(crate::iframe::script_open(callback)?);
        Ok(())
    })
}

/// Borrows the end of every iframe chunk, `)</script>` and a newline
/// (static, never freed). Errors: `PUSHBUS_NULL_POINTER`.
#[no_mangle]
pub extern "C" fn pushbus_iframe_script_close(
    data: *mut *const u8,
    len: *mut usize,
) -> pushbus_status {
    borrow_static(crate::iframe::SCRIPT_CLOSE, data, len)
}
