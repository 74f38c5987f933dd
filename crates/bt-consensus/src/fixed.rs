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
    normalize_using(x, sum(x));
}

/// Divide by a given sum (subtensor's `inplace_normalize_using_sum`).
pub(crate) fn normalize_using(x: &mut [I32F32], total: I32F32) {
    if total == ZERO {
        return;
    }
    let d = Divisor::new(total);
    for v in x.iter_mut() {
        *v = d.div(*v);
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

/// `exp` with its input clamped to ±20 (CONSENSUS.md step 10), in fixed point: the value of
/// `substrate_fixed::transcendental::exp`, the series subtensor evaluates. exp(20) ≈ 4.85e8
/// fits I32F32, so the clamped series cannot overflow.
pub(crate) fn exp_clamped(x: I32F32) -> I32F32 {
    let limit = I32F32::from_num(20);
    exp_series(x.clamp(limit.saturating_neg(), limit))
}

/// Division by one fixed-point divisor many times, bit-identical to [`sdiv`] but without a
/// 128-bit division per call: the epoch divides millions of entries by a handful of row and
/// column sums. Uses Möller and Granlund's division by an invariant integer ("Improved division
/// by invariant integers", 2011, algorithm 4): one reciprocal per divisor, then two
/// multiplications and at most two corrections per quotient. Negative operands and a zero
/// divisor take the [`sdiv`] path.
#[derive(Clone, Copy)]
pub(crate) struct Divisor {
    d: I32F32,
    /// The divisor's raw bits.
    bits: u64,
    /// `bits` shifted so that its top bit is set (0 when the fast path does not apply).
    norm: u64,
    shift: u32,
    /// floor((2^128 − 1) / norm) − 2^64.
    recip: u64,
}

const LOW: u128 = u64::MAX as u128;

fn lo(x: u128) -> u64 {
    u64::try_from(x & LOW).unwrap_or(0)
}

fn hi(x: u128) -> u64 {
    u64::try_from(x >> 64).unwrap_or(0)
}

impl Divisor {
    pub(crate) fn new(d: I32F32) -> Self {
        let Ok(bits) = u64::try_from(d.to_bits()) else {
            return Self {
                d,
                bits: 0,
                norm: 0,
                shift: 0,
                recip: 0,
            };
        };
        if bits == 0 {
            return Self {
                d,
                bits: 0,
                norm: 0,
                shift: 0,
                recip: 0,
            };
        }
        let shift = bits.leading_zeros();
        let norm = bits.wrapping_shl(shift);
        let recip = lo(u128::MAX
            .checked_div(u128::from(norm))
            .unwrap_or(0)
            .wrapping_sub(1u128 << 64));
        Self {
            d,
            bits,
            norm,
            shift,
            recip,
        }
    }

    /// `sdiv(a, d)`.
    pub(crate) fn div(&self, a: I32F32) -> I32F32 {
        let Ok(a_bits) = u64::try_from(a.to_bits()) else {
            return sdiv(a, self.d);
        };
        if self.norm == 0 {
            return sdiv(a, self.d);
        }
        // The fixed-point quotient is floor(a · 2^32 / d) on the raw bits.
        let n = u128::from(a_bits) << 32;
        if hi(n) >= self.bits {
            return ZERO; // quotient ≥ 2^64: checked_div overflows, sdiv yields 0
        }
        let u = n << self.shift; // cannot overflow: n < d · 2^64
        let (u1, u0) = (hi(u), lo(u));
        let p = u128::from(self.recip).wrapping_mul(u128::from(u1));
        let p = p.wrapping_add(u);
        let mut q1 = hi(p).wrapping_add(1);
        let q0 = lo(p);
        let mut r = u0.wrapping_sub(q1.wrapping_mul(self.norm));
        if r > q0 {
            q1 = q1.wrapping_sub(1);
            r = r.wrapping_add(self.norm);
        }
        if r >= self.norm {
            q1 = q1.wrapping_add(1);
        }
        match i64::try_from(q1) {
            Ok(q) => I32F32::from_bits(q),
            Err(_) => ZERO, // quotient ≥ 2^63 overflows I32F32, as in sdiv
        }
    }
}

/// `substrate_fixed::transcendental::exp::<I32F32, I32F32>` re-derived for speed with the same
/// bits: the same 30-term Taylor series with the same truncations (`t · x` keeps the floor of
/// the 64-bit-fraction product, `t / i` is an integer floor division of the raw bits), stopping
/// early once a term is zero (every later term is then zero too), then `1 / result` for a
/// negative input. Inputs must lie within ±20, where nothing can overflow; the unit tests check
/// it against the library bit for bit. 0 and 1 go to the library (it special-cases them).
fn exp_series(x: I32F32) -> I32F32 {
    if x == ZERO || x == ONE {
        return exp::<I32F32, I32F32>(x).unwrap_or(ONE);
    }
    let neg = x < ZERO;
    let xb = x.to_bits().unsigned_abs();
    let mut result = xb.saturating_add(1 << 32);
    let mut term = xb;
    for i in 2u64..32 {
        let prod = u128::from(term).wrapping_mul(u128::from(xb)) >> 32;
        term = u64::try_from(prod).unwrap_or(u64::MAX);
        term = term.checked_div(i).unwrap_or(0);
        if term == 0 {
            break;
        }
        result = result.saturating_add(term);
    }
    let Ok(result) = i64::try_from(result) else {
        return ZERO;
    };
    let r = I32F32::from_bits(result);
    if neg { sdiv(ONE, r) } else { r }
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

    #[test]
    fn divisor_matches_sdiv() {
        let samples: Vec<i64> = vec![
            0,
            1,
            2,
            3,
            7,
            1 << 31,
            (1 << 32) - 1,
            1 << 32,
            (1 << 32) + 1,
            12_345_678_901,
            1 << 40,
            (1 << 62) - 1,
            i64::MAX,
            -1,
            -(1 << 32),
            i64::MIN,
        ];
        let mut x: u64 = 0x1234_5678_9ABC_DEF1;
        let mut more = Vec::new();
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            more.push(i64::try_from(x >> (x % 40)).unwrap_or(1));
        }
        let all: Vec<i64> = samples.iter().chain(&more).copied().collect();
        for d in all.iter().step_by(97).chain(&samples) {
            let div = Divisor::new(I32F32::from_bits(*d));
            for a in all.iter().step_by(13).chain(&samples) {
                let (a, d) = (I32F32::from_bits(*a), I32F32::from_bits(*d));
                assert_eq!(div.div(a), sdiv(a, d), "{a:?} / {d:?}");
            }
        }
    }

    #[test]
    fn exp_series_matches_the_library() {
        let mut bits: Vec<i64> = (-20i64..=20).map(|k| k << 32).collect();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let span = 40i64 << 32;
            bits.push(i64::try_from(x % 40u64.wrapping_shl(32)).unwrap_or(0) - span / 2);
        }
        bits.extend([
            1,
            -1,
            3,
            1 << 31,
            -(1 << 31),
            (20 << 32) - 1,
            -(20 << 32) + 1,
        ]);
        for b in bits {
            let v = I32F32::from_bits(b);
            let lib = exp::<I32F32, I32F32>(v).unwrap();
            assert_eq!(exp_series(v), lib, "exp({v})");
        }
    }
}
