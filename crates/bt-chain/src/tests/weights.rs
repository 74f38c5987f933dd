use super::*;
use crate::hparams::HyperparamKey;
use crate::tx::commit_hash;
use crate::weights::MAX_PENDING_COMMITS;

/// Subnet 1 with uid 1 = "v" (a permitted validator) and uids 2, 3 = miners "m1", "m2".
fn setup(tempo: u16) -> H {
    let mut h = H::with_subnet(tempo);
    h.register(&["v", "m1", "m2"]);
    h.s.subnet_mut(1).unwrap().neurons[1].validator_permit = true;
    h.s.forget_root_cache();
    h
}

fn set(h: &mut H, k: HyperparamKey, v: u64) {
    h.ok(
        &key("alice"),
        Call::SetHyperparam {
            netuid: 1,
            key: k,
            value: v,
        },
    );
}

fn sw(uids: Vec<u16>, values: Vec<u16>) -> Call {
    Call::SetWeights {
        netuid: 1,
        uids,
        values,
        version_key: 0,
    }
}

#[test]
fn set_weights_stores_max_upscaled_rows() {
    let mut h = setup(100);
    h.ok(&key("v"), sw(vec![3, 2], vec![100, 50]));
    let n = &h.s.subnet(1).unwrap().neurons[1];
    assert_eq!(n.weights, vec![(2, 32768), (3, 65535)]);
    assert_eq!(n.last_update, h.s.block);
}

#[test]
fn set_weights_error_paths() {
    let mut h = setup(100);
    let v = key("v");
    assert!(matches!(
        h.check(&key("stranger"), sw(vec![1], vec![1])),
        Err(ChainError::NotRegistered { .. })
    ));
    assert_eq!(
        h.check(&v, sw(vec![1, 2], vec![1])),
        Err(ChainError::WeightLengthMismatch { uids: 2, values: 1 })
    );
    assert_eq!(
        h.check(&v, sw(vec![2, 2], vec![1, 1])),
        Err(ChainError::DuplicateUid(2))
    );
    assert_eq!(
        h.check(&v, sw(vec![2, 9], vec![1, 1])),
        Err(ChainError::InvalidUid { uid: 9, n: 4 })
    );
    set(&mut h, HyperparamKey::MinAllowedWeights, 3);
    assert_eq!(
        h.check(&v, sw(vec![2, 3], vec![1, 1])),
        Err(ChainError::TooFewWeights { got: 2, min: 3 })
    );
    set(&mut h, HyperparamKey::MinAllowedWeights, 100);
    // min(n, 100) = 4 entries.
    assert_eq!(
        h.check(&v, sw(vec![0, 2, 3], vec![1, 1, 1])),
        Err(ChainError::TooFewWeights { got: 3, min: 4 })
    );
    set(&mut h, HyperparamKey::MinAllowedWeights, 1);
    set(&mut h, HyperparamKey::MaxWeightsLimit, 40_000);
    assert!(matches!(
        h.check(&v, sw(vec![2, 3], vec![9, 1])),
        Err(ChainError::MaxWeightExceeded { .. })
    ));
    h.ok(&v, sw(vec![2, 3], vec![1, 1]));
    set(&mut h, HyperparamKey::WeightsVersion, 3);
    let old = Call::SetWeights {
        netuid: 1,
        uids: vec![2],
        values: vec![1],
        version_key: 2,
    };
    assert_eq!(
        h.check(&v, old),
        Err(ChainError::IncorrectWeightVersion {
            got: 2,
            required: 3
        })
    );
    set(&mut h, HyperparamKey::MaxWeightsLimit, 65_535);
    set(&mut h, HyperparamKey::WeightsSetRateLimit, 10);
    let newer = Call::SetWeights {
        netuid: 1,
        uids: vec![2],
        values: vec![1],
        version_key: 3,
    };
    assert!(matches!(
        h.check(&v, newer.clone()),
        Err(ChainError::RateLimited { limit: 10, .. })
    ));
    h.advance(10);
    h.ok(&v, newer);
}

#[test]
fn without_permit_only_a_self_weight() {
    let mut h = setup(100);
    let m1 = key("m1");
    assert_eq!(
        h.check(&m1, sw(vec![3], vec![1])),
        Err(ChainError::NoValidatorPermit { uid: 2 })
    );
    assert_eq!(
        h.check(&m1, sw(vec![2, 3], vec![1, 1])),
        Err(ChainError::NoValidatorPermit { uid: 2 })
    );
    set(&mut h, HyperparamKey::MinAllowedWeights, 100);
    h.ok(&m1, sw(vec![2], vec![7]));
    assert_eq!(h.s.subnet(1).unwrap().neurons[2].weights, vec![(2, 65535)]);
}

#[test]
fn set_weights_refused_when_commit_reveal_is_on() {
    let mut h = setup(100);
    set(&mut h, HyperparamKey::CommitRevealEnabled, 1);
    assert_eq!(
        h.check(&key("v"), sw(vec![2], vec![1])),
        Err(ChainError::CommitRevealEnabled(1))
    );
    set(&mut h, HyperparamKey::CommitRevealEnabled, 0);
    let c = Call::CommitWeights {
        netuid: 1,
        commit: [0; 32],
    };
    assert_eq!(
        h.check(&key("v"), c),
        Err(ChainError::CommitRevealDisabled(1))
    );
    let r = Call::RevealWeights {
        netuid: 1,
        uids: vec![],
        values: vec![],
        salt: vec![],
        version_key: 0,
    };
    assert_eq!(
        h.check(&key("v"), r),
        Err(ChainError::CommitRevealDisabled(1))
    );
}

#[test]
fn commit_then_reveal_in_the_reveal_epoch() {
    let mut h = setup(5);
    set(&mut h, HyperparamKey::CommitRevealEnabled, 1);
    let v = key("v");
    let (uids, values, salt) = (vec![2u16, 3], vec![10u16, 30], b"pepper".to_vec());
    let commit = commit_hash(&v.account(), 1, &uids, &values, &salt, 0);
    h.ok(&v, Call::CommitWeights { netuid: 1, commit });
    let reveal = Call::RevealWeights {
        netuid: 1,
        uids: uids.clone(),
        values: values.clone(),
        salt: salt.clone(),
        version_key: 0,
    };
    assert!(matches!(
        h.check(&v, reveal.clone()),
        Err(ChainError::RevealTooEarly { .. })
    ));
    let wrong = Call::RevealWeights {
        netuid: 1,
        uids: uids.clone(),
        values: values.clone(),
        salt: b"salt".to_vec(),
        version_key: 0,
    };
    assert_eq!(h.check(&v, wrong), Err(ChainError::NoMatchingCommit));
    let sn = h.s.subnet(1).unwrap();
    let reveal_epoch = sn.commits[&v.account()][0].epoch + 1;
    while h.s.subnet(1).unwrap().epoch_index(h.s.block + 1) < reveal_epoch {
        h.advance(1);
    }
    // Epochs in between recomputed permits (v has no stake); give it one back.
    h.s.subnet_mut(1).unwrap().neurons[1].validator_permit = true;
    h.s.forget_root_cache();
    h.ok(&v, reveal);
    let sn = h.s.subnet(1).unwrap();
    assert_eq!(sn.neurons[1].weights, vec![(2, 21845), (3, 65535)]);
    assert!(sn.commits.is_empty());
}

#[test]
fn unrevealed_commits_expire() {
    let mut h = setup(5);
    set(&mut h, HyperparamKey::CommitRevealEnabled, 1);
    let v = key("v");
    let commit = commit_hash(&v.account(), 1, &[2], &[1], b"s", 0);
    h.ok(&v, Call::CommitWeights { netuid: 1, commit });
    let reveal_epoch = h.s.subnet(1).unwrap().commits[&v.account()][0].epoch + 1;
    // Still pending one block past the reveal epoch? It is reported as expired...
    while h.s.subnet(1).unwrap().epoch_index(h.s.block + 1) <= reveal_epoch {
        h.advance(1);
    }
    let reveal = Call::RevealWeights {
        netuid: 1,
        uids: vec![2],
        values: vec![1],
        salt: b"s".to_vec(),
        version_key: 0,
    };
    let got = h.check(&v, reveal);
    assert!(
        matches!(
            got,
            Err(ChainError::CommitExpired { .. }) | Err(ChainError::NoMatchingCommit)
        ),
        "{got:?}"
    );
    // ...and pruned by the next block.
    h.advance(1);
    assert!(h.s.subnet(1).unwrap().commits.is_empty());
}

#[test]
fn pending_commits_are_bounded() {
    let mut h = setup(100);
    set(&mut h, HyperparamKey::CommitRevealEnabled, 1);
    set(&mut h, HyperparamKey::CommitRevealPeriod, 100);
    let v = key("v");
    for i in 0..MAX_PENDING_COMMITS {
        h.ok(
            &v,
            Call::CommitWeights {
                netuid: 1,
                commit: [i as u8; 32],
            },
        );
    }
    assert_eq!(
        h.check(
            &v,
            Call::CommitWeights {
                netuid: 1,
                commit: [99; 32]
            }
        ),
        Err(ChainError::TooManyCommits {
            max: MAX_PENDING_COMMITS
        })
    );
    set(&mut h, HyperparamKey::WeightsSetRateLimit, 50);
    assert!(matches!(
        h.check(
            &v,
            Call::CommitWeights {
                netuid: 1,
                commit: [98; 32]
            }
        ),
        Err(ChainError::RateLimited { .. })
    ));
}
