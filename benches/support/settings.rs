//! Criterion settings shared by the benchmark binaries.

use std::time::Duration;

use criterion::Criterion;

/// Short by default; `PUSHBUS_BENCH_FULL=1` for a longer, steadier run.
pub fn config() -> Criterion {
    let full = std::env::var("PUSHBUS_BENCH_FULL").is_ok_and(|v| v == "1");
    let (warm_up, measurement, samples) = if full {
        (Duration::from_secs(3), Duration::from_secs(10), 50)
    } else {
        (Duration::from_millis(500), Duration::from_millis(1500), 10)
    };
    Criterion::default()
        .warm_up_time(warm_up)
        .measurement_time(measurement)
        .sample_size(samples)
}
