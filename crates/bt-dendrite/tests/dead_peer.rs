//! A dead peer costs one fast failure per call, then no dial at all while its circuit is open,
//! and is tried again (half-open) after the backoff.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use bt_dendrite::{
    BreakerConfig, Dendrite, DendriteConfig, Endpoint, Inputs, Outcome, Unavailable,
};
use bt_tensor::{Modality, Tensor};
use support::Behaviour;

fn x() -> Tensor {
    Tensor::from_f32(&[1, 4], &[1.0; 4], Modality::Tensor).unwrap()
}

fn config() -> DendriteConfig {
    DendriteConfig {
        timeout: Duration::from_secs(5),
        breaker: BreakerConfig {
            failure_threshold: 2,
            open_base: Duration::from_millis(100),
            open_max: Duration::from_millis(400),
        },
        ..Default::default()
    }
}

async fn once(d: &Dendrite, ep: &Endpoint) -> bt_dendrite::Reply {
    d.forward_tensor(Inputs::broadcast([ep.clone()], x()))
        .await
        .unwrap()
        .remove(0)
}

#[tokio::test]
async fn refused_connection_is_unavailable_then_the_circuit_opens() {
    let port = support::dead_port().await;
    let dendrite = Dendrite::new(bt_crypto::NeuronKey::generate(), config());
    let ep = Endpoint::new("127.0.0.1", port, "0xab");

    let first = once(&dendrite, &ep).await;
    assert!(
        matches!(first.outcome, Outcome::Unavailable(Unavailable::Connect(_))),
        "{}",
        first.outcome
    );
    // A refused dial is answered by the kernel; the call must not wait for its 5 s deadline.
    assert!(
        first.elapsed < Duration::from_secs(2),
        "{:?}",
        first.elapsed
    );
    assert!(!dendrite.is_circuit_open(&ep));

    let second = once(&dendrite, &ep).await;
    assert!(matches!(
        second.outcome,
        Outcome::Unavailable(Unavailable::Connect(_))
    ));
    assert!(dendrite.is_circuit_open(&ep));

    let third = once(&dendrite, &ep).await;
    assert!(
        matches!(
            third.outcome,
            Outcome::Unavailable(Unavailable::CircuitOpen { .. })
        ),
        "{}",
        third.outcome
    );
}

#[tokio::test]
async fn many_calls_to_one_dead_axon_share_one_failed_dial() {
    let port = support::dead_port().await;
    let dendrite = Dendrite::new(bt_crypto::NeuronKey::generate(), config());
    let eps: Vec<Endpoint> = (0..50)
        .map(|i| Endpoint::new("127.0.0.1", port, format!("0x{i:02x}")))
        .collect();
    let replies = dendrite
        .forward_tensor(Inputs::broadcast(eps, x()))
        .await
        .unwrap();
    assert_eq!(replies.len(), 50);
    for r in &replies {
        assert!(
            matches!(r.outcome, Outcome::Unavailable(_)),
            "{}",
            r.outcome
        );
    }
}

#[tokio::test]
async fn half_open_probe_reconnects_when_the_peer_comes_back() {
    let port = support::dead_port().await;
    let dendrite = Dendrite::new(bt_crypto::NeuronKey::generate(), config());
    let ep = Endpoint::new("127.0.0.1", port, "0xab");
    for _ in 0..2 {
        once(&dendrite, &ep).await;
    }
    assert!(dendrite.is_circuit_open(&ep));

    // The peer comes back on the same port.
    let server = support::start_on(port, Behaviour::Echo).await;
    let mut last = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut recovered = false;
    while tokio::time::Instant::now() < deadline {
        let r = once(&dendrite, &ep).await;
        if r.outcome.is_ok() {
            recovered = true;
            break;
        }
        last = r.outcome.to_string();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(recovered, "never recovered; last outcome: {last}");
    assert!(!dendrite.is_circuit_open(&ep));
    assert!(!server.seen().is_empty());
}

#[tokio::test]
async fn a_peer_that_dies_is_reported_and_redialed() {
    let server = support::start(Behaviour::Echo).await;
    let port = server.addr.port();
    let dendrite = Dendrite::new(bt_crypto::NeuronKey::generate(), config());
    let ep = Endpoint::new("127.0.0.1", port, "0xab");
    assert!(once(&dendrite, &ep).await.outcome.is_ok());

    drop(server);
    // The server's shutdown is asynchronous: poll until calls fail.
    let mut failed = None;
    for _ in 0..500 {
        let r = once(&dendrite, &ep).await;
        if !r.outcome.is_ok() {
            failed = Some(r.outcome);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let failed = failed.expect("calls kept succeeding after the server stopped");
    assert!(
        matches!(failed, Outcome::Unavailable(_) | Outcome::Rejected { .. }),
        "{failed}"
    );
}
