//! The connection pool never holds more than `max_connections` and drops idle connections.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use bt_dendrite::{Dendrite, DendriteConfig, Endpoint, Inputs};
use bt_tensor::{Modality, Tensor};
use support::Behaviour;

#[tokio::test]
async fn the_pool_stays_within_its_bound_and_calls_still_succeed() {
    let mut servers = Vec::new();
    for _ in 0..6 {
        servers.push(support::start(Behaviour::Echo).await);
    }
    let config = DendriteConfig {
        max_connections: 2,
        ..Default::default()
    };
    let dendrite = Dendrite::new(bt_crypto::NeuronKey::generate(), config);
    let x = Tensor::from_f32(&[1, 3], &[1.0; 3], Modality::Tensor).unwrap();
    for round in 0..3 {
        for s in &servers {
            let ep = Endpoint::new("127.0.0.1", s.addr.port(), "0xab");
            let r = dendrite
                .forward_tensor(Inputs::broadcast([ep], x.clone()))
                .await
                .unwrap()
                .remove(0);
            assert!(r.outcome.is_ok(), "round {round}: {}", r.outcome);
            assert!(dendrite.connections() <= 2, "{}", dendrite.connections());
        }
    }
    // All at once: more axons than pool slots in one fan-out.
    let eps: Vec<Endpoint> = servers
        .iter()
        .map(|s| Endpoint::new("127.0.0.1", s.addr.port(), "0xab"))
        .collect();
    let replies = dendrite
        .forward_tensor(Inputs::broadcast(eps, x))
        .await
        .unwrap();
    assert!(replies.iter().all(|r| r.outcome.is_ok()));
    assert!(dendrite.connections() <= 2);
}

#[tokio::test]
async fn idle_connections_are_dropped() {
    let server = support::start(Behaviour::Echo).await;
    let config = DendriteConfig {
        idle_timeout: Duration::from_millis(50),
        ..Default::default()
    };
    let dendrite = Dendrite::new(bt_crypto::NeuronKey::generate(), config);
    let ep = Endpoint::new("127.0.0.1", server.addr.port(), "0xab");
    let x = Tensor::from_f32(&[1, 3], &[1.0; 3], Modality::Tensor).unwrap();
    let r = dendrite
        .forward_tensor(Inputs::broadcast([ep], x))
        .await
        .unwrap();
    assert!(r[0].outcome.is_ok());
    assert_eq!(dendrite.connections(), 1);
    bt_testnet::eventually(Duration::from_secs(5), || {
        dendrite.expire_idle();
        dendrite.connections() == 0
    })
    .await
    .expect("idle connection was never dropped");
}
