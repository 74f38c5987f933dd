//! Two MNIST neurons in one process, on real sockets: they find each other by gossip, route
//! batches to each other, send each other gradients and keep finite losses.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bt_neuron::identity::load_identity;
use bt_neuron::trainer::TrainerConfig;
use bt_neuron::{Neuron, NeuronConfig, RemoteLearning};
use bt_nn::{Dataset, MnistModel, TrainConfig, default_mnist_dir};
use bt_testnet::eventually;

const WAIT: Duration = Duration::from_secs(30);
const STEPS: usize = 24;

#[derive(Debug, Clone, Copy)]
struct Seen {
    peers: usize,
    synapses: usize,
    answered: usize,
    total_loss: f32,
}

fn config(bootstrap: Vec<String>) -> NeuronConfig {
    NeuronConfig {
        remote_ip: Some("127.0.0.1".into()),
        gossip_interval: Duration::from_millis(100),
        bootstrap,
        ..NeuronConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_neurons_find_route_to_and_train_with_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let learning = Some(RemoteLearning::default());

    let cfg_a = config(vec![]);
    let id_a = load_identity(&dir.path().join("a.key")).unwrap();
    let mut a = Neuron::start(&cfg_a, &id_a, MnistModel::new(1), learning)
        .await
        .unwrap();
    let cfg_b = config(vec![a.source.local_addr().to_string()]);
    let id_b = load_identity(&dir.path().join("b.key")).unwrap();
    let mut b = Neuron::start(&cfg_b, &id_b, MnistModel::new(2), learning)
        .await
        .unwrap();
    eventually(WAIT, || {
        a.source.counts() == (1, 2) && b.source.counts() == (1, 2)
    })
    .await
    .unwrap();

    let (train, test) = Dataset::load_dir(default_mnist_dir()).unwrap();
    let train = Arc::new(train.head(16 * STEPS));
    let test = Arc::new(test.head(64));
    let mut runs = Vec::new();
    for (i, neuron) in [&mut a, &mut b].into_iter().enumerate() {
        let cfg = TrainerConfig {
            train: TrainConfig {
                batch_size: 16,
                ..TrainConfig::default()
            },
            max_steps: STEPS,
            log_every: 8,
            seed: i as u64,
            ..TrainerConfig::default()
        };
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let trainer = neuron
            .trainer(cfg, MnistModel::new(10 + i as u64))
            .unwrap()
            .with_hook(move |e| {
                record.lock().unwrap().push(Seen {
                    peers: e.peers,
                    synapses: e.synapses,
                    answered: e.answered,
                    total_loss: e.losses.total(),
                });
            });
        let (train, test) = (train.clone(), test.clone());
        let handle = tokio::task::spawn_blocking(move || trainer.run(&train, &test, 0, 0));
        runs.push((handle, seen));
    }
    for (handle, seen) in runs {
        let result = handle.await.unwrap().unwrap();
        assert_eq!(result.step as usize, STEPS);
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), STEPS);
        assert!(seen.iter().all(|s| s.total_loss.is_finite()), "{seen:?}");
        let last = seen.last().unwrap();
        assert_eq!((last.peers, last.synapses), (1, 2), "{seen:?}");
        // the other neuron answered this one's routed batches
        assert!(seen.iter().any(|s| s.answered == 1), "{seen:?}");
    }
    // each routed step queued a Backward to the other neuron
    eventually(WAIT, || {
        a.stats.sent.load(Ordering::Relaxed) > 0 && b.stats.sent.load(Ordering::Relaxed) > 0
    })
    .await
    .unwrap();
    a.shutdown().await;
    b.shutdown().await;
}
