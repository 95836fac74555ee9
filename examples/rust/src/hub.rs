//! The hub: one pushbus [`Poller`] shared by every connection, and the table
//! that routes its deliveries to each connection's queue.
//!
//! A connection that streams (SSE, XHR, iframe, WebSocket) or waits (a long
//! poll) holds a [`Subscription`]: a pushbus subscription id and the
//! receiving end of a bounded queue of [`Frame`]s. The drain task
//! ([`crate::poller_task`]) drains the poller in batches and calls
//! [`Hub::route`], which puts each event on its subscription's queue
//! without waiting.
//!
//! Guarantees:
//! - no event is lost between subscribing and routing: a subscription's
//!   route is in the table before any drain can route its events (both
//!   happen under the table's lock);
//! - a queue that cannot take an event (see [`crate::queue`]) means its
//!   reader fell behind: the subscription is closed at once (its presence
//!   released) and the reader sees its queue end after what it already
//!   holds; it resumes from its last key, so memory per reader stays
//!   bounded;
//! - dropping a [`Subscription`] closes it on the poller at once, releasing
//!   its presence (the room sees `leave` right away);
//! - after [`Hub::shutdown`] every queue ends and no subscription opens.
//!
//! Lock order: the table's lock, then pushbus's poller lock (inside
//! `subscribe`, `join`, `unsubscribe`). The drain task takes the table's
//! lock only after `drain` returned, so the two never wait on each other.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use pushbus::{Batch, Event, Poller, Start, SubscriptionId};

use crate::frame::{BatchFrames, Frame};
use crate::queue::{self, PushError};

/// Why a subscription could not open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscribeError {
    /// The server is shutting down.
    ShuttingDown,
    /// pushbus refused it (bad topic, bad presence client id, limits).
    Bus(pushbus::Error),
}

/// The routing table.
#[derive(Debug, Default)]
struct Routes {
    queues: HashMap<SubscriptionId, queue::Sender>,
    shut_down: bool,
}

/// See the module documentation.
#[derive(Debug)]
pub struct Hub {
    poller: Poller,
    routes: Mutex<Routes>,
    queue_bytes: usize,
    /// Subscriptions closed because their queue was full.
    slow_closes: AtomicU64,
}

impl Hub {
    /// A hub over `poller`; each subscription's queue holds at most
    /// `queue_bytes` bytes of undelivered frames.
    pub fn new(poller: Poller, queue_bytes: usize) -> Arc<Hub> {
        Arc::new(Hub {
            poller,
            routes: Mutex::new(Routes::default()),
            queue_bytes,
            slow_closes: AtomicU64::new(0),
        })
    }

    /// The poller whose fd the drain task watches.
    pub fn poller(&self) -> &Poller {
        &self.poller
    }

    /// Subscriptions closed so far because their reader fell behind.
    pub fn slow_closes(&self) -> u64 {
        self.slow_closes.load(Ordering::Relaxed)
    }

    /// True once [`Hub::shutdown`] ran.
    pub fn is_shut_down(&self) -> bool {
        self.lock().shut_down
    }

    fn lock(&self) -> MutexGuard<'_, Routes> {
        // The table holds no invariant a panicking holder could break
        // halfway (single inserts and removes), so a poisoned lock is
        // still a consistent table.
        self.routes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Subscribes to one topic from `start`; with `presence`, that client
    /// is present in the topic for as long as the subscription is open.
    pub fn subscribe(
        self: &Arc<Self>,
        topic: &str,
        start: Start,
        presence: Option<&str>,
    ) -> Result<Subscription, SubscribeError> {
        let mut routes = self.lock();
        if routes.shut_down {
            return Err(SubscribeError::ShuttingDown);
        }
        let id = self
            .poller
            .subscribe(&[topic], start)
            .map_err(SubscribeError::Bus)?;
        if let Some(client) = presence {
            if let Err(error) = self.poller.join(id, topic, client, "{}") {
                // Just opened by us, so it is known: the call cannot fail.
                let _ = self.poller.unsubscribe(id);
                return Err(SubscribeError::Bus(error));
            }
        }
        let (sender, receiver) = queue::queue(self.queue_bytes);
        routes.queues.insert(id, sender);
        Ok(Subscription {
            hub: self.clone(),
            id,
            frames: receiver,
        })
    }

    /// Routes one drained batch. `frames` lets every subscription share one
    /// `Bytes` of each message's frames (pushbus's own bytes, not a copy).
    pub fn route(&self, batch: &Batch, frames: &mut BatchFrames) {
        let mut routes = self.lock();
        for event in batch.iter() {
            match event {
                Event::Message(delivery) => {
                    let frame = frames.of(&delivery);
                    self.deliver(&mut routes, delivery.subscription, frame);
                }
                Event::Gap {
                    subscription,
                    topic,
                    gap,
                } => {
                    let gap = pushbus::frames::gap(topic, &gap.from.to_string(), gap.to);
                    self.deliver(&mut routes, subscription, Frame::of_gap(gap));
                }
                // pushbus already closed it: ending the queue tells its reader.
                Event::Closed { subscription, .. } => {
                    routes.queues.remove(&subscription);
                }
            }
        }
        frames.clear();
    }

    fn deliver(&self, routes: &mut Routes, subscription: SubscriptionId, frame: Frame) {
        let Some(queue) = routes.queues.get(&subscription) else {
            // Closed between the drain and now: nobody waits for it.
            return;
        };
        if let Err(error) = queue.push(frame) {
            if error == PushError::Full {
                self.slow_closes.fetch_add(1, Ordering::Relaxed);
            }
            routes.queues.remove(&subscription);
            let _ = self.poller.unsubscribe(subscription);
        }
    }

    /// Closes one subscription (its owner is gone).
    fn close(&self, subscription: SubscriptionId) {
        let mut routes = self.lock();
        if routes.queues.remove(&subscription).is_some() {
            // Unknown only if pushbus closed it and its event is not
            // routed yet: then there is nothing left to close.
            let _ = self.poller.unsubscribe(subscription);
        }
    }

    /// Ends every queue and refuses new subscriptions: streams finish,
    /// long polls answer, and the server can stop.
    pub fn shutdown(&self) {
        let mut routes = self.lock();
        routes.shut_down = true;
        for (subscription, _) in routes.queues.drain() {
            let _ = self.poller.unsubscribe(subscription);
        }
    }
}

/// One connection's subscription; dropping it closes it.
#[derive(Debug)]
pub struct Subscription {
    hub: Arc<Hub>,
    id: SubscriptionId,
    frames: queue::Receiver,
}

impl Subscription {
    /// The next frame, in order. `None`: the hub closed the subscription
    /// (its reader fell behind, or the server is shutting down).
    pub async fn next(&mut self) -> Option<Frame> {
        self.frames.pop().await
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.close(self.id);
    }
}
