//! The state every handler shares: the bus, the hub, the settings.

use std::sync::Arc;

use pushbus::Bus;

use crate::config::Settings;
use crate::hub::Hub;

/// Bytes of frames a stream's queue may hold before its reader counts as
/// fallen behind and is closed (it resumes from its last key): what a
/// stuck reader may keep alive on top of its socket's buffers.
pub const STREAM_QUEUE_BYTES: usize = 1 << 20;

/// Shared by every handler; cloning is cheap.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The broker.
    pub bus: Bus,
    /// The poller every connection subscribes on.
    pub hub: Arc<Hub>,
    /// The configuration.
    pub settings: Arc<Settings>,
}

impl AppState {
    /// A bus configured by `settings`, and its hub.
    pub fn new(settings: Settings) -> Result<AppState, pushbus::Error> {
        let bus = Bus::new(settings.bus_config())?;
        let hub = Hub::new(bus.poller(), STREAM_QUEUE_BYTES);
        Ok(AppState {
            bus,
            hub,
            settings: Arc::new(settings),
        })
    }
}
