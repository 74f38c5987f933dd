//! One forward reaches many synapses at once; every input gets its own outcome, in input
//! order, and the slowest peer costs the deadline, not the sum of all peers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use bt_dendrite::{CallOptions, Dendrite, DendriteConfig, Endpoint, Inputs, Outcome};
use bt_tensor::{Modality, Tensor};
use support::Behaviour;

#[tokio::test]
async fn per_peer_sub_batches_come_back_to_the_right_caller() {
    let a = support::start(Behaviour::Echo).await;
    let b = support::start(Behaviour::Echo).await;
    let dendrite = Dendrite::new(bt_crypto::NeuronKey::generate(), DendriteConfig::default());
    // Like a sparse router: each peer gets its own rows.
    let calls: Vec<(Endpoint, Tensor)> = (0..40)
        .map(|i| {
            let server = if i % 2 == 0 { &a } else { &b };
            let rows = 1 + i % 5;
            let x =
                Tensor::from_f32(&[rows, 2], &vec![i as f32; rows * 2], Modality::Tensor).unwrap();
            (
                Endpoint::new("127.0.0.1", server.addr.port(), format!("0x{i:02x}")),
                x,
            )
        })
        .collect();
    let replies = dendrite.forward_tensor(calls).await.unwrap();
    assert_eq!(replies.len(), 40);
    for (i, r) in replies.iter().enumerate() {
        let y = r
            .outcome
            .tensor()
            .unwrap_or_else(|| panic!("{i}: {}", r.outcome));
        assert_eq!(y.shape(), &[1 + i % 5, 2]);
        assert!(y.to_f32_vec().unwrap().iter().all(|&v| v == i as f32));
    }
    // Each server saw its own synapse keys, each call once.
    assert_eq!(a.seen().len() + b.seen().len(), 40);
    assert!(a.seen().iter().all(|s| {
        let i = usize::from_str_radix(&s.synapse_key[2..], 16).unwrap();
        i % 2 == 0
    }));
}

#[tokio::test]
async fn healthy_slow_dead_and_silent_peers_in_one_fan_out() {
    let good = support::start(Behaviour::Echo).await;
    let slow = support::start(Behaviour::Hang).await;
    let (hole, _hole_task) = support::black_hole().await;
    let dead = support::dead_port().await;
    let dendrite = Dendrite::new(bt_crypto::NeuronKey::generate(), DendriteConfig::default());

    let mut eps = Vec::new();
    for i in 0..100 {
        let port = match i % 10 {
            0 => slow.addr.port(),
            1 => hole.port(),
            2 => dead,
            _ => good.addr.port(),
        };
        eps.push(Endpoint::new("127.0.0.1", port, format!("0x{i:03x}")));
    }
    let x = Tensor::from_f32(&[4, 8], &[0.5; 32], Modality::Tensor).unwrap();
    let opts = CallOptions {
        timeout: Some(Duration::from_millis(300)),
        output_dims: Some(vec![8]),
        ..CallOptions::default()
    };
    let started = tokio::time::Instant::now();
    let replies = dendrite
        .forward(Modality::Tensor, Inputs::broadcast(eps, x), &opts)
        .await
        .unwrap();
    let total = started.elapsed();

    for (i, r) in replies.iter().enumerate() {
        match i % 10 {
            0 | 1 => assert!(matches!(r.outcome, Outcome::Timeout), "{i}: {}", r.outcome),
            2 => assert!(
                matches!(r.outcome, Outcome::Unavailable(_)),
                "{i}: {}",
                r.outcome
            ),
            _ => assert!(r.outcome.is_ok(), "{i}: {}", r.outcome),
        }
    }
    // Concurrency, not speed: sequential calls would take 20 × 300 ms for the timeouts alone.
    assert!(total < Duration::from_secs(3), "{total:?}");
}

#[tokio::test]
async fn an_empty_fan_out_returns_nothing() {
    let dendrite = Dendrite::new(bt_crypto::NeuronKey::generate(), DendriteConfig::default());
    let x = Tensor::from_f32(&[1, 1], &[0.0], Modality::Tensor).unwrap();
    let replies = dendrite
        .forward_tensor(Inputs::broadcast(Vec::new(), x))
        .await
        .unwrap();
    assert!(replies.is_empty());
}

#[tokio::test]
async fn the_wrong_modality_is_a_caller_error() {
    let dendrite = Dendrite::new(bt_crypto::NeuronKey::generate(), DendriteConfig::default());
    let x = Tensor::from_f32(&[1, 1], &[0.0], Modality::Tensor).unwrap();
    let ep = Endpoint::new("127.0.0.1", 9, "0xab");
    let err = dendrite
        .forward_image(Inputs::broadcast([ep], x))
        .await
        .unwrap_err();
    assert!(
        matches!(err, bt_dendrite::DendriteError::Modality { index: 0, .. }),
        "{err}"
    );
}
