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
        let start = memchr::memchr(MARKER, bytes)?;
        let body = bytes.get(start + 1..start + STAMP_LEN)?;
        if body[HEX] != b'.' {
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

/// Each byte's value as one of `HEX_DIGITS`, or `INVALID`. A table, not a
/// match: the digits of a send time are random, and a branch a digit
/// mispredicted often enough to cost the load client 5 % of its time.
const HEX_VALUE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut digit = 0;
    while digit < 16 {
        table[HEX_DIGITS[digit] as usize] = digit as u8;
        digit += 1;
    }
    table
};
const INVALID: u8 = 0xff;

fn read_hex(digits: &[u8]) -> Option<u64> {
    let (mut value, mut invalid) = (0u64, 0u8);
    for &digit in digits {
        let nibble = HEX_VALUE[usize::from(digit)];
        invalid |= nibble & 0xf0;
        value = value << 4 | u64::from(nibble & 0x0f);
    }
    (invalid == 0).then_some(value)
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
}
