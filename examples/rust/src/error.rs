//! Error answers: a status and the contract's JSON body `{"error": ...}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::hub::SubscribeError;

/// An HTTP error answer. The message is for people; it never quotes a
/// token or a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The status code.
    pub status: StatusCode,
    /// What went wrong.
    pub message: String,
}

impl ApiError {
    /// An error with this status.
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// `400`: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// `503`: the server cannot take this now (shutting down, out of topics).
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }
}

/// A pushbus error caused by a request: its data (`400`, `413`), or the
/// bus's limits (`503`).
impl From<pushbus::Error> for ApiError {
    fn from(error: pushbus::Error) -> ApiError {
        match error {
            pushbus::Error::TooManyTopics { .. } | pushbus::Error::TooManySubscriptions { .. } => {
                ApiError::unavailable(error.to_string())
            }
            pushbus::Error::MessageTooLarge { .. } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, error.to_string())
            }
            _ => ApiError::bad_request(error.to_string()),
        }
    }
}

/// A subscription the hub refused.
impl From<SubscribeError> for ApiError {
    fn from(error: SubscribeError) -> ApiError {
        match error {
            SubscribeError::ShuttingDown => ApiError::unavailable("the server is shutting down"),
            SubscribeError::Bus(error) => error.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        match self.status {
            StatusCode::UNAUTHORIZED => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            // A client that speaks another WebSocket version learns ours.
            StatusCode::UPGRADE_REQUIRED => {
                headers.insert(
                    header::SEC_WEBSOCKET_VERSION,
                    HeaderValue::from_static("13"),
                );
            }
            _ => {}
        }
        response
    }
}
