//! The recorded mainnet metadata (V14 and V15) decodes, and SubtensorModule's calls and storage
//! entries are found in it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use bt_subtensor::Metadata;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    hex::decode(text.trim().trim_start_matches("0x")).expect("fixture is hex")
}

#[test]
fn v14_lists_subtensor_calls_and_storage() {
    let m = Metadata::decode_prefixed(&fixture("mainnet-metadata-v14.hex"), 0).expect("decodes");
    assert_eq!(m.version, 14);
    let calls = m.call_names("SubtensorModule").expect("pallet");
    for c in [
        "set_weights",
        "burned_register",
        "serve_axon",
        "add_stake",
        "commit_weights",
    ] {
        assert!(calls.iter().any(|n| n == c), "{c} missing from {calls:?}");
    }
    m.storage("SubtensorModule", "Weights")
        .expect("Weights storage");
    println!("{} calls: {calls:?}", calls.len());
}

#[test]
fn v15_has_runtime_apis() {
    let m = Metadata::decode_at_version(&fixture("mainnet-metadata-v15.hex"), 0)
        .expect("decodes")
        .expect("some");
    assert_eq!(m.version, 15);
    for a in &m.runtime_apis {
        println!("{}_{} {:?} -> {}", a.api, a.name, a.inputs, a.output);
    }
    for e in &m.extrinsic.signed_extensions {
        println!("ext {}", e.identifier);
    }
    m.runtime_api("NeuronInfoRuntimeApi", "get_neurons_lite")
        .expect("api");
}

#[test]
fn a_signed_set_weights_for_the_newest_runtime() {
    use bt_crypto::wallet::Sr25519Pair;
    use bt_subtensor::extrinsic::{Call, ChainFacts, Mortality, TxParams, sign};
    use parity_scale_codec::{Compact, Decode};
    use scale_value::Value;

    let m = Metadata::decode_at_version(&fixture("mainnet-metadata-v15.hex"), 343)
        .expect("decodes")
        .expect("some");
    let signer = Sr25519Pair::from_seed([7; 32]);
    let call = Call::new(
        "SubtensorModule",
        "set_weights",
        vec![
            ("netuid", Value::u128(1)),
            (
                "dests",
                Value::unnamed_composite([Value::u128(0), Value::u128(3)]),
            ),
            (
                "weights",
                Value::unnamed_composite([Value::u128(65535), Value::u128(100)]),
            ),
            ("version_key", Value::u128(0)),
        ],
    );
    let facts = ChainFacts {
        spec_version: 343,
        transaction_version: 1,
        genesis_hash: [1; 32],
    };
    let params = TxParams {
        nonce: 5,
        tip: 0,
        mortality: Some(Mortality {
            period: 64,
            birth_number: 1000,
            birth_hash: [2; 32],
        }),
    };
    let xt = sign(&m, &call, &signer, &facts, &params).expect("signs");
    let mut cursor = &xt[..];
    let len = Compact::<u32>::decode(&mut cursor)
        .expect("length prefix")
        .0 as usize;
    assert_eq!(len, cursor.len());
    assert_eq!(cursor[0], 0x84, "signed, version 4");
    // MultiAddress::Id then MultiSignature::Sr25519.
    assert_eq!(cursor[1], 0);
    assert_eq!(&cursor[2..34], &signer.account().0);
    assert_eq!(cursor[34], 1);
    // The call at the end decodes back, through the runtime's call enum, to what we sent.
    let call_bytes = call.encode(&m).expect("call");
    assert!(xt.ends_with(&call_bytes));
    let decoded = bt_subtensor::codec::decode(&m, m.extrinsic.call_ty, &call_bytes, "call")
        .expect("call decodes");
    let text = decoded.to_string();
    assert!(
        text.contains("SubtensorModule") && text.contains("set_weights"),
        "{text}"
    );
    assert!(text.contains("65535"), "{text}");
    // And the signature verifies over call ++ extra ++ additional.
    let extra_len = cursor.len() - 99 - call_bytes.len();
    let extra = &cursor[99..99 + extra_len];
    let mut payload = call_bytes.clone();
    payload.extend_from_slice(extra);
    payload.extend_from_slice(&343u32.to_le_bytes());
    payload.extend_from_slice(&1u32.to_le_bytes());
    payload.extend_from_slice(&[1; 32]);
    payload.extend_from_slice(&[2; 32]);
    payload.push(0); // CheckMetadataHash: None
    assert_eq!(
        payload.len() - call_bytes.len() - extra_len,
        4 + 4 + 32 + 32 + 1
    );
    let msg = if payload.len() > 256 {
        bt_subtensor::codec::blake2_256(&payload).to_vec()
    } else {
        payload
    };
    signer
        .account()
        .verify(&msg, &cursor[35..99])
        .expect("signature verifies");
    // extra: era (2) + compact nonce 5 (1) + compact tip 0 (1) + metadata-hash mode (1).
    let era = bt_subtensor::extrinsic::mortal_era(64, 1000);
    assert_eq!(extra, &[era[0], era[1], 5 << 2, 0, 0][..]);
}
