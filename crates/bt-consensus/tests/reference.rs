//! Differential test: the optimized epoch against a plain dense transcription of CONSENSUS.md
//! (n × n matrices, one step per block, consensus by its literal definition, library `exp` and
//! division), bit for bit on random subnets in every bond mode.
//!
//! Where the spec reads as subtensor's dense epoch, the transcription follows the sparse
//! `epoch_mechanism` the chain runs (subtensor 14bc6f9f9, `pallets/subtensor/src/epoch/`), as the
//! crate docs list: the owner's permits, the columns a liquid-alpha bond row keeps (tracked here
//! as a presence mask next to the dense `Wb`), and empty bond rows without a permit.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::needless_range_loop
)]

use std::collections::BTreeMap;

use bt_consensus::{EpochOutput, Hyperparams, SparseRow, SubnetState, epoch};
use proptest::prelude::*;
use substrate_fixed::transcendental::exp;
use substrate_fixed::types::{I32F32, I64F64, I96F32};

type M = Vec<Vec<I32F32>>;
const Z: I32F32 = I32F32::from_bits(0);
const ONE: I32F32 = I32F32::from_bits(1 << 32);

fn div(a: I32F32, b: I32F32) -> I32F32 {
    a.checked_div(b).unwrap_or(Z)
}
fn frac(x: u16) -> I32F32 {
    div(I32F32::from_num(x), I32F32::from_num(u16::MAX))
}
fn sum(v: &[I32F32]) -> I32F32 {
    v.iter().fold(Z, |a, x| a.saturating_add(*x))
}
fn normalize(v: &mut [I32F32]) {
    let s = sum(v);
    if s != Z {
        v.iter_mut().for_each(|x| *x = div(*x, s));
    }
}
fn colnorm(m: &mut M) {
    let n = m.first().map_or(0, Vec::len);
    for j in 0..n {
        let s = m.iter().fold(Z, |a, r| a.saturating_add(r[j]));
        if s != Z {
            m.iter_mut().for_each(|r| r[j] = div(r[j], s));
        }
    }
}
fn dense(rows: &[SparseRow], n: usize, f: impl Fn(u16) -> I32F32) -> M {
    let mut m = vec![vec![Z; n]; n];
    for (i, r) in rows.iter().enumerate() {
        for (j, v) in r {
            m[i][*j as usize] = f(*v);
        }
    }
    m
}
fn stored_row(row: &[I32F32], f: impl Fn(I32F32) -> I32F32) -> SparseRow {
    let to_u16 = |x: I32F32| {
        x.saturating_mul(I32F32::from_num(u16::MAX))
            .saturating_to_num::<u16>()
    };
    (0..row.len())
        .filter(|j| row[*j] > Z)
        .map(|j| (j as u16, to_u16(f(row[j]))))
        .collect()
}

fn reference(s: &SubnetState, hp: &Hyperparams) -> EpochOutput {
    let n = s.stake.len();
    let owner = s.owner.map(usize::from);
    // 1.
    let active: Vec<bool> = (0..n)
        .map(|i| s.last_update[i].saturating_add(u64::from(hp.activity_cutoff)) >= s.block)
        .collect();
    // 2.
    let raw: Vec<I64F64> = (0..n)
        .map(|i| {
            let kept = s.stake[i] >= hp.stake_threshold || owner == Some(i);
            I64F64::from_num(if kept { s.stake[i] } else { 0 })
        })
        .collect();
    let total = raw.iter().fold(I64F64::from_num(0), |a, x| a + *x);
    let stake: Vec<I32F32> = raw
        .iter()
        .map(|x| {
            let v = if total == 0 {
                *x
            } else {
                x.checked_div(total).unwrap_or(I64F64::from_num(0))
            };
            I32F32::saturating_from_num(v)
        })
        .collect();
    // 3. Top k by stake (ascending stable sort, the n − k lowest lose), non-zero only; the
    // owner's new and previous permits both count as held.
    let k = usize::from(hp.max_allowed_validators);
    let mut permit: Vec<bool> = stake.iter().map(|x| *x != Z).collect();
    let mut ascending: Vec<usize> = (0..n).collect();
    ascending.sort_by_key(|i| stake[*i]);
    for i in ascending.iter().take(n.saturating_sub(k)) {
        permit[*i] = false;
    }
    let mut prev = s.validator_permit.clone();
    if let Some(o) = owner {
        permit[o] = true;
        prev[o] = true;
    }
    // 4.
    let mut sa: Vec<I32F32> = (0..n)
        .map(|i| if active[i] && prev[i] { stake[i] } else { Z })
        .collect();
    normalize(&mut sa);
    // 5. `w_has`: the entries a sparse row keeps (explicit zero weights included).
    let mut w = dense(&s.weights, n, I32F32::from_num);
    let mut w_has = vec![vec![false; n]; n];
    for (i, r) in s.weights.iter().enumerate() {
        for (j, _) in r {
            w_has[i][*j as usize] = true;
        }
    }
    for i in 0..n {
        for j in 0..n {
            let self_weight = i == j && owner != Some(i);
            let outdated = s.last_update[i] <= s.block_at_registration[j];
            if !prev[i] || self_weight || outdated {
                w[i][j] = Z;
                w_has[i][j] = false;
            }
        }
        let row_sum = sum(&w[i]);
        if row_sum > Z {
            w[i].iter_mut().for_each(|x| *x = div(*x, row_sum));
        }
    }
    // 6. The largest w held (≥) by at least κ of the counted stake; the smallest score if none.
    let kappa = frac(hp.kappa);
    let counted: Vec<usize> = (0..n).filter(|i| sa[*i] > Z).collect();
    let mut mass: Vec<I32F32> = counted.iter().map(|i| sa[*i]).collect();
    normalize(&mut mass);
    let consensus: Vec<I32F32> = (0..n)
        .map(|j| {
            let scores: Vec<I32F32> = counted.iter().map(|i| w[*i][j]).collect();
            let held = |x: I32F32| {
                (0..scores.len())
                    .filter(|k| scores[*k] >= x)
                    .fold(Z, |a, k| a + mass[k])
            };
            let best = scores.iter().copied().filter(|x| held(*x) >= kappa).max();
            best.or_else(|| scores.iter().copied().min()).unwrap_or(Z)
        })
        .collect();
    // 7.
    let wc: M = (0..n)
        .map(|i| (0..n).map(|j| w[i][j].min(consensus[j])).collect())
        .collect();
    let validator_trust: Vec<I32F32> = wc.iter().map(|r| sum(r)).collect();
    let col =
        |m: &M, j: usize| (0..n).fold(Z, |a, i| a.saturating_add(sa[i].saturating_mul(m[i][j])));
    let pre: Vec<I32F32> = (0..n).map(|j| col(&w, j)).collect();
    let mut rank: Vec<I32F32> = (0..n).map(|j| col(&wc, j)).collect();
    let trust: Vec<I32F32> = (0..n).map(|j| div(rank[j], pre[j])).collect();
    normalize(&mut rank);
    let incentive = rank.clone();
    // 8. `wb_has`: the columns of subtensor's sparse `Wb` row. β = 0: W's entries; β = 1: the
    // clipped entries, where clipping drops a weight above a threshold ≤ 0; otherwise the
    // interpolated values above 0.
    let beta = frac(hp.bonds_penalty);
    let mut wb_has = vec![vec![false; n]; n];
    let mut wb: M = vec![vec![Z; n]; n];
    for i in 0..n {
        for j in 0..n {
            let (v, has) = if beta == Z {
                (w[i][j], w_has[i][j])
            } else if beta == ONE {
                let dropped = consensus[j] < w[i][j] && consensus[j] <= Z;
                (wc[i][j], w_has[i][j] && !dropped)
            } else {
                let v =
                    w[i][j].saturating_add(beta.saturating_mul(wc[i][j].saturating_sub(w[i][j])));
                (v, v > Z)
            };
            wb[i][j] = v.max(Z);
            wb_has[i][j] = has;
        }
    }
    let last_tempo = s.block.saturating_sub(u64::from(hp.tempo));
    let masked = |j: usize| last_tempo <= s.block_at_registration[j];
    let bma = I64F64::from_num(hp.bonds_moving_average) / I64F64::from_num(1_000_000);
    let alpha = ONE.saturating_sub(I32F32::saturating_from_num(bma));
    let ema = |new: I32F32, old: I32F32| {
        alpha
            .saturating_mul(new)
            .saturating_add(ONE.saturating_sub(alpha).saturating_mul(old))
    };
    let (new_bonds, mut dividends): (Vec<SparseRow>, Vec<I32F32>) = if !hp.yuma3_enabled {
        // 9.
        let mut b = dense(&s.bonds, n, I32F32::from_num);
        for i in 0..n {
            for j in 0..n {
                if masked(j) {
                    b[i][j] = Z;
                }
            }
        }
        colnorm(&mut b);
        let mut delta: M = (0..n)
            .map(|i| (0..n).map(|j| wb[i][j].saturating_mul(sa[i])).collect())
            .collect();
        colnorm(&mut delta);
        let mut next: M = (0..n)
            .map(|i| (0..n).map(|j| ema(delta[i][j], b[i][j]).max(Z)).collect())
            .collect();
        colnorm(&mut next);
        let d: Vec<I32F32> = next
            .iter()
            .map(|r| {
                (0..n).fold(Z, |a, j| {
                    a.saturating_add(incentive[j].saturating_mul(r[j]))
                })
            })
            .collect();
        let maxes: Vec<I32F32> = (0..n)
            .map(|j| next.iter().map(|r| r[j]).max().unwrap_or(Z))
            .collect();
        let rows = next
            .iter()
            .map(|r| {
                let scaled: Vec<I32F32> = (0..n)
                    .map(|j| {
                        if maxes[j] != Z {
                            div(r[j], maxes[j])
                        } else {
                            r[j]
                        }
                    })
                    .collect();
                stored_row(&scaled, |x| x)
            })
            .collect();
        (rows, d)
    } else {
        // 10.
        let mut b = dense(&s.bonds, n, frac);
        for i in 0..n {
            for j in 0..n {
                if masked(j) {
                    b[i][j] = Z;
                }
            }
        }
        let liquid = hp.liquid_alpha_enabled && consensus.iter().any(|c| *c != Z);
        let (lo, hi) = (frac(hp.alpha_low), frac(hp.alpha_high));
        let steep = I32F32::from_num(hp.alpha_sigmoid_steepness);
        let next: M = (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| {
                        let (wv, bv) = (wb[i][j], b[i][j]);
                        if !liquid {
                            return ema(wv, bv).max(Z);
                        }
                        if !wb_has[i][j] {
                            return Z;
                        }
                        let d = if wv >= bv {
                            wv.saturating_sub(consensus[j]).clamp(Z, ONE)
                        } else {
                            bv.saturating_sub(wv).clamp(Z, ONE)
                        };
                        let x = steep
                            .saturating_div(I32F32::from_num(-100))
                            .saturating_mul(d.saturating_sub(I32F32::from_num(0.5)));
                        let x = x.clamp(I32F32::from_num(-20), I32F32::from_num(20));
                        let e: I32F32 = exp(x).unwrap();
                        let sig = ONE.saturating_div(ONE.saturating_add(e));
                        let a = lo.saturating_add(sig.saturating_mul(hi.saturating_sub(lo)));
                        let a = a.min(hi).max(lo);
                        let v = ONE
                            .saturating_sub(a)
                            .saturating_mul(bv)
                            .saturating_add(a.saturating_mul(wv).max(Z))
                            .min(ONE);
                        v.max(Z)
                    })
                    .collect()
            })
            .collect();
        let mut norm = next.clone();
        colnorm(&mut norm);
        let d: Vec<I32F32> = (0..n)
            .map(|i| {
                let t = (0..n).fold(Z, |a, j| {
                    a.saturating_add(incentive[j].saturating_mul(norm[i][j]))
                });
                t.saturating_mul(sa[i])
            })
            .collect();
        (next.iter().map(|r| stored_row(r, |x| x)).collect(), d)
    };
    normalize(&mut dividends);
    let bonds: Vec<SparseRow> = (0..n)
        .map(|i| {
            if permit[i] {
                new_bonds[i].clone()
            } else {
                vec![]
            }
        })
        .collect();
    // 11.
    let combined: Vec<I32F32> = (0..n)
        .map(|i| incentive[i].saturating_add(dividends[i]))
        .collect();
    let esum = sum(&combined);
    let share = |v: &[I32F32]| -> Vec<I32F32> {
        v.iter()
            .map(|x| if esum == Z { *x } else { div(*x, esum) })
            .collect()
    };
    let server = share(&incentive);
    let mut validator = share(&dividends);
    let mut pruning = combined.clone();
    normalize(&mut pruning);
    if esum == Z {
        let fallback = if sum(&sa) == Z { &stake } else { &sa };
        validator = fallback.clone();
        pruning = fallback.clone();
    }
    let e = I96F32::from_num(s.emission);
    let rao = |v: &[I32F32]| -> Vec<u64> {
        v.iter()
            .map(|x| {
                I96F32::from_num(*x)
                    .saturating_mul(e)
                    .saturating_to_num::<u64>()
            })
            .collect()
    };
    EpochOutput {
        active,
        stake,
        validator_permit: permit,
        active_stake: sa,
        consensus,
        validator_trust,
        rank: rank.clone(),
        trust,
        incentive,
        dividends,
        server_emission: rao(&server),
        validator_emission: rao(&validator),
        emission: rao(&pruning),
        pruning_score: pruning,
        bonds,
    }
}

fn row(n: usize) -> impl Strategy<Value = SparseRow> {
    // Explicit zeros are common: `set_weights` stores them, and they decide liquid-alpha bonds.
    let value = prop_oneof![Just(0u16), any::<u16>()];
    proptest::collection::btree_map(0..n as u16, value, 0..=n)
        .prop_map(|m: BTreeMap<u16, u16>| m.into_iter().collect())
}

fn case() -> impl Strategy<Value = (SubnetState, Hyperparams)> {
    (1usize..=9).prop_flat_map(|n| {
        (
            proptest::collection::vec(prop_oneof![Just(0u64), 0u64..1_000_000], n),
            // Shared values make the boundaries (updated == registered) common.
            proptest::collection::vec(prop_oneof![Just(900u64), 800u64..=1_000], n),
            proptest::collection::vec(prop_oneof![Just(900u64), 0u64..=1_000], n),
            proptest::collection::vec(any::<bool>(), n),
            proptest::collection::vec(row(n), n),
            proptest::collection::vec(row(n), n),
            proptest::option::of(0..n as u16),
            (
                any::<u16>(),
                prop_oneof![Just(0u16), Just(65535u16), any::<u16>()],
            ),
            (
                0u64..=1_000_000,
                0..=(n as u16 + 1),
                any::<bool>(),
                any::<bool>(),
            ),
            (
                prop_oneof![Just(1000i16), any::<i16>()],
                0u16..400,
                0u16..200,
                0u64..3,
            ),
        )
            .prop_map(
                move |(
                    stake,
                    lu,
                    reg,
                    permit,
                    w,
                    b,
                    owner,
                    (kappa, bp),
                    (bma, k, y3, la),
                    (steep, tempo, cutoff, th),
                )| {
                    let state = SubnetState {
                        block: 1_000,
                        stake,
                        last_update: lu,
                        block_at_registration: reg,
                        validator_permit: permit,
                        weights: w,
                        bonds: b,
                        owner,
                        emission: 123_456_789_000,
                    };
                    let hp = Hyperparams {
                        kappa,
                        bonds_penalty: bp,
                        bonds_moving_average: bma,
                        max_allowed_validators: k,
                        yuma3_enabled: y3,
                        liquid_alpha_enabled: la,
                        alpha_sigmoid_steepness: steep,
                        tempo,
                        activity_cutoff: cutoff,
                        stake_threshold: th * 300_000,
                        ..Hyperparams::default()
                    };
                    (state, hp)
                },
            )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Every output of `epoch` equals the dense transcription of the spec, bit for bit.
    #[test]
    fn epoch_matches_the_dense_reference((state, hp) in case()) {
        let fast = epoch(&state, &hp).unwrap();
        let slow = reference(&state, &hp);
        prop_assert_eq!(fast, slow);
    }
}
