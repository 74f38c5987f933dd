//! Synapse outcomes map to statuses: success round-trips, failures are INTERNAL with their
//! message, panics are caught (INTERNAL), unsupported modalities are UNIMPLEMENTED.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use std::sync::Arc;
use std::time::Duration;

use bt_axon::EchoSynapse;
use bt_interfaces::{Synapse, SynapseError};
use bt_tensor::{Limits, Modality, Tensor};
use common::*;
use tonic::Code;

struct Faulty;

impl Synapse for Faulty {
    fn modalities(&self) -> &[Modality] {
        &[Modality::Tensor, Modality::Image]
    }
    fn forward(&self, modality: Modality, input: Tensor) -> Result<Tensor, SynapseError> {
        match (modality, input.to_f32_vec().unwrap()[0]) {
            (Modality::Image, _) => Err(SynapseError::UnsupportedModality(modality)),
            (_, 1.0) => Err(SynapseError::Failed("out of memory in layer 3".into())),
            (_, 2.0) => Err(SynapseError::InvalidInput("expected 784 features".into())),
            (_, 3.0) => panic!("index out of bounds in the model"),
            _ => Ok(input),
        }
    }
    fn backward(&self, _: Vec<Tensor>, _: Vec<Tensor>) -> Result<Vec<Tensor>, SynapseError> {
        panic!("backward exploded")
    }
}

#[tokio::test]
async fn synapse_outcomes_become_statuses() {
    let (faulty, echo) = (synapse_key(1), synapse_key(2));
    let axon = start(
        unsigned_config(),
        vec![
            (faulty.clone(), Arc::new(Faulty)),
            (echo.clone(), Arc::new(EchoSynapse)),
        ],
    )
    .await;
    let mut c = client(axon.local_addr()).await;
    let t = Duration::from_secs(5);

    let call = |v: f32| message(&faulty, vec![f32_tensor(&[v])]);
    let failed = c.forward(request(call(1.0), t)).await.unwrap_err();
    assert_eq!(
        (failed.code(), failed.message()),
        (Code::Internal, "synapse failed: out of memory in layer 3")
    );
    let invalid = c.forward(request(call(2.0), t)).await.unwrap_err();
    assert_eq!(invalid.code(), Code::InvalidArgument);
    assert!(invalid.message().contains("784"));
    let panicked = c.forward(request(call(3.0), t)).await.unwrap_err();
    assert_eq!(panicked.code(), Code::Internal);
    assert!(
        panicked
            .message()
            .contains("index out of bounds in the model"),
        "{panicked:?}"
    );
    let back = c
        .backward(request(
            message(&faulty, vec![f32_tensor(&[1.0]), f32_tensor(&[1.0])]),
            t,
        ))
        .await
        .unwrap_err();
    assert_eq!(back.code(), Code::Internal);
    assert!(back.message().contains("backward exploded"));

    let text = Tensor::text(&["hello"]);
    let unsupported = c
        .forward(request(message(&faulty, vec![text]), t))
        .await
        .unwrap_err();
    assert_eq!(unsupported.code(), Code::Unimplemented);
    let image = Tensor::from_f32(&[1, 1, 2, 2], &[0.0, 0.1, 0.2, 0.3], Modality::Image).unwrap();
    let declined = c
        .forward(request(message(&faulty, vec![image]), t))
        .await
        .unwrap_err();
    assert_eq!(declined.code(), Code::Unimplemented);

    // After all that, the same axon round-trips every modality through the echo synapse.
    let inputs = vec![
        f32_tensor(&[0.25, -1.5]),
        Tensor::from_f32(&[1, 1, 2, 2], &[0.0, 0.1, 0.2, 0.3], Modality::Image).unwrap(),
        Tensor::text(&["héllo", "日本語"]),
        Tensor::from_i64(&[1, 3], &[101, 2023, 102], Modality::Text).unwrap(),
    ];
    for input in inputs {
        let reply = c
            .forward(request(message(&echo, vec![input.clone()]), t))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(reply.synapse_key, echo);
        assert_eq!(
            bt_tensor::decode(&reply.tensors[0], &Limits::default()).unwrap(),
            input
        );
    }
    let grads = vec![f32_tensor(&[1.0, 2.0]), f32_tensor(&[0.1, 0.2])];
    let reply = c
        .backward(request(message(&echo, grads.clone()), t))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.tensors.len(), 1);
    assert_eq!(
        bt_tensor::decode(&reply.tensors[0], &Limits::default()).unwrap(),
        grads[1]
    );
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}
