//! The dendrite's counters: calls by outcome, their latency, and per peer (by synapse key)
//! how many answered and how fast — the answer rate and latency as this neuron sees them.
//! Peers are kept in an LRU of `DendriteConfig::max_peer_stats` (default 256), so a network
//! of strangers cannot grow the table or the scrape.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use bt_interfaces::metrics::{Exposition, Kind, MetricSet};

use crate::lru::BoundedLru;
use crate::outcome::Outcome;

const OUTCOMES: [&str; 5] = ["ok", "timeout", "unavailable", "rejected", "bad_response"];

fn outcome_index(o: &Outcome) -> usize {
    match o {
        Outcome::Ok(_) => 0,
        Outcome::Timeout => 1,
        Outcome::Unavailable(_) => 2,
        Outcome::Rejected { .. } => 3,
        Outcome::BadResponse(_) => 4,
    }
}

#[derive(Default, Clone, Copy)]
struct PeerStats {
    calls: u64,
    answered: u64,
    answer_nanos: u64,
}

pub(crate) struct DendriteMetrics {
    calls: [AtomicU64; OUTCOMES.len()],
    duration_nanos: AtomicU64,
    peers: Mutex<BoundedLru<String, PeerStats>>,
}

impl DendriteMetrics {
    pub(crate) fn new(max_peers: usize) -> Self {
        Self {
            calls: Default::default(),
            duration_nanos: AtomicU64::new(0),
            peers: Mutex::new(BoundedLru::new(max_peers)),
        }
    }

    pub(crate) fn record(&self, synapse_key: &str, outcome: &Outcome, elapsed: Duration) {
        let i = outcome_index(outcome);
        if let Some(c) = self.calls.get(i) {
            c.fetch_add(1, Relaxed);
        }
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.duration_nanos.fetch_add(nanos, Relaxed);
        let mut peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        let s =
            peers.get_or_insert_with(&synapse_key.to_string(), Instant::now(), PeerStats::default);
        s.calls += 1;
        if i == 0 {
            s.answered += 1;
            s.answer_nanos = s.answer_nanos.saturating_add(nanos);
        }
    }

    #[cfg(test)]
    fn total(&self) -> u64 {
        self.calls.iter().map(|c| c.load(Relaxed)).sum()
    }
}

impl MetricSet for DendriteMetrics {
    fn write(&self, out: &mut Exposition) {
        let name = "bt_dendrite_calls_total";
        out.family(name, Kind::Counter, "Calls to peers' synapses, by outcome.");
        for (o, c) in OUTCOMES.iter().zip(&self.calls) {
            out.sample(name, &[("outcome", o)], c.load(Relaxed) as f64);
        }
        out.single(
            "bt_dendrite_call_duration_seconds_total",
            Kind::Counter,
            "Time spent in calls (all outcomes); divide by the calls for the mean.",
            self.duration_nanos.load(Relaxed) as f64 / 1e9,
        );
        let rows: Vec<(String, PeerStats)> = {
            let peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
            peers.iter().map(|(k, v)| (k.clone(), *v)).collect()
        };
        let name = "bt_dendrite_peer_calls_total";
        out.family(
            name,
            Kind::Counter,
            "Calls to one peer synapse (an LRU of peers).",
        );
        for (k, s) in &rows {
            out.sample(name, &[("peer", k)], s.calls as f64);
        }
        let name = "bt_dendrite_peer_answers_total";
        out.family(
            name,
            Kind::Counter,
            "Calls a peer synapse answered with a valid tensor.",
        );
        for (k, s) in &rows {
            out.sample(name, &[("peer", k)], s.answered as f64);
        }
        let name = "bt_dendrite_peer_answer_seconds_total";
        out.family(
            name,
            Kind::Counter,
            "Time to the valid answers of one peer synapse.",
        );
        for (k, s) in &rows {
            out.sample(name, &[("peer", k)], s.answer_nanos as f64 / 1e9);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_outcomes_and_keeps_a_bounded_peer_table() {
        let m = DendriteMetrics::new(2);
        m.record("0xa", &Outcome::Timeout, Duration::from_millis(5));
        m.record("0xb", &Outcome::Timeout, Duration::from_millis(5));
        m.record("0xc", &Outcome::Timeout, Duration::from_millis(5));
        let mut out = Exposition::new();
        m.write(&mut out);
        let text = out.into_text();
        assert!(text.contains("bt_dendrite_calls_total{outcome=\"timeout\"} 3\n"));
        assert!(
            !text.contains("peer=\"0xa\""),
            "the oldest peer left the LRU"
        );
        assert!(text.contains("bt_dendrite_peer_calls_total{peer=\"0xc\"} 1\n"));
        assert_eq!(m.total(), 3);
    }
}
