//! Yuma3 bond rows against subtensor's sparse bond path, the one the chain runs each tempo.
//!
//! Provenance of the expected vectors: subtensor commit 14bc6f9f9, `epoch_mechanism` in
//! `pallets/subtensor/src/epoch/run_epoch.rs` builds `weights_for_bonds` with
//! `interpolate_sparse(&weights, &clipped_weights, n, bonds_penalty)` (clipped by
//! `col_clip_sparse`), then `compute_bonds_sparse` runs `mat_ema_alpha_sparse` with the alphas
//! of `compute_liquid_alpha_values_sparse` / `alpha_sigmoid` / `exp_safe` when liquid alpha is on,
//! else `mat_ema_sparse` (all in `pallets/subtensor/src/epoch/math.rs` unless named above).
//! The `sub_*` functions below restate those functions' rules in our own words, with the same
//! `substrate-fixed` types and operation order, independent of the crate's fused code; the
//! expected stored rows are what they compute from the scenario's stored u16 inputs.
//!
//! Scenario (6 uids, block 100, all active, none recently registered, Yuma3 on):
//! - uid 0 (stake 1000, permit): weights (2, 65535), (3, 65535), (4, 0) → W = .5, .5, explicit 0;
//!   stored bonds (2, 32767), (3, 65535), (4, 65535), (5, 65535).
//! - uid 1 (stake 3000, permit): weights (2, 65535) → W = 1; stored bond (2, 65535).
//! - With Sa = [.25, .75] and κ ≈ .5, consensus is C_2 = 1 (uid 1's .75 of the stake weights
//!   column 2 fully) and 0 elsewhere (uid 0's .25 alone weights column 3).
//!
//! So uid 0's `Wb` row holds, by β: 0 → columns 2, 3 and the explicit zero 4; ≈ .5 → columns 2
//! and 3 (the zero interpolates to 0 and leaves); 1 → columns 2 and 4 (column 3's positive
//! weight is clipped at a zero consensus and leaves, the zero weight stays). Column 5 is never in
//! it, so with liquid alpha uid 0's bond to uid 5 is dropped, while the fixed-α EMA decays it.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use bt_consensus::{Hyperparams, SparseRow, SubnetState, epoch};
use substrate_fixed::transcendental::exp;
use substrate_fixed::types::{I32F32, I64F64};

type Row = Vec<(u16, I32F32)>;

const N: usize = 6;
const Z: I32F32 = I32F32::from_bits(0);
const ONE: I32F32 = I32F32::from_bits(1 << 32);

fn state() -> SubnetState {
    SubnetState {
        block: 100,
        stake: vec![1000, 3000, 0, 0, 0, 0],
        last_update: vec![99; N],
        block_at_registration: vec![0; N],
        validator_permit: vec![true, true, false, false, false, false],
        weights: vec![
            vec![(2, 65535), (3, 65535), (4, 0)],
            vec![(2, 65535)],
            vec![],
            vec![],
            vec![],
            vec![],
        ],
        bonds: vec![
            vec![(2, 32767), (3, 65535), (4, 65535), (5, 65535)],
            vec![(2, 65535)],
            vec![],
            vec![],
            vec![],
            vec![],
        ],
        owner: None,
        emission: 1_000_000,
    }
}

fn hyperparams(bonds_penalty: u16, liquid_alpha_enabled: bool) -> Hyperparams {
    Hyperparams {
        tempo: 10,
        yuma3_enabled: true,
        liquid_alpha_enabled,
        bonds_penalty,
        ..Hyperparams::default()
    }
}

/// The consensus the scenario's description derives by hand.
fn consensus() -> Vec<I32F32> {
    let mut c = vec![Z; N];
    c[2] = ONE;
    c
}

fn div(a: I32F32, b: I32F32) -> I32F32 {
    a.checked_div(b).unwrap_or(Z)
}

fn u16_fraction(x: u16) -> I32F32 {
    div(I32F32::from_num(x), I32F32::from_num(u16::MAX))
}

/// `inplace_row_normalize_sparse` over a stored weight row.
fn sub_weights(stored: &SparseRow) -> Row {
    let row: Row = stored
        .iter()
        .map(|(j, v)| (*j, I32F32::from_num(*v)))
        .collect();
    let total = row.iter().fold(Z, |a, (_, v)| a + *v);
    if total > Z {
        row.iter().map(|(j, v)| (*j, div(*v, total))).collect()
    } else {
        row
    }
}

/// `col_clip_sparse`: a value above its column's threshold becomes the threshold, or leaves the
/// row when that threshold is not positive; other values are copied as they are.
fn sub_clip(row: &Row, c: &[I32F32]) -> Row {
    row.iter()
        .filter_map(|(j, v)| {
            let t = c[*j as usize];
            if t < *v {
                (t > Z).then_some((*j, t))
            } else {
                Some((*j, *v))
            }
        })
        .collect()
}

/// `interpolate_sparse` for one row, with its early returns at ratio 0 and 1.
fn sub_interpolate(a: &Row, b: &Row, ratio: I32F32) -> Row {
    if ratio == Z {
        return a.clone();
    }
    if ratio == ONE {
        return b.clone();
    }
    let dense = |r: &Row| {
        let mut d = vec![Z; N];
        for (j, v) in r {
            d[*j as usize] = *v;
        }
        d
    };
    let (da, db) = (dense(a), dense(b));
    (0..N)
        .filter_map(|j| {
            let v = da[j].saturating_add(ratio.saturating_mul(db[j].saturating_sub(da[j])));
            (v > Z).then_some((j as u16, v))
        })
        .collect()
}

/// `alpha_sigmoid` with `exp_safe`'s ±20 clamp.
fn sub_alpha(c: I32F32, w: I32F32, b: I32F32, hp: &Hyperparams) -> I32F32 {
    let (lo, hi) = (u16_fraction(hp.alpha_low), u16_fraction(hp.alpha_high));
    let steep = I32F32::saturating_from_num(hp.alpha_sigmoid_steepness);
    let buy = w.saturating_sub(c).clamp(Z, ONE);
    let sell = b.saturating_sub(w).clamp(Z, ONE);
    let d = if w >= b { buy } else { sell };
    let x = steep
        .saturating_div(I32F32::from_num(-100))
        .saturating_mul(d.saturating_sub(I32F32::from_num(0.5)));
    let e: I32F32 = exp(x.clamp(I32F32::from_num(-20), I32F32::from_num(20))).unwrap();
    let sigmoid = ONE.saturating_div(ONE.saturating_add(e));
    let a = lo.saturating_add(sigmoid.saturating_mul(hi.saturating_sub(lo)));
    a.clamp(lo, hi)
}

/// `compute_liquid_alpha_values_sparse` then `mat_ema_alpha_sparse` for one row: alphas for
/// every column, the old bonds decayed, and a value emitted only for the new row's columns.
fn sub_ema_liquid(new: &Row, old: &Row, c: &[I32F32], hp: &Hyperparams) -> Row {
    let lookup = |r: &Row, j: usize| r.iter().find(|(k, _)| *k as usize == j).map(|(_, v)| *v);
    let alphas: Vec<I32F32> = (0..N)
        .map(|j| {
            let w = lookup(new, j).unwrap_or(Z);
            let b = lookup(old, j).unwrap_or(Z);
            sub_alpha(c[j], w, b, hp)
        })
        .collect();
    let mut decayed = [Z; N];
    for (j, b) in old {
        let j = *j as usize;
        decayed[j] = ONE.saturating_sub(alphas[j]).saturating_mul(*b);
    }
    new.iter()
        .filter_map(|(j, w)| {
            let a = alphas[*j as usize];
            let grown = a.saturating_mul(*w).max(Z);
            let v = decayed[*j as usize].saturating_add(grown).min(ONE);
            (v > Z).then_some((*j, v))
        })
        .collect()
}

/// `mat_ema_sparse` for one row: α·new plus (1 − α)·old over all columns, positives kept.
fn sub_ema_fixed(new: &Row, old: &Row, hp: &Hyperparams) -> Row {
    let bma = I64F64::saturating_from_num(hp.bonds_moving_average)
        .checked_div(I64F64::from_num(1_000_000))
        .unwrap();
    let alpha = ONE.saturating_sub(I32F32::saturating_from_num(bma));
    let keep = ONE.saturating_sub(alpha);
    let mut acc = [Z; N];
    for (j, w) in new {
        acc[*j as usize] = acc[*j as usize].saturating_add(alpha.saturating_mul(*w));
    }
    for (j, b) in old {
        acc[*j as usize] = acc[*j as usize].saturating_add(keep.saturating_mul(*b));
    }
    (0..N)
        .filter(|j| acc[*j] > Z)
        .map(|j| (j as u16, acc[j]))
        .collect()
}

/// The stored form, `fixed_proportion_to_u16`.
fn stored(row: &Row) -> SparseRow {
    row.iter()
        .map(|(j, v)| {
            let x = v.saturating_mul(I32F32::from_num(u16::MAX));
            (*j, x.saturating_to_num::<u16>())
        })
        .collect()
}

/// The bond row subtensor's sparse path stores for validator `i`.
fn expected_row(s: &SubnetState, hp: &Hyperparams, i: usize) -> SparseRow {
    let c = consensus();
    let w = sub_weights(&s.weights[i]);
    let wb = sub_interpolate(&w, &sub_clip(&w, &c), u16_fraction(hp.bonds_penalty));
    let old: Row = s.bonds[i]
        .iter()
        .map(|(j, v)| (*j, u16_fraction(*v)))
        .collect();
    if hp.liquid_alpha_enabled {
        stored(&sub_ema_liquid(&wb, &old, &c, hp))
    } else {
        stored(&sub_ema_fixed(&wb, &old, hp))
    }
}

fn columns(row: &SparseRow) -> Vec<u16> {
    row.iter().map(|(j, _)| *j).collect()
}

/// Runs the epoch, checks the scenario's hand-derived consensus, and compares both validators'
/// bond rows with the transcription; returns uid 0's row.
fn check(bonds_penalty: u16, liquid: bool) -> SparseRow {
    let (s, hp) = (state(), hyperparams(bonds_penalty, liquid));
    let out = epoch(&s, &hp).unwrap();
    assert_eq!(out.consensus, consensus(), "the scenario's consensus");
    for i in 0..2 {
        assert_eq!(
            out.bonds[i],
            expected_row(&s, &hp, i),
            "uid {i}, bonds_penalty {bonds_penalty}, liquid alpha {liquid}"
        );
    }
    out.bonds[0].clone()
}

#[test]
fn liquid_alpha_bonds_without_penalty_keep_every_weight_entry_explicit_zeros_included() {
    let row = check(0, true);
    assert_eq!(columns(&row), vec![2, 3, 4]);
}

#[test]
fn liquid_alpha_bonds_with_half_penalty_keep_the_positive_bond_weights() {
    let row = check(32_767, true);
    assert_eq!(columns(&row), vec![2, 3]);
}

#[test]
fn liquid_alpha_bonds_with_full_penalty_keep_the_clipped_weights() {
    let row = check(65_535, true);
    assert_eq!(columns(&row), vec![2, 4]);
}

#[test]
fn fixed_alpha_bonds_decay_every_stored_bond_whatever_the_penalty() {
    for bonds_penalty in [0, 32_767, 65_535] {
        let row = check(bonds_penalty, false);
        assert_eq!(
            columns(&row),
            vec![2, 3, 4, 5],
            "bonds_penalty {bonds_penalty}"
        );
    }
}

#[test]
fn a_dropped_bond_stays_gone_while_a_zero_weight_bond_decays() {
    // Two liquid-alpha epochs at β = 0: the bond to uid 5 is gone after the first and not
    // recreated; the bond to uid 4 (an explicit zero weight) shrinks each epoch.
    let hp = hyperparams(0, true);
    let mut s = state();
    let first = epoch(&s, &hp).unwrap();
    s.bonds = first.bonds.clone();
    s.block = 200;
    s.last_update = vec![199; N];
    let second = epoch(&s, &hp).unwrap();
    let at = |row: &SparseRow, j: u16| row.iter().find(|(k, _)| *k == j).map(|(_, v)| *v);
    assert_eq!(at(&first.bonds[0], 5), None);
    assert_eq!(at(&second.bonds[0], 5), None);
    let (b1, b2) = (
        at(&first.bonds[0], 4).unwrap(),
        at(&second.bonds[0], 4).unwrap(),
    );
    assert!(0 < b2 && b2 < b1 && b1 < 65535, "{b1} then {b2}");
    assert_eq!(second.bonds[0], expected_row(&s, &hp, 0));
}
