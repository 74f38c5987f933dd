//! The subnet end to end: a local chain (150 ms blocks, tempo 4), one validator and three
//! miners whose models were trained for 0, 60 and 120 steps. The validator scores them every
//! round and sets weights every tempo; Yuma consensus must rank their incentive by quality.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bt_chain::{Chain, Keypair, Metagraph};
use bt_neuron::subnet::{MinerConfig, ValidatorConfig, run_miner, run_validator};
use bt_nn::{Dataset, MnistModel, TrainConfig, default_mnist_dir, train_epoch_alone};

/// Models after 0, 60 and 120 SGD steps of 32 images (one training run, two snapshots).
fn models(train: &Dataset) -> [MnistModel; 3] {
    let untrained = MnistModel::new(1);
    let mut short = untrained.clone();
    let cfg = TrainConfig {
        batch_size: 32,
        ..TrainConfig::default()
    };
    train_epoch_alone(&mut short, &train.head(60 * 32), cfg, 1, |_, _| {}).unwrap();
    let mut long = short.clone();
    train_epoch_alone(&mut long, &train.head(60 * 32), cfg, 2, |_, _| {}).unwrap();
    [untrained, short, long]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn best_miner_earns_the_most_incentive() {
    let started = Instant::now();
    let (train, test) = tokio::task::spawn_blocking(|| Dataset::load_dir(default_mnist_dir()))
        .await
        .unwrap()
        .unwrap();
    eprintln!("data: {:?}", started.elapsed());
    let trained = tokio::task::spawn_blocking(move || models(&train));
    let net = common::Net::start().await;
    let netuid = net.netuid;
    let [worst, mid, best] = trained.await.unwrap();
    eprintln!("data + training: {:?}", started.elapsed());

    let (stop, _) = tokio::sync::broadcast::channel::<()>(1);
    let shutdown = |stop: &tokio::sync::broadcast::Sender<()>| {
        let mut rx = stop.subscribe();
        async move {
            let _ = rx.recv().await;
        }
    };
    let mut tasks = Vec::new();
    let mut miner_hotkeys = Vec::new();
    for (i, model) in [worst, mid, best].into_iter().enumerate() {
        let hot = Keypair::dev(&format!("miner-hot-{i}"));
        miner_hotkeys.push(hot.account());
        let mut s = net.settings(hot, 1 + i as u8);
        s.coldkey = Some(net.funded_coldkey(&format!("miner-cold-{i}")).await);
        tasks.push(tokio::spawn(run_miner(
            MinerConfig::new(s),
            model,
            shutdown(&stop),
        )));
    }
    let mut vcfg =
        ValidatorConfig::new(net.settings(net.validator_hot.clone(), 10), Arc::new(test));
    vcfg.batch_size = 32;
    vcfg.round_interval = Duration::from_millis(200);
    vcfg.query_timeout = Duration::from_secs(10);
    vcfg.ema_alpha = 0.5;
    tasks.push(tokio::spawn(run_validator(
        vcfg,
        MnistModel::new(99),
        shutdown(&stop),
    )));

    // Incentive in quality order: best > mid > worst (all three registered and served).
    let ranked = |mg: &Metagraph| -> Option<[u16; 3]> {
        let mut inc = [0u16; 3];
        for (slot, hot) in inc.iter_mut().zip(&miner_hotkeys) {
            *slot = mg.incentive[usize::from(mg.uid_of(hot)?)];
        }
        (inc[2] > inc[1] && inc[1] > inc[0]).then_some(inc)
    };
    let last = std::sync::Mutex::new(None);
    let (mg, found) = common::poll(Duration::from_secs(60), || async {
        let mg = net.chain.metagraph(netuid).await.ok()?;
        let found = ranked(&mg);
        *last.lock().unwrap() = Some(mg.incentive.clone());
        found.map(|f| (mg, f))
    })
    .await
    .unwrap_or_else(|e| {
        panic!(
            "incentive never ranked the miners: {e}\nlast metagraph incentive {:?}\n{}",
            last.lock().unwrap(),
            net.dump()
        )
    });
    eprintln!(
        "ranked after {:?} at block {}: incentive (worst, mid, best) = {found:?}",
        started.elapsed(),
        mg.block,
    );
    // The validator's weights on chain say the same.
    let row = &mg.weights[0];
    eprintln!(
        "validator row {row:?}; miner uids {:?}; permits {:?}; stake {:?}",
        miner_hotkeys
            .iter()
            .map(|h| mg.uid_of(h))
            .collect::<Vec<_>>(),
        mg.validator_permit,
        mg.stake
    );
    let w = |hot| {
        let uid = mg.uid_of(hot).unwrap();
        row.iter().find(|(u, _)| *u == uid).map_or(0, |(_, v)| *v)
    };
    assert!(w(&miner_hotkeys[2]) > w(&miner_hotkeys[1]));
    assert!(w(&miner_hotkeys[1]) > w(&miner_hotkeys[0]));
    let lines = net.dump();
    for l in lines
        .lines()
        .filter(|l| l.contains("set_weights"))
        .rev()
        .take(3)
    {
        eprintln!("{l}");
    }
    if let Some(l) = lines.lines().rev().find(|l| l.contains("scores")) {
        eprintln!("{l}");
    }
    assert!(lines.contains("set_weights ok"), "{lines}");
    assert!(lines.contains("Miner: uid"), "{lines}");

    stop.send(()).unwrap();
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(20), t)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
    net.node.shutdown().await;
    eprintln!("total: {:?}", started.elapsed());
}
