//! The dendrite and the v2 request digest, against the project's axon: v2 once the axon says it
//! accepts it (so an axon requiring v2 serves it from the first call, retried), v1 for a
//! dendrite configured as one that predates v2, and back to v1 where the axon refuses the
//! endpoint dialled (a port forward it was not told of).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use bt_axon::{AxonConfig, AxonHandle};
use bt_crypto::NeuronKey;
use bt_dendrite::{Dendrite, DendriteConfig, Endpoint, Inputs, Outcome};
use bt_tensor::{Modality, Tensor};
use tonic::Code;

async fn axon(require_digest_v2: bool) -> (AxonHandle, String) {
    support::echo_axon(AxonConfig {
        require_digest_v2,
        ..Default::default()
    })
    .await
}

fn dendrite(sessions: bool, digest_v2: bool) -> Dendrite {
    let config = DendriteConfig {
        sessions,
        digest_v2,
        timeout: Duration::from_secs(5),
        ..Default::default()
    };
    Dendrite::new(NeuronKey::generate(), config)
}

async fn call(d: &Dendrite, endpoint: &Endpoint) -> Outcome {
    let x = Tensor::from_f32(&[1, 3], &[1.0, 2.0, 3.0], Modality::Tensor).unwrap();
    d.forward_tensor(Inputs::broadcast([endpoint.clone()], x))
        .await
        .unwrap()
        .remove(0)
        .outcome
}

/// Accepts on 127.0.0.1 and forwards every connection to `to`, as a NAT's port forward would.
async fn port_forward(to: SocketAddr) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn an_axon_requiring_v2_serves_a_dendrite_from_its_first_call() {
    let (handle, key) = axon(true).await;
    let ep = Endpoint::new("127.0.0.1", handle.local_addr().port(), key);
    for sessions in [false, true] {
        let d = dendrite(sessions, true);
        for i in 0..4 {
            let outcome = call(&d, &ep).await;
            assert!(outcome.is_ok(), "sessions {sessions}, call {i}: {outcome}");
        }
    }
    handle.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn a_dendrite_that_predates_v2_is_served_unless_the_axon_requires_v2() {
    let (default_axon, key) = axon(false).await;
    let ep = Endpoint::new("127.0.0.1", default_axon.local_addr().port(), key);
    for sessions in [false, true] {
        let old = dendrite(sessions, false);
        for i in 0..3 {
            let outcome = call(&old, &ep).await;
            assert!(outcome.is_ok(), "sessions {sessions}, call {i}: {outcome}");
        }
    }
    let (strict, key) = axon(true).await;
    let ep = Endpoint::new("127.0.0.1", strict.local_addr().port(), key);
    match call(&dendrite(false, false), &ep).await {
        Outcome::Rejected { code, message } => {
            assert_eq!(code, Code::Unauthenticated, "{message}");
        }
        other => panic!("a v1 request to an axon requiring v2: {other}"),
    }
    default_axon.shutdown(Duration::from_secs(5)).await.unwrap();
    strict.shutdown(Duration::from_secs(5)).await.unwrap();
}

/// The axon does not know the forwarded port as its own, so it refuses v2 requests dialled
/// there; the dendrite falls back to v1, which it serves.
#[tokio::test]
async fn an_endpoint_the_axon_does_not_know_falls_back_to_v1() {
    let (handle, key) = axon(false).await;
    let forwarded = port_forward(handle.local_addr()).await;
    let ep = Endpoint::new("127.0.0.1", forwarded.port(), key);
    let d = dendrite(false, true);
    for i in 0..4 {
        let outcome = call(&d, &ep).await;
        assert!(outcome.is_ok(), "call {i}: {outcome}");
    }
    handle.shutdown(Duration::from_secs(5)).await.unwrap();
}
