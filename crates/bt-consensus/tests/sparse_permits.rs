//! Permits and the bond rows they decide, as subtensor's sparse `epoch_mechanism` (commit
//! 14bc6f9f9, `pallets/subtensor/src/epoch/run_epoch.rs`) computes them:
//! - the owner (`get_owner_uid`) keeps its stake below the stake threshold, its stored permit is
//!   set before the permits mask this epoch's stake and weights, and its new permit is set after
//!   `is_topk_nonzero` picks the k largest stakes (the "Validator permits" block of
//!   `epoch_mechanism`);
//! - an `EpochTerms` bond row is the new row for a new permit holder and otherwise stays the
//!   default empty row, which `persist_mechanism_epoch_terms` writes for every uid.
//!
//! The expected values are worked out by hand below each scenario.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use bt_consensus::{Hyperparams, SubnetState, epoch};

/// uid 0 validates with 3000 rao; uid 1 (100 rao, no stored permit) may be the owner; both
/// weight miner 2 fully; uids 2 and 3 never had a permit but come with stale bond rows (on
/// column 0, which earns no incentive, so they leave the dividends alone).
fn state(owner: Option<u16>) -> SubnetState {
    SubnetState {
        block: 100,
        stake: vec![3000, 100, 0, 50],
        last_update: vec![99; 4],
        block_at_registration: vec![0; 4],
        validator_permit: vec![true, false, false, false],
        weights: vec![vec![(2, 65535)], vec![(2, 65535)], vec![], vec![]],
        bonds: vec![vec![], vec![], vec![(0, 5)], vec![(0, 9)]],
        owner,
        emission: 1_000_000,
    }
}

fn hyperparams(max_allowed_validators: u16, yuma3_enabled: bool) -> Hyperparams {
    Hyperparams {
        tempo: 10,
        max_allowed_validators,
        stake_threshold: 150,
        yuma3_enabled,
        ..Hyperparams::default()
    }
}

#[test]
fn the_owner_keeps_its_stake_and_holds_both_permits() {
    let out = epoch(&state(Some(1)), &hyperparams(1, false)).unwrap();
    // Threshold 150 zeroes uid 3's 50, not the owner's 100: S = [30, 1, 0, 0] / 31.
    let st = out.stored();
    assert_eq!(st.stake, vec![63420, 2114, 0, 0]); // floor(63420.97), floor(2114.03)
    // k = 1: is_topk_nonzero picks uid 0; the owner's permit comes on top.
    assert_eq!(out.validator_permit, vec![true, true, false, false]);
    // The owner's stored permit counts as held: its stake is active and its weight on uid 2
    // earns it bonds. ΔB column 2 = Sa = [30, 1] / 31 with no stored bonds, so
    // B' = colnorm(.1·ΔB) = ΔB, and D = B'·I with I = [0, 0, 1, 0]: D = [30/31, 1/31, 0, 0].
    let f = out.to_f64();
    for (got, want) in [
        (&f.active_stake, [30.0 / 31.0, 1.0 / 31.0, 0.0, 0.0]),
        (&f.dividends, [30.0 / 31.0, 1.0 / 31.0, 0.0, 0.0]),
    ] {
        assert!(
            got.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-6),
            "{got:?} vs {want:?}"
        );
    }
    // Stored with column 2's maximum (uid 0's) scaled to 65535: the owner's 1/30 of it.
    assert_eq!(st.bonds[0], vec![(2, 65535)]);
    assert_eq!(st.bonds[1], vec![(2, 2184)]); // floor(65535 / 30) = floor(2184.5)
}

#[test]
fn without_an_owner_the_same_uid_is_filtered_and_masked() {
    // Threshold 150 now zeroes uid 1's 100 too, and its missing stored permit masks its row.
    let out = epoch(&state(None), &hyperparams(1, false)).unwrap();
    let f = out.to_f64();
    assert_eq!(out.validator_permit, vec![true, false, false, false]);
    assert_eq!(f.stake, vec![1.0, 0.0, 0.0, 0.0]);
    assert_eq!(f.dividends, vec![1.0, 0.0, 0.0, 0.0]);
    assert_eq!(out.bonds[1], vec![]);
}

#[test]
fn the_owner_holds_a_permit_even_when_no_permits_are_allowed() {
    let out = epoch(&state(Some(1)), &hyperparams(0, false)).unwrap();
    assert_eq!(out.validator_permit, vec![false, true, false, false]);
}

#[test]
fn every_uid_without_a_new_permit_stores_an_empty_bond_row() {
    // uid 2 (no stake) and uid 3 (stake under the threshold) never held a permit and come with
    // stored rows; neither gets a new permit, so both rows are written empty, in both bond modes.
    for yuma3 in [false, true] {
        let out = epoch(&state(Some(1)), &hyperparams(1, yuma3)).unwrap();
        assert_eq!(out.validator_permit[2..], [false, false]);
        assert_eq!(out.bonds[2], vec![], "yuma3 {yuma3}");
        assert_eq!(out.bonds[3], vec![], "yuma3 {yuma3}");
        assert!(!out.bonds[0].is_empty() && !out.bonds[1].is_empty());
    }
}
