//! `bittensor neuron mnist --chain_endpoint … --netuid N --role miner|validator`: a neuron on a
//! subnet. The roles themselves live in `bt-subnet`; this is the glue from flags, wallet and key
//! files, checkpoint and data set to its `run_miner` / `run_validator`.
//!
//! The model a miner serves comes from `--model_path` when that checkpoint exists; otherwise the
//! miner first trains alone for `--max_steps` steps (or `--epochs` epochs) and saves the result
//! there, so `--max_steps` is also how an experiment makes miners of different quality.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use bt_neuron::subnet::{MinerConfig, NeuronSettings as SubnetNeuron, ValidatorConfig};
use bt_nn::{Dataset, MnistModel, TrainConfig, checkpoint};

use crate::cli::{NeuronKind, Role};
use crate::config::{NeuronSettings, SubnetSettings};
use crate::exit::{self, CliError};

pub async fn run(
    kind: NeuronKind,
    neuron: NeuronSettings,
    subnet: SubnetSettings,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<u8> {
    if kind != NeuronKind::Mnist {
        return Err(CliError::Usage(
            "only `neuron mnist` can join a subnet (its task is MNIST classification)".into(),
        )
        .into());
    }
    let (coldkey, hotkey) = load_wallet(&subnet)?;
    let identity = bt_neuron::identity::load_identity(&neuron.neuron_key)
        .map_err(|e| CliError::Key(e.to_string()))?;
    let remote = bt_neuron::identity::resolve_remote_ip(neuron.remote_ip.as_deref())
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let listen = bt_neuron::identity::listen_ip(remote);
    let (train, test) = load_data(neuron.data_dir.clone()).await?;

    let mut settings = SubnetNeuron::new(
        subnet.chain_endpoint.clone(),
        subnet.netuid,
        hotkey,
        identity.neuron,
        identity.synapse.public(),
    );
    settings.coldkey = coldkey;
    settings.axon_listen = SocketAddr::new(listen, neuron.axon_port);
    settings.external_ip = remote;
    settings.axon.allow_unsigned = neuron.allow_unsigned;
    settings.refresh_interval = subnet.interval;

    // Both roles run until `shutdown` resolves, so `Ok` means a clean stop on Ctrl-C.
    let outcome = match subnet.role {
        Role::Miner => {
            let model = miner_model(&neuron, train).await?;
            let mut cfg = MinerConfig::new(settings);
            cfg.report_interval = subnet.interval;
            bt_neuron::subnet::run_miner(cfg, model, shutdown).await
        }
        Role::Validator => {
            let model = match &neuron.model_path {
                Some(p) if p.exists() => load_checkpoint(p.clone()).await?,
                _ => MnistModel::new(0),
            };
            let mut cfg = ValidatorConfig::new(settings, Arc::new(test));
            cfg.round_interval = subnet.interval;
            bt_neuron::subnet::run_validator(cfg, model, shutdown).await
        }
    };
    match outcome {
        Ok(()) => Ok(exit::INTERRUPTED),
        Err(e) => Err(classify(e)),
    }
}

fn classify(e: bt_neuron::subnet::SubnetError) -> anyhow::Error {
    use bt_neuron::subnet::SubnetError as E;
    let text = e.to_string();
    match e {
        E::Axon(bt_axon::AxonError::Bind { .. } | bt_axon::AxonError::MetricsBind { .. }) => {
            CliError::PortInUse(text).into()
        }
        E::Config(_) | E::NoSubnet { .. } => CliError::Usage(text).into(),
        E::NotRegistered { .. } => CliError::Key(text).into(),
        E::Data(_) => CliError::Data(text).into(),
        E::Chain { .. } | E::ChainTimeout { .. } | E::Dendrite(_) | E::Axon(_) => {
            CliError::Unreachable(text).into()
        }
    }
}

fn load_wallet(subnet: &SubnetSettings) -> Result<(Option<bt_chain::Keypair>, bt_chain::Keypair)> {
    let w = &subnet.wallet;
    let root = w.root();
    let wallet = bt_crypto::wallet::Wallet::new(&root, &w.name, &w.hotkey)
        .map_err(|e| CliError::Key(format!("wallet {}: {e}", w.name)))?;
    let hotkey = wallet.hotkey().map_err(|e| {
        CliError::Key(format!(
            "hotkey {} of wallet {} under {} (--wallet_hotkey, --wallet_name, --wallet_path; \
             create it with `bittensor wallet new`): {e}",
            w.hotkey,
            w.name,
            root.display()
        ))
    })?;
    // The coldkey only pays for a registration; a hotkey already registered does not need it.
    let coldkey = wallet.coldkey().ok().map(Into::into);
    Ok((coldkey, hotkey.into()))
}

async fn load_data(dir: Option<PathBuf>) -> Result<(Dataset, Dataset)> {
    let dir = dir.unwrap_or_else(bt_nn::default_mnist_dir);
    let shown = dir.display().to_string();
    tokio::task::spawn_blocking(move || Dataset::load_dir(&dir))
        .await
        .context("loading the data set")?
        .map_err(|e| {
            CliError::Data(format!(
                "cannot load MNIST IDX files from {shown} (--data_dir): {e}"
            ))
            .into()
        })
}

async fn load_checkpoint(path: PathBuf) -> Result<MnistModel> {
    let shown = path.display().to_string();
    let (model, _) = tokio::task::spawn_blocking(move || checkpoint::load(&path))
        .await
        .context("loading the checkpoint")?
        .map_err(|e| CliError::Data(format!("{shown} (--model_path): {e}")))?;
    Ok(model)
}

/// The checkpoint at `--model_path`, or a model trained alone now (and saved there).
async fn miner_model(neuron: &NeuronSettings, train: Dataset) -> Result<MnistModel> {
    if let Some(p) = neuron.model_path.as_ref().filter(|p| p.exists()) {
        println!("Miner: serving the checkpoint {}", p.display());
        return load_checkpoint(p.clone()).await;
    }
    let cfg = TrainConfig::default();
    let (epochs, data) = if neuron.max_steps > 0 {
        (
            1,
            train.head(neuron.max_steps.saturating_mul(cfg.batch_size)),
        )
    } else {
        (neuron.epochs.max(1), train)
    };
    let save_to = neuron.model_path.clone();
    let seed = u64::from(neuron.axon_port);
    tokio::task::spawn_blocking(move || -> Result<MnistModel> {
        let mut model = MnistModel::new(seed);
        let mut steps = 0u64;
        for epoch in 0..epochs {
            let epoch_seed = seed.wrapping_add(epoch as u64);
            let report = bt_nn::train_epoch_alone(&mut model, &data, cfg, epoch_seed, |_, _| {})
                .map_err(|e| CliError::Data(format!("training the miner's model: {e}")))?;
            steps += report.steps;
            println!(
                "Miner: trained epoch {epoch} ({} steps) local loss {:.4}",
                report.steps, report.mean.local
            );
        }
        if let Some(path) = save_to {
            let state = bt_nn::TrainingState {
                epoch: epochs as u64,
                step: steps,
            };
            checkpoint::save(&model, state, &path)
                .map_err(|e| CliError::Data(format!("{} (--model_path): {e}", path.display())))?;
            println!("Checkpoint: {}", path.display());
        }
        Ok(model)
    })
    .await
    .context("training the miner's model")?
}
