//! The CIFAR neuron's model: a dual path network trunk ([`crate::dpn`]) with the seeds' three heads
//! ([`crate::heads`]), and the same API shape as [`crate::MnistModel`] (`student`, `encode`,
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

use crate::checks::{check_batch, check_labels, check_rows};
use crate::cifar_data::IMAGE_DIM;
use crate::dense::GradMode;
use crate::dpn::{DpnConfig, DpnTrunk, TrunkWork};
use crate::error::Result;
use crate::heads::{Heads, HeadsConfig};
use crate::mnist::StepLosses;

/// Width of the network context, of the student and of the served encoding.
pub const CONTEXT_DIM: usize = 256;

#[derive(Debug, Clone)]
pub struct CifarModel {
    pub trunk: DpnTrunk,
    pub heads: Heads,
    work: TrunkWork,
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

impl CifarModel {
    /// The CIFAR model ([`DpnConfig::cifar`]), seeded.
    pub fn new(seed: u64) -> Self {
        Self::with_config(DpnConfig::cifar(), seed)
    }

    pub fn with_config(config: DpnConfig, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let trunk = DpnTrunk::new(config, &mut rng);
        let heads = Heads::new(
            HeadsConfig {
                features: trunk.features(),
                context: CONTEXT_DIM,
                student_relu: true,
            },
            &mut rng,
        );
        Self {
            trunk,
            heads,
            work: TrunkWork::default(),
            eval: EvalWork::default(),
        }
    }

    /// Checks normalized images `[B, 3, 32, 32]` (flat rows) and returns `B`.
    pub fn check_images(x: &[f32]) -> Result<usize> {
        check_batch("cifar input", x, IMAGE_DIM)
    }

    /// Trunk features `[B, F]` (running statistics).
    pub fn features(&self, x: &[f32]) -> Result<Vec<f32>> {
        let b = Self::check_images(x)?;
        Ok(self
            .eval
            .with(|work| self.trunk.forward_eval(x, b, work).to_vec()))
    }

    /// The student's output `[B, 256]` (no gradient): the context of the local path, and of
    /// every path when a neuron is alone.
    pub fn student(&self, x: &[f32]) -> Result<Vec<f32>> {
        let b = Self::check_images(x)?;
        Ok(self.heads.student(&self.features(x)?, b))
    }

    /// What the synapse serves: `relu(H·[features, student])` (`[B, 256]`).
    pub fn encode(&self, x: &[f32]) -> Result<Vec<f32>> {
        let b = Self::check_images(x)?;
        Ok(self.heads.encode(&self.features(x)?, b))
    }

    /// Vector–Jacobian product of the served encoding: the gradient of `sum(encode(x) · g)`
    /// with respect to the images `x` (`[B, 3, 32, 32]`), through the forward network, the
    /// student and the trunk in evaluation mode, as [`Self::encode`] computes it. This is what
    /// the axon returns to a peer's `Backward` request. Nothing in the model changes.
    pub fn encode_vjp(&self, x: &[f32], g: &[f32]) -> Result<Vec<f32>> {
        let b = Self::check_images(x)?;
        check_rows("encoding gradient", g, b, CONTEXT_DIM)?;
        self.eval.with(|work| {
            let f = self.trunk.forward_eval(x, b, work).to_vec();
            let d_f = self.heads.encode_vjp(&f, g, b);
            Ok(self.trunk.input_grad_eval(b, &d_f, work))
        })
    }

    /// Class logits `[B, 10]` through the local path (context = own student output).
    pub fn logits(&self, x: &[f32]) -> Result<Vec<f32>> {
        let b = Self::check_images(x)?;
        let f = self.features(x)?;
        let s = self.heads.student(&f, b);
        Ok(self.heads.logits(&f, &s, b))
    }

    /// Class logits `[B, 10]` for a given context `[B, 256]`.
    pub fn logits_with_context(&self, x: &[f32], ctx: &[f32]) -> Result<Vec<f32>> {
        let b = Self::check_images(x)?;
        check_rows("context", ctx, b, CONTEXT_DIM)?;
        Ok(self.heads.logits(&self.features(x)?, ctx, b))
    }

    /// Predicted classes.
    pub fn predict(&self, x: &[f32]) -> Result<Vec<u8>> {
        let b = Self::check_images(x)?;
        Ok(self.heads.predict(&self.features(x)?, b))
    }

    /// Gradient of the network-target loss w.r.t. the context of the last [`Self::step`] run
    /// with `context_grad = true` (`[B, 256]`).
    pub fn context_grad(&self) -> &[f32] {
        self.heads.context_grad()
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
        check_labels(y, b)?;
        check_rows("network context", context, b, CONTEXT_DIM)?;
        Ok(self.step_impl(x, y, Some(context), mode, context_grad))
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
        check_labels(y, b)?;
        Ok(self.step_impl(x, y, None, mode, false))
    }

    /// `context = None`: the student's own output. Both cross-entropy paths reach the trunk
    /// through the features' gradient the heads leave.
    fn step_impl(
        &mut self,
        x: &[f32],
        y: &[u8],
        context: Option<&[f32]>,
        mode: GradMode,
        context_grad: bool,
    ) -> StepLosses {
        let b = y.len();
        let f = self.trunk.forward_train(x, b, &mut self.work).to_vec();
        let losses = self.heads.step(&f, y, context, mode, context_grad);
        self.trunk
            .backward(x, b, self.heads.feature_grad(), &mut self.work, mode);
        losses
    }
}
