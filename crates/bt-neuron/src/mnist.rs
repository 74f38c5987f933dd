//! `bittensor neuron mnist`: the seeds' MNIST neuron. Serves its student on the axon, finds
//! peers by gossip, routes to them, distils what they answer, sends them gradients.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bt_dendrite::{Dendrite, DendriteConfig};
use bt_nn::{Dataset, MnistModel, default_mnist_dir};
use tokio::sync::watch;

use crate::config::NeuronConfig;
use crate::error::{NeuronError, Stopped};
use crate::identity::load_identity;
use crate::network::Network;
use crate::peers::{self, BackwardStats, PeerView};
use crate::report;
use crate::served::ServedModel;
use crate::trainer::{Trainer, TrainerConfig, TrainerLinks, save_checkpoint};

pub async fn run_mnist(
    cfg: NeuronConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<Stopped, NeuronError> {
    let identity = load_identity(&cfg.neuron_key)?;
    let data_dir = cfg.data_dir.clone().unwrap_or_else(default_mnist_dir);
    let (train, test) = load_data(data_dir).await?;
    let (model, start) = load_model(cfg.model_path.clone(), &identity.neuron.public_hex()).await?;

    let served = Arc::new(ServedModel::new(model.clone()));
    let network = Network::start(&cfg, &identity, served.clone()).await?;
    let metagraph = Arc::new(network.metagraph);
    let axon = network.axon;
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
    let trainer_cfg = TrainerConfig {
        epochs: cfg.epochs,
        max_steps: cfg.max_steps,
        seed: seed_from_key(&synapse_key),
        model_path: cfg.model_path.clone(),
        ..TrainerConfig::default()
    };
    let links = TrainerLinks {
        runtime: tokio::runtime::Handle::current(),
        dendrite,
        view: view_rx,
        weights: weights_tx,
        backward: backward_tx,
        served,
        stop: stop.clone(),
    };
    let trainer = Trainer::new(trainer_cfg, model, links)?;
    let mut training =
        tokio::task::spawn_blocking(move || trainer.run(&train, &test, start.epoch, start.step));
    tokio::pin!(shutdown);
    let result = tokio::select! {
        r = &mut training => r,
        () = &mut shutdown => {
            stop.store(true, Ordering::Relaxed);
            training.await
        }
    };
    let outcome = result.map_err(|e| NeuronError::Training(e.to_string()))?;
    // Stop serving first, then save: the checkpoint is the last thing a stopped neuron did.
    sync.abort();
    sender.abort();
    let metagraph = Arc::try_unwrap(metagraph).ok();
    if let Some(m) = metagraph {
        m.shutdown().await;
    }
    if let Err(e) = axon.shutdown(crate::network::SHUTDOWN_GRACE).await {
        tracing::warn!(error = %e, "axon did not stop cleanly");
    }
    let trained = outcome?;
    if let Some(path) = &cfg.model_path {
        let model = trained.model;
        let path = path.clone();
        let (epoch, step) = (trained.epoch, trained.step);
        tokio::task::spawn_blocking(move || save_checkpoint(&model, &path, epoch, step))
            .await
            .map_err(|e| NeuronError::Training(e.to_string()))??;
    }
    tracing::info!(
        sent = stats.sent.load(Ordering::Relaxed),
        failed = stats.failed.load(Ordering::Relaxed),
        "backward calls"
    );
    println!("{}", report::done_line());
    Ok(if trained.interrupted {
        Stopped::Interrupted
    } else {
        Stopped::Finished
    })
}

async fn load_data(dir: PathBuf) -> Result<(Dataset, Dataset), NeuronError> {
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
fn seed_from_key(key_hex: &str) -> u64 {
    key_hex.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
