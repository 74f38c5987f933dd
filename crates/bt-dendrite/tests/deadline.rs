//! The caller's deadline reaches the server as `grpc-timeout`, and a slow peer costs the
//! deadline, not the peer's delay.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use bt_dendrite::{CallOptions, Dendrite, DendriteConfig, Endpoint, Inputs, Outcome};
use bt_tensor::{Modality, Tensor};
use support::Behaviour;

fn x() -> Tensor {
    Tensor::from_f32(&[2, 4], &[0.5; 8], Modality::Tensor).unwrap()
}

/// `grpc-timeout` is `<digits><unit>` (H, M, S, m, u, n).
fn parse_grpc_timeout(v: &str) -> Duration {
    let (digits, unit) = v.split_at(v.len() - 1);
    let n: u64 = digits.parse().unwrap();
    match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        other => panic!("bad grpc-timeout unit {other}"),
    }
}

#[tokio::test]
async fn the_server_sees_the_callers_deadline() {
    let server = support::start(Behaviour::Echo).await;
    let dendrite = Dendrite::new(bt_crypto::NeuronKey::generate(), DendriteConfig::default());
    let ep = Endpoint::new("127.0.0.1", server.addr.port(), "0xab");
    let opts = CallOptions {
        timeout: Some(Duration::from_millis(1500)),
        ..Default::default()
    };
    let replies = dendrite
        .forward(Modality::Tensor, Inputs::broadcast([ep], x()), &opts)
        .await
        .unwrap();
    assert!(replies[0].outcome.is_ok(), "{}", replies[0].outcome);

    let seen = server.seen();
    let header = seen[0]
        .grpc_timeout
        .as_deref()
        .expect("no grpc-timeout header");
    let budget = parse_grpc_timeout(header);
    assert!(budget <= Duration::from_millis(1500), "{budget:?}");
    assert!(
        budget > Duration::from_millis(500),
        "{budget:?}: most of the budget must remain"
    );
}

#[tokio::test]
async fn a_slow_peer_times_out_at_the_deadline_not_at_its_leisure() {
    let server = support::start(Behaviour::Slow(Duration::from_secs(60))).await;
    let dendrite = Dendrite::new(bt_crypto::NeuronKey::generate(), DendriteConfig::default());
    let ep = Endpoint::new("127.0.0.1", server.addr.port(), "0xab");
    let opts = CallOptions {
        timeout: Some(Duration::from_millis(200)),
        ..Default::default()
    };
    let replies = dendrite
        .forward(Modality::Tensor, Inputs::broadcast([ep], x()), &opts)
        .await
        .unwrap();
    assert!(
        matches!(replies[0].outcome, Outcome::Timeout),
        "{}",
        replies[0].outcome
    );
    // Generous margin: this checks that we do not wait for the peer's 60 s, not our speed.
    assert!(replies[0].elapsed >= Duration::from_millis(200));
    assert!(
        replies[0].elapsed < Duration::from_secs(10),
        "{:?}",
        replies[0].elapsed
    );
}

#[tokio::test]
async fn a_silent_listener_times_out() {
    let (addr, _hole) = support::black_hole().await;
    let dendrite = Dendrite::new(bt_crypto::NeuronKey::generate(), DendriteConfig::default());
    let ep = Endpoint::new("127.0.0.1", addr.port(), "0xab");
    let opts = CallOptions {
        timeout: Some(Duration::from_millis(200)),
        ..Default::default()
    };
    let replies = dendrite
        .forward(Modality::Tensor, Inputs::broadcast([ep], x()), &opts)
        .await
        .unwrap();
    assert!(
        matches!(replies[0].outcome, Outcome::Timeout),
        "{}",
        replies[0].outcome
    );
}
