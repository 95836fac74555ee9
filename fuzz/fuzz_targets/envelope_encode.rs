//! Whatever a publisher sends, the envelope every transport carries is one
//! line of valid JSON whose `data` is the payload, with nothing that could
//! end an HTML script element or a JavaScript string: checked for the
//! NDJSON line, the SSE event and the iframe chunk, by independent parsers.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use pushbus::{iframe, Payload, Start};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, bytes)) = data.split_first() else { return };
    let payload = match mode % 3 {
        0 => Payload::json(bytes),
        1 => match std::str::from_utf8(bytes) {
            Ok(text) => Payload::text(text),
            Err(_) => return,
        },
        _ => Payload::binary(bytes),
    };
    let Ok(key) = common::bus().publish("fuzz.topic", Some("message"), payload) else { return };
    let poll = common::bus().poll("fuzz.topic", &Start::Last(1), 1).expect("poll");
    let message = &poll.messages[0];
    let frames = poll.frames(message);

    let envelope = frames.envelope();
    assert!(!envelope.iter().any(|&b| matches!(b, b'\n' | b'\r' | b'<')));
    let text = std::str::from_utf8(envelope).expect("UTF-8");
    assert!(!text.contains('\u{2028}') && !text.contains('\u{2029}'));
    let parsed: Value = serde_json::from_str(text).expect("valid JSON");
    assert_eq!(parsed["id"], Value::from(key.to_string()));
    let expected = match payload.kind {
        pushbus::PayloadKind::Json => serde_json::from_slice(bytes).expect("validated at publish"),
        pushbus::PayloadKind::Text => Value::from(std::str::from_utf8(bytes).expect("validated")),
        pushbus::PayloadKind::Binary => parsed["data"].clone(),
    };
    assert_eq!(parsed["data"], expected);

    let ndjson = frames.ndjson();
    assert_eq!(ndjson.iter().filter(|&&b| b == b'\n').count(), 1);
    assert_eq!(serde_json::from_slice::<Value>(ndjson).expect("one JSON line"), parsed);

    let sse = std::str::from_utf8(frames.sse()).expect("UTF-8");
    assert_eq!(sse, format!("id: {key}\nevent: message\ndata: {text}\n\n"));

    let chunk = iframe::script("cb", envelope).expect("valid callback");
    let chunk = std::str::from_utf8(&chunk).expect("UTF-8");
    let inner = chunk
        .strip_prefix("<script>parent.cb(")
        .and_then(|rest| rest.strip_suffix(")</script>\n"))
        .expect("one script element");
    assert!(!inner.to_ascii_lowercase().contains("</script") && !inner.contains("<!--"));
    assert_eq!(serde_json::from_str::<Value>(inner).expect("a JS value"), parsed);
});
