//! A neuron's `/metrics` answer as the dashboard reads it: any bytes, within the caps, never
//! a panic, and never more samples or labels kept than the limits allow.
#![no_main]

use bt_dashboard::prom::{PromLimits, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = PromLimits {
        max_samples: 64,
        max_labels: 4,
        max_line: 256,
    };
    let scrape = parse(text, limits);
    assert!(scrape.samples.len() <= limits.max_samples);
    assert!(scrape.samples.iter().all(|s| s.labels.len() <= limits.max_labels));
});
