//! `pushbus_config`: the bus's limits, set field by field.

use std::time::Duration;

use super::{free_raw, guard, into_raw, mut_arg, pushbus_status, FfiResult};
use crate::config::{Config, LagPolicy};

/// A configuration under construction (opaque). Create it with
/// `pushbus_config_new`, set fields, pass it to `pushbus_bus_new` (which
/// copies it), release it with `pushbus_config_free`. Not thread-safe.
pub struct pushbus_config {
    pub(crate) config: Config,
}

/// Lag policy for `pushbus_subscribe`: the bus's default.
pub const PUSHBUS_LAG_DEFAULT: u32 = 0;
/// Lag policy: deliver a gap event and continue from the oldest held (the
/// bus's default unless configured otherwise).
pub const PUSHBUS_LAG_GAP: u32 = 1;
/// Lag policy: close the subscription with a `PUSHBUS_EVENT_CLOSED` event.
pub const PUSHBUS_LAG_CLOSE: u32 = 2;

/// A lag policy code; `PUSHBUS_LAG_DEFAULT` is `None`.
pub(crate) fn lag_policy(value: u32) -> FfiResult<Option<LagPolicy>> {
    match value {
        PUSHBUS_LAG_DEFAULT => Ok(None),
        PUSHBUS_LAG_GAP => Ok(Some(LagPolicy::GapAndContinue)),
        PUSHBUS_LAG_CLOSE => Ok(Some(LagPolicy::Close)),
        _ => Err(pushbus_status::PUSHBUS_INVALID_ARGUMENT),
    }
}

/// Creates a configuration with the defaults (see the Rust docs of
/// `Config`). Writes it to `*out`; free it with `pushbus_config_free`.
/// Errors: `PUSHBUS_NULL_POINTER`.
#[no_mangle]
pub extern "C" fn pushbus_config_new(out: *mut *mut pushbus_config) -> pushbus_status {
    guard!({
        // SAFETY: `out` is NULL or a writable pointer, per this function's contract.
        let out = unsafe { mut_arg(out) }?;
        *out = into_raw(pushbus_config {
            config: Config::default(),
        });
        Ok(())
    })
}

/// Releases a configuration. NULL does nothing.
#[no_mangle]
pub extern "C" fn pushbus_config_free(config: *mut pushbus_config) {
    guard!({
        // SAFETY: NULL or a configuration from pushbus_config_new, not yet freed.
        unsafe { free_raw(config) };
        Ok(())
    });
}

/// Applies `set` to the configuration behind `config`.
fn update(
    config: *mut pushbus_config,
    set: impl FnOnce(&mut Config) -> FfiResult<()>,
) -> pushbus_status {
    guard!({
        // SAFETY: NULL or a live configuration used by one thread at a time.
        let config = unsafe { mut_arg(config) }?;
        set(&mut config.config)
    })
}

/// Like `update`, for setters that cannot fail.
fn assign(config: *mut pushbus_config, set: impl FnOnce(&mut Config)) -> pushbus_status {
    update(config, |config| {
        set(config);
        Ok(())
    })
}

fn millis(ms: u64) -> Option<Duration> {
    (ms > 0).then(|| Duration::from_millis(ms))
}

/// Most messages a topic's ring holds. Checked by `pushbus_bus_new`.
#[no_mangle]
pub extern "C" fn pushbus_config_set_ring_max_messages(
    config: *mut pushbus_config,
    value: usize,
) -> pushbus_status {
    assign(config, |c| c.ring_max_messages = value)
}

/// Most message bytes (payloads and event types) a topic's ring holds:
/// what publishers sent, not memory (see
/// `pushbus_config_set_replay_budget_bytes`).
#[no_mangle]
pub extern "C" fn pushbus_config_set_ring_max_bytes(
    config: *mut pushbus_config,
    value: usize,
) -> pushbus_status {
    assign(config, |c| c.ring_max_bytes = value)
}

/// Messages older than this many milliseconds are evicted; 0: no age limit.
#[no_mangle]
pub extern "C" fn pushbus_config_set_ring_max_age_ms(
    config: *mut pushbus_config,
    ms: u64,
) -> pushbus_status {
    assign(config, |c| c.ring_max_age = millis(ms))
}

/// Message bytes (payloads and event types) all rings together may hold.
/// They are what publishers sent, not the memory that holds them: each
/// message also takes about 75 bytes of bookkeeping and, once encoded, its
/// frames (an SSE event is about the payload and 150 bytes), so rings of
/// 100-byte chat messages read over SSE take about four times their
/// counted bytes.
#[no_mangle]
pub extern "C" fn pushbus_config_set_replay_budget_bytes(
    config: *mut pushbus_config,
    value: usize,
) -> pushbus_status {
    assign(config, |c| c.replay_budget_bytes = value)
}

/// Largest payload accepted, in bytes.
#[no_mangle]
pub extern "C" fn pushbus_config_set_max_message_bytes(
    config: *mut pushbus_config,
    value: usize,
) -> pushbus_status {
    assign(config, |c| c.max_message_bytes = value)
}

/// Most topics that may exist at once.
#[no_mangle]
pub extern "C" fn pushbus_config_set_max_topics(
    config: *mut pushbus_config,
    value: usize,
) -> pushbus_status {
    assign(config, |c| c.max_topics = value)
}

/// Longest topic name or pattern, in bytes (1 to 1024).
#[no_mangle]
pub extern "C" fn pushbus_config_set_max_topic_len(
    config: *mut pushbus_config,
    value: usize,
) -> pushbus_status {
    assign(config, |c| c.max_topic_len = value)
}

/// Idle topics are removed after this many milliseconds; 0: never.
#[no_mangle]
pub extern "C" fn pushbus_config_set_topic_idle_ttl_ms(
    config: *mut pushbus_config,
    ms: u64,
) -> pushbus_status {
    assign(config, |c| c.topic_idle_ttl = millis(ms))
}

/// Default lag policy: `PUSHBUS_LAG_GAP` or `PUSHBUS_LAG_CLOSE`; any other
/// value is `PUSHBUS_INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn pushbus_config_set_lag_policy(
    config: *mut pushbus_config,
    policy: u32,
) -> pushbus_status {
    update(config, |c| {
        c.lag_policy = lag_policy(policy)?.ok_or(pushbus_status::PUSHBUS_INVALID_ARGUMENT)?;
        Ok(())
    })
}

/// Most subscriptions one poller may hold.
#[no_mangle]
pub extern "C" fn pushbus_config_set_max_subscriptions_per_poller(
    config: *mut pushbus_config,
    value: usize,
) -> pushbus_status {
    assign(config, |c| c.max_subscriptions_per_poller = value)
}

/// Whether presence changes publish `join` and `leave` events.
#[no_mangle]
pub extern "C" fn pushbus_config_set_presence_events(
    config: *mut pushbus_config,
    on: bool,
) -> pushbus_status {
    assign(config, |c| c.presence_events = on)
}

/// Largest presence info, in bytes.
#[no_mangle]
pub extern "C" fn pushbus_config_set_max_presence_info_bytes(
    config: *mut pushbus_config,
    value: usize,
) -> pushbus_status {
    assign(config, |c| c.max_presence_info_bytes = value)
}

/// How often the janitor thread sweeps, in milliseconds; 0: no thread (call
/// `pushbus_bus_sweep` yourself).
#[no_mangle]
pub extern "C" fn pushbus_config_set_janitor_interval_ms(
    config: *mut pushbus_config,
    ms: u64,
) -> pushbus_status {
    assign(config, |c| c.janitor_interval = millis(ms))
}
