//! XHR streaming framing (RFC 6202 3.2): newline-delimited JSON.
//!
//! Each message is its envelope followed by `\n` (see
//! [`Frames::ndjson`](crate::frames::Frames::ndjson)): messages are
//! delimited by the application, never by HTTP chunks, which proxies may
//! re-chunk. Readers skip blank lines, so the prelude and the heartbeat are
//! whitespace.

/// Bytes of padding in [`preamble`]: browsers expose a streaming response
/// to `onprogress` only after the first kilobytes.
const PADDING_BYTES: usize = 2048;

/// The first bytes of a stream: a line of spaces.
pub fn preamble() -> Vec<u8> {
    let mut out = vec![b' '; PADDING_BYTES];
    out.push(b'\n');
    out
}

/// A heartbeat: an empty line.
pub const HEARTBEAT: &[u8] = b"\n";

#[cfg(test)]
mod tests {
    #[test]
    fn the_preamble_is_one_blank_line_of_padding() {
        let preamble = super::preamble();
        assert_eq!(preamble.len(), super::PADDING_BYTES + 1);
        assert!(preamble.trim_ascii().is_empty() && preamble.ends_with(b"\n"));
    }
}
