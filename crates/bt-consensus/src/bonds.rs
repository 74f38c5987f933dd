//! Bonds and dividends: the classic EMA (CONSENSUS.md step 9) and Yuma3 with optional liquid
//! alpha (step 10).
//!
//! Both are written as a few fused passes over the sparse rows rather than one pass per matrix
//! operation, because at n = 4096 every materialized intermediate costs a 16 MB write and read.
//! The arithmetic is the same operation for operation as subtensor's sparse epoch
//! (`row_hadamard_sparse`, `inplace_col_normalize_sparse`, `mat_ema_sparse`,
//! `mat_ema_alpha_sparse`, …): each value goes through the same fixed-point operations on the
//! same operands, and each row holds the same columns. Bond weights `Wb` are computed on the fly
//! from `W` and `C`.
//!
//! Which columns a row of `Wb` holds matters: with liquid alpha the new bond row keeps only
//! those columns, so a bond to a miner outside it is dropped rather than decayed. The other EMAs
//! take the union of `Wb` and the old bonds, where a zero entry changes nothing.

use std::iter::Peekable;

use crate::fixed::{Divisor, I32F32, I64F64, ONE, ZERO, from_u16, normalize, sdiv64, to_u16};
use crate::sparse::{Row, add_at, at};
use crate::types::SparseRow;

/// α = 1 − bonds_moving_average / 1e6, computed as subtensor does (the quotient in I64F64,
/// truncated to I32F32).
pub(crate) fn ema_alpha(bonds_moving_average: u64) -> I32F32 {
    let bma = sdiv64(
        I64F64::saturating_from_num(bonds_moving_average),
        I64F64::from_num(1_000_000),
    );
    ONE.saturating_sub(I32F32::saturating_from_num(bma))
}

/// What both bond modes read besides the stored bonds.
pub(crate) struct Inputs<'a> {
    /// Masked, row-normalized weights W (rows sorted by column).
    pub weights: &'a [Row],
    pub consensus: &'a [I32F32],
    /// β = bonds_penalty / 65535.
    pub beta: I32F32,
    pub active_stake: &'a [I32F32],
    pub incentive: &'a [I32F32],
    /// Columns of neurons registered since the last epoch: their stored bonds are ignored.
    pub recently_registered: &'a [bool],
    pub n: usize,
    pub bonds_moving_average: u64,
}

impl Inputs<'_> {
    /// Row i of `Wb = W + β(Wc − W)` (step 8) with the columns subtensor's sparse rows hold:
    /// β = 0 is `W` itself, explicit zero weights included; β = 1 is the clipped `Wc`, which
    /// drops a positive weight on a column whose consensus is 0 but keeps a zero weight (a
    /// weight at or under its threshold is copied as is); any other β keeps the entries above 0.
    fn bond_weights(&self, i: usize) -> impl Iterator<Item = (u16, I32F32)> + '_ {
        let beta = self.beta;
        self.weights
            .get(i)
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .filter_map(move |(j, w)| {
                let c = at(self.consensus, *j);
                let clipped = (*w).min(c);
                if beta == ZERO {
                    Some((*j, *w))
                } else if beta == ONE {
                    let dropped = c < *w && c <= ZERO;
                    (!dropped).then_some((*j, clipped))
                } else {
                    let v = w.saturating_add(beta.saturating_mul(clipped.saturating_sub(*w)));
                    (v > ZERO).then_some((*j, v))
                }
            })
    }

    /// Row i of the stored bonds, masked columns removed, sorted, values converted by `f`.
    fn old_bonds<'s>(
        &'s self,
        row: &'s SparseRow,
        f: impl Fn(u16) -> I32F32 + 's,
    ) -> impl Iterator<Item = (u16, I32F32)> + 's {
        use std::borrow::Cow;
        let sorted: Cow<'s, [(u16, u16)]> = if row.is_sorted_by_key(|(j, _)| *j) {
            Cow::Borrowed(row.as_slice())
        } else {
            let mut copy = row.clone();
            copy.sort_unstable_by_key(|(j, _)| *j);
            Cow::Owned(copy)
        };
        (0..sorted.len()).filter_map(move |k| {
            let (j, v) = *sorted.get(k)?;
            let masked = self
                .recently_registered
                .get(usize::from(j))
                .copied()
                .unwrap_or(true);
            (!masked).then(|| (j, f(v)))
        })
    }
}

/// Visits the union of two column-sorted rows: `f(j, a_j, b_j)` with absent entries as 0.
fn merge<A, B>(a: A, b: B, mut f: impl FnMut(u16, I32F32, I32F32))
where
    A: Iterator<Item = (u16, I32F32)>,
    B: Iterator<Item = (u16, I32F32)>,
{
    let (mut a, mut b): (Peekable<A>, Peekable<B>) = (a.peekable(), b.peekable());
    loop {
        match (a.peek().copied(), b.peek().copied()) {
            (Some((ja, va)), Some((jb, vb))) => {
                if ja == jb {
                    f(ja, va, vb);
                    a.next();
                    b.next();
                } else if ja < jb {
                    f(ja, va, ZERO);
                    a.next();
                } else {
                    f(jb, ZERO, vb);
                    b.next();
                }
            }
            (Some((ja, va)), None) => {
                f(ja, va, ZERO);
                a.next();
            }
            (None, Some((jb, vb))) => {
                f(jb, ZERO, vb);
                b.next();
            }
            (None, None) => break,
        }
    }
}

/// Visits the entries of the column-sorted row `a`, each with row `b`'s value in that column
/// (0 when absent); columns only in `b` are skipped.
fn left_join<A, B>(a: A, b: B, mut f: impl FnMut(u16, I32F32, I32F32))
where
    A: Iterator<Item = (u16, I32F32)>,
    B: Iterator<Item = (u16, I32F32)>,
{
    let mut b = b.peekable();
    for (j, va) in a {
        while b.next_if(|(jb, _)| *jb < j).is_some() {}
        let vb = b.next_if(|(jb, _)| *jb == j).map_or(ZERO, |(_, v)| v);
        f(j, va, vb);
    }
}

fn divisors(sums: &[I32F32]) -> Vec<Option<Divisor>> {
    sums.iter()
        .map(|s| (*s != ZERO).then(|| Divisor::new(*s)))
        .collect()
}

/// `x / d_j`, or `x` when column j's divisor is zero (colnorm leaves such columns alone).
fn div_col(d: &[Option<Divisor>], j: u16, x: I32F32) -> I32F32 {
    match d.get(usize::from(j)) {
        Some(Some(d)) => d.div(x),
        _ => x,
    }
}

/// Classic bonds (step 9): `B = colnorm(stored)`, `ΔB = colnorm(Wb ∘ Sa)`,
/// `B' = colnorm(α ΔB + (1 − α) B)`, `D = normalize(B' I)`; returns `B'` with each column's
/// maximum scaled to 1, as stored u16, and the dividends.
pub(crate) fn classic(x: &Inputs<'_>, stored: &[SparseRow]) -> (Vec<SparseRow>, Vec<I32F32>) {
    let n = x.n;
    let raw = |v: u16| I32F32::from_num(v);
    // Pass 1: column sums of the stored bonds and of Wb ∘ Sa.
    let mut bond_sum = vec![ZERO; n];
    let mut delta_sum = vec![ZERO; n];
    for (i, row) in stored.iter().enumerate() {
        for (j, b) in x.old_bonds(row, raw) {
            add_at(&mut bond_sum, j, b);
        }
        let sa = x.active_stake.get(i).copied().unwrap_or(ZERO);
        for (j, w) in x.bond_weights(i) {
            add_at(&mut delta_sum, j, w.saturating_mul(sa));
        }
    }
    let (bond_div, delta_div) = (divisors(&bond_sum), divisors(&delta_sum));
    // Pass 2: the EMA, row by row, with its column sums and maxima.
    let alpha = ema_alpha(x.bonds_moving_average);
    let keep = ONE.saturating_sub(alpha);
    let mut ema_sum = vec![ZERO; n];
    let mut ema_max = vec![ZERO; n];
    let mut new_bonds: Vec<Row> = Vec::with_capacity(stored.len());
    for (i, row) in stored.iter().enumerate() {
        let sa = x.active_stake.get(i).copied().unwrap_or(ZERO);
        let mut out = Row::new();
        merge(x.bond_weights(i), x.old_bonds(row, raw), |j, w, b| {
            let delta = div_col(&delta_div, j, w.saturating_mul(sa));
            let old = div_col(&bond_div, j, b);
            let v = alpha
                .saturating_mul(delta)
                .saturating_add(keep.saturating_mul(old));
            if v > ZERO {
                add_at(&mut ema_sum, j, v);
                if let Some(m) = ema_max.get_mut(usize::from(j))
                    && *m < v
                {
                    *m = v;
                }
                out.push((j, v));
            }
        });
        new_bonds.push(out);
    }
    // Pass 3: column-normalize, dividends, and the stored form: each column scaled so its
    // maximum is 1. Dividing by a positive constant is monotone in fixed point, so the
    // normalized column maximum is the normalized maximum found above.
    let ema_div = divisors(&ema_sum);
    let col_max: Vec<I32F32> = ema_max
        .iter()
        .enumerate()
        .map(|(j, m)| div_col(&ema_div, u16::try_from(j).unwrap_or(u16::MAX), *m))
        .collect();
    let max_div = divisors(&col_max);
    let mut dividends = Vec::with_capacity(new_bonds.len());
    let mut stored_rows = Vec::with_capacity(new_bonds.len());
    for row in &new_bonds {
        let mut d = ZERO;
        let mut out = SparseRow::with_capacity(row.len());
        for (j, v) in row {
            let v = div_col(&ema_div, *j, *v);
            d = d.saturating_add(at(x.incentive, *j).saturating_mul(v));
            out.push((*j, to_u16(div_col(&max_div, *j, v))));
        }
        dividends.push(d);
        stored_rows.push(out);
    }
    normalize(&mut dividends);
    (stored_rows, dividends)
}

/// Liquid-alpha settings in fixed point.
#[derive(Clone, Copy)]
pub(crate) struct LiquidAlpha {
    pub low: I32F32,
    pub high: I32F32,
    pub steepness: I32F32,
    /// α at d = 0, the most common case (a weight at or under consensus and above its bond).
    at_zero: I32F32,
}

impl LiquidAlpha {
    pub(crate) fn new(alpha_low: u16, alpha_high: u16, steepness: i16) -> Self {
        let mut la = Self {
            low: from_u16(alpha_low),
            high: from_u16(alpha_high),
            steepness: I32F32::from_num(steepness),
            at_zero: ZERO,
        };
        la.at_zero = la.sigmoid_alpha(ZERO);
        la
    }

    /// α_ij = clamp(α_lo + (α_hi − α_lo)·sigmoid(d), α_lo, α_hi), with
    /// `d = clamp(w − c, 0, 1)` when the weight is at or above the bond, else
    /// `clamp(b − w, 0, 1)`, and sigmoid(d) = 1 / (1 + exp(−(steepness/100)(d − 0.5))).
    pub(crate) fn alpha(&self, consensus: I32F32, weight: I32F32, bond: I32F32) -> I32F32 {
        let diff = if weight >= bond {
            weight.saturating_sub(consensus).clamp(ZERO, ONE)
        } else {
            bond.saturating_sub(weight).clamp(ZERO, ONE)
        };
        if diff == ZERO {
            return self.at_zero;
        }
        self.sigmoid_alpha(diff)
    }

    fn sigmoid_alpha(&self, diff: I32F32) -> I32F32 {
        let exponent = self
            .steepness
            .saturating_div(I32F32::from_num(-100))
            .saturating_mul(diff.saturating_sub(I32F32::from_num(0.5)));
        let sigmoid = ONE.saturating_div(ONE.saturating_add(crate::fixed::exp_clamped(exponent)));
        let alpha = self
            .low
            .saturating_add(sigmoid.saturating_mul(self.high.saturating_sub(self.low)));
        alpha.min(self.high).max(self.low)
    }
}

/// Yuma3 bonds (step 10): `B = stored / 65535`; `B'` by liquid alpha (when on and some
/// `C_j ≠ 0`, over the columns of the `Wb` row only) or by the fixed α (over the union of `Wb`
/// and `B`); `D = normalize(Sa ∘ (colnorm(B') I))`. Returns `B'` as stored u16
/// (`floor(B' · 65535)`) and the dividends.
pub(crate) fn yuma3(
    x: &Inputs<'_>,
    stored: &[SparseRow],
    liquid: Option<LiquidAlpha>,
) -> (Vec<SparseRow>, Vec<I32F32>) {
    let liquid = liquid.filter(|_| x.consensus.iter().any(|c| *c != ZERO));
    let alpha = ema_alpha(x.bonds_moving_average);
    let keep = ONE.saturating_sub(alpha);
    let u16_max = Divisor::new(I32F32::from_num(u16::MAX));
    let fraction = move |v: u16| u16_max.div(I32F32::from_num(v));
    // Pass 1: the new bonds and their column sums.
    let mut col_sum = vec![ZERO; x.n];
    let mut new_bonds: Vec<Row> = Vec::with_capacity(stored.len());
    for (i, row) in stored.iter().enumerate() {
        let mut out = Row::new();
        let mut keep_positive = |j: u16, v: I32F32| {
            if v > ZERO {
                add_at(&mut col_sum, j, v);
                out.push((j, v));
            }
        };
        let (weights, old) = (x.bond_weights(i), x.old_bonds(row, fraction));
        match liquid {
            // Only the columns of the bond-weight row survive (subtensor's
            // `mat_ema_alpha_sparse`): a bond whose column the row lacks is dropped.
            Some(la) => left_join(weights, old, |j, w, b| {
                let a = la.alpha(at(x.consensus, j), w, b);
                let decayed = ONE.saturating_sub(a).saturating_mul(b);
                let grown = a.saturating_mul(w).max(ZERO);
                keep_positive(j, decayed.saturating_add(grown).min(ONE));
            }),
            None => merge(weights, old, |j, w, b| {
                keep_positive(
                    j,
                    alpha
                        .saturating_mul(w)
                        .saturating_add(keep.saturating_mul(b)),
                );
            }),
        }
        new_bonds.push(out);
    }
    // Pass 2: dividends from the column-normalized bonds; store the bonds as u16.
    let col_div = divisors(&col_sum);
    let mut dividends = Vec::with_capacity(new_bonds.len());
    let mut stored_rows = Vec::with_capacity(new_bonds.len());
    for (i, row) in new_bonds.iter().enumerate() {
        let per_validator = row.iter().fold(ZERO, |acc, (j, v)| {
            acc.saturating_add(at(x.incentive, *j).saturating_mul(div_col(&col_div, *j, *v)))
        });
        let sa = x.active_stake.get(i).copied().unwrap_or(ZERO);
        dividends.push(per_validator.saturating_mul(sa));
        stored_rows.push(row.iter().map(|(j, v)| (*j, to_u16(*v))).collect());
    }
    normalize(&mut dividends);
    (stored_rows, dividends)
}

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used
)]
mod tests {
    use super::*;

    #[test]
    fn default_alpha_is_one_tenth() {
        let a = ema_alpha(900_000);
        assert!((crate::fixed::to_f64(a) - 0.1).abs() < 1e-9);
        assert_eq!(ema_alpha(0), ONE);
        assert_eq!(ema_alpha(1_000_000), ZERO);
    }

    #[test]
    fn liquid_alpha_stays_in_range_and_is_monotone_in_distance() {
        let la = LiquidAlpha::new(45_875, 58_982, 1000);
        let c = I32F32::from_num(0.2);
        let near = la.alpha(c, I32F32::from_num(0.2), ZERO);
        let far = la.alpha(c, I32F32::from_num(1.0), ZERO);
        assert!(near >= la.low && far <= la.high);
        assert!(near < far);
        // d = 0.5 sits at the sigmoid's midpoint.
        let mid = la.alpha(ZERO, I32F32::from_num(0.5), ZERO);
        assert!((crate::fixed::to_f64(mid) - 0.8).abs() < 1e-4);
        assert_eq!(la.alpha(c, c, ZERO), la.sigmoid_alpha(ZERO));
    }
}
