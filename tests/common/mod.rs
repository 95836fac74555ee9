//! Helpers shared by the integration tests.

use std::os::fd::RawFd;
use std::time::Duration;

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
