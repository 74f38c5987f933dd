//! The `Metagraph.Gossip` server and the sink path shared with the gossip loop.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use bt_wire::{GossipBatch, Synapse};
use prost::Message;
use tokio::sync::Semaphore;
use tonic::Status;

use crate::codec::{BatchLimits, BoundedBatch};
use crate::config::MetagraphConfig;
use crate::error::MetagraphError;
use crate::sample::SplitMix64;
use crate::table::{MetagraphTable, SinkReport};
use crate::throttle::InspectThrottle;
use crate::validate::PeerAddr;
use crate::verify::CryptoVerifier;

/// Milliseconds since the Unix epoch (the only clock read; the table gets it as an argument).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// State shared by the server, the gossip loop and the handle.
pub(crate) struct Shared {
    pub(crate) table: Mutex<MetagraphTable>,
    pub(crate) cfg: MetagraphConfig,
    pub(crate) verifier: CryptoVerifier,
    /// Bounds concurrent verification work from incoming calls.
    pub(crate) sinks: Semaphore,
    seeds: AtomicU64,
    /// Gossip rounds completed (successful or not), for tests and metrics.
    pub(crate) rounds: AtomicU64,
    /// Who inspected us lately (empty batches), to throttle scraping.
    inspections: Mutex<InspectThrottle>,
}

impl Shared {
    pub(crate) fn new(table: MetagraphTable, cfg: MetagraphConfig, seed: u64) -> Self {
        let verifier = CryptoVerifier {
            difficulty_bits: cfg.difficulty_bits,
        };
        let sinks = Semaphore::new(cfg.max_concurrent_sinks.max(1));
        let inspections = Mutex::new(InspectThrottle::new(
            cfg.inspect_interval,
            cfg.max_inspect_clients,
        ));
        Self {
            inspections,
            table: Mutex::new(table),
            cfg,
            verifier,
            sinks,
            seeds: AtomicU64::new(seed),
            rounds: AtomicU64::new(0),
        }
    }

    /// The table lock. Never held across an `.await`; a poisoned lock still holds a consistent
    /// table (every mutation completes before it can panic), so we keep going.
    pub(crate) fn table(&self) -> MutexGuard<'_, MetagraphTable> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh sampling seed.
    pub(crate) fn next_seed(&self) -> u64 {
        SplitMix64::new(self.seeds.fetch_add(1, Ordering::Relaxed)).next_u64()
    }

    /// What we answer or push: our own definitions, a sample of the rest, our advertised peers.
    pub(crate) fn gossip_batch(&self, now: u64) -> GossipBatch {
        let seed = self.next_seed();
        let t = self.table();
        let n = t.sample_size(self.cfg.sample_synapses);
        let synapses = t.gossip_sample(n, now, seed);
        GossipBatch {
            version: 0.0,
            peers: t.advertised_peers(self.cfg.sample_peers, now, seed),
            synapses: fit(
                synapses.iter().map(|s| (**s).clone()),
                self.cfg.max_message_bytes,
            ),
        }
    }

    /// The answer to a push: see [`MetagraphTable::answer_sample`].
    pub(crate) fn answer_batch(&self, request: &GossipBatch, now: u64) -> GossipBatch {
        let seed = self.next_seed();
        let t = self.table();
        let limit = self.cfg.table.max_batch_synapses;
        let sent: Vec<&Synapse> = request.synapses.iter().take(limit).collect();
        let n = t.sample_size(self.cfg.sample_synapses);
        let synapses = t.answer_sample(&sent, n, seed);
        GossipBatch {
            version: 0.0,
            peers: t.advertised_peers(self.cfg.sample_peers, now, seed),
            synapses: fit(
                synapses.iter().map(|s| (**s).clone()),
                self.cfg.max_message_bytes,
            ),
        }
    }

    /// What a batch may hold before it is decoded (see [`crate::codec`]).
    pub(crate) fn batch_limits(&self) -> BatchLimits {
        BatchLimits {
            max_synapses: self.cfg.table.max_batch_synapses,
            max_peers: self.cfg.table.max_batch_peers,
        }
    }

    /// The answer to an inspection (an empty batch): our own definitions and a random window
    /// of at most `inspect_sample` in all, our address and the peers that answered our calls.
    /// Not the whole table: a free, unthrottled copy of it is a scraping amplifier.
    fn inspect_batch(&self) -> GossipBatch {
        let seed = self.next_seed();
        let t = self.table();
        let synapses = t.answer_sample(&[], self.cfg.inspect_sample, seed);
        let mut peers: Vec<String> = t.own_address().iter().map(|a| a.to_string()).collect();
        peers.extend(
            t.proven_peers(self.cfg.sample_peers)
                .iter()
                .map(ToString::to_string),
        );
        GossipBatch {
            version: 0.0,
            peers,
            synapses: fit(
                synapses.iter().map(|s| (**s).clone()),
                self.cfg.max_message_bytes,
            ),
        }
    }
}

/// Takes definitions while the encoded batch stays under 90% of `max_bytes`.
fn fit(items: impl Iterator<Item = Synapse>, max_bytes: usize) -> Vec<Synapse> {
    let budget = max_bytes / 10 * 9;
    let mut used = 0usize;
    let mut out = Vec::new();
    for s in items {
        let len = s.encoded_len();
        used += 1 + prost::length_delimiter_len(len) + len;
        if used > budget {
            break;
        }
        out.push(s);
    }
    out
}

/// True when the batch's first peer (by convention the sender's own address) names the IP the
/// connection came from: only then is it the sender's claim about itself. Any other address
/// is second hand until a call of ours to it succeeds.
fn claims_own_source(batch: &GossipBatch, source: Option<SocketAddr>) -> bool {
    let canonical = |ip: IpAddr| ip.to_canonical();
    let Some(source) = source.map(|s| canonical(s.ip())) else {
        return false;
    };
    batch
        .peers
        .first()
        .and_then(|p| PeerAddr::parse(p).ok())
        .and_then(|p| p.ip())
        .is_some_and(|ip| canonical(ip) == source)
}

/// Triage under the lock, verify on the blocking pool, admit under the lock. `source` is the
/// address of the connection a pushed batch came from (`None` for answers to our calls).
pub(crate) async fn sink_batch(
    shared: &Arc<Shared>,
    bounded: BoundedBatch,
    source: Option<SocketAddr>,
    from: &str,
) -> Result<SinkReport, MetagraphError> {
    let now = now_ms();
    let BoundedBatch { batch, skipped } = bounded;
    let sender_is_first_peer = claims_own_source(&batch, source);
    let triage = shared.table().triage(&batch, now);
    drop(batch);
    let candidates = triage.candidates;
    let (verified, mut rejected) = if candidates.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        let limits = shared.cfg.table.time_limits();
        let verifier = shared.verifier;
        tokio::task::spawn_blocking(move || {
            MetagraphTable::verify_candidates(candidates, now, limits, &verifier)
        })
        .await
        .map_err(|_| MetagraphError::Shutdown)?
    };
    rejected.extend(triage.rejected);
    let mut report = shared.table().admit(
        verified,
        &triage.peers,
        sender_is_first_peer,
        &rejected,
        now,
    );
    report.unchanged += triage.unchanged;
    shared.table().count_skipped(&skipped);
    for (r, n) in skipped {
        *report.rejected.entry(r).or_default() += n;
    }
    if report.rejected_total() > 0 {
        tracing::warn!(from, rejected = ?report.rejected, "refused gossip entries");
    }
    tracing::debug!(
        from,
        added = report.added,
        refreshed = report.refreshed,
        "sink"
    );
    Ok(report)
}

/// Handles one `Metagraph.Gossip` call, decoded by the bounded codec.
pub(crate) async fn gossip(
    shared: &Arc<Shared>,
    source: Option<SocketAddr>,
    bounded: BoundedBatch,
) -> Result<GossipBatch, Status> {
    let from = source.map(|a| a.to_string()).unwrap_or_default();
    let batch = &bounded.batch;
    // An empty batch is an inspection: a bounded sample, throttled per source address,
    // changes nothing.
    if batch.synapses.is_empty() && batch.peers.is_empty() && bounded.skipped.is_empty() {
        let allowed = shared
            .inspections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .allow(source.map(|a| a.ip()), now_ms());
        if !allowed {
            return Err(Status::resource_exhausted(
                "metagraph inspection throttled: too many from this address",
            ));
        }
        return Ok(shared.inspect_batch());
    }
    let Ok(_permit) = shared.sinks.try_acquire() else {
        return Err(Status::resource_exhausted(
            "metagraph busy verifying other batches",
        ));
    };
    // Answer from the table as it was before the push: what the pusher lacks.
    let answer = shared.answer_batch(batch, now_ms());
    sink_batch(shared, bounded, source, &from)
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    Ok(answer)
}
