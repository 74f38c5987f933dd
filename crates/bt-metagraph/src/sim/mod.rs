//! Virtual-time gossip simulation: how many rounds until every node knows every synapse.
//!
//! No sockets, no clock. Each round, every node (in a seeded random order) pushes a gossip
//! sample to one peer drawn from its table and merges the answer — exactly what the gossip
//! loop does, with the wire replaced by a function call. Node `i` bootstraps to a uniformly
//! random earlier node (node 0 to nobody), so the start is a random tree, not a star.
//!
//! Two drivers:
//! - [`simulate_tables`] runs the real [`MetagraphTable`] per node. Definitions are made by
//!   the simulator itself, so they are admitted without work or signature checks (they are
//!   still structurally checked on subscribe); bytes are exact `prost` encoded lengths.
//! - [`simulate_compact`] runs the same protocol on bitsets (key windows and range-precise
//!   answers, same sizes; node indices stand in for keys, uniformly random peer choice),
//!   for N where N² real entries would not fit in memory (N = 10,000 is 10⁸ entries). The
//!   two are compared at small N by the benchmark.

use std::sync::Arc;

use bt_wire::Synapse;
use bytes::Bytes;
use prost::Message;

use crate::sample::SplitMix64;
use crate::table::{MetagraphTable, TableConfig};
use crate::validate::{PeerAddr, encode_heartbeat};
use crate::verify::{PreVerified, VerifiedSynapse};

mod compact;
pub use compact::simulate_compact;

/// Parameters of one simulation run.
#[derive(Debug, Clone, Copy)]
pub struct SimConfig {
    pub nodes: usize,
    /// Definitions pushed (and answered) per gossip call.
    pub sample_synapses: usize,
    /// Peer addresses advertised per gossip call (besides the sender's own).
    pub sample_peers: usize,
    pub interval_ms: u64,
    /// Rounds between re-seals of a node's own definition (the node's
    /// `heartbeats_per_ttl`: TTL / 6 = 5 rounds by default).
    pub reseal_every: usize,
    pub max_rounds: usize,
    pub seed: u64,
}

/// Outcome of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimResult {
    /// Rounds until every node held every synapse, if reached within `max_rounds`.
    pub rounds: Option<usize>,
    /// Mean bytes one node sent per round (its request plus its answers), over the run.
    pub bytes_per_node_round: f64,
}

/// The wire size of a batch, computed without building it (equals
/// `GossipBatch { synapses, peers, .. }.encoded_len()`).
pub fn batch_encoded_len(synapses: &[Arc<Synapse>], peers: &[String]) -> usize {
    let field = |len: usize| 1 + prost::length_delimiter_len(len) + len;
    synapses
        .iter()
        .map(|s| field(s.encoded_len()))
        .sum::<usize>()
        + peers.iter().map(|p| field(p.len())).sum::<usize>()
}

/// A structurally valid definition for simulated node `i` (keys derived from `i`).
pub fn sim_synapse(i: usize, heartbeat_ms: u64) -> Synapse {
    // Keys must look like real public keys (uniform hex): the gossip window walks key order.
    let key = |tag: u64| {
        let mut rng = SplitMix64::new((i as u64) << 8 | tag);
        let words: Vec<String> = (0..4).map(|_| format!("{:016x}", rng.next_u64())).collect();
        format!("0x{}", words.concat())
    };
    Synapse {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        neuron_key: key(0xaa),
        synapse_key: key(0x55),
        address: sim_host(i),
        port: "8091".to_owned(),
        block_hash: encode_heartbeat(heartbeat_ms),
        nounce: 0,
        proof_of_work: Bytes::from_static(&[0; 32]),
        signature: Bytes::from_static(&[0; 64]),
        synapse_proof: Bytes::from_static(&[0; 64]),
    }
}

fn sim_host(i: usize) -> String {
    format!("10.{}.{}.{}", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff)
}

fn sim_peer(i: usize) -> PeerAddr {
    PeerAddr::parse(&format!("{}:8120", sim_host(i)))
        .unwrap_or_else(|_| PeerAddr::from(std::net::SocketAddr::from(([127, 0, 0, 1], 1))))
}

fn peer_index(p: &PeerAddr) -> Option<usize> {
    let host = p.as_str().strip_suffix(":8120")?;
    let mut parts = host
        .strip_prefix("10.")?
        .split('.')
        .map(|x| x.parse::<usize>().ok());
    let (a, b, c) = (parts.next()??, parts.next()??, parts.next()??);
    Some((a << 16) | (b << 8) | c)
}

pub(crate) fn shuffled(n: usize, rng: &mut SplitMix64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, rng.below(i + 1));
    }
    order
}

/// Runs the real tables. Memory grows as N² entries: keep N ≤ a few thousand.
pub fn simulate_tables(cfg: SimConfig) -> SimResult {
    let n = cfg.nodes;
    let table_cfg = TableConfig {
        capacity: n.max(1),
        max_peers: n.max(1),
        ttl_ms: cfg.interval_ms.saturating_mul(cfg.max_rounds as u64 + 10),
        ..TableConfig::default()
    };
    let mut rng = SplitMix64::new(cfg.seed);
    let mut tables: Vec<MetagraphTable> = (0..n)
        .map(|i| {
            let mut t = MetagraphTable::new(table_cfg);
            t.set_own_address(sim_peer(i));
            if i > 0 {
                t.add_peer(sim_peer(rng.below(i)), 0);
            }
            t
        })
        .collect();
    let mut bytes = 0usize;
    for round in 1..=cfg.max_rounds {
        let now = round as u64 * cfg.interval_ms;
        let reseal = (round - 1) % cfg.reseal_every.max(1) == 0;
        for (i, t) in tables.iter_mut().enumerate().filter(|_| reseal) {
            if let Ok(v) = VerifiedSynapse::verify(
                sim_synapse(i, now),
                now,
                table_cfg.time_limits(),
                &PreVerified,
            ) {
                let _ = t.subscribe(v);
            }
        }
        for i in shuffled(n, &mut rng) {
            // Independent draws, as in the node (peer choice and samples use separate seeds).
            let seed = rng.next_u64();
            let Some(target) = tables[i].gossip_target(rng.next_u64()) else {
                continue;
            };
            let Some(j) = peer_index(&target).filter(|j| *j < n && *j != i) else {
                continue;
            };
            let push =
                tables[i].gossip_sample(tables[i].sample_size(cfg.sample_synapses), now, seed);
            let push_peers = tables[i].advertised_peers(cfg.sample_peers, now, rng.next_u64());
            let sent: Vec<&Synapse> = push.iter().map(|s| &**s).collect();
            let answer_n = tables[j].sample_size(cfg.sample_synapses);
            let answer = tables[j].answer_sample(&sent, answer_n, seed ^ 1);
            let got: Vec<&Synapse> = answer.iter().map(|s| &**s).collect();
            tables[i].advance_cursor(&sent, &got);
            let answer_peers = tables[j].advertised_peers(cfg.sample_peers, now, rng.next_u64());
            bytes +=
                batch_encoded_len(&push, &push_peers) + batch_encoded_len(&answer, &answer_peers);
            let push_v = tables[i].verified_entries(&push);
            let answer_v = tables[j].verified_entries(&answer);
            let parse = |v: &[String]| {
                v.iter()
                    .filter_map(|p| PeerAddr::parse(p).ok())
                    .collect::<Vec<_>>()
            };
            tables[j].admit(push_v, &parse(&push_peers), true, &[], now);
            tables[i].admit(answer_v, &parse(&answer_peers), false, &[], now);
            tables[i].peer_succeeded(&target, now);
        }
        if tables.iter().all(|t| t.len() == n) {
            return SimResult {
                rounds: Some(round),
                bytes_per_node_round: bytes as f64 / (n * round) as f64,
            };
        }
    }
    SimResult {
        rounds: None,
        bytes_per_node_round: bytes as f64 / (n * cfg.max_rounds).max(1) as f64,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use bt_wire::GossipBatch;

    #[test]
    fn encoded_len_matches_prost() {
        let syns: Vec<Arc<Synapse>> = (0..3).map(|i| Arc::new(sim_synapse(i, 123))).collect();
        let peers = vec!["10.0.0.1:8120".to_owned(), "[::1]:9".to_owned()];
        let batch = GossipBatch {
            version: 0.0,
            peers: peers.clone(),
            synapses: syns.iter().map(|s| (**s).clone()).collect(),
        };
        assert_eq!(batch_encoded_len(&syns, &peers), batch.encoded_len());
        assert_eq!(peer_index(&sim_peer(70_000)), Some(70_000));
    }

    #[test]
    fn small_networks_converge_in_both_models() {
        let cfg = SimConfig {
            nodes: 32,
            sample_synapses: 16,
            sample_peers: 8,
            interval_ms: 10_000,
            reseal_every: 5,
            max_rounds: 60,
            seed: 3,
        };
        assert!(simulate_tables(cfg).rounds.is_some());
        assert!(simulate_compact(cfg, 250).rounds.is_some());
    }
}
