//! Optional authentication: HS256 access tokens verified by pushbus.
//!
//! On when `JWT_SECRET` is set. A token comes as `Authorization: Bearer`
//! or, for clients that cannot send headers (EventSource, iframe,
//! WebSocket), as `?token=`. Its `rooms` claim must allow the room; its
//! `sub`, if any, is the user, whatever `user=` says.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{header, HeaderMap, StatusCode};

use crate::error::ApiError;

/// The token of an `Authorization: Bearer <token>` header (the scheme is
/// case-insensitive).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

/// Checks the caller's token against `room`; returns its `sub`. With no
/// secret (auth off) everyone is allowed and there is no token user.
pub fn authorize(
    secret: Option<&[u8]>,
    headers: &HeaderMap,
    query_token: Option<&str>,
    room: &str,
) -> Result<Option<String>, ApiError> {
    let Some(secret) = secret else {
        return Ok(None);
    };
    let token = bearer(headers)
        .or(query_token.filter(|token| !token.is_empty()))
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "a bearer token is required"))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    // pushbus's error texts never quote the token, so they can be shown.
    let claims = pushbus::jwt::verify_hs256(token, secret, now)
        .map_err(|error| ApiError::new(StatusCode::UNAUTHORIZED, error.to_string()))?;
    if !claims.allows(room) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "the token does not allow this room",
        ));
    }
    Ok(claims.sub)
}
