//! A payload published as JSON is accepted exactly when serde_json, skipping
//! one value, accepts the same bytes as UTF-8 text; and a refusal is an
//! `InvalidJson` or `InvalidUtf8` error, never a panic.
#![no_main]

mod common;
#[path = "../../tests/common/serde_json_oracle.rs"]
mod serde_json_oracle;

use libfuzzer_sys::fuzz_target;
use pushbus::{Error, Payload};
use serde_json_oracle::serde_json_accepts;

fuzz_target!(|data: &[u8]| {
    let published = common::bus().publish("fuzz.json", None, Payload::json(data));
    match &published {
        Ok(_) | Err(Error::InvalidJson(_) | Error::InvalidUtf8) => {}
        Err(other) => panic!("an unexpected error: {other:?}"),
    }
    assert_eq!(published.is_ok(), serde_json_accepts(data), "{published:?}");
});
