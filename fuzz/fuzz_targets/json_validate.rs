//! A payload published as JSON is accepted exactly when serde_json, skipping
//! one value, accepts the same bytes as UTF-8 text; and a refusal is an
//! `InvalidJson` or `InvalidUtf8` error, never a panic.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use pushbus::{Error, Payload};
use serde::de::{Deserializer as _, IgnoredAny};

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
    let published = common::bus().publish("fuzz.json", None, Payload::json(data));
    match &published {
        Ok(_) | Err(Error::InvalidJson(_) | Error::InvalidUtf8) => {}
        Err(other) => panic!("an unexpected error: {other:?}"),
    }
    assert_eq!(published.is_ok(), serde_json_accepts(data), "{published:?}");
});
