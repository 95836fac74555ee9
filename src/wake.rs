//! The wake-up protocol between publishers and a poller.
//!
//! # Specification
//!
//! A poller keeps a `ReadyQueue` of work items. For each topic it reads, it
//! has one `Signal`, shared with the topic. The protocol guarantees:
//!
//! - **No lost wake-up.** After a publisher has appended a message and called
//!   `Signal::raise`, the poller will process the topic again at some point
//!   after that append: either the raise enqueued it, or the poller had not
//!   yet re-armed the signal and will read the new head when it does.
//! - **Coalescing.** A topic is in the queue at most once per re-arm, however
//!   many messages are published in between: a publisher pays one
//!   `swap` when the poller is behind, and one queue push when it is not.
//! - **Level-style readiness.** The queue's fd and condition variable say
//!   "non-empty" exactly while the queue is non-empty (both are updated under
//!   the queue's lock). Processing an item may find nothing new (a spurious
//!   wake-up); it never misses something new.
//!
//! # Protocol
//!
//! Publisher: append under the topic's lock, then `if signal.raise() {
//! queue.push(item) }`.
//!
//! Poller: take items from the queue; for each, **first** `signal.rearm()`,
//! **then** read the topic's head (under the topic's lock) and deliver up to
//! it. If it must stop before reaching the head (its batch is full), it
//! calls `raise()` again and puts the item back if that returned `true`.
//!
//! `rearm` and the swap in `raise` are read-modify-write operations with
//! acquire-release ordering on the flag, so whichever comes second in the
//! flag's modification order sees the other's work: if the publisher's
//! swap comes after the `rearm`, it reads `false` and enqueues; if it comes
//! before, the poller's `rearm` reads the publisher's `true` and
//! synchronises with it, so the head it reads next includes the new message.
//!
//! `raise` loads the flag before swapping, and a publisher that loads
//! `true` does nothing: in a burst, every publish after the first costs a
//! load instead of a read-modify-write on a line the poller also writes.
//! That `true` may predate a `rearm` the publisher cannot see yet. It is
//! still safe because both sides reach the head under the topic's lock: had
//! the poller taken the lock after its `rearm` and before the publisher
//! took it, the lock would have made the `rearm` visible to the publisher;
//! so the poller takes it after the publisher's append and reads the new
//! head. The loom model below checks this with the lock; without it (the
//! head a relaxed atomic) it finds the lost wake-up.
//!
//! # Why a mutex and not a channel
//!
//! DESIGN.md suggested a crossbeam-channel as the ready queue. The fd must
//! be readable exactly while the queue is non-empty, and a channel cannot
//! tell its sender "you made me non-empty" atomically with the push, nor its
//! receiver "you emptied me" with the pop: raising and clearing the fd
//! outside the queue's own lock loses wake-ups (a clear that lands after a
//! concurrent raise leaves an item behind a quiet fd). A parking_lot mutex
//! around a `VecDeque` makes both transitions exact, and costs one
//! uncontended lock per publish-that-wakes and per drain call, since a drain
//! takes every queued item at once.
//!
//! # Lock order
//!
//! The queue's lock is a leaf: nothing else is locked while it is held.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use crate::error::{Error, Result};
use crate::fd::{FdMode, WakeFd};
use crate::sync::{AtomicBool, Condvar, Mutex};

/// "This topic has news for this poller, and is queued (or being processed)".
#[derive(Debug)]
pub(crate) struct Signal {
    raised: AtomicBool,
}

impl Signal {
    pub fn new() -> Signal {
        Signal {
            raised: AtomicBool::new(false),
        }
    }

    /// Marks the signal raised; true when the caller must enqueue the item.
    /// Sound only for a head read and written under a lock (see the module
    /// docs).
    pub fn raise(&self) -> bool {
        !self.raised.load(Ordering::Acquire) && !self.raised.swap(true, Ordering::AcqRel)
    }

    /// Re-arms the signal before the poller reads the topic's head.
    pub fn rearm(&self) {
        self.raised.swap(false, Ordering::AcqRel);
    }
}

#[derive(Debug)]
struct QueueState<T> {
    items: VecDeque<T>,
    /// Shared with the [`PollerFd`](crate::PollerFd)s handed out, which keep
    /// it open; never replaced once made.
    fd: Option<Arc<WakeFd>>,
}

/// A poller's queue of ready work, with a condition variable and an optional
/// pollable fd that both follow its emptiness.
#[derive(Debug)]
pub(crate) struct ReadyQueue<T> {
    state: Mutex<QueueState<T>>,
    nonempty: Condvar,
}

impl<T> ReadyQueue<T> {
    pub fn new() -> Self {
        ReadyQueue {
            state: Mutex::new(QueueState {
                items: VecDeque::new(),
                fd: None,
            }),
            nonempty: Condvar::default(),
        }
    }

    /// Appends an item, waking waiters on the empty-to-non-empty transition.
    pub fn push(&self, item: T) {
        let mut state = self.state.lock();
        state.items.push_back(item);
        if state.items.len() == 1 {
            Self::became_nonempty(&state, &self.nonempty);
        }
    }

    /// Puts back items the poller took but could not process, ahead of
    /// newer ones so that no topic starves.
    pub fn push_front_all(&self, items: impl DoubleEndedIterator<Item = T>) {
        let mut state = self.state.lock();
        let was_empty = state.items.is_empty();
        for item in items.rev() {
            state.items.push_front(item);
        }
        if was_empty && !state.items.is_empty() {
            Self::became_nonempty(&state, &self.nonempty);
        }
    }

    fn became_nonempty(state: &QueueState<T>, nonempty: &Condvar) {
        if let Some(fd) = &state.fd {
            fd.raise();
        }
        nonempty.notify_all();
    }

    /// Moves up to `count` items from the front of the queue to the end of
    /// `into`. Taking only what a batch can use keeps the rest queued (and
    /// the fd readable) instead of moving it out and back on every call.
    pub fn take(&self, into: &mut VecDeque<T>, count: usize) {
        let mut state = self.state.lock();
        if state.items.is_empty() {
            return;
        }
        let count = count.min(state.items.len());
        into.extend(state.items.drain(..count));
        if state.items.is_empty() {
            if let Some(fd) = &state.fd {
                fd.clear();
            }
        }
    }

    /// Removes every queued item (when the poller closes).
    pub fn clear(&self) -> VecDeque<T> {
        let mut state = self.state.lock();
        if let Some(fd) = &state.fd {
            fd.clear();
        }
        std::mem::take(&mut state.items)
    }

    /// Waits until the queue is non-empty or `deadline` passes; says whether
    /// it is non-empty.
    pub fn wait(&self, deadline: Option<Instant>) -> bool {
        let mut state = self.state.lock();
        loop {
            if !state.items.is_empty() {
                return true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
            let (next, _) = self.nonempty.wait(state, deadline);
            state = next;
        }
    }

    /// The pollable fd, created in `mode` on first use. Asking again for
    /// the other mode is an error: the fd a caller already watches must stay.
    pub fn fd(&self, mode: FdMode) -> Result<Arc<WakeFd>> {
        let mut state = self.state.lock();
        if let Some(fd) = &state.fd {
            if fd.mode() != mode {
                return Err(Error::InvalidConfig(format!(
                    "this poller's fd already exists in {:?} mode",
                    fd.mode()
                )));
            }
            return Ok(fd.clone());
        }
        let fd = Arc::new(WakeFd::new(mode)?);
        if !state.items.is_empty() {
            fd.raise();
        }
        state.fd = Some(fd.clone());
        Ok(fd)
    }
}

#[cfg(all(test, loom))]
mod loom_model {
    //! Run with `RUSTFLAGS="--cfg loom" cargo test --release --lib loom_model`.
    use super::*;
    use loom::sync::Arc;
    use loom::thread;

    /// The consumer of the protocol, as the poller runs it: `budget` is how
    /// many messages it may deliver per item before putting the item back.
    /// `head` stands for the topic's ring, behind the topic's lock.
    fn consume(
        queue: &ReadyQueue<()>,
        signal: &Signal,
        head: &Mutex<u64>,
        total: u64,
        budget: u64,
    ) {
        let mut delivered = 0;
        let mut taken = VecDeque::new();
        while delivered < total {
            // A lost wake-up blocks here for ever, which loom reports.
            assert!(queue.wait(None));
            queue.take(&mut taken, usize::MAX);
            while taken.pop_front().is_some() {
                signal.rearm();
                let newest = *head.lock();
                let upto = newest.min(delivered.saturating_add(budget));
                assert!(upto >= delivered, "the head never goes back");
                delivered = upto;
                if delivered < newest && signal.raise() {
                    queue.push_front_all(std::iter::once(()));
                }
            }
        }
    }

    fn model(publishers: u64, per_publisher: u64, budget: u64) {
        loom::model(move || {
            let queue = Arc::new(ReadyQueue::<()>::new());
            let signal = Arc::new(Signal::new());
            let head = Arc::new(Mutex::new(0u64));
            let threads: Vec<_> = (0..publishers)
                .map(|_| {
                    let (queue, signal, head) = (queue.clone(), signal.clone(), head.clone());
                    thread::spawn(move || {
                        for _ in 0..per_publisher {
                            let mut newest = head.lock();
                            *newest += 1;
                            if signal.raise() {
                                queue.push(());
                            }
                            drop(newest);
                        }
                    })
                })
                .collect();
            consume(&queue, &signal, &head, publishers * per_publisher, budget);
            for thread in threads {
                thread.join().unwrap();
            }
        });
    }

    #[test]
    fn one_publisher_no_lost_wakeup() {
        model(1, 3, u64::MAX);
    }

    #[test]
    fn two_publishers_no_lost_wakeup() {
        model(2, 1, u64::MAX);
    }

    #[test]
    fn partial_drains_put_the_item_back() {
        model(1, 3, 1);
    }
}
