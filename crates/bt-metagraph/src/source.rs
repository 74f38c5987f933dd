//! `MetagraphSource`: where a neuron learns who is out there — gossip now, a chain later.

use std::future::Future;

use crate::error::MetagraphError;
use crate::info::SynapseInfo;
use crate::node::MetagraphHandle;
use crate::server::now_ms;
use crate::validate::PeerAddr;

/// The metagraph as a neuron consumes it.
///
/// Cancel-safety: `synapses`, `peers` and `weights` only read; dropping their futures has no
/// effect. `set_weights` is atomic for the gossip implementation (applied entirely or not at
/// all); a chain implementation submits a transaction, so a dropped future may or may not
/// have been applied — callers re-read with `weights` to find out.
pub trait MetagraphSource: Send + Sync {
    /// Up to `n` synapses, fresh and high-weight ones preferred (the seeds' `get_synapses`).
    fn synapses(
        &self,
        n: usize,
    ) -> impl Future<Output = Result<Vec<SynapseInfo>, MetagraphError>> + Send;
    /// Up to `n` metagraph peers (the seeds' `get_peers`).
    fn peers(&self, n: usize)
    -> impl Future<Output = Result<Vec<PeerAddr>, MetagraphError>> + Send;
    /// One weight per key, 0 for unknown keys (the seeds' `getweights`).
    fn weights(
        &self,
        synapse_keys: &[String],
    ) -> impl Future<Output = Result<Vec<f32>, MetagraphError>> + Send;
    /// Sets our weights (the seeds' `setweights`).
    fn set_weights(
        &self,
        synapse_keys: &[String],
        weights: &[f32],
    ) -> impl Future<Output = Result<(), MetagraphError>> + Send;
}

impl MetagraphSource for MetagraphHandle {
    async fn synapses(&self, n: usize) -> Result<Vec<SynapseInfo>, MetagraphError> {
        let seed = now_ms();
        Ok(self.with_table(|t| t.synapses(n, seed, seed)))
    }

    async fn peers(&self, n: usize) -> Result<Vec<PeerAddr>, MetagraphError> {
        let seed = now_ms();
        Ok(self.with_table(|t| t.peers(n, seed, seed)))
    }

    async fn weights(&self, synapse_keys: &[String]) -> Result<Vec<f32>, MetagraphError> {
        let keys: Vec<&str> = synapse_keys.iter().map(String::as_str).collect();
        Ok(self.with_table(|t| t.weights(&keys)))
    }

    async fn set_weights(
        &self,
        synapse_keys: &[String],
        weights: &[f32],
    ) -> Result<(), MetagraphError> {
        let keys: Vec<&str> = synapse_keys.iter().map(String::as_str).collect();
        self.with_table(|t| t.set_weights(&keys, weights))
            .map(|_| ())
    }
}
