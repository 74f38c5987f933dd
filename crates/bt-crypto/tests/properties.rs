//! Property tests: signatures round-trip, any single-bit change breaks them, and the replay
//! guard never accepts a `(caller, nonce)` twice nor grows beyond its capacity.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;

use bt_crypto::{
    NeuronKey, PublicKey, ReplayConfig, ReplayGuard, RpcMethod, sign_request, verify_request,
    verify_requests_batch,
};
use bt_wire::{Tensor, TensorMessage};
use proptest::prelude::*;

fn message(receiver_seed: [u8; 32], payload: Vec<u8>, shape0: i64) -> TensorMessage {
    TensorMessage {
        version: "0.1.0".into(),
        synapse_key: NeuronKey::from_seed(receiver_seed).public_hex(),
        tensors: vec![Tensor {
            buffer: payload.into(),
            shape: vec![shape0],
            dtype: 1,
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn flip_hex_bit(hex: &str, bit: usize) -> String {
    let mut bytes = hex::decode(&hex[2..]).unwrap();
    let i = (bit / 8) % bytes.len();
    bytes[i] ^= 1 << (bit % 8);
    format!("0x{}", hex::encode(bytes))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sign_verify_round_trip_and_single_bit_flips_fail(
        seed in any::<[u8; 32]>(),
        receiver in any::<[u8; 32]>(),
        payload in proptest::collection::vec(any::<u8>(), 1..256),
        nonce in any::<i64>(),
        bit in 0usize..2048,
        backward in any::<bool>(),
    ) {
        let method = if backward { RpcMethod::Backward } else { RpcMethod::Forward };
        let key = NeuronKey::from_seed(seed);
        let mut msg = message(receiver, payload.clone(), 1);
        sign_request(&key, &mut msg, method, nonce);
        prop_assert_eq!(verify_request(&msg, method).unwrap(), key.public());

        let mut m = msg.clone();
        m.nounce ^= 1i64 << (bit % 64);
        prop_assert!(verify_request(&m, method).is_err());

        let mut m = msg.clone();
        let mut p = payload.clone();
        let n = p.len();
        p[(bit / 8) % n] ^= 1 << (bit % 8);
        m.tensors[0].buffer = p.into();
        prop_assert!(verify_request(&m, method).is_err());

        let mut m = msg.clone();
        m.tensors[0].shape[0] ^= 1i64 << (bit % 64);
        prop_assert!(verify_request(&m, method).is_err());

        // A flipped caller key is either not a point or a different key: both must fail.
        let mut m = msg.clone();
        m.neuron_key = flip_hex_bit(&m.neuron_key, bit);
        prop_assert!(verify_request(&m, method).is_err());

        let mut m = msg.clone();
        m.synapse_key = flip_hex_bit(&m.synapse_key, bit);
        prop_assert!(verify_request(&m, method).is_err());

        let mut m = msg.clone();
        let mut s = m.signature.to_vec();
        s[(bit / 8) % 64] ^= 1 << (bit % 8);
        m.signature = s.into();
        prop_assert!(verify_request(&m, method).is_err());

        let other = if backward { RpcMethod::Forward } else { RpcMethod::Backward };
        prop_assert!(verify_request(&msg, other).is_err());
    }

    #[test]
    fn batch_agrees_with_single_verification(
        seeds in proptest::collection::vec(any::<[u8; 32]>(), 1..12),
        corrupt in proptest::collection::vec(any::<bool>(), 12),
    ) {
        let msgs: Vec<TensorMessage> = seeds.iter().enumerate().map(|(i, seed)| {
            let mut m = message([7; 32], vec![i as u8; 16], 4);
            sign_request(&NeuronKey::from_seed(*seed), &mut m, RpcMethod::Forward, i as i64);
            if corrupt[i] {
                m.nounce += 1;
            }
            m
        }).collect();
        let refs: Vec<(&TensorMessage, RpcMethod)> =
            msgs.iter().map(|m| (m, RpcMethod::Forward)).collect();
        let batch = verify_requests_batch(&refs);
        prop_assert_eq!(batch.len(), msgs.len());
        for (m, r) in msgs.iter().zip(&batch) {
            prop_assert_eq!(
                r.as_ref().ok().copied(),
                verify_request(m, RpcMethod::Forward).ok()
            );
        }
    }

    #[test]
    fn replay_guard_never_accepts_twice_and_stays_bounded(
        capacity in 1usize..6,
        window in 0usize..4,
        ops in proptest::collection::vec((0u8..10, 0i64..40, 0i64..3), 1..300),
    ) {
        let callers: Vec<PublicKey> =
            (0..10u8).map(|i| NeuronKey::from_seed([i; 32]).public()).collect();
        let mut guard = ReplayGuard::new(ReplayConfig {
            capacity,
            per_source: capacity,
            max_age_ns: 20,
            max_future_ns: 5,
            reorder_window: window,
        });
        let mut accepted = HashSet::new();
        let mut now = 0i64;
        for (who, offset, tick) in ops {
            now += tick;
            let nonce = now - 20 + offset;
            if guard.check_and_record(&callers[who as usize], nonce, now).is_ok() {
                prop_assert!(accepted.insert((who, nonce)), "accepted ({who}, {nonce}) twice");
                prop_assert!(nonce >= now - 20 && nonce <= now + 5);
            }
            prop_assert!(guard.len() <= capacity);
        }
    }
}

#[test]
fn unsigned_and_malformed_requests_are_rejected_not_panicking() {
    let mut msg = message([1; 32], vec![0; 4], 1);
    assert!(verify_request(&msg, RpcMethod::Forward).is_err());
    msg.neuron_key = "0xzz".into();
    msg.signature = vec![0u8; 64].into();
    assert!(verify_request(&msg, RpcMethod::Forward).is_err());
    msg.neuron_key = NeuronKey::from_seed([1; 32]).public_hex();
    msg.signature = vec![0u8; 63].into();
    assert!(verify_request(&msg, RpcMethod::Forward).is_err());
    assert!(PublicKey::from_hex(&"0".repeat(100_000)).is_err());
}
