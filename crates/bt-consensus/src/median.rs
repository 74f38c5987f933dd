//! Consensus: the stake-weighted median of each column at quantile κ (CONSENSUS.md step 6).
//!
//! Subtensor finds it with a mid-pivot partition search per column. We sort each column once and
//! walk it, which gives the same value bit for bit: with `total` = Σ of the renormalized stake of
//! the counted validators and `minority = total − κ`, subtensor returns the score `p` with
//! `L(p) ≤ minority < L(p) + E(p)`, where `L(p)` is the stake scoring strictly below `p` and
//! `E(p)` the stake scoring exactly `p`. Fixed-point sums are exact, so that condition is the
//! same whatever order the stake is added in, and it holds for exactly one `p` whenever
//! `0 ≤ minority < total`. Outside that range subtensor's search ends at the smallest score
//! (`minority < 0`, i.e. κ above the counted stake) or at the largest (κ ≤ 0); we return the
//! same. Validators that did not weight a column count with score 0.
//!
//! Cost: O(nnz · log v) for nnz stored weights of v counted validators, instead of the O(n·v)
//! dense columns subtensor builds.

use crate::fixed::{I32F32, ZERO, normalize, sum};
use crate::sparse::Row;

/// `C_j` for every column `j < n`. `weights` are the masked, row-normalized weights with
/// rows sorted by column; only validators with `active_stake > 0` are counted, their stake renormalized.
pub(crate) fn consensus(
    weights: &[Row],
    active_stake: &[I32F32],
    n: usize,
    kappa: I32F32,
) -> Vec<I32F32> {
    let mut out = vec![ZERO; n];
    let counted: Vec<(usize, I32F32)> = active_stake
        .iter()
        .enumerate()
        .filter(|(_, s)| **s > ZERO)
        .map(|(i, s)| (i, *s))
        .collect();
    if counted.is_empty() {
        return out;
    }
    let mut mass: Vec<I32F32> = counted.iter().map(|(_, s)| *s).collect();
    normalize(&mut mass);
    let total = sum(&mass);
    let minority = total.saturating_sub(kappa);
    let voters = counted.len();

    // Columns are gathered a block at a time from the column-sorted rows (one cursor per
    // row), so the transposed entries stay in cache instead of being scattered over all n
    // columns at once.
    const BLOCK: usize = 64;
    let mut cursors = vec![0usize; counted.len()];
    let mut columns: Vec<Vec<(I32F32, I32F32)>> =
        (0..BLOCK).map(|_| Vec::with_capacity(voters)).collect();
    let mut start = 0usize;
    while start < n {
        let end = start.saturating_add(BLOCK).min(n);
        for col in columns.iter_mut() {
            col.clear();
        }
        for ((i, _), (m, cursor)) in counted.iter().zip(mass.iter().zip(cursors.iter_mut())) {
            let row = weights.get(*i).map(Vec::as_slice).unwrap_or(&[]);
            while let Some((j, w)) = row.get(*cursor) {
                let j = usize::from(*j);
                if j >= end {
                    break;
                }
                if *w > ZERO
                    && let Some(col) = j.checked_sub(start).and_then(|k| columns.get_mut(k))
                {
                    col.push((*w, *m));
                }
                *cursor = cursor.saturating_add(1);
            }
        }
        let slots = out.get_mut(start..end).unwrap_or(&mut []);
        for (slot, col) in slots.iter_mut().zip(columns.iter_mut()) {
            *slot = column_median(col, voters, total, minority);
        }
        start = end;
    }
    out
}

/// The median of one column given its positive entries; the other `voters − col.len()`
/// counted validators score 0.
fn column_median(
    col: &mut [(I32F32, I32F32)],
    voters: usize,
    total: I32F32,
    minority: I32F32,
) -> I32F32 {
    let has_zero = col.len() < voters;
    if minority < ZERO {
        let min = col.iter().map(|(s, _)| *s).min().unwrap_or(ZERO);
        return if has_zero { ZERO } else { min };
    }
    if minority >= total {
        return max_score(col);
    }
    let mut below = ZERO;
    if has_zero {
        let positive = mass(col);
        let zero_mass = total.saturating_sub(positive);
        if minority < zero_mass {
            return ZERO;
        }
        below = zero_mass;
    }
    match select(col, below, minority) {
        Some(p) => p,
        None => max_score(col),
    }
}

fn max_score(col: &[(I32F32, I32F32)]) -> I32F32 {
    col.iter().map(|(s, _)| *s).max().unwrap_or(ZERO)
}

fn mass(entries: &[(I32F32, I32F32)]) -> I32F32 {
    entries
        .iter()
        .fold(ZERO, |acc, (_, m)| acc.saturating_add(*m))
}

/// Weighted quickselect: the score `p` with `below + L(p) ≤ minority < below + L(p) + E(p)`
/// inside `col` (`below` = stake scoring under every entry of `col`). Expected O(len); after
/// 48 rounds (adversarial orders) it sorts what is left, so the worst case is O(len · log len).
fn select(col: &mut [(I32F32, I32F32)], mut below: I32F32, minority: I32F32) -> Option<I32F32> {
    let mut part = col;
    for _ in 0..48 {
        let pivot = median_of_three(part)?;
        let (lt, gt) = partition3(part, pivot);
        let (lower, rest) = part.split_at_mut(lt);
        let (equal, upper) = rest.split_at_mut(gt.saturating_sub(lt));
        let lower_top = below.saturating_add(mass(lower));
        if minority < lower_top {
            part = lower;
            continue;
        }
        let equal_top = lower_top.saturating_add(mass(equal));
        if minority < equal_top {
            return Some(pivot);
        }
        below = equal_top;
        part = upper;
    }
    part.sort_unstable_by_key(|(score, _)| *score);
    let mut k = 0usize;
    while let Some((score, _)) = part.get(k).copied() {
        let mut group = ZERO;
        while let Some((s, m)) = part.get(k).copied() {
            if s != score {
                break;
            }
            group = group.saturating_add(m);
            k = k.saturating_add(1);
        }
        let top = below.saturating_add(group);
        if minority < top {
            return Some(score);
        }
        below = top;
    }
    None
}

fn median_of_three(part: &[(I32F32, I32F32)]) -> Option<I32F32> {
    let a = part.first()?.0;
    let b = part.get(part.len() / 2)?.0;
    let c = part.last()?.0;
    Some(a.max(b).min(a.min(b).max(c)))
}

/// Dutch-flag partition: `[< pivot | == pivot | > pivot]`, returning the two boundaries.
fn partition3(part: &mut [(I32F32, I32F32)], pivot: I32F32) -> (usize, usize) {
    let (mut lt, mut i, mut gt) = (0usize, 0usize, part.len());
    while i < gt {
        let Some(score) = part.get(i).map(|(s, _)| *s) else {
            break;
        };
        if score < pivot {
            part.swap(lt, i);
            lt = lt.saturating_add(1);
            i = i.saturating_add(1);
        } else if score > pivot {
            gt = gt.saturating_sub(1);
            part.swap(i, gt);
        } else {
            i = i.saturating_add(1);
        }
    }
    (lt, gt)
}

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used
)]
mod tests {
    use super::*;

    fn f(x: f64) -> I32F32 {
        I32F32::from_num(x)
    }

    #[test]
    fn median_of_two_equal_stakes_takes_the_upper_half_at_kappa_half() {
        // Stake 0.5 / 0.5, scores 0.2 and 0.8 on column 0. κ = 0.5: the largest w held by
        // ≥ half the stake is 0.8 (validator 1 alone holds exactly 0.5).
        let w = vec![vec![(0u16, f(0.2))], vec![(0u16, f(0.8))]];
        let c = consensus(&w, &[f(0.5), f(0.5)], 1, f(0.5));
        assert_eq!(c, vec![f(0.8)]);
        // κ slightly above one half: both must agree → 0.2.
        let c = consensus(&w, &[f(0.5), f(0.5)], 1, f(0.51));
        assert_eq!(c, vec![f(0.2)]);
    }

    #[test]
    fn absent_entries_count_as_zero() {
        let w = vec![vec![(0u16, f(1.0))], vec![], vec![]];
        let s = [f(0.4), f(0.3), f(0.3)];
        assert_eq!(consensus(&w, &s, 1, f(0.5)), vec![ZERO]);
        assert_eq!(consensus(&w, &s, 1, f(0.35)), vec![f(1.0)]);
    }

    #[test]
    fn edge_quantiles() {
        let w = vec![vec![(0u16, f(0.3))], vec![(0u16, f(0.6))]];
        let s = [f(0.5), f(0.5)];
        assert_eq!(consensus(&w, &s, 1, ZERO), vec![f(0.6)]);
        assert_eq!(consensus(&w, &s, 1, f(1.5)), vec![f(0.3)]);
        assert_eq!(consensus(&w, &[ZERO, ZERO], 1, f(0.5)), vec![ZERO]);
    }

    /// The spec's definition, literally and slowly: the largest score w among the counted
    /// validators' scores (absent = 0) such that the validators with score ≥ w hold at least κ
    /// of the renormalized stake; the smallest score when no w qualifies (κ above the total).
    fn reference(weights: &[Row], stake: &[I32F32], n: usize, kappa: I32F32) -> Vec<I32F32> {
        let counted: Vec<usize> = (0..stake.len()).filter(|i| stake[*i] > ZERO).collect();
        let mut mass: Vec<I32F32> = counted.iter().map(|i| stake[*i]).collect();
        normalize(&mut mass);
        (0..n)
            .map(|j| {
                let score = |i: usize| {
                    weights[i]
                        .iter()
                        .find(|(c, _)| usize::from(*c) == j)
                        .map_or(ZERO, |(_, w)| *w)
                };
                let scores: Vec<I32F32> = counted.iter().map(|i| score(*i)).collect();
                let qualifying = scores.iter().copied().filter(|w| {
                    let held = scores
                        .iter()
                        .zip(&mass)
                        .filter(|(s, _)| **s >= *w)
                        .fold(ZERO, |acc, (_, m)| acc + *m);
                    held >= kappa
                });
                qualifying
                    .max()
                    .or_else(|| scores.iter().copied().min())
                    .unwrap_or(ZERO)
            })
            .collect()
    }

    proptest::proptest! {
        /// The sort-based median equals the spec's definition bit for bit.
        #[test]
        fn matches_the_definition(
            n in 1usize..8,
            rows in proptest::collection::vec(
                proptest::collection::btree_map(0u16..8, 0u16..6, 0..8), 1..9),
            stakes in proptest::collection::vec(0u32..5, 1..9),
            kappa in proptest::prop_oneof![0u16..=65535, proptest::strategy::Just(32767u16)],
        ) {
            let v = rows.len().min(stakes.len());
            // Few distinct values so that ties and equal-score groups are common.
            let weights: Vec<Row> = rows[..v]
                .iter()
                .map(|r| {
                    let mut row: Row = r
                        .iter()
                        .filter(|(j, _)| usize::from(**j) < n)
                        .map(|(j, w)| (*j, I32F32::from_num(*w)))
                        .collect();
                    crate::sparse::row_normalize(std::slice::from_mut(&mut row));
                    row
                })
                .collect();
            let mut stake: Vec<I32F32> = stakes[..v].iter().map(|s| I32F32::from_num(*s)).collect();
            normalize(&mut stake);
            let kappa = crate::fixed::from_u16(kappa);
            proptest::prop_assert_eq!(
                consensus(&weights, &stake, n, kappa),
                reference(&weights, &stake, n, kappa)
            );
        }
    }
}
