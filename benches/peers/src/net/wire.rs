//! A TCP connection with one read buffer: the bare socket under every
//! loopback client. Redis and NATS are driven through it directly, with
//! the few commands the benchmarks need (`SUBSCRIBE`, `PUBLISH`; `CONNECT`,
//! `SUB`, `PUB`, `PING`): no client library's buffering or task hand-offs
//! are measured, for any contender. (The redis crate's PubSub stream and
//! async-nats's Subscriber, tried first, pass every message through a
//! channel between tasks: the load client used a whole core at 0.6 M
//! deliveries a second.)

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::clock::now_ns;
use crate::Result;

const READ_SIZE: usize = 64 * 1024;

pub struct Wire {
    socket: TcpStream,
    pub buffer: BytesMut,
    /// When the last read returned (`now_ns`): the receive time of every
    /// byte it brought, read once a read rather than once a delivery (the
    /// clock was 5 % of the load client's time), and without the client's
    /// own parsing in it.
    received_ns: u64,
}

impl Wire {
    pub async fn connect(addr: &str) -> Result<Wire> {
        let socket = TcpStream::connect(addr).await?;
        socket.set_nodelay(true)?;
        Ok(Wire {
            socket,
            buffer: BytesMut::with_capacity(READ_SIZE),
            received_ns: now_ns(),
        })
    }

    /// When the last read returned.
    pub fn received_ns(&self) -> u64 {
        self.received_ns
    }

    pub async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        Ok(self.socket.write_all(bytes).await?)
    }

    /// Writes what a connection queued (pipelined requests) at once, and
    /// empties the queue, whose buffer the connection keeps.
    pub async fn send(&mut self, queued: &mut Vec<u8>) -> Result<()> {
        if !queued.is_empty() {
            self.write(queued).await?;
            queued.clear();
        }
        Ok(())
    }

    /// Reads more bytes into the buffer; false at the end of the stream.
    pub async fn fill(&mut self) -> Result<bool> {
        self.buffer.reserve(READ_SIZE);
        let read = self.socket.read_buf(&mut self.buffer).await?;
        self.received_ns = now_ns();
        Ok(read > 0)
    }

    /// Reads one line ended by CRLF; consumes it and returns it without the
    /// CRLF. (Found with `memchr` for the LF: a `memmem` search is set up
    /// on every call, and a publish's answer is one short line.)
    pub async fn read_line(&mut self) -> Result<BytesMut> {
        loop {
            if let Some(lf) = memchr::memchr(b'\n', &self.buffer) {
                if lf == 0 || self.buffer[lf - 1] != b'\r' {
                    return Err("a line not ended by CRLF".into());
                }
                let line = self.buffer.split_to(lf - 1);
                self.buffer.advance(2);
                return Ok(line);
            }
            if !self.fill().await? {
                return Err("the connection closed".into());
            }
        }
    }

    /// Reads until the buffer holds `token`; consumes the buffer up to and
    /// including it, and returns what preceded it.
    pub async fn read_until(&mut self, token: &[u8]) -> Result<BytesMut> {
        loop {
            if let Some(at) = memchr::memmem::find(&self.buffer, token) {
                let before = self.buffer.split_to(at);
                self.buffer.advance(token.len());
                return Ok(before);
            }
            if !self.fill().await? {
                return Err("the connection closed".into());
            }
        }
    }
}
