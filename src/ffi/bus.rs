//! `pushbus_bus`: publish, polls, presence, statistics.

use std::ffi::c_char;
use std::time::Duration;

use super::{
    bytes_arg, free_raw, guard, into_raw, mut_arg, opt_str_arg, pushbus_buf, pushbus_config,
    pushbus_start, pushbus_status, ref_arg, str_arg, FfiResult,
};
use crate::bus::{Bus, Poll};
use crate::message::{Payload, PayloadKind};
use crate::position::Position;

/// A bus (opaque): topics, rings, presence. Thread-safe. Pollers created
/// from it keep it alive, so it may be freed before them.
pub struct pushbus_bus {
    pub(crate) bus: Bus,
}

/// A version key: message `seq` of the topic's life `epoch`. Render it with
/// `pushbus_key_format` to send it to clients.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct pushbus_key {
    /// The topic's life (random, fixed when the topic was created).
    pub epoch: u64,
    /// The message's number in that life; 0 is "before the first message".
    pub seq: u64,
}

impl From<Position> for pushbus_key {
    fn from(position: Position) -> Self {
        pushbus_key {
            epoch: position.epoch,
            seq: position.seq,
        }
    }
}

/// Payload kind: one JSON value, validated at publish.
pub const PUSHBUS_PAYLOAD_JSON: u32 = 0;
/// Payload kind: UTF-8 text, validated at publish.
pub const PUSHBUS_PAYLOAD_TEXT: u32 = 1;
/// Payload kind: any bytes.
pub const PUSHBUS_PAYLOAD_BINARY: u32 = 2;

pub(crate) fn payload_kind_code(kind: PayloadKind) -> u32 {
    match kind {
        PayloadKind::Json => PUSHBUS_PAYLOAD_JSON,
        PayloadKind::Text => PUSHBUS_PAYLOAD_TEXT,
        PayloadKind::Binary => PUSHBUS_PAYLOAD_BINARY,
    }
}

/// A snapshot of the bus's counters.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct pushbus_stats {
    /// Messages published (presence events included).
    pub published: u64,
    /// Messages handed to subscriptions by pollers.
    pub delivered: u64,
    /// Gap events (resumes from keys no longer held, lagging readers).
    pub gaps: u64,
    /// Subscriptions closed because they lagged.
    pub lag_closes: u64,
    /// Topics that exist now.
    pub topics: u64,
    /// Subscriptions open now.
    pub subscriptions: u64,
    /// Message bytes (payloads and event types) held by all rings now.
    pub replay_bytes: u64,
}

/// Creates a bus from `config` (copied; NULL: the defaults) and writes it to
/// `*out`. Free it with `pushbus_bus_free`. Errors:
/// `PUSHBUS_NULL_POINTER`, `PUSHBUS_INVALID_CONFIG`, `PUSHBUS_IO` (the
/// janitor thread could not start).
#[no_mangle]
pub extern "C" fn pushbus_bus_new(
    config: *const pushbus_config,
    out: *mut *mut pushbus_bus,
) -> pushbus_status {
    guard!({
        // SAFETY: `out` is NULL or writable; `config` NULL or live, per contract.
        let out = unsafe { mut_arg(out) }?;
        // SAFETY: as above.
        let config = unsafe { config.as_ref() }
            .map(|c| c.config.clone())
            .unwrap_or_default();
        *out = into_raw(pushbus_bus {
            bus: Bus::new(config)?,
        });
        Ok(())
    })
}

/// Releases the caller's handle to a bus. The bus itself lives on while
/// pollers created from it exist. NULL does nothing.
#[no_mangle]
pub extern "C" fn pushbus_bus_free(bus: *mut pushbus_bus) {
    guard!({
        // SAFETY: NULL or a bus from pushbus_bus_new, not yet freed.
        unsafe { free_raw(bus) };
        Ok(())
    });
}

/// Borrows the bus behind a handle.
///
/// # Safety
/// `bus` must be NULL or a live handle.
pub(crate) unsafe fn bus_arg<'a>(bus: *const pushbus_bus) -> FfiResult<&'a Bus> {
    // SAFETY: forwarded contract.
    unsafe { ref_arg(bus) }.map(|handle| &handle.bus)
}

/// Publishes a message to one topic (created on first use) and writes its
/// version key to `*out_key` (which may be NULL).
///
/// `event` is an optional event type (NULL: none; else 1-64 of
/// `[A-Za-z0-9_.:-]`). `kind` is a `PUSHBUS_PAYLOAD_*` value; the payload is
/// copied. O(1) in the number of subscriptions; never waits for a reader
/// beyond a poller's short copy. Errors, each leaving the bus unchanged:
/// `PUSHBUS_NULL_POINTER`, `PUSHBUS_INVALID_UTF8`, `PUSHBUS_INVALID_TOPIC`,
/// `PUSHBUS_PATTERN_NOT_ALLOWED`, `PUSHBUS_INVALID_EVENT`,
/// `PUSHBUS_MESSAGE_TOO_LARGE`, `PUSHBUS_INVALID_JSON`,
/// `PUSHBUS_TOO_MANY_TOPICS`, `PUSHBUS_INVALID_ARGUMENT` (unknown kind).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn pushbus_publish(
    bus: *const pushbus_bus,
    topic: *const c_char,
    topic_len: usize,
    event: *const c_char,
    event_len: usize,
    kind: u32,
    payload: *const u8,
    payload_len: usize,
    out_key: *mut pushbus_key,
) -> pushbus_status {
    guard!({
        // SAFETY: every pointer is NULL or valid for its length, per contract.
        let (bus, topic, (event, payload)) = unsafe {
            (
                bus_arg(bus)?,
                str_arg(topic, topic_len)?,
                message_args(event, event_len, kind, payload, payload_len)?,
            )
        };
        let key = bus.publish(topic, event, payload)?;
        // SAFETY: NULL or writable, per contract.
        unsafe { write_key(out_key, key) };
        Ok(())
    })
}

/// A publish's message arguments, `pushbus_publish`'s and
/// `pushbus_publisher_publish`'s alike: the optional event type, and the
/// payload of a `PUSHBUS_PAYLOAD_*` kind (an unknown kind is
/// `PUSHBUS_INVALID_ARGUMENT`).
///
/// # Safety
/// As `bytes_arg`, for `event` and `payload`.
pub(crate) unsafe fn message_args<'a>(
    event: *const c_char,
    event_len: usize,
    kind: u32,
    payload: *const u8,
    payload_len: usize,
) -> FfiResult<(Option<&'a str>, Payload<'a>)> {
    // SAFETY: forwarded contract.
    let (event, bytes) = unsafe {
        (
            opt_str_arg(event, event_len)?,
            bytes_arg(payload, payload_len)?,
        )
    };
    let kind = match kind {
        PUSHBUS_PAYLOAD_JSON => PayloadKind::Json,
        PUSHBUS_PAYLOAD_TEXT => PayloadKind::Text,
        PUSHBUS_PAYLOAD_BINARY => PayloadKind::Binary,
        _ => return Err(pushbus_status::PUSHBUS_INVALID_ARGUMENT),
    };
    Ok((event, Payload { kind, bytes }))
}

/// Writes a publish's key to an optional out-pointer.
///
/// # Safety
/// `out` must be NULL or writable.
pub(crate) unsafe fn write_key(out: *mut pushbus_key, key: Position) {
    // SAFETY: NULL or writable, per contract.
    if let Some(out) = unsafe { out.as_mut() } {
        *out = key.into();
    }
}

/// Writes the topic's newest key to `*out` (creating the topic if needed):
/// subscribing or polling from it gets only what is published later.
/// Errors: `PUSHBUS_NULL_POINTER`, `PUSHBUS_INVALID_UTF8`,
/// `PUSHBUS_INVALID_TOPIC`, `PUSHBUS_PATTERN_NOT_ALLOWED`, `PUSHBUS_TOO_MANY_TOPICS`.
#[no_mangle]
pub extern "C" fn pushbus_bus_head(
    bus: *const pushbus_bus,
    topic: *const c_char,
    topic_len: usize,
    out: *mut pushbus_key,
) -> pushbus_status {
    guard!({
        // SAFETY: pointers NULL or valid, per contract.
        let (bus, topic, out) =
            unsafe { (bus_arg(bus)?, str_arg(topic, topic_len)?, mut_arg(out)?) };
        *out = bus.head(topic)?.into();
        Ok(())
    })
}

/// Writes a snapshot of the counters to `*out`. Errors: `PUSHBUS_NULL_POINTER`.
#[no_mangle]
pub extern "C" fn pushbus_bus_stats(
    bus: *const pushbus_bus,
    out: *mut pushbus_stats,
) -> pushbus_status {
    guard!({
        // SAFETY: pointers NULL or valid, per contract.
        let (bus, out) = unsafe { (bus_arg(bus)?, mut_arg(out)?) };
        let stats = bus.stats();
        *out = pushbus_stats {
            published: stats.published,
            delivered: stats.delivered,
            gaps: stats.gaps,
            lag_closes: stats.lag_closes,
            topics: stats.topics,
            subscriptions: stats.subscriptions,
            replay_bytes: stats.replay_bytes,
        };
        Ok(())
    })
}

/// Runs the janitor's work now: expires presence leases and aged messages,
/// removes idle topics. Errors: `PUSHBUS_NULL_POINTER`.
#[no_mangle]
pub extern "C" fn pushbus_bus_sweep(bus: *const pushbus_bus) -> pushbus_status {
    guard!({
        // SAFETY: NULL or a live bus, per contract.
        unsafe { bus_arg(bus) }?.sweep();
        Ok(())
    })
}

/// Makes `client` present in `topic` for `ttl_ms` milliseconds (polling
/// clients renew it on each poll). `info` is small JSON (NULL: `{}`).
/// Publishes a `join` event when the client was not present (if presence
/// events are on). Errors: `PUSHBUS_NULL_POINTER`, `PUSHBUS_INVALID_UTF8`,
/// `PUSHBUS_INVALID_TOPIC`, `PUSHBUS_PATTERN_NOT_ALLOWED`,
/// `PUSHBUS_INVALID_PRESENCE`, `PUSHBUS_TOO_MANY_TOPICS`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn pushbus_presence_lease(
    bus: *const pushbus_bus,
    topic: *const c_char,
    topic_len: usize,
    client: *const c_char,
    client_len: usize,
    info: *const c_char,
    info_len: usize,
    ttl_ms: u64,
) -> pushbus_status {
    guard!({
        // SAFETY: pointers NULL or valid for their lengths, per contract.
        let (bus, topic, client, info) = unsafe {
            (
                bus_arg(bus)?,
                str_arg(topic, topic_len)?,
                str_arg(client, client_len)?,
                opt_str_arg(info, info_len)?,
            )
        };
        bus.join_lease(
            topic,
            client,
            info.unwrap_or("{}"),
            Duration::from_millis(ttl_ms),
        )?;
        Ok(())
    })
}

/// Removes `client` from `topic`'s presence, whatever holds it, publishing
/// `leave` if it was present; writes whether it was to `*out_was_present`
/// (which may be NULL). Errors: `PUSHBUS_NULL_POINTER`,
/// `PUSHBUS_INVALID_UTF8`, `PUSHBUS_INVALID_TOPIC`, `PUSHBUS_INVALID_PRESENCE`.
#[no_mangle]
pub extern "C" fn pushbus_presence_leave(
    bus: *const pushbus_bus,
    topic: *const c_char,
    topic_len: usize,
    client: *const c_char,
    client_len: usize,
    out_was_present: *mut bool,
) -> pushbus_status {
    guard!({
        // SAFETY: pointers NULL or valid for their lengths, per contract.
        let (bus, topic, client) = unsafe {
            (
                bus_arg(bus)?,
                str_arg(topic, topic_len)?,
                str_arg(client, client_len)?,
            )
        };
        let was_present = bus.leave(topic, client)?;
        // SAFETY: NULL or writable, per contract.
        if let Some(out) = unsafe { out_was_present.as_mut() } {
            *out = was_present;
        }
        Ok(())
    })
}

/// Writes the clients present in `topic` as JSON to `*out` (free it with
/// `pushbus_buf_free`): `[{"client":"ann","info":{...},"since":<ms>},...]`,
/// sorted by client id. An unknown topic gives `[]` (and is not created).
/// Errors: `PUSHBUS_NULL_POINTER`, `PUSHBUS_INVALID_UTF8`, `PUSHBUS_INVALID_TOPIC`.
#[no_mangle]
pub extern "C" fn pushbus_presence_json(
    bus: *const pushbus_bus,
    topic: *const c_char,
    topic_len: usize,
    out: *mut pushbus_buf,
) -> pushbus_status {
    guard!({
        // SAFETY: pointers NULL or valid, per contract.
        let (bus, topic, out) =
            unsafe { (bus_arg(bus)?, str_arg(topic, topic_len)?, mut_arg(out)?) };
        *out = pushbus_buf::from_vec(crate::presence::to_json(&bus.presence(topic)?));
        Ok(())
    })
}

/// The answer to a short or long poll (opaque). Free it with
/// `pushbus_poll_result_free`. Read-only, so safe to read from several threads.
pub struct pushbus_poll_result {
    poll: Poll,
    json: Vec<u8>,
}

/// What a poll found.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct pushbus_poll_info {
    /// Messages returned.
    pub count: usize,
    /// The key to poll from next.
    pub key: pushbus_key,
    /// Whether the starting key was no longer held (the JSON's `gap` is set).
    pub gap: bool,
}

/// Polls one topic: up to `max` messages after `start` (NULL: from now).
/// With `timeout_ms` 0 it answers at once (short poll); otherwise, when
/// nothing is newer than `start`, it blocks the calling thread until the
/// first message or the timeout (long poll; event loops should subscribe on
/// their poller instead). Writes the answer to `*out`. Errors:
/// `PUSHBUS_NULL_POINTER`, `PUSHBUS_INVALID_UTF8`, `PUSHBUS_INVALID_TOPIC`,
/// `PUSHBUS_PATTERN_NOT_ALLOWED`, `PUSHBUS_BAD_TOKEN`,
/// `PUSHBUS_INVALID_ARGUMENT` (bad start kind), `PUSHBUS_TOO_MANY_TOPICS`.
#[no_mangle]
pub extern "C" fn pushbus_poll(
    bus: *const pushbus_bus,
    topic: *const c_char,
    topic_len: usize,
    start: *const pushbus_start,
    max: usize,
    timeout_ms: u64,
    out: *mut *mut pushbus_poll_result,
) -> pushbus_status {
    guard!({
        // SAFETY: pointers NULL or valid, per contract.
        let (bus, topic, out) =
            unsafe { (bus_arg(bus)?, str_arg(topic, topic_len)?, mut_arg(out)?) };
        // SAFETY: NULL or a valid start, per contract.
        let start = unsafe { super::poller::start_arg(start, bus.config().max_topic_len) }?;
        let poll = if timeout_ms == 0 {
            bus.poll(topic, &start, max)?
        } else {
            bus.long_poll(topic, &start, max, Duration::from_millis(timeout_ms))?
        };
        let json = poll.to_json();
        *out = into_raw(pushbus_poll_result { poll, json });
        Ok(())
    })
}

/// Borrows the poll answer's JSON, `{"key":..,"messages":[..],"gap":..}`:
/// valid until the poll is freed. Errors: `PUSHBUS_NULL_POINTER`.
#[no_mangle]
pub extern "C" fn pushbus_poll_result_json(
    poll: *const pushbus_poll_result,
    json: *mut *const u8,
    len: *mut usize,
) -> pushbus_status {
    guard!({
        // SAFETY: pointers NULL or valid, per contract.
        let (poll, json, len) = unsafe { (ref_arg(poll)?, mut_arg(json)?, mut_arg(len)?) };
        *json = poll.json.as_ptr();
        *len = poll.json.len();
        Ok(())
    })
}

/// Writes what the poll found to `*out`. Errors: `PUSHBUS_NULL_POINTER`.
#[no_mangle]
pub extern "C" fn pushbus_poll_result_info(
    poll: *const pushbus_poll_result,
    out: *mut pushbus_poll_info,
) -> pushbus_status {
    guard!({
        // SAFETY: pointers NULL or valid, per contract.
        let (poll, out) = unsafe { (ref_arg(poll)?, mut_arg(out)?) };
        *out = pushbus_poll_info {
            count: poll.poll.messages.len(),
            key: poll.poll.position.into(),
            gap: poll.poll.gap.is_some(),
        };
        Ok(())
    })
}

/// Releases a poll answer. NULL does nothing.
#[no_mangle]
pub extern "C" fn pushbus_poll_result_free(poll: *mut pushbus_poll_result) {
    guard!({
        // SAFETY: NULL or a result from pushbus_poll, not yet freed.
        unsafe { free_raw(poll) };
        Ok(())
    });
}
