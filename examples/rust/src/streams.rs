//! The HTTP streams: Server-Sent Events, XHR streaming (NDJSON) and
//! hidden-iframe streaming.
//!
//! Each is a hub subscription turned into a response body: a preamble (and
//! the gap of an unreadable key), then one whole frame per event, and a
//! heartbeat when nothing was sent for `HEARTBEAT_SECONDS`. XHR and iframe
//! streams end after `STREAM_BUDGET_BYTES`, always between two frames, and
//! the page reopens them from its last key. The body owns the
//! subscription: when the client goes away hyper drops the body, which
//! closes the subscription and releases its presence at once.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, Bytes, BytesMut};

use crate::app::AppState;
use crate::error::ApiError;
use crate::frame::Frame;
use crate::hub::Subscription;
use crate::request::RoomRequest;
use crate::resume::Resume;

/// SSE `retry:`, in milliseconds: how soon an EventSource reconnects.
const SSE_RETRY_MS: u32 = 3000;
/// SSE `retry:` when the server cannot take the stream now: an error
/// status would end the EventSource for good, a later retry sheds load.
const SSE_RETRY_LATER_MS: u32 = 10_000;

/// How a stream writes its events.
#[derive(Debug, Clone)]
enum Wire {
    /// `text/event-stream`: the SSE event.
    Sse,
    /// `application/x-ndjson`: one envelope per line.
    Ndjson,
    /// `text/html`: `<script>parent.F(envelope)</script>` per event; holds
    /// `<script>parent.F(`.
    Iframe(Bytes),
}

impl Wire {
    fn content_type(&self) -> &'static str {
        match self {
            Wire::Sse => "text/event-stream; charset=utf-8",
            Wire::Ndjson => "application/x-ndjson; charset=utf-8",
            Wire::Iframe(_) => "text/html; charset=utf-8",
        }
    }

    fn preamble(&self) -> Vec<u8> {
        match self {
            Wire::Sse => pushbus::sse::preamble(SSE_RETRY_MS),
            Wire::Ndjson => pushbus::ndjson::preamble(),
            Wire::Iframe(_) => pushbus::iframe::preamble(),
        }
    }

    fn encode(&self, frame: &Frame) -> Bytes {
        match self {
            Wire::Sse => frame.sse(),
            Wire::Ndjson => frame.ndjson(),
            Wire::Iframe(open) => script(open, &frame.envelope()),
        }
    }

    fn heartbeat(&self) -> Bytes {
        match self {
            Wire::Sse => Bytes::from_static(pushbus::sse::HEARTBEAT),
            Wire::Ndjson => Bytes::from_static(pushbus::ndjson::HEARTBEAT),
            Wire::Iframe(open) => script(open, b"null"),
        }
    }
}

/// `<script>parent.F(json)</script>`; `json` is script-safe (an envelope
/// or `null`).
fn script(open: &Bytes, json: &[u8]) -> Bytes {
    let close = pushbus::iframe::SCRIPT_CLOSE;
    let mut chunk = BytesMut::with_capacity(open.len() + json.len() + close.len());
    chunk.put_slice(open);
    chunk.put_slice(json);
    chunk.put_slice(close);
    chunk.freeze()
}

/// Subscribes `request`'s user to its room from `resume`; returns the
/// subscription and the gap to send first, if any.
pub fn open(
    app: &AppState,
    request: &RoomRequest,
    resume: Resume,
) -> Result<(Subscription, Option<Frame>), ApiError> {
    let (start, gap) = resume.start(&app.bus, &request.topic)?;
    let subscription = app
        .hub
        .subscribe(&request.topic, start, request.presence_user())?;
    Ok((subscription, gap))
}

/// What the body stream carries from one chunk to the next.
struct Writer {
    subscription: Subscription,
    wire: Wire,
    heartbeat: Duration,
    /// Bytes written so far.
    sent: usize,
    /// Bytes after which the stream ends (SSE: never).
    budget: Option<usize>,
}

impl Writer {
    /// The next chunk: a frame, or a heartbeat after `heartbeat` of
    /// silence. `None`: the budget is spent or the hub closed the queue.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        if self.budget.is_some_and(|budget| self.sent >= budget) {
            return None;
        }
        let chunk = match tokio::time::timeout(self.heartbeat, self.subscription.next()).await {
            Ok(Some(frame)) => self.wire.encode(&frame),
            Ok(None) => return None,
            Err(_) => self.wire.heartbeat(),
        };
        self.sent += chunk.len();
        Some(chunk)
    }
}

/// The headers of every stream: no caching, no proxy buffering, no
/// content sniffing.
fn stream_headers(wire: &Wire) -> [(HeaderName, HeaderValue); 4] {
    [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static(wire.content_type()),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            HeaderName::from_static("x-accel-buffering"),
            HeaderValue::from_static("no"),
        ),
    ]
}

/// The streaming answer: headers, then `first`, then the writer's chunks.
fn respond(writer: Writer, first: Bytes) -> Response {
    let headers = stream_headers(&writer.wire);
    let head = futures_util::stream::once(async move { Ok::<_, Infallible>(first) });
    let rest = futures_util::stream::unfold(writer, |mut writer| async move {
        let chunk = writer.next_chunk().await?;
        Some((Ok::<_, Infallible>(chunk), writer))
    });
    let body = Body::from_stream(futures_util::StreamExt::chain(head, rest));
    (StatusCode::OK, headers, body).into_response()
}

/// Opens a stream of `wire` for `request` from `resume`.
fn stream(
    app: &AppState,
    request: &RoomRequest,
    resume: Resume,
    wire: Wire,
    budget: Option<usize>,
) -> Result<Response, ApiError> {
    let (subscription, gap) = open(app, request, resume)?;
    let mut first = wire.preamble();
    if let Some(gap) = gap {
        first.extend_from_slice(&wire.encode(&gap));
    }
    let writer = Writer {
        subscription,
        wire,
        heartbeat: app.settings.heartbeat,
        sent: first.len(),
        budget,
    };
    Ok(respond(writer, Bytes::from(first)))
}

/// `GET /rooms/{room}/events`: Server-Sent Events.
pub async fn sse(
    State(app): State<AppState>,
    headers: HeaderMap,
    request: RoomRequest,
) -> Result<Response, ApiError> {
    let resume = Resume::from_last_event_id(
        headers.get("last-event-id").map(HeaderValue::as_bytes),
        request.params.last_event_id.as_deref(),
    );
    match stream(&app, &request, resume, Wire::Sse, None) {
        Err(error) if error.status == StatusCode::SERVICE_UNAVAILABLE => {
            let retry_later = Bytes::from(pushbus::sse::preamble(SSE_RETRY_LATER_MS));
            Ok((
                [(header::CONTENT_TYPE, Wire::Sse.content_type())],
                retry_later,
            )
                .into_response())
        }
        answer => answer,
    }
}

/// `GET /rooms/{room}/xhr`: XHR streaming.
pub async fn xhr(State(app): State<AppState>, request: RoomRequest) -> Result<Response, ApiError> {
    let resume = Resume::from_key(request.params.key.as_deref());
    let budget = Some(app.settings.stream_budget);
    stream(&app, &request, resume, Wire::Ndjson, budget)
}

/// `GET /rooms/{room}/iframe?cb=F`: hidden-iframe streaming; `F` must be a
/// plain dotted JavaScript name, else `400` (a reflected-XSS vector).
pub async fn iframe(
    State(app): State<AppState>,
    request: RoomRequest,
) -> Result<Response, ApiError> {
    let callback = request.params.cb.as_deref().unwrap_or_default();
    let open = pushbus::iframe::script_open(callback)
        .map_err(|_| ApiError::bad_request("cb must match [A-Za-z_$][A-Za-z0-9_$.]{0,63}"))?;
    let resume = Resume::from_key(request.params.key.as_deref());
    let budget = Some(app.settings.stream_budget);
    stream(&app, &request, resume, Wire::Iframe(open.into()), budget)
}
