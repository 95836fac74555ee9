//! NATS core in its text protocol: a connection per subscriber (`SUB`),
//! and `PUB`, which the server does not answer (NATS publishers stream);
//! a `PING` answered by `PONG` marks that the server has read everything
//! before it.

use super::scan::StampStream;
use super::wire::Wire;
use crate::Result;

const CONNECT: &[u8] = b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n";

async fn connect(addr: &str) -> Result<Wire> {
    let mut wire = Wire::connect(addr).await?;
    wire.read_line().await?; // the server's INFO line
    wire.write(CONNECT).await?;
    Ok(wire)
}

/// Sends `PING`, waits for the `PONG`, answering the server's own pings.
async fn round_trip(wire: &mut Wire) -> Result<()> {
    wire.write(b"PING\r\n").await?;
    loop {
        let line = wire.read_line().await?;
        match &line[..] {
            b"PONG" => return Ok(()),
            b"PING" => wire.write(b"PONG\r\n").await?,
            _ if line.starts_with(b"-ERR") => {
                return Err(String::from_utf8_lossy(&line).into_owned().into())
            }
            _ => {}
        }
    }
}

/// `SUB topic 1`; returns once the server holds the subscription.
pub async fn subscribe(addr: &str, topic: &str) -> Result<StampStream> {
    let mut wire = connect(addr).await?;
    wire.write(format!("SUB {topic} 1\r\n").as_bytes()).await?;
    round_trip(&mut wire).await?;
    Ok(StampStream::new(wire, true))
}

/// A publishing connection; its `PUB`s are queued into one buffer it
/// keeps, so that a publish allocates nothing.
pub struct Publisher {
    wire: Wire,
    /// `PUB`s queued and not yet written.
    messages: Vec<u8>,
}

impl Publisher {
    pub async fn connect(addr: &str) -> Result<Self> {
        Ok(Publisher {
            wire: connect(addr).await?,
            messages: Vec::new(),
        })
    }

    /// Queues a `PUB`; nothing is written until [`send`](Self::send).
    pub fn queue(&mut self, topic: &str, payload: &[u8]) {
        pub_message(&mut self.messages, topic, payload);
    }

    /// Writes every queued `PUB` at once.
    pub async fn send(&mut self) -> Result<()> {
        self.wire.send(&mut self.messages).await
    }

    /// Waits until the server has read everything published.
    pub async fn flush(&mut self) -> Result<()> {
        round_trip(&mut self.wire).await
    }
}

/// Appends `PUB <topic> <length>`, then the payload, to `out`.
fn pub_message(out: &mut Vec<u8>, topic: &str, payload: &[u8]) {
    out.extend_from_slice(b"PUB ");
    out.extend_from_slice(topic.as_bytes());
    out.push(b' ');
    out.extend_from_slice(itoa::Buffer::new().format(payload.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pub_messages_carry_their_length() {
        let mut out = Vec::new();
        pub_message(&mut out, "t1", b"#payload");
        assert_eq!(out, b"PUB t1 8\r\n#payload\r\n");
        pub_message(&mut out, "t2", b"#");
        assert_eq!(out, b"PUB t1 8\r\n#payload\r\nPUB t2 1\r\n#\r\n");
    }
}
