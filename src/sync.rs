//! The few synchronisation primitives of the wake-up protocol, swapped for
//! loom's models under `cfg(loom)` so the protocol's own code is what loom
//! checks. Everything else uses parking_lot directly.

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::AtomicBool;

#[cfg(loom)]
pub(crate) use loom::sync::atomic::AtomicBool;

use std::time::Instant;

/// A mutex whose `lock` cannot fail (no poisoning), in both builds.
#[derive(Debug, Default)]
pub(crate) struct Mutex<T> {
    #[cfg(not(loom))]
    inner: parking_lot::Mutex<T>,
    #[cfg(loom)]
    inner: loom::sync::Mutex<T>,
}

#[cfg(not(loom))]
pub(crate) type MutexGuard<'a, T> = parking_lot::MutexGuard<'a, T>;
#[cfg(loom)]
pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

impl<T> Mutex<T> {
    pub fn new(value: T) -> Self {
        #[cfg(not(loom))]
        let inner = parking_lot::Mutex::new(value);
        #[cfg(loom)]
        let inner = loom::sync::Mutex::new(value);
        Mutex { inner }
    }

    pub fn lock(&self) -> MutexGuard<'_, T> {
        #[cfg(not(loom))]
        return self.inner.lock();
        #[cfg(loom)]
        return self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
    }
}

/// A condition variable paired with [`Mutex`].
#[derive(Debug, Default)]
pub(crate) struct Condvar {
    #[cfg(not(loom))]
    inner: parking_lot::Condvar,
    #[cfg(loom)]
    inner: loom::sync::Condvar,
}

impl Condvar {
    /// Waits for a notification or until `deadline`; says whether the
    /// deadline passed. Spurious returns are possible: callers loop.
    /// (Under loom, deadlines are ignored: the models wait without one.)
    pub fn wait<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        deadline: Option<Instant>,
    ) -> (MutexGuard<'a, T>, bool) {
        #[cfg(not(loom))]
        {
            let mut guard = guard;
            let timed_out = match deadline {
                Some(deadline) => self.inner.wait_until(&mut guard, deadline).timed_out(),
                None => {
                    self.inner.wait(&mut guard);
                    false
                }
            };
            (guard, timed_out)
        }
        #[cfg(loom)]
        {
            let _ = deadline;
            let guard = self.inner.wait(guard).unwrap_or_else(|p| p.into_inner());
            (guard, false)
        }
    }

    pub fn notify_all(&self) {
        self.inner.notify_all();
    }
}
