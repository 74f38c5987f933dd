use super::*;
use crate::axon::{AxonIdentity, AxonInfo};
use crate::hparams::{HyperparamKey, RAO_PER_TAO};
use bt_crypto::NeuronKey;

#[test]
fn transfer_rules() {
    let mut h = H::new(Genesis::local_dev(10));
    let (a, b) = (key("a"), key("b"));
    assert_eq!(
        h.check(
            &a,
            Call::Transfer {
                dest: b.account(),
                amount: 0
            }
        ),
        Err(ChainError::ZeroAmount)
    );
    assert!(matches!(
        h.check(
            &a,
            Call::Transfer {
                dest: b.account(),
                amount: 1
            }
        ),
        Err(ChainError::InsufficientBalance { .. })
    ));
    h.ok(&a, Call::Faucet);
    h.ok(
        &a,
        Call::Transfer {
            dest: b.account(),
            amount: 5,
        },
    );
    assert_eq!(h.s.balance(&b.account()), 5);
    // The transfer paid its fee.
    assert_eq!(
        h.s.balance(&a.account()),
        h.g.faucet_amount - 5 - h.g.tx_fee
    );
}

#[test]
fn genesis_endowment_and_faucet() {
    let a = key("rich");
    let g = Genesis {
        endowed: vec![(a.account(), 7)],
        faucet_amount: 0,
        ..Genesis::local_dev(10)
    };
    let mut h = H::new(g);
    assert_eq!(h.s.balance(&a.account()), 7);
    assert_eq!(h.check(&a, Call::Faucet), Err(ChainError::FaucetDisabled));
    let mut h = H::new(Genesis::local_dev(10));
    h.ok(&a, Call::Faucet);
    assert!(matches!(
        h.check(&a, Call::Faucet),
        Err(ChainError::FaucetNotNeeded { .. })
    ));
}

#[test]
fn nonces_reject_replays_and_gaps() {
    let mut h = H::new(Genesis::local_dev(10));
    let a = key("a");
    let tx = h.sign(&a, Call::Faucet);
    h.block(vec![tx.clone()]);
    assert_eq!(h.s.nonce(&a.account()), 1);
    // Replay of the same transaction: left out of the block.
    let p = apply_block(&h.s, &h.g, &h.gh, vec![tx], 5, true).unwrap();
    assert!(p.block.txs.is_empty());
    assert!(matches!(
        p.rejected[0].error,
        ChainError::StaleNonce {
            got: 0,
            expected: 1,
            ..
        }
    ));
    let future = SignedTx::sign(&a, 5, Call::Faucet, &h.gh);
    let p = apply_block(&h.s, &h.g, &h.gh, vec![future], 5, true).unwrap();
    assert!(matches!(
        p.rejected[0].error,
        ChainError::FutureNonce {
            got: 5,
            expected: 1,
            ..
        }
    ));
}

#[test]
fn signatures_are_checked_and_bound_to_the_genesis() {
    let mut h = H::new(Genesis::local_dev(10));
    let a = key("a");
    let mut tx = h.sign(&a, Call::Faucet);
    tx.signer = key("mallory").account();
    let p = apply_block(&h.s, &h.g, &h.gh, vec![tx], 5, true).unwrap();
    assert!(matches!(
        p.rejected[0].error,
        ChainError::BadSignature { .. }
    ));
    let other_chain = SignedTx::sign(&a, 0, Call::Faucet, &[9; 32]);
    assert!(matches!(
        other_chain.verify(&h.gh),
        Err(ChainError::WrongChain { .. })
    ));
    // Same tag, other hash: the signature still tells.
    let mut near = h.gh;
    near[31] ^= 1;
    let near_chain = SignedTx::sign(&a, 0, Call::Faucet, &near);
    assert!(matches!(
        near_chain.verify(&h.gh),
        Err(ChainError::BadSignature { .. })
    ));
}

#[test]
fn import_rejects_tampered_blocks() {
    let mut h = H::new(Genesis::local_dev(10));
    let tx = h.sign(&key("a"), Call::Faucet);
    let p = apply_block(&h.s, &h.g, &h.gh, vec![tx], 5, true).unwrap();
    let mut bad = p.block.clone();
    bad.header.state_root = [1; 32];
    assert!(matches!(
        import_block(&h.s, &h.g, &h.gh, &bad),
        Err(ChainError::StateRootMismatch { .. })
    ));
    let mut bad = p.block.clone();
    bad.header.parent_hash = [2; 32];
    assert!(matches!(
        import_block(&h.s, &h.g, &h.gh, &bad),
        Err(ChainError::BadParent { .. })
    ));
    let mut bad = p.block.clone();
    bad.header.number = 7;
    assert!(matches!(
        import_block(&h.s, &h.g, &h.gh, &bad),
        Err(ChainError::BadBlockNumber { .. })
    ));
    let bytes = p.block.to_bytes().unwrap();
    assert_eq!(crate::block::Block::from_bytes(&bytes).unwrap(), p.block);
}

#[test]
fn subnet_creation_rules() {
    let mut h = H::new(Genesis {
        max_subnets: 1,
        ..Genesis::local_dev(10)
    });
    let (a, b) = (key("a"), key("b"));
    let hot = key("a-hot").account();
    assert!(matches!(
        h.check(&a, Call::CreateSubnet { owner_hotkey: hot }),
        Err(ChainError::InsufficientBalance { .. })
    ));
    h.ok(&a, Call::Faucet);
    h.ok(&a, Call::CreateSubnet { owner_hotkey: hot });
    let sn = h.s.subnet(1).unwrap();
    assert_eq!(sn.neurons[0].hotkey, hot);
    assert_eq!(sn.owner_coldkey, a.account());
    assert_eq!(
        h.s.balance(&a.account()),
        h.g.faucet_amount - h.g.subnet_creation_cost - h.g.tx_fee
    );
    h.ok(&b, Call::Faucet);
    assert_eq!(
        h.check(
            &b,
            Call::CreateSubnet {
                owner_hotkey: key("b-hot").account()
            }
        ),
        Err(ChainError::TooManySubnets(1))
    );
    let mut h2 = H::new(Genesis::local_dev(10));
    h2.ok(&a, Call::Faucet);
    h2.ok(&b, Call::Faucet);
    h2.ok(&a, Call::CreateSubnet { owner_hotkey: hot });
    assert!(matches!(
        h2.check(&b, Call::CreateSubnet { owner_hotkey: hot }),
        Err(ChainError::NotHotkeyOwner { .. })
    ));
}

#[test]
fn only_the_owner_sets_hyperparameters() {
    let mut h = H::with_subnet(10);
    let set = |key, value| Call::SetHyperparam {
        netuid: 1,
        key,
        value,
    };
    assert!(matches!(
        h.check(&key("bob"), set(HyperparamKey::Tempo, 5)),
        Err(ChainError::NotSubnetOwner { .. })
    ));
    assert!(matches!(
        h.check(&key("alice"), set(HyperparamKey::Tempo, 0)),
        Err(ChainError::InvalidHyperparam { .. })
    ));
    assert_eq!(
        h.check(
            &key("alice"),
            Call::SetHyperparam {
                netuid: 9,
                key: HyperparamKey::Tempo,
                value: 5
            }
        ),
        Err(ChainError::SubnetNotFound(9))
    );
    h.ok(&key("alice"), set(HyperparamKey::Tempo, 5));
    assert_eq!(h.s.subnet(1).unwrap().hparams.tempo, 5);
}

#[test]
fn stake_rules() {
    let mut h = H::with_subnet(10);
    let cold = key("alice");
    let hot = key("alice-hot").account();
    assert_eq!(
        h.check(
            &cold,
            Call::AddStake {
                hotkey: hot,
                amount: 0
            }
        ),
        Err(ChainError::ZeroAmount)
    );
    let stranger = key("nobody").account();
    assert_eq!(
        h.check(
            &cold,
            Call::AddStake {
                hotkey: stranger,
                amount: 1
            }
        ),
        Err(ChainError::UnknownHotkey(stranger))
    );
    assert!(matches!(
        h.check(
            &cold,
            Call::AddStake {
                hotkey: hot,
                amount: u64::MAX
            }
        ),
        Err(ChainError::InsufficientBalance { .. })
    ));
    h.ok(
        &cold,
        Call::AddStake {
            hotkey: hot,
            amount: 100 * RAO_PER_TAO,
        },
    );
    assert_eq!(h.s.total_stake(&hot), 100 * RAO_PER_TAO);
    assert!(matches!(
        h.check(
            &cold,
            Call::RemoveStake {
                hotkey: hot,
                amount: 101 * RAO_PER_TAO
            }
        ),
        Err(ChainError::InsufficientStake { .. })
    ));
    assert_eq!(
        h.check(
            &cold,
            Call::RemoveStake {
                hotkey: hot,
                amount: 0
            }
        ),
        Err(ChainError::ZeroAmount)
    );
    let before = h.s.balance(&cold.account());
    h.ok(
        &cold,
        Call::RemoveStake {
            hotkey: hot,
            amount: 100 * RAO_PER_TAO,
        },
    );
    assert_eq!(h.s.total_stake(&hot), 0);
    assert_eq!(
        h.s.balance(&cold.account()),
        before + 100 * RAO_PER_TAO - h.g.tx_fee
    );
}

fn neuron() -> NeuronKey {
    NeuronKey::from_seed([7; 32])
}

fn identity(hotkey: &Keypair) -> AxonIdentity {
    AxonIdentity::sign(
        &neuron(),
        &hotkey.account(),
        1,
        &NeuronKey::from_seed([8; 32]).public(),
    )
}

fn axon_with(port: u16, identity: AxonIdentity) -> Call {
    Call::ServeAxon {
        netuid: 1,
        version: 1,
        ip: u128::from(u32::from(std::net::Ipv4Addr::new(10, 0, 0, 1))),
        port,
        ip_type: 4,
        protocol: 4,
        identity,
    }
}

fn axon(port: u16) -> Call {
    axon_with(port, identity(&key("alice-hot")))
}

#[test]
fn serve_axon_rules() {
    let mut h = H::with_subnet(10);
    let hot = key("alice-hot");
    assert!(matches!(
        h.check(&key("stranger"), axon(80)),
        Err(ChainError::NotRegistered { .. })
    ));
    assert!(matches!(
        h.check(&hot, axon(0)),
        Err(ChainError::InvalidAxon(_))
    ));
    let bad_type = Call::ServeAxon {
        netuid: 1,
        version: 1,
        ip: 1,
        port: 1,
        ip_type: 5,
        protocol: 0,
        identity: identity(&hot),
    };
    assert!(matches!(
        h.check(&hot, bad_type),
        Err(ChainError::InvalidAxon(_))
    ));
    let wide_v4 = Call::ServeAxon {
        netuid: 1,
        version: 1,
        ip: 1 << 40,
        port: 1,
        ip_type: 4,
        protocol: 0,
        identity: identity(&hot),
    };
    assert!(matches!(
        h.check(&hot, wide_v4),
        Err(ChainError::InvalidAxon(_))
    ));
    // The binding must be signed by the neuron key, for this hotkey, netuid and synapse key.
    let for_other_hotkey = identity(&key("stranger"));
    let mut tampered = identity(&hot);
    tampered.synapse_key = *NeuronKey::from_seed([9; 32]).public().as_bytes();
    let mut other_netuid = identity(&hot);
    other_netuid.signature = AxonIdentity::sign(
        &neuron(),
        &hot.account(),
        2,
        &NeuronKey::from_seed([8; 32]).public(),
    )
    .signature;
    let mut not_a_point = identity(&hot);
    not_a_point.neuron_key = [0xff; 32];
    for bad in [for_other_hotkey, tampered, other_netuid, not_a_point] {
        let err = h.check(&hot, axon_with(80, bad)).unwrap_err();
        assert!(matches!(err, ChainError::InvalidAxon(_)), "{err}");
    }
    h.ok(
        &key("alice"),
        Call::SetHyperparam {
            netuid: 1,
            key: HyperparamKey::ServingRateLimit,
            value: 5,
        },
    );
    h.ok(&hot, axon(8091));
    let block = h.s.block;
    let got = h.s.subnet(1).unwrap().neurons[0].axon.clone().unwrap();
    assert_eq!(
        got,
        AxonInfo {
            version: 1,
            ip: 0x0a00_0001,
            port: 8091,
            ip_type: 4,
            protocol: 4,
            block,
            identity: identity(&hot),
        }
    );
    assert_eq!(got.ip_addr(), std::net::IpAddr::from([10, 0, 0, 1]));
    assert_eq!(got.identity.neuron_key_hex(), neuron().public_hex());
    got.identity.verify(&hot.account(), 1).unwrap();
    assert!(matches!(
        h.check(&hot, axon(8092)),
        Err(ChainError::RateLimited { limit: 5, .. })
    ));
    h.advance(5);
    h.ok(&hot, axon(8092));
}

#[test]
fn epoch_runs_every_tempo_and_credits_emission_to_stake() {
    let mut h = H::with_subnet(4);
    h.register(&["v", "m"]);
    let v = key("v");
    h.ok(
        &key("v-cold"),
        Call::AddStake {
            hotkey: v.account(),
            amount: 10 * RAO_PER_TAO,
        },
    );
    // Wait for the first epoch so permits exist.
    let sn = h.s.subnet(1).unwrap().clone();
    while !h.s.subnet(1).unwrap().is_epoch_block(h.s.block) {
        h.advance(1);
    }
    assert!(h.s.subnet(1).unwrap().last_epoch_block > sn.last_epoch_block);
    assert!(h.s.subnet(1).unwrap().neurons[1].validator_permit);
    h.ok(
        &v,
        Call::SetWeights {
            netuid: 1,
            uids: vec![2],
            values: vec![1],
            version_key: 0,
        },
    );
    let stake_before = h.s.total_stake(&v.account());
    let issuance_before = h.s.total_issuance;
    h.advance(u64::from(h.s.subnet(1).unwrap().hparams.tempo) + 1);
    let sn = h.s.subnet(1).unwrap();
    assert!(
        sn.neurons[2].incentive > 0,
        "the weighted miner earns incentive"
    );
    assert!(sn.neurons[1].dividends > 0, "the validator earns dividends");
    assert!(h.s.total_stake(&v.account()) > stake_before);
    assert!(h.s.total_stake(&key("m").account()) > 0);
    assert!(h.s.total_issuance > issuance_before);
}
