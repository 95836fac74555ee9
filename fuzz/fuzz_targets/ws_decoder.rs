//! The WebSocket decoder never panics, and gives the same messages and the
//! same error however its input is split.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushbus::ws::{Decoder, DecoderLimits, WsError, WsMessage};

/// Decodes `input` fed in pieces of `piece` bytes.
fn decode(input: &[u8], piece: usize) -> (Vec<WsMessage>, Option<u16>) {
    let limits = DecoderLimits { max_message_bytes: 1 << 16, max_fragments: 64 };
    let mut decoder = Decoder::new(limits);
    let mut messages = Vec::new();
    for chunk in input.chunks(piece.max(1)) {
        let mut rest = chunk;
        loop {
            match decoder.decode(rest) {
                Ok((used, message)) => {
                    rest = &rest[used..];
                    match message {
                        Some(message) => messages.push(message),
                        None => break,
                    }
                }
                Err(error) => return (messages, Some(WsError::close_code(&error))),
            }
        }
    }
    (messages, None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, input)) = data.split_first() else { return };
    let whole = decode(input, input.len());
    let pieces = decode(input, usize::from(split % 17) + 1);
    assert_eq!(whole, pieces);
    if let Some(code) = whole.1 {
        assert!(matches!(code, 1002 | 1007 | 1009), "{code}");
    }
});
