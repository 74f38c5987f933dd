//! The state in redb: rows per entry, written per block only where they changed; a reopened
//! store holds exactly the state it was given; old layouts are refused.

use super::*;
use crate::store::Store;

#[test]
fn a_reopened_store_holds_the_committed_state_and_blocks_write_only_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chain.redb");
    let g = Genesis::local_dev(3);
    let (store, genesis_state) = Store::open(Some(&path), &g).unwrap();
    let g = store.genesis().clone();
    let gh = store.genesis_hash();
    let mut h = H {
        g: g.clone(),
        gh,
        s: genesis_state,
        nonces: HashMap::new(),
    };
    let commit = |h: &mut H, store: &Store, txs: Vec<SignedTx>| {
        let prev = h.s.clone();
        let p = apply_block(&prev, &h.g, &h.gh, txs, prev.time_ms + 1000, true).unwrap();
        store
            .commit_block(&p.block, &prev, &p.state, &p.receipts)
            .unwrap();
        h.s = p.state;
    };
    let alice = key("alice");
    let t = h.sign(&alice, Call::Faucet);
    commit(&mut h, &store, vec![t]);
    let t = h.sign(
        &alice,
        Call::CreateSubnet {
            owner_hotkey: key("alice-hot").account(),
        },
    );
    commit(&mut h, &store, vec![t]);
    for i in 0..5 {
        let cold = key(&format!("c{i}"));
        let t = h.sign(&cold, Call::Faucet);
        let r = h.sign(
            &cold,
            Call::BurnedRegister {
                netuid: 1,
                hotkey: key(&format!("h{i}")).account(),
            },
        );
        commit(&mut h, &store, vec![t, r]);
    }
    // Across epochs too (tempo 3): neuron rows change there.
    for _ in 0..5 {
        commit(&mut h, &store, vec![]);
    }
    let rows = store.state_rows().unwrap();
    // 7 accounts (alice, 5 coldkeys… and no one else), 6 hotkey owners, 6 neurons, 1 subnet,
    // and the emission's stake rows: the row count follows the entries, not the blocks.
    assert_eq!(
        rows,
        (h.s.accounts.len()
            + h.s.hotkey_owner.len()
            + h.s.subnets.len()
            + h.s.subnets[&1].neurons.len()
            + h.s.stake.values().map(|m| m.len()).sum::<usize>()) as u64
    );
    drop(store);
    let (store, reopened) = Store::open(Some(&path), &Genesis::local_dev(3)).unwrap();
    assert_eq!(store.genesis_hash(), gh, "the stored seed is kept");
    assert_eq!(reopened, h.s);
    assert_eq!(reopened.root().unwrap(), h.s.root().unwrap());
    assert_eq!(store.replay(&Genesis::local_dev(3)).unwrap(), h.s);
}

#[test]
fn a_database_of_the_older_layout_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.redb");
    {
        let db = redb::Database::create(&path).unwrap();
        let w = db.begin_write().unwrap();
        {
            let def: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("meta");
            let mut t = w.open_table(def).unwrap();
            t.insert("genesis", [0u8; 32].as_slice()).unwrap();
            t.insert("state", b"{}".as_slice()).unwrap();
        }
        w.commit().unwrap();
    }
    let e = Store::open(Some(&path), &Genesis::local_dev(3))
        .err()
        .unwrap();
    assert!(matches!(e, ChainError::OldDatabaseFormat { .. }), "{e}");
    assert!(e.to_string().contains("new --db"), "{e}");
}

#[test]
fn a_configured_seed_other_than_the_stored_one_is_a_genesis_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chain.redb");
    drop(Store::open(Some(&path), &Genesis::local_dev(3)).unwrap());
    let other = Genesis {
        seed: Some([1; 32]),
        ..Genesis::local_dev(3)
    };
    assert!(matches!(
        Store::open(Some(&path), &other),
        Err(ChainError::GenesisMismatch { .. })
    ));
}
