//! CORS: the page's own origin and those of `ALLOWED_ORIGINS` may read
//! every answer (errors included) and send credentials; `OPTIONS`
//! preflights are answered here, before routing and authentication.
//!
//! Written by hand rather than with tower-http's `CorsLayer`: the contract
//! wants `204` for an allowed preflight (the layer answers `200`) and the
//! server's own origin allowed alongside a list, which takes the request's
//! `Host` into account.

use std::collections::HashSet;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;

const ALLOW_METHODS: &str = "GET, POST, OPTIONS";
const ALLOW_HEADERS: &str = "Authorization, Content-Type, Last-Event-ID, If-None-Match";
/// Headers the page reads: the short poll's key.
const EXPOSE_HEADERS: &str = "ETag";
const MAX_AGE_SECONDS: &str = "600";

/// The request's `Origin` when it may use the answer: listed in `allowed`,
/// or the server's own (`http://` or `https://` and the `Host`). `null`
/// never is.
pub fn allowed_origin(allowed: &HashSet<String>, headers: &HeaderMap) -> Option<HeaderValue> {
    let origin = headers.get(header::ORIGIN)?;
    let text = origin.to_str().ok()?;
    if text == "null" {
        return None;
    }
    let same_origin = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .is_some_and(|host| {
            ["http://", "https://"]
                .iter()
                .any(|scheme| text.strip_prefix(scheme) == Some(host))
        });
    (same_origin || allowed.contains(text)).then(|| origin.clone())
}

/// The middleware: answers preflights, decorates every other answer.
pub async fn cors(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let origin = allowed_origin(&app.settings.allowed_origins, request.headers());
    if request.method() == Method::OPTIONS {
        let has_origin = request.headers().contains_key(header::ORIGIN);
        return preflight(has_origin, origin);
    }
    let mut response = next.run(request).await;
    decorate(response.headers_mut(), origin);
    response
}

fn decorate(headers: &mut HeaderMap, origin: Option<HeaderValue>) {
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
    }
}

/// `204` with the permissions for an allowed origin; `403` for another
/// origin; a plain `OPTIONS` (no `Origin`) learns the methods.
fn preflight(has_origin: bool, origin: Option<HeaderValue>) -> Response {
    let status = match (has_origin, &origin) {
        (true, None) => StatusCode::FORBIDDEN,
        _ => StatusCode::NO_CONTENT,
    };
    let mut response = status.into_response();
    let headers = response.headers_mut();
    headers.insert(header::ALLOW, HeaderValue::from_static(ALLOW_METHODS));
    if origin.is_some() {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOW_METHODS),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOW_HEADERS),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(MAX_AGE_SECONDS),
        );
    }
    decorate(headers, origin);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: &str, host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ORIGIN, origin.parse().unwrap());
        headers.insert(header::HOST, host.parse().unwrap());
        headers
    }

    #[test]
    fn own_and_listed_origins_are_allowed_null_and_others_not() {
        let listed: HashSet<String> = ["http://app.test".to_owned()].into();
        let host = "127.0.0.1:8080";
        for ok in [
            "http://127.0.0.1:8080",
            "https://127.0.0.1:8080",
            "http://app.test",
        ] {
            assert!(
                allowed_origin(&listed, &headers(ok, host)).is_some(),
                "{ok}"
            );
        }
        for refused in [
            "null",
            "http://evil.test",
            "http://127.0.0.1:8081",
            "http://app.test.evil",
        ] {
            assert!(
                allowed_origin(&listed, &headers(refused, host)).is_none(),
                "{refused}"
            );
        }
        assert!(allowed_origin(&listed, &HeaderMap::new()).is_none());
    }

    #[test]
    fn preflights_allow_only_allowed_origins() {
        let allowed = preflight(true, Some(HeaderValue::from_static("http://app.test")));
        assert_eq!(allowed.status(), StatusCode::NO_CONTENT);
        let h = allowed.headers();
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "http://app.test");
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        assert!(h[header::ACCESS_CONTROL_ALLOW_HEADERS]
            .to_str()
            .unwrap()
            .contains("Authorization, Content-Type"));
        assert_eq!(h[header::VARY], "Origin");
        let refused = preflight(true, None);
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert!(!refused
            .headers()
            .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
    }
}
