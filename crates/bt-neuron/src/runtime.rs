//! The one runtime, for any [`NeuronModel`] (the seeds' MNIST model, the CIFAR DPN, the text
//! model): serves its
//! encoding on the axon, finds peers through its metagraph source (gossip here; a subnet's
//! chain in `crate::subnet`), routes to them, distils what they answer, sends them gradients.
//! `bittensor neuron mnist|cifar|text` are [`run`], the gossip learner.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bt_axon::AxonHandle;
use bt_dendrite::Dendrite;
use bt_interfaces::MetagraphSource;
use bt_metagraph::MetagraphHandle;
use bt_nn::{Dataset, NeuronModel, TrainingData};
use tokio::sync::watch;

use crate::config::{NeuronConfig, WAIT_FOR_PEERS_LIMIT};
use crate::error::{NeuronError, Stopped};
use crate::identity::Identity;
use crate::network::Network;
use crate::peers::{self, BackwardStats, PeerScores, PeerView};
use crate::report;
use crate::role::{Learner, Role};
use crate::served::{RemoteLearning, ServedModel};
use crate::trainer::{Trainer, TrainerConfig, TrainerLinks, TrainerResult, save_checkpoint};

/// A neuron with model `M` under `identity` (see [`crate::identity::acquire`]), whose key stays
/// locked until this returns. `remote_learning` `Some` lets peers' `Backward` gradients train
/// the served encoder (student and forward network; clipped and scaled, see
/// [`RemoteLearning`]); `None` is the seeds' behaviour.
pub async fn run<M: NeuronModel>(
    cfg: NeuronConfig,
    identity: Identity,
    remote_learning: Option<RemoteLearning>,
    shutdown: impl Future<Output = ()>,
) -> Result<Stopped, NeuronError> {
    let TrainingData { train, test, .. } = load_data::<M>(cfg.data_dir.clone()).await?;
    let (model, start) =
        load_model::<M>(cfg.model_path.clone(), &identity.neuron.public_hex()).await?;
    let mut neuron = Neuron::start(&cfg, &identity, model.clone(), remote_learning).await?;
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
    let outcome = train_on(
        &mut neuron,
        &cfg,
        model,
        start,
        train,
        test,
        shutdown.as_mut(),
    )
    .await;
    // Stop serving first, then save: the checkpoint is the last thing a stopped neuron did.
    neuron.shutdown().await;
    let trained = outcome?;
    let interrupted = trained.interrupted;
    save_trained(cfg.model_path.clone(), trained).await?;
    println!("{}", report::done_line());
    Ok(if interrupted {
        Stopped::Interrupted
    } else {
        Stopped::Finished
    })
}

/// Trains `model` on `neuron` from `start` until the epochs or steps of `cfg` are done or
/// `shutdown` resolves (then the loop stops at its next step, and the result says
/// `interrupted`). The training loop runs on the blocking pool.
pub(crate) async fn train_on<M: NeuronModel, S: MetagraphSource>(
    neuron: &mut Neuron<M, S>,
    cfg: &NeuronConfig,
    model: M,
    start: bt_nn::TrainingState,
    train: Dataset,
    test: Dataset,
    mut shutdown: std::pin::Pin<&mut impl Future<Output = ()>>,
) -> Result<TrainerResult<M>, NeuronError> {
    let trainer_cfg = TrainerConfig {
        train: M::train_config(),
        forward_timeout: M::PEER_TIMEOUT,
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
    let (result, asked_to_stop) = tokio::select! {
        r = &mut training => (r, false),
        () = &mut shutdown => {
            stop.store(true, Ordering::Relaxed);
            (training.await, true)
        }
    };
    let mut trained = result.map_err(NeuronError::task("training"))??;
    // A stop that came while the last step or the test pass ran still ends the neuron: its
    // future is spent, so the caller must not wait for it again.
    trained.interrupted |= asked_to_stop;
    Ok(trained)
}

/// Writes the checkpoint of a finished or stopped training run to `path`, when there is one, off
/// the executor.
pub(crate) async fn save_trained<M: NeuronModel>(
    path: Option<PathBuf>,
    trained: TrainerResult<M>,
) -> Result<(), NeuronError> {
    let Some(path) = path else {
        return Ok(());
    };
    let (mut model, epoch, step) = (trained.model, trained.epoch, trained.step);
    tokio::task::spawn_blocking(move || save_checkpoint(&mut model, &path, epoch, step))
        .await
        .map_err(NeuronError::task("checkpoint"))?
}

/// How a neuron's metagraph source is let go when the neuron stops (gossip: stop its node).
type CloseSource<S> = Box<dyn FnOnce(Arc<S>) -> BoxFuture<()> + Send>;
type BoxFuture<T> = std::pin::Pin<Box<dyn Future<Output = T> + Send>>;

/// A running neuron's network side, for model `M` on any [`MetagraphSource`] `S`: the axon
/// serving its encoding, the peer view, and the `Backward` sender. Its training loop is a
/// [`Trainer`] made by [`Neuron::trainer`]; what happens to the router's peer scores is its
/// role's business ([`Neuron::take_scores`]: a learner writes them into its metagraph, a
/// validator sets them as its weights). The network keeps serving after training ends, until
/// [`Neuron::shutdown`].
pub struct Neuron<M: NeuronModel, S: MetagraphSource = MetagraphHandle> {
    pub served: Arc<ServedModel<M>>,
    pub source: Arc<S>,
    pub synapse_key: String,
    pub stats: Arc<BackwardStats>,
    /// Set to stop the training loop at the next step.
    pub stop: Arc<AtomicBool>,
    dendrite: Dendrite,
    axon: AxonHandle,
    links: Option<TrainerLinks<M>>,
    scores: Option<watch::Receiver<PeerScores>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    close: Option<CloseSource<S>>,
}

impl<M: NeuronModel> Neuron<M, MetagraphHandle> {
    /// Serves `model` and joins the gossip network described by `cfg`, as a learner: the
    /// router's scores go into the metagraph table.
    pub async fn start(
        cfg: &NeuronConfig,
        identity: &Identity,
        model: M,
        remote_learning: Option<RemoteLearning>,
    ) -> Result<Self, NeuronError> {
        if remote_learning.is_some() && !M::REMOTE_LEARNING {
            return Err(NeuronError::Model(bt_nn::NnError::Unsupported {
                what: "learning from peers' gradients (--remote_learning)",
                model: M::KIND,
            }));
        }
        let served = Arc::new(ServedModel::with_learning(model, remote_learning));
        let network = Network::start(cfg, identity, served.clone()).await?;
        let source = Arc::new(network.metagraph);
        let close: CloseSource<MetagraphHandle> = Box::new(|m| {
            Box::pin(async move {
                if let Ok(m) = Arc::try_unwrap(m) {
                    m.shutdown().await;
                }
            })
        });
        let mut neuron = Self::assemble(
            served,
            source,
            network.axon,
            network.synapse_key,
            Dendrite::new(identity.neuron_key()?, cfg.dendrite_config()),
            cfg.metagraph_size,
            Some(close),
        )?;
        if let Some(scores) = neuron.take_scores() {
            let learner = Learner.run(neuron.source.clone(), scores);
            neuron.spawn(learner);
        }
        Ok(neuron)
    }
}

impl<M: NeuronModel, S: MetagraphSource> Neuron<M, S> {
    /// The runtime around an axon that already serves `served` under `synapse_key`: the peer
    /// view from `source` (at most `view_limit` synapses), the `dendrite` and the `Backward`
    /// sender. `close` lets the source go at shutdown.
    pub fn assemble(
        served: Arc<ServedModel<M>>,
        source: Arc<S>,
        axon: AxonHandle,
        synapse_key: String,
        dendrite: Dendrite,
        view_limit: usize,
        close: Option<CloseSource<S>>,
    ) -> Result<Self, NeuronError> {
        let (view_tx, view_rx) = watch::channel(PeerView::default());
        let (scores_tx, scores_rx) = watch::channel(PeerScores::new());
        let view = tokio::spawn(peers::view_loop(
            source.clone(),
            synapse_key.clone(),
            view_limit,
            view_tx,
        ));
        let (backward_tx, backward_rx) = peers::backward_queue();
        let stats = Arc::new(BackwardStats::default());
        let sender = tokio::spawn(peers::backward_sender(
            dendrite.clone(),
            backward_rx,
            stats.clone(),
        ));
        let stop = Arc::new(AtomicBool::new(false));
        let metrics = Arc::new(crate::metrics::TrainerMetrics::default());
        let registry = axon.metrics_registry();
        registry.register(dendrite.metric_set());
        registry.register(metrics.clone());
        let links = TrainerLinks {
            metrics,
            runtime: tokio::runtime::Handle::current(),
            dendrite: dendrite.clone(),
            view: view_rx,
            weights: scores_tx,
            backward: backward_tx,
            served: served.clone(),
            stop: stop.clone(),
        };
        Ok(Self {
            served,
            source,
            synapse_key,
            stats,
            stop,
            dendrite,
            axon,
            links: Some(links),
            scores: Some(scores_rx),
            tasks: vec![view, sender],
            close,
        })
    }

    /// The axon's address.
    pub fn axon_addr(&self) -> std::net::SocketAddr {
        self.axon.local_addr()
    }

    /// The runtime's dendrite, for a role that calls peers (a handle on the same pool).
    pub fn dendrite(&self) -> Dendrite {
        self.dendrite.clone()
    }

    /// The router's peer scores as training publishes them, for the neuron's role (once).
    pub fn take_scores(&mut self) -> Option<watch::Receiver<PeerScores>> {
        self.scores.take()
    }

    /// Runs `task` beside training until the neuron shuts down.
    pub fn spawn(&mut self, task: impl Future<Output = ()> + Send + 'static) {
        self.tasks.push(tokio::spawn(task));
    }

    /// The training loop of this neuron (one per neuron: it owns the links to the network).
    pub fn trainer(&mut self, cfg: TrainerConfig, model: M) -> Result<Trainer<M>, NeuronError> {
        let links = self.links.take().ok_or(NeuronError::TrainerTaken)?;
        Trainer::new(cfg, model, links)
    }

    /// Returns once the trainer's view of the network lists the synapses of `peers` other
    /// neurons (so that the first training step already calls them), or after `limit` with
    /// fewer. It waits on the trainer's own view rather than asking the source, so a short run
    /// cannot start on a view older than the one that satisfied the wait.
    pub async fn wait_for_peers(&self, peers: usize, limit: Duration) {
        let Some(mut view) = self.links.as_ref().map(|l| l.view.clone()) else {
            return;
        };
        let start = tokio::time::Instant::now();
        tracing::info!("waiting for {peers} peer(s) before training (at most {limit:?})");
        loop {
            let have = view.borrow_and_update().endpoints.len();
            if have >= peers {
                tracing::info!("found {have} peer(s) after {:?}", start.elapsed());
                return;
            }
            let left = limit.saturating_sub(start.elapsed());
            match tokio::time::timeout(left, view.changed()).await {
                Ok(Ok(())) => {}
                // Timed out, or the view task ended: train with what there is.
                Ok(Err(_)) | Err(_) => {
                    tracing::warn!(
                        "training with {have} of {peers} peer(s): none more came within {limit:?}"
                    );
                    return;
                }
            }
        }
    }

    /// Stops the peer and role tasks, lets the source go, and stops the axon.
    pub async fn shutdown(self) {
        for t in self.tasks {
            t.abort();
            // wait for the abort so the tasks' source clones are gone before the close
            let _ = t.await;
        }
        tracing::info!(
            sent = self.stats.sent.load(Ordering::Relaxed),
            failed = self.stats.failed.load(Ordering::Relaxed),
            "backward calls"
        );
        if let Some(close) = self.close {
            close(self.source).await;
        }
        if let Err(e) = self.axon.shutdown(crate::network::SHUTDOWN_GRACE).await {
            tracing::warn!(error = %e, "axon did not stop cleanly");
        }
    }
}

/// `M`'s dataset from `dir` or its default place ([`NeuronModel::load_data`]), off the
/// executor, with a spinner on a terminal.
pub async fn load_data<M: NeuronModel>(dir: Option<PathBuf>) -> Result<TrainingData, NeuronError> {
    let shown = dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("the {} default", M::KIND)));
    let _spinner = crate::progress::Spinner::start(format!("loading {}", shown.display()));
    let data = tokio::task::spawn_blocking(move || M::load_data(dir.as_deref()))
        .await
        .map_err(NeuronError::task("dataset loading"))?
        .map_err(|source| NeuronError::Data { dir: shown, source })?;
    tracing::info!(
        train = data.train.len(),
        test = data.test.len(),
        "{} data: {}",
        M::KIND,
        data.source
    );
    Ok(data)
}

/// Resumes from `--model_path` when the file exists, else starts fresh.
pub(crate) async fn load_model<M: NeuronModel>(
    path: Option<PathBuf>,
    key_hex: &str,
) -> Result<(M, bt_nn::TrainingState), NeuronError> {
    let seed = seed_from_key(key_hex);
    match path {
        Some(p) if p.exists() => {
            let path = p.clone();
            let (model, state) =
                tokio::task::spawn_blocking(move || bt_nn::checkpoint::load::<M>(&p))
                    .await
                    .map_err(NeuronError::task("checkpoint loading"))?
                    .map_err(|source| NeuronError::Checkpoint {
                        path: path.clone(),
                        source,
                    })?;
            let shown = path.display();
            println!(
                "Resumed from {shown}: epoch {} step {}",
                state.epoch, state.step
            );
            Ok((model, state))
        }
        _ => Ok((M::seeded(seed), bt_nn::TrainingState::default())),
    }
}

/// Different neurons start from different weights and data orders; the same neuron is
/// reproducible.
pub fn seed_from_key(key_hex: &str) -> u64 {
    key_hex.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
