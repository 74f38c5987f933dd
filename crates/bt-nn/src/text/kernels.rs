//! Elementwise and row kernels of the packed BERT forward, written as plain loops
//! over `f32` slices that the compiler vectorizes: no libm calls in the hot loops (the erf of
//! GELU and the exp of softmax are polynomial), no allocation.

/// `e^x` for `f32`, within a few units in the last place over the range softmax and erfc use.
/// Inputs are clamped to `[-87, 88]`, where the result is a normal float.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in two so that `n · LN2_HI` is exact for the `n` that occur.
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Adding 1.5·2²³ rounds to the nearest integer without a branch or a libm call.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2E + ROUND) - ROUND;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    // Taylor series of e^r to degree 7: |r| ≤ ln2/2, so the truncation is under 1e-8.
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    // n is in -126..=127 after the clamp, so the biased exponent is a normal float's.
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    p * scale
}

/// `erfc(z)` for `z ≥ 0` by Abramowitz and Stegun 7.1.26 (absolute error under 1.5e-7).
#[inline(always)]
fn erfc_nonneg(z: f32) -> f32 {
    const P: f32 = 0.327_591_1;
    const A: [f32; 5] = [
        0.254_829_6,
        -0.284_496_72,
        1.421_413_8,
        -1.453_152_1,
        1.061_405_4,
    ];
    let t = 1.0 / (1.0 + P * z);
    let poly = t * (A[0] + t * (A[1] + t * (A[2] + t * (A[3] + t * A[4]))));
    poly * exp(-z * z)
}

/// GELU with the exact (erf) form BERT's `hidden_act = "gelu"` names:
/// `x · Φ(x) = ½ x (1 + erf(x/√2))`. Computed through `erfc(|x|/√2)` so that the negative side,
/// where the result is a small difference, keeps its precision.
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    let e = erfc_nonneg(x.abs() * std::f32::consts::FRAC_1_SQRT_2);
    let half_xe = 0.5 * x * e;
    if x >= 0.0 { x - half_xe } else { half_xe }
}

/// Each `width`-wide row of `rows` gets `bias` added and GELU applied, in place.
pub fn bias_gelu(rows: &mut [f32], bias: &[f32]) {
    for row in rows.chunks_exact_mut(bias.len()) {
        for (v, b) in row.iter_mut().zip(bias) {
            *v = gelu(*v + b);
        }
    }
}

/// Each row of `rows` gets `bias` added and is then layer-normalized (`weight`, `beta`, `eps`
/// as in `torch.nn.LayerNorm`: biased variance, eps inside the square root), in place.
pub fn bias_layer_norm(rows: &mut [f32], bias: &[f32], weight: &[f32], beta: &[f32], eps: f32) {
    for row in rows.chunks_exact_mut(bias.len()) {
        for (v, b) in row.iter_mut().zip(bias) {
            *v += b;
        }
        layer_norm_row(row, weight, beta, eps);
    }
}

/// One row layer-normalized in place.
pub fn layer_norm_row(row: &mut [f32], weight: &[f32], beta: &[f32], eps: f32) {
    let n = row.len() as f32;
    let mean = row.iter().sum::<f32>() / n;
    let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    let inv = 1.0 / (var + eps).sqrt();
    for ((v, w), b) in row.iter_mut().zip(weight).zip(beta) {
        *v = (*v - mean) * inv * w + b;
    }
}

/// Softmax of each `width`-wide row of `rows`, in place.
pub fn softmax_rows(rows: &mut [f32], width: usize) {
    for row in rows.chunks_exact_mut(width) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for v in row.iter_mut() {
            *v = exp(*v - max);
            sum += *v;
        }
        let inv = 1.0 / sum;
        for v in row.iter_mut() {
            *v *= inv;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// erf by its Maclaurin series in f64 (converges quickly for the |x| ≤ 3 tested here).
    fn erf64(x: f64) -> f64 {
        let (mut term, mut sum) = (x, x);
        for n in 1..200 {
            term *= -x * x / n as f64;
            sum += term / (2 * n + 1) as f64;
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn exp_matches_std_to_a_few_ulp() {
        let mut worst = 0.0f64;
        for i in -8700..=8800 {
            let x = i as f32 * 0.01;
            let (got, want) = (f64::from(exp(x)), f64::from(x).exp());
            worst = worst.max((got - want).abs() / want);
        }
        assert!(worst < 4e-7, "relative error {worst}");
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(-1000.0) > 0.0 && exp(-1000.0) < 1e-37);
    }

    #[test]
    fn gelu_matches_the_erf_form() {
        let mut worst = 0.0f64;
        for i in -3000..=3000 {
            let x = f64::from(i as f32 * 0.002);
            let want = 0.5 * x * (1.0 + erf64(x / std::f64::consts::SQRT_2));
            worst = worst.max((f64::from(gelu(x as f32)) - want).abs());
        }
        assert!(worst < 5e-7, "absolute error {worst}");
        assert_eq!(gelu(30.0), 30.0);
        assert!(gelu(-30.0).abs() < 1e-30);
    }

    #[test]
    fn softmax_and_layer_norm_rows() {
        let mut s = [1.0, 2.0, 3.0, -1e4, 0.0, 0.0];
        softmax_rows(&mut s, 3);
        let z = 1.0 + 1f32.exp() + 2f32.exp();
        for (got, want) in s[..3].iter().zip([1.0 / z, 1f32.exp() / z, 2f32.exp() / z]) {
            assert!((got - want).abs() < 1e-6);
        }
        assert!(s[3] < 1e-30 && (s[4] - 0.5).abs() < 1e-6 && (s[5] - 0.5).abs() < 1e-6);
        let mut r = [1.0, 2.0, 3.0, 4.0];
        bias_layer_norm(&mut r, &[1.0; 4], &[2.0; 4], &[0.5; 4], 1e-12);
        let sd = 1.25f32.sqrt();
        for (got, x) in r.iter().zip([1.0f32, 2.0, 3.0, 4.0]) {
            assert!((got - ((x - 2.5) / sd * 2.0 + 0.5)).abs() < 1e-5);
        }
    }
}
