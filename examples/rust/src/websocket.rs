//! The WebSocket transport: one envelope per text frame out; the client
//! may post `{"type":"message",...}` frames in.
//!
//! The handshake is checked before the upgrade, in this order: a version
//! other than 13 is `426` (with `Sec-WebSocket-Version: 13`), an `Origin`
//! that is not allowed is `403`, then the room and the token as for every
//! room request, and anything else that is not a valid handshake (a key
//! that is not base64 of 16 bytes included) is `400`.
//! axum (tungstenite) does the framing and answers pings; a client frame
//! that breaks RFC 6455 is answered with the close code the RFC names
//! (1002, 1007 invalid UTF-8, 1009 too large). The server pings every
//! `HEARTBEAT_SECONDS` (at most 30 s) and drops a peer that did not answer
//! the last ping.

use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{close_code, CloseFrame, Message, Utf8Bytes, WebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use tokio::time::{interval_at, Instant};

use crate::app::AppState;
use crate::cors::allowed_origin;
use crate::error::ApiError;
use crate::frame::Frame;
use crate::hub::Subscription;
use crate::messages::{post_from_websocket, MAX_BODY_BYTES};
use crate::request::RoomRequest;
use crate::resume::Resume;
use crate::streams::open;

/// RFC 6455 peers and proxies expect a ping at least this often.
const MAX_PING_INTERVAL: Duration = Duration::from_secs(30);

/// `GET /rooms/{room}/ws`.
pub async fn websocket(
    State(app): State<AppState>,
    headers: HeaderMap,
    request: Result<RoomRequest, ApiError>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    if let Some(version) = headers.get(header::SEC_WEBSOCKET_VERSION) {
        if version.as_bytes().trim_ascii() != b"13" {
            return Err(ApiError::new(
                StatusCode::UPGRADE_REQUIRED,
                "only WebSocket version 13 is spoken here",
            ));
        }
    }
    if headers.contains_key(header::ORIGIN)
        && allowed_origin(&app.settings.allowed_origins, &headers).is_none()
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "this origin is not allowed",
        ));
    }
    let request = request?;
    let upgrade = upgrade.map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
    // axum checks that a key is there; RFC 6455 wants base64 of 16 bytes.
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .and_then(|key| key.to_str().ok());
    if !key.is_some_and(pushbus::ws::is_valid_client_key) {
        return Err(ApiError::bad_request(
            "Sec-WebSocket-Key must be base64 of 16 bytes",
        ));
    }
    let (subscription, gap) = open(
        &app,
        &request,
        Resume::from_key(request.params.key.as_deref()),
    )?;
    let session = Session {
        app,
        topic: request.topic,
        token_user: request.token_user,
        subscription,
    };
    Ok(upgrade
        .max_message_size(MAX_BODY_BYTES)
        .max_frame_size(MAX_BODY_BYTES)
        .on_upgrade(move |socket| session.run(socket, gap)))
}

/// How a session ends.
enum End {
    /// Send a Close frame with this code and reason.
    Close(u16, &'static str),
    /// The client sent a Close: let tungstenite's echo out.
    EchoClose,
    /// The connection is gone or stuck: just drop it.
    Drop,
}

/// One upgraded connection.
struct Session {
    app: AppState,
    topic: String,
    token_user: Option<String>,
    subscription: Subscription,
}

impl Session {
    async fn run(mut self, mut socket: WebSocket, gap: Option<Frame>) {
        let end = self.pump(&mut socket, gap).await;
        let last = match end {
            End::Close(code, reason) => Message::Close(Some(CloseFrame {
                code,
                reason: Utf8Bytes::from_static(reason),
            })),
            // tungstenite queued the echo; a Close of ours flushes it.
            End::EchoClose => Message::Close(None),
            End::Drop => return,
        };
        let write_timeout = self.app.settings.write_timeout;
        let _ = tokio::time::timeout(write_timeout, socket.send(last)).await;
    }

    async fn pump(&mut self, socket: &mut WebSocket, gap: Option<Frame>) -> End {
        if let Some(gap) = gap {
            if send_frame(socket, &gap).await.is_err() {
                return End::Drop;
            }
        }
        let every = self.app.settings.heartbeat.min(MAX_PING_INTERVAL);
        let mut pings = interval_at(Instant::now() + every, every);
        let mut pong_due = false;
        loop {
            tokio::select! {
                frame = self.subscription.next() => match frame {
                    Some(frame) => {
                        if send_frame(socket, &frame).await.is_err() {
                            return End::Drop;
                        }
                    }
                    None if self.app.hub.is_shut_down() => {
                        return End::Close(close_code::AWAY, "the server is shutting down");
                    }
                    None => return End::Close(close_code::AGAIN, "fell behind: reconnect with your last key"),
                },
                incoming = socket.recv() => match incoming {
                    Some(Ok(Message::Text(text))) => self.post(&text),
                    Some(Ok(Message::Pong(_))) => pong_due = false,
                    Some(Ok(Message::Close(_))) => return End::EchoClose,
                    // Pings are answered by tungstenite; binary frames mean nothing here.
                    Some(Ok(Message::Ping(_) | Message::Binary(_))) => {}
                    Some(Err(error)) => return failure(error),
                    None => return End::Drop,
                },
                _ = pings.tick() => {
                    if pong_due {
                        return End::Drop;
                    }
                    if socket.send(Message::Ping(Bytes::new())).await.is_err() {
                        return End::Drop;
                    }
                    pong_due = true;
                }
            }
        }
    }

    fn post(&self, text: &str) {
        let token_user = self.token_user.as_deref();
        if let Err(error) = post_from_websocket(&self.app.bus, &self.topic, text, token_user) {
            tracing::info!(topic = %self.topic, "ignored a WebSocket post: {}", error.message);
        }
    }
}

/// Sends a frame's envelope as one text frame.
async fn send_frame(socket: &mut WebSocket, frame: &Frame) -> Result<(), axum::Error> {
    let text = Utf8Bytes::try_from(frame.envelope()).map_err(axum::Error::new)?;
    socket.send(Message::Text(text)).await
}

/// The close code for a client that broke the protocol; a connection
/// error (reset, timed-out write) just ends the session.
fn failure(error: axum::Error) -> End {
    let Ok(error) = error.into_inner().downcast::<tungstenite::Error>() else {
        return End::Drop;
    };
    match *error {
        tungstenite::Error::Protocol(_) => End::Close(close_code::PROTOCOL, "protocol error"),
        tungstenite::Error::Utf8(_) => {
            End::Close(close_code::INVALID, "invalid UTF-8 in a text message")
        }
        tungstenite::Error::Capacity(_) => End::Close(close_code::SIZE, "message too large"),
        _ => End::Drop,
    }
}
