//! A request whose signature does not verify is UNAUTHENTICATED, checked before any tensor is
//! decoded (a bad signature on a malformed tensor still says UNAUTHENTICATED), whether it is
//! verified alone, in a batch with concurrent requests, or on the blocking pool (large).
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use std::sync::Arc;
use std::time::Duration;

use bt_axon::{AxonConfig, EchoSynapse};
use bt_crypto::RpcMethod;
use common::*;
use tonic::Code;

#[tokio::test]
async fn bad_signatures_are_unauthenticated() {
    let key = synapse_key(1);
    let axon = start(
        AxonConfig::default(),
        vec![(key.clone(), Arc::new(EchoSynapse))],
    )
    .await;
    let mut c = client(axon.local_addr()).await;
    let me = caller(1);
    let fresh = || message(&key, vec![f32_tensor(&[1.0, 2.0])]);

    // Payload swapped after signing.
    let mut m = signed(&me, fresh(), RpcMethod::Forward);
    m.tensors = message(&key, vec![f32_tensor(&[9.0, 9.0])]).tensors;
    let tampered = c
        .forward(request(m, Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert_eq!(tampered.code(), Code::Unauthenticated, "{tampered:?}");

    // Someone else's key claimed.
    let mut m = signed(&me, fresh(), RpcMethod::Forward);
    m.neuron_key = caller(2).public_hex();
    let claimed = c
        .forward(request(m, Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert_eq!(claimed.code(), Code::Unauthenticated);

    // Signed for Forward, sent as Backward.
    let m = signed(
        &me,
        message(&key, vec![f32_tensor(&[1.0]), f32_tensor(&[1.0])]),
        RpcMethod::Forward,
    );
    let wrong_method = c
        .backward(request(m, Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert_eq!(wrong_method.code(), Code::Unauthenticated);

    // Garbage signature bytes and a garbage caller key.
    let mut m = signed(&me, fresh(), RpcMethod::Forward);
    m.signature = bytes::Bytes::from_static(b"short");
    assert_eq!(
        c.forward(request(m, Duration::from_secs(5)))
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    let mut m = signed(&me, fresh(), RpcMethod::Forward);
    m.neuron_key = "0xnot-a-key".into();
    assert_eq!(
        c.forward(request(m, Duration::from_secs(5)))
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );

    // Authentication comes before decoding: a malformed tensor with a bad signature.
    let mut m = signed(&me, fresh(), RpcMethod::Forward);
    m.tensors[0].dtype = 99;
    assert_eq!(
        c.forward(request(m, Duration::from_secs(5)))
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );

    // And the honest caller is still served: forged requests did not burn its nonces.
    let ok = c
        .forward(request(
            signed(&me, fresh(), RpcMethod::Forward),
            Duration::from_secs(5),
        ))
        .await;
    assert!(ok.is_ok(), "{ok:?}");
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}

/// Concurrent requests are verified in batches: a forged request among honest ones is refused
/// and does not sink its batch.
#[tokio::test]
async fn forgeries_in_a_concurrent_batch_are_refused_alone() {
    let key = synapse_key(1);
    let axon = start(
        AxonConfig::default(),
        vec![(key.clone(), Arc::new(EchoSynapse))],
    )
    .await;
    let c = client(axon.local_addr()).await;
    let mut calls = Vec::new();
    for i in 0..60u8 {
        let mut m = signed(
            &caller(i % 4),
            message(&key, vec![f32_tensor(&[f32::from(i)])]),
            RpcMethod::Forward,
        );
        let forged = i % 5 == 0;
        if forged {
            m.tensors = message(&key, vec![f32_tensor(&[-1.0])]).tensors;
        }
        let mut c = c.clone();
        calls.push(tokio::spawn(async move {
            (forged, c.forward(request(m, Duration::from_secs(10))).await)
        }));
    }
    for call in calls {
        let (forged, result) = call.await.unwrap();
        match result {
            Ok(_) => assert!(!forged, "a forged request was served"),
            Err(s) => {
                assert!(forged, "an honest request was refused: {s:?}");
                assert_eq!(s.code(), Code::Unauthenticated, "{s:?}");
            }
        }
    }
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}

/// Requests above `inline_max_bytes` are authenticated on the blocking pool, by the same rules.
#[tokio::test]
async fn large_requests_are_authenticated_too() {
    let key = synapse_key(1);
    let config = AxonConfig {
        inline_max_bytes: 1024,
        ..AxonConfig::default()
    };
    let axon = start(config, vec![(key.clone(), Arc::new(EchoSynapse))]).await;
    let mut c = client(axon.local_addr()).await;
    let me = caller(1);
    let big = || message(&key, vec![f32_tensor(&[0.5; 4096])]);

    let honest = signed(&me, big(), RpcMethod::Forward);
    let reply = c
        .forward(request(honest.clone(), Duration::from_secs(5)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.tensors[0].buffer.len(), 4 * 4096);
    let replay = c
        .forward(request(honest, Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert_eq!(replay.code(), Code::Unauthenticated, "{replay:?}");

    let mut tampered = signed(&me, big(), RpcMethod::Forward);
    tampered.tensors[0].dtype = 99;
    let err = c
        .forward(request(tampered, Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}
