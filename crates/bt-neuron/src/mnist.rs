//! `bittensor neuron mnist`: the seeds' MNIST neuron. Serves its encoding on the axon, finds
//! peers by gossip, routes to them, distils what they answer, sends them gradients.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bt_axon::AxonHandle;
use bt_dendrite::{Dendrite, DendriteConfig};
use bt_metagraph::MetagraphHandle;
use bt_nn::{Dataset, MnistModel, default_mnist_dir};
use tokio::sync::watch;

use crate::config::{NeuronConfig, WAIT_FOR_PEERS_LIMIT};
use crate::error::{NeuronError, Stopped};
use crate::identity::{Identity, load_identity};
use crate::network::Network;
use crate::peers::{self, BackwardStats, PeerView};
use crate::report;
use crate::served::{RemoteLearning, ServedModel};
use crate::trainer::{Trainer, TrainerConfig, TrainerLinks, save_checkpoint};

/// The MNIST neuron with the seeds' behaviour (no learning from remote gradients).
pub async fn run_mnist(
    cfg: NeuronConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<Stopped, NeuronError> {
    run_mnist_with(cfg, None, shutdown).await
}

/// [`run_mnist`] with remote learning: `Some` lets peers' `Backward` gradients train the served
/// encoder (student and forward network; clipped and scaled, see [`RemoteLearning`]).
pub async fn run_mnist_with(
    cfg: NeuronConfig,
    remote_learning: Option<RemoteLearning>,
    shutdown: impl Future<Output = ()>,
) -> Result<Stopped, NeuronError> {
    let identity = load_identity(&cfg.neuron_key)?;
    let data_dir = cfg.data_dir.clone().unwrap_or_else(default_mnist_dir);
    let (train, test) = load_data(data_dir).await?;
    let (model, start) = load_model(cfg.model_path.clone(), &identity.neuron.public_hex()).await?;
    let mut neuron = MnistNeuron::start(&cfg, &identity, model.clone(), remote_learning).await?;
    tokio::pin!(shutdown);
    if cfg.wait_for_peers > 0 {
        tokio::select! {
            () = neuron.wait_for_peers(cfg.wait_for_peers, WAIT_FOR_PEERS_LIMIT) => {}
            () = &mut shutdown => {
                neuron.shutdown().await;
                return Ok(Stopped::Interrupted);
            }
        }
    }
    let trainer_cfg = TrainerConfig {
        epochs: cfg.epochs,
        max_steps: cfg.max_steps,
        seed: seed_from_key(&neuron.synapse_key),
        model_path: cfg.model_path.clone(),
        ..TrainerConfig::default()
    };
    let stop = neuron.stop.clone();
    let trainer = neuron.trainer(trainer_cfg, model)?;
    let mut training =
        tokio::task::spawn_blocking(move || trainer.run(&train, &test, start.epoch, start.step));
    let result = tokio::select! {
        r = &mut training => r,
        () = &mut shutdown => {
            stop.store(true, Ordering::Relaxed);
            training.await
        }
    };
    let outcome = result.map_err(|e| NeuronError::Training(e.to_string()))?;
    // Stop serving first, then save: the checkpoint is the last thing a stopped neuron did.
    neuron.shutdown().await;
    let trained = outcome?;
    if let Some(path) = &cfg.model_path {
        let model = trained.model;
        let path = path.clone();
        let (epoch, step) = (trained.epoch, trained.step);
        tokio::task::spawn_blocking(move || save_checkpoint(&model, &path, epoch, step))
            .await
            .map_err(|e| NeuronError::Training(e.to_string()))??;
    }
    println!("{}", report::done_line());
    Ok(if trained.interrupted {
        Stopped::Interrupted
    } else {
        Stopped::Finished
    })
}

/// A running MNIST neuron's network side: the axon serving its encoding, the metagraph, the peer
/// sync and the `Backward` sender. Its training loop is a [`Trainer`] made by
/// [`MnistNeuron::trainer`]; the network keeps serving after training ends, until
/// [`MnistNeuron::shutdown`].
pub struct MnistNeuron {
    pub served: Arc<ServedModel>,
    pub metagraph: Arc<MetagraphHandle>,
    pub synapse_key: String,
    pub stats: Arc<BackwardStats>,
    /// Set to stop the training loop at the next step.
    pub stop: Arc<AtomicBool>,
    axon: AxonHandle,
    links: Option<TrainerLinks>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl MnistNeuron {
    /// Serves `model` and joins the network described by `cfg`.
    pub async fn start(
        cfg: &NeuronConfig,
        identity: &Identity,
        model: MnistModel,
        remote_learning: Option<RemoteLearning>,
    ) -> Result<Self, NeuronError> {
        let served = Arc::new(ServedModel::with_learning(model, remote_learning));
        let network = Network::start(cfg, identity, served.clone()).await?;
        let metagraph = Arc::new(network.metagraph);
        let synapse_key = network.synapse_key;
        let dendrite = Dendrite::new(identity.neuron_key()?, DendriteConfig::default());
        let (view_tx, view_rx) = watch::channel(PeerView::default());
        let (weights_tx, weights_rx) = watch::channel(Vec::new());
        let sync = tokio::spawn(peers::sync_loop(
            metagraph.clone(),
            synapse_key.clone(),
            view_tx,
            weights_rx,
        ));
        let (backward_tx, backward_rx) = peers::backward_queue();
        let stats = Arc::new(BackwardStats::default());
        let sender = tokio::spawn(peers::backward_sender(
            dendrite.clone(),
            backward_rx,
            stats.clone(),
        ));
        let stop = Arc::new(AtomicBool::new(false));
        let links = TrainerLinks {
            runtime: tokio::runtime::Handle::current(),
            dendrite,
            view: view_rx,
            weights: weights_tx,
            backward: backward_tx,
            served: served.clone(),
            stop: stop.clone(),
        };
        Ok(Self {
            served,
            metagraph,
            synapse_key,
            stats,
            stop,
            axon: network.axon,
            links: Some(links),
            tasks: vec![sync, sender],
        })
    }

    /// The axon's address.
    pub fn axon_addr(&self) -> std::net::SocketAddr {
        self.axon.local_addr()
    }

    /// The training loop of this neuron (one per neuron: it owns the links to the network).
    pub fn trainer(
        &mut self,
        cfg: TrainerConfig,
        model: MnistModel,
    ) -> Result<Trainer, NeuronError> {
        let links = self.links.take().ok_or_else(|| {
            NeuronError::Training("this neuron's trainer was already made".into())
        })?;
        Trainer::new(cfg, model, links)
    }

    /// Returns once the metagraph lists the synapses of `peers` other neurons (so that the
    /// first training step can already call them), or after `limit` with fewer.
    pub async fn wait_for_peers(&self, peers: usize, limit: Duration) {
        const POLL: Duration = Duration::from_millis(100);
        let start = tokio::time::Instant::now();
        let found = || {
            peers::view_of(&self.metagraph, &self.synapse_key)
                .endpoints
                .len()
        };
        tracing::info!("waiting for {peers} peer(s) before training (at most {limit:?})");
        loop {
            let have = found();
            if have >= peers {
                tracing::info!("found {have} peer(s) after {:?}", start.elapsed());
                return;
            }
            if start.elapsed() >= limit {
                tracing::warn!(
                    "training with {have} of {peers} peer(s): none more came within {limit:?}"
                );
                return;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Stops the peer tasks, the metagraph and the axon.
    pub async fn shutdown(self) {
        for t in self.tasks {
            t.abort();
            // wait for the abort so the tasks' metagraph clones are gone before try_unwrap
            let _ = t.await;
        }
        tracing::info!(
            sent = self.stats.sent.load(Ordering::Relaxed),
            failed = self.stats.failed.load(Ordering::Relaxed),
            "backward calls"
        );
        if let Ok(m) = Arc::try_unwrap(self.metagraph) {
            m.shutdown().await;
        }
        if let Err(e) = self.axon.shutdown(crate::network::SHUTDOWN_GRACE).await {
            tracing::warn!(error = %e, "axon did not stop cleanly");
        }
    }
}

pub async fn load_data(dir: PathBuf) -> Result<(Dataset, Dataset), NeuronError> {
    let shown = dir.display().to_string();
    tokio::task::spawn_blocking(move || Dataset::load_dir(&dir))
        .await
        .map_err(|e| NeuronError::Training(e.to_string()))?
        .map_err(|e| {
            NeuronError::Data(format!(
                "cannot load MNIST-like IDX files from {shown} (--data_dir): {e}"
            ))
        })
}

/// Resumes from `--model_path` when the file exists, else starts fresh.
async fn load_model(
    path: Option<PathBuf>,
    key_hex: &str,
) -> Result<(MnistModel, bt_nn::TrainingState), NeuronError> {
    let seed = seed_from_key(key_hex);
    match path {
        Some(p) if p.exists() => {
            let shown = p.display().to_string();
            let (model, state) = tokio::task::spawn_blocking(move || bt_nn::checkpoint::load(&p))
                .await
                .map_err(|e| NeuronError::Training(e.to_string()))?
                .map_err(|e| NeuronError::Checkpoint(format!("{shown} (--model_path): {e}")))?;
            println!(
                "Resumed from {shown}: epoch {} step {}",
                state.epoch, state.step
            );
            Ok((model, state))
        }
        _ => Ok((MnistModel::new(seed), bt_nn::TrainingState::default())),
    }
}

/// Different neurons start from different weights and data orders; the same neuron is
/// reproducible.
pub fn seed_from_key(key_hex: &str) -> u64 {
    key_hex.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
