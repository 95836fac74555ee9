//! Names: topics, subscription patterns, event types and presence client ids.
//!
//! A topic name is one or more tokens separated by `.`; each token is one or
//! more of `[A-Za-z0-9_-]`, and the whole name is at most
//! [`Config::max_topic_len`](crate::Config::max_topic_len) bytes. These
//! characters are safe everywhere a name travels (URLs, SSE fields, JSON,
//! composite tokens, whose separators `:` and `,` they exclude).
//!
//! A pattern is a name in which a token may be `*` (exactly one token) or
//! whose last token may be `>` (one or more tokens), as in NATS:
//! `chat.*` matches `chat.lobby` but not `chat.a.b`; `chat.>` matches both,
//! never `chat` itself.

use crate::error::{Error, Result};

/// Longest event type, in bytes.
pub const MAX_EVENT_LEN: usize = 64;
/// Longest presence client id, in bytes.
pub const MAX_CLIENT_ID_LEN: usize = 128;

fn check_len(text: &str, max_len: usize) -> std::result::Result<(), String> {
    if text.is_empty() {
        return Err("empty".to_owned());
    }
    if text.len() > max_len {
        return Err(format!("{} bytes, the limit is {max_len}", text.len()));
    }
    Ok(())
}

fn check_token(token: &str) -> std::result::Result<(), String> {
    if token.is_empty() {
        return Err("empty token between dots".to_owned());
    }
    match token.bytes().find(|&b| !NAME_BYTES[usize::from(b)]) {
        Some(b) => Err(format!(
            "character {:?} is not allowed (use A-Z a-z 0-9 _ - and . between tokens)",
            char::from(b)
        )),
        None => Ok(()),
    }
}

/// `[A-Za-z0-9_-]` and the bytes of `extra`, by byte: one load a byte on
/// the publish path.
const fn name_bytes_and(extra: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        table[b] = byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-';
        b += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        table[extra[i] as usize] = true;
        i += 1;
    }
    table
}

/// The bytes of a topic's tokens.
const NAME_BYTES: [bool; 256] = name_bytes_and(b"");
/// The bytes of an event type (every publish that names one checks it).
const EVENT_BYTES: [bool; 256] = name_bytes_and(b".:");

/// True when `name` is a valid topic name: the same rule as the checks
/// below (1 to `max_len` bytes, tokens of name bytes between single dots),
/// in one pass and without building an error. Every publish checks its
/// topic; the split-based check cost a third of a publish.
#[inline]
fn is_valid_topic(name: &str, max_len: usize) -> bool {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() > max_len {
        return false;
    }
    let mut after_dot = true;
    for &b in bytes {
        if b == b'.' {
            if after_dot {
                return false;
            }
            after_dot = true;
        } else if NAME_BYTES[usize::from(b)] {
            after_dot = false;
        } else {
            return false;
        }
    }
    !after_dot
}

/// Checks a concrete topic name. Patterns are refused with
/// [`Error::PatternNotAllowed`], anything else invalid with
/// [`Error::InvalidTopic`].
pub fn check_topic(name: &str, max_len: usize) -> Result<()> {
    if is_valid_topic(name, max_len) {
        return Ok(());
    }
    if is_pattern(name) {
        return Err(Error::PatternNotAllowed(name.to_owned()));
    }
    check_len(name, max_len).map_err(Error::InvalidTopic)?;
    for token in name.split('.') {
        check_token(token).map_err(Error::InvalidTopic)?;
    }
    Ok(())
}

/// True when the text uses pattern syntax (`*` or `>` anywhere).
pub fn is_pattern(text: &str) -> bool {
    text.bytes().any(|b| b == b'*' || b == b'>')
}

/// A validated subscription pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: Box<str>,
}

impl Pattern {
    /// Parses a pattern; refuses `>` anywhere but as the whole last token, and
    /// `*` or `>` mixed with other characters in a token.
    pub fn parse(text: &str, max_len: usize) -> Result<Pattern> {
        check_len(text, max_len).map_err(Error::InvalidPattern)?;
        let count = text.split('.').count();
        for (index, token) in text.split('.').enumerate() {
            match token {
                "*" => {}
                ">" if index + 1 == count => {}
                ">" => {
                    return Err(Error::InvalidPattern(
                        "`>` may only be the last token".to_owned(),
                    ))
                }
                _ => check_token(token).map_err(Error::InvalidPattern)?,
            }
        }
        Ok(Pattern { text: text.into() })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True when `topic` (a valid topic name) matches.
    pub fn matches(&self, topic: &str) -> bool {
        let mut names = topic.split('.');
        for token in self.text.split('.') {
            match (token, names.next()) {
                (">", Some(_)) => return true,
                (_, None) => return false,
                ("*", Some(_)) => {}
                (want, Some(name)) if want == name => {}
                _ => return false,
            }
        }
        names.next().is_none()
    }
}

/// Checks an event type: 1 to 64 of `[A-Za-z0-9_.:-]`. Nothing else can
/// reach an SSE `event:` field, so no event type can start a new field.
pub fn check_event(event: &str) -> Result<()> {
    check_len(event, MAX_EVENT_LEN).map_err(Error::InvalidEvent)?;
    if let Some(b) = event.bytes().find(|&b| !EVENT_BYTES[usize::from(b)]) {
        return Err(Error::InvalidEvent(format!(
            "character {:?} is not allowed (use A-Z a-z 0-9 _ - . :)",
            char::from(b)
        )));
    }
    Ok(())
}

/// Checks a presence client id: 1 to 128 bytes of UTF-8 without control
/// characters.
pub fn check_client_id(client: &str) -> Result<()> {
    check_len(client, MAX_CLIENT_ID_LEN)
        .map_err(|why| Error::InvalidPresence(format!("client id {why}")))?;
    if client.chars().any(char::is_control) {
        return Err(Error::InvalidPresence(
            "client id holds a control character".to_owned(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The one-pass check accepts exactly what the token-by-token
        /// check does.
        #[test]
        fn one_pass_check_agrees_with_the_tokens(name in "[a.Z9_*>: -]{0,12}", max in 1usize..14) {
            let by_tokens = !is_pattern(&name)
                && check_len(&name, max).is_ok()
                && name.split('.').all(|token| check_token(token).is_ok());
            proptest::prop_assert_eq!(is_valid_topic(&name, max), by_tokens);
            proptest::prop_assert_eq!(check_topic(&name, max).is_ok(), by_tokens);
        }
    }

    #[test]
    fn topics_accept_tokens_of_the_allowed_characters() {
        for name in ["a", "chat.lobby", "A-b_9.x.Y", "x".repeat(128).as_str()] {
            assert_eq!(check_topic(name, 128), Ok(()), "{name}");
        }
    }

    #[test]
    fn topics_refuse_each_broken_rule() {
        for name in [
            "", ".a", "a.", "a..b", "a b", "a:b", "a,b", "é", "a\nb", "a\0",
        ] {
            assert!(
                matches!(check_topic(name, 128), Err(Error::InvalidTopic(_))),
                "{name:?}"
            );
        }
        assert!(matches!(
            check_topic(&"x".repeat(129), 128),
            Err(Error::InvalidTopic(_))
        ));
        assert_eq!(
            check_topic("chat.*", 128),
            Err(Error::PatternNotAllowed("chat.*".into()))
        );
        assert!(matches!(
            check_topic("chat.>", 128),
            Err(Error::PatternNotAllowed(_))
        ));
    }

    #[test]
    fn patterns_parse_and_refuse() {
        for text in ["*", ">", "chat.*", "chat.>", "*.x.>", "plain"] {
            assert!(Pattern::parse(text, 128).is_ok(), "{text}");
        }
        for text in ["", ">.a", "a.>.b", "a*", "a.b>", "a..*", "*.", "a b.*"] {
            assert!(
                matches!(Pattern::parse(text, 128), Err(Error::InvalidPattern(_))),
                "{text:?}"
            );
        }
    }

    #[test]
    fn star_matches_one_token_and_gt_the_rest() {
        let star = Pattern::parse("chat.*", 128).unwrap();
        assert!(star.matches("chat.lobby"));
        assert!(!star.matches("chat"));
        assert!(!star.matches("chat.a.b"));
        assert!(!star.matches("news.lobby"));
        let rest = Pattern::parse("chat.>", 128).unwrap();
        assert!(rest.matches("chat.lobby"));
        assert!(rest.matches("chat.a.b"));
        assert!(!rest.matches("chat"));
        assert!(!rest.matches("chatter.a"));
        let mid = Pattern::parse("*.x.>", 128).unwrap();
        assert!(mid.matches("a.x.b.c"));
        assert!(!mid.matches("a.y.b"));
        assert!(!mid.matches("a.x"));
        let exact = Pattern::parse("a.b", 128).unwrap();
        assert!(exact.matches("a.b"));
        assert!(!exact.matches("a.b.c"));
        assert!(!exact.matches("a"));
    }

    #[test]
    fn event_types_cannot_carry_field_breaks() {
        for event in ["message", "join", "x.y:z-1_2"] {
            assert_eq!(check_event(event), Ok(()));
        }
        for event in ["", "a\nevent: x", "a\r", "a\0", "a b", "é", &"e".repeat(65)] {
            assert!(
                matches!(check_event(event), Err(Error::InvalidEvent(_))),
                "{event:?}"
            );
        }
    }

    #[test]
    fn event_types_are_checked_byte_by_byte() {
        for byte in 0..128u8 {
            let event = format!("a{}z", char::from(byte));
            let allowed = byte.is_ascii_alphanumeric() || b"_-.:".contains(&byte);
            assert_eq!(check_event(&event).is_ok(), allowed, "byte {byte:#04x}");
        }
    }

    #[test]
    fn client_ids_refuse_controls_and_length() {
        assert_eq!(check_client_id("ann ✓"), Ok(()));
        for client in ["", "a\nb", "a\u{7f}", &"c".repeat(129)] {
            assert!(matches!(
                check_client_id(client),
                Err(Error::InvalidPresence(_))
            ));
        }
    }
}
