//! Posting a chat message: `POST /rooms/{room}/messages` and the
//! WebSocket's `{"type":"message",...}`, checked the same way.

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use pushbus::{Bus, Payload, Position};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::app::AppState;
use crate::body::read_limited;
use crate::error::ApiError;
use crate::request::{check_user, RoomRequest};

/// Largest request body, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Longest message text, in bytes of UTF-8.
const MAX_TEXT_BYTES: usize = 4096;

/// The payload published: the envelope's `data`.
#[derive(Serialize)]
struct ChatMessage<'a> {
    user: &'a str,
    text: &'a str,
}

/// `POST /rooms/{room}/messages`: `201 {"id": key}`.
pub async fn post(
    State(app): State<AppState>,
    request: RoomRequest,
    body: Body,
) -> Result<Response, ApiError> {
    let body = read_limited(body, MAX_BODY_BYTES, app.settings.write_timeout).await?;
    let fields = parse_object(&body)?;
    let key = publish(
        &app.bus,
        &request.topic,
        &fields,
        request.token_user.as_deref(),
    )?;
    let answer = Json(serde_json::json!({ "id": key.to_string() }));
    Ok((StatusCode::CREATED, answer).into_response())
}

/// A WebSocket client's text frame: publishes it when it is
/// `{"type":"message","user":..,"text":..}`.
pub fn post_from_websocket(
    bus: &Bus,
    topic: &str,
    text: &str,
    token_user: Option<&str>,
) -> Result<Position, ApiError> {
    let fields = parse_object(text.as_bytes())?;
    if fields.get("type").and_then(Value::as_str) != Some("message") {
        return Err(ApiError::bad_request(
            r#"only {"type":"message",...} is accepted"#,
        ));
    }
    publish(bus, topic, &fields, token_user)
}

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err(ApiError::bad_request(
            r#"the body must be {"user": str, "text": str}"#,
        )),
        Err(_) => Err(ApiError::bad_request("the body is not valid JSON")),
    }
}

/// Checks `user` (the token's wins) and `text`, then publishes.
fn publish(
    bus: &Bus,
    topic: &str,
    fields: &Map<String, Value>,
    token_user: Option<&str>,
) -> Result<Position, ApiError> {
    let user = token_user
        .or_else(|| fields.get("user").and_then(Value::as_str))
        .ok_or_else(|| ApiError::bad_request("user must be a string of 1-32 characters"))?;
    check_user(user)?;
    let text = fields
        .get("text")
        .and_then(Value::as_str)
        .filter(|text| (1..=MAX_TEXT_BYTES).contains(&text.len()))
        .ok_or_else(|| {
            ApiError::bad_request(format!("text must be a string of 1-{MAX_TEXT_BYTES} bytes"))
        })?;
    let payload = serde_json::to_vec(&ChatMessage { user, text })
        .map_err(|error| ApiError::bad_request(error.to_string()))?;
    bus.publish(topic, Some("message"), Payload::json(&payload))
        .map_err(ApiError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bus() -> Bus {
        let mut config = pushbus::Config::default();
        config.janitor_interval = None;
        Bus::new(config).unwrap()
    }

    fn fields(json: &str) -> Map<String, Value> {
        parse_object(json.as_bytes()).unwrap()
    }

    #[test]
    fn valid_posts_publish_user_then_text() {
        let bus = bus();
        let key = publish(
            &bus,
            "chat.a",
            &fields(r#"{"text":"hi","user":"ann"}"#),
            None,
        )
        .unwrap();
        let poll = bus.poll("chat.a", &pushbus::Start::Oldest, 10).unwrap();
        assert_eq!(poll.messages.len(), 1);
        assert_eq!(poll.key(&poll.messages[0]), key);
        assert_eq!(poll.messages[0].event(), Some("message"));
        assert_eq!(poll.messages[0].data(), br#"{"user":"ann","text":"hi"}"#);
    }

    #[test]
    fn the_token_user_wins() {
        let bus = bus();
        publish(
            &bus,
            "chat.a",
            &fields(r#"{"user":"eve","text":"x"}"#),
            Some("bob"),
        )
        .unwrap();
        let poll = bus.poll("chat.a", &pushbus::Start::Oldest, 10).unwrap();
        assert_eq!(poll.messages[0].data(), br#"{"user":"bob","text":"x"}"#);
    }

    #[test]
    fn bad_posts_are_400_and_publish_nothing() {
        let bus = bus();
        let long_text = format!(r#"{{"user":"ann","text":"{}"}}"#, "x".repeat(4097));
        for body in [
            "not json",
            "[1]",
            r#"{"text":"hi"}"#,
            r#"{"user":"","text":"hi"}"#,
            r#"{"user":"ann","text":""}"#,
            r#"{"user":"ann","text":7}"#,
            &long_text,
        ] {
            let result = parse_object(body.as_bytes())
                .and_then(|fields| publish(&bus, "chat.a", &fields, None));
            assert_eq!(
                result.map_err(|e| e.status),
                Err(StatusCode::BAD_REQUEST),
                "{body}"
            );
        }
        assert!(
            post_from_websocket(&bus, "chat.a", r#"{"user":"ann","text":"hi"}"#, None).is_err()
        );
        assert_eq!(bus.stats().published, 0);
        post_from_websocket(
            &bus,
            "chat.a",
            r#"{"type":"message","user":"ann","text":"hi"}"#,
            None,
        )
        .unwrap();
        assert_eq!(bus.stats().published, 1);
    }
}
