//! A Server-Sent Events reader that keeps only what the benchmarks need:
//! each event's kind, the payload stamp in its `data:` and the last `id:`.
//! Lines end in LF or CRLF (what pushbus and nchan send).

use std::collections::VecDeque;

use super::http::Body;
use crate::payload::Stamp;

/// What a subscriber receives, whatever the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Message(Stamp),
    /// The server says messages were lost (pushbus's `event: gap`).
    Gap,
}

/// The event line of every pushbus message.
const MESSAGE_EVENT_LINE: &[u8] = b"event: message\n";
/// The starts of the other lines read on the fast path, as pushbus and
/// nchan write them.
const DATA_PREFIX: &[u8] = b"data: ";
const ID_PREFIX: &[u8] = b"id: ";

#[derive(Default)]
pub struct Parser {
    /// The start of a line cut by the end of a read.
    partial: Vec<u8>,
    gap: bool,
    other_event: bool,
    stamp: Option<Stamp>,
    last_id: Vec<u8>,
}

impl Parser {
    /// Parses `bytes`, appending each complete event's delivery to `out`.
    pub fn feed(&mut self, mut bytes: &[u8], out: &mut VecDeque<Delivery>) {
        if !self.partial.is_empty() {
            // First the line the last read cut.
            let Some(end) = memchr::memchr(b'\n', bytes) else {
                return self.partial.extend_from_slice(bytes);
            };
            let mut line = std::mem::take(&mut self.partial);
            line.extend_from_slice(&bytes[..end]);
            self.line(&line, out);
            line.clear();
            self.partial = line;
            bytes = &bytes[end + 1..];
        }
        while let Some(&first) = bytes.first() {
            // Half of an event's lines, the blank line and pushbus's
            // `event: message`, are known from their first bytes: no search
            // for their end (a search a line was a quarter of the client's
            // instructions a delivery).
            if first == b'\n' {
                self.dispatch(out);
                bytes = &bytes[1..];
            } else if let Some(rest) = bytes.strip_prefix(MESSAGE_EVENT_LINE) {
                self.event(b"message");
                bytes = rest;
            } else if let Some(rest) = bytes
                .strip_prefix(DATA_PREFIX)
                .and_then(|value| self.data(value))
            {
                bytes = rest;
            } else if let Some(rest) = bytes
                .strip_prefix(ID_PREFIX)
                .and_then(|value| self.id(value))
            {
                bytes = rest;
            } else if let Some(end) = memchr::memchr(b'\n', bytes) {
                self.line(&bytes[..end], out);
                bytes = &bytes[end + 1..];
            } else {
                return self.partial.extend_from_slice(bytes);
            }
        }
    }

    /// A whole `data: ` line, from its value on: reads its stamp if the
    /// event has none yet, and returns what follows the line (`None` when
    /// the read cut it, for the slow path). One pass finds the stamp's
    /// marker or the line's end, whichever comes first; the search for the
    /// end goes on from the marker. Searching the line for its end, then
    /// again for the marker, read the first half of a pushbus line twice
    /// (900 → 847 client instructions a delivery at W1 with 1,000
    /// subscribers, with the `id: ` fast path; callgrind).
    fn data<'a>(&mut self, value: &'a [u8]) -> Option<&'a [u8]> {
        let first = memchr::memchr2(b'#', b'\n', value)?;
        let end = if value[first] == b'\n' {
            first
        } else {
            first + memchr::memchr(b'\n', &value[first..])?
        };
        if self.stamp.is_none() && first < end {
            self.stamp = Stamp::at(&value[first..end]);
        }
        Some(&value[end + 1..])
    }

    /// A whole `id: ` line, from its value on; `None` when the read cut it.
    fn id<'a>(&mut self, value: &'a [u8]) -> Option<&'a [u8]> {
        let end = memchr::memchr(b'\n', value)?;
        self.set_id(&value[..end]);
        Some(&value[end + 1..])
    }

    fn set_id(&mut self, value: &[u8]) {
        let value = value.strip_suffix(b"\r").unwrap_or(value);
        self.last_id.clear();
        self.last_id.extend_from_slice(value);
    }

    /// The `id:` of the last event that had one.
    pub fn last_id(&self) -> &[u8] {
        &self.last_id
    }

    fn line(&mut self, line: &[u8], out: &mut VecDeque<Delivery>) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return self.dispatch(out);
        }
        // The three fields read here, matched by name: cheaper than
        // searching every line for its colon. Comments and other fields
        // are skipped.
        if let Some(value) = field(line, b"data") {
            if self.stamp.is_none() {
                self.stamp = Stamp::find(value);
            }
        } else if let Some(value) = field(line, b"event") {
            self.event(value);
        } else if let Some(value) = field(line, b"id") {
            self.set_id(value);
        }
    }

    fn event(&mut self, kind: &[u8]) {
        self.gap = kind == b"gap";
        self.other_event = kind != b"message" && !self.gap;
    }

    fn dispatch(&mut self, out: &mut VecDeque<Delivery>) {
        if self.gap {
            out.push_back(Delivery::Gap);
        } else if let (Some(stamp), false) = (self.stamp, self.other_event) {
            out.push_back(Delivery::Message(stamp));
        }
        // Presence (join, leave), the preamble and anything without a
        // payload are not deliveries.
        self.gap = false;
        self.other_event = false;
        self.stamp = None;
    }
}

/// The value of `line` when it is field `name`: `name:value`, `name: value`
/// (one leading space dropped) or a bare `name` (an empty value).
fn field<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    match line.strip_prefix(name)?.split_first() {
        None => Some(b""),
        Some((b':', value)) => Some(value.strip_prefix(b" ").unwrap_or(value)),
        Some(_) => None, // a longer name: `datum:`, `identity:`
    }
}

/// An open event stream.
pub struct Stream {
    body: Body,
    parser: Parser,
    ready: VecDeque<Delivery>,
}

impl Stream {
    pub fn new(body: Body) -> Self {
        Stream {
            body,
            parser: Parser::default(),
            ready: VecDeque::new(),
        }
    }

    /// When the read that carried the last delivery returned.
    pub fn received_ns(&self) -> u64 {
        self.body.received_ns()
    }

    /// The deliveries already read and parsed, in order.
    pub fn take_ready(&mut self) -> impl Iterator<Item = Delivery> + '_ {
        self.ready.drain(..)
    }

    /// The next delivery; `None` once the stream has ended or failed.
    pub async fn next(&mut self) -> Option<Delivery> {
        loop {
            if let Some(delivery) = self.ready.pop_front() {
                return Some(delivery);
            }
            let (parser, ready) = (&mut self.parser, &mut self.ready);
            let open = self.body.drain(|data| parser.feed(data, ready)).ok()?;
            if ready.is_empty() && !(open && self.body.fill().await.ok()?) {
                return None;
            }
        }
    }

    pub fn last_id(&self) -> &[u8] {
        self.parser.last_id()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(chunks: &[&[u8]]) -> (Vec<Delivery>, Vec<u8>) {
        let mut parser = Parser::default();
        let mut out = VecDeque::new();
        for chunk in chunks {
            parser.feed(chunk, &mut out);
        }
        (out.into(), parser.last_id().to_vec())
    }

    #[test]
    fn reads_messages_gaps_and_ids_across_reads() {
        let stamp = Stamp { seq: 7, sent_ns: 9 };
        let payload = stamp.encode();
        let mut stream =
            b"retry: 3000\n: padding\n\nid: a-1\nevent: message\ndata: {\"text\":\"".to_vec();
        stream.extend_from_slice(&payload);
        stream.extend_from_slice(
            b"\"}\r\n\r\nevent: join\ndata: {}\n\nid: a-2\nevent: gap\ndata: {}\n\n",
        );
        let (cut_a, cut_b) = stream.split_at(40);
        let (deliveries, id) = parse(&[cut_a, cut_b]);
        assert_eq!(deliveries, vec![Delivery::Message(stamp), Delivery::Gap]);
        assert_eq!(id, b"a-2");
    }

    #[test]
    fn any_cut_into_three_reads_parses_as_one_read() {
        let mut stream = b"retry: 3000\n: pad\n\nid: a-1\nevent: message\ndata: ".to_vec();
        stream.extend_from_slice(&Stamp { seq: 1, sent_ns: 2 }.encode());
        stream.extend_from_slice(b"\n\nid: a-2\r\nevent: message\r\ndata: ");
        stream.extend_from_slice(&Stamp { seq: 3, sent_ns: 4 }.encode());
        stream.extend_from_slice(b"\r\n\r\nevent: messages\ndata: ");
        stream.extend_from_slice(&Stamp { seq: 5, sent_ns: 6 }.encode());
        stream.extend_from_slice(b"\n\nevent: message\nid: a-3\nevent: gap\n\n");
        let whole = parse(&[&stream]);
        assert_eq!(
            whole,
            (
                vec![
                    Delivery::Message(Stamp { seq: 1, sent_ns: 2 }),
                    Delivery::Message(Stamp { seq: 3, sent_ns: 4 }),
                    Delivery::Gap,
                ],
                b"a-3".to_vec()
            )
        );
        for a in 0..stream.len() {
            for b in a..stream.len() {
                let reads = [&stream[..a], &stream[a..b], &stream[b..]];
                assert_eq!(parse(&reads), whole, "cut at {a} and {b}");
            }
        }
    }

    #[test]
    fn fields_are_matched_by_their_whole_name() {
        let mut stream = b"event:gap\nid\ndata\n\nidentity: x\nevents: gap\ndatum: ".to_vec();
        stream.extend_from_slice(&Stamp { seq: 3, sent_ns: 4 }.encode());
        stream.extend_from_slice(b"\n\nid:7\ndata:");
        stream.extend_from_slice(&Stamp { seq: 5, sent_ns: 6 }.encode());
        stream.extend_from_slice(b"\n\n");
        let (deliveries, id) = parse(&[&stream]);
        // A gap (no space after the colon), an event with no stamp (not a
        // delivery), then the stamp of `data:` only.
        assert_eq!(
            deliveries,
            vec![
                Delivery::Gap,
                Delivery::Message(Stamp { seq: 5, sent_ns: 6 })
            ]
        );
        assert_eq!(id, b"7");
    }

    #[test]
    fn a_stamp_counts_only_in_its_own_line_and_event() {
        // An event whose data has no stamp is no delivery, even when the
        // next line or event has one; a later data line of the same event
        // may carry it.
        let mut stream =
            b"id: a-1\nevent: message\ndata: {}\n\nid: a-2\r\nevent: message\ndata: x\ndata: "
                .to_vec();
        stream.extend_from_slice(&Stamp { seq: 8, sent_ns: 9 }.encode());
        stream.extend_from_slice(b"\n\n");
        for cut in 0..stream.len() {
            let (deliveries, id) = parse(&[&stream[..cut], &stream[cut..]]);
            assert_eq!(
                deliveries,
                vec![Delivery::Message(Stamp { seq: 8, sent_ns: 9 })],
                "cut at {cut}"
            );
            assert_eq!(id, b"a-2", "cut at {cut}");
        }
    }

    #[test]
    fn nchan_events_have_no_event_field() {
        let mut stream = b": hi\n\nid: 1700000000:0\ndata: ".to_vec();
        stream.extend_from_slice(&Stamp { seq: 1, sent_ns: 2 }.encode());
        stream.extend_from_slice(b"\n\n");
        let (deliveries, id) = parse(&[&stream]);
        assert_eq!(
            deliveries,
            vec![Delivery::Message(Stamp { seq: 1, sent_ns: 2 })]
        );
        assert_eq!(id, b"1700000000:0");
    }
}
