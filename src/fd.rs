//! The poller's pollable file descriptor.
//!
//! One fd per poller, readable exactly while the poller's ready queue is not
//! empty: [`WakeFd::raise`] is called when the queue becomes non-empty and
//! [`WakeFd::clear`] when it becomes empty, both under the queue's lock, so
//! the fd's level can never disagree with the queue once the lock is
//! released. The poller owns the fd: callers only watch it for readability
//! (epoll, `poll()`, `loop.add_reader`, koffi's poll); they never read or
//! close it.

use std::os::fd::RawFd;

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
    read: RawFd,
    write: RawFd,
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
                Ok(WakeFd {
                    mode,
                    read: ends[0],
                    write: ends[1],
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
            read: fd,
            write: fd,
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
        self.read
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
        unsafe { libc::write(self.write, (&one as *const u64).cast(), len) };
    }

    /// Makes the fd unreadable again.
    pub fn clear(&self) {
        let mut sink = [0u8; 64];
        // SAFETY: `sink` is a valid writable buffer of `sink.len()` bytes. The
        // fd is non-blocking, so reading an already drained fd returns EAGAIN.
        while unsafe { libc::read(self.read, sink.as_mut_ptr().cast(), sink.len()) } > 0 {
            if self.mode == FdMode::EventFd {
                break;
            }
        }
    }
}

impl Drop for WakeFd {
    fn drop(&mut self) {
        // SAFETY: the fds were opened by `new` and are owned by this value;
        // nobody else closes them.
        unsafe {
            libc::close(self.read);
            if self.write != self.read {
                libc::close(self.write);
            }
        }
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
            fd.clear();
            assert!(!readable(fd.raw()));
        }
    }
}
