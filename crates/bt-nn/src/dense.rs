//! A dense (fully connected) layer with a hand-written forward and backward pass.
//!
//! Why not candle's autograd here: for the MNIST synapse candle's backward ran much slower than
//! its forward (transposed-operand matmuls and gradient-accumulation copies). This
//! layer calls the same `gemm` kernel directly with strided views, fuses the bias into the
//! matmul's destination, and — in SGD mode — folds the momentum update into the weight-gradient
//! gemm (`buf = μ·buf + dzᵀx` is one gemm with `keep = μ`), so there is no separate gradient
//! buffer and no per-step allocation. The layout is PyTorch's (`weight` is `[out, in]`), so
//! checkpoints map one to one. It is checked against candle autograd by the gradient tests in
//! the MNIST model's tests (`mnist_tests.rs`).

use rand::Rng;

use crate::gemm_ops::{View, ViewMut, gemm};

/// `y = x·Wᵀ + b` with parameters and one gradient/momentum buffer per parameter.
#[derive(Debug, Clone)]
pub struct Dense {
    pub in_dim: usize,
    pub out_dim: usize,
    /// `[out_dim, in_dim]`, row-major.
    pub w: Vec<f32>,
    pub b: Vec<f32>,
    /// The weight gradient (after a backward in [`GradMode::Store`]) or the SGD momentum
    /// buffer (in [`GradMode::Sgd`]).
    pub gw: Vec<f32>,
    pub gb: Vec<f32>,
}

/// What a backward pass does with parameter gradients.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GradMode {
    /// Overwrite `gw`/`gb` with this batch's gradient; parameters unchanged.
    Store,
    /// PyTorch SGD with momentum: `buf = μ·buf + g; p -= lr·buf`, applied layer by layer as
    /// soon as the layer's gradient is known (while its buffers are still in cache).
    Sgd { lr: f32, momentum: f32 },
}

impl GradMode {
    fn keep(self) -> f32 {
        match self {
            GradMode::Store => 0.0,
            GradMode::Sgd { momentum, .. } => momentum,
        }
    }
}

impl Dense {
    /// PyTorch's default `nn.Linear` initialization: weights and biases uniform in ±1/√in.
    pub fn new(in_dim: usize, out_dim: usize, rng: &mut impl Rng) -> Self {
        let bound = 1.0 / (in_dim as f32).sqrt();
        let w = (0..in_dim * out_dim)
            .map(|_| rng.random_range(-bound..bound))
            .collect();
        let b = (0..out_dim)
            .map(|_| rng.random_range(-bound..bound))
            .collect();
        Self {
            in_dim,
            out_dim,
            w,
            b,
            gw: vec![0.0; in_dim * out_dim],
            gb: vec![0.0; out_dim],
        }
    }

    /// The weight as a `[out, in]` view.
    pub fn weight(&self) -> View<'_> {
        View::new(&self.w, self.out_dim, self.in_dim)
    }

    /// `out = x·W[:, cols]ᵀ + b` over the input columns `cols_start..cols_start + x.cols`, then
    /// ReLU when asked. `out` is `[x.rows, out_dim]`.
    pub fn forward_cols(&self, x: View<'_>, cols_start: usize, out: &mut [f32], relu: bool) {
        let rows = x.rows;
        let out = &mut out[..rows * self.out_dim];
        for row in out.chunks_exact_mut(self.out_dim) {
            row.copy_from_slice(&self.b);
        }
        let wt = self.weight().cols(cols_start, x.cols).t();
        gemm(ViewMut::new(out, rows, self.out_dim), x, wt, 1.0);
        if relu {
            relu_inplace(out);
        }
    }

    /// `out = relu?(x·Wᵀ + b)`.
    pub fn forward(&self, x: View<'_>, out: &mut [f32], relu: bool) {
        assert_eq!(x.cols, self.in_dim, "dense input width");
        self.forward_cols(x, 0, out, relu);
    }

    /// `dx = dz·W[:, cols]` for the input columns `cols_start..cols_start + n`.
    pub fn input_grad_cols(&self, dz: View<'_>, cols_start: usize, n: usize, dx: &mut [f32]) {
        let w = self.weight().cols(cols_start, n);
        gemm(ViewMut::new(&mut dx[..dz.rows * n], dz.rows, n), dz, w, 0.0);
    }

    /// `dx = dz·W`.
    pub fn input_grad(&self, dz: View<'_>, dx: &mut [f32]) {
        self.input_grad_cols(dz, 0, self.in_dim, dx);
    }

    /// `gw[:, cols] = keep·gw[:, cols] + dzᵀ·x` (the weight gradient of the input columns
    /// `cols_start..cols_start + x.cols`).
    pub fn accumulate_weight_cols(
        &mut self,
        dz: View<'_>,
        x: View<'_>,
        cols_start: usize,
        keep: f32,
    ) {
        let dst = ViewMut::new(&mut self.gw, self.out_dim, self.in_dim).cols(cols_start, x.cols);
        gemm(dst, dz.t(), x, keep);
    }

    /// `gb = keep·gb + Σ_rows dz`.
    pub fn accumulate_bias(&mut self, dz: &[f32], keep: f32) {
        if keep == 0.0 {
            self.gb.fill(0.0);
        } else {
            self.gb.iter_mut().for_each(|g| *g *= keep);
        }
        for row in dz.chunks_exact(self.out_dim) {
            for (g, d) in self.gb.iter_mut().zip(row) {
                *g += d;
            }
        }
    }

    /// Weight and bias gradients of one batch (`dz` is the gradient before the activation).
    /// `dz` is row-major `[x.rows, out_dim]`.
    pub fn accumulate(&mut self, dz: &[f32], x: View<'_>, mode: GradMode) {
        assert_eq!(x.cols, self.in_dim, "dense input width");
        let dzv = View::new(dz, x.rows, self.out_dim);
        self.accumulate_weight_cols(dzv, x, 0, mode.keep());
        self.accumulate_bias(&dz[..x.rows * self.out_dim], mode.keep());
        self.finish(mode);
    }

    /// In SGD mode, `p -= lr·buf` (the buffers already hold the new momentum).
    pub fn finish(&mut self, mode: GradMode) {
        if let GradMode::Sgd { lr, .. } = mode {
            axpy_neg(&mut self.w, &self.gw, lr);
            axpy_neg(&mut self.b, &self.gb, lr);
        }
    }

    /// Forgets the momentum (or stored gradient).
    pub fn zero_buffers(&mut self) {
        self.gw.fill(0.0);
        self.gb.fill(0.0);
    }
}

pub(crate) fn mode_keep(mode: GradMode) -> f32 {
    mode.keep()
}

/// `p -= lr·g`, split over the rayon pool for the large weight matrices.
fn axpy_neg(p: &mut [f32], g: &[f32], lr: f32) {
    use rayon::prelude::*;
    const CHUNK: usize = 1 << 16;
    if p.len() < 2 * CHUNK {
        p.iter_mut().zip(g).for_each(|(p, g)| *p -= lr * g);
    } else {
        p.par_chunks_mut(CHUNK)
            .zip(g.par_chunks(CHUNK))
            .for_each(|(p, g)| p.iter_mut().zip(g).for_each(|(p, g)| *p -= lr * g));
    }
}

pub fn relu_inplace(x: &mut [f32]) {
    x.iter_mut().for_each(|v| *v = v.max(0.0));
}

/// `dz *= (y > 0)`: the ReLU backward given the activation's output.
pub fn relu_mask(dz: &mut [f32], y: &[f32]) {
    // a select rather than a conditional store, so that it vectorises
    dz.iter_mut()
        .zip(y)
        .for_each(|(d, &y)| *d = if y <= 0.0 { 0.0 } else { *d });
}
