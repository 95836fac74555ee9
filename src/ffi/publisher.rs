//! `pushbus_publisher`: publishing to one topic without looking it up.

use std::ffi::c_char;

use super::bus::{bus_arg, message_args, write_key};
use super::{free_raw, guard, into_raw, mut_arg, pushbus_key, pushbus_status, ref_arg, str_arg};
use crate::publisher::Publisher;

/// A publisher (opaque): publishes to one topic, found once when it is
/// made, so a publish skips the topic lookup (about a quarter of
/// `pushbus_publish`'s work). While it exists, its topic never expires as
/// idle, so the topic's version keys stay valid. Thread-safe. It keeps the
/// bus alive, so the bus may be freed before it.
pub struct pushbus_publisher {
    publisher: Publisher,
}

/// Makes a publisher for `topic` (created if needed) and writes it to
/// `*out`. Free it with `pushbus_publisher_free`. Errors:
/// `PUSHBUS_NULL_POINTER`, `PUSHBUS_INVALID_UTF8`, `PUSHBUS_INVALID_TOPIC`,
/// `PUSHBUS_PATTERN_NOT_ALLOWED`, `PUSHBUS_TOO_MANY_TOPICS`.
#[no_mangle]
pub extern "C" fn pushbus_publisher_new(
    bus: *const crate::ffi::pushbus_bus,
    topic: *const c_char,
    topic_len: usize,
    out: *mut *mut pushbus_publisher,
) -> pushbus_status {
    guard!({
        // SAFETY: every pointer is NULL or valid for its length, per contract.
        let (bus, topic, out) =
            unsafe { (bus_arg(bus)?, str_arg(topic, topic_len)?, mut_arg(out)?) };
        *out = into_raw(pushbus_publisher {
            publisher: bus.publisher(topic)?,
        });
        Ok(())
    })
}

/// Publishes a message to the publisher's topic and writes its version key
/// to `*out_key` (which may be NULL). Arguments and behaviour as
/// `pushbus_publish`, without the topic. Errors, each leaving the bus
/// unchanged: `PUSHBUS_NULL_POINTER`, `PUSHBUS_INVALID_UTF8`,
/// `PUSHBUS_INVALID_EVENT`, `PUSHBUS_MESSAGE_TOO_LARGE`,
/// `PUSHBUS_INVALID_JSON`, `PUSHBUS_INVALID_ARGUMENT` (unknown kind).
#[no_mangle]
pub extern "C" fn pushbus_publisher_publish(
    publisher: *const pushbus_publisher,
    event: *const c_char,
    event_len: usize,
    kind: u32,
    payload: *const u8,
    payload_len: usize,
    out_key: *mut pushbus_key,
) -> pushbus_status {
    guard!({
        // SAFETY: every pointer is NULL or valid for its length, per contract.
        let (publisher, (event, payload)) = unsafe {
            (
                ref_arg(publisher)?,
                message_args(event, event_len, kind, payload, payload_len)?,
            )
        };
        let key = publisher.publisher.publish(event, payload)?;
        // SAFETY: NULL or writable, per contract.
        unsafe { write_key(out_key, key) };
        Ok(())
    })
}

/// Releases a publisher; its topic may then expire when idle. NULL does
/// nothing.
#[no_mangle]
pub extern "C" fn pushbus_publisher_free(publisher: *mut pushbus_publisher) {
    guard!({
        // SAFETY: NULL or a publisher from pushbus_publisher_new, not yet freed.
        unsafe { free_raw(publisher) };
        Ok(())
    });
}
