//! A signed request is accepted once: its replay, a stale nonce or a far-future nonce is
//! UNAUTHENTICATED.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use std::sync::Arc;
use std::time::Duration;

use bt_axon::{AxonConfig, EchoSynapse};
use bt_crypto::RpcMethod;
use common::*;
use tonic::Code;

#[tokio::test]
async fn replayed_and_stale_nonces_are_unauthenticated() {
    let key = synapse_key(1);
    let axon = start(
        AxonConfig::default(),
        vec![(key.clone(), Arc::new(EchoSynapse))],
    )
    .await;
    let mut c = client(axon.local_addr()).await;
    let me = caller(1);

    let msg = signed(
        &me,
        message(&key, vec![f32_tensor(&[1.0])]),
        RpcMethod::Forward,
    );
    c.forward(request(msg.clone(), Duration::from_secs(5)))
        .await
        .unwrap();
    let replay = c
        .forward(request(msg, Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert_eq!(replay.code(), Code::Unauthenticated);
    assert!(
        replay.message().to_lowercase().contains("nonce"),
        "{replay:?}"
    );

    let now = bt_crypto::unix_nanos();
    for (what, nonce) in [
        ("stale", now - 60_000_000_000),
        ("future", now + 60_000_000_000),
    ] {
        let mut m = message(&key, vec![f32_tensor(&[1.0])]);
        bt_crypto::sign_request(&me, &mut m, RpcMethod::Forward, nonce);
        let err = c
            .forward(request(m, Duration::from_secs(5)))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{what}: {err:?}");
    }

    // A fresh nonce from the same caller still works.
    let msg = signed(
        &me,
        message(&key, vec![f32_tensor(&[1.0])]),
        RpcMethod::Forward,
    );
    c.forward(request(msg, Duration::from_secs(5)))
        .await
        .unwrap();
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}

/// Concurrent requests from one caller may overtake each other; each is accepted once.
#[tokio::test]
async fn concurrent_requests_from_one_caller_are_all_accepted() {
    let key = synapse_key(1);
    let axon = start(
        AxonConfig::default(),
        vec![(key.clone(), Arc::new(EchoSynapse))],
    )
    .await;
    let c = client(axon.local_addr()).await;
    let me = Arc::new(caller(1));
    // Sign all first, then send in reverse order: the worst reordering.
    let mut msgs: Vec<_> = (0..32)
        .map(|i| {
            signed(
                &me,
                message(&key, vec![f32_tensor(&[i as f32])]),
                RpcMethod::Forward,
            )
        })
        .collect();
    msgs.reverse();
    for m in msgs {
        let mut c = c.clone();
        c.forward(request(m, Duration::from_secs(5))).await.unwrap();
    }
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}
