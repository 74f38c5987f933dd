//! Unsigned (Release 1) requests are refused unless the axon explicitly allows them.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use std::sync::Arc;
use std::time::Duration;

use bt_axon::{AxonConfig, EchoSynapse};
use common::*;
use tonic::Code;

/// Small, 1 MiB (served on the executor: an anonymous request is only scanned) and 4 MiB (on the
/// blocking pool): refused alike.
#[tokio::test]
async fn unsigned_refused_by_default() {
    let key = synapse_key(1);
    let axon = start(
        AxonConfig::default(),
        vec![(key.clone(), Arc::new(EchoSynapse))],
    )
    .await;
    let mut c = client(axon.local_addr()).await;
    for floats in [1, 1 << 18, 1 << 20] {
        let err = c
            .forward(request(
                message(&key, vec![f32_tensor(&vec![1.0; floats])]),
                Duration::from_secs(5),
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{floats} floats");
        assert!(err.message().contains("allow_unsigned"), "{err:?}");
    }
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn unsigned_allowed_when_configured() {
    let key = synapse_key(1);
    let axon = start(
        unsigned_config(),
        vec![(key.clone(), Arc::new(EchoSynapse))],
    )
    .await;
    let mut c = client(axon.local_addr()).await;
    // A Release 1 peer: neuron key set, nonce 0, no signature.
    let mut msg = message(&key, vec![f32_tensor(&[1.0, 2.0])]);
    msg.neuron_key = caller(1).public_hex();
    let reply = c
        .forward(request(msg.clone(), Duration::from_secs(5)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.tensors, msg.tensors);
    // As large as 1 MiB (executor) and 4 MiB (blocking pool), with a NaN refused in both.
    for floats in [1 << 18, 1 << 20] {
        let mut values = vec![0.5; floats];
        let big = message(&key, vec![f32_tensor(&values)]);
        let reply = c
            .forward(request(big.clone(), Duration::from_secs(5)))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(reply.tensors, big.tensors);
        values[floats / 2] = f32::NAN;
        let err = c
            .forward(request(
                message(&key, vec![f32_tensor(&values)]),
                Duration::from_secs(5),
            ))
            .await
            .unwrap_err();
        assert_eq!(
            err.code(),
            Code::InvalidArgument,
            "{floats} floats: {err:?}"
        );
    }
    // Signed requests are still verified on such an axon.
    let mut bad = common::signed(&caller(1), msg, bt_crypto::RpcMethod::Forward);
    bad.nounce += 1;
    let err = c
        .forward(request(bad, Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}
