//! Request counters, a latency histogram and byte counts: lock-free atomics written on the
//! request path, read as a [`MetricsSnapshot`] in-process or as Prometheus text.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use tonic::Code;

/// The RPC a request named, for labelling metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MethodLabel {
    Forward,
    Backward,
    /// Any other path (answered `UNIMPLEMENTED` by the router).
    Other,
}

impl MethodLabel {
    pub(crate) const ALL: [MethodLabel; 3] = [Self::Forward, Self::Backward, Self::Other];

    pub(crate) fn from_path(path: &str) -> Self {
        match path {
            bt_wire::paths::FORWARD => Self::Forward,
            bt_wire::paths::BACKWARD => Self::Backward,
            _ => Self::Other,
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Forward => "Forward",
            Self::Backward => "Backward",
            Self::Other => "other",
        }
    }
}

/// Upper bounds of the latency buckets, in seconds (Prometheus `le`).
pub const LATENCY_BUCKETS: [f64; 16] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];
const CODES: usize = 17;

#[derive(Default)]
struct Histogram {
    // One more than the bounds: the +Inf bucket. Counts are per bucket, not cumulative.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = LATENCY_BUCKETS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(LATENCY_BUCKETS.len());
        if let Some(b) = self.buckets.get(i) {
            b.fetch_add(1, Relaxed);
        }
        self.sum_nanos
            .fetch_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX), Relaxed);
    }
}

/// Live counters shared by the request path.
#[derive(Default)]
pub(crate) struct Metrics {
    requests: [[AtomicU64; CODES]; 3],
    latency: [Histogram; 3],
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    in_flight: AtomicU64,
    connections: AtomicU64,
    connections_refused: AtomicU64,
    signatures: AtomicU64,
    handshakes: AtomicU64,
    session_requests: AtomicU64,
    session_refusals: AtomicU64,
    sessions: AtomicU64,
    early_digests: AtomicU64,
}

impl Metrics {
    pub(crate) fn record(&self, method: MethodLabel, code: Code, latency: Duration) {
        let c = usize::try_from(code as i32).unwrap_or(2).min(CODES - 1);
        if let Some(cell) = self.requests.get(method.index()).and_then(|row| row.get(c)) {
            cell.fetch_add(1, Relaxed);
        }
        if let Some(h) = self.latency.get(method.index()) {
            h.observe(latency);
        }
    }

    pub(crate) fn add_bytes_in(&self, n: usize) {
        self.bytes_in.fetch_add(n as u64, Relaxed);
    }

    pub(crate) fn add_bytes_out(&self, n: usize) {
        self.bytes_out.fetch_add(n as u64, Relaxed);
    }

    pub(crate) fn in_flight_delta(&self, up: bool) {
        if up {
            self.in_flight.fetch_add(1, Relaxed);
        } else {
            self.in_flight.fetch_sub(1, Relaxed);
        }
    }

    /// One Ed25519 signature checked (plain request or session offer), whatever the verdict.
    pub(crate) fn signature_checked(&self) {
        self.signatures.fetch_add(1, Relaxed);
    }

    pub(crate) fn session_opened(&self, live: usize) {
        self.handshakes.fetch_add(1, Relaxed);
        self.sessions.store(live as u64, Relaxed);
    }

    pub(crate) fn session_checked(&self, ok: bool, live: usize) {
        if ok {
            self.session_requests.fetch_add(1, Relaxed);
        } else {
            self.session_refusals.fetch_add(1, Relaxed);
        }
        self.sessions.store(live as u64, Relaxed);
    }

    /// A session proof checked against a payload hash started before the proof arrived.
    pub(crate) fn early_digest_used(&self) {
        self.early_digests.fetch_add(1, Relaxed);
    }

    pub(crate) fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Relaxed);
    }

    pub(crate) fn connection_delta(&self, up: bool) {
        if up {
            self.connections.fetch_add(1, Relaxed);
        } else {
            self.connections.fetch_sub(1, Relaxed);
        }
    }

    pub(crate) fn snapshot(&self) -> MetricsSnapshot {
        let mut requests = Vec::new();
        let mut latency = Vec::new();
        for m in MethodLabel::ALL {
            for (c, cell) in self.requests[m.index()].iter().enumerate() {
                let n = cell.load(Relaxed);
                if n > 0 {
                    requests.push((m, Code::from_i32(c as i32), n));
                }
            }
            let h = &self.latency[m.index()];
            let buckets: Vec<u64> = h.buckets.iter().map(|b| b.load(Relaxed)).collect();
            if buckets.iter().any(|&n| n > 0) {
                latency.push(LatencySnapshot {
                    method: m,
                    buckets,
                    sum: Duration::from_nanos(h.sum_nanos.load(Relaxed)),
                });
            }
        }
        MetricsSnapshot {
            requests,
            latency,
            bytes_in: self.bytes_in.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
            in_flight: self.in_flight.load(Relaxed),
            connections: self.connections.load(Relaxed),
            connections_refused: self.connections_refused.load(Relaxed),
            signatures_verified: self.signatures.load(Relaxed),
            sessions_opened: self.handshakes.load(Relaxed),
            session_requests: self.session_requests.load(Relaxed),
            session_refusals: self.session_refusals.load(Relaxed),
            sessions: self.sessions.load(Relaxed),
            early_digests: self.early_digests.load(Relaxed),
        }
    }
}

/// Latency of one method: per-bucket (not cumulative) counts aligned with
/// [`LATENCY_BUCKETS`] plus a final `+Inf` bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencySnapshot {
    pub method: MethodLabel,
    pub buckets: Vec<u64>,
    pub sum: Duration,
}

impl LatencySnapshot {
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }
}

/// A consistent-enough copy of the axon's counters (each counter is read atomically; the set
/// is not a single atomic snapshot).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsSnapshot {
    /// Answered requests by method and gRPC status code; zero rows are omitted.
    pub requests: Vec<(MethodLabel, Code, u64)>,
    pub latency: Vec<LatencySnapshot>,
    /// Encoded size of the decoded request messages.
    pub bytes_in: u64,
    /// Encoded size of the response messages.
    pub bytes_out: u64,
    /// Requests being served: their message is in, their answer not yet sent.
    pub in_flight: u64,
    /// Open client connections.
    pub connections: u64,
    /// Connections closed as soon as they were accepted, their address having
    /// `max_connections_per_ip` open.
    pub connections_refused: u64,
    /// Ed25519 signatures checked (per-request signatures and session offers), valid or not.
    pub signatures_verified: u64,
    /// Sessions opened by a signed handshake.
    pub sessions_opened: u64,
    /// Requests authenticated by a session MAC.
    pub session_requests: u64,
    /// Session requests refused (unknown or expired session, bad MAC, replayed counter).
    pub session_refusals: u64,
    /// Sessions in the table (as of the last session event).
    pub sessions: u64,
    /// Session proofs sent as trailers whose payload hash the axon started before they
    /// arrived (`bt-session-late`).
    pub early_digests: u64,
}

impl MetricsSnapshot {
    /// Requests answered with `code` (any method).
    pub fn count(&self, code: Code) -> u64 {
        self.requests
            .iter()
            .filter(|(_, c, _)| *c == code)
            .map(|(_, _, n)| n)
            .sum()
    }

    /// All answered requests.
    pub fn total(&self) -> u64 {
        self.requests.iter().map(|(_, _, n)| n).sum()
    }

    /// Answered requests whose code was not `OK`.
    pub fn errors(&self) -> u64 {
        self.total() - self.count(Code::Ok)
    }

    /// The Prometheus text exposition format (version 0.0.4).
    pub fn to_prometheus(&self) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP bt_axon_requests_total Requests answered, by method and gRPC code.\n");
        out.push_str("# TYPE bt_axon_requests_total counter\n");
        for (m, c, n) in &self.requests {
            let _ = writeln!(
                out,
                "bt_axon_requests_total{{method=\"{}\",code=\"{}\"}} {n}",
                m.as_str(),
                code_name(*c)
            );
        }
        out.push_str(
            "# HELP bt_axon_request_duration_seconds Time from request headers to answer.\n",
        );
        out.push_str("# TYPE bt_axon_request_duration_seconds histogram\n");
        for l in &self.latency {
            let mut cumulative = 0;
            for (i, n) in l.buckets.iter().enumerate() {
                cumulative += n;
                let le = LATENCY_BUCKETS
                    .get(i)
                    .map_or_else(|| "+Inf".to_string(), |b| b.to_string());
                let _ = writeln!(
                    out,
                    "bt_axon_request_duration_seconds_bucket{{method=\"{}\",le=\"{le}\"}} {cumulative}",
                    l.method.as_str()
                );
            }
            let _ = writeln!(
                out,
                "bt_axon_request_duration_seconds_sum{{method=\"{}\"}} {}",
                l.method.as_str(),
                l.sum.as_secs_f64()
            );
            let _ = writeln!(
                out,
                "bt_axon_request_duration_seconds_count{{method=\"{}\"}} {cumulative}",
                l.method.as_str()
            );
        }
        let gauges = [
            (
                "bt_axon_received_bytes_total",
                "counter",
                "Encoded bytes of decoded requests.",
                self.bytes_in,
            ),
            (
                "bt_axon_sent_bytes_total",
                "counter",
                "Encoded bytes of responses.",
                self.bytes_out,
            ),
            (
                "bt_axon_in_flight",
                "gauge",
                "Requests being served (message in, answer not yet sent).",
                self.in_flight,
            ),
            (
                "bt_axon_connections",
                "gauge",
                "Open client connections.",
                self.connections,
            ),
            (
                "bt_axon_connections_refused_total",
                "counter",
                "Connections closed at accept: their address had max_connections_per_ip open.",
                self.connections_refused,
            ),
            (
                "bt_axon_signatures_verified_total",
                "counter",
                "Ed25519 signatures checked (requests and session offers).",
                self.signatures_verified,
            ),
            (
                "bt_axon_sessions_opened_total",
                "counter",
                "Sessions opened by a signed handshake.",
                self.sessions_opened,
            ),
            (
                "bt_axon_session_requests_total",
                "counter",
                "Requests authenticated by a session MAC.",
                self.session_requests,
            ),
            (
                "bt_axon_session_refusals_total",
                "counter",
                "Session requests refused (unknown session, bad MAC, replayed counter).",
                self.session_refusals,
            ),
            (
                "bt_axon_sessions",
                "gauge",
                "Sessions in the table.",
                self.sessions,
            ),
            (
                "bt_axon_session_early_digests_total",
                "counter",
                "Session proofs sent as trailers whose payload the axon hashed before they arrived.",
                self.early_digests,
            ),
        ];
        for (name, kind, help, v) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
            );
        }
        out
    }
}

/// The canonical upper-case gRPC code names used as label values.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_has_cumulative_buckets() {
        let m = Metrics::default();
        m.record(MethodLabel::Forward, Code::Ok, Duration::from_micros(50));
        m.record(MethodLabel::Forward, Code::Ok, Duration::from_millis(3));
        m.record(
            MethodLabel::Backward,
            Code::Unauthenticated,
            Duration::from_secs(100),
        );
        m.add_bytes_in(10);
        let s = m.snapshot();
        assert_eq!(s.total(), 3);
        assert_eq!(s.errors(), 1);
        let text = s.to_prometheus();
        assert!(text.contains("bt_axon_requests_total{method=\"Forward\",code=\"OK\"} 2"));
        assert!(text.contains("method=\"Forward\",le=\"0.0001\"} 1\n"));
        assert!(text.contains("method=\"Forward\",le=\"0.005\"} 2\n"));
        assert!(text.contains("method=\"Backward\",le=\"10\"} 0\n"));
        assert!(text.contains("method=\"Backward\",le=\"+Inf\"} 1\n"));
        assert!(text.contains("bt_axon_received_bytes_total 10\n"));
    }
}
