//! The async side of a learning neuron: what the training thread learns of the network, and the
//! gradients it sends back.
//!
//! The training thread never touches the metagraph or awaits a peer's `Backward`: a sync task
//! publishes the current peer list on a `watch` channel and applies the router's weights to the
//! table, and a bounded queue carries gradients to a sender task. A full queue drops the
//! gradient (counted) rather than stalling a training step.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bt_dendrite::{CallOptions, Dendrite, Endpoint, Outcome};
use bt_metagraph::MetagraphHandle;
use bt_tensor::Tensor;
use tokio::sync::{mpsc, watch};

/// What the training loop knows of the network at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeerView {
    /// Remote synapses to route to, by synapse key (ours excluded).
    pub endpoints: BTreeMap<String, Endpoint>,
    /// The seeds' nP: metagraph peers known.
    pub peers: usize,
    /// The seeds' nS: synapses in the table, ours included.
    pub synapses: usize,
}

/// How often the training thread's view of the network is refreshed.
pub const SYNC_INTERVAL: Duration = Duration::from_millis(500);
/// Gradients waiting to be sent; beyond this they are dropped.
pub const BACKWARD_QUEUE: usize = 64;
/// Deadline of one `Backward` call.
pub const BACKWARD_TIMEOUT: Duration = Duration::from_secs(5);

pub fn view_of(metagraph: &MetagraphHandle, own_synapse_key: &str) -> PeerView {
    let endpoints = metagraph
        .table_snapshot()
        .into_iter()
        .filter(|s| s.synapse_key != own_synapse_key && s.port != 0)
        .map(|s| {
            let ep = Endpoint::new(s.address.clone(), s.port, s.synapse_key.clone());
            (s.synapse_key, ep)
        })
        .collect();
    let (peers, synapses) = metagraph.counts();
    PeerView {
        endpoints,
        peers,
        synapses,
    }
}

/// Keeps `view` current and writes the router's weights into the metagraph table, until
/// `weights` is closed (the training thread ended).
pub async fn sync_loop(
    metagraph: Arc<MetagraphHandle>,
    own_synapse_key: String,
    view: watch::Sender<PeerView>,
    mut weights: watch::Receiver<Vec<(String, f32)>>,
) {
    let mut tick = tokio::time::interval(SYNC_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let fresh = view_of(&metagraph, &own_synapse_key);
                view.send_if_modified(|current| {
                    let changed = *current != fresh;
                    if changed {
                        *current = fresh;
                    }
                    changed
                });
            }
            changed = weights.changed() => {
                if changed.is_err() {
                    return;
                }
                let w = weights.borrow_and_update().clone();
                let keys: Vec<&str> = w.iter().map(|(k, _)| k.as_str()).collect();
                let values: Vec<f32> = w.iter().map(|(_, v)| *v).collect();
                if let Err(e) = metagraph.with_table(|t| t.set_weights(&keys, &values)) {
                    tracing::warn!(error = %e, "could not record peer weights");
                }
            }
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
