//! Dendrite against the project's own axon (bt-axon) with its echo synapse: signed calls are
//! accepted, unsigned ones only when the axon allows them, and the axon's refusals arrive as
//! typed outcomes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use bt_axon::{Axon, AxonConfig, AxonHandle, EchoSynapse};
use bt_crypto::NeuronKey;
use bt_dendrite::{BadResponse, Dendrite, DendriteConfig, Endpoint, Inputs, Outcome};
use bt_tensor::{Modality, Tensor};
use tonic::Code;

async fn axon(allow_unsigned: bool) -> (AxonHandle, String) {
    support::echo_axon(AxonConfig {
        allow_unsigned,
        ..Default::default()
    })
    .await
}

fn dendrite(sign: bool) -> Dendrite {
    let config = DendriteConfig {
        sign_requests: sign,
        timeout: Duration::from_secs(5),
        ..Default::default()
    };
    Dendrite::new(NeuronKey::generate(), config)
}

#[tokio::test]
async fn signed_forward_and_backward_through_the_echo_synapse() {
    let (axon, key) = axon(false).await;
    let ep = Endpoint::new("127.0.0.1", axon.local_addr().port(), key);
    let d = dendrite(true);
    let values: Vec<f32> = (0..24).map(|i| i as f32 / 7.0).collect();
    let x = Tensor::from_f32(&[2, 3, 4], &values, Modality::Tensor).unwrap();
    for r in d
        .forward_tensor(Inputs::broadcast(vec![ep.clone(); 5], x.clone()))
        .await
        .unwrap()
    {
        let y = r.outcome.into_tensor().expect("echo answer");
        assert_eq!(y.shape(), &[2, 3, 4]);
        assert_eq!(y.to_f32_vec().unwrap(), values);
    }
    let img = Tensor::from_f32(&[1, 1, 28, 28], &[0.5; 784], Modality::Image).unwrap();
    let r = d.forward_image(vec![(ep.clone(), img)]).await.unwrap();
    assert!(r[0].outcome.is_ok(), "{}", r[0].outcome);

    let g = Tensor::from_f32(&[2, 3, 4], &[0.25; 24], Modality::Tensor).unwrap();
    let back = d.backward(&ep, &x, &g).await.unwrap();
    let grad = back.outcome.into_tensor().expect("backward answer");
    assert_eq!(grad.shape(), &[2, 3, 4]);
    axon.shutdown(Duration::from_secs(2)).await.unwrap();
}

#[tokio::test]
async fn unsigned_requests_need_an_axon_that_allows_them() {
    let (strict, key) = axon(false).await;
    let x = Tensor::from_f32(&[1, 2], &[1.0, 2.0], Modality::Tensor).unwrap();
    let ep = Endpoint::new("127.0.0.1", strict.local_addr().port(), key);
    let r = dendrite(false)
        .forward_tensor(Inputs::broadcast([ep], x.clone()))
        .await
        .unwrap();
    assert!(
        matches!(
            r[0].outcome,
            Outcome::Rejected {
                code: Code::Unauthenticated,
                ..
            }
        ),
        "{}",
        r[0].outcome
    );

    let (lenient, key) = axon(true).await;
    let ep = Endpoint::new("127.0.0.1", lenient.local_addr().port(), key);
    let r = dendrite(false)
        .forward_tensor(Inputs::broadcast([ep], x))
        .await
        .unwrap();
    assert!(r[0].outcome.is_ok(), "{}", r[0].outcome);
}

#[tokio::test]
async fn an_unknown_synapse_is_a_rejection_and_text_echo_is_not_a_model_output() {
    let (axon, key) = axon(false).await;
    let port = axon.local_addr().port();
    let d = dendrite(true);
    let x = Tensor::from_f32(&[1, 2], &[1.0, 2.0], Modality::Tensor).unwrap();
    let unknown = Endpoint::new("127.0.0.1", port, NeuronKey::generate().public_hex());
    let r = d
        .forward_tensor(Inputs::broadcast([unknown], x))
        .await
        .unwrap();
    assert!(
        matches!(
            r[0].outcome,
            Outcome::Rejected {
                code: Code::NotFound,
                ..
            }
        ),
        "{}",
        r[0].outcome
    );

    // The echo synapse hands the pickled strings back; a model output must be floats.
    let text = Tensor::text(&["hello", "world"]);
    let ep = Endpoint::new("127.0.0.1", port, key);
    let r = d.forward_text(vec![(ep, text)]).await.unwrap();
    assert!(
        matches!(
            r[0].outcome,
            Outcome::BadResponse(BadResponse::DType { .. })
        ),
        "{}",
        r[0].outcome
    );
}

#[tokio::test]
async fn a_fan_out_wider_than_the_axons_per_connection_limit_queues_instead_of_being_shed() {
    // bt-axon sheds calls beyond 64 in flight on one connection; the dendrite's per-axon
    // limit (default 64) keeps the excess waiting on our side, inside the deadline.
    let keys: Vec<String> = (0..150)
        .map(|_| NeuronKey::generate().public_hex())
        .collect();
    let mut builder = Axon::builder(AxonConfig::default());
    for k in &keys {
        builder = builder.serve_synapse(k.clone(), Arc::new(EchoSynapse));
    }
    let axon = builder.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let port = axon.local_addr().port();
    let eps: Vec<Endpoint> = keys
        .iter()
        .map(|k| Endpoint::new("127.0.0.1", port, k.clone()))
        .collect();
    let d = dendrite(true);
    let x = Tensor::from_f32(&[16, 64], &[0.5; 1024], Modality::Tensor).unwrap();
    for _ in 0..2 {
        let replies = d
            .forward_tensor(Inputs::broadcast(eps.clone(), x.clone()))
            .await
            .unwrap();
        for r in &replies {
            assert!(r.outcome.is_ok(), "{}", r.outcome);
        }
    }
}
