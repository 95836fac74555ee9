//! The janitor: a background thread that runs [`Bus::sweep`](crate::Bus::sweep)
//! every [`Config::janitor_interval`](crate::Config::janitor_interval).
//!
//! It holds only a weak reference to the bus, so it never keeps it alive.
//! Dropping the [`Janitor`] (when the bus is dropped) stops the thread and
//! joins it, so no thread outlives the bus, unless the bus is dropped on
//! the janitor thread itself (its sweep held the last reference): then the
//! thread exits right after, unjoined.

use std::sync::{mpsc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::bus::Shared;
use crate::error::{Error, Result};

thread_local! {
    /// Set on janitor threads: a janitor dropped on its own thread must not
    /// join itself. (A flag rather than comparing thread ids: asking for the
    /// current thread's handle allocates one on threads Rust did not start,
    /// which leak checkers then report.)
    static ON_JANITOR_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[derive(Debug)]
pub(crate) struct Janitor {
    /// Dropping it wakes the thread and tells it to stop.
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Janitor {
    pub fn start(shared: Weak<Shared>, interval: Duration) -> Result<Janitor> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("pushbus-janitor".to_owned())
            .spawn(move || {
                ON_JANITOR_THREAD.with(|flag| flag.set(true));
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    match shared.upgrade() {
                        Some(shared) => shared.sweep(),
                        None => return,
                    }
                }
            })
            .map_err(|e| Error::Io(format!("cannot start the janitor thread: {e}")))?;
        Ok(Janitor {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Janitor {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            if !ON_JANITOR_THREAD.with(|flag| flag.get()) {
                // The thread only sweeps and waits: it cannot block for long,
                // and a panic in it has already been reported.
                let _ = thread.join();
            }
        }
    }
}
