//! Every request carries the neuron key, a fresh strictly increasing nonce and a signature the
//! receiver can verify; unsigned mode sends no signature.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use bt_crypto::{NeuronKey, RpcMethod, verify_request};
use bt_dendrite::{Dendrite, DendriteConfig, Endpoint, Inputs};
use bt_tensor::{Modality, Tensor};
use support::Behaviour;

#[tokio::test]
async fn requests_are_signed_for_their_receiver_with_fresh_nonces() {
    let server = support::start(Behaviour::Echo).await;
    let key = NeuronKey::generate();
    let public = key.public_hex();
    let dendrite = Dendrite::new(key, DendriteConfig::default());
    assert_eq!(dendrite.neuron_key_hex(), public);
    let eps: Vec<Endpoint> = (0..8)
        .map(|i| Endpoint::new("127.0.0.1", server.addr.port(), format!("0x{i:064x}")))
        .collect();
    let x = Tensor::from_f32(&[2, 2], &[1.0, 2.0, 3.0, 4.0], Modality::Tensor).unwrap();
    for r in dendrite
        .forward_tensor(Inputs::broadcast(eps.clone(), x.clone()))
        .await
        .unwrap()
    {
        assert!(r.outcome.is_ok(), "{}", r.outcome);
    }
    let y = Tensor::from_f32(&[2, 2], &[0.1; 4], Modality::Tensor).unwrap();
    let back = dendrite.backward(&eps[0], &x, &y).await.unwrap();
    assert!(back.outcome.is_ok(), "{}", back.outcome);

    let seen = server.seen();
    assert_eq!(seen.len(), 9);
    let mut nonces: Vec<i64> = seen.iter().map(|s| s.nonce).collect();
    nonces.sort_unstable();
    nonces.dedup();
    assert_eq!(nonces.len(), 9, "nonces must be unique");
    for s in &seen[..8] {
        assert_eq!(s.neuron_key, public);
        let caller = verify_request(&s.message, RpcMethod::Forward).unwrap();
        assert_eq!(caller.to_hex(), public);
        // Bound to the method: the same message does not pass as a Backward.
        assert!(verify_request(&s.message, RpcMethod::Backward).is_err());
    }
    assert_eq!(seen[8].tensors, 2);
    verify_request(&seen[8].message, RpcMethod::Backward).unwrap();
}

#[tokio::test]
async fn unsigned_mode_sends_no_signature() {
    let server = support::start(Behaviour::Echo).await;
    let config = DendriteConfig {
        sign_requests: false,
        ..Default::default()
    };
    let dendrite = Dendrite::new(NeuronKey::generate(), config);
    let ep = Endpoint::new("127.0.0.1", server.addr.port(), "0xab");
    let x = Tensor::from_f32(&[1, 1], &[1.0], Modality::Tensor).unwrap();
    let r = dendrite
        .forward_tensor(Inputs::broadcast([ep], x))
        .await
        .unwrap();
    assert!(r[0].outcome.is_ok());
    assert_eq!(server.seen()[0].signature_len, 0);
}
