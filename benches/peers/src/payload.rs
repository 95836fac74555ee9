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
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (i, byte) in out.iter_mut().enumerate() {
        let shift = 4 * (HEX - 1 - i);
        *byte = DIGITS[((value >> shift) & 0xf) as usize];
    }
}

/// Lower-case hex only, as `write_hex` writes it: one comparison chain a
/// digit (this runs twice a delivery in the load client).
fn read_hex(digits: &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for &digit in digits {
        let nibble = match digit {
            b'0'..=b'9' => digit - b'0',
            b'a'..=b'f' => digit - b'a' + 10,
            _ => return None,
        };
        value = value << 4 | u64::from(nibble);
    }
    Some(value)
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
