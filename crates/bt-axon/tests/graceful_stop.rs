//! `shutdown(grace)` refuses new requests, lets in-flight ones finish within the grace period,
//! and returns when everything is closed.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use std::sync::Arc;
use std::time::Duration;

use bt_axon::{AxonError, EchoSynapse};
use common::*;
use tonic::Code;

#[tokio::test]
async fn in_flight_requests_finish_and_new_ones_are_refused() {
    let gated = Arc::new(Gated::default());
    let (slow, fast) = (synapse_key(1), synapse_key(2));
    let axon = start(
        unsigned_config(),
        vec![
            (slow.clone(), gated.clone()),
            (fast.clone(), Arc::new(EchoSynapse)),
        ],
    )
    .await;
    let addr = axon.local_addr();
    let c = client(addr).await;

    let mut sc = c.clone();
    let in_flight = tokio::spawn(async move {
        sc.forward(request(
            message(&slow, vec![f32_tensor(&[7.0])]),
            Duration::from_secs(20),
        ))
        .await
    });
    let g = gated.clone();
    bt_testnet::eventually(Duration::from_secs(10), move || g.entered() == 1)
        .await
        .expect("timed out waiting for: request in flight");

    let stopping = tokio::spawn(axon.shutdown(Duration::from_secs(20)));
    // New requests on the existing connection are refused (UNAVAILABLE from the axon, or the
    // stream is refused by the GOAWAY it sent); new connections are not accepted.
    let mut fc = c.clone();
    let mut refused = false;
    for _ in 0..200 {
        match fc
            .forward(request(
                message(&fast, vec![f32_tensor(&[1.0])]),
                Duration::from_secs(2),
            ))
            .await
        {
            Ok(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            Err(e) => {
                assert!(
                    matches!(
                        e.code(),
                        Code::Unavailable | Code::Unknown | Code::Cancelled
                    ),
                    "{e:?}"
                );
                refused = true;
                break;
            }
        }
    }
    assert!(refused, "requests kept being served after shutdown began");
    assert!(
        !stopping.is_finished(),
        "shutdown returned while a request was in flight"
    );

    gated.open();
    let reply = in_flight.await.unwrap().unwrap().into_inner();
    assert_eq!(reply.tensors.len(), 1);
    stopping.await.unwrap().unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener still open"
    );
}

#[tokio::test]
async fn grace_period_is_a_bound() {
    let gated = Arc::new(Gated::default());
    let key = synapse_key(1);
    let axon = start(unsigned_config(), vec![(key.clone(), gated.clone())]).await;
    let mut c = client(axon.local_addr()).await;
    let stuck = tokio::spawn(async move {
        c.forward(request(
            message(&key, vec![f32_tensor(&[1.0])]),
            Duration::from_secs(60),
        ))
        .await
    });
    let g = gated.clone();
    bt_testnet::eventually(Duration::from_secs(10), move || g.entered() == 1)
        .await
        .expect("timed out waiting for: request in flight");
    let result = axon.shutdown(Duration::from_millis(200)).await;
    assert!(
        matches!(result, Err(AxonError::ShutdownForced { open: 1, .. })),
        "{result:?}"
    );
    // The client learns the connection is gone rather than waiting for its deadline.
    let outcome = tokio::time::timeout(Duration::from_secs(10), stuck)
        .await
        .unwrap()
        .unwrap();
    assert!(outcome.is_err());
    gated.open();
}
