//! Presence: who is in a room. Streams hold it while open (see
//! [`crate::hub::Hub::subscribe`]); polls hold a lease that each poll
//! renews.

use std::time::Duration;

use axum::extract::State;
use axum::Json;
use pushbus::Bus;
use serde::Serialize;

use crate::app::AppState;
use crate::error::ApiError;
use crate::request::RoomRequest;

/// How long a poll keeps its user present.
pub const LEASE: Duration = Duration::from_secs(30);

/// Makes the request's user present for `held` (how long the request may
/// wait) and [`LEASE`] after, if it names one.
pub fn renew_lease(bus: &Bus, request: &RoomRequest, held: Duration) -> Result<(), ApiError> {
    match request.presence_user() {
        Some(user) => Ok(bus.join_lease(&request.topic, user, "{}", held + LEASE)?),
        None => Ok(()),
    }
}

/// The connectors answer, fields in the contract's order.
#[derive(Serialize)]
pub struct Connectors {
    key: String,
    connectors: Vec<Connector>,
}

/// One present user.
#[derive(Serialize)]
struct Connector {
    user: String,
    /// When they arrived, in milliseconds since the Unix epoch.
    since: u64,
}

/// `GET /rooms/{room}/connectors`: who is in the room, and its newest key.
pub async fn connectors(
    State(app): State<AppState>,
    request: RoomRequest,
) -> Result<Json<Connectors>, ApiError> {
    let key = app.bus.head(&request.topic)?;
    let connectors = app
        .bus
        .presence(&request.topic)?
        .into_iter()
        .map(|entry| Connector {
            user: entry.client,
            since: entry.since_ms,
        })
        .collect();
    Ok(Json(Connectors {
        key: key.to_string(),
        connectors,
    }))
}
