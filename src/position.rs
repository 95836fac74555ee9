//! Positions and version-key tokens.
//!
//! A position `(epoch, seq)` names a point in one topic's history: "every
//! message up to and including `seq`". The epoch is random and fixed when the
//! topic is created, so a position from an earlier life of a topic (process
//! restart, topic expired and re-created) is recognised as foreign and
//! answered with a gap, never misread as a point in the new history.
//!
//! Positions render as opaque tokens, `<epoch in hex>-<seq in decimal>`
//! (`3f9a2c00d1e4-1042`), which clients send back unchanged to resume. A
//! subscription over several topics has a composite token,
//! `<topic>:<key>,<topic>:<key>,...`, with topics in sorted order. Parsing is
//! strict: anything this module did not produce is [`Error::BadToken`], so a
//! token can never smuggle a CR, LF or NUL into a header or an SSE `id:`.

use std::fmt;

use crate::error::{Error, Result};
use crate::name::check_topic;

/// Longest token accepted by [`Token::parse`], in bytes.
pub const MAX_TOKEN_LEN: usize = 64 * 1024;

/// Bits of randomness in an epoch: 48 keeps keys short and every epoch exact
/// as a JavaScript number, while two lives of a topic still practically
/// never share one.
const EPOCH_BITS: u32 = 48;

/// A point in one topic's history: every message with `seq <= self.seq` of
/// the topic's life `epoch`. `seq` 0 is "before the first message".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Position {
    /// The topic's life: random, fixed when the topic is created.
    pub epoch: u64,
    /// The last message covered; messages are numbered from 1.
    pub seq: u64,
}

impl Position {
    /// Parses one key, such as `3f9a2c00d1e4-1042`.
    pub fn parse(text: &str) -> Result<Position> {
        let bad = |why: &str| Error::BadToken(format!("{why} in key {:?}", clip(text)));
        let (epoch, seq) = text
            .split_once('-')
            .ok_or_else(|| bad("no `-` between epoch and sequence"))?;
        let epoch_ok = !epoch.is_empty()
            && epoch.len() <= (EPOCH_BITS / 4) as usize
            && epoch
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            && (epoch == "0" || !epoch.starts_with('0'));
        if !epoch_ok {
            return Err(bad("malformed epoch"));
        }
        let seq_ok = !seq.is_empty()
            && seq.bytes().all(|b| b.is_ascii_digit())
            && (seq == "0" || !seq.starts_with('0'));
        if !seq_ok {
            return Err(bad("malformed sequence"));
        }
        let seq = seq.parse().map_err(|_| bad("sequence out of range"))?;
        let epoch = u64::from_str_radix(epoch, 16).map_err(|_| bad("malformed epoch"))?;
        Ok(Position { epoch, seq })
    }

    /// Appends the key's text, `<epoch in hex>-<seq in decimal>`: what
    /// `Display` renders, without `core::fmt` (frames write a key twice a
    /// message).
    pub(crate) fn write_key(&self, out: &mut Vec<u8>) {
        crate::digits::push_hex(out, self.epoch);
        out.push(b'-');
        crate::digits::push_decimal(out, self.seq);
    }

    /// How many bytes [`write_key`](Self::write_key) writes.
    pub(crate) fn key_len(&self) -> usize {
        crate::digits::hex_len(self.epoch) + 1 + crate::digits::decimal_len(self.seq)
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut key = Vec::with_capacity(40);
        self.write_key(&mut key);
        f.write_str(std::str::from_utf8(&key).map_err(|_| fmt::Error)?)
    }
}

/// A token a client sends back to resume: one key, or one key per topic.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Token {
    /// A single topic's key; it resumes a subscription to that one topic.
    Key(Position),
    /// One position per topic, topics sorted and distinct.
    Composite(Vec<(String, Position)>),
}

impl Token {
    /// Parses a key or a composite token. Topic names inside a composite
    /// token must be valid (at most `max_topic_len` bytes), sorted and
    /// distinct.
    pub fn parse(text: &str, max_topic_len: usize) -> Result<Token> {
        if text.len() > MAX_TOKEN_LEN {
            return Err(Error::BadToken(format!(
                "{} bytes, the limit is {MAX_TOKEN_LEN}",
                text.len()
            )));
        }
        if !text.contains(':') {
            return Position::parse(text).map(Token::Key);
        }
        let mut entries: Vec<(String, Position)> = Vec::new();
        for entry in text.split(',') {
            let (topic, key) = entry.split_once(':').ok_or_else(|| {
                Error::BadToken(format!("entry {:?} has no `topic:` prefix", clip(entry)))
            })?;
            check_topic(topic, max_topic_len).map_err(|e| Error::BadToken(e.to_string()))?;
            if let Some((last, _)) = entries.last() {
                if last.as_str() >= topic {
                    return Err(Error::BadToken(
                        "topics in a composite token must be sorted and distinct".to_owned(),
                    ));
                }
            }
            entries.push((topic.to_owned(), Position::parse(key)?));
        }
        Ok(Token::Composite(entries))
    }

    /// Builds a composite token from positions in any order; duplicate
    /// topics keep the last position given.
    pub fn composite(entries: impl IntoIterator<Item = (String, Position)>) -> Token {
        let mut entries: Vec<(String, Position)> = entries.into_iter().collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|later, earlier| {
            if later.0 == earlier.0 {
                earlier.1 = later.1;
                true
            } else {
                false
            }
        });
        Token::Composite(entries)
    }

    /// The position this token holds for `topic`, if any. A single key
    /// answers for whatever topic it is asked about.
    pub fn position_for(&self, topic: &str) -> Option<Position> {
        match self {
            Token::Key(position) => Some(*position),
            Token::Composite(entries) => entries
                .binary_search_by(|(name, _)| name.as_str().cmp(topic))
                .ok()
                .map(|index| entries[index].1),
        }
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Key(position) => position.fmt(f),
            Token::Composite(entries) => {
                for (index, (topic, position)) in entries.iter().enumerate() {
                    if index > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{topic}:{position}")?;
                }
                Ok(())
            }
        }
    }
}

/// A new random epoch.
pub(crate) fn new_epoch() -> u64 {
    random_u64() & ((1 << EPOCH_BITS) - 1)
}

fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    // SAFETY: `bytes` is a valid, writable buffer of `bytes.len()` bytes for
    // the whole call, and getrandom writes at most that many.
    let filled = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if filled == bytes.len() as isize {
        return u64::from_ne_bytes(bytes);
    }
    // getrandom is unavailable (old kernel, seccomp): std's per-process random
    // hash keys, mixed with a counter, are still unpredictable enough for an
    // epoch, which only has to differ between lives of a topic.
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.finish()
}

/// At most 64 characters of untrusted text, for error messages.
fn clip(text: &str) -> &str {
    match text.char_indices().nth(64) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        for position in [
            Position { epoch: 0, seq: 0 },
            Position {
                epoch: 0x3f9a2c,
                seq: 1042,
            },
            Position {
                epoch: (1 << 48) - 1,
                seq: u64::MAX,
            },
        ] {
            let text = position.to_string();
            assert_eq!(Position::parse(&text), Ok(position), "{text}");
            assert_eq!(Token::parse(&text, 128), Ok(Token::Key(position)));
        }
        assert_eq!(
            Position {
                epoch: 0x3f9a2c,
                seq: 1042
            }
            .to_string(),
            "3f9a2c-1042"
        );
    }

    #[test]
    fn garbage_keys_are_refused() {
        for text in [
            "",
            "-",
            "1-",
            "-1",
            "1",
            "g-1",
            "A-1",
            "01-1",
            "1-01",
            "1--1",
            "1-1-1",
            "1-x",
            "1-+1",
            " 1-1",
            "1-1 ",
            "1-1\n",
            "1-1\0",
            "1-18446744073709551616",
            "1000000000000-1",
            "é-1",
        ] {
            assert!(
                matches!(Token::parse(text, 128), Err(Error::BadToken(_))),
                "{text:?}"
            );
        }
    }

    #[test]
    fn composite_tokens_round_trip_sorted() {
        let a = Position { epoch: 1, seq: 2 };
        let b = Position {
            epoch: 0xab,
            seq: 0,
        };
        let token = Token::composite([("chat.b".to_owned(), b), ("chat.a".to_owned(), a)]);
        let text = token.to_string();
        assert_eq!(text, "chat.a:1-2,chat.b:ab-0");
        assert_eq!(Token::parse(&text, 128), Ok(token.clone()));
        assert_eq!(token.position_for("chat.b"), Some(b));
        assert_eq!(token.position_for("chat.c"), None);
    }

    #[test]
    fn composite_keeps_last_duplicate() {
        let token = Token::composite([
            ("t".to_owned(), Position { epoch: 1, seq: 1 }),
            ("t".to_owned(), Position { epoch: 1, seq: 9 }),
        ]);
        assert_eq!(token.to_string(), "t:1-9");
    }

    #[test]
    fn garbage_composites_are_refused() {
        for text in [
            "a:1-1,",
            ",a:1-1",
            "a:1-1,,b:1-1",
            "b:1-1,a:1-1",
            "a:1-1,a:1-2",
            "a*:1-1",
            "a:b:1-1",
            ":1-1",
            "a:",
            "a:1-1,b",
            "a b:1-1",
        ] {
            assert!(
                matches!(Token::parse(text, 128), Err(Error::BadToken(_))),
                "{text:?}"
            );
        }
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        assert!(matches!(Token::parse(&long, 128), Err(Error::BadToken(_))));
    }

    #[test]
    fn epochs_are_48_bit_and_differ() {
        let epochs: std::collections::HashSet<u64> = (0..64).map(|_| new_epoch()).collect();
        assert!(epochs.len() > 60);
        assert!(epochs.iter().all(|&e| e < 1 << 48));
    }
}
