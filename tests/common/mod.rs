//! Helpers shared by the integration tests.

use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use pushbus::{Bus, Config};

/// The defaults, without the janitor thread: tests expire topics and
/// leases by hand, when they mean to.
#[allow(dead_code)] // not every test binary that includes this module uses it
pub fn config() -> Config {
    let mut config = Config::default();
    config.janitor_interval = None;
    config
}

/// A bus with [`config`].
#[allow(dead_code)] // not every test binary that includes this module uses it
pub fn bus() -> Bus {
    Bus::new(config()).unwrap()
}

/// A bus with [`config`] whose rings hold `messages` each.
#[allow(dead_code)] // not every test binary that includes this module uses it
pub fn bus_with_ring(messages: usize) -> Bus {
    let mut config = config();
    config.ring_max_messages = messages;
    Bus::new(config).unwrap()
}

/// Whether `fd` becomes readable within `timeout` (zero: right now), asked
/// with libc `poll()` as an event loop would.
pub fn readable_within(fd: RawFd, timeout: Duration) -> bool {
    let mut pollfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let millis = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: `pollfd` is one valid, writable pollfd for the whole call and
    // the count passed is 1.
    let ready = unsafe { libc::poll(&mut pollfd, 1, millis) };
    ready == 1 && pollfd.revents & libc::POLLIN != 0
}

/// Whether `fd` is readable right now.
#[allow(dead_code)] // not every test binary that includes this module uses it
pub fn readable(fd: RawFd) -> bool {
    readable_within(fd, Duration::ZERO)
}

/// Waits until `done` holds, checking every few milliseconds; fails after
/// two seconds, naming `what`. For what follows a TTL or an age: the bus
/// reads the coarse real-time clock, which lags the precise one by up to
/// a tick, and on a tickless machine sometimes by two or more (8 ms seen
/// on a 2-vCPU guest, where it also stood still across a 5 ms sleep in
/// 1.5 % of tries), so a TTL is over some time after it has passed.
#[allow(dead_code)] // not every test binary that includes this module uses it
pub fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within two seconds");
        std::thread::sleep(Duration::from_millis(2));
    }
}
