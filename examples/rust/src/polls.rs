//! Short and long polls: `bus.poll` answers, the JSON of pushbus.
//!
//! A long poll with nothing newer than its key holds a one-shot hub
//! subscription from the poll's own answer key, so a message published
//! between the poll and the subscription is not missed; the request's
//! future owns it, so a client that goes away releases it at once.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use pushbus::{Poll, Position, Start, Token};

use crate::app::AppState;
use crate::error::ApiError;
use crate::presence::renew_lease;
use crate::request::RoomRequest;

/// Messages a short poll without a key returns (the newest).
const FIRST_POLL_MESSAGES: u64 = 50;
/// Most messages one poll answer carries; the client polls again for more.
const POLL_MAX_MESSAGES: usize = 1000;
const LONG_POLL_DEFAULT_SECONDS: f64 = 25.0;
const LONG_POLL_MAX_SECONDS: f64 = 60.0;

/// A `key=` parameter: absent, or a key (else `400`).
fn key_param(key: Option<&str>) -> Result<Option<Position>, ApiError> {
    match key {
        None | Some("") => Ok(None),
        Some(text) => Position::parse(text)
            .map(Some)
            .map_err(|_| ApiError::bad_request("the key does not parse")),
    }
}

/// The key of an `If-None-Match` header (`W/` and quotes tolerated);
/// anything else is ignored, as a cache may send its own validators.
fn if_none_match(headers: &HeaderMap) -> Option<Position> {
    let value = headers.get(header::IF_NONE_MATCH)?.to_str().ok()?.trim();
    let value = value.strip_prefix("W/").unwrap_or(value);
    Position::parse(value.trim_matches('"')).ok()
}

fn etag(key: Position) -> HeaderValue {
    // A key is hex, `-` and digits: always a valid header value.
    HeaderValue::from_str(&key.to_string()).expect("keys are ASCII")
}

/// `200` with the poll's JSON; its key is the `ETag`.
fn answer(poll: &Poll) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::ETAG, etag(poll.position)),
        ],
        poll.to_json(),
    )
        .into_response()
}

/// `GET /rooms/{room}/poll?key=K`: at once. No key: the newest messages.
/// `If-None-Match: K` with nothing newer than K: `304`.
pub async fn short_poll(
    State(app): State<AppState>,
    headers: HeaderMap,
    request: RoomRequest,
) -> Result<Response, ApiError> {
    let key = key_param(request.params.key.as_deref())?;
    renew_lease(&app.bus, &request, Duration::ZERO)?;
    if let Some(seen) = if_none_match(&headers) {
        if app.bus.head(&request.topic)? == seen {
            let headers = [
                (header::ETAG, etag(seen)),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ];
            return Ok((StatusCode::NOT_MODIFIED, headers).into_response());
        }
    }
    let answered = match key {
        Some(key) => app.bus.poll(
            &request.topic,
            &Start::After(Token::Key(key)),
            POLL_MAX_MESSAGES,
        )?,
        None => app.bus.poll(
            &request.topic,
            &Start::Last(FIRST_POLL_MESSAGES),
            FIRST_POLL_MESSAGES as usize,
        )?,
    };
    Ok(answer(&answered))
}

/// A long poll's `timeout=`: seconds, default 25, at most 60.
fn long_poll_timeout(timeout: Option<&str>) -> Result<Duration, ApiError> {
    let seconds = match timeout {
        None | Some("") => LONG_POLL_DEFAULT_SECONDS,
        Some(text) => text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
            .ok_or_else(|| ApiError::bad_request("timeout must be a number of seconds"))?,
    };
    Ok(Duration::from_secs_f64(seconds.min(LONG_POLL_MAX_SECONDS)))
}

/// `GET /rooms/{room}/longpoll?key=K&timeout=S`: answers as soon as
/// something is newer than K (no key: than now), else after S seconds with
/// no messages and the same key.
pub async fn long_poll(
    State(app): State<AppState>,
    request: RoomRequest,
) -> Result<Response, ApiError> {
    let key = key_param(request.params.key.as_deref())?;
    let timeout = long_poll_timeout(request.params.timeout.as_deref())?;
    renew_lease(&app.bus, &request, timeout)?;
    let key = match key {
        Some(key) => key,
        None => app.bus.head(&request.topic)?,
    };
    let topic = &request.topic;
    let first = app
        .bus
        .poll(topic, &Start::After(Token::Key(key)), POLL_MAX_MESSAGES)?;
    if !first.messages.is_empty() || first.gap.is_some() || timeout.is_zero() {
        return Ok(answer(&first));
    }
    let from = Start::After(Token::Key(first.position));
    let mut waiter = app.hub.subscribe(topic, from.clone(), None)?;
    // Whatever ends the wait (a frame, the timeout, the hub shutting
    // down), the answer is a poll from the same key.
    let _ = tokio::time::timeout(timeout, waiter.next()).await;
    drop(waiter);
    Ok(answer(&app.bus.poll(topic, &from, POLL_MAX_MESSAGES)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_default_cap_and_refuse_garbage() {
        assert_eq!(long_poll_timeout(None), Ok(Duration::from_secs(25)));
        assert_eq!(
            long_poll_timeout(Some("0.5")),
            Ok(Duration::from_millis(500))
        );
        assert_eq!(long_poll_timeout(Some("600")), Ok(Duration::from_secs(60)));
        for bad in ["-1", "soon", "NaN", "inf"] {
            assert!(long_poll_timeout(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn if_none_match_takes_a_key_in_any_usual_form() {
        let key = Position {
            epoch: 0xab,
            seq: 3,
        };
        for value in ["ab-3", "\"ab-3\"", "W/\"ab-3\""] {
            let mut headers = HeaderMap::new();
            headers.insert(header::IF_NONE_MATCH, value.parse().unwrap());
            assert_eq!(if_none_match(&headers), Some(key), "{value}");
        }
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, "*".parse().unwrap());
        assert_eq!(if_none_match(&headers), None);
    }
}
