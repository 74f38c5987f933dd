//! 2-D convolution (NCHW, `f32`) with a hand-written forward and backward pass: im2col + the
//! same `gemm` kernel as [`crate::dense`], one image per task over the rayon pool.
//!
//! Why one image per task rather than one large gemm: the CIFAR model's matrices are small
//! (tens of output channels, 64–1024 pixels), so a multithreaded gemm spends much of its time
//! synchronizing; splitting the batch over the pool keeps every core busy with serial gemms
//! and lets each thread keep its own im2col buffer and weight-gradient partial. Pointwise
//! convolutions (1×1, stride 1, no padding) skip im2col: the image already is the column
//! matrix. The columns are recomputed in the backward pass instead of stored for the whole
//! batch, which would cost `k²` times the input's memory per layer.
//!
//! Grouped convolutions skip im2col altogether (see `conv_grouped.rs`): each group's product
//! is too small for a general gemm, and im2col would cost more than the arithmetic.
//!
//! Weights use PyTorch's layout `[cout, cin/groups, k, k]`, so checkpoints map one to one.

use rand::Rng;
use rayon::prelude::*;

use crate::dense::GradMode;
use crate::gemm_ops::{View, ViewMut, gemm_serial};

#[path = "conv_grouped.rs"]
mod grouped;

/// The geometry of a convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvSpec {
    pub cin: usize,
    pub cout: usize,
    /// Square kernel side.
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
    /// Channel groups: `cin` and `cout` are both split into this many independent blocks.
    pub groups: usize,
}

impl ConvSpec {
    /// Output height and width for an `h × w` input (`None` when the kernel does not fit).
    pub fn out_hw(&self, h: usize, w: usize) -> Option<(usize, usize)> {
        let (hp, wp) = (h + 2 * self.pad, w + 2 * self.pad);
        if self.stride == 0 || hp < self.k || wp < self.k {
            return None;
        }
        Some((
            (hp - self.k) / self.stride + 1,
            (wp - self.k) / self.stride + 1,
        ))
    }
    fn cin_g(&self) -> usize {
        self.cin / self.groups
    }
    fn cout_g(&self) -> usize {
        self.cout / self.groups
    }
    /// Rows of one group's column matrix: `cin/groups · k²`.
    fn kdim(&self) -> usize {
        self.cin_g() * self.k * self.k
    }
    fn pointwise(&self) -> bool {
        self.k == 1 && self.stride == 1 && self.pad == 0
    }
    /// Whether to run without im2col ([`grouped`]): with several groups each group's product
    /// is too small for a general gemm, and im2col would cost more than the arithmetic.
    fn direct(&self) -> bool {
        self.groups > 1
    }
    fn valid(&self) -> bool {
        self.groups > 0
            && self.k > 0
            && self.stride > 0
            && self.cin.is_multiple_of(self.groups)
            && self.cout.is_multiple_of(self.groups)
    }
}

/// Per-thread work buffers; they only grow, so after the first step nothing is allocated.
#[derive(Debug, Clone, Default)]
pub struct ThreadBufs {
    cols: Vec<f32>,
    dcols: Vec<f32>,
    dw: Vec<f32>,
    db: Vec<f32>,
    /// The direct path's flat output (or output gradient) and its row offsets.
    flat: Vec<f32>,
    offs: Vec<usize>,
    rows: Vec<usize>,
}

/// Work buffers shared by every convolution of a model (one set per pool thread).
#[derive(Debug, Clone, Default)]
pub struct ConvScratch {
    threads: Vec<ThreadBufs>,
}

impl ConvScratch {
    fn ensure(&mut self, n: usize) {
        if self.threads.len() < n {
            self.threads.resize_with(n, ThreadBufs::default);
        }
    }
}

fn fit(v: &mut Vec<f32>, n: usize) -> &mut [f32] {
    if v.len() < n {
        v.resize(n, 0.0);
    }
    &mut v[..n]
}

/// Images per task: the batch split evenly over the pool.
fn split(n: usize) -> (usize, usize) {
    let tasks = rayon::current_num_threads().clamp(1, n.max(1));
    let per = n.div_ceil(tasks);
    (n.div_ceil(per), per)
}

/// A convolution layer with its parameters and one gradient/momentum buffer per parameter
/// (the same convention as [`crate::Dense`]).
#[derive(Debug, Clone)]
pub struct Conv2d {
    pub spec: ConvSpec,
    /// `[cout, cin/groups, k, k]`.
    pub w: Vec<f32>,
    /// `[cout]`, or empty for a convolution without bias (one followed by batch norm).
    pub b: Vec<f32>,
    pub gw: Vec<f32>,
    pub gb: Vec<f32>,
}

impl Conv2d {
    /// PyTorch's default initialization: uniform in ±1/√(cin/groups · k²).
    ///
    /// # Panics
    /// When the channels are not divisible by `groups` or a size is zero: the geometry is the
    /// program's, not the user's.
    pub fn new(spec: ConvSpec, bias: bool, rng: &mut impl Rng) -> Self {
        assert!(spec.valid(), "invalid convolution {spec:?}");
        let bound = 1.0 / (spec.kdim() as f32).sqrt();
        let n = spec.cout * spec.kdim();
        let w = (0..n).map(|_| rng.random_range(-bound..bound)).collect();
        let nb = if bias { spec.cout } else { 0 };
        let b = (0..nb).map(|_| rng.random_range(-bound..bound)).collect();
        Self {
            spec,
            w,
            b,
            gw: vec![0.0; n],
            gb: vec![0.0; nb],
        }
    }

    fn dims(&self, h: usize, w: usize) -> (usize, usize, usize) {
        let (ho, wo) = self
            .spec
            .out_hw(h, w)
            .unwrap_or_else(|| panic!("{h}x{w} input too small for {:?}", self.spec));
        (ho, wo, ho * wo)
    }

    /// `out = conv(x)` for `x = [n, cin, h, w]`; `out` is `[n, cout, ho, wo]`.
    pub fn forward(
        &self,
        x: &[f32],
        n: usize,
        (h, w): (usize, usize),
        out: &mut [f32],
        scratch: &mut ConvScratch,
    ) {
        let s = self.spec;
        let (ho, wo, hwo) = self.dims(h, w);
        let (isz, osz) = (s.cin * h * w, s.cout * hwo);
        assert!(x.len() >= n * isz && out.len() >= n * osz, "conv buffers");
        if n == 0 {
            return;
        }
        let (tasks, per) = split(n);
        scratch.ensure(tasks);
        out[..n * osz]
            .par_chunks_mut(per * osz)
            .zip(x[..n * isz].par_chunks(per * isz))
            .zip(scratch.threads.par_iter_mut())
            .for_each(|((o, xs), tb)| {
                for (o, x) in o.chunks_exact_mut(osz).zip(xs.chunks_exact(isz)) {
                    self.forward_one(x, (h, w), (ho, wo), o, tb);
                }
            });
    }

    fn forward_one(
        &self,
        x: &[f32],
        (h, w): (usize, usize),
        (ho, wo): (usize, usize),
        out: &mut [f32],
        tb: &mut ThreadBufs,
    ) {
        let s = self.spec;
        let hwo = ho * wo;
        let (cog, kdim) = (s.cout_g(), s.kdim());
        let keep = if self.b.is_empty() {
            0.0
        } else {
            for (row, &b) in out.chunks_exact_mut(hwo).zip(&self.b) {
                row.fill(b);
            }
            1.0
        };
        if s.direct() {
            let p = grouped::Phases::new(s, (h, w), (ho, wo));
            grouped::forward(&p, &self.w, x, out, keep != 0.0, tb);
            return;
        }
        let cols: &[f32] = if s.pointwise() {
            x
        } else {
            let cols = fit(&mut tb.cols, s.cin * s.k * s.k * hwo);
            im2col(x, s, (h, w), (ho, wo), cols);
            cols
        };
        for g in 0..s.groups {
            gemm_serial(
                ViewMut::new(&mut out[g * cog * hwo..(g + 1) * cog * hwo], cog, hwo),
                View::new(&self.w[g * cog * kdim..], cog, kdim),
                View::new(&cols[g * kdim * hwo..], kdim, hwo),
                keep,
            );
        }
    }

    /// Backward of [`Self::forward`] on the same `x`, given `dy = ∂L/∂out`: writes
    /// `dx = ∂L/∂x` when asked, and the weight and bias gradients per `mode` (like
    /// [`crate::Dense::accumulate`]: stored, or folded into the SGD momentum and applied).
    /// `dx` is computed with the weights from before the update.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &mut self,
        x: &[f32],
        n: usize,
        (h, w): (usize, usize),
        dy: &[f32],
        dx: Option<&mut [f32]>,
        mode: GradMode,
        scratch: &mut ConvScratch,
    ) {
        let s = self.spec;
        let (ho, wo, hwo) = self.dims(h, w);
        let (isz, osz) = (s.cin * h * w, s.cout * hwo);
        assert!(x.len() >= n * isz && dy.len() >= n * osz, "conv buffers");
        if n == 0 {
            return;
        }
        let (tasks, per) = split(n);
        scratch.ensure(tasks);
        let this = &*self;
        let task = |xs: &[f32], dys: &[f32], dxs: Option<&mut [f32]>, tb: &mut ThreadBufs| {
            let mut dxs = dxs.map(|d| d.chunks_exact_mut(isz));
            for (i, (x, dy)) in xs.chunks_exact(isz).zip(dys.chunks_exact(osz)).enumerate() {
                let dx = dxs.as_mut().and_then(|it| it.next());
                this.backward_one(x, (h, w), (ho, wo), dy, dx, i > 0, tb);
            }
        };
        let xs = x[..n * isz].par_chunks(per * isz);
        let dys = dy[..n * osz].par_chunks(per * osz);
        match dx {
            Some(dx) => {
                assert!(dx.len() >= n * isz, "conv dx buffer");
                xs.zip(dys)
                    .zip(dx[..n * isz].par_chunks_mut(per * isz))
                    .zip(scratch.threads.par_iter_mut())
                    .for_each(|(((x, dy), dx), tb)| task(x, dy, Some(dx), tb));
            }
            None => xs
                .zip(dys)
                .zip(scratch.threads.par_iter_mut())
                .for_each(|((x, dy), tb)| task(x, dy, None, tb)),
        }
        self.reduce(&scratch.threads[..tasks], mode);
    }

    #[allow(clippy::too_many_arguments)]
    fn backward_one(
        &self,
        x: &[f32],
        (h, w): (usize, usize),
        (ho, wo): (usize, usize),
        dy: &[f32],
        dx: Option<&mut [f32]>,
        accumulate: bool,
        tb: &mut ThreadBufs,
    ) {
        let s = self.spec;
        let hwo = ho * wo;
        let (cog, kdim) = (s.cout_g(), s.kdim());
        let keep = if accumulate { 1.0 } else { 0.0 };
        if !self.b.is_empty() {
            let db = fit(&mut tb.db, s.cout);
            if !accumulate {
                db.fill(0.0);
            }
            for (d, row) in db.iter_mut().zip(dy.chunks_exact(hwo)) {
                *d += row.iter().sum::<f32>();
            }
        }
        if s.direct() {
            let p = grouped::Phases::new(s, (h, w), (ho, wo));
            grouped::backward(&p, &self.w, x, dy, dx, accumulate, tb);
            return;
        }
        let ThreadBufs {
            cols, dcols, dw, ..
        } = tb;
        let cols: &[f32] = if s.pointwise() {
            x
        } else {
            let cols = fit(cols, s.cin * s.k * s.k * hwo);
            im2col(x, s, (h, w), (ho, wo), cols);
            cols
        };
        let dw = fit(dw, s.cout * kdim);
        for g in 0..s.groups {
            let dyg = View::new(&dy[g * cog * hwo..], cog, hwo);
            gemm_serial(
                ViewMut::new(&mut dw[g * cog * kdim..(g + 1) * cog * kdim], cog, kdim),
                dyg,
                View::new(&cols[g * kdim * hwo..], kdim, hwo).t(),
                keep,
            );
        }
        if let Some(dx) = dx {
            self.input_grad_one(dy, (h, w), (ho, wo), dx, dcols);
        }
    }

    /// `dx = ∂L/∂x` of [`Self::forward`] given `dy = ∂L/∂out`, leaving the parameters and their
    /// gradient/momentum buffers alone (what a served encoding's vector–Jacobian product needs).
    pub fn input_grad(
        &self,
        n: usize,
        (h, w): (usize, usize),
        dy: &[f32],
        dx: &mut [f32],
        scratch: &mut ConvScratch,
    ) {
        let s = self.spec;
        let (ho, wo, hwo) = self.dims(h, w);
        let (isz, osz) = (s.cin * h * w, s.cout * hwo);
        assert!(dy.len() >= n * osz && dx.len() >= n * isz, "conv buffers");
        if n == 0 {
            return;
        }
        let (tasks, per) = split(n);
        scratch.ensure(tasks);
        dy[..n * osz]
            .par_chunks(per * osz)
            .zip(dx[..n * isz].par_chunks_mut(per * isz))
            .zip(scratch.threads.par_iter_mut())
            .for_each(|((dys, dxs), tb)| {
                for (dy, dx) in dys.chunks_exact(osz).zip(dxs.chunks_exact_mut(isz)) {
                    if s.direct() {
                        let p = grouped::Phases::new(s, (h, w), (ho, wo));
                        grouped::input_grad(&p, &self.w, dy, dx, tb);
                    } else {
                        self.input_grad_one(dy, (h, w), (ho, wo), dx, &mut tb.dcols);
                    }
                }
            });
    }

    fn input_grad_one(
        &self,
        dy: &[f32],
        (h, w): (usize, usize),
        (ho, wo): (usize, usize),
        dx: &mut [f32],
        dcols: &mut Vec<f32>,
    ) {
        let s = self.spec;
        let hwo = ho * wo;
        let (cog, kdim) = (s.cout_g(), s.kdim());
        let wt_dy = |dst: &mut [f32]| {
            for g in 0..s.groups {
                gemm_serial(
                    ViewMut::new(&mut dst[g * kdim * hwo..(g + 1) * kdim * hwo], kdim, hwo),
                    View::new(&self.w[g * cog * kdim..], cog, kdim).t(),
                    View::new(&dy[g * cog * hwo..], cog, hwo),
                    0.0,
                );
            }
        };
        if s.pointwise() {
            wt_dy(dx);
        } else {
            let dcols = fit(dcols, s.cin * s.k * s.k * hwo);
            wt_dy(dcols);
            col2im(dcols, s, (h, w), (ho, wo), dx);
        }
    }

    /// Sums the per-thread partials into `gw`/`gb` per `mode` and applies SGD.
    fn reduce(&mut self, parts: &[ThreadBufs], mode: GradMode) {
        let keep = crate::dense::mode_keep(mode);
        let nw = self.gw.len();
        for (i, t) in parts.iter().enumerate() {
            let k = if i == 0 { keep } else { 1.0 };
            accumulate(&mut self.gw, &t.dw[..nw], k);
            if !self.b.is_empty() {
                let nb = self.gb.len();
                accumulate(&mut self.gb, &t.db[..nb], k);
            }
        }
        if let GradMode::Sgd { lr, .. } = mode {
            sub_scaled(&mut self.w, &self.gw, lr);
            sub_scaled(&mut self.b, &self.gb, lr);
        }
    }

    /// Forgets the momentum (or stored gradient).
    pub fn zero_buffers(&mut self) {
        self.gw.fill(0.0);
        self.gb.fill(0.0);
    }
}

/// `dst = keep·dst + src` (`keep = 0` ignores the old contents, even NaN).
pub(crate) fn accumulate(dst: &mut [f32], src: &[f32], keep: f32) {
    if keep == 0.0 {
        dst.copy_from_slice(src);
    } else if keep == 1.0 {
        dst.iter_mut().zip(src).for_each(|(d, s)| *d += s);
    } else {
        dst.iter_mut()
            .zip(src)
            .for_each(|(d, s)| *d = keep * *d + s);
    }
}

/// `p -= lr·g`.
pub(crate) fn sub_scaled(p: &mut [f32], g: &[f32], lr: f32) {
    p.iter_mut().zip(g).for_each(|(p, g)| *p -= lr * g);
}

/// For output column `o` of a row whose kernel offset is `kk`: the input coordinate
/// `o·stride + kk − pad`, and the range of `o` where it falls inside `0..len`.
fn valid_range(len: usize, out: usize, kk: usize, s: ConvSpec) -> (usize, usize) {
    // o·stride + kk ≥ pad  and  o·stride + kk − pad < len
    let lo = s.pad.saturating_sub(kk).div_ceil(s.stride);
    let hi = if len + s.pad > kk {
        (len + s.pad - kk).div_ceil(s.stride).min(out)
    } else {
        0
    };
    (lo.min(hi), hi)
}

/// One image `[cin, h, w]` into its column matrix `[cin·k², ho·wo]` (zeros where the kernel
/// reads padding). Row `c·k² + ki·k + kj` holds the pixels kernel tap `(ki, kj)` of channel `c`
/// sees at every output position.
fn im2col(
    x: &[f32],
    s: ConvSpec,
    (h, w): (usize, usize),
    (ho, wo): (usize, usize),
    cols: &mut [f32],
) {
    let hwo = ho * wo;
    for (c, plane) in x.chunks_exact(h * w).take(s.cin).enumerate() {
        for ki in 0..s.k {
            let (y0, y1) = valid_range(h, ho, ki, s);
            for kj in 0..s.k {
                let (x0, x1) = valid_range(w, wo, kj, s);
                let row = (c * s.k + ki) * s.k + kj;
                let dst = &mut cols[row * hwo..(row + 1) * hwo];
                dst[..y0 * wo].fill(0.0);
                dst[y1 * wo..].fill(0.0);
                for oy in y0..y1 {
                    let iy = oy * s.stride + ki - s.pad;
                    let src = &plane[iy * w..(iy + 1) * w];
                    let d = &mut dst[oy * wo..(oy + 1) * wo];
                    d[..x0].fill(0.0);
                    d[x1..].fill(0.0);
                    if x1 > x0 {
                        let ix0 = x0 * s.stride + kj - s.pad;
                        if s.stride == 1 {
                            d[x0..x1].copy_from_slice(&src[ix0..ix0 + (x1 - x0)]);
                        } else {
                            for (o, v) in d[x0..x1]
                                .iter_mut()
                                .zip(src[ix0..].iter().step_by(s.stride))
                            {
                                *o = *v;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The adjoint of [`im2col`]: `dx = Σ` of every column entry back onto the pixel it read.
fn col2im(
    dcols: &[f32],
    s: ConvSpec,
    (h, w): (usize, usize),
    (ho, wo): (usize, usize),
    dx: &mut [f32],
) {
    let hwo = ho * wo;
    dx[..s.cin * h * w].fill(0.0);
    for (c, plane) in dx.chunks_exact_mut(h * w).take(s.cin).enumerate() {
        for ki in 0..s.k {
            let (y0, y1) = valid_range(h, ho, ki, s);
            for kj in 0..s.k {
                let (x0, x1) = valid_range(w, wo, kj, s);
                if x1 <= x0 {
                    continue;
                }
                let row = (c * s.k + ki) * s.k + kj;
                let src = &dcols[row * hwo..(row + 1) * hwo];
                for oy in y0..y1 {
                    let iy = oy * s.stride + ki - s.pad;
                    let ix0 = x0 * s.stride + kj - s.pad;
                    let d = &mut plane[iy * w..(iy + 1) * w];
                    let sv = &src[oy * wo + x0..oy * wo + x1];
                    if s.stride == 1 {
                        d[ix0..ix0 + sv.len()]
                            .iter_mut()
                            .zip(sv)
                            .for_each(|(d, v)| *d += v);
                    } else {
                        for (d, v) in d[ix0..].iter_mut().step_by(s.stride).zip(sv) {
                            *d += v;
                        }
                    }
                }
            }
        }
    }
}
