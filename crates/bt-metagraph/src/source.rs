//! The gossip metagraph as a `bt_interfaces::MetagraphSource`.

use bt_interfaces::metagraph::check_weights;
use bt_interfaces::{MetagraphSource, PeerCounts, SourceError, SourceKind, SynapseInfo};

use crate::error::MetagraphError;
use crate::node::MetagraphHandle;
use crate::server::now_ms;

impl MetagraphSource for MetagraphHandle {
    fn kind(&self) -> SourceKind {
        SourceKind::Gossip
    }

    async fn synapses(&self, n: usize) -> Result<Vec<SynapseInfo>, SourceError> {
        let seed = now_ms();
        Ok(self.with_table(|t| t.synapses(n, seed, seed)))
    }

    async fn counts(&self) -> Result<PeerCounts, SourceError> {
        let (peers, synapses) = MetagraphHandle::counts(self);
        Ok(PeerCounts { peers, synapses })
    }

    async fn weights(&self, synapse_keys: &[String]) -> Result<Vec<f32>, SourceError> {
        let keys: Vec<&str> = synapse_keys.iter().map(String::as_str).collect();
        Ok(self.with_table(|t| t.weights(&keys)))
    }

    async fn set_weights(
        &self,
        synapse_keys: &[String],
        weights: &[f32],
    ) -> Result<(), SourceError> {
        check_weights(synapse_keys, weights)?;
        let keys: Vec<&str> = synapse_keys.iter().map(String::as_str).collect();
        self.with_table(|t| t.set_weights(&keys, weights))
            .map(|_| ())
            .map_err(source_error)
    }
}

/// A table error as a source reports it (the table checks the same row again).
fn source_error(e: MetagraphError) -> SourceError {
    match e {
        MetagraphError::WeightsLength { keys, weights } => {
            SourceError::WeightsLength { keys, weights }
        }
        MetagraphError::NonFiniteWeight { index } => SourceError::NonFiniteWeight { index },
        MetagraphError::Shutdown => SourceError::Shutdown,
        other => SourceError::rejected(other),
    }
}
