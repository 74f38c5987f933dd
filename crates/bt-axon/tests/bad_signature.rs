//! A request whose signature does not verify is UNAUTHENTICATED, checked before any tensor is
//! decoded (a bad signature on a malformed tensor still says UNAUTHENTICATED).
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
