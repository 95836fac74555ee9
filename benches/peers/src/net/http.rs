//! HTTP/1.1 over one keep-alive connection ([`Wire`]): publishing POSTs,
//! and the GET that opens an event stream. (hyper's client, tried first,
//! hands every body chunk from a connection task to the reader: with one SSE
//! event per chunk the load client, not the server, was the limit.)
//! Response heads are parsed by httparse; bodies are delimited by
//! Content-Length, chunked encoding or the end of the connection.
//!
//! POSTs may be pipelined: queued into one request buffer, written at once,
//! then their responses read in order. Requests are written into a buffer
//! and response bodies read into another, both kept by the connection, and
//! headers are read as bytes, so that a POST allocates nothing. (Formatting each request and copying response headers into
//! strings cost the load client more per delivery with pushbus than with
//! Redis: with a core each, the client, not the server, set W1's rate.)

use std::mem::MaybeUninit;

use bytes::{Buf, BytesMut};

use super::wire::Wire;
use crate::Result;

const MAX_HEADERS: usize = 32;

pub struct Connection {
    wire: Wire,
    host: String,
    /// Requests queued and not yet written; the buffer is kept.
    request: Vec<u8>,
    /// Requests written (or queued) whose responses have not been read.
    unanswered: usize,
    /// The last POST response's body, reused by every POST.
    body: Vec<u8>,
    /// The content type of the last POST, and its [`post_head`] (boxed:
    /// a connection is moved around inside every event stream).
    post_head: Box<(String, Vec<u8>)>,
}

/// What a response head says about its body.
#[derive(Debug, PartialEq)]
enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

/// A response head.
#[derive(Debug, PartialEq)]
struct Head {
    status: u16,
    framing: Framing,
    /// `Connection: close`: the server closes after this response.
    closes: bool,
}

impl Head {
    /// Parses the response head at the start of `bytes`: the head and its
    /// length, or `None` while it is incomplete. Of a repeated header, the
    /// last counts.
    fn parse(bytes: &[u8]) -> Result<Option<(Head, usize)>> {
        // Left uninitialized (httparse writes those it parses): zeroing all
        // of them, twice a POST, was 2 % of the load client's instructions.
        let mut headers = [const { MaybeUninit::uninit() }; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut []);
        let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
            &mut response,
            bytes,
            &mut headers,
        )?;
        let httparse::Status::Complete(length) = parsed else {
            return Ok(None);
        };
        let (mut chunked, mut content_length, mut closes) = (false, None, false);
        for header in response.headers.iter() {
            let (name, value) = (header.name, header.value);
            if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = contains_ignore_case(value, b"chunked");
            } else if name.eq_ignore_ascii_case("content-length") {
                content_length = Some(std::str::from_utf8(value.trim_ascii())?.parse()?);
            } else if name.eq_ignore_ascii_case("connection") {
                closes = contains_ignore_case(value, b"close");
            }
        }
        let framing = if chunked {
            Framing::Chunked
        } else if let Some(length) = content_length {
            Framing::Length(length)
        } else {
            Framing::UntilClose
        };
        let status = response.code.unwrap_or(0);
        let head = Head {
            status,
            framing,
            closes,
        };
        Ok(Some((head, length)))
    }
}

/// Whether `value` contains `word` (lower case), in any case.
fn contains_ignore_case(value: &[u8], word: &[u8]) -> bool {
    value
        .windows(word.len())
        .any(|window| window.eq_ignore_ascii_case(word))
}

/// Starts a request at the end of `out`: the request line, whose target is
/// `path`'s parts one after the other, and the Host header.
fn start_request(out: &mut Vec<u8>, method: &str, path: &[&str], host: &str) {
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    for part in path {
        out.extend_from_slice(part.as_bytes());
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    header(out, "Host", host.as_bytes());
}

/// One header line.
fn header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// What follows a POST's target up to its Content-Length value: the same
/// for every POST of a connection with one content type, so built once and
/// copied whole, not field by field a POST (3,559 -> 3,436 load client
/// instructions a delivery at W1 with one subscriber: callgrind).
fn post_head(host: &str, content_type: &str) -> Vec<u8> {
    let mut out = b" HTTP/1.1\r\n".to_vec();
    header(&mut out, "Host", host.as_bytes());
    header(&mut out, "Content-Type", content_type.as_bytes());
    out.extend_from_slice(b"Content-Length: ");
    out
}

/// Appends a POST whose path and body are the given parts, each one after
/// the other; `head` is [`post_head`]'s.
fn post_request(out: &mut Vec<u8>, head: &[u8], path: &[&str], body: &[&[u8]]) {
    out.extend_from_slice(b"POST ");
    for part in path {
        out.extend_from_slice(part.as_bytes());
    }
    out.extend_from_slice(head);
    let length = body.iter().map(|part| part.len()).sum::<usize>();
    out.extend_from_slice(itoa::Buffer::new().format(length).as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    for part in body {
        out.extend_from_slice(part);
    }
}

/// A GET of an event stream, resumed after `last_event_id` when given, in
/// `out`, which it clears.
fn stream_request(out: &mut Vec<u8>, host: &str, path: &str, last_event_id: Option<&str>) {
    out.clear();
    start_request(out, "GET", &[path], host);
    header(out, "Accept", b"text/event-stream");
    if let Some(id) = last_event_id {
        header(out, "Last-Event-ID", id.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

impl Connection {
    pub async fn open(addr: &str) -> Result<Connection> {
        Ok(Connection {
            wire: Wire::connect(addr).await?,
            host: addr.to_owned(),
            request: Vec::new(),
            unanswered: 0,
            body: Vec::new(),
            post_head: Default::default(),
        })
    }

    async fn head(&mut self) -> Result<Head> {
        loop {
            if let Some((head, length)) = Head::parse(&self.wire.buffer)? {
                self.wire.buffer.advance(length);
                return Ok(head);
            }
            if !self.wire.fill().await? {
                return Err("connection closed before a response".into());
            }
        }
    }

    /// Queues a POST of a body made of `body`'s parts to the path made of
    /// `path`'s parts (parts, so that a caller need not join them); nothing
    /// is written until [`send`](Self::send).
    pub fn queue_post(&mut self, path: &[&str], content_type: &str, body: &[&[u8]]) {
        if self.post_head.0 != content_type {
            *self.post_head = (content_type.to_owned(), post_head(&self.host, content_type));
        }
        post_request(&mut self.request, &self.post_head.1, path, body);
        self.unanswered += 1;
    }

    /// Writes every queued request at once.
    pub async fn send(&mut self) -> Result<()> {
        self.wire.send(&mut self.request).await
    }

    /// Requests whose responses have not been read.
    pub fn unanswered(&self) -> usize {
        self.unanswered
    }

    /// Reads the response to the oldest request sent: its status and body,
    /// kept until the next response. Reconnects after a response that
    /// closes the connection, which is an error while requests behind it
    /// are still unanswered.
    pub async fn answer(&mut self) -> Result<(u16, &[u8])> {
        let head = self.head().await?;
        self.body.clear();
        match head.framing {
            Framing::Length(length) => {
                while self.wire.buffer.len() < length {
                    if !self.wire.fill().await? {
                        return Err("connection closed in a response body".into());
                    }
                }
                self.body.extend_from_slice(&self.wire.buffer[..length]);
                self.wire.buffer.advance(length);
            }
            Framing::Chunked => {
                let mut chunks = Dechunker::default();
                while !chunks.done() {
                    chunks.decode(&mut self.wire.buffer, |data| {
                        self.body.extend_from_slice(data)
                    })?;
                    if !chunks.done() && !self.wire.fill().await? {
                        return Err("connection closed in a response body".into());
                    }
                }
            }
            Framing::UntilClose => return Err("a POST response must be delimited".into()),
        }
        self.unanswered -= 1;
        if head.closes {
            if self.unanswered > 0 {
                let lost = self.unanswered;
                return Err(format!(
                    "the server closed the connection, {lost} requests unanswered"
                )
                .into());
            }
            self.wire = Wire::connect(&self.host).await?;
        }
        Ok((head.status, &self.body))
    }

    /// Opens an event stream: a GET answered `200`.
    pub async fn stream(mut self, path: &str, last_event_id: Option<&str>) -> Result<Body> {
        stream_request(&mut self.request, &self.host, path, last_event_id);
        self.wire.write(&self.request).await?;
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
    fn writes_the_requests_a_format_would() {
        let mut out = Vec::new();
        let payload = [b'x'; 64];
        let body: [&[u8]; 3] = [br#"{"text":""#, &payload, b"\"}"];
        let head = post_head("127.0.0.1:80", "application/json");
        post_request(&mut out, &head, &["/rooms/", "t1", "/messages"], &body);
        let body = body.concat();
        let formatted = format!(
            "POST /rooms/t1/messages HTTP/1.1\r\nHost: 127.0.0.1:80\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let one = [formatted.as_bytes(), &body].concat();
        assert_eq!(out, one);
        // Pipelined: a second POST follows the first.
        post_request(&mut out, &head, &["/rooms/", "t1", "/messages"], &[&body]);
        assert_eq!(out, [&one[..], &one[..]].concat());

        stream_request(&mut out, "h:1", "/sub/t1", None);
        assert_eq!(
            out,
            b"GET /sub/t1 HTTP/1.1\r\nHost: h:1\r\nAccept: text/event-stream\r\n\r\n"
        );
        stream_request(&mut out, "h:1", "/sub/t1", Some("7"));
        let resumed = b"GET /sub/t1 HTTP/1.1\r\nHost: h:1\r\nAccept: text/event-stream\r\nLast-Event-ID: 7\r\n\r\n";
        assert_eq!(out, resumed);
    }

    /// `wire` parsed, with the length of its head.
    fn parse(wire: &[u8]) -> (Head, usize) {
        Head::parse(wire).unwrap().expect("a complete head")
    }

    #[test]
    fn parses_response_heads() {
        let created = b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 23\r\nConnection: keep-alive\r\n\r\n{\"id\":";
        let head = Head {
            status: 201,
            framing: Framing::Length(23),
            closes: false,
        };
        assert_eq!(parse(created), (head, created.len() - 6));

        // Names and values in any case; chunked wins over a length.
        let chunked = b"HTTP/1.1 200 OK\r\ncontent-LENGTH: 5\r\nTRANSFER-Encoding: gzip, Chunked\r\nCONNECTION: Close\r\n\r\n";
        let head = Head {
            status: 200,
            framing: Framing::Chunked,
            closes: true,
        };
        assert_eq!(parse(chunked), (head, chunked.len()));

        let padded =
            b"HTTP/1.1 500 Oops\r\nContent-Length:  7 \r\nConnection: keep-alive, Upgrade\r\n\r\n";
        assert_eq!(parse(padded).0.framing, Framing::Length(7));
        assert!(!parse(padded).0.closes);
        let until_close = b"HTTP/1.0 200 OK\r\nServer: closes\r\n\r\n";
        assert_eq!(parse(until_close).0.framing, Framing::UntilClose);
    }

    #[test]
    fn waits_for_a_whole_head_and_rejects_bad_lengths() {
        let cut = b"HTTP/1.1 201 Created\r\nContent-Length: 23\r\n";
        assert_eq!(Head::parse(cut).unwrap(), None);
        for length in ["-1", "2x", "", "99999999999999999999999"] {
            let wire = format!("HTTP/1.1 201 Created\r\nContent-Length: {length}\r\n\r\n");
            assert!(Head::parse(wire.as_bytes()).is_err(), "{length:?}");
        }
    }

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
