//! Roles: what a neuron does with what it learns. The runtime (axon, dendrite, router, trainer,
//! peer view) is the same for every neuron; a role only decides what becomes of the router's
//! peer scores, beside training, on the async executor. A learner writes them into its
//! metagraph ([`Learner`]); a subnet validator sets them as its weights and a miner keeps them
//! to itself (`crate::subnet`).

use std::future::Future;
use std::sync::Arc;

use bt_interfaces::MetagraphSource;
use tokio::sync::watch;

use crate::peers::{self, PeerScores};

/// A neuron's behaviour beyond the shared learning loop.
pub trait Role<M: MetagraphSource>: Send + 'static {
    /// Runs until the neuron stops (the runtime aborts it then). `scores` carries the router's
    /// peer scores by synapse key, updated every training step.
    fn run(
        self,
        source: Arc<M>,
        scores: watch::Receiver<PeerScores>,
    ) -> impl Future<Output = ()> + Send;
}

/// The Release 1 neuron: every change of the router's scores goes into the metagraph, whose
/// table prefers high-weight synapses when it is sampled.
pub struct Learner;

impl<M: MetagraphSource> Role<M> for Learner {
    async fn run(self, source: Arc<M>, scores: watch::Receiver<PeerScores>) {
        peers::publish_scores(source, scores).await;
    }
}
