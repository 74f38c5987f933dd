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

/// Parameters of one simulation run.
#[derive(Debug, Clone, Copy)]
pub struct SimConfig {
    pub nodes: usize,
    /// Definitions pushed (and answered) per gossip call.
    pub sample_synapses: usize,
    /// Peer addresses advertised per gossip call (besides the sender's own).
    pub sample_peers: usize,
    pub interval_ms: u64,
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

fn shuffled(n: usize, rng: &mut SplitMix64) -> Vec<usize> {
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
        for (i, t) in tables.iter_mut().enumerate() {
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
            let seed = rng.next_u64();
            let Some(target) = tables[i].peers(1, now, seed).pop() else {
                continue;
            };
            let Some(j) = peer_index(&target).filter(|j| *j < n && *j != i) else {
                continue;
            };
            let push = tables[i].gossip_sample(cfg.sample_synapses, now, seed);
            let push_peers = tables[i].advertised_peers(cfg.sample_peers, now, seed);
            let sent: Vec<&Synapse> = push.iter().map(|s| &**s).collect();
            let answer = tables[j].answer_sample(&sent, cfg.sample_synapses, seed ^ 1);
            let answer_peers = tables[j].advertised_peers(cfg.sample_peers, now, seed ^ 1);
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

/// A set of node indices with O(1) membership and O(1) uniform picks.
#[derive(Clone, Default)]
struct IndexSet {
    list: Vec<u32>,
    bits: Vec<u64>,
}

impl IndexSet {
    fn new(n: usize) -> Self {
        Self {
            list: Vec::new(),
            bits: vec![0; n.div_ceil(64)],
        }
    }
    fn insert(&mut self, i: u32) {
        let (w, b) = ((i / 64) as usize, i % 64);
        if self.bits[w] & (1 << b) == 0 {
            self.bits[w] |= 1 << b;
            self.list.push(i);
        }
    }
    fn has(&self, i: usize) -> bool {
        self.bits[i / 64] & (1 << (i % 64)) != 0
    }

    /// Up to `k` members with consecutive indices from `start`, wrapping (the table's
    /// key-order window; node indices stand in for the random keys).
    fn window_from(&self, start: usize, k: usize, n: usize) -> Vec<u32> {
        let mut out = Vec::with_capacity(k.min(self.list.len()));
        if k == 0 {
            return out;
        }
        for step in 0..n {
            let i = (start + step) % n;
            if self.bits[i / 64] & (1 << (i % 64)) != 0 {
                out.push(i as u32);
                if out.len() == k {
                    break;
                }
            }
        }
        out
    }

    /// Up to `k` distinct members, uniformly (rejection of repeats; k is small next to len).
    fn sample(&self, k: usize, rng: &mut SplitMix64) -> Vec<u32> {
        if k >= self.list.len() {
            return self.list.clone();
        }
        let mut picked = std::collections::HashSet::with_capacity(k);
        while picked.len() < k {
            picked.insert(self.list[rng.below(self.list.len())]);
        }
        picked.into_iter().collect()
    }
}

/// The peer-table bound of [`TableConfig::default`].
const MAX_PEERS: usize = 1_024;

/// Runs the bitset model of the same protocol (windows and range-precise answers; every node
/// re-announces, so only "who knows whom" matters). `synapse_bytes` is the encoded size of one definition.
pub fn simulate_compact(cfg: SimConfig, synapse_bytes: usize) -> SimResult {
    let n = cfg.nodes;
    let mut rng = SplitMix64::new(cfg.seed);
    let mut known: Vec<IndexSet> = (0..n)
        .map(|i| {
            let mut s = IndexSet::new(n);
            s.insert(i as u32);
            s
        })
        .collect();
    let mut peers: Vec<IndexSet> = vec![IndexSet::new(n); n];
    let mut direct: Vec<IndexSet> = vec![IndexSet::new(n); n];
    for (i, p) in peers.iter_mut().enumerate().skip(1) {
        p.insert(rng.below(i) as u32);
    }
    let peer_bytes = 1 + 1 + "10.0.0.0:8120".len();
    let syn_field = 1 + prost::length_delimiter_len(synapse_bytes) + synapse_bytes;
    let mut bytes = 0usize;
    for round in 1..=cfg.max_rounds {
        for i in shuffled(n, &mut rng) {
            if peers[i].list.is_empty() {
                continue;
            }
            let j = peers[i].list[rng.below(peers[i].list.len())] as usize;
            let k = cfg.sample_synapses.saturating_sub(1);
            let advert = |from: usize, rng: &mut SplitMix64| {
                let mut p = peers[from].sample(cfg.sample_peers, rng);
                p.push(from as u32);
                p
            };
            // Push: own + a window from a random start.
            let mut push_s = known[i].window_from(rng.below(n), k, n);
            // Answer: own + what the pusher lacks inside its window's range, then a window
            // continuing after that range (see `MetagraphTable::answer_sample`).
            let (first, last) = (push_s.first().copied(), push_s.last().copied());
            let mut ans_s = Vec::new();
            if let (Some(first), Some(last)) = (first, last) {
                let span = (last as usize + n - first as usize) % n + 1;
                for step in 0..span {
                    let x = (first as usize + step) % n;
                    if ans_s.len() < k && known[j].has(x) && !known[i].has(x) {
                        ans_s.push(x as u32);
                    }
                }
                let rest = k - ans_s.len();
                ans_s.extend(known[j].window_from((last as usize + 1) % n, rest, n));
            } else {
                ans_s = known[j].window_from(rng.below(n), k, n);
            }
            push_s.push(i as u32);
            ans_s.push(j as u32);
            let (push_p, ans_p) = (advert(i, &mut rng), advert(j, &mut rng));
            bytes += (push_s.len() + ans_s.len()) * syn_field
                + (push_p.len() + ans_p.len()) * peer_bytes;
            for s in push_s {
                known[j].insert(s)
            }
            for s in ans_s {
                known[i].insert(s)
            }
            for p in push_p.into_iter().filter(|p| *p as usize != j) {
                if peers[j].list.len() < MAX_PEERS {
                    peers[j].insert(p)
                }
            }
            for p in ans_p.into_iter().filter(|p| *p as usize != i) {
                if peers[i].list.len() < MAX_PEERS {
                    peers[i].insert(p)
                }
            }
            direct[j].insert(i as u32);
            direct[i].insert(j as u32);
        }
        if known.iter().all(|k| k.list.len() == n) {
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
            max_rounds: 60,
            seed: 3,
        };
        assert!(simulate_tables(cfg).rounds.is_some());
        assert!(simulate_compact(cfg, 250).rounds.is_some());
    }
}
