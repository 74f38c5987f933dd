//! `bittensor neuron mnist --chain_endpoint … --netuid N --role miner|validator`: the one
//! runtime on a subnet. The neuron joins (registering if asked), serves its model behind the
//! role's policy, trains with the Release 1 loop (its peers are the subnet's other served
//! axons) and runs its role beside training; after training it keeps serving until stopped.

use std::future::Future;
use std::sync::Arc;

use bt_dendrite::Dendrite;
use bt_nn::MnistModel;

use crate::config::NeuronConfig;
use crate::error::{NeuronError, Stopped};
use crate::metrics::{NeuronInfo, SubnetInfo};
use crate::report::Ready;
use crate::role::Role;
use crate::runtime::{Neuron, load_data, load_model, save_trained, train_on};
use crate::served::ServedModel;
use crate::subnet::miner::Miner;
use crate::subnet::neuron::{Joined, NeuronSettings, SubnetRole, join};
use crate::subnet::task::Classifier;
use crate::subnet::validator::Validator;

/// Deadline of a validator's task query.
const QUERY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs a subnet neuron until `shutdown` resolves: `cfg` holds the neuron's own flags (data,
/// checkpoint, steps), `settings` the chain, wallet, keys and axon ones.
pub async fn run_subnet(
    cfg: NeuronConfig,
    settings: NeuronSettings,
    role: SubnetRole,
    shutdown: impl Future<Output = ()>,
) -> Result<Stopped, NeuronError> {
    let bt_nn::TrainingData { train, test, .. } =
        load_data::<MnistModel>(cfg.data_dir.clone()).await?;
    let (model, start) =
        load_model::<MnistModel>(cfg.model_path.clone(), &settings.neuron_key.public_hex()).await?;
    let served = Arc::new(ServedModel::new(model.clone()));
    let task = Arc::new(Classifier::new(served.clone()));
    let joined = join(role, &settings, served.clone(), task).await?;
    announce(&settings, role, &joined);
    let (uid, permits, http_axon) = (joined.uid, joined.permits, joined.http);
    let (progress, interval) = (settings.progress.clone(), settings.refresh_interval);
    let source = Arc::new(joined.source);
    let mut neuron = Neuron::assemble(
        served,
        source.clone(),
        joined.axon,
        settings.synapse_key.to_hex(),
        Dendrite::new(settings.neuron_key, cfg.dendrite_config()),
        cfg.metagraph_size,
        None,
    )?;
    let scores = neuron.take_scores().ok_or(NeuronError::TrainerTaken)?;

    match role {
        SubnetRole::Miner => {
            let miner = Miner {
                uid,
                permits,
                progress: progress.clone(),
                interval,
            };
            neuron.spawn(miner.run(source, scores));
        }
        SubnetRole::Validator => {
            let validator = Validator {
                uid,
                permits,
                progress: progress.clone(),
                interval,
                dendrite: neuron.dendrite(),
                data: Arc::new(test.clone()),
                query_timeout: QUERY_TIMEOUT,
            };
            neuron.spawn(validator.run(source, scores));
        }
    }
    tokio::pin!(shutdown);
    let trained = match train_on(
        &mut neuron,
        &cfg,
        model,
        start,
        train,
        test,
        shutdown.as_mut(),
    )
    .await
    {
        Ok(trained) => trained,
        Err(e) => {
            neuron.shutdown().await;
            return Err(e);
        }
    };
    let (interrupted, steps) = (trained.interrupted, trained.step);
    if let Err(e) = save_trained(cfg.model_path.clone(), trained).await {
        neuron.shutdown().await;
        return Err(e);
    }
    if !interrupted {
        (progress)(&format!(
            "{}: training done after {} steps; serving until stopped",
            role.label(),
            steps
        ));
        shutdown.await;
    }
    neuron.shutdown().await;
    if let Some(http) = http_axon {
        http.shutdown().await;
    }
    Ok(Stopped::Interrupted)
}

/// Names the neuron's uid on its metrics (`bt_neuron_info`, for a dashboard) and prints the
/// ready line a supervisor reads (`localnet --chain`), as a gossip neuron does once it serves.
fn announce(settings: &NeuronSettings, role: SubnetRole, joined: &Joined) {
    let port = settings
        .external_port
        .unwrap_or(joined.axon.local_addr().port());
    let axon = std::net::SocketAddr::new(settings.external_ip, port).to_string();
    let (neuron_key, synapse_key) = (
        settings.neuron_key.public_hex(),
        settings.synapse_key.to_hex(),
    );
    joined
        .axon
        .metrics_registry()
        .register(Arc::new(NeuronInfo {
            neuron_key: neuron_key.clone(),
            synapse_key: synapse_key.clone(),
            axon: axon.clone(),
            metagraph: None,
            subnet: Some(SubnetInfo {
                netuid: settings.netuid,
                uid: joined.uid,
                role: match role {
                    SubnetRole::Miner => "miner",
                    SubnetRole::Validator => "validator",
                },
                hotkey: settings.hotkey.account().to_ss58(),
            }),
        }));
    let ready = Ready {
        neuron_key,
        synapse_keys: vec![synapse_key],
        axon,
        metagraph: settings.chain.endpoint().to_string(),
        metrics: joined.axon.metrics_addr().map(|a| a.to_string()),
        uid: Some(joined.uid),
    };
    (settings.progress)(&ready.to_string());
}
