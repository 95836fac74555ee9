//! Flow control for throughput runs: counts the deliveries of each message
//! so that publishers keep at most `window` messages that have not yet
//! reached every one of their subscribers. Every contender gets the same
//! bound, so none is measured while it buffers an unbounded backlog (or
//! drops it: Redis cuts off slow pub/sub clients, pushbus sends gaps, NATS
//! flags slow consumers).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use tokio::sync::Notify;

pub struct Tally {
    /// Deliveries each message makes (its topic's subscribers).
    expected: u32,
    window: u64,
    /// Deliveries counted per message, at `seq % slots.len()`.
    slots: Box<[AtomicU32]>,
    /// Messages 0..completed have reached all their subscribers.
    completed: Mutex<u64>,
    progress: Notify,
    delivered: AtomicU64,
}

impl Tally {
    pub fn new(expected: usize, window: usize) -> Self {
        // Twice the window: a slot is reset (by `completed`) before any
        // publisher may use it again.
        let slots = (0..2 * window).map(|_| AtomicU32::new(0)).collect();
        Tally {
            expected: expected as u32,
            window: window as u64,
            slots,
            completed: Mutex::new(0),
            progress: Notify::new(),
            delivered: AtomicU64::new(0),
        }
    }

    fn slot(&self, seq: u64) -> &AtomicU32 {
        &self.slots[(seq % self.slots.len() as u64) as usize]
    }

    /// Counts one delivery of each message in `seqs`: what one read
    /// brought a subscriber, so that the shared counter and the wake-up
    /// are paid once a read, not once a delivery.
    pub fn deliver(&self, seqs: impl IntoIterator<Item = u64>) {
        let (mut count, mut completed) = (0, false);
        for seq in seqs {
            count += 1;
            completed |= self.slot(seq).fetch_add(1, Relaxed) + 1 == self.expected;
        }
        self.delivered.fetch_add(count, Relaxed);
        if completed {
            self.progress.notify_waiters();
        }
    }

    /// Deliveries each message makes.
    pub fn expected(&self) -> u32 {
        self.expected
    }

    /// Every delivery counted so far.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Relaxed)
    }

    /// How many messages, from the first, have reached all subscribers.
    pub fn completed(&self) -> u64 {
        let mut completed = self.completed.lock().expect("not poisoned");
        while self.slot(*completed).load(Relaxed) == self.expected {
            self.slot(*completed).store(0, Relaxed);
            *completed += 1;
        }
        *completed
    }

    /// The first message not yet delivered everywhere, and how many of its
    /// subscribers have it: what a stalled run reports.
    pub fn first_incomplete(&self) -> (u64, u32) {
        let seq = self.completed();
        (seq, self.slot(seq).load(Relaxed))
    }

    /// Whether message `seq` may be published once the first `completed`
    /// messages have reached all their subscribers.
    fn within_window(&self, seq: u64, completed: u64) -> bool {
        seq < completed + self.window
    }

    /// Whether message `seq` may be published now.
    pub fn admits(&self, seq: u64) -> bool {
        self.within_window(seq, self.completed())
    }

    /// Waits until message `seq` may be published.
    pub async fn admit(&self, seq: u64) {
        self.until(|completed| self.within_window(seq, completed))
            .await
    }

    /// Waits until the first `count` messages are complete.
    pub async fn all_complete(&self, count: u64) {
        self.until(|completed| completed >= count).await
    }

    async fn until(&self, done: impl Fn(u64) -> bool) {
        loop {
            // Registered before the check, so a delivery between the check
            // and the await still wakes us.
            let progress = self.progress.notified();
            tokio::pin!(progress);
            progress.as_mut().enable();
            if done(self.completed()) {
                return;
            }
            progress.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A read's worth of deliveries counts each message once per delivery,
    /// completes messages in order, and opens the window as they complete.
    #[test]
    fn batches_complete_messages_in_order_and_open_the_window() {
        let tally = Tally::new(2, 2);
        assert!(tally.admits(1) && !tally.admits(2));
        tally.deliver([0, 1, 1]);
        assert_eq!((tally.delivered(), tally.completed()), (3, 0));
        assert_eq!(tally.first_incomplete(), (0, 1));
        tally.deliver([0]);
        assert_eq!((tally.delivered(), tally.completed()), (4, 2));
        assert!(tally.admits(3) && !tally.admits(4));
        tally.deliver(std::iter::empty());
        assert_eq!(tally.delivered(), 4);
    }

    /// A publisher waiting for room wakes when a batch completes the
    /// message that holds the window.
    #[test]
    fn a_batch_that_completes_a_message_wakes_a_waiting_publisher() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let tally = std::sync::Arc::new(Tally::new(1, 1));
            let waiting = tokio::spawn({
                let tally = tally.clone();
                async move { tally.admit(1).await }
            });
            tokio::task::yield_now().await;
            assert!(!waiting.is_finished());
            tally.deliver([0]);
            tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
                .await
                .expect("woken")
                .expect("no panic");
        });
    }
}
