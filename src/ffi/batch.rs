//! `pushbus_batch` and `pushbus_event`: what a drain hands to C, zero-copy.

use std::ffi::c_char;

use super::bus::payload_kind_code;
use super::{free_raw, guard, into_raw, mut_arg, pushbus_status, ref_arg};
use crate::batch::{Batch, CloseReason, Event, RawRun};
use crate::frames::{Frames, OwnedFrames};
use crate::message::Message;
use crate::poller::Poller;

/// Event kind: a message for a subscription.
pub const PUSHBUS_EVENT_MESSAGE: u32 = 0;
/// Event kind: messages the subscription will never see (see `pushbus_event`).
pub const PUSHBUS_EVENT_GAP: u32 = 1;
/// Event kind: the bus closed the subscription; its id is now unknown.
pub const PUSHBUS_EVENT_CLOSED: u32 = 2;

/// Close reason: the subscription lagged and its lag policy is close.
pub const PUSHBUS_CLOSE_LAGGED: u32 = 1;

/// `pushbus_gap_info.lost` when the number of lost messages is unknown.
pub const PUSHBUS_LOST_UNKNOWN: u64 = u64::MAX;

/// A message of a batch, shared by its deliveries in the batch.
/// Strings are not NUL-terminated.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pushbus_message_info {
    /// The topic it was published to.
    pub topic: *const c_char,
    /// Its length.
    pub topic_len: usize,
    /// Its version key.
    pub key: super::pushbus_key,
    /// Publish time, milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The event type (empty when none was given).
    pub event: *const c_char,
    /// Its length.
    pub event_len: usize,
    /// The payload.
    pub data: *const u8,
    /// Its length.
    pub data_len: usize,
    /// A `PUSHBUS_PAYLOAD_*` value.
    pub payload_kind: u32,
}

/// What a gap or a close is about.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pushbus_gap_info {
    /// The topic concerned.
    pub topic: *const c_char,
    /// Its length.
    pub topic_len: usize,
    /// Gaps: where the reader was (its token, or its cursor when it lagged).
    pub from: super::pushbus_key,
    /// Gaps: the key reading continues after (the next message follows it).
    pub to: super::pushbus_key,
    /// Messages lost, or `PUSHBUS_LOST_UNKNOWN`.
    pub lost: u64,
    /// Closed events: a `PUSHBUS_CLOSE_*` value; 0 for gaps.
    pub close_reason: u32,
}

/// One event of a drain: 32 bytes, pointing into the batch (valid until it
/// is drained into again, released or freed). Deliveries of one message
/// usually share one `pushbus_message_info`, and always share its payload.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pushbus_event {
    /// `PUSHBUS_EVENT_MESSAGE`, `_GAP` or `_CLOSED`.
    pub kind: u32,
    /// The subscription the event is for.
    pub subscription: u64,
    /// Messages: the message; NULL otherwise.
    pub message: *const pushbus_message_info,
    /// Gaps and closes: what was lost; NULL otherwise.
    pub gap: *const pushbus_gap_info,
}

/// A reusable drain buffer (opaque). Not thread-safe: one thread at a time.
pub struct pushbus_batch {
    batch: Batch,
    /// One per distinct message of the batch, in the batch's order.
    messages: Vec<pushbus_message_info>,
    /// One per gap or closed event; never reallocated during a fill, since
    /// events point into it.
    gaps: Vec<pushbus_gap_info>,
    /// Frames of the batch's gap events, by event index (gaps are rare).
    gap_frames: Vec<(usize, OwnedFrames)>,
}

impl pushbus_batch {
    /// Drains into this batch and writes the events to `events`: message
    /// details are written once per distinct message, and each delivery is
    /// a 32-byte event pointing at them (it was a 120-byte copy each, and
    /// the C ABI reached only 30% of the Rust API's rate).
    pub(crate) fn fill(
        &mut self,
        poller: &Poller,
        capacity: usize,
        events: *mut pushbus_event,
    ) -> usize {
        self.gap_frames.clear();
        self.gaps.clear();
        let count = poller.drain(&mut self.batch, capacity);
        self.messages.clear();
        self.messages
            .extend(self.batch.messages().map(|(topic, message)| {
                let event_name = message.event().unwrap_or("");
                pushbus_message_info {
                    topic: topic.name.as_ptr().cast(),
                    topic_len: topic.name.len(),
                    key: topic.position(message.seq()).into(),
                    time_ms: message.time_ms(),
                    event: event_name.as_ptr().cast(),
                    event_len: event_name.len(),
                    data: message.data().as_ptr(),
                    data_len: message.data().len(),
                    payload_kind: payload_kind_code(message.kind()),
                }
            }));
        // Reserved up front: events point into `gaps`, which must not move.
        self.gaps.reserve(count);
        let mut index = 0;
        for run in self.batch.raw_runs() {
            match run {
                RawRun::Deliveries {
                    subscriptions,
                    messages,
                } => {
                    let infos = &self.messages[messages];
                    // Checked once per run, so the writes below stay in bounds.
                    assert!(index + subscriptions.len() * infos.len() <= count);
                    for &subscription in subscriptions {
                        for info in infos {
                            let event = pushbus_event {
                                kind: PUSHBUS_EVENT_MESSAGE,
                                subscription,
                                message: info,
                                gap: std::ptr::null(),
                            };
                            // SAFETY: `index < count` (checked for the run
                            // above), `drain` returned at most `capacity`, and
                            // the caller provides room for `capacity` events
                            // at `events`.
                            unsafe { events.add(index).write(event) };
                            index += 1;
                        }
                    }
                }
                RawRun::Other(at) => {
                    assert!(at == index && index < count);
                    let event = rare_event(&self.batch, &mut self.gaps, &mut self.gap_frames, at);
                    // SAFETY: `index < count` (checked above); as above.
                    unsafe { events.add(index).write(event) };
                    index += 1;
                }
            }
        }
        debug_assert_eq!(index, count);
        count
    }

    fn frames(&self, index: usize) -> Option<Frames<'_>> {
        match self.batch.get(index)? {
            Event::Message(delivery) => Some(delivery.frames()),
            Event::Gap { .. } => self
                .gap_frames
                .iter()
                .find(|(at, _)| *at == index)
                .map(|(_, frames)| frames.frames()),
            Event::Closed { .. } => None,
        }
    }
}

/// A gap or closed event of `batch` (rare); gaps get their frames encoded
/// now. `gaps` must have room: events point into it.
fn rare_event(
    batch: &Batch,
    gaps: &mut Vec<pushbus_gap_info>,
    gap_frames: &mut Vec<(usize, OwnedFrames)>,
    index: usize,
) -> pushbus_event {
    let (kind, subscription, info) = match batch.get(index) {
        Some(Event::Gap {
            subscription,
            topic,
            gap,
        }) => {
            let frames = crate::frames::gap(topic, &gap.from.to_string(), gap.to);
            gap_frames.push((index, frames));
            let info = pushbus_gap_info {
                topic: topic.as_ptr().cast(),
                topic_len: topic.len(),
                from: gap.from.into(),
                to: gap.to.into(),
                lost: gap.lost.unwrap_or(PUSHBUS_LOST_UNKNOWN),
                close_reason: 0,
            };
            (PUSHBUS_EVENT_GAP, subscription.0, info)
        }
        Some(Event::Closed {
            subscription,
            topic,
            reason,
        }) => {
            let CloseReason::Lagged { lost } = reason;
            let info = pushbus_gap_info {
                topic: topic.as_ptr().cast(),
                topic_len: topic.len(),
                from: Default::default(),
                to: Default::default(),
                lost,
                close_reason: PUSHBUS_CLOSE_LAGGED,
            };
            (PUSHBUS_EVENT_CLOSED, subscription.0, info)
        }
        // Message entries take the fast path in `fill`.
        Some(Event::Message(_)) | None => {
            return pushbus_event {
                kind: PUSHBUS_EVENT_MESSAGE,
                subscription: 0,
                message: std::ptr::null(),
                gap: std::ptr::null(),
            }
        }
    };
    gaps.push(info);
    let gap: *const pushbus_gap_info = &gaps[gaps.len() - 1];
    pushbus_event {
        kind,
        subscription,
        message: std::ptr::null(),
        gap,
    }
}

/// Creates an empty batch and writes it to `*out`; free it with
/// `pushbus_batch_free`. Errors: `PUSHBUS_NULL_POINTER`.
#[no_mangle]
pub extern "C" fn pushbus_batch_new(out: *mut *mut pushbus_batch) -> pushbus_status {
    guard!({
        // SAFETY: NULL or writable, per contract.
        let out = unsafe { mut_arg(out) }?;
        *out = into_raw(pushbus_batch {
            batch: Batch::with_capacity(256),
            messages: Vec::new(),
            gaps: Vec::new(),
            gap_frames: Vec::new(),
        });
        Ok(())
    })
}

/// Releases the batch's events (their pointers become invalid) but keeps
/// the batch for reuse. Errors: `PUSHBUS_NULL_POINTER`.
#[no_mangle]
pub extern "C" fn pushbus_batch_release(batch: *mut pushbus_batch) -> pushbus_status {
    guard!({
        // SAFETY: NULL or a live batch used by this thread only, per contract.
        let batch = unsafe { mut_arg(batch) }?;
        batch.batch.clear();
        batch.messages.clear();
        batch.gaps.clear();
        batch.gap_frames.clear();
        Ok(())
    })
}

/// Frees a batch and its events. NULL does nothing.
#[no_mangle]
pub extern "C" fn pushbus_batch_free(batch: *mut pushbus_batch) {
    guard!({
        // SAFETY: NULL or a batch from pushbus_batch_new, not yet freed.
        unsafe { free_raw(batch) };
        Ok(())
    });
}

/// A message's or gap's wire frames. All three point into one buffer shared
/// by every subscriber of the message: write them, never modify them.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pushbus_frames {
    /// The SSE event: `id: <key>`, `event: <event>`, `data: <envelope>`, blank line.
    pub sse: *const u8,
    /// Its length.
    pub sse_len: usize,
    /// The JSON envelope alone: one line, script-safe (no `<`, no raw
    /// U+2028/U+2029), for polls, WebSocket text frames and iframe chunks.
    pub envelope: *const u8,
    /// Its length.
    pub envelope_len: usize,
    /// The envelope and a newline: one NDJSON line (XHR streaming).
    pub ndjson: *const u8,
    /// Its length.
    pub ndjson_len: usize,
}

impl From<Frames<'_>> for pushbus_frames {
    fn from(frames: Frames<'_>) -> Self {
        pushbus_frames {
            sse: frames.sse().as_ptr(),
            sse_len: frames.sse().len(),
            envelope: frames.envelope().as_ptr(),
            envelope_len: frames.envelope().len(),
            ndjson: frames.ndjson().as_ptr(),
            ndjson_len: frames.ndjson().len(),
        }
    }
}

/// Writes the wire frames of event `index` of the last drain to `*out`:
/// encoded on first use, once per message for every subscriber. Valid as
/// long as the event. Errors: `PUSHBUS_NULL_POINTER`,
/// `PUSHBUS_INVALID_ARGUMENT` (index past the end, or a closed event).
#[no_mangle]
pub extern "C" fn pushbus_batch_frames(
    batch: *const pushbus_batch,
    index: usize,
    out: *mut pushbus_frames,
) -> pushbus_status {
    guard!({
        // SAFETY: pointers NULL or valid, per contract.
        let (batch, out) = unsafe { (ref_arg(batch)?, mut_arg(out)?) };
        *out = batch
            .frames(index)
            .ok_or(pushbus_status::PUSHBUS_INVALID_ARGUMENT)?
            .into();
        Ok(())
    })
}

/// A message kept beyond its batch (opaque, immutable, thread-safe).
pub struct pushbus_message {
    _private: [u8; 0],
}

/// Takes a reference to the message of event `index` that outlives the
/// batch, without copying it, and writes it to `*out`; release it with
/// `pushbus_message_free`. For large payloads that must wait for a slow
/// socket. Errors: `PUSHBUS_NULL_POINTER`, `PUSHBUS_INVALID_ARGUMENT` (index
/// past the end, or not a message event).
#[no_mangle]
pub extern "C" fn pushbus_batch_take(
    batch: *const pushbus_batch,
    index: usize,
    out: *mut *const pushbus_message,
) -> pushbus_status {
    guard!({
        // SAFETY: pointers NULL or valid, per contract.
        let (batch, out) = unsafe { (ref_arg(batch)?, mut_arg(out)?) };
        let Some(Event::Message(delivery)) = batch.batch.get(index) else {
            return Err(pushbus_status::PUSHBUS_INVALID_ARGUMENT);
        };
        *out = delivery.shared().into_raw().cast();
        Ok(())
    })
}

/// Borrows a taken message's payload: valid until the message is freed.
/// Errors: `PUSHBUS_NULL_POINTER`.
#[no_mangle]
pub extern "C" fn pushbus_message_data(
    message: *const pushbus_message,
    data: *mut *const u8,
    len: *mut usize,
) -> pushbus_status {
    guard!({
        if message.is_null() {
            return Err(pushbus_status::PUSHBUS_NULL_POINTER);
        }
        // SAFETY: out-pointers NULL or writable, per contract.
        let (data, len) = unsafe { (mut_arg(data)?, mut_arg(len)?) };
        // SAFETY: `message` is not NULL, so it came from pushbus_batch_take
        // and is not freed, per contract: a live message handle, which
        // outlives the payload pointer written here until it is freed.
        unsafe {
            Message::borrow_raw(message.cast(), |message| {
                *data = message.data().as_ptr();
                *len = message.data().len();
            })
        };
        Ok(())
    })
}

/// Releases a taken message. NULL does nothing.
#[no_mangle]
pub extern "C" fn pushbus_message_free(message: *const pushbus_message) {
    guard!({
        if !message.is_null() {
            // SAFETY: `message` came from Message::into_raw in
            // pushbus_batch_take and is released once, per contract.
            drop(unsafe { Message::from_raw(message.cast()) });
        }
        Ok(())
    });
}
