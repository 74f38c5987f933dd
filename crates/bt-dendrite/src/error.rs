//! Errors in what the *caller* asked for. What a peer did is never an error here: it is an
//! [`Outcome`](crate::Outcome) of that peer's call.

use bt_tensor::Modality;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DendriteError {
    #[error("input {index} has modality {got}, but this call sends {expected}")]
    Modality {
        index: usize,
        expected: Modality,
        got: Modality,
    },
    #[error("input {index} has shape {shape:?}: a batch needs at least one dimension")]
    NoBatch { index: usize, shape: Vec<usize> },
    #[error(
        "input {index} encodes to about {bytes} bytes, over the {max}-byte message limit \
         (DendriteConfig::max_message_size); split the batch"
    )]
    TooLarge {
        index: usize,
        bytes: usize,
        max: usize,
    },
    #[error(
        "backward: inputs have batch {inputs} but gradients have batch {grads}; \
         the gradients must be those of this peer's answer to these inputs"
    )]
    BatchMismatch { inputs: usize, grads: usize },
    /// The request codec refuses the input (a NaN or infinity: the axon would refuse it too).
    #[error("input {index} cannot be compressed: {reason}")]
    Compression { index: usize, reason: String },
}
