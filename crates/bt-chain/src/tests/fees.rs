//! Fees: every coldkey call pays, failed calls always pay or are left out; the pool refuses what
//! could not pay or surely fails; the faucet is a development chain's only; every chain's genesis
//! is its own.

use super::*;
use crate::admission::precheck;
use crate::hparams::RAO_PER_TAO;

#[test]
fn a_failed_call_pays_the_fee_and_changes_nothing_else() {
    let mut h = H::with_subnet(10);
    let a = key("alice");
    let balance = h.s.balance(&a.account());
    let issuance = h.s.total_issuance;
    let nonce = h.s.nonce(&a.account());
    let tx = h.sign(
        &a,
        Call::Transfer {
            dest: key("bob").account(),
            amount: balance + 1,
        },
    );
    let r = h.block(vec![tx]).remove(0);
    assert!(r.error.as_deref().unwrap().contains("needs"), "{r:?}");
    assert_eq!(r.fee, h.g.tx_fee);
    assert_eq!(h.s.balance(&a.account()), balance - h.g.tx_fee);
    assert_eq!(h.s.total_issuance, issuance - h.g.tx_fee);
    assert_eq!(h.s.nonce(&a.account()), nonce + 1);
    assert_eq!(h.s.balance(&key("bob").account()), 0);
}

#[test]
fn a_failing_call_whose_signer_cannot_pay_is_left_out() {
    let mut h = H::with_subnet(10);
    let before = h.s.clone();
    let poor = key("poor-hot");
    let tx = h.sign(
        &poor,
        Call::SetWeights {
            netuid: 1,
            uids: vec![0],
            values: vec![1],
            version_key: 0,
        },
    );
    let (receipts, rejected) = h.block_with_rejects(vec![tx]);
    assert!(receipts.is_empty());
    assert!(matches!(
        rejected[0].error,
        ChainError::NotRegistered { .. }
    ));
    assert!(!h.s.accounts.contains_key(&poor.account()));
    assert_eq!(h.s.accounts, before.accounts);
}

#[test]
fn a_block_holding_an_unpaid_failure_is_refused_on_import() {
    let h = H::with_subnet(10);
    let tx = SignedTx::sign(
        &key("nobody"),
        0,
        Call::Transfer {
            dest: key("bob").account(),
            amount: 1,
        },
        &h.gh,
    );
    // A block from a producer that ignored the rule: valid header for the wrong content.
    let mut lax = h.g.clone();
    lax.tx_fee = 0;
    let p = apply_block(&h.s, &lax, &h.gh, vec![tx], h.s.time_ms + 1, true).unwrap();
    assert_eq!(p.block.txs.len(), 1);
    assert!(matches!(
        import_block(&h.s, &h.g, &h.gh, &p.block),
        Err(ChainError::UnpaidFailure { index: 0, .. })
    ));
}

#[test]
fn the_pool_refuses_what_surely_fails_from_a_signer_who_cannot_pay() {
    let h = H::with_subnet(10);
    let poor = key("poor").account();
    let rich = key("alice").account();
    let weights = Call::SetWeights {
        netuid: 1,
        uids: vec![0],
        values: vec![1],
        version_key: 0,
    };
    assert!(matches!(
        precheck(&h.s, &h.g, &poor, &weights),
        Err(ChainError::NotRegistered { .. })
    ));
    // The owner's hotkey is registered: admitted though it holds nothing.
    assert!(precheck(&h.s, &h.g, &key("alice-hot").account(), &weights).is_ok());
    let transfer = Call::Transfer {
        dest: rich,
        amount: 1,
    };
    assert!(matches!(
        precheck(&h.s, &h.g, &poor, &transfer),
        Err(ChainError::InsufficientBalance { .. })
    ));
    // A signer who can pay for a failure is admitted; the rule decides in the block.
    let too_much = Call::Transfer {
        dest: poor,
        amount: u64::MAX,
    };
    assert!(precheck(&h.s, &h.g, &rich, &too_much).is_ok());
}

#[test]
fn the_faucet_is_for_development_chains_only() {
    assert_eq!(Genesis::default().faucet_amount, 0);
    assert_eq!(Genesis::local_dev(10).faucet_amount, 1000 * RAO_PER_TAO);
    let mut h = H::new(Genesis::default());
    let a = key("a");
    assert_eq!(
        precheck(&h.s, &h.g, &a.account(), &Call::Faucet),
        Err(ChainError::FaucetDisabled)
    );
    assert_eq!(h.check(&a, Call::Faucet), Err(ChainError::FaucetDisabled));
}

#[test]
fn every_seed_makes_its_own_genesis() {
    let g = Genesis::local_dev(10);
    let a = crate::block::genesis(&g.clone().with_random_seed())
        .unwrap()
        .1
        .hash();
    let b = crate::block::genesis(&g.clone().with_random_seed())
        .unwrap()
        .1
        .hash();
    assert_ne!(a, b);
    let fixed = Genesis {
        seed: Some([5; 32]),
        ..g
    };
    assert_eq!(
        crate::block::genesis(&fixed).unwrap().1.hash(),
        crate::block::genesis(&fixed.clone().with_random_seed())
            .unwrap()
            .1
            .hash()
    );
}

#[test]
fn a_successful_coldkey_call_pays_the_fee() {
    let mut h = H::with_subnet(10);
    let (a, bob) = (key("alice"), key("bob").account());
    let balance = h.s.balance(&a.account());
    let issuance = h.s.total_issuance;
    let tx = h.sign(
        &a,
        Call::Transfer {
            dest: bob,
            amount: RAO_PER_TAO,
        },
    );
    let r = h.block(vec![tx]).remove(0);
    assert_eq!((r.error.as_deref(), r.fee), (None, h.g.tx_fee));
    assert_eq!(
        h.s.balance(&a.account()),
        balance - RAO_PER_TAO - h.g.tx_fee
    );
    assert_eq!(h.s.balance(&bob), RAO_PER_TAO);
    assert_eq!(h.s.total_issuance, issuance - h.g.tx_fee);
}

#[test]
fn the_fee_is_taken_before_the_call_runs() {
    // Transferring the whole balance leaves nothing for the fee: the call fails, pays the fee
    // and moves nothing.
    let mut h = H::with_subnet(10);
    let (a, bob) = (key("alice"), key("bob").account());
    let balance = h.s.balance(&a.account());
    let tx = h.sign(
        &a,
        Call::Transfer {
            dest: bob,
            amount: balance,
        },
    );
    let r = h.block(vec![tx]).remove(0);
    assert!(r.error.is_some(), "{r:?}");
    assert_eq!(r.fee, h.g.tx_fee);
    assert_eq!(h.s.balance(&a.account()), balance - h.g.tx_fee);
    assert_eq!(h.s.balance(&bob), 0);
}

#[test]
fn a_hotkeys_upkeep_and_the_dev_faucet_are_free_when_they_succeed() {
    let mut h = H::with_subnet(10);
    let hot = key("alice-hot");
    assert_eq!(h.s.balance(&hot.account()), 0);
    let tx = h.sign(
        &hot,
        Call::SetWeights {
            netuid: 1,
            uids: vec![0],
            values: vec![1],
            version_key: 0,
        },
    );
    let r = h.block(vec![tx]).remove(0);
    assert_eq!((r.error.as_deref(), r.fee), (None, 0));
    let fresh = key("fresh");
    let tx = h.sign(&fresh, Call::Faucet);
    let r = h.block(vec![tx]).remove(0);
    assert_eq!((r.error.as_deref(), r.fee), (None, 0));
    assert_eq!(h.s.balance(&fresh.account()), h.g.faucet_amount);
}

#[test]
fn a_paying_call_whose_signer_cannot_pay_is_refused_and_left_out() {
    let mut h = H::with_subnet(10);
    let poor = key("poor");
    let call = Call::AddStake {
        hotkey: key("alice-hot").account(),
        amount: 0,
    };
    assert!(matches!(
        precheck(&h.s, &h.g, &poor.account(), &call),
        Err(ChainError::InsufficientBalance { needed, .. }) if needed == h.g.tx_fee
    ));
    let tx = h.sign(&poor, call);
    let (receipts, rejected) = h.block_with_rejects(vec![tx]);
    assert!(receipts.is_empty());
    assert!(matches!(
        rejected[0].error,
        ChainError::InsufficientBalance { .. }
    ));
    assert!(!h.s.accounts.contains_key(&poor.account()));
}

#[test]
fn unstaking_with_no_free_balance_pays_out_of_the_stake() {
    let mut h = H::with_subnet(10);
    let (a, hot) = (key("alice"), key("alice-hot").account());
    let balance = h.s.balance(&a.account());
    let stake = balance - h.g.tx_fee;
    h.ok(
        &a,
        Call::AddStake {
            hotkey: hot,
            amount: stake,
        },
    );
    assert_eq!(h.s.balance(&a.account()), 0);
    let tx = h.sign(
        &a,
        Call::RemoveStake {
            hotkey: hot,
            amount: stake,
        },
    );
    let r = h.block(vec![tx]).remove(0);
    assert_eq!((r.error.as_deref(), r.fee), (None, h.g.tx_fee));
    assert_eq!(h.s.balance(&a.account()), stake - h.g.tx_fee);
    assert_eq!(h.s.stake_of(&a.account(), &hot), 0);
}
