//! Malformed tensors are answered INVALID_ARGUMENT with the codec's message.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use std::sync::Arc;
use std::time::Duration;

use bt_axon::{AxonConfig, EchoSynapse};
use bt_wire::TensorMessage;
use common::*;
use tonic::Code;

fn wire(dtype: i32, shape: Vec<i64>, buffer: Vec<u8>, modality: i32) -> bt_wire::Tensor {
    bt_wire::Tensor {
        buffer: buffer.into(),
        shape,
        dtype,
        modality,
        ..bt_wire::Tensor::default()
    }
}

#[tokio::test]
async fn bad_tensors_are_invalid_argument() {
    let key = synapse_key(1);
    let config = AxonConfig {
        max_elements: 1000,
        ..unsigned_config()
    };
    let axon = start(config, vec![(key.clone(), Arc::new(EchoSynapse))]).await;
    let mut c = client(axon.local_addr()).await;
    let nan = f32::NAN.to_le_bytes().to_vec();
    let cases = vec![
        ("unknown dtype", wire(99, vec![1], vec![0; 4], 0)),
        ("UNKNOWN dtype", wire(0, vec![1], vec![0; 4], 0)),
        ("length mismatch", wire(1, vec![2, 2], vec![0; 12], 0)),
        ("zero dimension", wire(1, vec![0], vec![], 0)),
        ("negative dimension", wire(1, vec![-1], vec![0; 4], 0)),
        ("too many elements", wire(1, vec![2000], vec![0; 8000], 0)),
        ("NaN", wire(1, vec![1], nan, 0)),
        ("unknown modality", wire(1, vec![1], vec![0; 4], 7)),
        ("float text", wire(1, vec![1], vec![0; 4], 2)),
        (
            "garbage pickle",
            wire(5, vec![1, 1], b"\x80\x04cos\nsystem\n".to_vec(), 2),
        ),
    ];
    for (what, t) in cases {
        let msg = TensorMessage {
            synapse_key: key.clone(),
            tensors: vec![t],
            ..TensorMessage::default()
        };
        let err = c
            .forward(request(msg, Duration::from_secs(5)))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{what}: {err:?}");
        assert!(!err.message().is_empty(), "{what}");
    }
    assert_eq!(axon.metrics().count(Code::InvalidArgument), 10);
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn wrong_tensor_counts_are_invalid_argument() {
    let key = synapse_key(1);
    let axon = start(
        unsigned_config(),
        vec![(key.clone(), Arc::new(EchoSynapse))],
    )
    .await;
    let mut c = client(axon.local_addr()).await;
    let t = || f32_tensor(&[1.0]);
    let two = c
        .forward(request(
            message(&key, vec![t(), t()]),
            Duration::from_secs(5),
        ))
        .await;
    assert_eq!(two.unwrap_err().code(), Code::InvalidArgument);
    let none = c
        .forward(request(message(&key, vec![]), Duration::from_secs(5)))
        .await;
    assert_eq!(none.unwrap_err().code(), Code::InvalidArgument);
    let odd = c
        .backward(request(
            message(&key, vec![t(), t(), t()]),
            Duration::from_secs(5),
        ))
        .await;
    assert_eq!(odd.unwrap_err().code(), Code::InvalidArgument);
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}
