//! What every `/rooms/{room}/...` request starts with: a valid room, the
//! caller's access, and the query parameters.

use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use serde::Deserialize;

use crate::app::AppState;
use crate::auth;
use crate::error::ApiError;

/// Longest user name, in characters.
pub const MAX_USER_CHARS: usize = 32;

/// The query parameters the endpoints read (each reads its own).
#[derive(Debug, Default, Deserialize)]
pub struct Params {
    /// A version key to resume after.
    pub key: Option<String>,
    /// The user, for presence (a token's `sub` overrides it).
    pub user: Option<String>,
    /// A long poll's timeout, in seconds.
    pub timeout: Option<String>,
    /// The iframe stream's callback name.
    pub cb: Option<String>,
    /// An access token, for clients that cannot send headers.
    pub token: Option<String>,
    /// The SSE resume key of EventSource polyfills.
    #[serde(rename = "lastEventId")]
    pub last_event_id: Option<String>,
}

/// A request to a room, checked: room name, then authentication.
#[derive(Debug)]
pub struct RoomRequest {
    /// The room's name, `[A-Za-z0-9_-]{1,64}`.
    pub room: String,
    /// Its pushbus topic, `chat.<room>`.
    pub topic: String,
    /// The token's `sub`, when auth is on and the token has one.
    pub token_user: Option<String>,
    /// The query.
    pub params: Params,
}

impl RoomRequest {
    /// Who is present while this stream or poll lasts: the token's user,
    /// else `user=`, else nobody.
    pub fn presence_user(&self) -> Option<&str> {
        self.token_user
            .as_deref()
            .or(self.params.user.as_deref())
            .filter(|user| !user.is_empty())
    }
}

/// Checks a room name.
fn check_room(room: &str) -> Result<(), ApiError> {
    let valid = (1..=64).contains(&room.len())
        && room
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "room must be 1-64 characters of A-Z a-z 0-9 _ -",
        ))
    }
}

/// Checks a user name's length.
pub fn check_user(user: &str) -> Result<(), ApiError> {
    if (1..=MAX_USER_CHARS).contains(&user.chars().count()) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "user must be 1-{MAX_USER_CHARS} characters"
        )))
    }
}

impl FromRequestParts<AppState> for RoomRequest {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Path(room) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
        check_room(&room)?;
        let Query(params) = Query::<Params>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
        let token_user = auth::authorize(
            state.settings.jwt_secret.as_deref(),
            &parts.headers,
            params.token.as_deref(),
            &room,
        )?;
        let request = RoomRequest {
            topic: format!("chat.{room}"),
            room,
            token_user,
            params,
        };
        if let Some(user) = request.presence_user() {
            check_user(user)?;
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_and_users_are_checked() {
        for room in ["a", "lobby", "A-b_9", &"x".repeat(64)] {
            assert_eq!(check_room(room), Ok(()), "{room}");
        }
        for room in ["", "a.b", "a b", "é", "a/b", &"x".repeat(65)] {
            assert!(check_room(room).is_err(), "{room:?}");
        }
        assert_eq!(check_user(&"é".repeat(32)), Ok(()));
        assert!(check_user(&"é".repeat(33)).is_err());
        assert!(check_user("").is_err());
    }
}
