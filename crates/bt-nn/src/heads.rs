//! The seeds' three heads over any feature extractor: the student `s = S·f` (predicts the
//! network's context), the forward network `h = relu(H·[f, ctx])` (the served encoding when
//! `ctx = s`), and the target head `logits = T·h`. One step minimizes
//! `MSE(s, context) + CE(T·H[f, s]) + CE(T·H[f, context])` and hands back the features'
//! gradient for the extractor's own backward pass; the student learns only from the
//! distillation loss (the features are detached there).
//!
//! The text model ([`crate::text::TextModel`]) runs its embedding bag through these heads.

use rand::Rng;

use crate::dataset::NUM_CLASSES;
use crate::dense::{Dense, GradMode, relu_inplace, relu_mask};
use crate::gemm_ops::{View, ViewMut, gemm};
use crate::mnist::{StepLosses, argmax, cross_entropy_halves};
use crate::params::{Slot, dense_slots};

/// The heads' sizes and the student's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadsConfig {
    /// Width of the features.
    pub features: usize,
    /// Width of the context, the student and the encoding.
    pub context: usize,
    /// A ReLU on the student's output: right when peers serve ReLU encodings, wrong when they
    /// serve embeddings with negative entries (MiniLM's).
    pub student_relu: bool,
}

#[derive(Debug, Clone)]
pub struct Heads {
    pub config: HeadsConfig,
    pub student: Dense,
    pub hidden: Dense,
    pub target: Dense,
    ws: Work,
}

#[derive(Debug, Clone, Default)]
struct Work {
    batch: usize,
    u: Vec<f32>, // [2B, C]: student on top, context below
    p: Vec<f32>, // [B, C]: the features half of the hidden layer, shared by both paths
    a: Vec<f32>, // [2B, C]
    logits: Vec<f32>,
    d_logits: Vec<f32>,
    d_a: Vec<f32>,
    d_sum: Vec<f32>,
    d_f: Vec<f32>,
    d_s: Vec<f32>,
    d_ctx: Vec<f32>,
}

fn fit(v: &mut Vec<f32>, n: usize) -> &mut [f32] {
    if v.len() != n {
        v.resize(n, 0.0);
    }
    &mut v[..]
}

impl Heads {
    pub fn new(config: HeadsConfig, rng: &mut impl Rng) -> Self {
        let (f, c) = (config.features, config.context);
        Self {
            config,
            student: Dense::new(f, c, rng),
            hidden: Dense::new(f + c, c, rng),
            target: Dense::new(c, NUM_CLASSES, rng),
            ws: Work::default(),
        }
    }

    /// The student's output `[B, C]` for features `[B, F]`.
    pub fn student(&self, f: &[f32], b: usize) -> Vec<f32> {
        let mut s = vec![0.0; b * self.config.context];
        self.student.forward(
            View::new(f, b, self.config.features),
            &mut s,
            self.config.student_relu,
        );
        s
    }

    /// `relu(H·[f, ctx])`, `[B, C]`.
    pub fn hidden(&self, f: &[f32], ctx: &[f32], b: usize) -> Vec<f32> {
        let (nf, c) = (self.config.features, self.config.context);
        let mut h = vec![0.0; b * c];
        self.hidden
            .forward_cols(View::new(f, b, nf), 0, &mut h, false);
        gemm(
            ViewMut::new(&mut h, b, c),
            View::new(ctx, b, c),
            self.hidden.weight().cols(nf, c).t(),
            1.0,
        );
        relu_inplace(&mut h);
        h
    }

    /// What the synapse serves: the forward network over the features and the student.
    pub fn encode(&self, f: &[f32], b: usize) -> Vec<f32> {
        let s = self.student(f, b);
        self.hidden(f, &s, b)
    }

    /// Class logits `[B, 10]` for a context `[B, C]`.
    pub fn logits(&self, f: &[f32], ctx: &[f32], b: usize) -> Vec<f32> {
        let h = self.hidden(f, ctx, b);
        let mut out = vec![0.0; b * NUM_CLASSES];
        self.target
            .forward(View::new(&h, b, self.config.context), &mut out, false);
        out
    }

    /// Predicted classes through the local path.
    pub fn predict(&self, f: &[f32], b: usize) -> Vec<u8> {
        let s = self.student(f, b);
        self.logits(f, &s, b)
            .chunks_exact(NUM_CLASSES)
            .map(|row| argmax(row) as u8)
            .collect()
    }

    /// The gradient of `sum(encode(f) · g)` with respect to the features.
    pub fn encode_vjp(&self, f: &[f32], g: &[f32], b: usize) -> Vec<f32> {
        let (nf, c) = (self.config.features, self.config.context);
        let s = self.student(f, b);
        let h = self.hidden(f, &s, b);
        let mut dh = g.to_vec();
        relu_mask(&mut dh, &h);
        let dhv = View::new(&dh, b, c);
        let mut d_f = vec![0.0; b * nf];
        self.hidden.input_grad_cols(dhv, 0, nf, &mut d_f);
        let mut d_s = vec![0.0; b * c];
        self.hidden.input_grad_cols(dhv, nf, c, &mut d_s);
        if self.config.student_relu {
            relu_mask(&mut d_s, &s);
        }
        // the student branch adds to the direct one: d_f += d_s·S
        gemm(
            ViewMut::new(&mut d_f, b, nf),
            View::new(&d_s, b, c),
            self.student.weight(),
            1.0,
        );
        d_f
    }

    /// One forward and backward over features `f` `[B, F]`; `context` `None` means the
    /// student's own output. Updates the heads by `mode` and leaves the features' gradient
    /// for [`Self::feature_grad`] (and, with `context_grad`, the context's for
    /// [`Self::context_grad`]).
    pub fn step(
        &mut self,
        f: &[f32],
        y: &[u8],
        context: Option<&[f32]>,
        mode: GradMode,
        context_grad: bool,
    ) -> StepLosses {
        let b = y.len();
        let HeadsConfig {
            features: nf,
            context: c,
            student_relu,
        } = self.config;
        let keep = crate::dense::mode_keep(mode);
        let Self {
            student,
            hidden,
            target,
            ws,
            ..
        } = self;
        ws.batch = b;
        let n2 = 2 * b;
        let fv = View::new(f, b, nf);

        // student (on detached features), written into the top half of the stacked contexts
        let u = fit(&mut ws.u, n2 * c);
        student.forward(fv, &mut u[..b * c], student_relu);
        let (top, bottom) = u.split_at_mut(b * c);
        bottom.copy_from_slice(context.unwrap_or(top));
        let (s, ctx) = ws.u.split_at(b * c);
        let d_s = fit(&mut ws.d_s, b * c);
        let scale = 2.0 / (b * c) as f32;
        let mut sq = 0.0f64;
        for ((d, &s), &x) in d_s.iter_mut().zip(s).zip(ctx) {
            let diff = s - x;
            sq += f64::from(diff * diff);
            *d = scale * diff;
        }
        let distillation = (sq / (b * c) as f64) as f32;

        // forward network: the features half once, then both context paths stacked
        let p = fit(&mut ws.p, b * c);
        hidden.forward_cols(fv, 0, p, false);
        let a = fit(&mut ws.a, n2 * c);
        let (top, bottom) = a.split_at_mut(b * c);
        top.copy_from_slice(&ws.p);
        bottom.copy_from_slice(&ws.p);
        let uv = View::new(&ws.u, n2, c);
        gemm(
            ViewMut::new(a, n2, c),
            uv,
            hidden.weight().cols(nf, c).t(),
            1.0,
        );
        relu_inplace(a);
        let logits = fit(&mut ws.logits, n2 * NUM_CLASSES);
        target.forward(View::new(&ws.a, n2, c), logits, false);
        let d_logits = fit(&mut ws.d_logits, n2 * NUM_CLASSES);
        let (local, network) = cross_entropy_halves(&ws.logits, y, d_logits);

        // backward through the heads
        let d_a = fit(&mut ws.d_a, n2 * c);
        target.input_grad(View::new(&ws.d_logits, n2, NUM_CLASSES), d_a);
        target.accumulate(&ws.d_logits, View::new(&ws.a, n2, c), mode);
        relu_mask(d_a, &ws.a);
        let dav = View::new(&ws.d_a, n2, c);
        if context_grad {
            let d_ctx = fit(&mut ws.d_ctx, b * c);
            hidden.input_grad_cols(dav.rows(b, b), nf, c, d_ctx);
        }
        let d_sum = fit(&mut ws.d_sum, b * c);
        let (top, bottom) = ws.d_a.split_at(b * c);
        for ((d, t), u) in d_sum.iter_mut().zip(top).zip(bottom) {
            *d = t + u;
        }
        let dsv = View::new(&ws.d_sum, b, c);
        // the features' gradient, with H before its update
        let d_f = fit(&mut ws.d_f, b * nf);
        hidden.input_grad_cols(dsv, 0, nf, d_f);
        hidden.accumulate_weight_cols(dav, uv, nf, keep);
        hidden.accumulate_weight_cols(dsv, fv, 0, keep);
        hidden.accumulate_bias(&ws.d_a, keep);
        hidden.finish(mode);

        if student_relu {
            relu_mask(&mut ws.d_s, &ws.u[..b * c]);
        }
        student.accumulate(&ws.d_s, fv, mode);
        StepLosses {
            local,
            network,
            distillation,
        }
    }

    /// The features' gradient of the last [`Self::step`] (`[B, F]`).
    pub fn feature_grad(&self) -> &[f32] {
        &self.ws.d_f[..self.ws.batch * self.config.features]
    }

    /// The context's gradient of the last [`Self::step`] run with `context_grad` (`[B, C]`).
    pub fn context_grad(&self) -> &[f32] {
        let n = self.ws.batch * self.config.context;
        self.ws.d_ctx.get(..n).unwrap_or(&[])
    }

    /// The heads' tensors under `student`, `hidden` and `target`.
    pub fn slots<'a>(&'a mut self, out: &mut Vec<Slot<'a>>) {
        dense_slots(out, "student", &mut self.student);
        dense_slots(out, "hidden", &mut self.hidden);
        dense_slots(out, "target", &mut self.target);
    }
}
