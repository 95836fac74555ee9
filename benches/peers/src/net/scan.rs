//! Subscribers that find payloads by scanning the bytes the server sends
//! (Redis and NATS): `#` starts a stamp, and neither protocol's framing
//! around our topic names contains `#`. No per-message allocation.

use std::collections::VecDeque;

use bytes::{Buf, BytesMut};

use super::wire::Wire;
use crate::payload::{Stamp, STAMP_LEN};

pub struct StampStream {
    wire: Wire,
    ready: VecDeque<Stamp>,
    /// NATS servers ping idle clients and drop those that do not answer.
    answer_pings: bool,
}

impl StampStream {
    pub fn new(wire: Wire, answer_pings: bool) -> Self {
        StampStream {
            wire,
            ready: VecDeque::new(),
            answer_pings,
        }
    }

    /// When the read that carried the last payload returned.
    pub fn received_ns(&self) -> u64 {
        self.wire.received_ns()
    }

    /// The payloads already read and scanned, in order.
    pub fn take_ready(&mut self) -> impl Iterator<Item = Stamp> + '_ {
        self.ready.drain(..)
    }

    /// The next payload received; `None` once the connection has ended.
    pub async fn next(&mut self) -> Option<Stamp> {
        loop {
            if let Some(stamp) = self.ready.pop_front() {
                return Some(stamp);
            }
            if !self.wire.fill().await.ok()? {
                return None;
            }
            if self.answer_pings && memchr::memmem::find(&self.wire.buffer, b"PING\r\n").is_some() {
                self.wire.write(b"PONG\r\n").await.ok()?;
            }
            scan(&mut self.wire.buffer, &mut self.ready);
        }
    }
}

/// Moves every whole stamp in `buffer` to `ready`, keeping only a stamp cut
/// by the end of the read.
fn scan(buffer: &mut BytesMut, ready: &mut VecDeque<Stamp>) {
    let mut from = 0;
    while let Some(found) = memchr::memchr(b'#', &buffer[from..]) {
        let at = from + found;
        if buffer.len() - at < STAMP_LEN {
            buffer.advance(at);
            return;
        }
        if let Some(stamp) = Stamp::find(&buffer[at..at + STAMP_LEN]) {
            ready.push_back(stamp);
        }
        from = at + 1;
    }
    buffer.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_stamps_in_resp_and_nats_frames_across_reads() {
        let stamps = [
            Stamp {
                seq: 1,
                sent_ns: 10,
            },
            Stamp {
                seq: 2,
                sent_ns: 20,
            },
        ];
        let mut wire = Vec::new();
        for stamp in &stamps {
            wire.extend_from_slice(b"*3\r\n$7\r\nmessage\r\n$5\r\nbench\r\n$64\r\n");
            wire.extend_from_slice(&stamp.encode());
            wire.extend_from_slice(b"\r\nMSG bench 1 64\r\n");
        }
        for cut in 0..wire.len() {
            let (mut buffer, mut ready) = (BytesMut::new(), VecDeque::new());
            for part in [&wire[..cut], &wire[cut..]] {
                buffer.extend_from_slice(part);
                scan(&mut buffer, &mut ready);
            }
            assert_eq!(Vec::from(ready), stamps, "cut at {cut}");
        }
    }
}
