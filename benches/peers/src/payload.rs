//! The 64-byte payload every contender carries: a sequence number and the
//! publisher's send time, in ASCII so that it passes unchanged through JSON
//! (pushbus's chat envelope), SSE `data:` lines and binary protocols alike.
//!
//! Layout: `#` sequence (16 hex digits) `.` send time in ns (16 hex digits)
//! `.` then `x` up to 64 bytes. `#` appears nowhere else in an SSE event of
//! either server, so a receiver finds the payload wherever the server's
//! framing puts it.

/// Every payload's length, as the workloads ask.
pub const LEN: usize = 64;
/// The sequence number of readiness probes (see `net::workload`): never
/// counted as a delivery.
pub const PROBE: u64 = u64::MAX;
const MARKER: u8 = b'#';
const HEX: usize = 16;
/// The bytes at the start of a payload that hold its stamp.
pub const STAMP_LEN: usize = 2 + 2 * HEX;

/// What a payload says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub seq: u64,
    pub sent_ns: u64,
}

impl Stamp {
    pub fn is_probe(&self) -> bool {
        self.seq == PROBE
    }

    /// The payload bytes.
    pub fn encode(&self) -> [u8; LEN] {
        let mut out = [b'x'; LEN];
        out[0] = MARKER;
        write_hex(&mut out[1..1 + HEX], self.seq);
        out[1 + HEX] = b'.';
        write_hex(&mut out[2 + HEX..2 + 2 * HEX], self.sent_ns);
        out[2 + 2 * HEX] = b'.';
        out
    }

    /// Finds and decodes the payload anywhere in `bytes` (a raw payload, or
    /// an SSE event that embeds it).
    pub fn find(bytes: &[u8]) -> Option<Stamp> {
        Stamp::at(&bytes[memchr::memchr(MARKER, bytes)?..])
    }

    /// Decodes the payload at the start of `bytes`, which must begin with
    /// its marker.
    pub fn at(bytes: &[u8]) -> Option<Stamp> {
        let body = bytes.get(1..STAMP_LEN)?;
        if bytes[0] != MARKER || body[HEX] != b'.' {
            return None;
        }
        Some(Stamp {
            seq: read_hex(&body[..HEX])?,
            sent_ns: read_hex(&body[HEX + 1..])?,
        })
    }
}

fn write_hex(out: &mut [u8], value: u64) {
    for (i, byte) in out.iter_mut().enumerate() {
        let shift = 4 * (HEX - 1 - i);
        *byte = HEX_DIGITS[((value >> shift) & 0xf) as usize];
    }
}

/// The digits `write_hex` writes.
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Each byte of a word with its high bit, and with its low bit.
const HIGH: u64 = 0x8080_8080_8080_8080;
const LOW: u64 = 0x0101_0101_0101_0101;

/// The high bit of each byte of `word` (whose bytes are all below 0x80)
/// that is at least `n` (at most 0x80): no sum carries into the next byte.
const fn at_least(word: u64, n: u8) -> u64 {
    word.wrapping_add((0x80 - n as u64) * LOW) & HIGH
}

/// The value of 8 lowercase hex digits, the first the most significant, or
/// `None` if any byte is not one of `HEX_DIGITS`. All eight at once in a
/// word (SWAR): a digit at a time was a fifth of the load client's
/// instructions a delivery, a branch or a table load per digit.
fn read_hex8(digits: [u8; 8]) -> Option<u32> {
    let word = u64::from_le_bytes(digits);
    if word & HIGH != 0 {
        return None;
    }
    let decimal = at_least(word, b'0') & !at_least(word, b'9' + 1);
    let letter = at_least(word, b'a') & !at_least(word, b'f' + 1);
    if decimal | letter != HIGH {
        return None;
    }
    // Each byte's value: its low nibble, plus 9 for a letter ('a' is 0x61).
    let nibbles = (word & 0x0f0f_0f0f_0f0f_0f0f) + (letter >> 7) * 9;
    // Pairs of nibbles into bytes, pairs of bytes into 16 bits, then into
    // 32; the first digit read is the lowest byte (little-endian).
    let bytes = (nibbles & 0x000f_000f_000f_000f) << 4 | (nibbles & 0x0f00_0f00_0f00_0f00) >> 8;
    let halves = (bytes & 0x0000_00ff_0000_00ff) << 8 | (bytes & 0x00ff_0000_00ff_0000) >> 16;
    let value = (halves & 0x0000_0000_0000_ffff) << 16 | (halves & 0x0000_ffff_0000_0000) >> 32;
    Some(value as u32)
}

fn read_hex(digits: &[u8]) -> Option<u64> {
    let (high, low) = digits.split_at(HEX / 2);
    let high = read_hex8(high.try_into().ok()?)?;
    let low = read_hex8(low.try_into().ok()?)?;
    Some(u64::from(high) << 32 | u64::from(low))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_inside_other_bytes() {
        let stamp = Stamp {
            seq: 42,
            sent_ns: 0x0123_4567_89ab_cdef,
        };
        let payload = stamp.encode();
        assert_eq!(payload.len(), LEN);
        let mut event = b"id: 1-2\ndata: {\"text\":\"".to_vec();
        event.extend_from_slice(&payload);
        event.extend_from_slice(b"\"}\n\n");
        assert_eq!(Stamp::find(&event), Some(stamp));
        assert_eq!(Stamp::find(b"data: no payload"), None);
        // Not written by `encode`: upper case, a non-digit, a short stamp.
        for bad in [
            b"#00000000000000A1.0000000000000001.".as_slice(),
            b"#00000000000000g1.0000000000000001.",
            b"#00000000000000a1.000000000000001",
        ] {
            assert_eq!(Stamp::find(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn reads_every_hex_value_and_refuses_every_other_byte() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..10_000 {
            // xorshift: values with every digit in every place.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut digits = [0; HEX];
            write_hex(&mut digits, state);
            assert_eq!(read_hex(&digits), Some(state));
        }
        let valid = [b'0'; HEX];
        for place in 0..HEX {
            for byte in 0..=255u8 {
                let mut digits = valid;
                digits[place] = byte;
                let expected = HEX_DIGITS
                    .iter()
                    .position(|&digit| digit == byte)
                    .map(|value| (value as u64) << (4 * (HEX - 1 - place)));
                assert_eq!(read_hex(&digits), expected, "byte {byte:#04x} at {place}");
            }
        }
    }
}
