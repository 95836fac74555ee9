//! Publish-to-receive latency: an HDR histogram of nanoseconds (1 ns to
//! 100 s, 3 significant digits) and the percentiles the report shows.

use hdrhistogram::Histogram;
use serde_json::{json, Value};

pub struct Latency(Histogram<u64>);

impl Default for Latency {
    fn default() -> Self {
        Latency(Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("valid bounds"))
    }
}

impl Latency {
    pub fn record(&mut self, ns: u64) {
        self.0.saturating_record(ns.max(1));
    }

    pub fn add(&mut self, other: &Latency) {
        self.0.add(&other.0).expect("same bounds");
    }

    pub fn count(&self) -> u64 {
        self.0.len()
    }

    /// The value at `quantile` (0 to 1), in microseconds.
    pub fn micros(&self, quantile: f64) -> f64 {
        self.0.value_at_quantile(quantile) as f64 / 1e3
    }

    /// `{"p50_us":..,"p99_us":..,"p999_us":..,"max_us":..,"samples":..}`.
    pub fn summary(&self) -> Value {
        json!({
            "p50_us": self.micros(0.50),
            "p99_us": self.micros(0.99),
            "p999_us": self.micros(0.999),
            "max_us": self.0.max() as f64 / 1e3,
            "samples": self.count(),
        })
    }
}
