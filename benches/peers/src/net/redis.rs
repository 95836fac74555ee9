//! Redis pub/sub in RESP: `SUBSCRIBE` on a connection of its own per
//! subscriber, `PUBLISH` (one at a time per connection, as a client
//! library's connection would send them, each answered by the number of
//! receivers).

use super::scan::StampStream;
use super::wire::Wire;
use crate::Result;

/// Writes a RESP array of bulk strings into `out`, which it clears.
fn command(out: &mut Vec<u8>, parts: &[&[u8]]) {
    let mut digits = itoa::Buffer::new();
    out.clear();
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

/// A publishing connection; like the HTTP publishers', its requests are
/// written into one buffer it keeps, so that a publish allocates nothing.
pub struct Publisher {
    wire: Wire,
    request: Vec<u8>,
}

impl Publisher {
    pub async fn connect(addr: &str) -> Result<Self> {
        Ok(Publisher {
            wire: Wire::connect(addr).await?,
            request: Vec::new(),
        })
    }

    pub async fn publish(&mut self, topic: &str, payload: &[u8]) -> Result<()> {
        command(&mut self.request, &[b"PUBLISH", topic.as_bytes(), payload]);
        self.wire.write(&self.request).await?;
        let reply = self.wire.read_line().await?;
        match reply.first() {
            Some(b':') => Ok(()),
            _ => Err(format!("PUBLISH: {}", String::from_utf8_lossy(&reply)).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_resp_arrays_of_bulk_strings() {
        let mut out = b"stale".to_vec();
        command(&mut out, &[b"PUBLISH", b"t1", b"#payload"]);
        assert_eq!(
            out,
            b"*3\r\n$7\r\nPUBLISH\r\n$2\r\nt1\r\n$8\r\n#payload\r\n"
        );
    }
}
