//! Errors: every bad input is one of these values, never a panic.

use std::fmt;

/// Everything that can go wrong in a call to pushbus.
///
/// Each variant names one cause, so callers (and the C ABI, which maps each
/// variant to a stable status code) can react to it without parsing text.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A topic name breaks the naming rules; the text says which rule.
    InvalidTopic(String),
    /// A subscription pattern breaks the naming rules; the text says which.
    InvalidPattern(String),
    /// A pattern (`*`, `>`) was given where one concrete topic is required.
    PatternNotAllowed(String),
    /// An event type is empty, too long, or holds a character outside
    /// `[A-Za-z0-9_.:-]`.
    InvalidEvent(String),
    /// The payload is larger than [`Config::max_message_bytes`](crate::Config::max_message_bytes).
    MessageTooLarge {
        /// The payload's size in bytes.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A payload declared as text is not UTF-8.
    InvalidUtf8,
    /// A payload declared as JSON is not one valid JSON value.
    InvalidJson(String),
    /// Presence info is not a JSON value, or is too large.
    InvalidPresence(String),
    /// A version-key token does not parse; the text says why.
    BadToken(String),
    /// Creating this topic would exceed [`Config::max_topics`](crate::Config::max_topics).
    TooManyTopics {
        /// The configured limit.
        limit: usize,
    },
    /// Adding this subscription would exceed
    /// [`Config::max_subscriptions_per_poller`](crate::Config::max_subscriptions_per_poller).
    TooManySubscriptions {
        /// The configured limit.
        limit: usize,
    },
    /// The subscription id is unknown to this poller, or already closed.
    UnknownSubscription(u64),
    /// The topic does not exist (for calls that never create one).
    UnknownTopic(String),
    /// A subscription needs at least one topic or pattern.
    NoTopics,
    /// A configuration value is out of range; the text says which.
    InvalidConfig(String),
    /// A system call failed (creating the poller's file descriptor).
    Io(String),
    /// An access token (JWT) is malformed, not HS256, or its signature does
    /// not verify; the text says which (never the token itself).
    InvalidJwt(String),
    /// An access token's `exp` has passed.
    ExpiredJwt,
    /// A framing argument (an iframe callback name, a header value) is
    /// invalid; the text says why.
    InvalidArgument(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidTopic(why) => write!(f, "invalid topic name: {why}"),
            Error::InvalidPattern(why) => write!(f, "invalid topic pattern: {why}"),
            Error::PatternNotAllowed(name) => {
                write!(
                    f,
                    "a single topic is required here, not the pattern {name:?}"
                )
            }
            Error::InvalidEvent(why) => write!(f, "invalid event type: {why}"),
            Error::MessageTooLarge { size, limit } => {
                write!(
                    f,
                    "message of {size} bytes exceeds the limit of {limit} bytes"
                )
            }
            Error::InvalidUtf8 => write!(f, "text payload is not valid UTF-8"),
            Error::InvalidJson(why) => write!(f, "JSON payload is not valid JSON: {why}"),
            Error::InvalidPresence(why) => write!(f, "invalid presence info: {why}"),
            Error::BadToken(why) => write!(f, "bad version key: {why}"),
            Error::TooManyTopics { limit } => write!(f, "topic limit of {limit} reached"),
            Error::TooManySubscriptions { limit } => {
                write!(f, "subscription limit of {limit} per poller reached")
            }
            Error::UnknownSubscription(id) => write!(f, "unknown or closed subscription {id}"),
            Error::UnknownTopic(name) => write!(f, "unknown topic {name:?}"),
            Error::NoTopics => write!(f, "a subscription needs at least one topic or pattern"),
            Error::InvalidConfig(why) => write!(f, "invalid configuration: {why}"),
            Error::Io(why) => write!(f, "system call failed: {why}"),
            Error::InvalidJwt(why) => write!(f, "invalid access token: {why}"),
            Error::ExpiredJwt => write!(f, "access token expired"),
            Error::InvalidArgument(why) => write!(f, "invalid argument: {why}"),
        }
    }
}

impl std::error::Error for Error {}

/// The result type of every fallible pushbus call.
pub type Result<T, E = Error> = std::result::Result<T, E>;
