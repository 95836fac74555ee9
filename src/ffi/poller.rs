//! `pushbus_poller`: subscriptions, the pollable fd, wait and batch drain.

use std::ffi::c_char;
use std::time::Duration;

use super::bus::{bus_arg, pushbus_bus};
use super::config::lag_policy;
use super::{
    free_raw, guard, into_raw, mut_arg, opt_str_arg, pushbus_batch, pushbus_buf, pushbus_event,
    pushbus_status, ref_arg, str_arg, FfiResult,
};
use crate::fd::FdMode;
use crate::poller::Poller;
use crate::position::Token;
use crate::subscription::{Start, SubscribeOptions, SubscriptionId};

/// A poller (opaque): one consumer's subscriptions and its fd. Thread-safe,
/// but calls on one poller are serialised: give each draining thread its own.
pub struct pushbus_poller {
    poller: Poller,
}

/// A string given as pointer and length (no NUL needed).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pushbus_str {
    /// The bytes (UTF-8); may be NULL when `len` is 0.
    pub ptr: *const c_char,
    /// Their number.
    pub len: usize,
}

/// Start: only messages published from now on.
pub const PUSHBUS_START_NOW: u32 = 0;
/// Start: every message still held.
pub const PUSHBUS_START_OLDEST: u32 = 1;
/// Start: the last `last_n` messages held of each topic.
pub const PUSHBUS_START_LAST: u32 = 2;
/// Start: exactly after `token` (a key or a composite token). A token no
/// longer held gives a gap event first.
pub const PUSHBUS_START_TOKEN: u32 = 3;

/// Where a subscription or poll starts reading.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pushbus_start {
    /// A `PUSHBUS_START_*` value.
    pub kind: u32,
    /// For `PUSHBUS_START_LAST`: how many messages.
    pub last_n: u64,
    /// For `PUSHBUS_START_TOKEN`: the token's text.
    pub token: *const c_char,
    /// Its length in bytes.
    pub token_len: usize,
}

/// Reads a start; NULL is "now".
///
/// # Safety
/// `start` must be NULL or point to a valid `pushbus_start` whose token is
/// valid for its length.
pub(crate) unsafe fn start_arg(
    start: *const pushbus_start,
    max_topic_len: usize,
) -> FfiResult<Start> {
    // SAFETY: forwarded contract.
    let Some(start) = (unsafe { start.as_ref() }) else {
        return Ok(Start::Now);
    };
    Ok(match start.kind {
        PUSHBUS_START_NOW => Start::Now,
        PUSHBUS_START_OLDEST => Start::Oldest,
        PUSHBUS_START_LAST => Start::Last(start.last_n),
        PUSHBUS_START_TOKEN => {
            // SAFETY: forwarded contract.
            let text = unsafe { str_arg(start.token, start.token_len) }?;
            Start::After(Token::parse(text, max_topic_len)?)
        }
        _ => return Err(pushbus_status::PUSHBUS_INVALID_ARGUMENT),
    })
}

/// Borrows the poller behind a handle.
///
/// # Safety
/// `poller` must be NULL or a live handle.
unsafe fn poller_arg<'a>(poller: *const pushbus_poller) -> FfiResult<&'a Poller> {
    // SAFETY: forwarded contract.
    unsafe { ref_arg(poller) }.map(|handle| &handle.poller)
}

/// Creates a poller on `bus` and writes it to `*out`; free it with
/// `pushbus_poller_free`. Errors: `PUSHBUS_NULL_POINTER`.
#[no_mangle]
pub extern "C" fn pushbus_poller_new(
    bus: *const pushbus_bus,
    out: *mut *mut pushbus_poller,
) -> pushbus_status {
    guard!({
        // SAFETY: pointers NULL or valid, per contract.
        let (bus, out) = unsafe { (bus_arg(bus)?, mut_arg(out)?) };
        *out = into_raw(pushbus_poller {
            poller: bus.poller(),
        });
        Ok(())
    })
}

/// Closes every subscription of the poller (releasing the presence they
/// held), closes its fd and frees it. NULL does nothing. Batches filled
/// from it stay valid until they are released.
#[no_mangle]
pub extern "C" fn pushbus_poller_free(poller: *mut pushbus_poller) {
    guard!({
        // SAFETY: NULL or a poller from pushbus_poller_new, not yet freed.
        unsafe { free_raw(poller) };
        Ok(())
    });
}

/// Subscribes to `count` topics and patterns (`chat.lobby`, `chat.*`,
/// `chat.>`), starting at `start` (NULL: now), with `lag_policy` (a
/// `PUSHBUS_LAG_*` value) and writes the new subscription's id to `*out_id`.
/// Topics that do not exist are created; patterns also match topics
/// created later. A single key resumes only a one-topic subscription.
/// Errors: `PUSHBUS_NULL_POINTER`, `PUSHBUS_INVALID_UTF8`, `PUSHBUS_NO_TOPICS`,
/// `PUSHBUS_INVALID_TOPIC`, `PUSHBUS_INVALID_PATTERN`, `PUSHBUS_BAD_TOKEN`,
/// `PUSHBUS_INVALID_ARGUMENT`, `PUSHBUS_TOO_MANY_TOPICS`,
/// `PUSHBUS_TOO_MANY_SUBSCRIPTIONS`.
#[no_mangle]
pub extern "C" fn pushbus_subscribe(
    poller: *const pushbus_poller,
    selectors: *const pushbus_str,
    count: usize,
    start: *const pushbus_start,
    lag: u32,
    out_id: *mut u64,
) -> pushbus_status {
    guard!({
        // SAFETY: pointers NULL or valid, per contract.
        let (poller, out_id) = unsafe { (poller_arg(poller)?, mut_arg(out_id)?) };
        // SAFETY: `selectors` is NULL (with count 0) or `count` valid entries.
        let entries = unsafe {
            super::bytes_arg(
                selectors.cast::<u8>(),
                count.saturating_mul(size_of::<pushbus_str>()),
            )
        }?;
        let entries: &[pushbus_str] = if count == 0 {
            &[]
        } else {
            // SAFETY: `entries` spans `count` pushbus_str values at their own
            // (aligned) address, as the caller promised.
            unsafe { std::slice::from_raw_parts(entries.as_ptr().cast(), count) }
        };
        let mut names = Vec::with_capacity(count);
        for entry in entries {
            // SAFETY: each entry's pointer is valid for its length, per contract.
            names.push(unsafe { str_arg(entry.ptr, entry.len) }?);
        }
        let max_topic_len = poller.config().max_topic_len;
        // SAFETY: NULL or a valid start, per contract.
        let start = unsafe { start_arg(start, max_topic_len) }?;
        let options = SubscribeOptions {
            lag_policy: lag_policy(lag)?,
        };
        *out_id = poller.subscribe_with(&names, start, options)?.0;
        Ok(())
    })
}

/// Closes a subscription, releasing the presence it held. Errors:
/// `PUSHBUS_NULL_POINTER`, `PUSHBUS_UNKNOWN_SUBSCRIPTION` (unknown or
/// already closed: closing twice is harmless).
#[no_mangle]
pub extern "C" fn pushbus_unsubscribe(poller: *const pushbus_poller, id: u64) -> pushbus_status {
    guard!({
        // SAFETY: NULL or a live poller, per contract.
        unsafe { poller_arg(poller) }?.unsubscribe(SubscriptionId(id))?;
        Ok(())
    })
}

/// Writes the subscription's resume token to `*out` (free it with
/// `pushbus_buf_free`): a key for a one-topic subscription, else a composite
/// token. Resuming from it delivers exactly what it has not been handed.
/// Errors: `PUSHBUS_NULL_POINTER`, `PUSHBUS_UNKNOWN_SUBSCRIPTION`.
#[no_mangle]
pub extern "C" fn pushbus_subscription_token(
    poller: *const pushbus_poller,
    id: u64,
    out: *mut pushbus_buf,
) -> pushbus_status {
    guard!({
        // SAFETY: pointers NULL or valid, per contract.
        let (poller, out) = unsafe { (poller_arg(poller)?, mut_arg(out)?) };
        let token = poller.position(SubscriptionId(id))?;
        *out = pushbus_buf::from_vec(token.to_string().into_bytes());
        Ok(())
    })
}

/// Makes `client` present in `topic` while subscription `id` is open.
/// `info` is small JSON (NULL: `{}`). Publishes `join` when the client was
/// not present. Errors: `PUSHBUS_NULL_POINTER`, `PUSHBUS_INVALID_UTF8`,
/// `PUSHBUS_INVALID_TOPIC`, `PUSHBUS_INVALID_PRESENCE`,
/// `PUSHBUS_UNKNOWN_SUBSCRIPTION`, `PUSHBUS_TOO_MANY_TOPICS`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn pushbus_presence_join(
    poller: *const pushbus_poller,
    id: u64,
    topic: *const c_char,
    topic_len: usize,
    client: *const c_char,
    client_len: usize,
    info: *const c_char,
    info_len: usize,
) -> pushbus_status {
    guard!({
        // SAFETY: pointers NULL or valid for their lengths, per contract.
        let (poller, topic, client, info) = unsafe {
            (
                poller_arg(poller)?,
                str_arg(topic, topic_len)?,
                str_arg(client, client_len)?,
                opt_str_arg(info, info_len)?,
            )
        };
        poller.join(SubscriptionId(id), topic, client, info.unwrap_or("{}"))?;
        Ok(())
    })
}

/// fd mode: an eventfd (Linux).
pub const PUSHBUS_FD_EVENTFD: u32 = 0;
/// fd mode: the read end of a pipe (portable; Node's `net.Socket`).
pub const PUSHBUS_FD_PIPE: u32 = 1;

/// Writes the poller's pollable fd to `*out_fd`, creating it in `mode`
/// (`PUSHBUS_FD_*`) on first call. It is readable while something may be
/// drained. The poller owns it: never read, write or close it. Errors:
/// `PUSHBUS_NULL_POINTER`, `PUSHBUS_INVALID_ARGUMENT` (unknown mode),
/// `PUSHBUS_INVALID_CONFIG` (it exists in the other mode), `PUSHBUS_IO`.
#[no_mangle]
pub extern "C" fn pushbus_poller_fd(
    poller: *const pushbus_poller,
    mode: u32,
    out_fd: *mut std::ffi::c_int,
) -> pushbus_status {
    guard!({
        // SAFETY: pointers NULL or valid, per contract.
        let (poller, out_fd) = unsafe { (poller_arg(poller)?, mut_arg(out_fd)?) };
        let mode = match mode {
            PUSHBUS_FD_EVENTFD => FdMode::EventFd,
            PUSHBUS_FD_PIPE => FdMode::Pipe,
            _ => return Err(pushbus_status::PUSHBUS_INVALID_ARGUMENT),
        };
        *out_fd = poller.fd(mode)?;
        Ok(())
    })
}

/// Blocks until something may be drained or `timeout_ms` passes (negative:
/// no limit; 0: just check); writes whether something may be drained to
/// `*out_ready`. Errors: `PUSHBUS_NULL_POINTER`.
#[no_mangle]
pub extern "C" fn pushbus_poller_wait(
    poller: *const pushbus_poller,
    timeout_ms: i64,
    out_ready: *mut bool,
) -> pushbus_status {
    guard!({
        // SAFETY: pointers NULL or valid, per contract.
        let (poller, out_ready) = unsafe { (poller_arg(poller)?, mut_arg(out_ready)?) };
        let timeout = u64::try_from(timeout_ms).ok().map(Duration::from_millis);
        *out_ready = poller.wait(timeout);
        Ok(())
    })
}

/// Drains up to `capacity` events without blocking: fills `events[0..n]`,
/// writes `n` to `*out_count`. The events' pointers point into `batch` and
/// stay valid until `batch` is drained into again, released or freed; any
/// earlier contents of `batch` are released first. Errors:
/// `PUSHBUS_NULL_POINTER`.
#[no_mangle]
pub extern "C" fn pushbus_poller_drain(
    poller: *const pushbus_poller,
    batch: *mut pushbus_batch,
    events: *mut pushbus_event,
    capacity: usize,
    out_count: *mut usize,
) -> pushbus_status {
    guard!({
        // SAFETY: pointers NULL or valid, per contract; the batch is used by
        // this thread only during the call.
        let (poller, batch, out_count) =
            unsafe { (poller_arg(poller)?, mut_arg(batch)?, mut_arg(out_count)?) };
        if events.is_null() && capacity > 0 {
            return Err(pushbus_status::PUSHBUS_NULL_POINTER);
        }
        let count = batch.fill(poller, capacity, events);
        *out_count = count;
        Ok(())
    })
}
