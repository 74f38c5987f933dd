//! What the neuron runtime needs of a model: [`NeuronModel`]. bt-neuron's trainer, served copy
//! and checkpoints are generic over it, so MNIST and CIFAR run on one runtime.
//!
//! A model's input is rows of `f32` of one width, whatever it reads ([`InputFormat`]: images
//! or token ids), so datasets, batches and requests are one buffer type for every model.
//!
//! The contract is seed 003's synapse: a student that predicts the network's context, a
//! forward network over the input and a context, a target head; one step trains all three on
//! the local path (own student as context) and the network path (the peers' joined answers).
//! Peers call the model's *encoding* (the forward network over the input and the student's
//! output); its vector–Jacobian product answers their `Backward`.

use bt_interfaces::SynapseError;
use bt_interfaces::synapse::single_backward_pair;
use bt_tensor::{Modality, Tensor};

use crate::dataset::Dataset;
use crate::dense::GradMode;
use crate::error::synapse_error;
use crate::error::{NnError, Result};
use crate::input::InputFormat;
use crate::mnist::StepLosses;
use crate::params::Parameters;

/// Hyper-parameters of a neuron's training (the MNIST reference's defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainConfig {
    pub batch_size: usize,
    pub lr: f32,
    pub momentum: f32,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            batch_size: 64,
            lr: 0.01,
            momentum: 0.9,
        }
    }
}

impl TrainConfig {
    /// The optimizer step these settings describe.
    pub fn sgd(&self) -> GradMode {
        GradMode::Sgd {
            lr: self.lr,
            momentum: self.momentum,
        }
    }
}

/// A gradient of a peer's loss with respect to the parameters behind a served encoding, summed
/// over requests into one fixed-size accumulator.
pub trait EncoderGradient: Send + 'static {
    /// An accumulator of the same shape, all zeros.
    fn zeros_like(&self) -> Self;

    /// `self += scale · min(1, max_norm / ‖other‖) · other`; returns the factor applied to
    /// `other` (0 for a zero or non-finite gradient, which is skipped).
    fn add_clipped(&mut self, other: &Self, scale: f32, max_norm: f32) -> f32;
}

/// A neuron's training and test sets, and where they came from (for the log).
pub struct TrainingData {
    pub train: Dataset,
    pub test: Dataset,
    /// The directory read, or what was generated.
    pub source: String,
}

/// A model the neuron runtime trains, serves and checkpoints.
pub trait NeuronModel: Parameters + Clone + Send + Sync + 'static {
    /// What it takes, on the wire and as rows.
    const INPUT: InputFormat;
    /// Width of the served encoding, of the student, and of the network context.
    const CONTEXT_DIM: usize;
    /// Rows per forward when evaluating a whole dataset or serving a request.
    const EVAL_CHUNK: usize;

    /// How long a training step waits for its peers' answers by default.
    const PEER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

    /// Whether peers' `Backward` gradients can train the encoder ([`Self::encoder_param_grad`]).
    const REMOTE_LEARNING: bool;

    /// Peers' gradients with respect to the encoder's parameters ([`Self::encoder_param_grad`]).
    type EncoderGrad: EncoderGradient;

    /// The standard architecture, freshly initialized from `seed`.
    fn seeded(seed: u64) -> Self;

    /// Its training defaults (batch size, learning rate, momentum).
    fn train_config() -> TrainConfig {
        TrainConfig::default()
    }

    /// The model's dataset from `dir`, or from its default place when `None`. Blocking (reads
    /// or generates tens of megabytes): call it off the async executor.
    fn load_data(dir: Option<&std::path::Path>) -> Result<TrainingData>;

    /// The student's output `[B, CONTEXT_DIM]` for input rows (no gradient): the local
    /// path's context, and every path's when the neuron is alone.
    fn student(&self, x: &[f32]) -> Result<Vec<f32>>;

    /// What peers are served: the forward network over the input and the student's output.
    fn encode(&self, x: &[f32]) -> Result<Vec<f32>>;

    /// The gradient of `sum(encode(x) · g)` with respect to the input rows (only called when
    /// [`InputFormat::has_gradient`]).
    fn encode_vjp(&self, x: &[f32], g: &[f32]) -> Result<Vec<f32>>;

    /// Predicted classes through the local path.
    fn predict(&self, x: &[f32]) -> Result<Vec<u8>>;

    /// Predicted classes through the network path: the peers' joined answers as `context`
    /// (`[B, CONTEXT_DIM]`).
    fn predict_with_context(&self, x: &[f32], context: &[f32]) -> Result<Vec<u8>>;

    /// One forward and backward on a batch with the network's `context`; with
    /// `context_grad` the gradient of the network loss with respect to the context is kept
    /// for [`Self::context_grad`].
    fn step(
        &mut self,
        x: &[f32],
        y: &[u8],
        context: &[f32],
        mode: GradMode,
        context_grad: bool,
    ) -> Result<StepLosses>;

    /// The gradient kept by the last [`Self::step`] run with `context_grad`.
    fn context_grad(&self) -> &[f32];

    /// The gradient of `sum(encode(x) · g)` with respect to the encoder's parameters. A model
    /// without [`Self::REMOTE_LEARNING`] keeps this default: peers' gradients are refused.
    fn encoder_param_grad(&self, _x: &[f32], _g: &[f32]) -> Result<Self::EncoderGrad> {
        Err(NnError::Unsupported {
            what: "learning from peers' gradients",
            model: Self::KIND,
        })
    }

    /// Applies summed encoder gradients at learning rate `lr`.
    fn apply_encoder_grad(&mut self, grad: &Self::EncoderGrad, lr: f32);
}

/// Fraction of `data` classified correctly through the local path.
pub fn accuracy<M: NeuronModel>(model: &M, data: &Dataset) -> Result<f64> {
    if data.is_empty() {
        return Err(NnError::Dataset("accuracy of an empty dataset".into()));
    }
    let mut correct = 0usize;
    for (x, y) in data
        .images()
        .chunks(M::EVAL_CHUNK * data.dim())
        .zip(data.labels().chunks(M::EVAL_CHUNK))
    {
        let pred = model.predict(x)?;
        correct += pred.iter().zip(y).filter(|(p, y)| p == y).count();
    }
    Ok(correct as f64 / data.len() as f64)
}

/// A peer's `Forward`: its input in [`NeuronModel::INPUT`]'s wire form, the encoding out, computed
/// [`NeuronModel::EVAL_CHUNK`] rows at a time so that the activations of one slice are all a
/// request of any size costs beyond its input and answer.
pub fn serve_forward<M: NeuronModel>(
    model: &M,
    modality: Modality,
    input: Tensor,
) -> std::result::Result<Tensor, SynapseError> {
    M::INPUT.check_modality(modality)?;
    let (rows, x) = M::INPUT.from_wire(&input)?;
    drop(input);
    let mut out = Vec::with_capacity(rows * M::CONTEXT_DIM);
    for chunk in x.chunks(M::EVAL_CHUNK * M::INPUT.dim()) {
        out.extend(model.encode(chunk).map_err(synapse_error)?);
    }
    Tensor::from_f32_vec(&[rows, M::CONTEXT_DIM], out, Modality::Tensor)
        .map_err(SynapseError::failed)
}

/// A checked `Backward` request: the input rows and the gradient of the caller's loss
/// with respect to the encoding.
pub struct BackwardRequest<'a> {
    pub input: &'a Tensor,
    pub x: Vec<f32>,
    pub grad: std::borrow::Cow<'a, [f32]>,
}

impl BackwardRequest<'_> {
    /// The input rows and gradients in slices of [`NeuronModel::EVAL_CHUNK`] rows: a model's
    /// activations are many times its input, so a request is computed a slice at a time and
    /// costs the model's memory for one slice, however many rows it carries.
    pub fn chunks<M: NeuronModel>(&self) -> impl Iterator<Item = (&[f32], &[f32])> {
        self.x
            .chunks(M::EVAL_CHUNK * M::INPUT.dim())
            .zip(self.grad.chunks(M::EVAL_CHUNK * M::CONTEXT_DIM))
    }
}

/// Checks a peer's `Backward` arguments for `M`.
pub fn backward_request<'a, M: NeuronModel>(
    inputs: &'a [Tensor],
    grads: &'a [Tensor],
) -> std::result::Result<BackwardRequest<'a>, SynapseError> {
    let (input, grad) = single_backward_pair(inputs, grads, M::CONTEXT_DIM)?;
    M::INPUT.check_modality(input.modality())?;
    let (_, x) = M::INPUT.from_wire(input)?;
    let grad = grad.f32_cow().map_err(SynapseError::invalid)?;
    Ok(BackwardRequest { input, x, grad })
}

/// The answer to a `Backward`: the encoding's input gradient in the wire's units and shape.
/// Refused for discrete input (token ids), which has no gradient to return.
pub fn input_grad_reply<M: NeuronModel>(
    model: &M,
    req: &BackwardRequest<'_>,
) -> std::result::Result<Vec<Tensor>, SynapseError> {
    if !M::INPUT.has_gradient() {
        return Err(SynapseError::invalid(format!(
            "the {} model's input is discrete: it has no input gradient",
            M::KIND
        )));
    }
    let mut dx = Vec::with_capacity(req.x.len());
    for (x, g) in req.chunks::<M>() {
        dx.extend(model.encode_vjp(x, g).map_err(synapse_error)?);
    }
    M::INPUT.grad_to_wire(&mut dx);
    Tensor::from_f32_vec(req.input.shape(), dx, req.input.modality())
        .map(|t| vec![t])
        .map_err(SynapseError::failed)
}

/// A peer's `Backward` with nothing learned from it.
pub fn serve_backward<M: NeuronModel>(
    model: &M,
    inputs: &[Tensor],
    grads: &[Tensor],
) -> std::result::Result<Vec<Tensor>, SynapseError> {
    let req = backward_request::<M>(inputs, grads)?;
    input_grad_reply(model, &req)
}
