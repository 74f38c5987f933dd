//! The CIFAR neuron's model: a dual path network trunk ([`crate::dpn`]) with the MNIST model's
//! three heads, and the same API shape as [`crate::MnistModel`] (`student`, `encode`,
//! `logits`, `step`, `context_grad`) so the neuron runtime can serve either.
//!
//! `features = dpn(x)` (`[B, F]`); student `s = relu(S·features)` (`[B, 256]`, trained only by
//! the distillation loss: the features are detached there); forward network
//! `h = relu(H·[features, ctx])` (`[B, 256]`, the served encoding when `ctx = s`); target head
//! `logits = T·h`. One step minimizes
//! `MSE(s, context) + CE(T·H[features, s]) + CE(T·H[features, context])`, exactly like the MNIST
//! model; both cross-entropy paths reach the trunk through the features half of `H`.
//! Batch norm uses batch statistics in [`CifarModel::step`] and running statistics everywhere
//! else (`student`, `encode`, `logits`).

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::cifar_data::IMAGE_DIM;
use crate::dataset::NUM_CLASSES;
use crate::dense::{Dense, GradMode, mode_keep, relu_inplace, relu_mask};
use crate::dpn::{DpnConfig, DpnTrunk, TrunkWork, fit};
use crate::error::{NnError, Result, shape_err};
use crate::gemm_ops::{View, ViewMut, gemm};
use crate::mnist::{StepLosses, argmax, cross_entropy_halves};

/// Width of the network context, of the student and of the served encoding.
pub const CONTEXT_DIM: usize = 256;

#[derive(Debug, Clone)]
pub struct CifarModel {
    pub trunk: DpnTrunk,
    pub student: Dense,
    pub hidden: Dense,
    pub target: Dense,
    ws: Workspace,
    eval: EvalWork,
}

/// The evaluation passes' activations, kept between calls so that a served or context forward
/// does not allocate (and fault in) the whole trunk's buffers each time. Callers that find it
/// busy (concurrent `&self` calls) use a fresh one.
#[derive(Debug, Default)]
struct EvalWork(std::sync::Mutex<TrunkWork>);

impl Clone for EvalWork {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl EvalWork {
    fn with<R>(&self, f: impl FnOnce(&mut TrunkWork) -> R) -> R {
        match self.0.try_lock() {
            Ok(mut work) => f(&mut work),
            Err(_) => f(&mut TrunkWork::default()),
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Workspace {
    trunk: TrunkWork,
    batch: usize,
    f: Vec<f32>,      // [B, F]
    u: Vec<f32>,      // [2B, C]: student on top, context below
    p: Vec<f32>,      // [B, C] features half of the hidden layer, shared by both paths
    a: Vec<f32>,      // [2B, C]
    logits: Vec<f32>, // [2B, 10]
    d_logits: Vec<f32>,
    d_a: Vec<f32>,
    d_sum: Vec<f32>,
    d_f: Vec<f32>,
    d_s: Vec<f32>,
    d_ctx: Vec<f32>,
}

impl CifarModel {
    /// The CIFAR model ([`DpnConfig::cifar`]), seeded.
    pub fn new(seed: u64) -> Self {
        Self::with_config(DpnConfig::cifar(), seed)
    }

    pub fn with_config(config: DpnConfig, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let trunk = DpnTrunk::new(config, &mut rng);
        let f = trunk.features();
        Self {
            trunk,
            student: Dense::new(f, CONTEXT_DIM, &mut rng),
            hidden: Dense::new(f + CONTEXT_DIM, CONTEXT_DIM, &mut rng),
            target: Dense::new(CONTEXT_DIM, NUM_CLASSES, &mut rng),
            ws: Workspace::default(),
            eval: EvalWork::default(),
        }
    }

    /// The dense heads with their state-dict prefixes.
    pub fn heads(&self) -> [(&'static str, &Dense); 3] {
        [
            ("student", &self.student),
            ("hidden", &self.hidden),
            ("target", &self.target),
        ]
    }

    pub fn heads_mut(&mut self) -> [(&'static str, &mut Dense); 3] {
        [
            ("student", &mut self.student),
            ("hidden", &mut self.hidden),
            ("target", &mut self.target),
        ]
    }

    /// Checks normalized images `[B, 3, 32, 32]` and returns `B`.
    pub fn check_images(x: &[f32]) -> Result<usize> {
        if x.is_empty() || !x.len().is_multiple_of(IMAGE_DIM) {
            return Err(shape_err(
                "cifar input",
                format!("[B, 3, 32, 32] ({IMAGE_DIM} values per image)"),
                format!("{} values", x.len()),
            ));
        }
        if x.iter().any(|v| !v.is_finite()) {
            return Err(NnError::NonFinite("cifar input"));
        }
        Ok(x.len() / IMAGE_DIM)
    }

    fn check_rows(what: &'static str, v: &[f32], rows: usize, cols: usize) -> Result<()> {
        if v.len() != rows * cols {
            return Err(shape_err(
                what,
                format!("[{rows}, {cols}]"),
                format!("{} values", v.len()),
            ));
        }
        if v.iter().any(|v| !v.is_finite()) {
            return Err(NnError::NonFinite(what));
        }
        Ok(())
    }

    /// Trunk features `[B, F]` (running statistics).
    pub fn features(&self, x: &[f32]) -> Result<Vec<f32>> {
        let b = Self::check_images(x)?;
        Ok(self
            .eval
            .with(|work| self.trunk.forward_eval(x, b, work).to_vec()))
    }

    fn student_of(&self, f: &[f32], b: usize) -> Vec<f32> {
        let mut s = vec![0.0; b * CONTEXT_DIM];
        self.student
            .forward(View::new(f, b, self.trunk.features()), &mut s, true);
        s
    }

    /// The student's output `[B, 256]` (no gradient): the context of the local path, and of
    /// every path when a neuron is alone.
    pub fn student(&self, x: &[f32]) -> Result<Vec<f32>> {
        let b = Self::check_images(x)?;
        let f = self.features(x)?;
        Ok(self.student_of(&f, b))
    }

    /// What the synapse serves: `relu(H·[features, student])` (`[B, 256]`).
    pub fn encode(&self, x: &[f32]) -> Result<Vec<f32>> {
        let b = Self::check_images(x)?;
        let f = self.features(x)?;
        let s = self.student_of(&f, b);
        Ok(self.hidden_of(&f, &s, b))
    }

    /// Vector–Jacobian product of the served encoding: the gradient of `sum(encode(x) · g)`
    /// with respect to the images `x` (`[B, 3, 32, 32]`), through the forward network, the
    /// student and the trunk in evaluation mode, as [`Self::encode`] computes it. This is what
    /// the axon returns to a peer's `Backward` request. Nothing in the model changes.
    pub fn encode_vjp(&self, x: &[f32], g: &[f32]) -> Result<Vec<f32>> {
        let b = Self::check_images(x)?;
        Self::check_rows("encoding gradient", g, b, CONTEXT_DIM)?;
        let nf = self.trunk.features();
        self.eval.with(|work| {
            let f = self.trunk.forward_eval(x, b, work).to_vec();
            let s = self.student_of(&f, b);
            let h = self.hidden_of(&f, &s, b);
            let mut dh = g.to_vec();
            relu_mask(&mut dh, &h);
            let dhv = View::new(&dh, b, CONTEXT_DIM);
            let mut d_f = vec![0.0; b * nf];
            self.hidden.input_grad_cols(dhv, 0, nf, &mut d_f);
            let mut d_s = vec![0.0; b * CONTEXT_DIM];
            self.hidden.input_grad_cols(dhv, nf, CONTEXT_DIM, &mut d_s);
            relu_mask(&mut d_s, &s);
            // the student branch adds to the direct one: d_f += d_s·S
            gemm(
                ViewMut::new(&mut d_f, b, nf),
                View::new(&d_s, b, CONTEXT_DIM),
                self.student.weight(),
                1.0,
            );
            Ok(self.trunk.input_grad_eval(b, &d_f, work))
        })
    }

    fn hidden_of(&self, f: &[f32], ctx: &[f32], b: usize) -> Vec<f32> {
        let nf = self.trunk.features();
        let mut h = vec![0.0; b * CONTEXT_DIM];
        self.hidden
            .forward_cols(View::new(f, b, nf), 0, &mut h, false);
        gemm(
            ViewMut::new(&mut h, b, CONTEXT_DIM),
            View::new(ctx, b, CONTEXT_DIM),
            self.hidden.weight().cols(nf, CONTEXT_DIM).t(),
            1.0,
        );
        relu_inplace(&mut h);
        h
    }

    /// Class logits `[B, 10]` through the local path (context = own student output).
    pub fn logits(&self, x: &[f32]) -> Result<Vec<f32>> {
        let b = Self::check_images(x)?;
        let f = self.features(x)?;
        let s = self.student_of(&f, b);
        Ok(self.head(&self.hidden_of(&f, &s, b), b))
    }

    /// Class logits `[B, 10]` for a given context `[B, 256]`.
    pub fn logits_with_context(&self, x: &[f32], ctx: &[f32]) -> Result<Vec<f32>> {
        let b = Self::check_images(x)?;
        Self::check_rows("context", ctx, b, CONTEXT_DIM)?;
        let f = self.features(x)?;
        Ok(self.head(&self.hidden_of(&f, ctx, b), b))
    }

    fn head(&self, h: &[f32], b: usize) -> Vec<f32> {
        let mut out = vec![0.0; b * NUM_CLASSES];
        self.target
            .forward(View::new(h, b, CONTEXT_DIM), &mut out, false);
        out
    }

    /// Predicted classes.
    pub fn predict(&self, x: &[f32]) -> Result<Vec<u8>> {
        Ok(self
            .logits(x)?
            .chunks_exact(NUM_CLASSES)
            .map(|row| argmax(row) as u8)
            .collect())
    }

    /// Gradient of the network-target loss w.r.t. the context of the last [`Self::step`] run
    /// with `context_grad = true` (`[B, 256]`).
    pub fn context_grad(&self) -> &[f32] {
        &self.ws.d_ctx[..self.ws.batch * CONTEXT_DIM]
    }

    /// One forward + backward on a batch: `x` normalized images `[B, 3, 32, 32]`, `y` labels,
    /// `context` `[B, 256]` (a neuron alone passes its own [`Self::student`]). With
    /// [`GradMode::Sgd`] the parameters are updated; with [`GradMode::Store`] the gradients are
    /// left in each layer's gradient buffers.
    pub fn step(
        &mut self,
        x: &[f32],
        y: &[u8],
        context: &[f32],
        mode: GradMode,
        context_grad: bool,
    ) -> Result<StepLosses> {
        let b = Self::check_images(x)?;
        if y.len() != b {
            return Err(shape_err("cifar labels", b, y.len()));
        }
        if let Some(bad) = y.iter().find(|&&l| usize::from(l) >= NUM_CLASSES) {
            return Err(NnError::Dataset(format!("label {bad} out of range")));
        }
        Self::check_rows("network context", context, b, CONTEXT_DIM)?;
        self.step_impl(x, y, Some(context), mode, context_grad)
    }

    /// One step of a neuron alone: the context is the student's output on this batch's own
    /// training-mode features (detached), so the distillation loss is zero and both paths see
    /// the same context.
    ///
    /// Why not [`Self::student`] (running statistics) as [`crate::MnistModel`] does: while the
    /// weights move fast the running statistics lag them, so the evaluation-mode context drifts
    /// away from the training-mode student; the distillation loss then chases that target and
    /// the context fed into the forward network grows with it. At learning rate 0.05 this
    /// diverges (distillation loss above 10, then a dead forward network) in bt-nn and in the
    /// PyTorch reference alike; this step has no such target.
    pub fn step_alone(&mut self, x: &[f32], y: &[u8], mode: GradMode) -> Result<StepLosses> {
        let b = Self::check_images(x)?;
        if y.len() != b {
            return Err(shape_err("cifar labels", b, y.len()));
        }
        if let Some(bad) = y.iter().find(|&&l| usize::from(l) >= NUM_CLASSES) {
            return Err(NnError::Dataset(format!("label {bad} out of range")));
        }
        self.step_impl(x, y, None, mode, false)
    }

    /// `context = None`: the student's own output.
    fn step_impl(
        &mut self,
        x: &[f32],
        y: &[u8],
        context: Option<&[f32]>,
        mode: GradMode,
        context_grad: bool,
    ) -> Result<StepLosses> {
        let b = y.len();
        let nf = self.trunk.features();
        let keep = mode_keep(mode);
        let Self {
            trunk,
            student,
            hidden,
            target,
            ws,
            ..
        } = self;
        ws.batch = b;
        let n2 = 2 * b;
        let f = trunk.forward_train(x, b, &mut ws.trunk);
        let fv = View::new(f, b, nf);
        fit(&mut ws.f, b * nf).copy_from_slice(f);

        // student (on detached features), written into the top half of the stacked contexts
        let u = fit(&mut ws.u, n2 * CONTEXT_DIM);
        student.forward(fv, &mut u[..b * CONTEXT_DIM], true);
        let (top, bottom) = u.split_at_mut(b * CONTEXT_DIM);
        bottom.copy_from_slice(context.unwrap_or(top));
        let (s, ctx) = ws.u.split_at(b * CONTEXT_DIM);
        let d_s = fit(&mut ws.d_s, b * CONTEXT_DIM);
        let scale = 2.0 / (b * CONTEXT_DIM) as f32;
        let mut sq = 0.0f64;
        for ((d, &s), &c) in d_s.iter_mut().zip(s).zip(ctx) {
            let diff = s - c;
            sq += f64::from(diff * diff);
            *d = scale * diff;
        }
        let distillation = (sq / (b * CONTEXT_DIM) as f64) as f32;

        // forward network: the features half once, then both context paths stacked
        let fv = View::new(&ws.f, b, nf);
        let p = fit(&mut ws.p, b * CONTEXT_DIM);
        hidden.forward_cols(fv, 0, p, false);
        let a = fit(&mut ws.a, n2 * CONTEXT_DIM);
        let (top, bottom) = a.split_at_mut(b * CONTEXT_DIM);
        top.copy_from_slice(&ws.p);
        bottom.copy_from_slice(&ws.p);
        let uv = View::new(&ws.u, n2, CONTEXT_DIM);
        gemm(
            ViewMut::new(a, n2, CONTEXT_DIM),
            uv,
            hidden.weight().cols(nf, CONTEXT_DIM).t(),
            1.0,
        );
        relu_inplace(a);
        let logits = fit(&mut ws.logits, n2 * NUM_CLASSES);
        target.forward(View::new(&ws.a, n2, CONTEXT_DIM), logits, false);
        let d_logits = fit(&mut ws.d_logits, n2 * NUM_CLASSES);
        let (local, network) = cross_entropy_halves(&ws.logits, y, d_logits);

        // backward through the heads
        let d_a = fit(&mut ws.d_a, n2 * CONTEXT_DIM);
        target.input_grad(View::new(&ws.d_logits, n2, NUM_CLASSES), d_a);
        target.accumulate(&ws.d_logits, View::new(&ws.a, n2, CONTEXT_DIM), mode);
        relu_mask(d_a, &ws.a);
        let dav = View::new(&ws.d_a, n2, CONTEXT_DIM);
        if context_grad {
            let d_ctx = fit(&mut ws.d_ctx, b * CONTEXT_DIM);
            hidden.input_grad_cols(dav.rows(b, b), nf, CONTEXT_DIM, d_ctx);
        }
        let d_sum = fit(&mut ws.d_sum, b * CONTEXT_DIM);
        let (top, bottom) = ws.d_a.split_at(b * CONTEXT_DIM);
        for ((d, t), u) in d_sum.iter_mut().zip(top).zip(bottom) {
            *d = t + u;
        }
        let dsv = View::new(&ws.d_sum, b, CONTEXT_DIM);
        // the features' gradient, with H before its update
        let d_f = fit(&mut ws.d_f, b * nf);
        hidden.input_grad_cols(dsv, 0, nf, d_f);
        hidden.accumulate_weight_cols(dav, uv, nf, keep);
        hidden.accumulate_weight_cols(dsv, fv, 0, keep);
        hidden.accumulate_bias(&ws.d_a, keep);
        hidden.finish(mode);

        relu_mask(&mut ws.d_s, &ws.u[..b * CONTEXT_DIM]);
        student.accumulate(&ws.d_s, fv, mode);

        trunk.backward(x, b, &ws.d_f, &mut ws.trunk, mode);
        Ok(StepLosses {
            local,
            network,
            distillation,
        })
    }
}
