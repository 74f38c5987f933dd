//! What the axon serves: anything that turns tensors into tensors.

use bt_tensor::{Modality, Tensor};

/// A model served on the network. Implementations run on the axon's blocking pool, never on the
/// async executor, so they may compute for as long as the caller's deadline allows — unless
/// they declare themselves [lightweight](Synapse::is_lightweight).
pub trait Synapse: Send + Sync + 'static {
    /// Modalities this synapse serves.
    fn modalities(&self) -> &[Modality];
    /// `true` only if `forward` and `backward` never block and cost about as much as copying
    /// their input (an echo, a lookup): the axon then runs them on the async executor for small
    /// requests (see `AxonConfig::inline_max_bytes`), saving the hand-off to a pool thread,
    /// which costs more than such a call. Default `false`: every call goes to the blocking pool.
    fn is_lightweight(&self) -> bool {
        false
    }
    fn forward(&self, modality: Modality, input: Tensor) -> Result<Tensor, SynapseError>;
    /// inputs = the original forward inputs, grads = gradients w.r.t. the forward outputs;
    /// returns gradients w.r.t. the inputs.
    fn backward(
        &self,
        inputs: Vec<Tensor>,
        grads: Vec<Tensor>,
    ) -> Result<Vec<Tensor>, SynapseError>;
}

/// How a synapse declines or fails a request; each maps to one gRPC status code.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SynapseError {
    /// → `UNIMPLEMENTED`
    #[error("modality {0:?} is not served by this synapse")]
    UnsupportedModality(Modality),
    /// → `INVALID_ARGUMENT`
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// → `INTERNAL`
    #[error("synapse failed: {0}")]
    Failed(String),
}

/// Returns its input unchanged for every modality; its backward returns the gradients it is
/// given. Served by `bittensor neuron echo` for interoperability tests and benchmarks.
#[derive(Debug, Default, Clone, Copy)]
pub struct EchoSynapse;

const ALL_MODALITIES: [Modality; 3] = [Modality::Tensor, Modality::Image, Modality::Text];

impl Synapse for EchoSynapse {
    fn modalities(&self) -> &[Modality] {
        &ALL_MODALITIES
    }

    fn is_lightweight(&self) -> bool {
        true
    }

    fn forward(&self, _modality: Modality, input: Tensor) -> Result<Tensor, SynapseError> {
        Ok(input)
    }

    fn backward(
        &self,
        _inputs: Vec<Tensor>,
        grads: Vec<Tensor>,
    ) -> Result<Vec<Tensor>, SynapseError> {
        Ok(grads)
    }
}
