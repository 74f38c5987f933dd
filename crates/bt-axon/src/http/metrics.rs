//! Counters of the HTTP axon by synapse and status code, and a latency histogram, exported
//! as Prometheus text on `GET /metrics` (names in `docs/metrics.md` style:
//! `bt_http_axon_requests_total{synapse,code}`, `bt_http_axon_request_seconds`).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Status codes counted separately; anything else is counted as `other`.
const CODES: [u16; 10] = [200, 400, 401, 403, 404, 408, 413, 422, 500, 503];
/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5, 10.0,
];

pub(crate) struct HttpMetrics {
    /// Route names, then `other` for unknown paths.
    synapses: Vec<String>,
    /// `[synapse][code]`, the last code column being `other`.
    counts: Vec<[AtomicU64; CODES.len() + 1]>,
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl HttpMetrics {
    pub(crate) fn new(mut synapses: Vec<String>) -> Self {
        synapses.push("other".into());
        let counts = synapses
            .iter()
            .map(|_| std::array::from_fn(|_| AtomicU64::new(0)))
            .collect();
        Self {
            synapses,
            counts,
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_micros: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    pub(crate) fn record(&self, synapse: Option<&str>, code: u16, latency: Duration) {
        let row = synapse
            .and_then(|s| self.synapses.iter().position(|n| n == s))
            .unwrap_or(self.synapses.len() - 1);
        let col = CODES.iter().position(|&c| c == code).unwrap_or(CODES.len());
        self.counts[row][col].fetch_add(1, Relaxed);
        let secs = latency.as_secs_f64();
        let b = BUCKETS
            .iter()
            .position(|&le| secs <= le)
            .unwrap_or(BUCKETS.len());
        self.buckets[b].fetch_add(1, Relaxed);
        self.sum_micros.fetch_add(
            latency.as_micros().min(u128::from(u64::MAX)) as u64,
            Relaxed,
        );
        self.count.fetch_add(1, Relaxed);
    }

    /// Requests answered with `code` for `synapse` so far.
    pub(crate) fn count(&self, synapse: &str, code: u16) -> u64 {
        let Some(row) = self.synapses.iter().position(|n| n == synapse) else {
            return 0;
        };
        let col = CODES.iter().position(|&c| c == code).unwrap_or(CODES.len());
        self.counts[row][col].load(Relaxed)
    }

    pub(crate) fn to_prometheus(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP bt_http_axon_requests_total Synapse requests answered, by synapse and status code.\n");
        out.push_str("# TYPE bt_http_axon_requests_total counter\n");
        for (row, name) in self.synapses.iter().enumerate() {
            for (col, counter) in self.counts[row].iter().enumerate() {
                let n = counter.load(Relaxed);
                if n == 0 {
                    continue;
                }
                let code = CODES
                    .get(col)
                    .map_or("other".to_string(), |c| c.to_string());
                let _ = writeln!(
                    out,
                    "bt_http_axon_requests_total{{synapse=\"{name}\",code=\"{code}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP bt_http_axon_request_seconds Time from request headers to answer.\n");
        out.push_str("# TYPE bt_http_axon_request_seconds histogram\n");
        let mut cumulative = 0;
        for (i, le) in BUCKETS.iter().enumerate() {
            cumulative += self.buckets[i].load(Relaxed);
            let _ = writeln!(
                out,
                "bt_http_axon_request_seconds_bucket{{le=\"{le}\"}} {cumulative}"
            );
        }
        cumulative += self.buckets[BUCKETS.len()].load(Relaxed);
        let _ = writeln!(
            out,
            "bt_http_axon_request_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
        );
        let _ = writeln!(
            out,
            "bt_http_axon_request_seconds_sum {}",
            self.sum_micros.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "bt_http_axon_request_seconds_count {}",
            self.count.load(Relaxed)
        );
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_synapse_and_code() {
        let m = HttpMetrics::new(vec!["Dummy".into()]);
        m.record(Some("Dummy"), 200, Duration::from_micros(300));
        m.record(Some("Nope"), 404, Duration::from_millis(3));
        m.record(None, 418, Duration::from_secs(20));
        assert_eq!(m.count("Dummy", 200), 1);
        assert_eq!(m.count("other", 404), 1);
        let text = m.to_prometheus();
        assert!(text.contains("bt_http_axon_requests_total{synapse=\"Dummy\",code=\"200\"} 1"));
        assert!(text.contains("bt_http_axon_requests_total{synapse=\"other\",code=\"other\"} 1"));
        assert!(text.contains("bt_http_axon_request_seconds_bucket{le=\"+Inf\"} 3"));
    }
}
