use super::*;
use crate::apply::POW_WINDOW;
use crate::hparams::HyperparamKey;
use crate::tx::{pow_seal, seal_meets_difficulty, solve_pow};

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

#[test]
fn burn_rises_after_each_registration_and_decays_per_block() {
    let mut h = H::with_subnet(100);
    let b0 = h.s.subnet(1).unwrap().burn;
    h.register(&["n1"]);
    let b1 = h.s.subnet(1).unwrap().burn;
    assert_eq!(
        u128::from(b1),
        u128::from(b0) * 3 / 2,
        "x1.5 per registration"
    );
    let cold = key("n1-cold").account();
    assert_eq!(
        h.s.balance(&cold),
        h.g.faucet_amount - b0 - h.g.tx_fee,
        "the registration burned the price and paid the fee"
    );
    h.advance(50);
    let b2 = h.s.subnet(1).unwrap().burn;
    assert!(b2 < b1 && b2 >= h.s.subnet(1).unwrap().hparams.min_burn);
}

#[test]
fn registration_errors() {
    let mut h = H::with_subnet(100);
    h.register(&["n1"]);
    let cold = key("n1-cold");
    let again = Call::BurnedRegister {
        netuid: 1,
        hotkey: key("n1").account(),
    };
    assert!(matches!(
        h.check(&cold, again),
        Err(ChainError::AlreadyRegistered { .. })
    ));
    assert_eq!(
        h.check(
            &cold,
            Call::BurnedRegister {
                netuid: 7,
                hotkey: key("x").account()
            }
        ),
        Err(ChainError::SubnetNotFound(7))
    );
    let poor = key("poor");
    assert!(matches!(
        h.check(
            &poor,
            Call::BurnedRegister {
                netuid: 1,
                hotkey: key("x").account()
            }
        ),
        Err(ChainError::InsufficientBalance { .. })
    ));
    // Registered already, whoever pays.
    assert!(matches!(
        h.check(
            &key("alice"),
            Call::BurnedRegister {
                netuid: 1,
                hotkey: key("n1").account()
            }
        ),
        Err(ChainError::AlreadyRegistered { .. })
    ));
    set(&mut h, HyperparamKey::MaxRegsPerBlock, 1);
    let (c2, c3) = (key("c2"), key("c3"));
    h.ok(&c2, Call::Faucet);
    h.ok(&c3, Call::Faucet);
    let t2 = h.sign(
        &c2,
        Call::BurnedRegister {
            netuid: 1,
            hotkey: key("h2").account(),
        },
    );
    let t3 = h.sign(
        &c3,
        Call::BurnedRegister {
            netuid: 1,
            hotkey: key("h3").account(),
        },
    );
    let r = h.block(vec![t2, t3]);
    assert!(r[0].error.is_none());
    assert!(
        r[1].error
            .as_deref()
            .unwrap()
            .contains("registrations this block")
    );
    set(&mut h, HyperparamKey::RegistrationAllowed, 0);
    assert_eq!(
        h.check(
            &c3,
            Call::BurnedRegister {
                netuid: 1,
                hotkey: key("h3").account()
            }
        ),
        Err(ChainError::RegistrationDisabled(1))
    );
}

#[test]
fn hotkey_owned_by_another_coldkey_is_refused() {
    let mut h = H::with_subnet(100);
    h.register(&["n1"]);
    // Register n1 on a second subnet with a different coldkey.
    let bob = key("bob");
    h.ok(&bob, Call::Faucet);
    h.ok(
        &bob,
        Call::CreateSubnet {
            owner_hotkey: key("bob-hot").account(),
        },
    );
    assert!(matches!(
        h.check(
            &bob,
            Call::BurnedRegister {
                netuid: 2,
                hotkey: key("n1").account()
            }
        ),
        Err(ChainError::NotHotkeyOwner { .. })
    ));
}

#[test]
fn full_subnet_replaces_lowest_emission_past_immunity() {
    let mut h = H::with_subnet(100);
    set(&mut h, HyperparamKey::MaxAllowedUids, 4);
    set(&mut h, HyperparamKey::ImmunityPeriod, 100);
    h.register(&["a", "b", "c"]);
    // Emissions: owner 0 (never replaced), a = 5, b = 1, c = 1. b and c tie; b is older.
    {
        let sn = h.s.subnet_mut(1).unwrap();
        sn.neurons[1].emission = 5;
        sn.neurons[2].emission = 1;
        sn.neurons[3].emission = 1;
    }
    h.s.forget_root_cache();
    // Everyone is still immune.
    let cold = key("d-cold");
    h.ok(&cold, Call::Faucet);
    assert!(matches!(
        h.check(
            &cold,
            Call::BurnedRegister {
                netuid: 1,
                hotkey: key("d").account()
            }
        ),
        Err(ChainError::NoNeuronToReplace { .. })
    ));
    set(&mut h, HyperparamKey::ImmunityPeriod, 5);
    h.advance(6);
    h.ok(
        &cold,
        Call::BurnedRegister {
            netuid: 1,
            hotkey: key("d").account(),
        },
    );
    let sn = h.s.subnet(1).unwrap();
    assert_eq!(
        sn.neurons[2].hotkey,
        key("d").account(),
        "b (uid 2) had the lowest emission and the older registration"
    );
    assert_eq!(
        sn.neurons[0].hotkey,
        key("alice-hot").account(),
        "the owner stays"
    );
    assert_eq!(sn.n(), 4);
    // Equal emission and registration block: the lower uid goes.
    let mut h = H::with_subnet(100);
    set(&mut h, HyperparamKey::MaxAllowedUids, 3);
    set(&mut h, HyperparamKey::ImmunityPeriod, 0);
    h.register(&["a", "b"]);
    {
        let sn = h.s.subnet_mut(1).unwrap();
        sn.neurons[2].registered_at = sn.neurons[1].registered_at;
    }
    h.s.forget_root_cache();
    h.register(&["e"]);
    assert_eq!(h.s.subnet(1).unwrap().neurons[1].hotkey, key("e").account());
}

#[test]
fn owner_is_never_replaced() {
    let mut h = H::with_subnet(100);
    set(&mut h, HyperparamKey::MaxAllowedUids, 1);
    set(&mut h, HyperparamKey::ImmunityPeriod, 0);
    let cold = key("z-cold");
    h.ok(&cold, Call::Faucet);
    assert!(matches!(
        h.check(
            &cold,
            Call::BurnedRegister {
                netuid: 1,
                hotkey: key("z").account()
            }
        ),
        Err(ChainError::NoNeuronToReplace { .. })
    ));
}

#[test]
fn proof_of_work_registration() {
    let mut h = H::with_subnet(100);
    set(&mut h, HyperparamKey::Difficulty, 1000);
    h.advance(1);
    let hot = key("miner");
    let cold = key("miner-cold").account();
    let work_block = h.s.block;
    let hash = h.s.head_hash;
    let difficulty = h.s.subnet(1).unwrap().hparams.difficulty;
    let nonce = solve_pow(&hash, &hot.account(), difficulty, 1_000_000).unwrap();
    assert!(seal_meets_difficulty(
        &pow_seal(&hash, &hot.account(), nonce),
        difficulty
    ));
    let bad_nonce = (0..)
        .find(|n| !seal_meets_difficulty(&pow_seal(&hash, &hot.account(), *n), difficulty))
        .unwrap();
    let call = |n| Call::PowRegister {
        netuid: 1,
        coldkey: cold,
        block_number: work_block,
        work_nonce: n,
    };
    assert!(matches!(
        h.check(&hot, call(bad_nonce)),
        Err(ChainError::InsufficientWork { .. })
    ));
    let future = Call::PowRegister {
        netuid: 1,
        coldkey: cold,
        block_number: work_block + 5,
        work_nonce: nonce,
    };
    assert!(matches!(
        h.check(&hot, future),
        Err(ChainError::StaleWork { .. })
    ));
    h.ok(&hot, call(nonce));
    assert_eq!(h.s.subnet(1).unwrap().uid_of(&hot.account()), Some(1));
    assert_eq!(h.s.hotkey_owner[&hot.account()], cold);
    // The same seal by another route (the hotkey is now registered, so use a fresh subnet view):
    // a used seal is refused even if everything else is valid.
    h.s.subnet_mut(1).unwrap().neurons.pop();
    h.s.forget_root_cache();
    assert_eq!(h.check(&hot, call(nonce)), Err(ChainError::WorkReused));
    h.advance(POW_WINDOW + 1);
    assert!(matches!(
        h.check(&hot, call(nonce)),
        Err(ChainError::StaleWork { .. })
    ));
}
