//! Serves any model-side [`bt_nn::Synapse`] through the axon's wire-level [`bt_axon::Synapse`].
//!
//! The adapter owns everything the wire adds: decoding typed tensors into flat rows, mapping
//! modalities, holding the model to the output width it promised, and turning model errors
//! into the status codes the axon sends (unsupported modality → `UNIMPLEMENTED`, bad shape or
//! value → `INVALID_ARGUMENT`, anything else → `INTERNAL`).

use bt_axon::SynapseError;
use bt_nn::{Modality as NnModality, NnError, Synapse as ModelSynapse};
use bt_tensor::{Modality, Tensor};

/// A model-side synapse as the axon sees it.
pub struct AxonSynapse<S> {
    inner: S,
    modalities: Vec<Modality>,
}

impl<S: ModelSynapse> AxonSynapse<S> {
    pub fn new(inner: S) -> Self {
        let modalities = inner.modalities().iter().map(|&m| to_wire(m)).collect();
        Self { inner, modalities }
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }
}

fn to_wire(m: NnModality) -> Modality {
    match m {
        NnModality::Text => Modality::Text,
        NnModality::Image => Modality::Image,
        NnModality::Tensor => Modality::Tensor,
    }
}

fn from_wire(m: Modality) -> NnModality {
    match m {
        Modality::Text => NnModality::Text,
        Modality::Image => NnModality::Image,
        Modality::Tensor => NnModality::Tensor,
    }
}

/// Model errors as the axon reports them.
pub fn synapse_error(e: NnError) -> SynapseError {
    match e {
        NnError::UnsupportedModality(m) => SynapseError::UnsupportedModality(to_wire(m)),
        e @ (NnError::Shape { .. } | NnError::NonFinite(_) | NnError::Dataset(_)) => {
            SynapseError::InvalidInput(e.to_string())
        }
        other => SynapseError::Failed(other.to_string()),
    }
}

fn invalid(e: impl std::fmt::Display) -> SynapseError {
    SynapseError::InvalidInput(e.to_string())
}

/// Rows and flat `f32` values of a numeric batch (`[B, …]`).
fn rows_of(t: &Tensor) -> Result<(usize, Vec<f32>), SynapseError> {
    let rows = *t
        .shape()
        .first()
        .ok_or_else(|| invalid("a batch needs a batch dimension"))?;
    if rows == 0 {
        return Err(invalid("empty batch"));
    }
    Ok((rows, t.to_f32_vec().map_err(invalid)?))
}

impl<S: ModelSynapse + 'static> bt_axon::Synapse for AxonSynapse<S> {
    fn modalities(&self) -> &[Modality] {
        &self.modalities
    }

    fn forward(&self, modality: Modality, input: Tensor) -> Result<Tensor, SynapseError> {
        if !self.modalities.contains(&modality) {
            return Err(SynapseError::UnsupportedModality(modality));
        }
        let (rows, out) = match modality {
            Modality::Text => {
                let texts = input.to_strings().map_err(invalid)?;
                let rows = texts.len();
                (rows, self.inner.forward_text(&texts))
            }
            Modality::Image => {
                let (rows, x) = rows_of(&input)?;
                (rows, self.inner.forward_image(&x, rows))
            }
            Modality::Tensor => {
                let (rows, x) = rows_of(&input)?;
                (rows, self.inner.forward_tensor(&x, rows))
            }
        };
        let out = out.map_err(synapse_error)?;
        let dim = self.inner.output_dim();
        if out.len() != rows * dim {
            return Err(SynapseError::Failed(format!(
                "synapse promised [{rows}, {dim}] and produced {} values",
                out.len()
            )));
        }
        Tensor::from_f32_vec(&[rows, dim], out, Modality::Tensor)
            .map_err(|e| SynapseError::Failed(e.to_string()))
    }

    fn backward(
        &self,
        inputs: Vec<Tensor>,
        grads: Vec<Tensor>,
    ) -> Result<Vec<Tensor>, SynapseError> {
        let (Some(input), Some(grad), 1, 1) =
            (inputs.first(), grads.first(), inputs.len(), grads.len())
        else {
            return Err(invalid(format!(
                "backward takes one input and one gradient, got {} and {}",
                inputs.len(),
                grads.len()
            )));
        };
        let modality = input.modality();
        if !self.modalities.contains(&modality) {
            return Err(SynapseError::UnsupportedModality(modality));
        }
        if modality == Modality::Text {
            // strings have no gradient: the model's backward says so in its own terms
            return Err(synapse_error(NnError::UnsupportedModality(
                NnModality::Text,
            )));
        }
        let (rows, x) = rows_of(input)?;
        let dim = self.inner.output_dim();
        if grad.shape() != [rows, dim] {
            return Err(invalid(format!(
                "gradient must be [{rows}, {dim}], got {:?}",
                grad.shape()
            )));
        }
        let g = grad.to_f32_vec().map_err(invalid)?;
        if g.iter().any(|v| !v.is_finite()) {
            return Err(invalid("gradient values must be finite"));
        }
        let dx = self
            .inner
            .backward(from_wire(modality), &x, rows, &g)
            .map_err(synapse_error)?;
        if dx.len() != x.len() {
            return Err(SynapseError::Failed(format!(
                "input gradient has {} values for {} inputs",
                dx.len(),
                x.len()
            )));
        }
        Tensor::from_f32_vec(input.shape(), dx, modality)
            .map(|t| vec![t])
            .map_err(|e| SynapseError::Failed(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bt_axon::Synapse as _;

    /// A text-only synapse: one number per string (its length), to show the adapter routes
    /// modalities it did not write code for.
    struct Lengths;

    impl ModelSynapse for Lengths {
        fn modalities(&self) -> &[NnModality] {
            &[NnModality::Text]
        }
        fn output_dim(&self) -> usize {
            1
        }
        fn forward_text(&self, texts: &[String]) -> bt_nn::Result<Vec<f32>> {
            Ok(texts.iter().map(|t| t.len() as f32).collect())
        }
        fn backward(
            &self,
            m: NnModality,
            _: &[f32],
            _: usize,
            _: &[f32],
        ) -> bt_nn::Result<Vec<f32>> {
            Err(NnError::UnsupportedModality(m))
        }
    }

    /// Claims two outputs per row and returns one: the adapter must catch it.
    struct Liar;

    impl ModelSynapse for Liar {
        fn modalities(&self) -> &[NnModality] {
            &[NnModality::Tensor]
        }
        fn output_dim(&self) -> usize {
            2
        }
        fn forward_tensor(&self, _x: &[f32], rows: usize) -> bt_nn::Result<Vec<f32>> {
            Ok(vec![0.0; rows])
        }
        fn backward(
            &self,
            _: NnModality,
            x: &[f32],
            _: usize,
            _: &[f32],
        ) -> bt_nn::Result<Vec<f32>> {
            Ok(x.to_vec())
        }
    }

    #[test]
    fn text_synapse_is_served_and_others_are_unimplemented() {
        let s = AxonSynapse::new(Lengths);
        assert_eq!(s.modalities(), [Modality::Text]);
        let out = s
            .forward(Modality::Text, Tensor::text(&["ab", "cde"]))
            .unwrap();
        assert_eq!(out.shape(), [2, 1]);
        assert_eq!(out.to_f32_vec().unwrap(), [2.0, 3.0]);
        let img = Tensor::from_f32_vec(&[1, 4], vec![0.0; 4], Modality::Image).unwrap();
        assert_eq!(
            s.forward(Modality::Image, img),
            Err(SynapseError::UnsupportedModality(Modality::Image))
        );
        let g = Tensor::from_f32_vec(&[2, 1], vec![1.0; 2], Modality::Tensor).unwrap();
        assert_eq!(
            s.backward(vec![Tensor::text(&["ab", "cde"])], vec![g]),
            Err(SynapseError::UnsupportedModality(Modality::Text))
        );
    }

    #[test]
    fn a_broken_promise_is_an_internal_error_not_a_bad_answer() {
        let s = AxonSynapse::new(Liar);
        let x = Tensor::from_f32_vec(&[3, 2], vec![0.5; 6], Modality::Tensor).unwrap();
        assert!(matches!(
            s.forward(Modality::Tensor, x.clone()),
            Err(SynapseError::Failed(_))
        ));
        let wrong = Tensor::from_f32_vec(&[3, 1], vec![0.5; 3], Modality::Tensor).unwrap();
        assert!(matches!(
            s.backward(vec![x], vec![wrong]),
            Err(SynapseError::InvalidInput(_))
        ));
    }

    #[test]
    fn model_errors_map_to_status_classes() {
        assert!(matches!(
            synapse_error(NnError::NonFinite("x")),
            SynapseError::InvalidInput(_)
        ));
        assert!(matches!(
            synapse_error(NnError::Router("r".into())),
            SynapseError::Failed(_)
        ));
    }
}
