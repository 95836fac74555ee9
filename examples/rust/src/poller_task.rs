//! The drain task: the hub's poller fd in tokio's reactor, and a loop that
//! drains batches and routes them.
//!
//! The fd (an eventfd) is readable exactly while the poller's ready queue
//! is not empty. tokio watches it edge-triggered, so readiness is cleared
//! only after a drain found nothing: a publish after that raises the fd
//! again, which is a new edge, and tokio's readiness tick makes sure that
//! clearing an older readiness never hides it.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;

use pushbus::{Batch, FdMode};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use crate::frame::BatchCopies;
use crate::hub::Hub;

/// Most events taken per drain: large enough to amortise the call, small
/// enough that other tasks run between batches.
const DRAIN_MAX: usize = 1024;

/// The hub's poller fd, and the hub that keeps it open: pushbus creates
/// the fd once and closes it only when the poller is dropped.
struct PollerFd {
    hub: Arc<Hub>,
    raw: RawFd,
}

impl AsRawFd for PollerFd {
    fn as_raw_fd(&self) -> RawFd {
        self.raw
    }
}

/// Drains the hub's poller whenever it has something, for ever (abort the
/// task to stop it). Errors: the fd cannot be made or registered.
pub async fn run(hub: Arc<Hub>) -> io::Result<()> {
    let raw = hub
        .poller()
        .fd(FdMode::EventFd)
        .map_err(|error| io::Error::other(error.to_string()))?;
    let source = PollerFd { hub, raw };
    // SAFETY: `raw` is the open fd of the poller that `source.hub` owns;
    // `source` lives inside the AsyncFd, so the poller, and with it the fd,
    // outlives the registration, and `as_raw_fd` always returns `raw`.
    let fd = unsafe { AsyncFd::register_with_interest(source, Interest::READABLE) }?;
    let hub = &fd.get_ref().hub;
    let mut batch = Batch::with_capacity(DRAIN_MAX);
    let mut copies = BatchCopies::default();
    loop {
        let mut readiness = fd.readable().await?;
        if hub.poller().drain(&mut batch, DRAIN_MAX) == 0 {
            readiness.clear_ready();
            continue;
        }
        hub.route(&batch, &mut copies);
        batch.clear();
        // More may be queued: readiness stays set, but let the
        // connections write what they were handed first.
        drop(readiness);
        tokio::task::yield_now().await;
    }
}
