//! Shared by the benchmarks that drive pushbus through its C ABI: a bus,
//! poller and batch made with the `extern "C"` functions, and
//! `subscriptions` subscriptions to one topic.

use std::ptr::null_mut;

use pushbus::ffi;

/// The topic the C ABI fan-out benchmarks publish to.
pub const TOPIC: &[u8] = b"fanout";

/// A bus with rings of `capacity` messages and no janitor, a poller with
/// `subscriptions` subscriptions to [`TOPIC`], and a batch.
pub fn fanout(
    capacity: usize,
    subscriptions: usize,
) -> (
    *mut ffi::pushbus_bus,
    *mut ffi::pushbus_poller,
    *mut ffi::pushbus_batch,
) {
    use ffi::pushbus_status::PUSHBUS_OK;
    let (mut config, mut bus, mut poller, mut batch) =
        (null_mut(), null_mut(), null_mut(), null_mut());
    assert_eq!(ffi::pushbus_config_new(&mut config), PUSHBUS_OK);
    assert_eq!(
        ffi::pushbus_config_set_ring_max_messages(config, capacity),
        PUSHBUS_OK
    );
    assert_eq!(
        ffi::pushbus_config_set_janitor_interval_ms(config, 0),
        PUSHBUS_OK
    );
    assert_eq!(ffi::pushbus_bus_new(config, &mut bus), PUSHBUS_OK);
    ffi::pushbus_config_free(config);
    assert_eq!(ffi::pushbus_poller_new(bus, &mut poller), PUSHBUS_OK);
    assert_eq!(ffi::pushbus_batch_new(&mut batch), PUSHBUS_OK);
    let topic = ffi::pushbus_str {
        ptr: TOPIC.as_ptr().cast(),
        len: TOPIC.len(),
    };
    for _ in 0..subscriptions {
        let mut id = 0;
        let status = ffi::pushbus_subscribe(poller, &topic, 1, std::ptr::null(), 0, &mut id);
        assert_eq!(status, PUSHBUS_OK);
    }
    (bus, poller, batch)
}

/// An array of `len` events for drains to fill.
pub fn events(len: usize) -> Vec<ffi::pushbus_event> {
    // SAFETY: pushbus_event is a plain C struct of integers and pointers,
    // for which all-zero bytes are a valid value; drains overwrite it.
    vec![unsafe { std::mem::zeroed() }; len]
}

/// A publisher for [`TOPIC`] (a server publishing to a hot topic would
/// hold one, as the peers hold their senders).
pub fn publisher(bus: *mut ffi::pushbus_bus) -> *mut ffi::pushbus_publisher {
    let mut publisher = null_mut();
    let status =
        ffi::pushbus_publisher_new(bus, TOPIC.as_ptr().cast(), TOPIC.len(), &mut publisher);
    assert_eq!(status, ffi::pushbus_status::PUSHBUS_OK);
    publisher
}

/// Publishes `payload` with `pushbus_publisher_publish`, as binary.
pub fn publish(publisher: *mut ffi::pushbus_publisher, payload: &[u8]) {
    let status = ffi::pushbus_publisher_publish(
        publisher,
        std::ptr::null(),
        0,
        ffi::PUSHBUS_PAYLOAD_BINARY,
        payload.as_ptr(),
        payload.len(),
        null_mut(),
    );
    assert_eq!(status, ffi::pushbus_status::PUSHBUS_OK);
}

/// One `pushbus_poller_drain` into `events`: how many it filled.
pub fn drain_once(
    poller: *mut ffi::pushbus_poller,
    batch: *mut ffi::pushbus_batch,
    events: &mut [ffi::pushbus_event],
) -> usize {
    let mut count = 0;
    let status =
        ffi::pushbus_poller_drain(poller, batch, events.as_mut_ptr(), events.len(), &mut count);
    assert_eq!(status, ffi::pushbus_status::PUSHBUS_OK);
    count
}

/// The one-thread fan-out round through the C ABI: publishes `burst`
/// copies of `payload`, then drains everything, touching each delivery's
/// length. Returns the number of deliveries; panics on any gap.
pub fn publish_then_drain(
    publisher: *mut ffi::pushbus_publisher,
    poller: *mut ffi::pushbus_poller,
    batch: *mut ffi::pushbus_batch,
    events: &mut [ffi::pushbus_event],
    burst: usize,
    payload: &[u8],
) -> usize {
    for _ in 0..burst {
        publish(publisher, payload);
    }
    let (mut delivered, mut bytes) = (0, 0);
    loop {
        let count = drain_once(poller, batch, events);
        if count == 0 {
            break;
        }
        for event in &events[..count] {
            assert_eq!(
                event.kind,
                ffi::PUSHBUS_EVENT_MESSAGE,
                "the ring holds the burst"
            );
            // SAFETY: a message event's `message` points into the batch,
            // valid until the next drain.
            bytes += std::hint::black_box(unsafe { (*event.message).data_len });
        }
        delivered += count;
    }
    std::hint::black_box(bytes);
    delivered
}
