//! The bitset model of the gossip protocol, for N where real tables do not fit in memory.
//!
//! It models exactly what decides convergence: which keys each node holds. Keys are positions
//! `0..N` in key order (node `i` owns position `perm[i]`, a random permutation, as real keys
//! are random); a node's table is a bitset, so windows, range fills and merges are word
//! operations and N = 10,000 is cheap to simulate. Per call, as [`MetagraphTable`] does:
//! - sample size `k = clamp(held / SAMPLE_DIVISOR, sample_synapses, max_batch_synapses)`
//!   per side;
//! - push: own key, then `k - 1` held keys from the last held key at or before the sweep
//!   cursor;
//! - answer: own key, up to `k / HOT_DIVISOR` most recently learned keys the pusher did not send
//!   ("hot"), the keys the answerer holds and the pusher lacks inside the push's range, then
//!   a window continuing after the range; `k` in all;
//! - the pusher's cursor moves to the answer's last key (or its window's end);
//! - both sides advertise their own address plus 32 random known peers; peer lists are
//!   capped at `max_peers` (a random one is replaced when full); peers are chosen uniformly.
//!
//! Re-seals are modelled as versions: every `reseal_every` rounds each node's own definition
//! gets a new version, which replaces older ones wherever it arrives and counts as news (hot).
//! Not modelled: expiry (the runs end long before a TTL), failures, and the real table's
//! freshness-weighted peer choice. The benchmark runs both models at N = 100 and
//! 1,000 to show they agree.
//!
//! [`MetagraphTable`]: crate::MetagraphTable

use std::collections::VecDeque;

use super::{SimConfig, SimResult, shuffled};
use crate::sample::SplitMix64;
use crate::table::{HOT_DIVISOR, SAMPLE_DIVISOR, TableConfig};

/// A fixed-size bitset over key positions, with a population count.
#[derive(Clone)]
struct Bits {
    words: Vec<u64>,
    count: usize,
}

impl Bits {
    fn new(n: usize) -> Self {
        Self {
            words: vec![0; n.div_ceil(64)],
            count: 0,
        }
    }

    fn has(&self, i: usize) -> bool {
        self.words[i / 64] >> (i % 64) & 1 == 1
    }

    fn insert(&mut self, i: usize) -> bool {
        let fresh = !self.has(i);
        if fresh {
            self.words[i / 64] |= 1 << (i % 64);
            self.count += 1;
        }
        fresh
    }

    fn remove(&mut self, i: usize) {
        if self.has(i) {
            self.words[i / 64] &= !(1 << (i % 64));
            self.count -= 1;
        }
    }

    /// Set positions of `self & !other` (or of `self` alone) from `start` to `end` inclusive,
    /// without wrapping, passed to `f` in order until it returns false.
    fn scan(
        &self,
        other: Option<&Bits>,
        start: usize,
        end: usize,
        f: &mut dyn FnMut(usize) -> bool,
    ) -> bool {
        if start > end {
            return true;
        }
        for w in start / 64..=end / 64 {
            let mut word = self.words[w] & !other.map_or(0, |o| o.words[w]);
            if w == start / 64 {
                word &= u64::MAX << (start % 64);
            }
            if w == end / 64 && end % 64 < 63 {
                word &= (1u64 << (end % 64 + 1)) - 1;
            }
            while word != 0 {
                let bit = word.trailing_zeros() as usize;
                if !f(w * 64 + bit) {
                    return false;
                }
                word &= word - 1;
            }
        }
        true
    }

    /// Like [`Self::scan`] over the cyclic range `start..=end` (wrapping when `end < start`).
    fn scan_cyclic(
        &self,
        other: Option<&Bits>,
        start: usize,
        end: usize,
        n: usize,
        f: &mut dyn FnMut(usize) -> bool,
    ) {
        if start <= end {
            self.scan(other, start, end, f);
        } else if self.scan(other, start, n - 1, f) {
            self.scan(other, 0, end, f);
        }
    }

    /// The last set position at or before `at`, wrapping, skipping `skip`.
    fn at_or_before(&self, at: usize, skip: usize, n: usize) -> Option<usize> {
        (0..n)
            .map(|d| (at + n - d) % n)
            .find(|p| *p != skip && self.has(*p))
    }
}

/// How far back the model remembers arrival order (the real table remembers all of it; an
/// answer's hot part rarely looks further back than a few times its budget).
const RECENT: usize = 4_096;

/// Per-node state of the model.
struct Node {
    key: usize,
    known: Bits,
    /// Version (re-seal epoch) held per key, 0 when not held: a newer one replaces it and
    /// counts as an arrival, as a newer heartbeat does in the table.
    ver: Vec<u8>,
    peers: Vec<u32>,
    peer_set: Bits,
    cursor: Option<usize>,
    /// The most recently learned keys, oldest first (the table's arrival order), bounded.
    recent: VecDeque<usize>,
}

impl Node {
    fn sample_size(&self, base: usize, max: usize) -> usize {
        base.max(self.known.count / SAMPLE_DIVISOR).min(max)
    }

    fn learn(&mut self, key: usize, version: u8) {
        if self.ver[key] >= version {
            return;
        }
        let fresh = self.known.insert(key);
        self.ver[key] = version;
        if !fresh {
            return;
        }
        if self.recent.len() >= RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(key);
    }

    fn add_peer(&mut self, p: u32, max_peers: usize, rng: &mut SplitMix64) {
        if self.peer_set.has(p as usize) {
            return;
        }
        if self.peers.len() >= max_peers {
            let r = rng.below(self.peers.len());
            self.peer_set.remove(self.peers[r] as usize);
            self.peers.swap_remove(r);
        }
        self.peers.push(p);
        self.peer_set.insert(p as usize);
    }

    fn advertised(&self, me: usize, n: usize, rng: &mut SplitMix64) -> Vec<u32> {
        let mut out: Vec<u32> = if self.peers.len() <= n {
            self.peers.clone()
        } else {
            (0..n)
                .map(|_| self.peers[rng.below(self.peers.len())])
                .collect()
        };
        out.push(me as u32);
        out
    }
}

/// Runs the bitset model (see the module docs). `synapse_bytes` is the encoded size of one
/// definition.
pub fn simulate_compact(cfg: SimConfig, synapse_bytes: usize) -> SimResult {
    let n = cfg.nodes;
    let limits = TableConfig::default();
    let (max_k, max_peers) = (limits.max_batch_synapses, limits.max_peers);
    let mut rng = SplitMix64::new(cfg.seed);
    let perm = shuffled(n, &mut rng);
    let mut nodes: Vec<Node> = (0..n)
        .map(|i| {
            let mut known = Bits::new(n);
            known.insert(perm[i]);
            let mut ver = vec![0; n];
            ver[perm[i]] = 1;
            Node {
                key: perm[i],
                known,
                ver,
                peers: Vec::new(),
                peer_set: Bits::new(n),
                cursor: None,
                recent: VecDeque::new(),
            }
        })
        .collect();
    for (i, node) in nodes.iter_mut().enumerate().skip(1) {
        let p = rng.below(i) as u32;
        node.add_peer(p, max_peers, &mut rng);
    }
    let peer_bytes = 1 + 1 + "10.0.0.0:8120".len();
    let syn_field = 1 + prost::length_delimiter_len(synapse_bytes) + synapse_bytes;
    let mut chosen = Bits::new(n);
    let mut bytes = 0usize;
    for round in 1..=cfg.max_rounds {
        if round > 1 && (round - 1) % cfg.reseal_every.max(1) == 0 {
            let epoch = u8::try_from((round - 1) / cfg.reseal_every.max(1) + 1).unwrap_or(u8::MAX);
            for node in nodes.iter_mut() {
                let own = node.key;
                node.ver[own] = epoch;
            }
        }
        for i in shuffled(n, &mut rng) {
            if nodes[i].peers.is_empty() {
                continue;
            }
            let j = nodes[i].peers[rng.below(nodes[i].peers.len())] as usize;
            let (a, b) = (&nodes[i], &nodes[j]);
            let push = push_window(a, a.sample_size(cfg.sample_synapses, max_k), n, &mut rng);
            let answer = answer(
                a,
                b,
                &push,
                b.sample_size(cfg.sample_synapses, max_k),
                n,
                &mut chosen,
                &mut rng,
            );
            let (adv_a, adv_b) = (
                a.advertised(i, cfg.sample_peers, &mut rng),
                b.advertised(j, cfg.sample_peers, &mut rng),
            );
            bytes += (push.len() + answer.len() + 2) * syn_field
                + (adv_a.len() + adv_b.len()) * peer_bytes;
            if let Some(c) = answer.last().or(push.last()) {
                nodes[i].cursor = Some(*c);
            }
            let (own_i, own_j) = (nodes[i].key, nodes[j].key);
            let pushed: Vec<(usize, u8)> = push
                .into_iter()
                .chain([own_i])
                .map(|x| (x, nodes[i].ver[x]))
                .collect();
            let answered: Vec<(usize, u8)> = answer
                .into_iter()
                .chain([own_j])
                .map(|x| (x, nodes[j].ver[x]))
                .collect();
            for (x, v) in pushed {
                nodes[j].learn(x, v);
            }
            for (x, v) in answered {
                nodes[i].learn(x, v);
            }
            for p in adv_a.into_iter().filter(|p| *p as usize != j) {
                nodes[j].add_peer(p, max_peers, &mut rng);
            }
            for p in adv_b.into_iter().filter(|p| *p as usize != i) {
                nodes[i].add_peer(p, max_peers, &mut rng);
            }
        }
        if nodes.iter().all(|x| x.known.count == n) {
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

/// The foreign keys of a push: `k - 1` held keys in order from the cursor's predecessor.
fn push_window(a: &Node, k: usize, n: usize, rng: &mut SplitMix64) -> Vec<usize> {
    let start = match a.cursor {
        Some(c) => a.known.at_or_before(c, a.key, n).unwrap_or(c),
        None => rng.below(n),
    };
    let mut out = Vec::with_capacity(k);
    let want = k.saturating_sub(1);
    let own = a.key;
    a.known
        .scan_cyclic(None, start, (start + n - 1) % n, n, &mut |p| {
            if p != own {
                out.push(p);
            }
            out.len() < want
        });
    out
}

/// The foreign keys of `b`'s answer to `a`'s push, in wire order (hot, fill, continuation).
fn answer(
    a: &Node,
    b: &Node,
    push: &[usize],
    k: usize,
    n: usize,
    chosen: &mut Bits,
    rng: &mut SplitMix64,
) -> Vec<usize> {
    let want = k.saturating_sub(1);
    let (first, last) = match (push.first(), push.last()) {
        (Some(f), Some(l)) => (*f, *l),
        // An empty window proves nothing: a window of b's keys from a random point.
        _ => {
            let start = rng.below(n);
            let mut out = Vec::new();
            b.known
                .scan_cyclic(None, start, (start + n - 1) % n, n, &mut |p| {
                    if p != b.key && p != a.key {
                        out.push(p);
                    }
                    out.len() < want
                });
            return out;
        }
    };
    let in_range = |p: usize| {
        if first <= last {
            (first..=last).contains(&p)
        } else {
            p >= first || p <= last
        }
    };
    let sent = |p: usize| p == a.key || (in_range(p) && a.known.has(p));
    // Not sent, or sent with an older version.
    let lacks = |p: usize| !sent(p) || a.ver[p] < b.ver[p];
    let mut out: Vec<usize> = Vec::with_capacity(want);
    for &p in b.recent.iter().rev() {
        if out.len() >= (k / HOT_DIVISOR).min(want) {
            break;
        }
        if p != b.key && lacks(p) && chosen.insert(p) {
            out.push(p);
        }
    }
    // Missing keys first, then newer versions of held ones (news before refreshes).
    b.known
        .scan_cyclic(Some(&a.known), first, last, n, &mut |p| {
            if p != b.key && chosen.insert(p) {
                out.push(p);
            }
            out.len() < want
        });
    if out.len() < want {
        b.known.scan_cyclic(None, first, last, n, &mut |p| {
            if p != b.key && a.known.has(p) && a.ver[p] < b.ver[p] && chosen.insert(p) {
                out.push(p);
            }
            out.len() < want
        });
    }
    if out.len() < want {
        let start = (last + 1) % n;
        b.known
            .scan_cyclic(None, start, (start + n - 1) % n, n, &mut |p| {
                if p != b.key && !sent(p) && chosen.insert(p) {
                    out.push(p);
                }
                out.len() < want
            });
    }
    for &p in &out {
        chosen.remove(p);
    }
    out
}
