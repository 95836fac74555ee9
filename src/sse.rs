//! Server-Sent Events framing (WHATWG HTML, "Server-sent events").
//!
//! Guarantees:
//! - no field written here can start another field or event: `id:` values
//!   and comments are refused if they hold CR, LF or NUL, event types must
//!   be 1-64 of `[A-Za-z0-9_.:-]`, and data is split into one `data:` line
//!   per line, on CR, LF and CRLF alike, so `"a\r\nb"` arrives
//!   in the browser as `"a\nb"`;
//! - `retry:` is ASCII digits only;
//! - every frame is a whole event ending in a blank line, so a connection
//!   cut between frames loses nothing the client would have kept.

use crate::error::{Error, Result};
use crate::name::check_event;
use crate::position::{Token, MAX_TOKEN_LEN};

/// Bytes of padding in [`preamble`]: enough for every browser and proxy
/// to start rendering the stream at once.
const PADDING_BYTES: usize = 2048;

/// The first bytes of a stream: `retry: <ms>`, then a comment of padding.
pub fn preamble(retry_ms: u32) -> Vec<u8> {
    let mut out = format!("retry: {retry_ms}\n:").into_bytes();
    out.resize(out.len() + PADDING_BYTES, b' ');
    out.extend_from_slice(b"\n\n");
    out
}

/// A heartbeat comment: `: ping`, which every client ignores and every
/// proxy counts as traffic.
pub const HEARTBEAT: &[u8] = b": ping\n\n";

/// Checks an `id:` or comment value: no CR, LF or NUL.
fn check_field(value: &str, what: &str) -> Result<()> {
    if value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return Err(Error::InvalidArgument(format!(
            "an SSE {what} must not hold CR, LF or NUL"
        )));
    }
    Ok(())
}

/// Writes one event: `id:` (if any), `event:` (if any), one `data:` line per
/// line of `data`, and the blank line that ends the event. Errors:
/// [`Error::InvalidArgument`] for an id with CR, LF or NUL,
/// [`Error::InvalidEvent`] for a bad event type.
pub fn write_event(
    out: &mut Vec<u8>,
    id: Option<&str>,
    event: Option<&str>,
    data: &str,
) -> Result<()> {
    if let Some(id) = id {
        check_field(id, "id")?;
    }
    if let Some(event) = event {
        check_event(event)?;
    }
    if let Some(id) = id {
        out.extend_from_slice(b"id: ");
        out.extend_from_slice(id.as_bytes());
        out.push(b'\n');
    }
    if let Some(event) = event {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(event.as_bytes());
        out.push(b'\n');
    }
    let mut rest = data.as_bytes();
    loop {
        let end = rest
            .iter()
            .position(|&b| b == b'\r' || b == b'\n')
            .unwrap_or(rest.len());
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(&rest[..end]);
        out.push(b'\n');
        if end == rest.len() {
            break;
        }
        let skip = if rest[end] == b'\r' && rest.get(end + 1) == Some(&b'\n') {
            2
        } else {
            1
        };
        rest = &rest[end + skip..];
    }
    out.push(b'\n');
    Ok(())
}

/// A comment line (ignored by clients). Errors: [`Error::InvalidArgument`]
/// for CR, LF or NUL.
pub fn comment(text: &str) -> Result<Vec<u8>> {
    check_field(text, "comment")?;
    Ok(format!(": {text}\n\n").into_bytes())
}

/// Longest `Last-Event-ID` accepted, in bytes.
pub const MAX_LAST_EVENT_ID: usize = MAX_TOKEN_LEN;

/// The resume token of a reconnecting EventSource: the `Last-Event-ID`
/// header if present, else the `lastEventId` query parameter (sent by
/// polyfills). `Ok(None)`: neither was given (start live). Errors:
/// [`Error::BadToken`] when the value is too long, holds CR, LF or NUL, or
/// does not parse; streams answer that with a gap from the oldest message,
/// never an error status (which would end an EventSource for good).
pub fn last_event_id(
    header: Option<&[u8]>,
    query: Option<&str>,
    max_topic_len: usize,
) -> Result<Option<Token>> {
    let Some(raw) = header.or(query.map(str::as_bytes)) else {
        return Ok(None);
    };
    if raw.is_empty() {
        return Ok(None);
    }
    if raw.len() > MAX_LAST_EVENT_ID {
        return Err(Error::BadToken(format!(
            "Last-Event-ID longer than {MAX_LAST_EVENT_ID} bytes"
        )));
    }
    if raw.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0)) {
        return Err(Error::BadToken(
            "Last-Event-ID holds CR, LF or NUL".to_owned(),
        ));
    }
    let text = std::str::from_utf8(raw)
        .map_err(|_| Error::BadToken("Last-Event-ID is not UTF-8".to_owned()))?;
    Token::parse(text, max_topic_len).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::position::Position;

    fn event(id: Option<&str>, name: Option<&str>, data: &str) -> String {
        let mut out = Vec::new();
        write_event(&mut out, id, name, data).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn data_lines_split_on_cr_lf_and_crlf() {
        assert_eq!(event(None, None, "a\r\nb"), "data: a\ndata: b\n\n");
        assert_eq!(
            event(None, None, "a\rb\nc"),
            "data: a\ndata: b\ndata: c\n\n"
        );
        assert_eq!(event(None, None, "a\n\nb"), "data: a\ndata: \ndata: b\n\n");
        assert_eq!(event(None, None, "a\r\r\n"), "data: a\ndata: \ndata: \n\n");
        assert_eq!(event(None, None, ""), "data: \n\n");
        assert_eq!(
            event(Some("k-1"), Some("join"), "x"),
            "id: k-1\nevent: join\ndata: x\n\n"
        );
    }

    #[test]
    fn hostile_ids_events_and_comments_are_refused() {
        let mut out = Vec::new();
        for id in ["a\nevent: x", "a\r", "a\0"] {
            assert!(matches!(
                write_event(&mut out, Some(id), None, "d"),
                Err(Error::InvalidArgument(_))
            ));
        }
        for name in ["x\n\ndata: y", "x\r", "", "a b"] {
            assert!(matches!(
                write_event(&mut out, None, Some(name), "d"),
                Err(Error::InvalidEvent(_))
            ));
        }
        assert!(out.is_empty(), "nothing written on error");
        assert!(comment("a\nb").is_err());
        assert_eq!(comment("hi").unwrap(), b": hi\n\n");
    }

    #[test]
    fn preamble_has_retry_digits_and_padding() {
        let preamble = preamble(3000);
        assert!(preamble.starts_with(b"retry: 3000\n:"));
        assert!(preamble.ends_with(b"\n\n"));
        assert!(preamble.len() > PADDING_BYTES);
        assert_eq!(HEARTBEAT, b": ping\n\n");
    }

    #[test]
    fn last_event_id_header_wins_and_garbage_is_refused() {
        let key = Position {
            epoch: 0xab,
            seq: 3,
        };
        let other = Position {
            epoch: 0xab,
            seq: 9,
        };
        assert_eq!(last_event_id(None, None, 128), Ok(None));
        assert_eq!(last_event_id(Some(b""), None, 128), Ok(None));
        assert_eq!(
            last_event_id(None, Some("ab-3"), 128),
            Ok(Some(Token::Key(key)))
        );
        assert_eq!(
            last_event_id(Some(b"ab-9"), Some("ab-3"), 128),
            Ok(Some(Token::Key(other)))
        );
        for bad in [&b"ab-3\n"[..], b"ab-3\0", b"ab-3\r", b"garbage", b"\xff"] {
            assert!(
                matches!(last_event_id(Some(bad), None, 128), Err(Error::BadToken(_))),
                "{bad:?}"
            );
        }
        let long = vec![b'a'; MAX_LAST_EVENT_ID + 1];
        assert!(matches!(
            last_event_id(Some(&long), None, 128),
            Err(Error::BadToken(_))
        ));
    }
}
