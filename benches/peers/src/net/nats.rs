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
    wire.read_until(b"\r\n").await?; // the server's INFO line
    wire.write(CONNECT).await?;
    Ok(wire)
}

/// Sends `PING`, waits for the `PONG`, answering the server's own pings.
async fn round_trip(wire: &mut Wire) -> Result<()> {
    wire.write(b"PING\r\n").await?;
    loop {
        let line = wire.read_until(b"\r\n").await?;
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

pub struct Publisher(Wire);

impl Publisher {
    pub async fn connect(addr: &str) -> Result<Self> {
        Ok(Publisher(connect(addr).await?))
    }

    pub async fn publish(&mut self, topic: &str, payload: &[u8]) -> Result<()> {
        let mut message = format!("PUB {topic} {}\r\n", payload.len()).into_bytes();
        message.extend_from_slice(payload);
        message.extend_from_slice(b"\r\n");
        self.0.write(&message).await
    }

    /// Waits until the server has read everything published.
    pub async fn flush(&mut self) -> Result<()> {
        round_trip(&mut self.0).await
    }
}
