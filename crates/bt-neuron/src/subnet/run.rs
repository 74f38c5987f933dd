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
use crate::role::Role;
use crate::runtime::{Neuron, load_data, load_model, save_trained, train_on};
use crate::served::ServedModel;
use crate::subnet::miner::Miner;
use crate::subnet::neuron::{NeuronSettings, SubnetRole, join};
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
