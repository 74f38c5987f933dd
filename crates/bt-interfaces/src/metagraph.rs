//! Who the peers are: [`MetagraphSource`], implemented by the gossip metagraph (`bt-metagraph`)
//! and by a subnet's view of a chain, so the neuron runtime is the same on either.

use std::future::Future;

use serde::Serialize;

/// One served synapse as a source shows it (field names follow the Release 1 schema).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SynapseInfo {
    pub synapse_key: String,
    pub neuron_key: String,
    pub address: String,
    pub port: u16,
    pub version: String,
    /// Announce time, milliseconds since the Unix epoch (gossip's heartbeat); 0 where the
    /// source records no wall-clock time (a chain records the block an axon was served at).
    pub heartbeat_ms: u64,
    /// The weight the owner of this view gives the synapse (0 when never set).
    pub weight: f32,
}

impl SynapseInfo {
    /// Milliseconds since the heartbeat (0 when the heartbeat is ahead of `now_ms`).
    pub fn age_ms(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.heartbeat_ms)
    }
}

/// Where a source's view comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Gossip,
    Chain,
}

/// The seeds' `nP|nS`: metagraph peers known and synapses known (ours included).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PeerCounts {
    pub peers: usize,
    pub synapses: usize,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a source could not answer or refused a write. The kinds are what a caller acts on:
/// `Unavailable` is worth retrying later, the weight errors are a bug or a bad row on our side,
/// `Rejected` needs the operator (a chain refused our transaction), `Shutdown` ends the caller.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("set_weights got {keys} synapse keys but {weights} weights")]
    WeightsLength { keys: usize, weights: usize },
    #[error("weight #{index} is not finite")]
    NonFiniteWeight { index: usize },
    #[error("synapse key {key} is not known to this source, so it cannot be weighted")]
    UnknownSynapse { key: String },
    #[error("the metagraph source is unavailable")]
    Unavailable(#[source] BoxError),
    #[error("the metagraph source refused the update")]
    Rejected(#[source] BoxError),
    #[error("the metagraph source has shut down")]
    Shutdown,
}

impl SourceError {
    pub fn unavailable(e: impl Into<BoxError>) -> Self {
        Self::Unavailable(e.into())
    }

    pub fn rejected(e: impl Into<BoxError>) -> Self {
        Self::Rejected(e.into())
    }
}

/// The metagraph as a neuron consumes it.
///
/// Cancel-safety: `synapses`, `counts` and `weights` only read; dropping their futures has no
/// effect. `set_weights` is atomic for gossip (applied entirely or not at all); a chain
/// submits a transaction, so a dropped future may or may not have been applied — callers
/// re-read with `weights` to find out.
pub trait MetagraphSource: Send + Sync + 'static {
    fn kind(&self) -> SourceKind;
    /// Up to `n` synapses, preferred first (the seeds' `get_synapses`).
    fn synapses(
        &self,
        n: usize,
    ) -> impl Future<Output = Result<Vec<SynapseInfo>, SourceError>> + Send;
    /// Peers and synapses known now.
    fn counts(&self) -> impl Future<Output = Result<PeerCounts, SourceError>> + Send;
    /// One weight per key, 0 for unknown keys (the seeds' `getweights`).
    fn weights(
        &self,
        synapse_keys: &[String],
    ) -> impl Future<Output = Result<Vec<f32>, SourceError>> + Send;
    /// Sets our weights (the seeds' `setweights`).
    fn set_weights(
        &self,
        synapse_keys: &[String],
        weights: &[f32],
    ) -> impl Future<Output = Result<(), SourceError>> + Send;
}

/// Checks a weight row before any source stores it.
pub fn check_weights(synapse_keys: &[String], weights: &[f32]) -> Result<(), SourceError> {
    if synapse_keys.len() != weights.len() {
        return Err(SourceError::WeightsLength {
            keys: synapse_keys.len(),
            weights: weights.len(),
        });
    }
    match weights.iter().position(|w| !w.is_finite()) {
        Some(index) => Err(SourceError::NonFiniteWeight { index }),
        None => Ok(()),
    }
}
