//! The two clocks the bus reads, both coarse: a read costs a few
//! nanoseconds instead of a full `clock_gettime` (the precise clock was a
//! tenth of a publish), at a resolution of one tick (1-4 ms), plenty for
//! what they time.
//!
//! - [`wall_ms`]: what clients see and compare with their own clocks: a
//!   message's time (and so its age in the ring), a client's presence
//!   `since`.
//! - [`monotonic_ms`]: what the bus enforces by itself, presence leases and
//!   idle topics. A step of the wall clock (NTP, a resumed virtual machine)
//!   must neither end every polling client's presence at once, nor remove
//!   every idle topic with its history, nor keep either for the length of
//!   the step.
//!
//! A publish reads only the wall clock, for the message's time: a second
//! read was 43 instructions of a 390-instruction delivery
//! (`benches/instr.rs`). The janitor's sweep dates a topic's publishes on
//! the monotonic clock instead, from the newest message's wall-clock age,
//! kept between that sweep and the one before, so a step moves that date by
//! at most one sweep interval.

/// Milliseconds since the Unix epoch.
pub(crate) fn wall_ms() -> u64 {
    let now = coarse(Clock::Wall).unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as u64)
    });
    #[cfg(test)]
    let now = now.saturating_add_signed(tests::WALL_STEP_MS.get());
    now
}

/// Milliseconds on a clock that only moves forward, from an arbitrary
/// start: for durations only.
pub(crate) fn monotonic_ms() -> u64 {
    coarse(Clock::Monotonic).unwrap_or_else(|| {
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        START
            .get_or_init(std::time::Instant::now)
            .elapsed()
            .as_millis() as u64
    })
}

#[derive(Clone, Copy)]
enum Clock {
    Wall,
    Monotonic,
}

/// `clock`'s coarse Linux clock, in milliseconds; `None` elsewhere or if
/// the call fails (then the callers read the precise clock).
#[cfg(target_os = "linux")]
fn coarse(clock: Clock) -> Option<u64> {
    let id = match clock {
        Clock::Wall => libc::CLOCK_REALTIME_COARSE,
        Clock::Monotonic => libc::CLOCK_MONOTONIC_COARSE,
    };
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(id, &mut now) };
    (rc == 0).then(|| (now.tv_sec as u64).saturating_mul(1000) + (now.tv_nsec as u64) / 1_000_000)
}

#[cfg(not(target_os = "linux"))]
fn coarse(_: Clock) -> Option<u64> {
    None
}

#[cfg(test)]
pub(crate) mod tests {
    use std::cell::Cell;

    thread_local! {
        /// How far this thread's wall clock is stepped from the system's.
        pub(super) static WALL_STEP_MS: Cell<i64> = const { Cell::new(0) };
    }

    /// Steps this thread's wall clock by `ms` (as NTP or a resumed virtual
    /// machine would step the system's), for the rest of the test.
    pub(crate) fn step_wall_clock(ms: i64) {
        WALL_STEP_MS.set(WALL_STEP_MS.get() + ms);
    }

    #[test]
    fn a_step_moves_the_wall_clock_and_not_the_monotonic_one() {
        let (wall, monotonic) = (super::wall_ms(), super::monotonic_ms());
        step_wall_clock(3_600_000);
        assert!(super::wall_ms() >= wall + 3_600_000);
        assert!(super::monotonic_ms() < monotonic + 60_000);
        step_wall_clock(-3_600_000);
    }
}
