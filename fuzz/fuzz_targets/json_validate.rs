//! A payload published as JSON is accepted exactly when serde_json, skipping
//! one value, accepts the same bytes as UTF-8 text; and a refusal is an
//! `InvalidJson` or `InvalidUtf8` error, never a panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pushbus::{Bus, Config, Error, Payload};
use serde::de::{Deserializer as _, IgnoredAny};

fn bus() -> &'static Bus {
    static BUS: OnceLock<Bus> = OnceLock::new();
    BUS.get_or_init(|| {
        let mut config = Config::default();
        config.janitor_interval = None;
        config.ring_max_messages = 1;
        Bus::new(config).expect("a valid configuration")
    })
}

fn serde_json_accepts(bytes: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    let mut reader = serde_json::Deserializer::from_str(text);
    reader
        .deserialize_ignored_any(IgnoredAny)
        .and_then(|_| reader.end())
        .is_ok()
}

fuzz_target!(|data: &[u8]| {
    let published = bus().publish("fuzz.json", None, Payload::json(data));
    match &published {
        Ok(_) | Err(Error::InvalidJson(_) | Error::InvalidUtf8) => {}
        Err(other) => panic!("an unexpected error: {other:?}"),
    }
    assert_eq!(published.is_ok(), serde_json_accepts(data), "{published:?}");
});
