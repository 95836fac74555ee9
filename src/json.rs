//! Checking that bytes are exactly one JSON value (RFC 8259), without
//! building it.
//!
//! A payload declared JSON is embedded verbatim in every envelope of every
//! transport, so what passes here is what every subscriber's parser is
//! handed: one value, surrounding whitespace allowed, in UTF-8. The
//! accepted set is serde_json's when it skips a value (`IgnoredAny`) in a
//! UTF-8 text, which is what payloads were held to before; the property
//! tests below and the `json_validate` fuzz target compare the two:
//! - strings hold no control character below U+0020, and only the escapes
//!   `\" \\ \/ \b \f \n \r \t \uXXXX`; a `\u` escape of a lone surrogate
//!   passes, as in serde_json, `JSON.parse` and Python's `json`;
//! - numbers follow the grammar (`-? (0 | [1-9][0-9]*) (. [0-9]+)?
//!   ([eE] [+-]? [0-9]+)?`), of any magnitude;
//! - objects may repeat a member name;
//! - arrays and objects nest to any depth (the payload's size bounds it),
//!   with no recursion here.
//!
//! Why not serde_json, which the crate has anyway (for access tokens):
//! skipping a chat message's 90-byte payload, with the UTF-8 check before
//! it, cost 965 instructions, an eighth of what a POST cost the C chat
//! server (callgrind), as it reads a byte at a time through a general
//! deserializer. This costs 529: one pass, no recursion, no UTF-8 pass of
//! its own, and strings, where a payload's bytes mostly are, passed over
//! eight bytes at a time.

use crate::error::{Error, Result};

/// Checks that `bytes` is one JSON value in UTF-8, surrounding whitespace
/// allowed. The error names what was wrong and the byte where it was; a
/// text that is not UTF-8 is [`Error::InvalidUtf8`] whatever else is wrong.
pub(crate) fn validate(bytes: &[u8]) -> Result<()> {
    Scanner { bytes, at: 0 }
        .value_and_end()
        .map_err(|(what, at)| {
            if std::str::from_utf8(bytes).is_err() {
                Error::InvalidUtf8
            } else {
                Error::InvalidJson(format!("{what} at byte {at}"))
            }
        })
}

/// What was wrong, and where.
type Invalid = (&'static str, usize);

/// A read position in the text.
struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Scanner<'_> {
    /// One value, then only whitespace to the end.
    fn value_and_end(&mut self) -> std::result::Result<(), Invalid> {
        let mut open = Containers::default();
        self.skip_whitespace();
        'value: loop {
            // At the first byte of a value.
            match self.peek() {
                Some(bracket @ (b'{' | b'[')) => {
                    self.at += 1;
                    self.skip_whitespace();
                    let object = bracket == b'{';
                    if self.peek() == Some(if object { b'}' } else { b']' }) {
                        self.at += 1;
                    } else {
                        open.push(object);
                        if object {
                            self.member_name()?;
                        }
                        continue 'value;
                    }
                }
                Some(b'"') => self.string()?,
                Some(b'-' | b'0'..=b'9') => self.number()?,
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                _ => return Err(("expected a value", self.at)),
            }
            // After a value: close containers until one has a next member.
            loop {
                self.skip_whitespace();
                let Some(object) = open.innermost_is_object() else {
                    return match self.peek() {
                        None => Ok(()),
                        Some(_) => Err(("more after the value", self.at)),
                    };
                };
                match (self.peek(), object) {
                    (Some(b','), _) => {
                        self.at += 1;
                        self.skip_whitespace();
                        if object {
                            self.member_name()?;
                        }
                        continue 'value;
                    }
                    (Some(b'}'), true) | (Some(b']'), false) => {
                        self.at += 1;
                        open.pop();
                    }
                    (_, true) => return Err(("expected ',' or '}'", self.at)),
                    (_, false) => return Err(("expected ',' or ']'", self.at)),
                }
            }
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// A member's name, its colon and the whitespace up to its value.
    #[inline(always)]
    fn member_name(&mut self) -> std::result::Result<(), Invalid> {
        if self.peek() != Some(b'"') {
            return Err(("expected a member name (a string)", self.at));
        }
        self.string()?;
        self.skip_whitespace();
        if self.peek() != Some(b':') {
            return Err(("expected ':'", self.at));
        }
        self.at += 1;
        self.skip_whitespace();
        Ok(())
    }

    /// A string, from its opening quote. Most strings hold nothing but
    /// printable ASCII: one scan to the closing quote, inlined; the rest
    /// goes to [`string_rest`].
    #[inline(always)]
    fn string(&mut self) -> std::result::Result<(), Invalid> {
        let start = self.at;
        self.at = find_special::<true>(self.bytes, start + 1);
        if self.peek() == Some(b'"') {
            self.at += 1;
            return Ok(());
        }
        self.at = string_rest(self.bytes, self.at, start)?;
        Ok(())
    }

    fn number(&mut self) -> std::result::Result<(), Invalid> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            // A leading zero stands alone: a digit after it ends the value.
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => self.skip_digits(),
            _ => return Err(("an invalid number", start)),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.one_or_more_digits(start)?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.one_or_more_digits(start)?;
        }
        Ok(())
    }

    fn skip_digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
    }

    fn one_or_more_digits(&mut self, number: usize) -> std::result::Result<(), Invalid> {
        let from = self.at;
        self.skip_digits();
        if self.at == from {
            return Err(("an invalid number", number));
        }
        Ok(())
    }

    fn literal(&mut self, literal: &[u8]) -> std::result::Result<(), Invalid> {
        if !self.bytes[self.at..].starts_with(literal) {
            return Err(("expected a value", self.at));
        }
        self.at += literal.len();
        Ok(())
    }
}

/// The rest of the string opened at `start`, from `at`, the first of its
/// bytes that is a quote, a backslash, a control or from 0x80; returns the
/// index past its closing quote.
/// Its bytes from 0x80 are checked as UTF-8 here, a run at a time: every
/// other byte of a valid text is ASCII (anything else is outside the
/// grammar), so the whole text is then UTF-8 without a pass of its own.
#[cold]
#[inline(never)]
fn string_rest(bytes: &[u8], mut at: usize, start: usize) -> std::result::Result<usize, Invalid> {
    loop {
        match bytes.get(at) {
            Some(b'"') => return Ok(at + 1),
            Some(b'\\') => at = escape(bytes, at)?,
            Some(0x80..) => {
                let run = at;
                at = find_special::<false>(bytes, run);
                if std::str::from_utf8(&bytes[run..at]).is_err() {
                    return Err(("a string that is not UTF-8", run));
                }
            }
            Some(_) => return Err(("a control character in a string", at)),
            None => return Err(("a string that does not end", start)),
        }
        at = find_special::<true>(bytes, at);
    }
}

/// The escape at `at`, its backslash; returns the index past it.
fn escape(bytes: &[u8], at: usize) -> std::result::Result<usize, Invalid> {
    let hex = |from: usize| {
        bytes
            .get(from..from + 4)
            .is_some_and(|digits| digits.iter().all(u8::is_ascii_hexdigit))
    };
    match bytes.get(at + 1) {
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(at + 2),
        Some(b'u') if hex(at + 2) => Ok(at + 6),
        _ => Err(("an invalid escape", at)),
    }
}

/// The open arrays and objects, a bit each (set: an object): the first 64
/// in a word, deeper ones (rare) in a vector, so a value of usual depth
/// allocates nothing.
#[derive(Default)]
struct Containers {
    depth: usize,
    first: u64,
    deeper: Vec<bool>,
}

impl Containers {
    fn push(&mut self, object: bool) {
        if self.depth < 64 {
            self.first = self.first & !(1 << self.depth) | u64::from(object) << self.depth;
        } else {
            self.deeper.push(object);
        }
        self.depth += 1;
    }

    fn pop(&mut self) {
        self.depth -= 1;
        if self.depth >= 64 {
            self.deeper.pop();
        }
    }

    /// Whether the innermost is an object; `None` when none is open.
    fn innermost_is_object(&self) -> Option<bool> {
        match self.depth {
            0 => None,
            1..=64 => Some(self.first >> (self.depth - 1) & 1 == 1),
            _ => self.deeper.last().copied(),
        }
    }
}

/// The index of the first `"`, `\\` or byte below 0x20 in `bytes` at or
/// after `from` (and of the first from 0x80 too, if `NON_ASCII`), or
/// `bytes.len()`. Eight bytes at a time: in each word, the lowest byte
/// flagged by these tests is exact (a borrow only runs upwards from a true
/// match), and it is the one taken.
#[inline(always)]
fn find_special<const NON_ASCII: bool>(bytes: &[u8], from: usize) -> usize {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |word: u64| word.wrapping_sub(LOW) & !word & HIGH;
    let is_special =
        |byte: &u8| matches!(byte, b'"' | b'\\' | 0..=0x1f) || (NON_ASCII && *byte >= 0x80);
    let mut at = from;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        let mut found = (word.wrapping_sub(0x20 * LOW) & !word & HIGH)
            | zero_byte(word ^ (u64::from(b'"') * LOW))
            | zero_byte(word ^ (u64::from(b'\\') * LOW));
        if NON_ASCII {
            found |= word & HIGH;
        }
        if found != 0 {
            return at + found.trailing_zeros() as usize / 8;
        }
        at += 8;
    }
    let rest = bytes.get(at..).unwrap_or_default();
    at + rest.iter().position(is_special).unwrap_or(rest.len())
}

#[cfg(test)]
#[path = "../tests/common/serde_json_oracle.rs"]
mod serde_json_oracle;

#[cfg(test)]
mod tests {
    use super::serde_json_oracle::serde_json_accepts;
    use super::*;
    use proptest::prelude::*;

    fn agrees(bytes: &[u8]) {
        let ours = validate(bytes);
        assert_eq!(
            ours.is_ok(),
            serde_json_accepts(bytes),
            "{:?}: {ours:?}",
            String::from_utf8_lossy(bytes)
        );
    }

    #[test]
    fn values_of_every_kind_pass() {
        for json in [
            "0",
            "-0.5e+10",
            "1E-2",
            "123456789012345678901234567890",
            " \t\r\n\"\" \n",
            r#""\"\\\/\b\f\n\r\t\u00e9\uD800 é😀\u007f""#,
            "true",
            "false",
            "null",
            "[]",
            "{}",
            r#"{"a":[1,{"b":null},"c"],"a":{}}"#,
            "[ 1 , [ ] , { } ]",
        ] {
            assert_eq!(validate(json.as_bytes()), Ok(()), "{json}");
            agrees(json.as_bytes());
        }
    }

    /// Each wrong text, the error's text and the byte it names.
    #[test]
    fn errors_say_what_and_where() {
        for (json, expected) in [
            ("", "expected a value at byte 0"),
            ("  ", "expected a value at byte 2"),
            ("1 2", "more after the value at byte 2"),
            ("[1,]", "expected a value at byte 3"),
            ("[1 2]", "expected ',' or ']' at byte 3"),
            (r#"{"a":1,}"#, "expected a member name (a string) at byte 7"),
            (r#"{"a" 1}"#, "expected ':' at byte 5"),
            (r#"{"a":1]"#, "expected ',' or '}' at byte 6"),
            ("[1", "expected ',' or ']' at byte 2"),
            ("\"ab", "a string that does not end at byte 0"),
            ("\"a\tb\"", "a control character in a string at byte 2"),
            (r#""\x""#, "an invalid escape at byte 1"),
            (r#""\u12g4""#, "an invalid escape at byte 1"),
            (r#""\u12"#, "an invalid escape at byte 1"),
            (r#""\u123x""#, "an invalid escape at byte 1"),
            ("01", "more after the value at byte 1"),
            ("-", "an invalid number at byte 0"),
            ("[1.]", "an invalid number at byte 1"),
            ("1e+", "an invalid number at byte 0"),
            ("tru", "expected a value at byte 0"),
            ("nul1", "expected a value at byte 0"),
            ("'a'", "expected a value at byte 0"),
        ] {
            let error = validate(json.as_bytes()).unwrap_err();
            assert_eq!(error, Error::InvalidJson(expected.into()), "{json}");
            agrees(json.as_bytes());
        }
        // Not UTF-8, in a string or out of one, whatever else is wrong.
        for bytes in [
            &b"\"\xff\""[..],
            b"\xff",
            b"[1]\xc3",
            b"\"\xc3\xa9\xc3\"",
            b"{\"\xe2\x82\"}",
        ] {
            assert_eq!(validate(bytes), Err(Error::InvalidUtf8), "{bytes:?}");
        }
    }

    /// Deep nesting, past the 64 containers kept in a word, in every mix:
    /// each pair of brackets must match the other.
    #[test]
    fn nesting_of_any_depth_matches_its_brackets() {
        for n in [63, 64, 65, 128, 100_000] {
            let arrays = format!("{}{}", "[".repeat(n), "]".repeat(n));
            let objects = format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n));
            let mixed = format!("{}{{\"a\":[]}}{}", "[{\"b\":".repeat(n), "}]".repeat(n));
            for json in [&arrays, &objects, &mixed] {
                assert_eq!(validate(json.as_bytes()), Ok(()), "{n}");
                agrees(json.as_bytes());
                // The innermost closing bracket swapped for the other kind.
                let close = json.find(['}', ']']).unwrap();
                let mut swapped = json.clone().into_bytes();
                swapped[close] = if swapped[close] == b']' { b'}' } else { b']' };
                assert!(validate(&swapped).is_err(), "{n}");
                // One bracket short, and one too many.
                assert!(validate(&json.as_bytes()[..json.len() - 1]).is_err(), "{n}");
                assert!(validate(format!("{json}]").as_bytes()).is_err(), "{n}");
            }
        }
        // The outermost of a deep mix is checked too, once the vector is
        // emptied again.
        let deep = format!("{{\"x\":{}{}]", "[".repeat(100), "]".repeat(100));
        assert_eq!(
            validate(deep.as_bytes()),
            Err(Error::InvalidJson("expected ',' or '}' at byte 205".into()))
        );
    }

    /// Two bytes of a mix of special and plain ones, at every pair of
    /// places in and past a word, from every start: the eight-at-a-time
    /// scans give what a byte at a time gives, with and without stopping
    /// at bytes from 0x80.
    #[test]
    fn the_string_scans_find_the_first_special_byte() {
        const BYTES: [u8; 10] = [b'"', b'\\', 0x00, 0x1f, 0x20, 0x5b, 0x7f, 0x80, 0xc3, 0xff];
        let first = |bytes: &[u8], from: usize, non_ascii: bool| {
            (from..bytes.len())
                .find(|&i| {
                    let b = bytes[i];
                    b == b'"' || b == b'\\' || b < 0x20 || (non_ascii && b >= 0x80)
                })
                .unwrap_or(bytes.len())
        };
        for len in 0..20 {
            for (low, high) in (0..len).flat_map(|low| (low..len).map(move |high| (low, high))) {
                for (a, b) in BYTES
                    .iter()
                    .flat_map(|&a| BYTES.iter().map(move |&b| (a, b)))
                {
                    let mut bytes = vec![b'a'; len];
                    bytes[high] = b;
                    bytes[low] = a;
                    for from in 0..=len {
                        assert_eq!(
                            find_special::<true>(&bytes, from),
                            first(&bytes, from, true)
                        );
                        assert_eq!(
                            find_special::<false>(&bytes, from),
                            first(&bytes, from, false)
                        );
                    }
                }
            }
        }
    }

    /// Pieces of JSON, right and wrong, that random sequences are made of.
    const PIECES: &[&str] = &[
        "{", "}", "[", "]", ",", ":", " ", "\n", "\t", "\r", "\"", "\"a\"", "\"\\", "\\u",
        "\\ud83d", "\\n", "\\x", "0", "1", "9", "-", "+", ".", "e", "E", "00", "true", "tru",
        "false", "null", "é", "😀", "\u{0}", "\u{1f}", "\u{7f}", "abcdefgh", "'", "/",
    ];

    fn pieces() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(PIECES), 0..24).prop_map(|p| p.concat())
    }

    /// Any JSON value, as serde_json writes it, compact or pretty.
    fn values() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_map(serde_json::Value::from),
            any::<String>().prop_map(serde_json::Value::from),
        ];
        let value = leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                prop::collection::hash_map(any::<String>(), inner, 0..6)
                    .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
            ]
        });
        (value, any::<bool>()).prop_map(|(value, pretty)| {
            if pretty {
                serde_json::to_string_pretty(&value).unwrap()
            } else {
                value.to_string()
            }
        })
    }

    proptest! {
        #[test]
        fn agrees_with_serde_json_on_random_pieces(text in pieces()) {
            agrees(text.as_bytes());
        }

        #[test]
        fn every_value_serde_json_writes_passes(text in values()) {
            prop_assert_eq!(validate(text.as_bytes()), Ok(()));
        }

        /// A valid value with one byte changed, cut short, or with a byte
        /// put in: near misses, where a validator is most likely wrong.
        #[test]
        fn agrees_with_serde_json_on_near_misses(
            text in values(),
            place in any::<prop::sample::Index>(),
            byte in prop::sample::select(b"{}[],:\"\\ 0-.eE+tfn\x00\x1f\x80".to_vec()),
            how in 0..3u8,
        ) {
            let mut bytes = text.into_bytes();
            let at = place.index(bytes.len() + 1);
            match how {
                0 if at < bytes.len() => bytes[at] = byte,
                1 => bytes.truncate(at),
                _ => bytes.insert(at, byte),
            }
            agrees(&bytes);
        }
    }
}
