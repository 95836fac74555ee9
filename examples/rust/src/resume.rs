//! Where a stream starts: live, after the client's key, or (for a key that
//! does not parse) from the oldest message held, announced by a gap.
//!
//! Streams never answer a bad key with an error status: an EventSource
//! gives up for good on one. The gap's `from` is the client's text as it
//! sent it (escaped by pushbus), its `to` the key before the oldest message
//! held, so the stream then replays everything still held.

use pushbus::{Bus, Position, Start, Token};

use crate::frame::Frame;

/// A stream's resume point, as the client gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resume {
    /// No key: only what is published from now on.
    Live,
    /// Exactly what follows this key (a gap first if it is no longer held).
    After(Position),
    /// A key that does not parse, as sent.
    Unreadable(String),
}

impl Resume {
    /// From a `key=` parameter (XHR, iframe, WebSocket).
    pub fn from_key(key: Option<&str>) -> Resume {
        match key {
            None | Some("") => Resume::Live,
            Some(text) => match Position::parse(text) {
                Ok(position) => Resume::After(position),
                Err(_) => Resume::Unreadable(text.to_owned()),
            },
        }
    }

    /// From SSE's `Last-Event-ID` header and `lastEventId` parameter; the
    /// header wins. pushbus caps the length and refuses CR, LF and NUL.
    pub fn from_last_event_id(header: Option<&[u8]>, query: Option<&str>) -> Resume {
        // One topic per stream: a composite token has no place here.
        let max_topic_len = pushbus::Config::default().max_topic_len;
        match pushbus::sse::last_event_id(header, query, max_topic_len) {
            Ok(None) => Resume::Live,
            Ok(Some(Token::Key(position))) => Resume::After(position),
            Ok(Some(Token::Composite(_))) | Err(_) => {
                let raw = header.map_or_else(
                    || query.unwrap_or_default().to_owned(),
                    |bytes| String::from_utf8_lossy(bytes).into_owned(),
                );
                Resume::Unreadable(raw)
            }
        }
    }

    /// Where `topic`'s subscription starts, and the gap to send before
    /// anything else, if any.
    pub fn start(self, bus: &Bus, topic: &str) -> Result<(Start, Option<Frame>), pushbus::Error> {
        match self {
            Resume::Live => Ok((Start::Now, None)),
            Resume::After(position) => Ok((Start::After(Token::Key(position)), None)),
            Resume::Unreadable(text) => {
                let to = bus.oldest(topic)?;
                let gap = pushbus::frames::gap(topic, &text, to);
                Ok((Start::After(Token::Key(to)), Some(Frame::of_gap(gap))))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pushbus::{Config, Payload};

    #[test]
    fn keys_parse_or_are_kept_as_sent() {
        let key = Position {
            epoch: 0xab,
            seq: 3,
        };
        assert_eq!(Resume::from_key(None), Resume::Live);
        assert_eq!(Resume::from_key(Some("")), Resume::Live);
        assert_eq!(Resume::from_key(Some("ab-3")), Resume::After(key));
        assert_eq!(
            Resume::from_key(Some("nope")),
            Resume::Unreadable("nope".to_owned())
        );
    }

    #[test]
    fn the_last_event_id_header_wins_over_the_query() {
        let header = Position {
            epoch: 0xab,
            seq: 9,
        };
        assert_eq!(
            Resume::from_last_event_id(Some(b"ab-9"), Some("ab-3")),
            Resume::After(header)
        );
        assert_eq!(
            Resume::from_last_event_id(None, Some("ab-3")),
            Resume::After(Position {
                epoch: 0xab,
                seq: 3
            })
        );
        assert_eq!(
            Resume::from_last_event_id(Some(b"x\0y"), Some("ab-3")),
            Resume::Unreadable("x\0y".to_owned())
        );
        assert_eq!(
            Resume::from_last_event_id(None, Some("chat.a:ab-3")),
            Resume::Unreadable("chat.a:ab-3".to_owned())
        );
        assert_eq!(Resume::from_last_event_id(None, None), Resume::Live);
    }

    #[test]
    fn an_unreadable_key_replays_what_is_held_after_a_gap() {
        let mut config = Config::default();
        config.ring_max_messages = 2;
        config.janitor_interval = None;
        let bus = Bus::new(config).unwrap();
        for text in ["one", "two", "three"] {
            bus.publish("chat.r", None, Payload::text(text)).unwrap();
        }
        let (start, gap) = Resume::Unreadable("</script>".to_owned())
            .start(&bus, "chat.r")
            .unwrap();
        let poll = bus.poll("chat.r", &start, 10).unwrap();
        let texts: Vec<&[u8]> = poll.messages.iter().map(|m| m.data()).collect();
        assert_eq!(texts, [&b"two"[..], b"three"]);
        let gap: serde_json::Value = serde_json::from_slice(&gap.unwrap().envelope()).unwrap();
        assert_eq!(gap["event"], "gap");
        assert_eq!(gap["from"], "</script>");
        let Start::After(Token::Key(to)) = start else {
            panic!("{start:?}")
        };
        assert_eq!(gap["to"], to.to_string());
    }
}
