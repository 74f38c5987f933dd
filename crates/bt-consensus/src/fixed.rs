//! Fixed-point primitives shared by every step of the epoch.
//!
//! Every operation here mirrors the rounding of subtensor's `epoch/math.rs` (the same
//! `substrate-fixed` types and the same saturating/checked operations), so that our bits match
//! the chain's bits. Fixed-point addition and subtraction are exact (they only saturate, far
//! outside the [0, 1] range the epoch works in), which is why sums may be taken in any order.

use substrate_fixed::transcendental::exp;
pub use substrate_fixed::types::{I32F32, I64F64, I96F32};

/// `u16::MAX` as a fixed-point number: the denominator of every stored fraction.
pub(crate) fn u16_max() -> I32F32 {
    I32F32::from_num(u16::MAX)
}

pub(crate) const ZERO: I32F32 = I32F32::from_bits(0);
pub(crate) const ONE: I32F32 = I32F32::from_bits(1 << 32);

/// Division that yields zero instead of failing, like subtensor's `safe_div`: the epoch guards
/// every divisor against zero, so the fallback only covers overflow of a quotient.
pub(crate) fn sdiv(a: I32F32, b: I32F32) -> I32F32 {
    a.checked_div(b).unwrap_or(ZERO)
}

pub(crate) fn sdiv64(a: I64F64, b: I64F64) -> I64F64 {
    a.checked_div(b).unwrap_or(I64F64::from_num(0))
}

/// Sum with saturation (exact inside the range the epoch uses).
pub(crate) fn sum(x: &[I32F32]) -> I32F32 {
    x.iter().fold(ZERO, |acc, v| acc.saturating_add(*v))
}

/// `normalize(v)`: divide by the sum; a zero vector stays zero.
pub(crate) fn normalize(x: &mut [I32F32]) {
    let total = sum(x);
    if total == ZERO {
        return;
    }
    for v in x.iter_mut() {
        *v = sdiv(*v, total);
    }
}

/// Divide by a given sum (subtensor's `inplace_normalize_using_sum`).
pub(crate) fn normalize_using(x: &mut [I32F32], total: I32F32) {
    if total == ZERO {
        return;
    }
    for v in x.iter_mut() {
        *v = sdiv(*v, total);
    }
}

/// A fraction in [0, 1] as stored on chain: `floor(x · 65535)`, saturating into u16.
pub fn to_u16(x: I32F32) -> u16 {
    x.saturating_mul(u16_max()).saturating_to_num::<u16>()
}

/// A stored u16 as the fraction it encodes: `x / 65535`.
pub fn from_u16(x: u16) -> I32F32 {
    sdiv(I32F32::from_num(x), u16_max())
}

/// Lossless view for reports and renderers (never used inside the epoch).
pub fn to_f64(x: I32F32) -> f64 {
    x.to_num::<f64>()
}

/// `exp` with its input clamped to ±20 (CONSENSUS.md step 10), in fixed point
/// (`substrate_fixed::transcendental::exp`, the same series subtensor evaluates).
/// exp(20) ≈ 4.85e8 fits I32F32, so the clamped call cannot overflow; the fallback exists only
/// so that no path can panic.
pub(crate) fn exp_clamped(x: I32F32) -> I32F32 {
    let limit = I32F32::from_num(20);
    let clamped = x.clamp(limit.saturating_neg(), limit);
    match exp::<I32F32, I32F32>(clamped) {
        Ok(v) => v,
        Err(()) if clamped <= ZERO => ZERO,
        Err(()) => I32F32::max_value(),
    }
}

/// Max-upscale to u16 (subtensor's `vec_max_upscale_to_u16`, used for pruning scores):
/// the largest entry maps to 65535, the rest proportionally, rounded to nearest.
pub(crate) fn max_upscale_to_u16(v: &[I32F32]) -> Vec<u16> {
    let max = v.iter().copied().max().unwrap_or(ZERO);
    let umax = u16_max();
    if max == ZERO {
        return v
            .iter()
            .map(|e| e.saturating_mul(umax).saturating_to_num::<u16>())
            .collect();
    }
    if max > I32F32::from_num(32768) {
        let scale = sdiv(umax, max);
        return v
            .iter()
            .map(|e| e.saturating_mul(scale).round().saturating_to_num::<u16>())
            .collect();
    }
    v.iter()
        .map(|e| {
            sdiv(e.saturating_mul(umax), max)
                .round()
                .saturating_to_num::<u16>()
        })
        .collect()
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
    fn stored_fraction_is_floor_times_65535() {
        assert_eq!(to_u16(ONE), 65535);
        assert_eq!(to_u16(ZERO), 0);
        // 0.5 · 65535 = 32767.5 → floor 32767.
        assert_eq!(to_u16(I32F32::from_num(0.5)), 32767);
        assert_eq!(to_u16(I32F32::from_num(2)), 65535);
        assert_eq!(to_u16(from_u16(12345)), 12344); // the I32F32 quotient is truncated
    }

    #[test]
    fn normalize_keeps_zero_vectors() {
        let mut v = vec![ZERO, ZERO];
        normalize(&mut v);
        assert_eq!(v, vec![ZERO, ZERO]);
        let mut w = vec![I32F32::from_num(1), I32F32::from_num(3)];
        normalize(&mut w);
        assert_eq!(w, vec![I32F32::from_num(0.25), I32F32::from_num(0.75)]);
    }

    #[test]
    fn exp_is_clamped_and_total() {
        assert_eq!(exp_clamped(ZERO), ONE);
        assert_eq!(
            exp_clamped(I32F32::from_num(1000)),
            exp_clamped(I32F32::from_num(20))
        );
        assert!(exp_clamped(I32F32::from_num(-1000)) < I32F32::from_num(1e-8));
        let e1 = to_f64(exp_clamped(ONE));
        assert!((e1 - std::f64::consts::E).abs() < 1e-6);
    }

    #[test]
    fn max_upscale_maps_max_to_u16_max() {
        let v = [I32F32::from_num(0.25), I32F32::from_num(0.5), ZERO];
        assert_eq!(max_upscale_to_u16(&v), vec![32768, 65535, 0]);
        assert_eq!(max_upscale_to_u16(&[ZERO, ZERO]), vec![0, 0]);
    }
}
