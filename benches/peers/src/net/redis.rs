//! Redis pub/sub in RESP: `SUBSCRIBE` on a connection of its own per
//! subscriber, `PUBLISH` (one at a time per connection, as a client
//! library's connection would send them, each answered by the number of
//! receivers).

use super::scan::StampStream;
use super::wire::Wire;
use crate::Result;

/// A RESP array of bulk strings.
fn command(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", parts.len()).into_bytes();
    for part in parts {
        out.extend_from_slice(format!("${}\r\n", part.len()).as_bytes());
        out.extend_from_slice(part);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// `SUBSCRIBE topic`; returns once Redis confirms it.
pub async fn subscribe(addr: &str, topic: &str) -> Result<StampStream> {
    let mut wire = Wire::connect(addr).await?;
    wire.write(&command(&[b"SUBSCRIBE", topic.as_bytes()]))
        .await?;
    // The confirmation ends with this connection's subscription count.
    wire.read_until(b":1\r\n").await?;
    Ok(StampStream::new(wire, false))
}

pub struct Publisher(Wire);

impl Publisher {
    pub async fn connect(addr: &str) -> Result<Self> {
        Ok(Publisher(Wire::connect(addr).await?))
    }

    pub async fn publish(&mut self, topic: &str, payload: &[u8]) -> Result<()> {
        self.0
            .write(&command(&[b"PUBLISH", topic.as_bytes(), payload]))
            .await?;
        let reply = self.0.read_until(b"\r\n").await?;
        match reply.first() {
            Some(b':') => Ok(()),
            _ => Err(format!("PUBLISH: {}", String::from_utf8_lossy(&reply)).into()),
        }
    }
}
