//! Batch normalization over NCHW activations (PyTorch's `BatchNorm2d`), with an optional fused
//! ReLU, and a hand-written backward.
//!
//! Training normalizes with the batch's statistics (biased variance) and moves the running
//! statistics toward them (unbiased variance, momentum 0.1), exactly as PyTorch does; evaluation
//! normalizes with the running statistics. Statistics run one channel per task and the
//! normalization one `(image, channel)` plane per task over the rayon pool. Sums are accumulated per image row in `f32` and
//! across rows in `f64`, so the statistics of a large batch keep full `f32` precision.

use rayon::prelude::*;

use crate::dense::GradMode;

/// PyTorch's defaults.
pub const BN_EPS: f32 = 1e-5;
pub const BN_MOMENTUM: f32 = 0.1;

#[derive(Debug, Clone)]
pub struct BatchNorm2d {
    pub c: usize,
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
    pub running_mean: Vec<f32>,
    pub running_var: Vec<f32>,
    /// Gradients or SGD momentum of `gamma`/`beta` (see [`GradMode`]).
    pub g_gamma: Vec<f32>,
    pub g_beta: Vec<f32>,
    /// The last training batch's mean and `1/√(var + eps)`, used by the backward pass.
    mean: Vec<f32>,
    invstd: Vec<f32>,
    sum_dy: Vec<f64>,
    sum_dy_xhat: Vec<f64>,
}

impl BatchNorm2d {
    pub fn new(c: usize) -> Self {
        Self {
            c,
            gamma: vec![1.0; c],
            beta: vec![0.0; c],
            running_mean: vec![0.0; c],
            running_var: vec![1.0; c],
            g_gamma: vec![0.0; c],
            g_beta: vec![0.0; c],
            mean: vec![0.0; c],
            invstd: vec![1.0; c],
            sum_dy: vec![0.0; c],
            sum_dy_xhat: vec![0.0; c],
        }
    }

    fn check(&self, x: &[f32], n: usize, hw: usize, out: &[f32]) {
        let len = n * self.c * hw;
        assert!(x.len() >= len && out.len() >= len, "batch norm buffers");
    }

    /// Training forward: batch statistics, running statistics updated. `x`/`out` are
    /// `[n, c, hw]`; with `relu` the output is `max(0, bn(x))`.
    pub fn forward_train(&mut self, x: &[f32], n: usize, hw: usize, out: &mut [f32], relu: bool) {
        self.check(x, n, hw, out);
        let c = self.c;
        let m = (n * hw) as f64;
        // one task per channel; each keeps the serial summation order, so the result does
        // not depend on the pool size
        let stats: Vec<(f64, f64)> = (0..c)
            .into_par_iter()
            .map(|ch| {
                let rows = || (0..n).map(|i| &x[(i * c + ch) * hw..(i * c + ch + 1) * hw]);
                let mean = rows().map(|r| f64::from(lane_sum(r, |v| v))).sum::<f64>() / m;
                let mf = mean as f32;
                let var = rows()
                    .map(|r| f64::from(lane_sum(r, |v| (v - mf) * (v - mf))))
                    .sum::<f64>()
                    / m;
                (mean, var)
            })
            .collect();
        for (ch, &(mean, var)) in stats.iter().enumerate() {
            let mf = mean as f32;
            self.mean[ch] = mf;
            self.invstd[ch] = (1.0 / (var + f64::from(BN_EPS)).sqrt()) as f32;
            let unbiased = if m > 1.0 { var * m / (m - 1.0) } else { var };
            self.running_mean[ch] = (1.0 - BN_MOMENTUM) * self.running_mean[ch] + BN_MOMENTUM * mf;
            self.running_var[ch] =
                (1.0 - BN_MOMENTUM) * self.running_var[ch] + BN_MOMENTUM * unbiased as f32;
        }
        let (mean, invstd) = (&self.mean, &self.invstd);
        affine(x, n, hw, out, relu, c, |ch| {
            let scale = self.gamma[ch] * invstd[ch];
            (scale, self.beta[ch] - mean[ch] * scale)
        });
    }

    /// Evaluation forward with the running statistics.
    pub fn forward_eval(&self, x: &[f32], n: usize, hw: usize, out: &mut [f32], relu: bool) {
        self.check(x, n, hw, out);
        affine(x, n, hw, out, relu, self.c, |ch| {
            let scale = self.gamma[ch] / (self.running_var[ch] + BN_EPS).sqrt();
            (scale, self.beta[ch] - self.running_mean[ch] * scale)
        });
    }

    /// Backward of the last [`Self::forward_train`] on `x`, whose output was `y`. `d` holds
    /// `∂L/∂y` on entry and `∂L/∂x` on return (with `relu`, the ReLU is undone through `y`).
    /// `gamma`/`beta` gradients go per `mode`.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &mut self,
        x: &[f32],
        y: &[f32],
        n: usize,
        hw: usize,
        d: &mut [f32],
        relu: bool,
        mode: GradMode,
    ) {
        self.check(x, n, hw, d);
        let c = self.c;
        let len = n * c * hw;
        if relu {
            crate::dense::relu_mask(&mut d[..len], &y[..len]);
        }
        let (mean, invstd) = (&self.mean, &self.invstd);
        let sums: Vec<(f64, f64)> = (0..c)
            .into_par_iter()
            .map(|ch| {
                let (mut sd, mut sdx) = (0.0f64, 0.0f64);
                for i in 0..n {
                    let r = (i * c + ch) * hw..(i * c + ch + 1) * hw;
                    let (s, sx) = grad_sums(&x[r.clone()], &d[r], mean[ch]);
                    sd += f64::from(s);
                    sdx += f64::from(sx) * f64::from(invstd[ch]);
                }
                (sd, sdx)
            })
            .collect();
        for (ch, &(sd, sdx)) in sums.iter().enumerate() {
            self.sum_dy[ch] = sd;
            self.sum_dy_xhat[ch] = sdx;
        }
        let m = (n * hw) as f32;
        let (gamma, sum_dy, sum_dy_xhat) = (&self.gamma, &self.sum_dy, &self.sum_dy_xhat);
        x[..len]
            .par_chunks(hw)
            .zip(d[..len].par_chunks_mut(hw))
            .enumerate()
            .for_each(|(i, (xr, dr))| {
                let ch = i % c;
                let (mean, inv) = (mean[ch], invstd[ch]);
                let k = gamma[ch] * inv;
                let a = sum_dy[ch] as f32 / m;
                let b = sum_dy_xhat[ch] as f32 / m;
                for (&xv, dv) in xr.iter().zip(dr.iter_mut()) {
                    let xhat = (xv - mean) * inv;
                    *dv = k * (*dv - a - xhat * b);
                }
            });
        let keep = crate::dense::mode_keep(mode);
        for ch in 0..c {
            let (gg, gb) = (self.sum_dy_xhat[ch] as f32, self.sum_dy[ch] as f32);
            self.g_gamma[ch] = if keep == 0.0 {
                gg
            } else {
                keep * self.g_gamma[ch] + gg
            };
            self.g_beta[ch] = if keep == 0.0 {
                gb
            } else {
                keep * self.g_beta[ch] + gb
            };
        }
        if let GradMode::Sgd { lr, .. } = mode {
            crate::conv::sub_scaled(&mut self.gamma, &self.g_gamma, lr);
            crate::conv::sub_scaled(&mut self.beta, &self.g_beta, lr);
        }
    }

    /// Backward of [`Self::forward_eval`] (a fixed per-channel affine map) whose output was
    /// `y`: `d` holds `∂L/∂y` on entry and `∂L/∂x` on return. Nothing in `self` changes.
    pub fn backward_eval(&self, y: &[f32], n: usize, hw: usize, d: &mut [f32], relu: bool) {
        let (c, len) = (self.c, n * self.c * hw);
        assert!(y.len() >= len && d.len() >= len, "batch norm buffers");
        let scale: Vec<f32> = (0..c)
            .map(|ch| self.gamma[ch] / (self.running_var[ch] + BN_EPS).sqrt())
            .collect();
        d[..len]
            .par_chunks_mut(hw)
            .zip(y[..len].par_chunks(hw))
            .enumerate()
            .for_each(|(i, (dr, yr))| {
                let k = scale[i % c];
                for (dv, &yv) in dr.iter_mut().zip(yr) {
                    *dv = if relu && yv <= 0.0 { 0.0 } else { k * *dv };
                }
            });
    }

    pub fn zero_buffers(&mut self) {
        self.g_gamma.fill(0.0);
        self.g_beta.fill(0.0);
    }
}

/// Partial sums per row: as many as a vector register holds, so the compiler can keep them in
/// one instead of waiting on a single running sum. The order is fixed, so results do not
/// depend on the machine or the pool.
const LANES: usize = 16;

/// `Σ f(v)` over a row.
fn lane_sum(row: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0.0f32; LANES];
    let chunks = row.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().map(|&v| f(v)).sum();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += f(v);
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `(Σ d, Σ d·(x − mean))` over a row.
fn grad_sums(x: &[f32], d: &[f32], mean: f32) -> (f32, f32) {
    let (mut s, mut sx) = ([0.0f32; LANES], [0.0f32; LANES]);
    let (xc, dc) = (x.chunks_exact(LANES), d.chunks_exact(LANES));
    let (mut ts, mut tsx) = (0.0f32, 0.0f32);
    for (&xv, &dv) in xc.remainder().iter().zip(dc.remainder()) {
        ts += dv;
        tsx += dv * (xv - mean);
    }
    for (xv, dv) in xc.zip(dc) {
        for l in 0..LANES {
            s[l] += dv[l];
            sx[l] += dv[l] * (xv[l] - mean);
        }
    }
    (s.iter().sum::<f32>() + ts, sx.iter().sum::<f32>() + tsx)
}

/// `out = relu?(scale[c]·x + shift[c])` per channel.
fn affine(
    x: &[f32],
    n: usize,
    hw: usize,
    out: &mut [f32],
    relu: bool,
    c: usize,
    coef: impl Fn(usize) -> (f32, f32),
) {
    let len = n * c * hw;
    let coef: Vec<(f32, f32)> = (0..c).map(coef).collect();
    x[..len]
        .par_chunks(hw)
        .zip(out[..len].par_chunks_mut(hw))
        .enumerate()
        .for_each(|(i, (xr, or))| {
            let (scale, shift) = coef[i % c];
            if relu {
                xr.iter()
                    .zip(or)
                    .for_each(|(x, o)| *o = (scale * x + shift).max(0.0));
            } else {
                xr.iter().zip(or).for_each(|(x, o)| *o = scale * x + shift);
            }
        });
}
