//! Redis pub/sub in RESP: `SUBSCRIBE` on a connection of its own per
//! subscriber, `PUBLISH` (each answered by the number of receivers; a
//! connection may pipeline them, as client libraries' pipelines do).

use super::scan::StampStream;
use super::wire::Wire;
use crate::Result;

/// Appends a RESP array of bulk strings to `out`.
fn command(out: &mut Vec<u8>, parts: &[&[u8]]) {
    let mut digits = itoa::Buffer::new();
    out.push(b'*');
    out.extend_from_slice(digits.format(parts.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for part in parts {
        out.push(b'$');
        out.extend_from_slice(digits.format(part.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(part);
        out.extend_from_slice(b"\r\n");
    }
}

/// `SUBSCRIBE topic`; returns once Redis confirms it.
pub async fn subscribe(addr: &str, topic: &str) -> Result<StampStream> {
    let mut wire = Wire::connect(addr).await?;
    let mut request = Vec::new();
    command(&mut request, &[b"SUBSCRIBE", topic.as_bytes()]);
    wire.write(&request).await?;
    // The confirmation ends with this connection's subscription count.
    wire.read_until(b":1\r\n").await?;
    Ok(StampStream::new(wire, false))
}

/// A publishing connection; like the HTTP publishers', its commands are
/// queued into one buffer it keeps, so that a publish allocates nothing.
pub struct Publisher {
    wire: Wire,
    /// Commands queued and not yet written.
    request: Vec<u8>,
    /// Commands written whose answers have not been read.
    unanswered: usize,
}

impl Publisher {
    pub async fn connect(addr: &str) -> Result<Self> {
        Ok(Publisher {
            wire: Wire::connect(addr).await?,
            request: Vec::new(),
            unanswered: 0,
        })
    }

    /// Queues a `PUBLISH`; nothing is written until [`send`](Self::send).
    pub fn queue(&mut self, topic: &str, payload: &[u8]) {
        command(&mut self.request, &[b"PUBLISH", topic.as_bytes(), payload]);
        self.unanswered += 1;
    }

    /// Writes every queued `PUBLISH` at once and reads their answers.
    pub async fn send(&mut self) -> Result<()> {
        self.wire.send(&mut self.request).await?;
        while self.unanswered > 0 {
            let reply = self.wire.read_line().await?;
            if reply.first() != Some(&b':') {
                return Err(format!("PUBLISH: {}", String::from_utf8_lossy(&reply)).into());
            }
            self.unanswered -= 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_resp_arrays_of_bulk_strings() {
        let mut out = Vec::new();
        command(&mut out, &[b"PUBLISH", b"t1", b"#payload"]);
        let one = b"*3\r\n$7\r\nPUBLISH\r\n$2\r\nt1\r\n$8\r\n#payload\r\n";
        assert_eq!(out, one);
        // Pipelined: a second command follows the first.
        command(&mut out, &[b"PUBLISH", b"t1", b"#payload"]);
        assert_eq!(out, [&one[..], &one[..]].concat());
    }
}
