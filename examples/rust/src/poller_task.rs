//! The drain task: the hub's poller fd in tokio's reactor, and a loop that
//! drains batches and routes them.
//!
//! The fd is readable exactly while the poller's ready queue is not empty.
//! tokio watches it edge-triggered, so readiness is cleared only after a
//! drain found nothing: a publish after that raises the fd again, which is
//! a new edge, and tokio's readiness tick makes sure that clearing an older
//! readiness never hides it.
//!
//! # Why the pipe mode, and no `unsafe`
//!
//! tokio 1.54 deprecated `AsyncFd::new` as unsound (it cannot know that an
//! `AsRawFd` stays open) and made `AsyncFd::register` `unsafe`. Its one safe
//! way to watch an fd it did not open is a `pipe::Receiver` made from an
//! `OwnedFd`. pushbus's `Poller::fd_handle` lends the poller's fd through
//! `AsFd`, so a duplicate of it is an `OwnedFd` made in safe code; in pipe
//! mode that duplicate is a pipe's read end, which is what the `Receiver`
//! takes. A duplicate shares the fd's open file description, so its
//! readiness is the poller's. The cost over an eventfd is one more fd for
//! the whole server and a one-byte write and read per empty-to-non-empty
//! transition of the queue, not per message. The receiver never reads the
//! pipe: draining the poller clears it.

use std::io;
use std::os::fd::AsFd;
use std::sync::Arc;

use pushbus::{Batch, FdMode};
use tokio::net::unix::pipe;

use crate::frame::BatchFrames;
use crate::hub::Hub;

/// Most events taken per drain: large enough to amortise the call, small
/// enough that other tasks run between batches.
const DRAIN_MAX: usize = 1024;

/// Drains the hub's poller whenever it has something, for ever (abort the
/// task to stop it). Errors: the fd cannot be made or registered.
pub async fn run(hub: Arc<Hub>) -> io::Result<()> {
    let handle = hub
        .poller()
        .fd_handle(FdMode::Pipe)
        .map_err(|error| io::Error::other(error.to_string()))?;
    let fd = pipe::Receiver::from_owned_fd(handle.as_fd().try_clone_to_owned()?)?;
    let mut batch = Batch::with_capacity(DRAIN_MAX);
    let mut frames = BatchFrames::default();
    loop {
        fd.readable().await?;
        // `try_io` clears tokio's readiness when the closure says
        // WouldBlock: only when a drain found nothing.
        let drained = fd.try_io(|| match hub.poller().drain(&mut batch, DRAIN_MAX) {
            0 => Err(io::ErrorKind::WouldBlock.into()),
            count => Ok(count),
        });
        match drained {
            Ok(_) => {
                hub.route(&batch, &mut frames);
                batch.clear();
                // More may be queued: readiness stays set, but let the
                // connections write what they were handed first.
                tokio::task::yield_now().await;
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(error) => return Err(error),
        }
    }
}
