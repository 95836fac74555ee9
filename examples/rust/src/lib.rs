//! The pushbus chat demo server: every transport of CHAT_API.md on axum and
//! tokio, with pushbus doing the fan-out, resume, presence and framing.
//!
//! One [`pushbus::Poller`] serves every connection: its fd sits in tokio's
//! reactor ([`poller_task`]), and the [`hub`] routes each drained event to
//! the queue of the connection whose subscription it is for.

pub mod app;
pub mod auth;
pub mod body;
pub mod config;
pub mod cors;
pub mod error;
pub mod frame;
pub mod hub;
pub mod messages;
pub mod metrics;
pub mod poller_task;
pub mod polls;
pub mod presence;
pub mod queue;
pub mod request;
pub mod resume;
pub mod routes;
pub mod server;
pub mod streams;
pub mod websocket;
