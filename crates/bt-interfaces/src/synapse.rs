//! The one contract for a model served on the network (seed 003 §7: a synapse answers
//! `Forward` for the modalities it serves and `Backward` with the gradient of its inputs).
//!
//! Implementations take and return [`Tensor`]s as the wire carries them, so a model reads its
//! input straight out of the received buffer (`Tensor::f32_cow` borrows it when aligned) and
//! hands its output back as one owned buffer that the codec sends without copying. The axon
//! holds every synapse to the width it promises ([`Synapse::output_dim`]) with
//! [`check_forward_output`], so a model bug reaches the caller as an internal error, never
//! as a malformed answer.

use bt_tensor::{Modality, Tensor};

/// A model served on the network. Implementations run on the axon's blocking pool, never on
/// the async executor, so they may compute for as long as the caller's deadline allows —
/// unless they declare themselves [lightweight](Synapse::is_lightweight).
pub trait Synapse: Send + Sync + 'static {
    /// Modalities this synapse serves; a request in any other is answered `UNIMPLEMENTED`.
    fn modalities(&self) -> &[Modality];
    /// Values per output row of `forward`: a batch of `B` rows is answered with `[B, dim]`.
    /// `None` for a synapse whose answer takes the shape of its input (an echo).
    fn output_dim(&self) -> Option<usize> {
        None
    }
    /// `true` only if `forward` and `backward` never block and cost about as much as copying
    /// their input (an echo, a lookup): the axon then runs them on the async executor for small
    /// requests, saving the hand-off to a pool thread, which costs more than such a call.
    /// Default `false`: every call goes to the blocking pool.
    fn is_lightweight(&self) -> bool {
        false
    }
    /// Answers `input`, a batch in `modality` (one the synapse serves).
    fn forward(&self, modality: Modality, input: Tensor) -> Result<Tensor, SynapseError>;
    /// `inputs` are the original forward inputs and `grads` the gradients with respect to the
    /// forward outputs; returns the gradients with respect to the inputs (the vector–Jacobian
    /// product of the forward pass).
    fn backward(
        &self,
        inputs: Vec<Tensor>,
        grads: Vec<Tensor>,
    ) -> Result<Vec<Tensor>, SynapseError>;
}

/// How a synapse declines or fails a request; each kind maps to one status code of either
/// protocol (gRPC: `UNIMPLEMENTED`, `INVALID_ARGUMENT`, `INTERNAL`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SynapseError {
    /// The caller asked for a modality this synapse does not serve.
    #[error("modality {} is not served by this synapse", .0.name())]
    UnsupportedModality(Modality),
    /// The caller's input is wrong (shape, values, count): retrying it unchanged cannot help.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The synapse failed on a valid input: our fault, not the caller's.
    #[error("synapse failed: {0}")]
    Failed(String),
}

impl SynapseError {
    pub fn invalid(reason: impl std::fmt::Display) -> Self {
        Self::InvalidInput(reason.to_string())
    }

    pub fn failed(reason: impl std::fmt::Display) -> Self {
        Self::Failed(reason.to_string())
    }
}

/// Rows of a numeric batch `[B, …]` (`B > 0`).
pub fn batch_rows(t: &Tensor) -> Result<usize, SynapseError> {
    match t.shape().first() {
        None => Err(SynapseError::invalid("a batch needs a batch dimension")),
        Some(0) => Err(SynapseError::invalid("empty batch")),
        Some(&rows) => Ok(rows),
    }
}

/// Checks an answer to a `rows`-row input against the width `promised` (see
/// [`Synapse::output_dim`]). A broken promise is the synapse's failure, not the caller's.
pub fn check_forward_output(
    promised: Option<usize>,
    rows: usize,
    output: &Tensor,
) -> Result<(), SynapseError> {
    match promised {
        Some(dim) if output.shape() != [rows, dim] => Err(SynapseError::Failed(format!(
            "synapse promised [{rows}, {dim}] and produced {:?}",
            output.shape()
        ))),
        _ => Ok(()),
    }
}

/// The one input and one gradient of a backward call on a synapse with one input, its
/// gradient checked against the forward width `dim`.
pub fn single_backward_pair<'a>(
    inputs: &'a [Tensor],
    grads: &'a [Tensor],
    dim: usize,
) -> Result<(&'a Tensor, &'a Tensor), SynapseError> {
    let ([input], [grad]) = (inputs, grads) else {
        return Err(SynapseError::invalid(format!(
            "backward takes one input and one gradient, got {} and {}",
            inputs.len(),
            grads.len()
        )));
    };
    let rows = batch_rows(input)?;
    if grad.shape() != [rows, dim] {
        return Err(SynapseError::invalid(format!(
            "gradient must be [{rows}, {dim}], got {:?}",
            grad.shape()
        )));
    }
    Ok((input, grad))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(shape: &[usize]) -> Tensor {
        let n = shape.iter().product();
        Tensor::from_f32_vec(shape, vec![0.5; n], Modality::Tensor).unwrap()
    }

    #[test]
    fn a_broken_width_promise_is_the_synapse_failure() {
        assert_eq!(check_forward_output(Some(4), 2, &t(&[2, 4])), Ok(()));
        assert_eq!(check_forward_output(None, 2, &t(&[3, 1])), Ok(()));
        assert!(matches!(
            check_forward_output(Some(4), 2, &t(&[2, 3])),
            Err(SynapseError::Failed(_))
        ));
    }

    #[test]
    fn batches_need_rows() {
        assert_eq!(batch_rows(&t(&[3, 2])), Ok(3));
        for shape in [&[0usize, 2][..], &[]] {
            // a codec that refuses such tensors earlier makes the check moot, not wrong
            if let Ok(x) = Tensor::from_f32_vec(shape, Vec::new(), Modality::Tensor) {
                assert!(matches!(batch_rows(&x), Err(SynapseError::InvalidInput(_))));
            }
        }
    }

    #[test]
    fn backward_pairs_are_counted_and_shaped() {
        let (x, g) = (t(&[2, 3]), t(&[2, 4]));
        let (inputs, grads) = (vec![x.clone()], vec![g.clone()]);
        assert!(single_backward_pair(&inputs, &grads, 4).is_ok());
        assert!(matches!(
            single_backward_pair(&inputs, &grads, 5),
            Err(SynapseError::InvalidInput(_))
        ));
        let two = vec![x.clone(), x];
        assert!(matches!(
            single_backward_pair(&two, &grads, 4),
            Err(SynapseError::InvalidInput(_))
        ));
    }
}
