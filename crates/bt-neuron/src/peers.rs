//! The async side of a learning neuron: what the training thread learns of the network, and the
//! gradients it sends back.
//!
//! The training thread never touches the metagraph or awaits a peer's `Backward`: a view task
//! publishes the current peer list (from any [`MetagraphSource`]) on a `watch` channel, the
//! router's peer scores leave on another for the neuron's role to publish, and a bounded queue
//! carries gradients to a sender task. A full queue drops the gradient (counted) rather than
//! stalling a training step.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bt_dendrite::{CallOptions, Dendrite, Endpoint, Outcome};
use bt_interfaces::{MetagraphSource, SourceError};
use bt_tensor::Tensor;
use tokio::sync::{mpsc, watch};

/// What the training loop knows of the network at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeerView {
    /// Remote synapses to route to, by synapse key (ours excluded).
    pub endpoints: BTreeMap<String, Endpoint>,
    /// The seeds' nP: metagraph peers known.
    pub peers: usize,
    /// The seeds' nS: synapses known, ours included.
    pub synapses: usize,
}

/// How often the training thread's view of the network is refreshed.
pub const SYNC_INTERVAL: Duration = Duration::from_millis(500);
/// Gradients waiting to be sent; beyond this they are dropped.
pub const BACKWARD_QUEUE: usize = 64;
/// Deadline of one `Backward` call.
pub const BACKWARD_TIMEOUT: Duration = Duration::from_secs(5);

/// The router's scores of its peers, by synapse key: what a learner writes into its metagraph
/// and a validator sets as its weights.
pub type PeerScores = Vec<(String, f32)>;

/// Up to `limit` synapses of `source` as routable endpoints, ours excluded.
pub async fn view_of<M: MetagraphSource>(
    source: &M,
    own_synapse_key: &str,
    limit: usize,
) -> Result<PeerView, SourceError> {
    let endpoints = source
        .synapses(limit)
        .await?
        .into_iter()
        .filter(|s| s.synapse_key != own_synapse_key && s.port != 0)
        .map(|s| {
            let ep = Endpoint::new(s.address.clone(), s.port, s.synapse_key.clone());
            (s.synapse_key, ep)
        })
        .collect();
    let counts = source.counts().await?;
    Ok(PeerView {
        endpoints,
        peers: counts.peers,
        synapses: counts.synapses,
    })
}

/// Keeps `view` current until every receiver is gone (the training thread ended). A source
/// that cannot answer leaves the last view in force.
pub async fn view_loop<M: MetagraphSource>(
    source: Arc<M>,
    own_synapse_key: String,
    limit: usize,
    view: watch::Sender<PeerView>,
) {
    let mut tick = tokio::time::interval(SYNC_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = view.closed() => return,
            _ = tick.tick() => {}
        }
        let fresh = match view_of(&*source, &own_synapse_key, limit).await {
            Ok(fresh) => fresh,
            Err(e) => {
                tracing::debug!(error = %e, "peer view not refreshed");
                continue;
            }
        };
        view.send_if_modified(|current| {
            let changed = *current != fresh;
            if changed {
                *current = fresh;
            }
            changed
        });
    }
}

/// The learner's publication: every change of the router's scores is written to the source
/// (gossip keeps them in its table), until `scores` is closed (the training thread ended).
pub async fn publish_scores<M: MetagraphSource>(
    source: Arc<M>,
    mut scores: watch::Receiver<PeerScores>,
) {
    while scores.changed().await.is_ok() {
        let w = scores.borrow_and_update().clone();
        let (keys, values): (Vec<String>, Vec<f32>) = w.into_iter().unzip();
        if let Err(e) = source.set_weights(&keys, &values).await {
            tracing::warn!(error = %e, "could not record peer weights");
        }
    }
}

/// One gradient for one peer: the inputs it answered and the gradient of our loss with respect
/// to its answer.
pub struct BackwardJob {
    pub endpoint: Endpoint,
    pub inputs: Tensor,
    pub grads: Tensor,
}

#[derive(Debug, Default)]
pub struct BackwardStats {
    pub sent: AtomicU64,
    pub failed: AtomicU64,
    pub dropped: AtomicU64,
}

pub fn backward_queue() -> (mpsc::Sender<BackwardJob>, mpsc::Receiver<BackwardJob>) {
    mpsc::channel(BACKWARD_QUEUE)
}

/// Sends queued gradients, a few at a time, each with a deadline.
pub async fn backward_sender(
    dendrite: Dendrite,
    mut jobs: mpsc::Receiver<BackwardJob>,
    stats: Arc<BackwardStats>,
) {
    const IN_FLIGHT: usize = 8;
    let permits = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let opts = CallOptions {
        timeout: Some(BACKWARD_TIMEOUT),
        output_dims: None,
        ..CallOptions::default()
    };
    while let Some(job) = jobs.recv().await {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let (dendrite, stats, opts) = (dendrite.clone(), stats.clone(), opts.clone());
        tokio::spawn(async move {
            let ok = matches!(
                dendrite
                    .backward_with(&job.endpoint, &job.inputs, &job.grads, &opts)
                    .await
                    .map(|r| r.outcome),
                Ok(Outcome::Ok(_))
            );
            let counter = if ok { &stats.sent } else { &stats.failed };
            counter.fetch_add(1, Ordering::Relaxed);
            drop(permit);
        });
    }
}
