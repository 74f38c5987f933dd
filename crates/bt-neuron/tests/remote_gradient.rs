//! Remote autograd over real sockets: the input gradient a peer returns through
//! Dendrite → Axon → served model equals the gradient of the same model run locally.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use bt_axon::{Axon, AxonConfig};
use bt_crypto::NeuronKey;
use bt_dendrite::{CallOptions, Dendrite, DendriteConfig, Endpoint, Inputs, Outcome};
use bt_neuron::served::ServedModel;
use bt_nn::MnistModel;
use bt_nn::dataset::{MNIST_MEAN, MNIST_STD};
use bt_nn::mnist::{CONTEXT_DIM, IMAGE_DIM};
use bt_tensor::{Modality, Tensor};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gradient_through_the_network_equals_the_local_gradient() {
    let model = MnistModel::new(7);
    let synapse_key = NeuronKey::generate().public_hex();
    let axon = Axon::builder(AxonConfig::default())
        .serve_synapse(
            synapse_key.clone(),
            Arc::new(ServedModel::new(model.clone())),
        )
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dendrite = Dendrite::new(NeuronKey::generate(), DendriteConfig::default());
    let endpoint = Endpoint::new("127.0.0.1", axon.local_addr().port(), synapse_key);

    let rows = 4;
    let raw: Vec<f32> = (0..rows * IMAGE_DIM)
        .map(|i| ((i * 37) % 256) as f32 / 255.0)
        .collect();
    let images = Tensor::from_f32_vec(&[rows, 1, 28, 28], raw.clone(), Modality::Image).unwrap();
    let normalized: Vec<f32> = raw.iter().map(|v| (v - MNIST_MEAN) / MNIST_STD).collect();

    // Forward: the answer is the model's encoding.
    let replies = dendrite
        .forward(
            Modality::Image,
            Inputs::PerPeer(vec![(endpoint.clone(), images.clone())]),
            &CallOptions {
                timeout: Some(std::time::Duration::from_secs(10)),
                output_dims: Some(vec![CONTEXT_DIM]),
                ..CallOptions::default()
            },
        )
        .await
        .unwrap();
    let Outcome::Ok(answer) = &replies[0].outcome else {
        panic!("forward failed: {}", replies[0].outcome);
    };
    let local = model.encode(&normalized).unwrap();
    let remote = answer.to_f32_vec().unwrap();
    let max_fwd = remote
        .iter()
        .zip(&local)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(max_fwd <= 1e-5, "forward differs by {max_fwd}");

    // Backward: the VJP of sum(encode(x) * g) w.r.t. the wire images.
    let g: Vec<f32> = (0..rows * CONTEXT_DIM)
        .map(|i| ((i % 11) as f32 - 5.0) * 0.01)
        .collect();
    let grads = Tensor::from_f32_vec(&[rows, CONTEXT_DIM], g.clone(), Modality::Tensor).unwrap();
    let reply = dendrite.backward(&endpoint, &images, &grads).await.unwrap();
    let Outcome::Ok(dx) = reply.outcome else {
        panic!("backward failed: {}", reply.outcome);
    };
    assert_eq!(dx.shape(), images.shape());
    let local_dx: Vec<f32> = model
        .encode_vjp(&normalized, &g)
        .unwrap()
        .into_iter()
        .map(|v| v / MNIST_STD)
        .collect();
    let remote_dx = dx.to_f32_vec().unwrap();
    let max_diff = remote_dx
        .iter()
        .zip(&local_dx)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(max_diff <= 1e-5, "input gradient differs by {max_diff}");
    assert!(
        local_dx.iter().any(|v| v.abs() > 1e-6),
        "a zero gradient would make this test vacuous"
    );
    axon.shutdown(std::time::Duration::from_secs(2))
        .await
        .unwrap();
}
