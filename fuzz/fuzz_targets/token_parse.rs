//! Token and Last-Event-ID parsing never panic, and what parses prints back
//! to text that parses to the same token, with no CR, LF or NUL.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushbus::{sse, Position, Token};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(token) = Token::parse(text, 128) {
            let printed = token.to_string();
            assert_eq!(printed, text, "tokens are canonical");
            assert!(!printed.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)));
            assert_eq!(Token::parse(&printed, 128), Ok(token));
        }
        if let Ok(position) = Position::parse(text) {
            assert_eq!(position.to_string(), text);
        }
    }
    let _ = sse::last_event_id(Some(data), None, 128);
});
