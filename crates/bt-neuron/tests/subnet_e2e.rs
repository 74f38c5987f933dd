//! The one runtime on a subnet of the local chain: a miner keeps learning while it serves, and
//! a validator's weights on the chain are its router's peer scores.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bt_chain::{Keypair, NodeClient};
use bt_crypto::NeuronKey;
use bt_dendrite::{CallOptions, Dendrite, DendriteConfig, Endpoint, Inputs};
use bt_neuron::NeuronConfig;
use bt_neuron::runtime::seed_from_key;
use bt_neuron::subnet::{SubnetRole, TASK_FLOOR, run_subnet};
use bt_nn::mnist::CONTEXT_DIM;
use bt_nn::{Dataset, MnistModel, NeuronModel, default_mnist_dir};
use bt_tensor::{Modality, Tensor};

type Stop = tokio::sync::broadcast::Sender<()>;

fn stopper() -> Stop {
    tokio::sync::broadcast::channel::<()>(1).0
}

fn until(stop: &Stop) -> impl Future<Output = ()> + Send + 'static {
    let mut rx = stop.subscribe();
    async move {
        let _ = rx.recv().await;
    }
}

fn lines_after(net: &common::Net, marker: &str) -> Vec<String> {
    let all = net.lines.lock().unwrap().clone();
    match all.iter().position(|l| l.contains(marker)) {
        Some(i) => all[i + 1..].to_vec(),
        None => Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_miner_keeps_learning_while_it_serves() {
    const STEPS: usize = 300;
    let net = common::Net::start().await;
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("miner.safetensors");
    let miner_hot = Keypair::dev("learning-miner-hot");
    let mut settings = net.settings(miner_hot.clone(), 1);
    settings.coldkey = Some(net.funded_coldkey("learning-miner-cold").await);
    let start_model = MnistModel::new(seed_from_key(&settings.neuron_key.public_hex()));
    let cfg = NeuronConfig {
        max_steps: STEPS,
        model_path: Some(checkpoint.clone()),
        ..NeuronConfig::default()
    };
    let stop = stopper();
    let miner = tokio::spawn(run_subnet(cfg, settings, SubnetRole::Miner, until(&stop)));

    let axon = common::poll(Duration::from_secs(60), || async {
        let mg = net.chain.metagraph(net.netuid).await.ok()?;
        mg.uid_of(&miner_hot.account())
            .and_then(|u| mg.axons[usize::from(u)].clone())
    })
    .await
    .unwrap_or_else(|e| panic!("miner never served: {e}\n{}", net.dump()));
    let ep = Endpoint::new(
        axon.ip_addr().to_string(),
        axon.port,
        axon.identity.synapse_key_hex(),
    );
    let validator_key = NeuronKey::from_seed([9; 32]);
    net.bind_validator_key(&validator_key).await;
    let dendrite = Dendrite::new(validator_key, DendriteConfig::default());
    let images = Tensor::from_f32_vec(&[4, 784], vec![0.3; 4 * 784], Modality::Image).unwrap();
    let ask = || async {
        let opts = CallOptions {
            timeout: Some(Duration::from_secs(10)),
            output_dims: Some(vec![CONTEXT_DIM]),
            ..CallOptions::default()
        };
        let call = Inputs::broadcast([ep.clone()], images.clone());
        let mut r = dendrite.forward(Modality::Image, call, &opts).await.ok()?;
        r.remove(0).outcome.into_tensor()
    };

    // The miner answers the permitted validator while it is still training...
    let during = common::poll(Duration::from_secs(60), ask)
        .await
        .unwrap_or_else(|e| panic!("the miner never answered: {e}\n{}", net.dump()));
    assert_eq!(during.shape(), [4, CONTEXT_DIM]);
    let trained_while_serving = !net.dump().contains("training done");
    // ...and once training is done it serves the model it saved.
    common::poll(Duration::from_secs(240), || async {
        net.dump().contains("Miner: training done").then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("the miner never finished training: {e}\n{}", net.dump()));
    let after = ask().await.expect("the miner serves after training");
    let (_, test) = tokio::task::spawn_blocking(|| Dataset::load_dir(default_mnist_dir()))
        .await
        .unwrap()
        .unwrap();
    let (saved, state) = bt_nn::checkpoint::load::<MnistModel>(&checkpoint).unwrap();
    assert_eq!(state.step, STEPS as u64);
    let served_now = MnistModel::INPUT.from_wire(&images).unwrap().1;
    assert_eq!(
        after.to_f32_vec().unwrap(),
        saved.encode(&served_now).unwrap(),
        "the axon serves the checkpointed model"
    );
    let start_acc = bt_nn::accuracy(&start_model, &test).unwrap();
    let end_acc = bt_nn::accuracy(&saved, &test).unwrap();
    eprintln!(
        "miner test accuracy {start_acc:.3} -> {end_acc:.3} over {STEPS} steps; answered during training: {trained_while_serving}"
    );
    assert!(
        end_acc >= start_acc + 0.5,
        "accuracy {start_acc:.3} -> {end_acc:.3}"
    );
    assert!(
        lines_after(&net, "Miner: uid")
            .iter()
            .any(|l| l.starts_with("Miner: block")),
        "the miner role reports while it runs:\n{}",
        net.dump()
    );

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), miner)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    net.node.shutdown().await;
}

/// Parses `Validator: block B router 1:0.512 2:0.488 task 1:0.903 2:0.870` into the router's
/// scores and the task's.
type Row = Vec<(u16, f64)>;

fn router_and_task(line: &str) -> (Row, Row) {
    let pairs = |text: &str| -> Row {
        text.split_whitespace()
            .filter_map(|p| {
                let (u, w) = p.split_once(':')?;
                Some((u.parse().ok()?, w.parse().ok()?))
            })
            .collect()
    };
    let rest = line.split_once(" router").map_or("", |(_, r)| r);
    let (router, task) = rest.split_once(" task").unwrap_or((rest, ""));
    (pairs(router), pairs(task))
}

fn normalized(row: &[(u16, f64)]) -> Vec<(u16, f64)> {
    let sum: f64 = row.iter().map(|(_, w)| w).sum();
    row.iter().map(|(u, w)| (*u, w / sum)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validator_sets_its_router_scores_as_weights() {
    let net = common::Net::start().await;
    let stop = stopper();
    let mut tasks = Vec::new();
    // Both miners learn enough to pass the task check, so every router score is a weight.
    for (i, steps) in [(0u8, 80usize), (1, 60)] {
        let hot = Keypair::dev(&format!("router-miner-hot-{i}"));
        let mut s = net.settings(hot, 1 + i);
        s.coldkey = Some(net.funded_coldkey(&format!("router-miner-cold-{i}")).await);
        let cfg = NeuronConfig {
            max_steps: steps,
            ..NeuronConfig::default()
        };
        tasks.push(tokio::spawn(run_subnet(
            cfg,
            s,
            SubnetRole::Miner,
            until(&stop),
        )));
    }
    // The validator trains long enough for its router to meet both miners, then stops
    // training, so its scores no longer move while weights are set.
    let cfg = NeuronConfig {
        max_steps: 120,
        wait_for_peers: 0,
        ..NeuronConfig::default()
    };
    let settings = net.settings(net.validator_hot.clone(), 10);
    tasks.push(tokio::spawn(run_subnet(
        cfg,
        settings,
        SubnetRole::Validator,
        until(&stop),
    )));

    let (router, set) = common::poll(Duration::from_secs(300), || async {
        let after = lines_after(&net, "Validator: training done");
        let router = after.iter().rev().find(|l| l.contains(" router "))?.clone();
        let set = after.iter().find(|l| l.contains("set_weights ok"))?.clone();
        Some((router, set))
    })
    .await
    .unwrap_or_else(|e| panic!("no weights after training: {e}\n{}", net.dump()));
    let mg = net.chain.metagraph(net.netuid).await.unwrap();
    let chain_row: Vec<(u16, f64)> = mg.weights[0]
        .iter()
        .map(|(u, w)| (*u, f64::from(*w)))
        .collect();
    let (router_row, task) = router_and_task(&router);
    eprintln!("router: {router}\nset: {set}\nchain row: {chain_row:?}");
    assert_eq!(router_row.len(), 2, "both miners are scored: {router}");
    let floor = TASK_FLOOR * task.iter().map(|(_, t)| *t).fold(0.0, f64::max);
    assert!(
        task.len() == 2 && task.iter().all(|(_, t)| *t >= floor),
        "both miners pass the task check: {router}"
    );
    let (expect, got) = (normalized(&router_row), normalized(&chain_row));
    assert_eq!(
        expect.iter().map(|(u, _)| u).collect::<Vec<_>>(),
        got.iter().map(|(u, _)| u).collect::<Vec<_>>()
    );
    for ((_, a), (_, b)) in expect.iter().zip(&got) {
        // the router line prints three decimals; the chain stores u16 fractions
        assert!((a - b).abs() < 2e-3, "router {expect:?} vs chain {got:?}");
    }

    stop.send(()).unwrap();
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(30), t)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
    net.node.shutdown().await;
}
