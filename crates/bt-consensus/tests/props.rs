//! Property tests of the epoch (proptest). Each property states exactly what it checks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;

use bt_consensus::{Hyperparams, SparseRow, SubnetState, epoch};
use proptest::prelude::*;

fn row(n: usize) -> impl Strategy<Value = SparseRow> {
    proptest::collection::btree_map(0..n as u16, any::<u16>(), 0..=n)
        .prop_map(|m: BTreeMap<u16, u16>| m.into_iter().collect())
}

fn hyperparams(n: usize) -> impl Strategy<Value = Hyperparams> {
    (
        any::<u16>(),
        any::<u16>(),
        0u64..=1_000_000,
        1..=(n as u16 + 2),
        any::<bool>(),
        any::<bool>(),
        prop_oneof![Just(0u64), 0u64..2_000],
        1u16..400,
        0u16..200,
    )
        .prop_map(
            |(kappa, bonds_penalty, bma, k, yuma3, liquid, threshold, tempo, cutoff)| Hyperparams {
                kappa,
                bonds_penalty,
                bonds_moving_average: bma,
                max_allowed_validators: k,
                yuma3_enabled: yuma3,
                liquid_alpha_enabled: liquid,
                stake_threshold: threshold,
                tempo,
                activity_cutoff: cutoff,
                ..Hyperparams::default()
            },
        )
}

/// Random subnets of 1–12 neurons with distinct non-zero stakes (so that permit ties, which
/// are broken by uid, cannot occur), random weights, bonds, activity and registrations.
fn subnet() -> impl Strategy<Value = (SubnetState, Hyperparams)> {
    (1usize..=12).prop_flat_map(|n| {
        let block = 1_000u64;
        (
            proptest::collection::vec(0u64..1_000_000, n),
            proptest::collection::vec(800u64..=block, n),
            proptest::collection::vec(0u64..=block, n),
            proptest::collection::vec(any::<bool>(), n),
            proptest::collection::vec(row(n), n),
            proptest::collection::vec(row(n), n),
            proptest::option::of(0..n as u16),
            0u64..1_000_000_000_000,
            hyperparams(n),
        )
            .prop_map(move |(raw, lu, reg, permit, w, b, owner, e, hp)| {
                let stake = raw
                    .iter()
                    .enumerate()
                    .map(|(i, s)| if *s == 0 { 0 } else { s * 64 + i as u64 })
                    .collect();
                let state = SubnetState {
                    block,
                    stake,
                    last_update: lu,
                    block_at_registration: reg,
                    validator_permit: permit,
                    weights: w,
                    bonds: b,
                    owner,
                    emission: e,
                };
                (state, hp)
            })
    })
}

fn permute_row(row: &SparseRow, p: &[usize]) -> SparseRow {
    let mut out: SparseRow = row
        .iter()
        .map(|(j, v)| (p[*j as usize] as u16, *v))
        .collect();
    out.sort_unstable();
    out
}

/// `p[i]` is uid i's new uid.
fn permute(state: &SubnetState, p: &[usize]) -> SubnetState {
    fn move_vec<T: Clone>(v: &[T], p: &[usize]) -> Vec<T> {
        let mut out = v.to_vec();
        for (i, x) in v.iter().enumerate() {
            out[p[i]] = x.clone();
        }
        out
    }
    let rows = |m: &[SparseRow]| {
        let moved: Vec<SparseRow> = m.iter().map(|r| permute_row(r, p)).collect();
        move_vec(&moved, p)
    };
    SubnetState {
        block: state.block,
        stake: move_vec(&state.stake, p),
        last_update: move_vec(&state.last_update, p),
        block_at_registration: move_vec(&state.block_at_registration, p),
        validator_permit: move_vec(&state.validator_permit, p),
        weights: rows(&state.weights),
        bonds: rows(&state.bonds),
        owner: state.owner.map(|o| p[o as usize] as u16),
        emission: state.emission,
    }
}

fn permutation(n: usize) -> impl Strategy<Value = Vec<usize>> {
    Just((0..n).collect::<Vec<_>>()).prop_shuffle()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Incentive sums to 1 within fixed-point truncation (at most n · 2⁻³² short), or is all
    /// zero.
    #[test]
    fn incentive_is_a_distribution_or_zero((state, hp) in subnet()) {
        let out = epoch(&state, &hp).unwrap();
        let total: f64 = out.to_f64().incentive.iter().sum();
        let all_zero = out.incentive.iter().all(|x| x.to_bits() == 0);
        prop_assert!(all_zero || (1.0 - 1e-6..=1.0).contains(&total), "sum {total}");
    }

    /// When any uid keeps stake after the threshold, miner plus validator emission and the
    /// stored per-uid emission each add up to E, never above it and at most
    /// 2n·(E·2⁻³² + 2) rao below it (truncation of each share); otherwise nothing is emitted.
    #[test]
    fn emission_adds_up((state, hp) in subnet()) {
        let out = epoch(&state, &hp).unwrap();
        let e = state.emission;
        let n = state.stake.len() as u64;
        let paid: u64 = out.server_emission.iter().chain(&out.validator_emission).sum();
        let stored: u64 = out.emission.iter().sum();
        let has_stake = out.stake.iter().any(|s| s.to_bits() != 0);
        if has_stake {
            let tol = 2 * n * (e / (1u64 << 32) + 3);
            prop_assert!(paid <= e && paid + tol >= e, "paid {paid} of {e}");
            prop_assert!(stored <= e && stored + tol >= e, "stored {stored} of {e}");
        } else {
            prop_assert_eq!(paid, 0);
            prop_assert_eq!(stored, 0);
        }
    }

    /// Renaming uids by a permutation p (moving every per-uid value, row and column, and the
    /// owner) gives bit-identical outputs moved by p, bonds included.
    #[test]
    fn permuting_uids_permutes_outputs(
        (state, hp, p) in subnet().prop_flat_map(|(s, hp)| {
            let n = s.stake.len();
            (Just(s), Just(hp), permutation(n))
        })
    ) {
        let a = epoch(&state, &hp).unwrap();
        let b = epoch(&permute(&state, &p), &hp).unwrap();
        for i in 0..p.len() {
            let j = p[i];
            prop_assert_eq!(a.active[i], b.active[j]);
            prop_assert_eq!(a.validator_permit[i], b.validator_permit[j]);
            prop_assert_eq!(a.stake[i], b.stake[j]);
            prop_assert_eq!(a.active_stake[i], b.active_stake[j]);
            prop_assert_eq!(a.consensus[i], b.consensus[j]);
            prop_assert_eq!(a.validator_trust[i], b.validator_trust[j]);
            prop_assert_eq!(a.trust[i], b.trust[j]);
            prop_assert_eq!(a.incentive[i], b.incentive[j]);
            prop_assert_eq!(a.dividends[i], b.dividends[j]);
            prop_assert_eq!(a.server_emission[i], b.server_emission[j]);
            prop_assert_eq!(a.validator_emission[i], b.validator_emission[j]);
            prop_assert_eq!(a.emission[i], b.emission[j]);
            prop_assert_eq!(permute_row(&a.bonds[i], &p), b.bonds[j].clone());
        }
    }

    /// Weight copying does not pay. Honest validators 0..h (h ≥ 2) with equal stake s all set
    /// the same weights w over the miners, so they hold ≥ 2/3 of the active stake and consensus
    /// equals w. Validator X (uid h) has the same stake s and the same stored bond row as
    /// validator 0 and sets any weights x — e.g. a copy of an earlier epoch's consensus. With
    /// the default bonds_penalty (β = 1), classic or Yuma3 bonds (liquid alpha off), X's
    /// dividends never exceed validator 0's.
    #[test]
    fn copier_earns_no_more_than_an_honest_validator(
        (h, m) in (2usize..=4, 1usize..=5),
        seed in proptest::collection::vec(any::<u16>(), 64),
        yuma3 in any::<bool>(),
    ) {
        let n = h + 1 + m;
        let miners: Vec<u16> = ((h + 1) as u16..n as u16).collect();
        let mut it = seed.iter().copied().cycle();
        let mut next = || it.next().unwrap_or(0);
        let w: SparseRow = miners.iter().map(|j| (*j, next() | 1)).collect();
        let x: SparseRow = miners.iter().map(|j| (*j, next())).collect();
        let mut bonds: Vec<SparseRow> = vec![vec![]; n];
        for b in bonds.iter_mut().take(h) {
            *b = miners.iter().map(|j| (*j, next())).collect();
        }
        bonds[h] = bonds[0].clone();
        let mut weights = vec![vec![]; n];
        for row in weights.iter_mut().take(h) {
            *row = w.clone();
        }
        weights[h] = x;
        let state = SubnetState {
            block: 1_000,
            stake: (0..n).map(|i| if i <= h { 1_000 } else { 0 }).collect(),
            last_update: vec![999; n],
            block_at_registration: vec![0; n],
            validator_permit: (0..n).map(|i| i <= h).collect(),
            weights,
            bonds,
            owner: None,
            emission: 1_000_000,
        };
        let hp = Hyperparams { yuma3_enabled: yuma3, ..Hyperparams::default() };
        let out = epoch(&state, &hp).unwrap();
        prop_assert!(out.dividends[0].to_bits() > 0, "honest validators earn");
        prop_assert!(
            out.dividends[h] <= out.dividends[0],
            "copier {} > honest {}", out.dividends[h], out.dividends[0]
        );
    }
}
