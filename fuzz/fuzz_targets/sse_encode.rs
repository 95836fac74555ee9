//! Whatever id, event and data the SSE encoder accepts, an independent
//! parser following the WHATWG algorithm reads back as exactly one event
//! with that id, that event type and that data (line breaks normalised to
//! LF): no input can inject a field or an event.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushbus::sse;

#[derive(Debug, Default, PartialEq)]
struct Parsed {
    id: Option<String>,
    event: Option<String>,
    data: Option<String>,
}

/// The WHATWG "interpret the event stream" steps for one stream.
fn parse(stream: &str) -> Vec<Parsed> {
    let mut events = Vec::new();
    let mut current = Parsed::default();
    let mut data = String::new();
    let mut has_data = false;
    let normalised = stream.replace("\r\n", "\n").replace('\r', "\n");
    for line in normalised.split_terminator('\n') {
        if line.is_empty() {
            if has_data {
                current.data = Some(data.strip_suffix('\n').unwrap_or(&data).to_owned());
                events.push(std::mem::take(&mut current));
            }
            data.clear();
            has_data = false;
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "data" => {
                data.push_str(value);
                data.push('\n');
                has_data = true;
            }
            "event" => current.event = Some(value.to_owned()),
            "id" if !value.contains('\0') => current.id = Some(value.to_owned()),
            _ => {}
        }
    }
    events
}

fuzz_target!(|input: (String, String, String)| {
    let (id, event, data) = input;
    let mut out = Vec::new();
    let id = (!id.is_empty()).then_some(id.as_str());
    let event = (!event.is_empty()).then_some(event.as_str());
    if sse::write_event(&mut out, id, event, &data).is_err() {
        assert!(out.is_empty(), "nothing is written on error");
        return;
    }
    let stream = String::from_utf8(out).expect("the encoder writes UTF-8");
    let events = parse(&stream);
    assert_eq!(events.len(), 1, "{stream:?}");
    let expected = data.replace("\r\n", "\n").replace('\r', "\n");
    assert_eq!(events[0].data.as_deref(), Some(expected.as_str()));
    assert_eq!(events[0].id.as_deref(), id);
    assert_eq!(events[0].event.as_deref(), event);
});
