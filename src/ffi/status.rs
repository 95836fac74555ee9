//! Status codes: what every C entry point returns.

use std::ffi::c_char;

use crate::error::Error;

/// The result of every call. 0 is success; every other value names one
/// cause. Values are never renumbered or reused: new causes get new numbers.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pushbus_status {
    /// Success.
    PUSHBUS_OK = 0,
    /// A required pointer argument was NULL.
    PUSHBUS_NULL_POINTER = 1,
    /// A string argument, or a text payload, is not valid UTF-8.
    PUSHBUS_INVALID_UTF8 = 2,
    /// A topic name breaks the naming rules.
    PUSHBUS_INVALID_TOPIC = 3,
    /// A subscription pattern breaks the naming rules.
    PUSHBUS_INVALID_PATTERN = 4,
    /// A pattern was given where one concrete topic is required.
    PUSHBUS_PATTERN_NOT_ALLOWED = 5,
    /// An event type is empty, too long, or holds a forbidden character.
    PUSHBUS_INVALID_EVENT = 6,
    /// A payload exceeds the configured maximum message size.
    PUSHBUS_MESSAGE_TOO_LARGE = 7,
    /// A payload declared JSON is not one valid JSON value.
    PUSHBUS_INVALID_JSON = 8,
    /// Presence info or a client id is invalid.
    PUSHBUS_INVALID_PRESENCE = 9,
    /// A version key or token does not parse.
    PUSHBUS_BAD_TOKEN = 10,
    /// The bus's topic limit is reached.
    PUSHBUS_TOO_MANY_TOPICS = 11,
    /// The poller's subscription limit is reached.
    PUSHBUS_TOO_MANY_SUBSCRIPTIONS = 12,
    /// The subscription id is unknown to this poller, or already closed.
    PUSHBUS_UNKNOWN_SUBSCRIPTION = 13,
    /// The topic does not exist.
    PUSHBUS_UNKNOWN_TOPIC = 14,
    /// A subscription needs at least one topic or pattern.
    PUSHBUS_NO_TOPICS = 15,
    /// A configuration value is out of range or inconsistent.
    PUSHBUS_INVALID_CONFIG = 16,
    /// A system call failed.
    PUSHBUS_IO = 17,
    /// An access token is malformed, not HS256, or its signature is wrong.
    PUSHBUS_INVALID_JWT = 18,
    /// An access token has expired.
    PUSHBUS_EXPIRED_JWT = 19,
    /// An argument is out of range (an unknown enum value, a bad callback
    /// name, a length too large, an index past the end).
    PUSHBUS_INVALID_ARGUMENT = 20,
    /// A caller-provided buffer is too small; the needed size was written.
    PUSHBUS_BUFFER_TOO_SMALL = 21,
    /// A WebSocket peer broke the protocol; the close code to send was written.
    PUSHBUS_WS_PROTOCOL = 22,
    /// pushbus panicked; the call had no effect that can be relied on. Please
    /// report it: it is a bug.
    PUSHBUS_PANIC = 23,
}

impl pushbus_status {
    fn describe(self) -> &'static str {
        use pushbus_status::*;
        match self {
            PUSHBUS_OK => "ok\0",
            PUSHBUS_NULL_POINTER => "a required pointer was NULL\0",
            PUSHBUS_INVALID_UTF8 => "a string or text payload is not valid UTF-8\0",
            PUSHBUS_INVALID_TOPIC => "invalid topic name\0",
            PUSHBUS_INVALID_PATTERN => "invalid topic pattern\0",
            PUSHBUS_PATTERN_NOT_ALLOWED => "a single topic is required, not a pattern\0",
            PUSHBUS_INVALID_EVENT => "invalid event type\0",
            PUSHBUS_MESSAGE_TOO_LARGE => "message too large\0",
            PUSHBUS_INVALID_JSON => "payload is not valid JSON\0",
            PUSHBUS_INVALID_PRESENCE => "invalid presence client id or info\0",
            PUSHBUS_BAD_TOKEN => "bad version key or token\0",
            PUSHBUS_TOO_MANY_TOPICS => "topic limit reached\0",
            PUSHBUS_TOO_MANY_SUBSCRIPTIONS => "subscription limit reached\0",
            PUSHBUS_UNKNOWN_SUBSCRIPTION => "unknown or closed subscription\0",
            PUSHBUS_UNKNOWN_TOPIC => "unknown topic\0",
            PUSHBUS_NO_TOPICS => "a subscription needs at least one topic or pattern\0",
            PUSHBUS_INVALID_CONFIG => "invalid configuration\0",
            PUSHBUS_IO => "system call failed\0",
            PUSHBUS_INVALID_JWT => "invalid access token\0",
            PUSHBUS_EXPIRED_JWT => "access token expired\0",
            PUSHBUS_INVALID_ARGUMENT => "invalid argument\0",
            PUSHBUS_BUFFER_TOO_SMALL => "buffer too small\0",
            PUSHBUS_WS_PROTOCOL => "WebSocket protocol error\0",
            PUSHBUS_PANIC => "internal error (panic caught): please report it\0",
        }
    }
}

impl From<Error> for pushbus_status {
    fn from(error: Error) -> Self {
        use pushbus_status::*;
        match error {
            Error::InvalidTopic(_) => PUSHBUS_INVALID_TOPIC,
            Error::InvalidPattern(_) => PUSHBUS_INVALID_PATTERN,
            Error::PatternNotAllowed(_) => PUSHBUS_PATTERN_NOT_ALLOWED,
            Error::InvalidEvent(_) => PUSHBUS_INVALID_EVENT,
            Error::MessageTooLarge { .. } => PUSHBUS_MESSAGE_TOO_LARGE,
            Error::InvalidUtf8 => PUSHBUS_INVALID_UTF8,
            Error::InvalidJson(_) => PUSHBUS_INVALID_JSON,
            Error::InvalidPresence(_) => PUSHBUS_INVALID_PRESENCE,
            Error::BadToken(_) => PUSHBUS_BAD_TOKEN,
            Error::TooManyTopics { .. } => PUSHBUS_TOO_MANY_TOPICS,
            Error::TooManySubscriptions { .. } => PUSHBUS_TOO_MANY_SUBSCRIPTIONS,
            Error::UnknownSubscription(_) => PUSHBUS_UNKNOWN_SUBSCRIPTION,
            Error::UnknownTopic(_) => PUSHBUS_UNKNOWN_TOPIC,
            Error::NoTopics => PUSHBUS_NO_TOPICS,
            Error::InvalidConfig(_) => PUSHBUS_INVALID_CONFIG,
            Error::Io(_) => PUSHBUS_IO,
            Error::InvalidJwt(_) => PUSHBUS_INVALID_JWT,
            Error::ExpiredJwt => PUSHBUS_EXPIRED_JWT,
            Error::InvalidArgument(_) => PUSHBUS_INVALID_ARGUMENT,
        }
    }
}

/// A static, NUL-terminated English description of `status`; never NULL.
/// Unknown values (from a newer library) get "unknown status".
#[no_mangle]
pub extern "C" fn pushbus_status_str(status: u32) -> *const c_char {
    let text = ALL
        .iter()
        .find(|known| **known as u32 == status)
        .map_or("unknown status\0", |known| known.describe());
    text.as_ptr().cast()
}

/// Every status, for lookups by number.
const ALL: [pushbus_status; 24] = {
    use pushbus_status::*;
    [
        PUSHBUS_OK,
        PUSHBUS_NULL_POINTER,
        PUSHBUS_INVALID_UTF8,
        PUSHBUS_INVALID_TOPIC,
        PUSHBUS_INVALID_PATTERN,
        PUSHBUS_PATTERN_NOT_ALLOWED,
        PUSHBUS_INVALID_EVENT,
        PUSHBUS_MESSAGE_TOO_LARGE,
        PUSHBUS_INVALID_JSON,
        PUSHBUS_INVALID_PRESENCE,
        PUSHBUS_BAD_TOKEN,
        PUSHBUS_TOO_MANY_TOPICS,
        PUSHBUS_TOO_MANY_SUBSCRIPTIONS,
        PUSHBUS_UNKNOWN_SUBSCRIPTION,
        PUSHBUS_UNKNOWN_TOPIC,
        PUSHBUS_NO_TOPICS,
        PUSHBUS_INVALID_CONFIG,
        PUSHBUS_IO,
        PUSHBUS_INVALID_JWT,
        PUSHBUS_EXPIRED_JWT,
        PUSHBUS_INVALID_ARGUMENT,
        PUSHBUS_BUFFER_TOO_SMALL,
        PUSHBUS_WS_PROTOCOL,
        PUSHBUS_PANIC,
    ]
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_is_listed_once_in_order_and_described() {
        for (number, status) in ALL.iter().enumerate() {
            assert_eq!(
                *status as u32, number as u32,
                "codes are dense and never renumbered"
            );
            assert!(status.describe().ends_with('\0'));
        }
        // SAFETY: pushbus_status_str returns a static NUL-terminated string.
        let unknown = unsafe { std::ffi::CStr::from_ptr(pushbus_status_str(9999)) };
        assert_eq!(unknown.to_str(), Ok("unknown status"));
    }
}
