//! Bonds and dividends: the classic EMA (CONSENSUS.md step 9) and Yuma3 with optional liquid
//! alpha (step 10).

use crate::fixed::{I32F32, I64F64, ONE, ZERO, from_u16, normalize, sdiv64};
use crate::sparse::{self, Row, at};

/// α = 1 − bonds_moving_average / 1e6, computed as subtensor does (the quotient in I64F64,
/// truncated to I32F32).
pub(crate) fn ema_alpha(bonds_moving_average: u64) -> I32F32 {
    let bma = sdiv64(
        I64F64::saturating_from_num(bonds_moving_average),
        I64F64::from_num(1_000_000),
    );
    ONE.saturating_sub(I32F32::saturating_from_num(bma))
}

/// Visits the union of two rows sorted by column: `f(j, a_j, b_j)` with absent entries as 0.
fn merge(a: &Row, b: &Row, mut f: impl FnMut(u16, I32F32, I32F32)) {
    let (mut ia, mut ib) = (a.iter().peekable(), b.iter().peekable());
    loop {
        match (ia.peek().copied(), ib.peek().copied()) {
            (Some(&(ja, va)), Some(&(jb, vb))) => {
                if ja == jb {
                    f(ja, va, vb);
                    ia.next();
                    ib.next();
                } else if ja < jb {
                    f(ja, va, ZERO);
                    ia.next();
                } else {
                    f(jb, ZERO, vb);
                    ib.next();
                }
            }
            (Some(&(ja, va)), None) => {
                f(ja, va, ZERO);
                ia.next();
            }
            (None, Some(&(jb, vb))) => {
                f(jb, ZERO, vb);
                ib.next();
            }
            (None, None) => break,
        }
    }
}

/// Entry-wise `α·new + (1 − α)·old`, keeping positive entries.
fn ema(new: &[Row], old: &[Row], alpha: I32F32) -> Vec<Row> {
    let keep = ONE.saturating_sub(alpha);
    new.iter()
        .zip(old)
        .map(|(nr, or)| {
            let mut row = Row::new();
            merge(nr, or, |j, nv, ov| {
                let v = alpha
                    .saturating_mul(nv)
                    .saturating_add(keep.saturating_mul(ov));
                if v > ZERO {
                    row.push((j, v));
                }
            });
            row
        })
        .collect()
}

/// What both bond modes read besides the stored bonds.
pub(crate) struct Inputs<'a> {
    pub weights_for_bonds: &'a [Row],
    pub consensus: &'a [I32F32],
    pub active_stake: &'a [I32F32],
    pub incentive: &'a [I32F32],
    pub n: usize,
    pub bonds_moving_average: u64,
}

/// Classic bonds (step 9). `bonds` are the stored u16 values as raw fixed-point numbers with
/// the recently-registered columns already removed. Returns the new bonds scaled so each
/// column's maximum is 1, and the dividends.
pub(crate) fn classic(x: &Inputs<'_>, bonds: Vec<Row>) -> (Vec<Row>, Vec<I32F32>) {
    let n = x.n;
    let mut bonds = bonds;
    sparse::col_normalize(&mut bonds, n);
    let mut delta = sparse::row_hadamard(x.weights_for_bonds, x.active_stake);
    sparse::col_normalize(&mut delta, n);
    let mut new_bonds = ema(&delta, &bonds, ema_alpha(x.bonds_moving_average));
    sparse::col_normalize(&mut new_bonds, n);
    let mut dividends = sparse::matmul_transpose(&new_bonds, x.incentive);
    normalize(&mut dividends);
    sparse::col_max_upscale(&mut new_bonds, n);
    (new_bonds, dividends)
}

/// Liquid-alpha settings in fixed point.
#[derive(Clone, Copy)]
pub(crate) struct LiquidAlpha {
    pub low: I32F32,
    pub high: I32F32,
    pub steepness: I32F32,
}

impl LiquidAlpha {
    pub(crate) fn new(alpha_low: u16, alpha_high: u16, steepness: i16) -> Self {
        Self {
            low: from_u16(alpha_low),
            high: from_u16(alpha_high),
            steepness: I32F32::from_num(steepness),
        }
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

/// Yuma3 bonds (step 10). `bonds` are the stored fractions (u16 / 65535) with the
/// recently-registered columns removed. Returns the new bonds (fractions, not rescaled) and
/// the dividends.
pub(crate) fn yuma3(
    x: &Inputs<'_>,
    bonds: &[Row],
    liquid: Option<LiquidAlpha>,
) -> (Vec<Row>, Vec<I32F32>) {
    let consensus = x.consensus;
    let liquid = liquid.filter(|_| consensus.iter().any(|c| *c != ZERO));
    let new_bonds: Vec<Row> = match liquid {
        Some(la) => x
            .weights_for_bonds
            .iter()
            .zip(bonds)
            .map(|(wr, br)| {
                let mut row = Row::new();
                merge(wr, br, |j, w, b| {
                    let a = la.alpha(at(consensus, j), w, b);
                    let decayed = ONE.saturating_sub(a).saturating_mul(b);
                    let grown = a.saturating_mul(w).max(ZERO);
                    let v = decayed.saturating_add(grown).min(ONE);
                    if v > ZERO {
                        row.push((j, v));
                    }
                });
                row
            })
            .collect(),
        None => ema(
            x.weights_for_bonds,
            bonds,
            ema_alpha(x.bonds_moving_average),
        ),
    };
    let mut norm = new_bonds.clone();
    sparse::col_normalize(&mut norm, x.n);
    let per_validator = sparse::matmul_transpose(&norm, x.incentive);
    let mut dividends: Vec<I32F32> = per_validator
        .iter()
        .zip(x.active_stake)
        .map(|(t, s)| t.saturating_mul(*s))
        .collect();
    normalize(&mut dividends);
    (new_bonds, dividends)
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
    }
}
