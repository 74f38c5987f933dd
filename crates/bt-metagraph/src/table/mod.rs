//! The metagraph table: verified synapse definitions and metagraph peers. Pure: no I/O, no
//! clock, no randomness of its own; time and seeds are arguments.
//!
//! Invariants (checked by the property tests):
//! - at most `capacity` definitions and `max_peers` peers, whatever arrives;
//! - only [`VerifiedSynapse`]s enter; rejected input is counted, never stored;
//! - per synapse key, the newest heartbeat wins; sinking the same batch twice changes nothing;
//! - only definitions whose `synapse_proof` shows the synapse key bound itself to their
//!   `neuron_key` enter (checked by the verifier); a held synapse key is only replaced by a
//!   definition from the same `neuron_key`;
//! - one `neuron_key` holds at most `max_synapses_per_neuron` definitions;
//! - when full, a newcomer only takes the place of an expired foreign definition (heartbeat
//!   older than the TTL); a live verified one is never evicted for it, the newcomer is
//!   refused (`TableFull`). Only our own definitions may evict a live foreign one.

use std::collections::{BTreeMap, BTreeSet};

use std::sync::Arc;

use bt_wire::{GossipBatch, Synapse};

use crate::error::MetagraphError;
use bt_interfaces::SynapseInfo;

use crate::validate::{PeerAddr, Rejection, TimeLimits, check_key, decode_heartbeat};
use crate::verify::{SynapseVerifier, VerifiedSynapse};

mod peers;
mod sampling;

use peers::Evidence;

/// A gossip sample is at least 1/`SAMPLE_DIVISOR` of the table (see
/// [`MetagraphTable::sample_size`]).
pub const SAMPLE_DIVISOR: usize = 2;

/// At most 1/`HOT_DIVISOR` of an answer is "hot" (the newest arrivals, see
/// [`MetagraphTable::answer_sample`]); the rest reconciles the pusher's window.
pub const HOT_DIVISOR: usize = 2;

/// Sizes and times that bound the table (times in milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableConfig {
    /// `metagraph_size`: most definitions kept.
    pub capacity: usize,
    /// Most metagraph peers kept.
    pub max_peers: usize,
    /// Definitions beyond this many in one batch are dropped (and counted).
    pub max_batch_synapses: usize,
    /// Peer strings beyond this many in one batch are dropped (and counted).
    pub max_batch_peers: usize,
    /// How far ahead of our clock a heartbeat may be (the clock skew tolerated between honest
    /// nodes); later ones are refused as `FromTheFuture`. Default 5 000 ms
    /// (`--metagraph_max_future_skew_ms`).
    pub max_future_skew_ms: u64,
    /// Definitions (and peers not heard from directly) older than this are dropped.
    pub ttl_ms: u64,
    /// Consecutive failed calls after which a peer is dropped.
    pub max_peer_failures: u32,
    /// Most definitions one `neuron_key` may hold in the table; more are refused
    /// (`TooManyPerNeuron`). Default 4 (a neuron serves one synapse today;
    /// `--metagraph_max_synapses_per_neuron`).
    pub max_synapses_per_neuron: usize,
}

impl Default for TableConfig {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            max_peers: 1_024,
            max_batch_synapses: 1_024,
            max_batch_peers: 64,
            max_future_skew_ms: 5_000,
            ttl_ms: 300_000,
            max_peer_failures: 3,
            max_synapses_per_neuron: 4,
        }
    }
}

impl TableConfig {
    /// The time limits the structural check applies.
    pub fn time_limits(&self) -> TimeLimits {
        TimeLimits {
            max_future_skew_ms: self.max_future_skew_ms,
            ttl_ms: self.ttl_ms,
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    synapse: Arc<Synapse>,
    heartbeat_ms: u64,
    weight: f32,
    own: bool,
    /// When this key first arrived (a table-local counter): the newest are "hot" and are
    /// forwarded first, so news spreads like a rumour instead of waiting for a window sweep.
    seq: u64,
}

#[derive(Debug, Clone)]
struct Peer {
    /// When we last had proof it is up: a successful call of ours to it (the challenge). A
    /// proven peer is never evicted for a newcomer.
    last_direct_ms: Option<u64>,
    /// When it last advertised itself as the first peer of a push whose connection came from
    /// the advertised IP. Keeps it alive, but proves less than a call: it may be evicted.
    last_claim_ms: Option<u64>,
    /// When we first heard of it (second hand).
    first_seen_ms: u64,
    failures: u32,
}

impl Peer {
    fn evidence_ms(&self) -> u64 {
        self.first_seen_ms
            .max(self.last_direct_ms.unwrap_or(0))
            .max(self.last_claim_ms.unwrap_or(0))
    }
}

/// What one batch did to the table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkReport {
    /// New synapse keys stored.
    pub added: usize,
    /// Known keys replaced by a newer heartbeat.
    pub refreshed: usize,
    /// Valid definitions no newer than what we hold (the common case in gossip).
    pub unchanged: usize,
    /// Stale entries evicted to make room.
    pub evicted: usize,
    /// New peers stored.
    pub peers_added: usize,
    /// Every refusal, by reason.
    pub rejected: BTreeMap<Rejection, u64>,
}

impl SinkReport {
    /// Total refusals in this batch.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }
}

/// The first, cheap pass over a batch: which definitions deserve verification.
#[derive(Debug, Default)]
pub struct Triage {
    /// Newer than what we hold (or unknown), deduplicated by key; not yet verified.
    pub candidates: Vec<Synapse>,
    /// Parsed peer strings (at most `max_batch_peers`); the first is the sender's own address
    /// when it follows our convention.
    pub peers: Vec<PeerAddr>,
    /// Definitions we already hold at this heartbeat or newer.
    pub unchanged: usize,
    /// Refusals found without cryptography.
    pub rejected: Vec<Rejection>,
}

/// Removals done by [`MetagraphTable::clean`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanReport {
    pub synapses: usize,
    pub peers: usize,
}

/// The bounded, pure metagraph table.
#[derive(Debug, Clone)]
pub struct MetagraphTable {
    cfg: TableConfig,
    entries: BTreeMap<Arc<str>, Entry>,
    /// (heartbeat, key) for every entry: the stalest is first.
    by_age: BTreeSet<(u64, Arc<str>)>,
    /// Arrival order of every key (see `Entry::seq`).
    by_seq: BTreeMap<u64, Arc<str>>,
    /// Definitions held per `neuron_key` (at most `capacity` keys, like `entries`).
    per_neuron: BTreeMap<Arc<str>, usize>,
    next_seq: u64,
    /// Where our next push window starts (see `sampling`): pushes sweep key space in order.
    cursor: Option<Arc<str>>,
    peers: BTreeMap<PeerAddr, Peer>,
    own_address: Option<PeerAddr>,
    /// Peers recently dropped, with the time until which second-hand news of them is ignored.
    tombstones: BTreeMap<PeerAddr, u64>,
    rejected: BTreeMap<Rejection, u64>,
}

impl MetagraphTable {
    /// An empty table.
    pub fn new(cfg: TableConfig) -> Self {
        Self {
            cfg,
            entries: BTreeMap::new(),
            by_age: BTreeSet::new(),
            by_seq: BTreeMap::new(),
            per_neuron: BTreeMap::new(),
            next_seq: 0,
            cursor: None,
            peers: BTreeMap::new(),
            own_address: None,
            tombstones: BTreeMap::new(),
            rejected: BTreeMap::new(),
        }
    }

    /// The limits this table enforces.
    pub fn config(&self) -> &TableConfig {
        &self.cfg
    }

    /// Our own advertised metagraph address: never stored as a peer, always gossiped first.
    pub fn set_own_address(&mut self, addr: PeerAddr) {
        self.peers.remove(&addr);
        self.own_address = Some(addr);
    }

    /// Our own advertised metagraph address, if set.
    pub fn own_address(&self) -> Option<&PeerAddr> {
        self.own_address.as_ref()
    }

    /// Number of definitions held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no definition is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of metagraph peers known.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// True when `synapse_key` is held.
    pub fn contains(&self, synapse_key: &str) -> bool {
        self.entries.contains_key(synapse_key)
    }

    /// The newest heartbeat among our own definitions, if we have any.
    pub fn own_heartbeat(&self) -> Option<u64> {
        self.entries
            .values()
            .filter(|e| e.own)
            .map(|e| e.heartbeat_ms)
            .max()
    }

    /// Heartbeat held for `synapse_key`.
    pub fn heartbeat_of(&self, synapse_key: &str) -> Option<u64> {
        self.entries.get(synapse_key).map(|e| e.heartbeat_ms)
    }

    /// Refusals since the table was made, by reason.
    pub fn rejections(&self) -> &BTreeMap<Rejection, u64> {
        &self.rejected
    }

    /// Adds (or refreshes) one of our own synapses. Own entries are never evicted or cleaned
    /// and are always part of what we gossip; copies that come back are ignored, and one under
    /// another `neuron_key` is refused as an impersonation.
    pub fn subscribe(&mut self, syn: VerifiedSynapse) -> Result<(), MetagraphError> {
        let key: Arc<str> = Arc::from(syn.synapse().synapse_key.as_str());
        if let Some(old) = self.entries.get(&key) {
            if old.own && old.heartbeat_ms > syn.heartbeat_ms() {
                return Ok(());
            }
        } else if self.entries.len() >= self.cfg.capacity && !self.evict_stalest(u64::MAX) {
            return Err(MetagraphError::TableFullOfOwnSynapses {
                capacity: self.cfg.capacity,
            });
        }
        let weight = self.entries.get(&key).map_or(0.0, |e| e.weight);
        self.put(key, syn, weight, true);
        Ok(())
    }

    /// Removes one of our own synapses.
    pub fn unsubscribe(&mut self, synapse_key: &str) -> bool {
        match self.entries.get(synapse_key) {
            Some(e) if e.own => {
                let item = (e.heartbeat_ms, Arc::from(synapse_key));
                self.remove_aged(&item);
                true
            }
            _ => false,
        }
    }

    /// The cheap pass over an untrusted batch (no cryptography, no mutation).
    pub fn triage(&self, batch: &GossipBatch, now_ms: u64) -> Triage {
        let mut t = Triage::default();
        let limit = self.cfg.max_batch_synapses;
        let over = batch.synapses.len().saturating_sub(limit);
        t.rejected
            .extend(std::iter::repeat_n(Rejection::BatchTooLarge, over));
        let mut best: BTreeMap<&str, (u64, &Synapse)> = BTreeMap::new();
        for syn in batch.synapses.iter().take(limit) {
            if let Err(r) = check_key(&syn.synapse_key) {
                t.rejected.push(r);
                continue;
            }
            let hb = match decode_heartbeat(&syn.block_hash) {
                Ok(hb) => hb,
                Err(r) => {
                    t.rejected.push(r);
                    continue;
                }
            };
            match self.entries.get(syn.synapse_key.as_str()) {
                Some(e) if e.synapse.neuron_key != syn.neuron_key => {
                    t.rejected.push(Rejection::Impersonation);
                    continue;
                }
                // Our own definitions echoed back: we are their only source.
                Some(e) if e.own || e.heartbeat_ms >= hb => {
                    t.unchanged += 1;
                    continue;
                }
                _ => {}
            }
            match best.get(syn.synapse_key.as_str()) {
                Some((old, _)) if *old >= hb => t.unchanged += 1,
                _ => {
                    best.insert(&syn.synapse_key, (hb, syn));
                }
            }
        }
        t.candidates = best.into_values().map(|(_, s)| s.clone()).collect();
        let plimit = self.cfg.max_batch_peers;
        let over = batch.peers.len().saturating_sub(plimit);
        t.rejected
            .extend(std::iter::repeat_n(Rejection::BatchTooLarge, over));
        for p in batch.peers.iter().take(plimit) {
            match PeerAddr::parse(p) {
                Ok(addr) => t.peers.push(addr),
                Err(r) => t.rejected.push(r),
            }
        }
        let _ = now_ms;
        t
    }

    /// Verifies triaged candidates (the expensive pass; run it off the async executor).
    pub fn verify_candidates(
        candidates: Vec<Synapse>,
        now_ms: u64,
        limits: TimeLimits,
        verifier: &dyn SynapseVerifier,
    ) -> (Vec<VerifiedSynapse>, Vec<Rejection>) {
        let mut ok = Vec::with_capacity(candidates.len());
        let mut bad = Vec::new();
        for syn in candidates {
            match VerifiedSynapse::verify(syn, now_ms, limits, verifier) {
                Ok(v) => ok.push(v),
                Err(r) => bad.push(r),
            }
        }
        (ok, bad)
    }

    /// Stores verified definitions and peers. With `sender_is_first_peer`, the batch's first
    /// peer is the caller's own address *and* matched the connection's source address (the
    /// server checks): it is kept alive as a claim, but only a successful call of ours
    /// ([`Self::peer_succeeded`]) proves a peer.
    pub fn admit(
        &mut self,
        verified: Vec<VerifiedSynapse>,
        peers: &[PeerAddr],
        sender_is_first_peer: bool,
        rejected: &[Rejection],
        now_ms: u64,
    ) -> SinkReport {
        let mut report = SinkReport::default();
        for r in rejected {
            *report.rejected.entry(*r).or_default() += 1;
        }
        for v in verified {
            let key = v.synapse().synapse_key.as_str();
            match self.entries.get(key) {
                Some(e) if e.synapse.neuron_key != v.synapse().neuron_key => {
                    *report.rejected.entry(Rejection::Impersonation).or_default() += 1;
                }
                Some(e) if e.own || e.heartbeat_ms >= v.heartbeat_ms() => report.unchanged += 1,
                Some(e) => {
                    let (weight, key) = (e.weight, Arc::from(key));
                    self.put(key, v, weight, false);
                    report.refreshed += 1;
                }
                None => {
                    let held = self.per_neuron.get(v.synapse().neuron_key.as_str());
                    if held.copied().unwrap_or(0) >= self.cfg.max_synapses_per_neuron {
                        *report
                            .rejected
                            .entry(Rejection::TooManyPerNeuron)
                            .or_default() += 1;
                        continue;
                    }
                    if self.entries.len() >= self.cfg.capacity {
                        // Only a dead entry makes room: a live verified one outranks any
                        // newcomer, however fresh its heartbeat claims to be.
                        let expired_before = now_ms.saturating_sub(self.cfg.ttl_ms);
                        if !self.evict_stalest(expired_before) {
                            *report.rejected.entry(Rejection::TableFull).or_default() += 1;
                            continue;
                        }
                        report.evicted += 1;
                    }
                    let key = Arc::from(key);
                    self.put(key, v, 0.0, false);
                    report.added += 1;
                }
            }
        }
        for (i, p) in peers.iter().enumerate() {
            let evidence = if sender_is_first_peer && i == 0 {
                Evidence::Claimed
            } else {
                Evidence::Heard
            };
            report.peers_added += usize::from(self.peer_seen(p, now_ms, evidence));
        }
        for (r, n) in &report.rejected {
            *self.rejected.entry(*r).or_default() += n;
        }
        report
    }

    /// Counts entries a batch decoder skipped (see [`crate::codec`]) with the other refusals.
    pub fn count_skipped(&mut self, skipped: &BTreeMap<Rejection, u64>) {
        for (r, n) in skipped {
            *self.rejected.entry(*r).or_default() += n;
        }
    }

    /// Triage, verify and admit in one call (the seeds' `sink`). The sender's first peer
    /// string counts as its own address.
    pub fn sink(
        &mut self,
        batch: &GossipBatch,
        now_ms: u64,
        verifier: &dyn SynapseVerifier,
    ) -> SinkReport {
        let t = self.triage(batch, now_ms);
        let (ok, mut bad) =
            Self::verify_candidates(t.candidates, now_ms, self.cfg.time_limits(), verifier);
        bad.extend(t.rejected);
        let mut report = self.admit(ok, &t.peers, true, &bad, now_ms);
        report.unchanged += t.unchanged;
        report
    }

    /// Drops foreign definitions whose heartbeat is older than `ttl_ms`, and peers with no
    /// evidence of life for as long (the seeds' `clean(ttl)`).
    pub fn clean(&mut self, ttl_ms: u64, now_ms: u64) -> CleanReport {
        let cutoff = now_ms.saturating_sub(ttl_ms);
        let dead: Vec<(u64, Arc<str>)> = self
            .by_age
            .iter()
            .take_while(|(hb, _)| *hb < cutoff)
            .filter(|(_, k)| self.entries.get(k).is_some_and(|e| !e.own))
            .cloned()
            .collect();
        for item in &dead {
            self.remove_aged(item);
        }
        let expired: Vec<PeerAddr> = self
            .peers
            .iter()
            .filter(|(_, p)| p.evidence_ms() < cutoff)
            .map(|(a, _)| a.clone())
            .collect();
        for addr in &expired {
            self.peers.remove(addr);
            self.bury(addr.clone(), now_ms);
        }
        self.tombstones.retain(|_, until| *until > now_ms);
        let before = self.peers.len() + expired.len();
        CleanReport {
            synapses: dead.len(),
            peers: before - self.peers.len(),
        }
    }

    /// Every definition as held, ordered by synapse key.
    pub fn all_synapses(&self) -> Vec<Arc<Synapse>> {
        self.entries.values().map(|e| e.synapse.clone()).collect()
    }

    /// Every definition, ordered by synapse key.
    pub fn snapshot(&self) -> Vec<SynapseInfo> {
        self.entries
            .values()
            .map(|e| crate::info::synapse_info(&e.synapse, e.weight))
            .collect()
    }

    /// The seeds' `getweights`: one weight per key, 0 for unknown keys.
    pub fn weights(&self, synapse_keys: &[&str]) -> Vec<f32> {
        synapse_keys
            .iter()
            .map(|k| self.entries.get(*k).map_or(0.0, |e| e.weight))
            .collect()
    }

    /// The seeds' `setweights`. Weights must be finite; unknown keys are skipped. Returns how
    /// many were set.
    pub fn set_weights(
        &mut self,
        synapse_keys: &[&str],
        w: &[f32],
    ) -> Result<usize, MetagraphError> {
        if synapse_keys.len() != w.len() {
            return Err(MetagraphError::WeightsLength {
                keys: synapse_keys.len(),
                weights: w.len(),
            });
        }
        if let Some(i) = w.iter().position(|x| !x.is_finite()) {
            return Err(MetagraphError::NonFiniteWeight { index: i });
        }
        let mut set = 0;
        for (k, x) in synapse_keys.iter().zip(w) {
            if let Some(e) = self.entries.get_mut(*k) {
                e.weight = *x;
                set += 1;
            }
        }
        Ok(set)
    }

    fn put(&mut self, key: Arc<str>, v: VerifiedSynapse, weight: f32, own: bool) {
        // A refresh keeps its arrival order: only new keys are news (refreshes travel with the
        // range fills, after missing keys).
        let seq = match self.entries.get(&key) {
            Some(old) => {
                self.by_age.remove(&(old.heartbeat_ms, key.clone()));
                old.seq
            }
            None => {
                let seq = self.next_seq;
                self.next_seq += 1;
                self.by_seq.insert(seq, key.clone());
                *self
                    .per_neuron
                    .entry(Arc::from(v.synapse().neuron_key.as_str()))
                    .or_default() += 1;
                seq
            }
        };
        let heartbeat_ms = v.heartbeat_ms();
        self.by_age.insert((heartbeat_ms, key.clone()));
        let entry = Entry {
            synapse: v.synapse().clone(),
            heartbeat_ms,
            weight,
            own,
            seq,
        };
        self.entries.insert(key, entry);
    }

    /// Removes the entry `item` of `by_age` names, from every index.
    fn remove_aged(&mut self, item: &(u64, Arc<str>)) {
        if let Some(e) = self.entries.remove(&item.1) {
            self.by_seq.remove(&e.seq);
            let neuron = e.synapse.neuron_key.as_str();
            if let Some(n) = self.per_neuron.get_mut(neuron) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.per_neuron.remove(neuron);
                }
            }
        }
        self.by_age.remove(item);
    }

    /// Evicts the stalest foreign entry if its heartbeat is older than `older_than`.
    fn evict_stalest(&mut self, older_than: u64) -> bool {
        let victim = self
            .by_age
            .iter()
            .take_while(|(hb, _)| *hb < older_than)
            .find(|(_, k)| self.entries.get(k).is_some_and(|e| !e.own))
            .cloned();
        match victim {
            Some(item) => {
                self.remove_aged(&item);
                true
            }
            None => false,
        }
    }

    /// Exposes a held definition for the simulator without re-verifying it.
    pub(crate) fn verified_entries(&self, keys: &[Arc<Synapse>]) -> Vec<VerifiedSynapse> {
        keys.iter()
            .filter_map(|s| {
                self.entries
                    .get(s.synapse_key.as_str())
                    .map(|e| VerifiedSynapse::from_table(e.synapse.clone(), e.heartbeat_ms))
            })
            .collect()
    }
}
