//! HTTP/1.1 over one keep-alive connection ([`Wire`]): publishing POSTs,
//! and the GET that opens an event stream. (hyper's client, tried first,
//! hands every body chunk from a connection task to the reader: with one SSE
//! event per chunk the load client, not the server, was the limit.)
//! Response heads are parsed by httparse; bodies are delimited by
//! Content-Length, chunked encoding or the end of the connection.

use bytes::{Buf, BytesMut};

use super::wire::Wire;
use crate::Result;

const MAX_HEADERS: usize = 32;

pub struct Connection {
    wire: Wire,
    host: String,
}

/// What a response head says about its body.
enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

/// A response head.
struct Head {
    status: u16,
    framing: Framing,
    /// `Connection: close`: the server closes after this response.
    closes: bool,
}

impl Connection {
    pub async fn open(addr: &str) -> Result<Connection> {
        Ok(Connection {
            wire: Wire::connect(addr).await?,
            host: addr.to_owned(),
        })
    }

    async fn send(&mut self, head: String, body: &[u8]) -> Result<()> {
        let mut request = head.into_bytes();
        request.extend_from_slice(body);
        self.wire.write(&request).await
    }

    async fn head(&mut self) -> Result<Head> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut response = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(length) = response.parse(&self.wire.buffer)? {
                let status = response.code.unwrap_or(0);
                let value = |name: &str| {
                    response
                        .headers
                        .iter()
                        .find(|header| header.name.eq_ignore_ascii_case(name))
                        .map(|header| String::from_utf8_lossy(header.value).to_ascii_lowercase())
                };
                let framing = if value("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
                    Framing::Chunked
                } else if let Some(length) = value("content-length") {
                    Framing::Length(length.trim().parse()?)
                } else {
                    Framing::UntilClose
                };
                let closes = value("connection").is_some_and(|v| v.contains("close"));
                self.wire.buffer.advance(length);
                return Ok(Head {
                    status,
                    framing,
                    closes,
                });
            }
            if !self.wire.fill().await? {
                return Err("connection closed before a response".into());
            }
        }
    }

    /// POSTs `body`; returns the status and the response body. Reconnects
    /// after a response that closes the connection.
    pub async fn post(
        &mut self,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<(u16, Vec<u8>)> {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            self.host,
            body.len()
        );
        self.send(head, body).await?;
        let head = self.head().await?;
        let mut body = Vec::new();
        match head.framing {
            Framing::Length(length) => {
                while self.wire.buffer.len() < length {
                    if !self.wire.fill().await? {
                        return Err("connection closed in a response body".into());
                    }
                }
                body.extend_from_slice(&self.wire.buffer.split_to(length));
            }
            Framing::Chunked => {
                let mut chunks = Dechunker::default();
                while !chunks.done() {
                    chunks.decode(&mut self.wire.buffer, |data| body.extend_from_slice(data))?;
                    if !chunks.done() && !self.wire.fill().await? {
                        return Err("connection closed in a response body".into());
                    }
                }
            }
            Framing::UntilClose => return Err("a POST response must be delimited".into()),
        }
        if head.closes {
            *self = Connection::open(&self.host).await?;
        }
        Ok((head.status, body))
    }

    /// Opens an event stream: a GET answered `200`.
    pub async fn stream(mut self, path: &str, last_event_id: Option<&str>) -> Result<Body> {
        let resume = last_event_id
            .map(|id| format!("Last-Event-ID: {id}\r\n"))
            .unwrap_or_default();
        let head = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n{resume}\r\n",
            self.host
        );
        self.send(head, b"").await?;
        let head = self.head().await?;
        if head.status != 200 {
            return Err(format!("GET {path}: status {}", head.status).into());
        }
        let chunks = matches!(head.framing, Framing::Chunked).then(Dechunker::default);
        Ok(Body {
            connection: self,
            chunks,
        })
    }
}

/// A streaming response body.
pub struct Body {
    connection: Connection,
    chunks: Option<Dechunker>,
}

impl Body {
    /// Passes the body bytes buffered so far to `data`; false once the
    /// body has ended.
    pub fn drain(&mut self, mut data: impl FnMut(&[u8])) -> Result<bool> {
        let buffer = &mut self.connection.wire.buffer;
        match &mut self.chunks {
            Some(chunks) => {
                chunks.decode(buffer, &mut data)?;
                Ok(!chunks.done())
            }
            None => {
                data(buffer);
                buffer.clear();
                Ok(true)
            }
        }
    }

    /// Waits for more bytes; false once the connection has ended.
    pub async fn fill(&mut self) -> Result<bool> {
        self.connection.wire.fill().await
    }

    /// When the last read returned ([`Wire::received_ns`]).
    pub fn received_ns(&self) -> u64 {
        self.connection.wire.received_ns()
    }
}

/// Decodes `Transfer-Encoding: chunked` incrementally.
#[derive(Debug, Default)]
struct Dechunker {
    state: Chunk,
}

#[derive(Debug, Default, PartialEq)]
enum Chunk {
    /// Expecting a size line.
    #[default]
    Size,
    /// Inside a chunk, this many bytes left.
    Data(usize),
    /// The CRLF after a chunk's data.
    DataEnd,
    /// The last (empty) chunk was read.
    Done,
}

impl Dechunker {
    fn done(&self) -> bool {
        self.state == Chunk::Done
    }

    /// Decodes what `buffer` holds, consuming it; a cut size line stays.
    fn decode(&mut self, buffer: &mut BytesMut, mut data: impl FnMut(&[u8])) -> Result<()> {
        loop {
            match self.state {
                Chunk::Size => {
                    // A size line ends in CRLF; memchr for its LF, as a
                    // memmem search builds a searcher each call.
                    let Some(lf) = memchr::memchr(b'\n', buffer) else {
                        return Ok(());
                    };
                    let end = lf.checked_sub(1).filter(|&cr| buffer[cr] == b'\r');
                    let end = end.ok_or("a chunk size line must end in CRLF")?;
                    let line = &buffer[..end];
                    let hex = line.split(|&byte| byte == b';').next().unwrap_or(line);
                    let size = usize::from_str_radix(std::str::from_utf8(hex.trim_ascii())?, 16)?;
                    buffer.advance(end + 2);
                    // The last chunk's trailer section is never used here.
                    self.state = if size == 0 {
                        Chunk::Done
                    } else {
                        Chunk::Data(size)
                    };
                }
                Chunk::Data(left) => {
                    if buffer.is_empty() {
                        return Ok(());
                    }
                    let take = left.min(buffer.len());
                    data(&buffer[..take]);
                    buffer.advance(take);
                    self.state = if take == left {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(left - take)
                    };
                }
                Chunk::DataEnd => {
                    if buffer.len() < 2 {
                        return Ok(());
                    }
                    if &buffer[..2] != b"\r\n" {
                        return Err("chunk data not followed by CRLF".into());
                    }
                    buffer.advance(2);
                    self.state = Chunk::Size;
                }
                Chunk::Done => return Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dechunks_across_any_cut() {
        let wire = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n";
        for cut in 0..wire.len() {
            let mut chunks = Dechunker::default();
            let (mut out, mut buffer) = (Vec::new(), BytesMut::new());
            for part in [&wire[..cut], &wire[cut..]] {
                buffer.extend_from_slice(part);
                chunks
                    .decode(&mut buffer, |data| out.extend_from_slice(data))
                    .unwrap();
            }
            assert_eq!(out, b"hello, world", "cut at {cut}");
            assert!(chunks.done());
        }
    }

    #[test]
    fn rejects_malformed_size_lines() {
        for wire in [&b"5\nhello\r\n"[..], b"\nhello", b"zz\r\nhello\r\n"] {
            let mut buffer = BytesMut::from(wire);
            let result = Dechunker::default().decode(&mut buffer, |_| {});
            assert!(result.is_err(), "{:?}", String::from_utf8_lossy(wire));
        }
    }
}
