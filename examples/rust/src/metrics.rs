//! `GET /metrics`: the bus's counters and the server's own, in the
//! Prometheus text format (version 0.0.4).
//!
//! Eight fixed lines of `# HELP`, `# TYPE` and a value, from one snapshot:
//! a metrics library would add a registry to mirror numbers pushbus
//! already keeps.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;

use crate::app::AppState;

/// One metric: name, type, help, value.
type Metric = (&'static str, &'static str, &'static str, u64);

/// Renders metrics in the text format.
fn render(metrics: &[Metric]) -> String {
    let mut out = String::new();
    for (name, kind, help, value) in metrics {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }
    out
}

/// The handler.
pub async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    let stats = app.bus.stats();
    let body = render(&[
        (
            "pushbus_published_total",
            "counter",
            "Messages published (presence events included).",
            stats.published,
        ),
        (
            "pushbus_delivered_total",
            "counter",
            "Messages handed to subscriptions.",
            stats.delivered,
        ),
        (
            "pushbus_gaps_total",
            "counter",
            "Gap events: messages a reader will never see.",
            stats.gaps,
        ),
        (
            "pushbus_lag_closes_total",
            "counter",
            "Subscriptions pushbus closed because they lagged.",
            stats.lag_closes,
        ),
        (
            "pushbus_subscriptions",
            "gauge",
            "Subscriptions open now.",
            stats.subscriptions,
        ),
        (
            "pushbus_topics",
            "gauge",
            "Topics that exist now.",
            stats.topics,
        ),
        (
            "pushbus_replay_bytes",
            "gauge",
            "Message bytes held by the replay rings.",
            stats.replay_bytes,
        ),
        (
            "chat_slow_readers_closed_total",
            "counter",
            "Streams closed because their reader fell behind.",
            app.hub.slow_closes(),
        ),
    ]);
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        body,
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_metric_has_help_type_and_value() {
        let text = super::render(&[("a_total", "counter", "As.", 3), ("b", "gauge", "Bs.", 0)]);
        assert_eq!(
            text,
            "# HELP a_total As.\n# TYPE a_total counter\na_total 3\n# HELP b Bs.\n# TYPE b gauge\nb 0\n"
        );
    }
}
