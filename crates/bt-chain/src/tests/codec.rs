use super::*;
use crate::codec::MAX_TX_BYTES;
use crate::hparams::HyperparamKey;
use proptest::prelude::*;

fn account() -> impl Strategy<Value = AccountId> {
    any::<[u8; 32]>().prop_map(AccountId)
}

fn call() -> impl Strategy<Value = Call> {
    let weights = (0usize..64).prop_flat_map(|n| {
        (
            proptest::collection::vec(any::<u16>(), n),
            proptest::collection::vec(any::<u16>(), n),
        )
    });
    prop_oneof![
        (account(), any::<u64>()).prop_map(|(dest, amount)| Call::Transfer { dest, amount }),
        Just(Call::Faucet),
        account().prop_map(|owner_hotkey| Call::CreateSubnet { owner_hotkey }),
        (any::<u16>(), 0u8..30, any::<u64>()).prop_map(|(netuid, k, value)| Call::SetHyperparam {
            netuid,
            key: HyperparamKey::from_tag(k).unwrap(),
            value
        }),
        (any::<u16>(), account())
            .prop_map(|(netuid, hotkey)| Call::BurnedRegister { netuid, hotkey }),
        (any::<u16>(), account(), any::<u64>(), any::<u64>()).prop_map(
            |(netuid, coldkey, block_number, work_nonce)| Call::PowRegister {
                netuid,
                coldkey,
                block_number,
                work_nonce
            }
        ),
        (account(), any::<u64>()).prop_map(|(hotkey, amount)| Call::AddStake { hotkey, amount }),
        (account(), any::<u64>()).prop_map(|(hotkey, amount)| Call::RemoveStake { hotkey, amount }),
        (
            (
                any::<u16>(),
                any::<u32>(),
                any::<u128>(),
                any::<u16>(),
                any::<u8>(),
                any::<u8>()
            ),
            (
                any::<[u8; 32]>(),
                any::<[u8; 32]>(),
                proptest::collection::vec(any::<u8>(), 64)
            )
        )
            .prop_map(
                |((netuid, version, ip, port, ip_type, protocol), (nk, sk, sig))| {
                    Call::ServeAxon {
                        netuid,
                        version,
                        ip,
                        port,
                        ip_type,
                        protocol,
                        identity: crate::AxonIdentity {
                            neuron_key: nk,
                            synapse_key: sk,
                            signature: sig.try_into().unwrap(),
                        },
                    }
                }
            ),
        (any::<u16>(), weights.clone(), any::<u64>()).prop_map(
            |(netuid, (uids, values), version_key)| Call::SetWeights {
                netuid,
                uids,
                values,
                version_key
            }
        ),
        (any::<u16>(), any::<[u8; 32]>())
            .prop_map(|(netuid, commit)| Call::CommitWeights { netuid, commit }),
        (
            any::<u16>(),
            weights,
            proptest::collection::vec(any::<u8>(), 0..=64),
            any::<u64>()
        )
            .prop_map(
                |(netuid, (uids, values), salt, version_key)| Call::RevealWeights {
                    netuid,
                    uids,
                    values,
                    salt,
                    version_key
                }
            ),
    ]
}

fn tx() -> impl Strategy<Value = SignedTx> {
    (
        account(),
        any::<[u8; 8]>(),
        any::<u64>(),
        call(),
        proptest::collection::vec(any::<u8>(), 64),
    )
        .prop_map(|(signer, genesis_tag, nonce, call, sig)| SignedTx {
            signer,
            genesis_tag,
            nonce,
            call,
            signature: sig.try_into().unwrap(),
        })
}

proptest! {
    #[test]
    fn round_trip_is_identity_and_canonical(t in tx()) {
        let bytes = t.encode();
        prop_assert!(bytes.len() <= MAX_TX_BYTES);
        let back = SignedTx::decode(&bytes).unwrap();
        prop_assert_eq!(&back, &t);
        prop_assert_eq!(back.encode(), bytes);
    }

    #[test]
    fn every_strict_prefix_and_any_extension_is_rejected(t in tx(), extra in 1usize..8) {
        let bytes = t.encode();
        for cut in [0, 1, bytes.len() / 2, bytes.len() - 1] {
            prop_assert!(SignedTx::decode(&bytes[..cut]).is_err());
        }
        let mut longer = bytes.clone();
        longer.extend(std::iter::repeat_n(0u8, extra));
        prop_assert!(SignedTx::decode(&longer).is_err());
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(t) = SignedTx::decode(&bytes) {
            prop_assert_eq!(t.encode(), bytes);
        }
    }

    #[test]
    fn signatures_verify_only_unmodified(nonce in any::<u64>(), c in call(), flip in 0usize..1000) {
        let k = key("prop");
        let gh = [3u8; 32];
        let t = SignedTx::sign(&k, nonce, c, &gh);
        prop_assert!(t.verify(&gh).is_ok());
        let mut bytes = t.encode();
        let i = flip % bytes.len();
        bytes[i] ^= 1;
        if let Ok(m) = SignedTx::decode(&bytes) {
            prop_assert!(m.verify(&gh).is_err());
        }
    }
}

#[test]
fn oversized_and_huge_length_prefixes_are_rejected_before_allocating() {
    assert!(matches!(
        SignedTx::decode(&vec![1u8; MAX_TX_BYTES + 1]),
        Err(ChainError::TxTooLarge { .. })
    ));
    // A SetWeights claiming u32::MAX uids.
    let mut b = vec![2u8];
    b.extend([0u8; 32]);
    b.extend([0u8; 8]);
    b.extend(0u64.to_le_bytes());
    b.push(9);
    b.extend(1u16.to_le_bytes());
    b.extend(u32::MAX.to_le_bytes());
    let e = SignedTx::decode(&b).unwrap_err();
    assert!(e.to_string().contains("exceeds"), "{e}");
    assert!(
        SignedTx::decode(&[1u8])
            .unwrap_err()
            .to_string()
            .contains("version 1")
    );
}

/// One transaction per call, for the `tx_decode` fuzz target's seed corpus.
fn seed_corpus() -> Vec<(&'static str, SignedTx)> {
    let k = key("seed");
    let a = key("seed-other").account();
    let gh = [3u8; 32];
    let uids = vec![0u16, 1, 2];
    let values = vec![65535u16, 100, 7];
    let identity = crate::AxonIdentity {
        neuron_key: [1; 32],
        synapse_key: [2; 32],
        signature: [3; 64],
    };
    let calls = [
        ("transfer", Call::Transfer { dest: a, amount: 5 }),
        ("faucet", Call::Faucet),
        ("create", Call::CreateSubnet { owner_hotkey: a }),
        (
            "hparam",
            Call::SetHyperparam {
                netuid: 1,
                key: HyperparamKey::Tempo,
                value: 10,
            },
        ),
        (
            "burn",
            Call::BurnedRegister {
                netuid: 1,
                hotkey: a,
            },
        ),
        (
            "pow",
            Call::PowRegister {
                netuid: 1,
                coldkey: a,
                block_number: 3,
                work_nonce: 9,
            },
        ),
        (
            "stake",
            Call::AddStake {
                hotkey: a,
                amount: 5,
            },
        ),
        (
            "unstake",
            Call::RemoveStake {
                hotkey: a,
                amount: 5,
            },
        ),
        (
            "axon",
            Call::ServeAxon {
                netuid: 1,
                version: 1,
                ip: 0x7f00_0001,
                port: 8091,
                ip_type: 4,
                protocol: 4,
                identity,
            },
        ),
        (
            "weights",
            Call::SetWeights {
                netuid: 1,
                uids: uids.clone(),
                values: values.clone(),
                version_key: 0,
            },
        ),
        (
            "commit",
            Call::CommitWeights {
                netuid: 1,
                commit: [4; 32],
            },
        ),
        (
            "reveal",
            Call::RevealWeights {
                netuid: 1,
                uids,
                values,
                salt: vec![5; 8],
                version_key: 0,
            },
        ),
    ];
    calls
        .into_iter()
        .map(|(name, c)| (name, SignedTx::sign(&k, 7, c, &gh)))
        .collect()
}

/// The checked-in seed corpus decodes with today's format (a format change that forgets it
/// fails here). `BT_WRITE_FUZZ_SEEDS=1` rewrites it.
#[test]
fn fuzz_seed_corpus_is_current() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/tx_decode");
    let seeds = seed_corpus();
    if std::env::var_os("BT_WRITE_FUZZ_SEEDS").is_some() {
        for (name, tx) in &seeds {
            std::fs::write(dir.join(name), tx.encode()).unwrap();
        }
    }
    for (name, tx) in &seeds {
        let stored = std::fs::read(dir.join(name)).unwrap();
        let decoded = SignedTx::decode(&stored).unwrap_or_else(|e| {
            panic!("seed {name} no longer decodes ({e}); rerun with BT_WRITE_FUZZ_SEEDS=1")
        });
        assert_eq!(decoded.call.name(), tx.call.name(), "seed {name}");
    }
}
