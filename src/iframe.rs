//! Hidden-iframe streaming framing (RFC 6202 3.2).
//!
//! Each message is one complete `<script>parent.F(<envelope>)</script>`
//! chunk. The callback name `F` comes from the client's URL, so it is a
//! reflected-XSS vector: [`check_callback`] accepts only
//! `[A-Za-z_$][A-Za-z0-9_$.]{0,63}`. The envelope is script-safe by
//! construction (see [`crate::envelope`]).

use crate::error::{Error, Result};

/// Bytes of padding in [`preamble`], before the first script: some
/// browsers render nothing of a streamed document before 1 KiB.
const PADDING_BYTES: usize = 2048;

/// Checks a callback name: `[A-Za-z_$][A-Za-z0-9_$.]{0,63}`.
pub fn check_callback(callback: &str) -> Result<()> {
    let bytes = callback.as_bytes();
    let valid_start = bytes
        .first()
        .is_some_and(|&b| b.is_ascii_alphabetic() || b == b'_' || b == b'$');
    let valid_rest = bytes
        .iter()
        .skip(1)
        .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b'.'));
    if valid_start && valid_rest && bytes.len() <= 64 {
        Ok(())
    } else {
        Err(Error::InvalidArgument(
            "callback must match [A-Za-z_$][A-Za-z0-9_$.]{0,63}".to_owned(),
        ))
    }
}

/// The document's start: a minimal HTML head, then a comment of padding.
pub fn preamble() -> Vec<u8> {
    let mut out = b"<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body><!--".to_vec();
    out.resize(out.len() + PADDING_BYTES, b' ');
    out.extend_from_slice(b"-->\n");
    out
}

/// `<script>parent.F(` for a checked callback.
pub fn script_open(callback: &str) -> Result<Vec<u8>> {
    check_callback(callback)?;
    Ok(format!("<script>parent.{callback}(").into_bytes())
}

/// The end of every script chunk.
pub const SCRIPT_CLOSE: &[u8] = b")</script>\n";

/// A whole chunk: `<script>parent.F(<json>)</script>`. `json` must be
/// script-safe (an envelope, or `null` for a heartbeat).
pub fn script(callback: &str, json: &[u8]) -> Result<Vec<u8>> {
    let mut out = script_open(callback)?;
    out.extend_from_slice(json);
    out.extend_from_slice(SCRIPT_CLOSE);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callbacks_are_validated() {
        for ok in ["f", "_", "$", "a.b.c", "cb$1", &"a".repeat(64)] {
            assert_eq!(check_callback(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "1a",
            ".a",
            "a(b)",
            "alert(1);f",
            "a b",
            "</script>",
            "a-b",
            "é",
            &"a".repeat(65),
        ] {
            assert!(check_callback(bad).is_err(), "{bad:?}");
            assert!(script(bad, b"null").is_err());
        }
    }

    #[test]
    fn chunks_wrap_the_json() {
        assert_eq!(
            script("p.cb", b"null").unwrap(),
            b"<script>parent.p.cb(null)</script>\n"
        );
        let preamble = preamble();
        assert!(preamble.len() > PADDING_BYTES && preamble.ends_with(b"-->\n"));
    }
}
