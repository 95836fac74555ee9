//! Checking that bytes are UTF-8, with a fast path for ASCII.
//!
//! Topic names, event types and most payloads are ASCII. `str::from_utf8`
//! goes a byte at a time until it reaches an aligned word, which on a
//! 20-byte topic name was most of its cost (two calls and the payload's
//! check were 314 of the 8,383 instructions a POST cost the C server:
//! callgrind). `<[u8]>::is_ascii` reads whole words from the start.

/// `bytes` as text, if they are UTF-8.
pub(crate) fn utf8(bytes: &[u8]) -> Option<&str> {
    if bytes.is_ascii() {
        // SAFETY: ASCII is valid UTF-8.
        return Some(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    std::str::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte value at every place of a short and a word-long text
    /// gives what `str::from_utf8` gives, and two-byte sequences too.
    #[test]
    fn agrees_with_from_utf8() {
        for byte in 0..=255u8 {
            for len in [1, 7, 8, 9, 17, 24] {
                for place in 0..len {
                    let mut bytes = vec![b'a'; len];
                    bytes[place] = byte;
                    assert_eq!(utf8(&bytes), std::str::from_utf8(&bytes).ok());
                    if place + 1 < len {
                        bytes[place + 1] = 0x80;
                        assert_eq!(utf8(&bytes), std::str::from_utf8(&bytes).ok());
                    }
                }
            }
        }
        assert_eq!(utf8("zé→😀".as_bytes()), Some("zé→😀"));
        assert_eq!(utf8(b""), Some(""));
    }
}
