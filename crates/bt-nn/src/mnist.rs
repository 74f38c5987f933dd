//! The MNIST neuron's model (DESIGN.md "The MNIST neuron's model"), on the [`Dense`] engine.
//!
//! student 784→1024→1024 (ReLU); forward network over `[image, context]` 1808→1024→1024 (ReLU);
//! target head 1024→512→256→10 (no ReLU on the logits). One training step minimizes
//! `MSE(student, context) + CE(target(forward(x, student))) + CE(target(forward(x, context)))`
//! with the student and the context detached where the seeds detach them.
//!
//! What the synapse serves ([`MnistModel::encode`]) is the forward network's output over
//! `[image, student(image)]` — Release 1's `local_hidden` — not the student's output: the
//! student only learns by imitating the network, so serving it would pass no label information
//! from neuron to neuron. The context of the network path is the peers' joined encodings.
//!
//! The two forward-network paths share the image half of the first layer (`x·W_xᵀ` is computed
//! once) and run as one stacked batch of `2B` rows, so every gemm is larger and the weight
//! gradients of both paths come out of one gemm each.

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::checks::{check_batch, check_labels, check_rows};
use crate::dataset::NUM_CLASSES;
use crate::dense::{Dense, GradMode, mode_keep, relu_inplace, relu_mask};
use crate::error::Result;
use crate::gemm_ops::{View, ViewMut, gemm};

pub const IMAGE_DIM: usize = 784;
pub const HIDDEN: usize = 1024;
/// Width of the network context: of what a synapse serves (its encoding, the forward network's
/// output) and of the student's output, which imitates the peers' encodings.
pub const CONTEXT_DIM: usize = 1024;
const _: () = assert!(
    CONTEXT_DIM == HIDDEN,
    "the student imitates encodings of width HIDDEN"
);

/// Activations of [`MnistModel::encode`] for one batch.
#[derive(Debug, Clone)]
pub(crate) struct EncodeActs {
    pub b: usize,
    /// Student hidden `[B, 1024]`.
    pub h1: Vec<f32>,
    /// Student output `[B, 1024]`.
    pub s: Vec<f32>,
    /// Forward network hidden `[B, 1024]`.
    pub a1: Vec<f32>,
    /// The encoding `[B, 1024]`.
    pub e: Vec<f32>,
}

/// Gradients of `sum(encode(x) * g)` at each layer's pre-activation, and at the images.
#[derive(Debug, Clone)]
pub(crate) struct EncodeDeltas {
    pub de: Vec<f32>,
    pub da1: Vec<f32>,
    pub ds: Vec<f32>,
    pub dh1: Vec<f32>,
    pub dx: Vec<f32>,
}

/// The three losses of one step (their sum is what is minimized).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepLosses {
    pub local: f32,
    pub network: f32,
    pub distillation: f32,
}

impl StepLosses {
    pub fn total(&self) -> f32 {
        self.local + self.network + self.distillation
    }
}

/// The MNIST synapse: parameters plus reusable per-batch work buffers.
#[derive(Debug, Clone)]
pub struct MnistModel {
    pub student1: Dense,
    pub student2: Dense,
    pub forward1: Dense,
    pub forward2: Dense,
    pub target1: Dense,
    pub target2: Dense,
    pub target3: Dense,
    ws: Workspace,
}

/// Activations and gradients of the last step, sized for one batch size and reused.
#[derive(Debug, Clone, Default)]
struct Workspace {
    batch: usize,
    h1: Vec<f32>,     // [B, 1024] student hidden
    u: Vec<f32>,      // [2B, 1024] contexts: student output on top, network context below
    p: Vec<f32>,      // [B, 1024] x·W_xᵀ + b, shared by both paths
    a1: Vec<f32>,     // [2B, 1024]
    a2: Vec<f32>,     // [2B, 1024]
    o1: Vec<f32>,     // [2B, 512]
    o2: Vec<f32>,     // [2B, 256]
    logits: Vec<f32>, // [2B, 10]
    d_logits: Vec<f32>,
    d_o2: Vec<f32>,
    d_o1: Vec<f32>,
    d_a2: Vec<f32>,
    d_a1: Vec<f32>,
    d_sum: Vec<f32>, // [B, 1024] both paths' first-layer gradient, summed
    d_s: Vec<f32>,
    d_h1: Vec<f32>,
    d_ctx: Vec<f32>,
}

impl Workspace {
    fn ensure(&mut self, b: usize) {
        if self.batch == b {
            return;
        }
        self.batch = b;
        let sizes: [(&mut Vec<f32>, usize); 18] = [
            (&mut self.h1, b * HIDDEN),
            (&mut self.u, 2 * b * CONTEXT_DIM),
            (&mut self.p, b * HIDDEN),
            (&mut self.a1, 2 * b * HIDDEN),
            (&mut self.a2, 2 * b * HIDDEN),
            (&mut self.o1, 2 * b * 512),
            (&mut self.o2, 2 * b * 256),
            (&mut self.logits, 2 * b * NUM_CLASSES),
            (&mut self.d_logits, 2 * b * NUM_CLASSES),
            (&mut self.d_o2, 2 * b * 256),
            (&mut self.d_o1, 2 * b * 512),
            (&mut self.d_a2, 2 * b * HIDDEN),
            (&mut self.d_a1, 2 * b * HIDDEN),
            (&mut self.d_sum, b * HIDDEN),
            (&mut self.d_s, b * CONTEXT_DIM),
            (&mut self.d_h1, b * HIDDEN),
            (&mut self.d_ctx, b * CONTEXT_DIM),
            (&mut Vec::new(), 0),
        ];
        for (v, n) in sizes {
            v.resize(n, 0.0);
        }
    }
}

impl MnistModel {
    /// A freshly initialized model (PyTorch's default `nn.Linear` initialization), seeded.
    pub fn new(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        Self {
            student1: Dense::new(IMAGE_DIM, HIDDEN, &mut rng),
            student2: Dense::new(HIDDEN, CONTEXT_DIM, &mut rng),
            forward1: Dense::new(IMAGE_DIM + CONTEXT_DIM, HIDDEN, &mut rng),
            forward2: Dense::new(HIDDEN, HIDDEN, &mut rng),
            target1: Dense::new(HIDDEN, 512, &mut rng),
            target2: Dense::new(512, 256, &mut rng),
            target3: Dense::new(256, NUM_CLASSES, &mut rng),
            ws: Workspace::default(),
        }
    }

    /// The layers with their PyTorch state-dict prefixes (the reference's module names).
    pub fn layers(&self) -> [(&'static str, &Dense); 7] {
        [
            ("student.0", &self.student1),
            ("student.2", &self.student2),
            ("forward_net.0", &self.forward1),
            ("forward_net.2", &self.forward2),
            ("target.0", &self.target1),
            ("target.2", &self.target2),
            ("target.4", &self.target3),
        ]
    }

    pub fn layers_mut(&mut self) -> [(&'static str, &mut Dense); 7] {
        [
            ("student.0", &mut self.student1),
            ("student.2", &mut self.student2),
            ("forward_net.0", &mut self.forward1),
            ("forward_net.2", &mut self.forward2),
            ("target.0", &mut self.target1),
            ("target.2", &mut self.target2),
            ("target.4", &mut self.target3),
        ]
    }

    fn check_images(x: &[f32]) -> Result<usize> {
        check_batch("mnist input", x, IMAGE_DIM)
    }

    /// The student's output `[B, 1024]` for normalized images `[B, 784]` (no gradient): the
    /// context of the local path, and of every path when a neuron is alone.
    pub fn student(&self, x: &[f32]) -> Result<Vec<f32>> {
        let (mut h1, mut s) = (Vec::new(), Vec::new());
        self.student_into(x, &mut h1, &mut s)?;
        Ok(s)
    }

    /// [`Self::student`] into caller-owned buffers (`scratch` holds the hidden layer), so a
    /// training loop allocates nothing per step.
    pub fn student_into(
        &self,
        x: &[f32],
        scratch: &mut Vec<f32>,
        out: &mut Vec<f32>,
    ) -> Result<()> {
        let b = Self::check_images(x)?;
        scratch.resize(b * HIDDEN, 0.0);
        out.resize(b * CONTEXT_DIM, 0.0);
        self.student1
            .forward(View::new(x, b, IMAGE_DIM), scratch, true);
        self.student2
            .forward(View::new(scratch, b, HIDDEN), out, true);
        Ok(())
    }

    /// What the synapse serves to peers: the local hidden encoding
    /// `forward_net([x, student(x)])` (`[B, 1024]`, after the forward network's last ReLU), for
    /// normalized images `[B, 784]`. This is Release 1's `forward_image` (its `local_hidden`):
    /// unlike the student, which only imitates the network, the forward network is trained by
    /// the labels, so the encoding carries class information to the peers that ask for it.
    pub fn encode(&self, x: &[f32]) -> Result<Vec<f32>> {
        Ok(self.encode_acts(x)?.e)
    }

    /// The activations of [`Self::encode`], kept for its backward passes.
    pub(crate) fn encode_acts(&self, x: &[f32]) -> Result<EncodeActs> {
        let b = Self::check_images(x)?;
        let mut h1 = vec![0.0; b * HIDDEN];
        let mut s = vec![0.0; b * CONTEXT_DIM];
        let mut a1 = vec![0.0; b * HIDDEN];
        let mut e = vec![0.0; b * HIDDEN];
        let xv = View::new(x, b, IMAGE_DIM);
        self.student1.forward(xv, &mut h1, true);
        self.student2
            .forward(View::new(&h1, b, HIDDEN), &mut s, true);
        // forward1 over [x, s] without building the concatenation: image columns, then context
        self.forward1.forward_cols(xv, 0, &mut a1, false);
        let wc = self.forward1.weight().cols(IMAGE_DIM, CONTEXT_DIM).t();
        gemm(
            ViewMut::new(&mut a1, b, HIDDEN),
            View::new(&s, b, CONTEXT_DIM),
            wc,
            1.0,
        );
        relu_inplace(&mut a1);
        self.forward2
            .forward(View::new(&a1, b, HIDDEN), &mut e, true);
        Ok(EncodeActs { b, h1, s, a1, e })
    }

    /// Backward of `sum(encode(x) * g)` down to every layer's pre-activation gradient and the
    /// input gradient (both branches: the image fed to the forward network directly, and the
    /// image through the student).
    pub(crate) fn encode_backward(
        &self,
        x: &[f32],
        g: &[f32],
    ) -> Result<(EncodeActs, EncodeDeltas)> {
        let acts = self.encode_acts(x)?;
        let b = acts.b;
        check_rows("encoding gradient", g, b, HIDDEN)?;
        let mut de = g.to_vec();
        relu_mask(&mut de, &acts.e);
        let mut da1 = vec![0.0; b * HIDDEN];
        self.forward2
            .input_grad(View::new(&de, b, HIDDEN), &mut da1);
        relu_mask(&mut da1, &acts.a1);
        let da1v = View::new(&da1, b, HIDDEN);
        let mut dx = vec![0.0; b * IMAGE_DIM];
        self.forward1.input_grad_cols(da1v, 0, IMAGE_DIM, &mut dx);
        let mut ds = vec![0.0; b * CONTEXT_DIM];
        self.forward1
            .input_grad_cols(da1v, IMAGE_DIM, CONTEXT_DIM, &mut ds);
        relu_mask(&mut ds, &acts.s);
        let mut dh1 = vec![0.0; b * HIDDEN];
        self.student2
            .input_grad(View::new(&ds, b, CONTEXT_DIM), &mut dh1);
        relu_mask(&mut dh1, &acts.h1);
        // dx += dh1·W1: the student branch adds to the direct branch
        gemm(
            ViewMut::new(&mut dx, b, IMAGE_DIM),
            View::new(&dh1, b, HIDDEN),
            self.student1.weight(),
            1.0,
        );
        Ok((
            acts,
            EncodeDeltas {
                de,
                da1,
                ds,
                dh1,
                dx,
            },
        ))
    }

    /// Vector–Jacobian product of the served encoding: the gradient of `sum(encode(x) * g)`
    /// with respect to the images `x` (`[B, 784]`), through the forward network and the
    /// student. This is what the axon returns to a peer's `Backward` request. Parameters are
    /// not touched.
    pub fn encode_vjp(&self, x: &[f32], g: &[f32]) -> Result<Vec<f32>> {
        Ok(self.encode_backward(x, g)?.1.dx)
    }

    /// Class logits `[B, 10]` through the local path (context = own student output).
    pub fn logits(&self, x: &[f32]) -> Result<Vec<f32>> {
        let s = self.student(x)?;
        self.logits_with_context(x, &s)
    }

    /// Class logits `[B, 10]` for a given context `[B, 1024]`: the network path when the
    /// context is the peers' joined answer.
    pub fn logits_with_context(&self, x: &[f32], s: &[f32]) -> Result<Vec<f32>> {
        let b = Self::check_images(x)?;
        check_rows("context", s, b, CONTEXT_DIM)?;
        let mut xs = vec![0.0; b * (IMAGE_DIM + CONTEXT_DIM)];
        for ((row, xi), si) in xs
            .chunks_exact_mut(IMAGE_DIM + CONTEXT_DIM)
            .zip(x.chunks_exact(IMAGE_DIM))
            .zip(s.chunks_exact(CONTEXT_DIM))
        {
            row[..IMAGE_DIM].copy_from_slice(xi);
            row[IMAGE_DIM..].copy_from_slice(si);
        }
        let mut a1 = vec![0.0; b * HIDDEN];
        let mut a2 = vec![0.0; b * HIDDEN];
        let mut o1 = vec![0.0; b * 512];
        let mut o2 = vec![0.0; b * 256];
        let mut out = vec![0.0; b * NUM_CLASSES];
        self.forward1
            .forward(View::new(&xs, b, IMAGE_DIM + CONTEXT_DIM), &mut a1, true);
        self.forward2
            .forward(View::new(&a1, b, HIDDEN), &mut a2, true);
        self.target1
            .forward(View::new(&a2, b, HIDDEN), &mut o1, true);
        self.target2.forward(View::new(&o1, b, 512), &mut o2, true);
        self.target3
            .forward(View::new(&o2, b, 256), &mut out, false);
        Ok(out)
    }

    /// Predicted classes of normalized images.
    pub fn predict(&self, x: &[f32]) -> Result<Vec<u8>> {
        Ok(self
            .logits(x)?
            .chunks_exact(NUM_CLASSES)
            .map(|row| argmax(row) as u8)
            .collect())
    }

    /// Gradient of the network-target loss w.r.t. the network context of the last
    /// [`Self::step`] run with `context_grad = true` (`[B, 1024]`): what remote autograd sends
    /// back to the peers whose answers formed the context.
    pub fn context_grad(&self) -> &[f32] {
        &self.ws.d_ctx[..self.ws.batch * CONTEXT_DIM]
    }

    /// One forward + backward on a batch. `x` is `[B, 784]` normalized images, `y` the labels,
    /// `context` the network context `[B, 1024]` (the peers' joined encodings; a neuron alone
    /// passes its own [`Self::student`]). With [`GradMode::Sgd`] the parameters are updated; with
    /// [`GradMode::Store`] the gradients are left in each layer's `gw`/`gb`.
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
        self.ws.ensure(b);
        let keep = mode_keep(mode);
        let Self {
            student1,
            student2,
            forward1,
            forward2,
            target1,
            target2,
            target3,
            ws,
        } = self;
        let xv = View::new(x, b, IMAGE_DIM);
        let n2 = 2 * b;

        // student, written straight into the top half of the stacked contexts
        student1.forward(xv, &mut ws.h1, true);
        student2.forward(
            View::new(&ws.h1, b, HIDDEN),
            &mut ws.u[..b * CONTEXT_DIM],
            true,
        );
        ws.u[b * CONTEXT_DIM..].copy_from_slice(context);

        // distillation: MSE(student, context), mean over all elements
        let (s, ctx) = ws.u.split_at(b * CONTEXT_DIM);
        let scale = 2.0 / (b * CONTEXT_DIM) as f32;
        let mut sq = 0.0f64;
        for ((d, &s), &c) in ws.d_s.iter_mut().zip(s).zip(ctx) {
            let diff = s - c;
            sq += f64::from(diff * diff);
            *d = scale * diff;
        }
        let distillation = (sq / (b * CONTEXT_DIM) as f64) as f32;

        // forward network: the image half once, then both context paths stacked
        forward1.forward_cols(xv, 0, &mut ws.p, false);
        let (top, bottom) = ws.a1.split_at_mut(b * HIDDEN);
        top.copy_from_slice(&ws.p);
        bottom.copy_from_slice(&ws.p);
        let uv = View::new(&ws.u, n2, CONTEXT_DIM);
        let wc = forward1.weight().cols(IMAGE_DIM, CONTEXT_DIM).t();
        crate::gemm_ops::gemm(
            crate::gemm_ops::ViewMut::new(&mut ws.a1, n2, HIDDEN),
            uv,
            wc,
            1.0,
        );
        relu_inplace(&mut ws.a1);
        forward2.forward(View::new(&ws.a1, n2, HIDDEN), &mut ws.a2, true);
        target1.forward(View::new(&ws.a2, n2, HIDDEN), &mut ws.o1, true);
        target2.forward(View::new(&ws.o1, n2, 512), &mut ws.o2, true);
        target3.forward(View::new(&ws.o2, n2, 256), &mut ws.logits, false);

        // cross-entropy of each path, each a mean over its own B rows
        let (local, network) = cross_entropy_halves(&ws.logits, y, &mut ws.d_logits);

        // backward through the target head and the forward network (both paths at once)
        target3.input_grad(View::new(&ws.d_logits, n2, NUM_CLASSES), &mut ws.d_o2);
        target3.accumulate(&ws.d_logits, View::new(&ws.o2, n2, 256), mode);
        relu_mask(&mut ws.d_o2, &ws.o2);
        target2.input_grad(View::new(&ws.d_o2, n2, 256), &mut ws.d_o1);
        target2.accumulate(&ws.d_o2, View::new(&ws.o1, n2, 512), mode);
        relu_mask(&mut ws.d_o1, &ws.o1);
        target1.input_grad(View::new(&ws.d_o1, n2, 512), &mut ws.d_a2);
        target1.accumulate(&ws.d_o1, View::new(&ws.a2, n2, HIDDEN), mode);
        relu_mask(&mut ws.d_a2, &ws.a2);
        forward2.input_grad(View::new(&ws.d_a2, n2, HIDDEN), &mut ws.d_a1);
        forward2.accumulate(&ws.d_a2, View::new(&ws.a1, n2, HIDDEN), mode);
        relu_mask(&mut ws.d_a1, &ws.a1);
        let da1 = View::new(&ws.d_a1, n2, HIDDEN);
        if context_grad {
            forward1.input_grad_cols(da1.rows(b, b), IMAGE_DIM, CONTEXT_DIM, &mut ws.d_ctx);
        }
        forward1.accumulate_weight_cols(da1, uv, IMAGE_DIM, keep);
        let (top, bottom) = ws.d_a1.split_at(b * HIDDEN);
        for ((d, t), u) in ws.d_sum.iter_mut().zip(top).zip(bottom) {
            *d = t + u;
        }
        forward1.accumulate_weight_cols(View::new(&ws.d_sum, b, HIDDEN), xv, 0, keep);
        forward1.accumulate_bias(&ws.d_a1, keep);
        forward1.finish(mode);

        // student: only the distillation loss reaches it (its output is detached elsewhere)
        relu_mask(&mut ws.d_s, &ws.u[..b * CONTEXT_DIM]);
        student2.input_grad(View::new(&ws.d_s, b, CONTEXT_DIM), &mut ws.d_h1);
        student2.accumulate(&ws.d_s, View::new(&ws.h1, b, HIDDEN), mode);
        relu_mask(&mut ws.d_h1, &ws.h1);
        student1.accumulate(&ws.d_h1, xv, mode);

        Ok(StepLosses {
            local,
            network,
            distillation,
        })
    }
}

pub(crate) fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 { (i, v) } else { best }
        })
        .0
}

/// Mean cross-entropy of the top and bottom halves of `logits` (`[2B, 10]`) against the same
/// labels; writes `d = (softmax − onehot)/B`.
pub(crate) fn cross_entropy_halves(logits: &[f32], y: &[u8], d: &mut [f32]) -> (f32, f32) {
    let b = y.len();
    let mut sums = [0.0f64; 2];
    for (r, (row, drow)) in logits
        .chunks_exact(NUM_CLASSES)
        .zip(d.chunks_exact_mut(NUM_CLASSES))
        .enumerate()
    {
        let label = usize::from(y[r % b]);
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut z = 0.0f32;
        for (dv, &v) in drow.iter_mut().zip(row) {
            *dv = (v - max).exp();
            z += *dv;
        }
        sums[r / b] += f64::from(z.ln() + max - row[label]);
        let inv = 1.0 / (z * b as f32);
        drow.iter_mut().for_each(|dv| *dv *= inv);
        drow[label] -= 1.0 / b as f32;
    }
    ((sums[0] / b as f64) as f32, (sums[1] / b as f64) as f32)
}
