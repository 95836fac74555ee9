//! pushbus set up for W1 and W2, with every subscription made: shared by the
//! one-thread rounds (`support/rounds.rs`) and the two-thread benchmarks
//! (`benches/threads.rs`).

use pushbus::{Bus, Poller, Publisher, Start};

use crate::config::{pushbus_config, topic_names};

/// W1: rings of `ring` messages, `n` subscriptions to the topic `fanout` in
/// one poller, and a [`Publisher`] for it (the peers' publishers hold their
/// senders too).
pub fn fanout(ring: usize, n: usize) -> (Publisher, Poller) {
    let bus = Bus::new(pushbus_config(ring)).expect("valid config");
    let poller = bus.poller();
    for _ in 0..n {
        poller
            .subscribe(&["fanout"], Start::Now)
            .expect("subscribe");
    }
    (bus.publisher("fanout").expect("publisher"), poller)
}

/// W2: rings of `ring` messages and one subscription to each of the
/// [`topic_names`], all in one poller; the names, in publishing order.
pub fn topics(ring: usize) -> (Bus, Poller, Vec<String>) {
    let bus = Bus::new(pushbus_config(ring)).expect("valid config");
    let poller = bus.poller();
    let names = topic_names();
    for name in &names {
        poller.subscribe(&[name], Start::Now).expect("subscribe");
    }
    (bus, poller, names)
}
