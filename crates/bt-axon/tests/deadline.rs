//! The client's `grpc-timeout` is honoured: a request still running when it expires is answered
//! DEADLINE_EXCEEDED, and the axon goes on serving.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use std::sync::Arc;
use std::time::Duration;

use bt_axon::{AxonConfig, EchoSynapse};
use common::*;
use tonic::Code;

#[tokio::test]
async fn expired_deadline_is_answered_deadline_exceeded() {
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
    let mut c = client(axon.local_addr()).await;

    let err = c
        .forward(request(
            message(&slow, vec![f32_tensor(&[1.0])]),
            Duration::from_millis(150),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
    assert!(err.message().contains("deadline"), "{err:?}");

    // The stuck call holds a worker, not the axon.
    let ok = c
        .forward(request(
            message(&fast, vec![f32_tensor(&[2.0])]),
            Duration::from_secs(5),
        ))
        .await
        .unwrap();
    assert_eq!(ok.into_inner().tensors.len(), 1);
    gated.open();
    assert_eq!(axon.metrics().count(Code::DeadlineExceeded), 1);
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn default_timeout_applies_without_client_deadline() {
    let gated = Arc::new(Gated::default());
    let key = synapse_key(1);
    let config = AxonConfig {
        default_timeout: Duration::from_millis(100),
        ..unsigned_config()
    };
    let axon = start(config, vec![(key.clone(), gated.clone())]).await;
    let mut c = client(axon.local_addr()).await;
    let err = c
        .forward(tonic::Request::new(message(&key, vec![f32_tensor(&[1.0])])))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
    gated.open();
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}
