//! The poller's pollable file descriptor.
//!
//! One fd per poller, readable exactly while the poller's ready queue is not
//! empty: [`WakeFd::raise`] is called when the queue becomes non-empty and
//! [`WakeFd::clear`] when it becomes empty, both under the queue's lock, so
//! the fd's level can never disagree with the queue once the lock is
//! released. The poller owns the fd: callers only watch it for readability
//! (epoll, `poll()`, `loop.add_reader`, koffi's poll); they never read or
//! close it.
//!
//! [`PollerFd`] is an owner of that fd which callers may hold: cloning it is
//! cheap, and the fd stays open (and the same fd) for as long as any clone
//! lives, even after its poller is gone, so it can implement [`AsFd`] and
//! [`AsRawFd`] with the I/O-safety guarantee those traits promise.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use crate::error::{Error, Result};

/// How the pollable fd is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum FdMode {
    /// An eventfd (Linux): one fd, the cheapest.
    EventFd = 0,
    /// The read end of a pipe: works everywhere, and with runtimes that can
    /// only watch sockets and pipes (Node's `net.Socket`).
    Pipe = 1,
}

#[derive(Debug)]
pub(crate) struct WakeFd {
    mode: FdMode,
    read: OwnedFd,
    /// The pipe's write end; `None` for an eventfd, which is written through
    /// `read` itself.
    write: Option<OwnedFd>,
}

impl WakeFd {
    pub fn new(mode: FdMode) -> Result<WakeFd> {
        match mode {
            FdMode::EventFd => Self::eventfd(),
            FdMode::Pipe => {
                let mut ends = [0 as RawFd; 2];
                // SAFETY: `ends` is a valid array of two fds for pipe2 to fill.
                let rc =
                    unsafe { libc::pipe2(ends.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
                if rc != 0 {
                    return Err(last_os_error("pipe2"));
                }
                // SAFETY: pipe2 succeeded, so both ends are open fds that
                // nothing else owns; each goes into exactly one OwnedFd.
                let (read, write) =
                    unsafe { (OwnedFd::from_raw_fd(ends[0]), OwnedFd::from_raw_fd(ends[1])) };
                Ok(WakeFd {
                    mode,
                    read,
                    write: Some(write),
                })
            }
        }
    }

    #[cfg(target_os = "linux")]
    fn eventfd() -> Result<WakeFd> {
        // SAFETY: eventfd takes no pointers; a negative result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(last_os_error("eventfd"));
        }
        Ok(WakeFd {
            mode: FdMode::EventFd,
            // SAFETY: eventfd succeeded, so `fd` is an open fd that nothing
            // else owns.
            read: unsafe { OwnedFd::from_raw_fd(fd) },
            write: None,
        })
    }

    #[cfg(not(target_os = "linux"))]
    fn eventfd() -> Result<WakeFd> {
        Err(Error::Io(
            "eventfd is Linux-only: use the pipe mode".to_owned(),
        ))
    }

    pub fn mode(&self) -> FdMode {
        self.mode
    }

    /// The fd to watch for readability.
    pub fn raw(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    fn write_fd(&self) -> RawFd {
        self.write.as_ref().unwrap_or(&self.read).as_raw_fd()
    }

    /// Makes the fd readable. Called only on the empty-to-non-empty
    /// transition, so a pipe never holds more than one byte.
    pub fn raise(&self) {
        let one: u64 = 1;
        let len = match self.mode {
            FdMode::EventFd => 8,
            FdMode::Pipe => 1,
        };
        // SAFETY: `one` is 8 readable bytes; `len` is at most 8. A failed
        // write can only be EAGAIN (counter or pipe already non-empty, which is
        // the state we want) or EINTR-free non-blocking behaviour.
        unsafe { libc::write(self.write_fd(), (&one as *const u64).cast(), len) };
    }

    /// Makes the fd unreadable again.
    ///
    /// One `read` in either mode: an eventfd's read resets its counter, and
    /// a pipe's read that returns fewer bytes than asked took all it held.
    /// Callers hold the queue's lock, so nothing is written in between; a
    /// full read (never expected: a pipe holds at most one byte) reads again.
    pub fn clear(&self) {
        let mut sink = [0u8; 64];
        loop {
            // SAFETY: `sink` is a valid writable buffer of `sink.len()` bytes.
            // The fd is non-blocking, so reading a drained fd returns EAGAIN.
            let n = unsafe { libc::read(self.raw(), sink.as_mut_ptr().cast(), sink.len()) };
            if n < sink.len() as isize || self.mode == FdMode::EventFd {
                break;
            }
        }
    }
}

/// A poller's pollable fd, owned: what an event loop registers.
///
/// Made by [`Poller::fd_handle`](crate::Poller::fd_handle). Why it exists:
/// [`Poller::fd`](crate::Poller::fd) returns a bare [`RawFd`], which safe
/// code cannot lend to APIs that need I/O safety (tokio's `AsyncFd`, a
/// `pipe::Receiver` made from an [`OwnedFd`], `BorrowedFd::try_clone_to_owned`).
/// A `PollerFd` keeps the fd open, and the same fd, for as long as any clone
/// of it lives, so it implements [`AsFd`] and [`AsRawFd`] soundly. Clones are
/// one reference count.
///
/// The fd keeps the poller's semantics (see [`crate::wake`]): it is readable
/// while the poller has something to drain, in the [`FdMode`] it was made
/// in, which never changes. Watch it for readability only: never read it
/// (nor a duplicate of it, which shares its state), or a drainable poller
/// may look quiet. After the poller is dropped the fd stays open but is
/// never readable again; it is closed when the last `PollerFd` goes.
#[derive(Debug, Clone)]
pub struct PollerFd {
    wake: Arc<WakeFd>,
}

impl PollerFd {
    pub(crate) fn new(wake: Arc<WakeFd>) -> PollerFd {
        PollerFd { wake }
    }

    /// The mode the fd was made in.
    pub fn mode(&self) -> FdMode {
        self.wake.mode()
    }
}

impl AsFd for PollerFd {
    /// The fd to watch; valid for as long as this handle is borrowed.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.wake.read.as_fd()
    }
}

impl AsRawFd for PollerFd {
    /// The fd to watch; open, and the same, for as long as this handle (or a
    /// clone) lives.
    fn as_raw_fd(&self) -> RawFd {
        self.wake.raw()
    }
}

fn last_os_error(call: &str) -> Error {
    Error::Io(format!("{call}: {}", std::io::Error::last_os_error()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readable(fd: RawFd) -> bool {
        let mut pollfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, zero timeout.
        let n = unsafe { libc::poll(&mut pollfd, 1, 0) };
        n == 1 && pollfd.revents & libc::POLLIN != 0
    }

    #[test]
    fn raise_and_clear_set_the_level_in_both_modes() {
        for mode in [FdMode::EventFd, FdMode::Pipe] {
            let fd = WakeFd::new(mode).unwrap();
            assert_eq!(fd.mode(), mode);
            assert!(!readable(fd.raw()));
            fd.raise();
            assert!(readable(fd.raw()));
            fd.raise();
            fd.clear();
            assert!(!readable(fd.raw()), "{mode:?}");
            // More bytes than one read takes (never happens in a poller,
            // which raises only on the empty-to-non-empty transition).
            for _ in 0..100 {
                fd.raise();
            }
            fd.clear();
            assert!(!readable(fd.raw()), "{mode:?} after many raises");
            fd.clear();
            assert!(!readable(fd.raw()));
        }
    }
}
