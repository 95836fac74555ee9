//! What the fuzz targets that publish share.

use std::sync::OnceLock;

use pushbus::{Bus, Config};

/// One bus for the whole run: no janitor thread, and a ring of one
/// message, so a run of millions of publishes holds one payload at a time.
pub fn bus() -> &'static Bus {
    static BUS: OnceLock<Bus> = OnceLock::new();
    BUS.get_or_init(|| {
        let mut config = Config::default();
        config.janitor_interval = None;
        config.ring_max_messages = 1;
        Bus::new(config).expect("a valid configuration")
    })
}
