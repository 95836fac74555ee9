//! The reference the JSON validator (src/json.rs) is held to: serde_json
//! skipping one value. Shared by json.rs's tests and the `json_validate`
//! fuzz target, which include this file by path (neither crate can reach
//! the other's code), so both compare against one definition.

/// Whether serde_json, skipping one value (`IgnoredAny`), accepts `bytes`
/// as a UTF-8 text with nothing after the value but whitespace.
pub fn serde_json_accepts(bytes: &[u8]) -> bool {
    use serde::de::{Deserializer as _, IgnoredAny};
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    let mut reader = serde_json::Deserializer::from_str(text);
    reader
        .deserialize_ignored_any(IgnoredAny)
        .and_then(|_| reader.end())
        .is_ok()
}
