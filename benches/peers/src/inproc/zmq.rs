//! ZeroMQ inproc PUB/SUB as the benchmarks use it: one context with room
//! for 10,000 SUB sockets, and topic framing that makes ZeroMQ's prefix
//! subscriptions exact.
//!
//! A message is one frame: the topic, a NUL, then the 64-byte payload (the
//! topic-prefixed frame of the ZeroMQ guide's pub/sub pattern; a second
//! frame per message would cost every subscriber a second receive). The NUL
//! ends the topic, so a subscription to `topics.1\0` does not also match
//! `topics.10\0`.

use std::ffi::c_void;

/// Sockets a context allows; libzmq's default is 1,023.
const MAX_SOCKETS: i32 = 20_000;

/// A libzmq context. Declare it after the sockets made from it: it is
/// terminated when dropped, which waits until they are all closed.
pub struct Context {
    raw: *mut c_void,
}

// SAFETY: libzmq contexts are thread-safe (zmq_ctx_new(3)); sockets made
// from them are moved between threads only whole, as the zmq crate allows.
unsafe impl Send for Context {}
// SAFETY: as above.
unsafe impl Sync for Context {}

impl Default for Context {
    fn default() -> Self {
        // SAFETY: zmq_ctx_new has no preconditions; it returns NULL on error.
        let raw = unsafe { zmq_sys::zmq_ctx_new() };
        assert!(!raw.is_null(), "zmq_ctx_new failed");
        // SAFETY: `raw` is a live context; ZMQ_MAX_SOCKETS takes an int.
        let status =
            unsafe { zmq_sys::zmq_ctx_set(raw, zmq_sys::ZMQ_MAX_SOCKETS as i32, MAX_SOCKETS) };
        assert_eq!(status, 0, "zmq_ctx_set(ZMQ_MAX_SOCKETS) failed");
        Context { raw }
    }
}

impl Context {
    /// A new PUB socket (see [`Context::socket`]).
    pub fn publisher(&self) -> zmq::Socket {
        self.socket(zmq_sys::ZMQ_PUB)
    }

    /// A new SUB socket (see [`Context::socket`]).
    pub fn subscriber(&self) -> zmq::Socket {
        self.socket(zmq_sys::ZMQ_SUB)
    }

    /// A new socket of type `kind` (a `ZMQ_*` socket type), with
    /// `ZMQ_LINGER` 0 so that closing it never waits for undelivered
    /// messages.
    fn socket(&self, kind: u32) -> zmq::Socket {
        // SAFETY: `self.raw` is a live context; `kind` a socket type.
        let raw = unsafe { zmq_sys::zmq_socket(self.raw, kind as i32) };
        assert!(
            !raw.is_null(),
            "zmq_socket failed: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: `raw` is a socket just made by zmq_socket, owned by no one
        // else: what Socket::into_raw returns and from_raw takes back.
        let socket = unsafe { zmq::Socket::from_raw(raw) };
        socket.set_linger(0).expect("ZMQ_LINGER");
        socket
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: `self.raw` is a live context, terminated once.
        unsafe { zmq_sys::zmq_ctx_term(self.raw) };
    }
}

/// The frame prefix (and subscription) of `topic`.
pub fn topic_prefix(topic: &str) -> Vec<u8> {
    let mut prefix = topic.as_bytes().to_vec();
    prefix.push(0);
    prefix
}

/// A frame: `prefix` then `payload`.
pub fn frame(prefix: &[u8], payload: &[u8]) -> Vec<u8> {
    [prefix, payload].concat()
}

/// Publishes a probe to every prefix until each subscriber has received
/// one (subscriber `i` listens to `prefixes[i % prefixes.len()]`), then
/// empties every subscriber: a SUB socket's subscription reaches the PUB
/// socket asynchronously, and a message sent before it arrives is not
/// delivered.
pub fn wait_subscribed(
    publisher: &zmq::Socket,
    subscribers: &[zmq::Socket],
    prefixes: &[Vec<u8>],
    probe: &[u8],
) {
    let mut ready = vec![false; subscribers.len()];
    let mut message = zmq::Message::new();
    let mut waiting = subscribers.len();
    while waiting > 0 {
        for prefix in prefixes {
            publisher
                .send(frame(prefix, probe), 0)
                .expect("send a probe");
        }
        for (subscriber, ready) in subscribers.iter().zip(&mut ready) {
            if !*ready && subscriber.recv(&mut message, zmq::DONTWAIT).is_ok() {
                *ready = true;
                waiting -= 1;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    for subscriber in subscribers {
        while subscriber.recv(&mut message, zmq::DONTWAIT).is_ok() {}
    }
}

/// A PUB socket bound to `inproc://endpoint` and one SUB socket per
/// prefix in `subscriptions`, each connected and subscribed, with send and
/// receive high-water marks of `capacity` messages, all subscribed
/// (see [`wait_subscribed`]).
pub fn pub_sub(
    context: &Context,
    endpoint: &str,
    subscriptions: &[Vec<u8>],
    capacity: i32,
) -> (zmq::Socket, Vec<zmq::Socket>) {
    let address = format!("inproc://{endpoint}");
    let publisher = context.publisher();
    publisher.set_sndhwm(capacity).expect("ZMQ_SNDHWM");
    publisher.bind(&address).expect("bind");
    let subscribers: Vec<zmq::Socket> = subscriptions
        .iter()
        .map(|prefix| {
            let subscriber = context.subscriber();
            subscriber.set_rcvhwm(capacity).expect("ZMQ_RCVHWM");
            subscriber.connect(&address).expect("connect");
            subscriber.set_subscribe(prefix).expect("ZMQ_SUBSCRIBE");
            subscriber
        })
        .collect();
    let mut unique = subscriptions.to_vec();
    unique.dedup();
    wait_subscribed(&publisher, &subscribers, &unique, &[0; 1]);
    (publisher, subscribers)
}
