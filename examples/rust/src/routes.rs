//! The HTTP surface: every endpoint of CHAT_API.md, the page, CORS.

use axum::http::{header, HeaderValue, StatusCode};
use axum::routing::{get, post};
use axum::{middleware, Router};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::app::AppState;
use crate::error::ApiError;
use crate::{cors, messages, metrics, polls, presence, streams, websocket};

/// The application.
pub fn router(app: AppState) -> Router {
    let web_root = &app.settings.web_root;
    let page = Router::new()
        .route_service("/", ServeFile::new(web_root.join("index.html")))
        .nest_service("/static", ServeDir::new(web_root))
        // The page changes with the server: browsers revalidate it.
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics::metrics))
        .route("/rooms/{room}/messages", post(messages::post))
        .route("/rooms/{room}/connectors", get(presence::connectors))
        .route("/rooms/{room}/poll", get(polls::short_poll))
        .route("/rooms/{room}/longpoll", get(polls::long_poll))
        .route("/rooms/{room}/events", get(streams::sse))
        .route("/rooms/{room}/xhr", get(streams::xhr))
        .route("/rooms/{room}/iframe", get(streams::iframe))
        .route("/rooms/{room}/ws", get(websocket::websocket))
        .merge(page)
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not found") })
        .layer(middleware::from_fn_with_state(app.clone(), cors::cors))
        .with_state(app)
}
