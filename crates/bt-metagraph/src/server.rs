//! The `Metagraph.Gossip` server and the sink path shared with the gossip loop.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use bt_wire::{GossipBatch, Synapse, metagraph_server::Metagraph};
use prost::Message;
use tokio::sync::Semaphore;
use tonic::{Request, Response, Status};

use crate::config::MetagraphConfig;
use crate::error::MetagraphError;
use crate::sample::SplitMix64;
use crate::table::{MetagraphTable, SinkReport};
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
}

impl Shared {
    pub(crate) fn new(table: MetagraphTable, cfg: MetagraphConfig, seed: u64) -> Self {
        let verifier = CryptoVerifier {
            difficulty_bits: cfg.difficulty_bits,
        };
        let sinks = Semaphore::new(cfg.max_concurrent_sinks.max(1));
        Self {
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

    /// The whole table (as much as fits in one message), for `inspect`.
    fn full_batch(&self) -> GossipBatch {
        let all: Vec<Arc<Synapse>> = self.table().all_synapses();
        GossipBatch {
            version: 0.0,
            peers: Vec::new(),
            synapses: fit(
                all.iter().map(|s| (**s).clone()),
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

/// Triage under the lock, verify on the blocking pool, admit under the lock.
pub(crate) async fn sink_batch(
    shared: &Arc<Shared>,
    batch: GossipBatch,
    sender_is_first_peer: bool,
    from: &str,
) -> Result<SinkReport, MetagraphError> {
    let now = now_ms();
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

/// The tonic service.
pub(crate) struct GossipService {
    pub(crate) shared: Arc<Shared>,
}

#[tonic::async_trait]
impl Metagraph for GossipService {
    async fn gossip(&self, request: Request<GossipBatch>) -> Result<Response<GossipBatch>, Status> {
        let from = request
            .remote_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let batch = request.into_inner();
        // An empty batch is an inspection: answer with the table, change nothing.
        if batch.synapses.is_empty() && batch.peers.is_empty() {
            return Ok(Response::new(self.shared.full_batch()));
        }
        let Ok(_permit) = self.shared.sinks.try_acquire() else {
            return Err(Status::resource_exhausted(
                "metagraph busy verifying other batches",
            ));
        };
        // Answer from the table as it was before the push: what the pusher lacks.
        let answer = self.shared.answer_batch(&batch, now_ms());
        sink_batch(&self.shared, batch, true, &from)
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        Ok(Response::new(answer))
    }
}
