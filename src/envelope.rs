//! The JSON envelope: how a message, a gap or a poll answer is written for a
//! browser, the same on every transport.
//!
//! A message's envelope is one line of JSON, with fields in this order:
//!
//! ```text
//! {"id":"<key>","topic":"chat.lobby","seq":42,"event":"message","time":1700000000000,"data":...}
//! ```
//!
//! `data` is the payload: JSON payloads as they are, text as a JSON string,
//! binary as a base64 string. `event` is the message's event type, or
//! `message` when it has none.
//!
//! Guarantees, for any payload, topic and event the bus accepted:
//! - the output is valid JSON (RFC 8259) and holds no raw CR or LF, so it is
//!   one NDJSON line and one SSE `data:` line;
//! - it holds no `<` (escaped as `\u003c`, so neither `</script` nor `<!--`
//!   can appear in any case) and no raw U+2028 or U+2029 (escaped), so it
//!   can be placed inside an HTML `<script>` element as a JavaScript
//!   expression and cannot end the element or break the expression.

use std::ops::Range;

use base64::Engine as _;

use crate::digits::{decimal_len, push_decimal, HEX_DIGITS};
use crate::message::{Message, PayloadKind};
use crate::position::Position;

/// The escape of U+2028 or U+2029 when `bytes[index..]` starts with one
/// (UTF-8 `E2 80 A8` / `E2 80 A9`): valid raw in JSON strings, but line
/// terminators in older JavaScript, so they could break an iframe script.
fn line_separator_escape(bytes: &[u8], index: usize) -> Option<&'static [u8]> {
    match bytes.get(index..index + 3)? {
        [0xE2, 0x80, 0xA8] => Some(b"\\u2028"),
        [0xE2, 0x80, 0xA9] => Some(b"\\u2029"),
        _ => None,
    }
}

/// Writes `text` as a JSON string literal, with `<`, U+2028 and U+2029
/// escaped on top of what JSON requires.
pub fn write_json_string(out: &mut Vec<u8>, text: &str) {
    write_utf8_as_json_string(out, text.as_bytes());
}

/// [`write_json_string`] for bytes already known to be UTF-8 (a text
/// payload, checked at publish); other bytes would make invalid JSON.
fn write_utf8_as_json_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    let mut start = 0;
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        let escape: Option<&[u8]> = match byte {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            b'<' => Some(b"\\u003c"),
            0xE2 => match line_separator_escape(bytes, index) {
                Some(escape) => Some(escape),
                None => {
                    index += 1;
                    continue;
                }
            },
            0x00..=0x1F => None,
            _ => {
                index += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[start..index]);
        match escape {
            Some(escape) => {
                out.extend_from_slice(escape);
                index += if byte == 0xE2 { 3 } else { 1 };
            }
            None => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX_DIGITS[usize::from(byte >> 4)]);
                out.push(HEX_DIGITS[usize::from(byte & 0xF)]);
                index += 1;
            }
        }
        start = index;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// The bytes [`write_json_payload`] may replace: CR, LF, `<`, and 0xE2,
/// the first byte of U+2028 and U+2029.
const SCRIPT_UNSAFE: [bool; 256] = {
    let mut table = [false; 256];
    table[b'\n' as usize] = true;
    table[b'\r' as usize] = true;
    table[b'<' as usize] = true;
    table[0xE2] = true;
    table
};

/// The first byte of `bytes` at or after `from` that is in
/// [`SCRIPT_UNSAFE`]. Eight bytes at a time: a word with no byte below 0x0E
/// (CR, LF, and tab, a false alarm), no `<` and no byte from 0x80 (0xE2
/// among them) is passed over whole. A byte at a time, this scan was most
/// of encoding a chat message's frames (callgrind, BENCHMARKS.md issue 8).
fn find_script_unsafe(bytes: &[u8], from: usize) -> Option<usize> {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let is_unsafe = |byte: &u8| SCRIPT_UNSAFE[usize::from(*byte)];
    let rest = bytes.get(from..)?;
    let mut words = rest.chunks_exact(8);
    let mut offset = from;
    for chunk in &mut words {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        let less_than_0e = word.wrapping_sub(0x0E * LOW) & !word;
        let xor_angle = word ^ (u64::from(b'<') * LOW);
        let angle = xor_angle.wrapping_sub(LOW) & !xor_angle;
        if (less_than_0e | angle | word) & HIGH != 0 {
            if let Some(at) = chunk.iter().position(is_unsafe) {
                return Some(offset + at);
            }
        }
        offset += 8;
    }
    words
        .remainder()
        .iter()
        .position(is_unsafe)
        .map(|at| offset + at)
}

/// Writes a validated JSON payload on one line, script-safe: raw CR and LF
/// (whitespace, in valid JSON) become spaces, `<`, U+2028 and U+2029 (only
/// possible inside strings, in valid JSON) become escapes.
fn write_json_payload(out: &mut Vec<u8>, json: &[u8]) {
    let mut start = 0;
    let mut index = 0;
    while let Some(found) = find_script_unsafe(json, index) {
        index = found;
        let (replacement, width): (&[u8], usize) = match json[index] {
            b'\n' | b'\r' => (b" ", 1),
            b'<' => (b"\\u003c", 1),
            _ => match line_separator_escape(json, index) {
                Some(escape) => (escape, 3),
                None => {
                    index += 1;
                    continue;
                }
            },
        };
        out.extend_from_slice(&json[start..index]);
        out.extend_from_slice(replacement);
        index += width;
        start = index;
    }
    out.extend_from_slice(&json[start..]);
}

/// Writes a message's `data` value.
fn write_data(out: &mut Vec<u8>, message: &Message) {
    match message.kind() {
        PayloadKind::Json => write_json_payload(out, message.data()),
        // Text was validated as UTF-8 at publish.
        PayloadKind::Text => write_utf8_as_json_string(out, message.data()),
        PayloadKind::Binary => {
            out.push(b'"');
            let encoded = base64::engine::general_purpose::STANDARD.encode(message.data());
            out.extend_from_slice(encoded.as_bytes());
            out.push(b'"');
        }
    }
}

/// The fixed pieces of a message's envelope, in the order
/// [`write_message`] writes them; [`message_len`] counts them.
const ID_FIELD: &[u8] = b"{\"id\":\"";
const TOPIC_FIELD: &[u8] = b"\",\"topic\":\"";
const SEQ_FIELD: &[u8] = b"\",\"seq\":";
const EVENT_FIELD: &[u8] = b",\"event\":\"";
const TIME_FIELD: &[u8] = b"\",\"time\":";
const DATA_FIELD: &[u8] = b",\"data\":";
const CLOSE: &[u8] = b"}";

/// The event type a message's envelope (and SSE event) names: its own, or
/// `message` when it has none.
pub(crate) fn event_name(message: &Message) -> &str {
    message.event().unwrap_or("message")
}

/// Writes a message's envelope; see the module docs.
pub fn write_message(out: &mut Vec<u8>, topic: &str, key: Position, message: &Message) {
    out.extend_from_slice(ID_FIELD);
    key.write_key(out);
    write_after_id(out, topic, message);
}

/// [`write_message`] for a writer whose buffer holds the key's text already
/// at `key` (an SSE event's id): copied from there, not rendered again.
pub(crate) fn write_message_copying_key(
    out: &mut Vec<u8>,
    topic: &str,
    key: Range<usize>,
    message: &Message,
) {
    out.extend_from_slice(ID_FIELD);
    out.extend_from_within(key);
    write_after_id(out, topic, message);
}

/// The envelope after its key.
fn write_after_id(out: &mut Vec<u8>, topic: &str, message: &Message) {
    // Keys, topics and event types are ASCII without quotes or backslashes
    // (see `crate::name` and `crate::position`), so they need no escaping.
    out.extend_from_slice(TOPIC_FIELD);
    out.extend_from_slice(topic.as_bytes());
    out.extend_from_slice(SEQ_FIELD);
    push_decimal(out, message.seq());
    out.extend_from_slice(EVENT_FIELD);
    out.extend_from_slice(event_name(message).as_bytes());
    out.extend_from_slice(TIME_FIELD);
    push_decimal(out, message.time_ms());
    out.extend_from_slice(DATA_FIELD);
    write_data(out, message);
    out.extend_from_slice(CLOSE);
}

/// How many bytes [`write_message`] writes when the payload needs no
/// escapes: JSON without `<`, U+2028 or U+2029, text without anything JSON
/// escapes; binary always. Escapes only lengthen it.
pub(crate) fn message_len(topic: &str, key: Position, message: &Message) -> usize {
    const FIXED: usize = ID_FIELD.len()
        + TOPIC_FIELD.len()
        + SEQ_FIELD.len()
        + EVENT_FIELD.len()
        + TIME_FIELD.len()
        + DATA_FIELD.len()
        + CLOSE.len();
    let data = message.data().len();
    let data = match message.kind() {
        PayloadKind::Json => data,
        PayloadKind::Text => data + 2,
        PayloadKind::Binary => 2 + data.div_ceil(3) * 4,
    };
    FIXED
        + key.key_len()
        + topic.len()
        + decimal_len(message.seq())
        + event_name(message).len()
        + decimal_len(message.time_ms())
        + data
}

/// A gap's envelope:
/// `{"event":"gap","topic":"<topic>","from":"<client key>","to":"<key>"}`.
/// `from` is whatever key the client sent (it is escaped), `to` the key
/// after which reading continues.
pub fn gap(topic: &str, from: &str, to: Position) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + topic.len() + from.len());
    write_gap(&mut out, topic, from, to);
    out
}

/// Writes a gap's envelope; see [`gap`].
pub(crate) fn write_gap(out: &mut Vec<u8>, topic: &str, from: &str, to: Position) {
    out.extend_from_slice(b"{\"event\":\"gap\",\"topic\":");
    write_json_string(out, topic);
    out.extend_from_slice(b",\"from\":");
    write_json_string(out, from);
    out.extend_from_slice(b",\"to\":\"");
    to.write_key(out);
    out.extend_from_slice(b"\"}");
}

/// A poll's answer: `{"key":"<key>","messages":[<envelope>,...],"gap":<gap envelope or null>}`.
pub fn poll_answer<'a>(
    key: Position,
    envelopes: impl IntoIterator<Item = &'a [u8]>,
    gap: Option<&[u8]>,
) -> Vec<u8> {
    let mut out = format!("{{\"key\":\"{key}\",\"messages\":[").into_bytes();
    for (index, envelope) in envelopes.into_iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        out.extend_from_slice(envelope);
    }
    out.extend_from_slice(b"],\"gap\":");
    out.extend_from_slice(gap.unwrap_or(b"null"));
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Payload;
    use serde_json::{json, Value};

    /// Every byte value, at every place of a word and of the tail, after
    /// every starting point, with an unsafe byte behind it: the word-wise
    /// scan finds what a byte-wise one finds.
    #[test]
    fn the_script_unsafe_scan_matches_a_byte_at_a_time() {
        let naive = |bytes: &[u8], from: usize| {
            (from..bytes.len()).find(|&at| SCRIPT_UNSAFE[usize::from(bytes[at])])
        };
        for byte in 0..=255u8 {
            for place in 0..21 {
                let mut bytes = [b'a'; 21];
                bytes[place] = byte;
                bytes[(place + 9) % 21] = b'<';
                for from in 0..=22 {
                    assert_eq!(
                        find_script_unsafe(&bytes, from),
                        naive(&bytes, from.min(21)).filter(|_| from <= 21),
                        "byte {byte:#04x} at {place}, from {from}"
                    );
                }
            }
        }
    }

    fn envelope(event: Option<&str>, payload: Payload<'_>) -> Value {
        let message = Message::new(42, 1_700_000_000_000, event, payload);
        let mut out = Vec::new();
        write_message(
            &mut out,
            "chat.lobby",
            Position {
                epoch: 0xabc,
                seq: 42,
            },
            &message,
        );
        assert!(
            !out.iter().any(|&b| b == b'\n' || b == b'\r' || b == b'<'),
            "{}",
            String::from_utf8_lossy(&out)
        );
        let text = std::str::from_utf8(&out).unwrap();
        assert!(!text.contains('\u{2028}') && !text.contains('\u{2029}'));
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn message_envelopes_have_the_contract_fields_in_order() {
        let message = Message::new(
            42,
            1_700_000_000_000,
            Some("message"),
            Payload::json(br#"{"user":"ann","text":"hi"}"#),
        );
        let mut out = Vec::new();
        write_message(
            &mut out,
            "chat.lobby",
            Position {
                epoch: 0xabc,
                seq: 42,
            },
            &message,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"id":"abc-42","topic":"chat.lobby","seq":42,"event":"message","time":1700000000000,"data":{"user":"ann","text":"hi"}}"#
        );
    }

    #[test]
    fn payload_kinds_embed_as_json_text_and_base64() {
        assert_eq!(
            envelope(None, Payload::json(b"[1, 2]"))["data"],
            json!([1, 2])
        );
        assert_eq!(
            envelope(None, Payload::json(b"[1, 2]"))["event"],
            json!("message")
        );
        assert_eq!(
            envelope(Some("join"), Payload::text("a\"b\\c"))["data"],
            json!("a\"b\\c")
        );
        assert_eq!(
            envelope(Some("join"), Payload::text(""))["event"],
            json!("join")
        );
        assert_eq!(
            envelope(None, Payload::binary(&[0, 255, 1]))["data"],
            json!("AP8B")
        );
    }

    #[test]
    fn script_breakers_are_escaped_in_text_and_json() {
        let attack =
            "</script><script>window.__pwned=1</script><!-- \u{2028}\u{2029}\n\nevent: x\r\0\u{1f}";
        assert_eq!(envelope(None, Payload::text(attack))["data"], json!(attack));
        let json_attack =
            serde_json::to_vec(&json!({"t": attack, "<k>": ["</SCRIPT", "<!--"]})).unwrap();
        let pretty = serde_json::to_vec_pretty(&json!({"t": attack})).unwrap();
        assert_eq!(
            envelope(None, Payload::json(&json_attack))["data"],
            serde_json::from_slice::<Value>(&json_attack).unwrap()
        );
        assert_eq!(
            envelope(None, Payload::json(&pretty))["data"],
            json!({"t": attack})
        );
    }

    #[test]
    fn json_strings_escape_controls_and_separators() {
        let mut out = Vec::new();
        write_json_string(&mut out, "a<b\u{2028}c\u{7}\u{e9}\u{1F600}");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a\\u003cb\\u2028c\\u0007\u{e9}\u{1F600}\""
        );
    }

    #[test]
    fn gap_and_poll_answers() {
        let to = Position {
            epoch: 0xabc,
            seq: 7,
        };
        let gap = gap("chat.lobby", "x\"</script>", to);
        let parsed: Value = serde_json::from_slice(&gap).unwrap();
        assert_eq!(
            parsed,
            json!({"event": "gap", "topic": "chat.lobby", "from": "x\"</script>", "to": "abc-7"})
        );
        assert!(!gap.contains(&b'<'));
        let answer = poll_answer(to, [&b"{\"a\":1}"[..], b"{\"b\":2}"], Some(&gap));
        let parsed: Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(parsed["key"], json!("abc-7"));
        assert_eq!(parsed["messages"], json!([{"a": 1}, {"b": 2}]));
        assert_eq!(parsed["gap"]["to"], json!("abc-7"));
        let empty: Value = serde_json::from_slice(&poll_answer(to, [], None)).unwrap();
        assert_eq!(empty, json!({"key": "abc-7", "messages": [], "gap": null}));
    }
}
