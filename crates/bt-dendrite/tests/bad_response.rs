//! Answers that would poison the model are refused before they are handed back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use bt_dendrite::{BadResponse, CallOptions, Dendrite, DendriteConfig, Endpoint, Inputs, Outcome};
use bt_tensor::{Modality, Tensor, TensorError};
use support::Behaviour;

async fn outcome_from(behaviour: Behaviour, opts: CallOptions) -> Outcome {
    let server = support::start(behaviour).await;
    let dendrite = Dendrite::new(bt_crypto::NeuronKey::generate(), DendriteConfig::default());
    let ep = Endpoint::new("127.0.0.1", server.addr.port(), "0xab");
    let x = Tensor::from_f32(&[3, 2], &[0.25; 6], Modality::Tensor).unwrap();
    dendrite
        .forward(Modality::Tensor, Inputs::broadcast([ep], x), &opts)
        .await
        .unwrap()
        .remove(0)
        .outcome
}

#[tokio::test]
async fn wrong_batch_size_is_refused() {
    let o = outcome_from(Behaviour::WrongBatch, CallOptions::default()).await;
    assert!(
        matches!(
            o,
            Outcome::BadResponse(BadResponse::Batch {
                got: 4,
                expected: 3
            })
        ),
        "{o}"
    );
}

#[tokio::test]
async fn wrong_shape_is_refused_when_the_caller_knows_the_shape() {
    let opts = CallOptions {
        output_dims: Some(vec![5]),
        ..Default::default()
    };
    let o = outcome_from(Behaviour::Echo, opts).await;
    assert!(
        matches!(&o, Outcome::BadResponse(BadResponse::Shape { got, expected })
            if got == &[3, 2] && expected == &[3, 5]),
        "{o}"
    );
}

#[tokio::test]
async fn nan_is_refused() {
    let o = outcome_from(Behaviour::NaN, CallOptions::default()).await;
    assert!(
        matches!(
            o,
            Outcome::BadResponse(BadResponse::Tensor(TensorError::NonFinite { .. }))
        ),
        "{o}"
    );
}

#[tokio::test]
async fn missing_tensor_is_refused() {
    let o = outcome_from(Behaviour::Empty, CallOptions::default()).await;
    assert!(
        matches!(
            o,
            Outcome::BadResponse(BadResponse::TensorCount {
                expected: 1,
                got: 0
            })
        ),
        "{o}"
    );
}

#[tokio::test]
async fn buffer_not_matching_shape_is_refused() {
    let o = outcome_from(Behaviour::Truncated, CallOptions::default()).await;
    assert!(
        matches!(
            o,
            Outcome::BadResponse(BadResponse::Tensor(TensorError::LengthMismatch { .. }))
        ),
        "{o}"
    );
}

#[tokio::test]
async fn an_answer_over_the_message_limit_is_refused() {
    // The request (1 KiB of floats) fits the limit; the answer (one row more) does not.
    let server = support::start(Behaviour::WrongBatch).await;
    let config = DendriteConfig {
        max_message_size: 1600,
        ..Default::default()
    };
    let dendrite = Dendrite::new(bt_crypto::NeuronKey::generate(), config);
    let ep = Endpoint::new("127.0.0.1", server.addr.port(), "0xab");
    let x = Tensor::from_f32(&[1, 256], &[0.0; 256], Modality::Tensor).unwrap();
    let o = dendrite
        .forward_tensor(Inputs::broadcast([ep], x))
        .await
        .unwrap()
        .remove(0)
        .outcome;
    assert!(
        matches!(o, Outcome::BadResponse(BadResponse::Decode(_))),
        "{o}"
    );
}

#[tokio::test]
async fn a_request_over_the_message_limit_is_a_caller_error() {
    let config = DendriteConfig {
        max_message_size: 1 << 10,
        ..Default::default()
    };
    let dendrite = Dendrite::new(bt_crypto::NeuronKey::generate(), config);
    let ep = Endpoint::new("127.0.0.1", 9, "0xab");
    let x = Tensor::from_f32(&[1, 2048], &[0.0; 2048], Modality::Tensor).unwrap();
    let err = dendrite
        .forward_tensor(Inputs::broadcast([ep], x))
        .await
        .unwrap_err();
    assert!(
        matches!(err, bt_dendrite::DendriteError::TooLarge { index: 0, .. }),
        "{err}"
    );
}
