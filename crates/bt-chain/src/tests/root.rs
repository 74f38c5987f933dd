//! The incremental state root: after any sequence of blocks it equals the root recomputed from
//! scratch, so it depends on the state only, never on the history that made it.

use super::*;
use crate::hparams::RAO_PER_TAO;
use proptest::prelude::*;

const KEYS: u8 = 6;

/// One operation of a random history: a call by one of a few keys, on one of a few others.
#[derive(Debug, Clone)]
struct Op {
    kind: u8,
    signer: u8,
    other: u8,
    amount: u64,
}

fn op() -> impl Strategy<Value = Op> {
    (0u8..9, 0..KEYS, 0..KEYS, 1u64..3 * RAO_PER_TAO).prop_map(|(kind, signer, other, amount)| Op {
        kind,
        signer,
        other,
        amount,
    })
}

fn cold(i: u8) -> Keypair {
    key(&format!("root-cold-{i}"))
}

fn hot(i: u8) -> Keypair {
    key(&format!("root-hot-{i}"))
}

fn call_of(op: &Op, netuid: u16) -> (Keypair, Call) {
    let (a, b) = (op.signer, op.other);
    match op.kind {
        0 => (cold(a), Call::Faucet),
        1 => (
            cold(a),
            Call::Transfer {
                dest: cold(b).account(),
                amount: op.amount,
            },
        ),
        2 => (
            cold(a),
            Call::BurnedRegister {
                netuid,
                hotkey: hot(b).account(),
            },
        ),
        3 => (
            cold(a),
            Call::AddStake {
                hotkey: hot(b).account(),
                amount: op.amount,
            },
        ),
        4 => (
            cold(a),
            Call::RemoveStake {
                hotkey: hot(b).account(),
                amount: op.amount,
            },
        ),
        5 => (
            hot(a),
            Call::SetWeights {
                netuid,
                uids: vec![0, u16::from(b)],
                values: vec![1, 2],
                version_key: 0,
            },
        ),
        6 => (
            cold(a),
            Call::CreateSubnet {
                owner_hotkey: hot(b).account(),
            },
        ),
        // A transfer to a new account: rows appear in buckets the history never touched.
        7 => (
            cold(a),
            Call::Transfer {
                dest: key(&format!("root-new-{}", op.amount)).account(),
                amount: 1,
            },
        ),
        _ => (
            cold(a),
            Call::SetHyperparam {
                netuid,
                key: crate::hparams::HyperparamKey::MaxAllowedUids,
                value: 2 + u64::from(b),
            },
        ),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_incremental_root_equals_the_recomputed_root(
        blocks in proptest::collection::vec(proptest::collection::vec(op(), 0..4), 1..12)
    ) {
        let mut h = H::with_subnet(3);
        let netuid = h.netuid();
        for ops in blocks {
            let txs = ops
                .iter()
                .map(|op| {
                    let (k, call) = call_of(op, netuid);
                    h.sign(&k, call)
                })
                .collect();
            h.block_with_rejects(txs);
            // The tree carried from block to block, against one built from nothing.
            let carried = h.s.cached_root().unwrap();
            prop_assert_eq!(carried, h.s.root().unwrap());
        }
    }
}

#[test]
fn the_root_does_not_depend_on_the_order_of_writes() {
    let mut one = ChainState::default();
    let mut two = ChainState::default();
    let accounts: Vec<_> = (0..200u8)
        .map(|i| key(&format!("order-{i}")).account())
        .collect();
    for (i, a) in accounts.iter().enumerate() {
        one.accounts.entry(*a).or_default().balance = i as u64;
    }
    for (i, a) in accounts.iter().enumerate().rev() {
        two.accounts.entry(*a).or_default().balance = i as u64;
    }
    assert_eq!(one.root().unwrap(), two.root().unwrap());
    two.accounts.entry(accounts[7]).or_default().balance += 1;
    assert_ne!(one.root().unwrap(), two.root().unwrap());
}
