//! A message above `max_message_bytes` is refused without being decoded; the connection and
//! the axon stay usable.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use std::sync::Arc;
use std::time::Duration;

use bt_axon::{AxonConfig, EchoSynapse};
use common::*;
use tonic::Code;

#[tokio::test]
async fn oversized_request_is_refused_and_small_one_served() {
    let key = synapse_key(1);
    let config = AxonConfig {
        max_message_bytes: 64 << 10,
        ..unsigned_config()
    };
    let axon = start(config, vec![(key.clone(), Arc::new(EchoSynapse))]).await;
    let mut c = client(axon.local_addr()).await;

    let big = f32_tensor(&vec![0.5; 32 << 10]); // 128 KiB
    let err = c
        .forward(request(message(&key, vec![big]), Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::OutOfRange, "{err:?}");
    assert!(err.message().contains("too large"), "{err:?}");

    let small = f32_tensor(&vec![0.5; 1024]);
    let ok = c
        .forward(request(message(&key, vec![small]), Duration::from_secs(5)))
        .await;
    assert!(ok.is_ok(), "{ok:?}");
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}

/// A synapse whose answer is larger than the limit yields an error, not a broken stream.
#[tokio::test]
async fn oversized_response_is_an_error() {
    struct Inflate;
    impl bt_interfaces::Synapse for Inflate {
        fn modalities(&self) -> &[bt_tensor::Modality] {
            &bt_tensor::Modality::ALL
        }
        fn forward(
            &self,
            _: bt_tensor::Modality,
            _: bt_tensor::Tensor,
        ) -> Result<bt_tensor::Tensor, bt_interfaces::SynapseError> {
            Ok(f32_tensor(&vec![1.0; 64 << 10]))
        }
        fn backward(
            &self,
            _: Vec<bt_tensor::Tensor>,
            g: Vec<bt_tensor::Tensor>,
        ) -> Result<Vec<bt_tensor::Tensor>, bt_interfaces::SynapseError> {
            Ok(g)
        }
    }
    let key = synapse_key(1);
    let config = AxonConfig {
        max_message_bytes: 64 << 10,
        ..unsigned_config()
    };
    let axon = start(config, vec![(key.clone(), Arc::new(Inflate))]).await;
    let mut c = client(axon.local_addr()).await;
    let err = c
        .forward(request(
            message(&key, vec![f32_tensor(&[1.0])]),
            Duration::from_secs(5),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert!(err.message().contains("max_message_bytes"), "{err:?}");
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}

/// A request of many empty tensors (two bytes each on the wire, a hundred decoded) is refused
/// on its bytes, before it is decoded, with the cap named; a signed one too (authentication
/// needs the decoded fields, so the count comes first). The axon keeps serving.
#[tokio::test]
async fn too_many_tensors_are_refused_before_decoding() {
    let key = synapse_key(1);
    let config = AxonConfig {
        max_tensors: 16,
        ..unsigned_config()
    };
    let axon = start(config, vec![(key.clone(), Arc::new(EchoSynapse))]).await;
    let mut c = client(axon.local_addr()).await;

    let empties = bt_wire::TensorMessage {
        synapse_key: key.clone(),
        tensors: vec![bt_wire::Tensor::default(); 17],
        ..Default::default()
    };
    let err = c
        .forward(request(empties, Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::OutOfRange, "{err:?}");
    assert!(
        err.message()
            .contains("more than 16 tensors (limit max_tensors = 16)"),
        "{err:?}"
    );

    let long_key = "k".repeat(2000);
    let err = c
        .forward(request(
            message(&long_key, vec![f32_tensor(&[1.0])]),
            Duration::from_secs(5),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::OutOfRange, "{err:?}");
    assert!(
        err.message().contains("TensorMessage.synapse_key"),
        "{err:?}"
    );

    let ok = c
        .forward(request(
            message(&key, vec![f32_tensor(&[0.5; 16])]),
            Duration::from_secs(5),
        ))
        .await;
    assert!(ok.is_ok(), "{ok:?}");
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}
