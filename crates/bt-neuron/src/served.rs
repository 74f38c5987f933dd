//! The model as peers see it: a copy of the trained model behind the axon's `Synapse` trait.
//!
//! Peers send images as the wire defines them (float32 in 0..1, `[B, 1, 28, 28]` or `[B, 784]`);
//! the model works on normalized pixels, so forward normalizes and backward scales the input
//! gradient back to the wire's units (d/dx of (x - mean) / std is 1 / std).

use std::sync::{Arc, RwLock};

use bt_axon::{Synapse, SynapseError};
use bt_nn::MnistModel;
use bt_nn::dataset::{MNIST_MEAN, MNIST_STD};
use bt_nn::mnist::{CONTEXT_DIM, IMAGE_DIM};
use bt_tensor::{Modality, Tensor};

/// A served copy, swapped for a fresh one by the training loop every few steps. Requests read
/// the current copy without blocking training (an `Arc` clone under a short read lock).
pub struct ServedModel {
    current: RwLock<Arc<MnistModel>>,
}

const MODALITIES: [Modality; 2] = [Modality::Image, Modality::Tensor];

impl ServedModel {
    pub fn new(model: MnistModel) -> Self {
        Self {
            current: RwLock::new(Arc::new(model)),
        }
    }

    pub fn refresh(&self, model: MnistModel) {
        let fresh = Arc::new(model);
        match self.current.write() {
            Ok(mut slot) => *slot = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
    }

    fn snapshot(&self) -> Arc<MnistModel> {
        match self.current.read() {
            Ok(slot) => slot.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// Checks an image batch and returns its rows as normalized pixels.
pub fn normalized_images(t: &Tensor) -> Result<(usize, Vec<f32>), SynapseError> {
    let shape = t.shape();
    let rows = *shape.first().ok_or_else(|| {
        SynapseError::InvalidInput("an image batch needs a batch dimension".into())
    })?;
    let per_row: usize = shape.iter().skip(1).product();
    if per_row != IMAGE_DIM {
        return Err(SynapseError::InvalidInput(format!(
            "images must be [B, 1, 28, 28] or [B, 784], got {shape:?}"
        )));
    }
    let values = t
        .to_f32_vec()
        .map_err(|e| SynapseError::InvalidInput(e.to_string()))?;
    if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
        return Err(SynapseError::InvalidInput(format!(
            "image values must be finite, got {bad}"
        )));
    }
    Ok((
        rows,
        values
            .into_iter()
            .map(|v| (v - MNIST_MEAN) / MNIST_STD)
            .collect(),
    ))
}

/// Normalized pixels back to the wire's 0..1 images, `[B, 1, 28, 28]`.
pub fn wire_images(normalized: &[f32], rows: usize) -> Result<Tensor, bt_tensor::TensorError> {
    let raw: Vec<f32> = normalized
        .iter()
        .map(|v| v * MNIST_STD + MNIST_MEAN)
        .collect();
    Tensor::from_f32_vec(&[rows, 1, 28, 28], raw, Modality::Image)
}

fn failed(e: impl std::fmt::Display) -> SynapseError {
    SynapseError::Failed(e.to_string())
}

impl Synapse for ServedModel {
    fn modalities(&self) -> &[Modality] {
        &MODALITIES
    }

    fn forward(&self, modality: Modality, input: Tensor) -> Result<Tensor, SynapseError> {
        if !MODALITIES.contains(&modality) {
            return Err(SynapseError::UnsupportedModality(modality));
        }
        let (rows, x) = normalized_images(&input)?;
        let out = self.snapshot().forward_image(&x).map_err(failed)?;
        Tensor::from_f32_vec(&[rows, CONTEXT_DIM], out, Modality::Tensor).map_err(failed)
    }

    fn backward(
        &self,
        inputs: Vec<Tensor>,
        grads: Vec<Tensor>,
    ) -> Result<Vec<Tensor>, SynapseError> {
        let (Some(input), Some(grad), 1, 1) =
            (inputs.first(), grads.first(), inputs.len(), grads.len())
        else {
            return Err(SynapseError::InvalidInput(format!(
                "backward takes one input and one gradient, got {} and {}",
                inputs.len(),
                grads.len()
            )));
        };
        let (rows, x) = normalized_images(input)?;
        if grad.shape() != [rows, CONTEXT_DIM] {
            return Err(SynapseError::InvalidInput(format!(
                "gradient must be [{rows}, {CONTEXT_DIM}], got {:?}",
                grad.shape()
            )));
        }
        let g = grad
            .to_f32_vec()
            .map_err(|e| SynapseError::InvalidInput(e.to_string()))?;
        let dx = self.snapshot().student_vjp(&x, &g).map_err(failed)?;
        let dx_wire: Vec<f32> = dx.into_iter().map(|v| v / MNIST_STD).collect();
        Tensor::from_f32_vec(input.shape(), dx_wire, Modality::Image)
            .map(|t| vec![t])
            .map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images(rows: usize) -> Tensor {
        let values: Vec<f32> = (0..rows * IMAGE_DIM)
            .map(|i| (i % 255) as f32 / 255.0)
            .collect();
        Tensor::from_f32_vec(&[rows, 1, 28, 28], values, Modality::Image).unwrap()
    }

    #[test]
    fn forward_matches_the_model_on_normalized_pixels() {
        let model = MnistModel::new(1);
        let served = ServedModel::new(model.clone());
        let x = images(3);
        let out = served.forward(Modality::Image, x.clone()).unwrap();
        assert_eq!(out.shape(), [3, CONTEXT_DIM]);
        let (_, normalized) = normalized_images(&x).unwrap();
        let direct = model.forward_image(&normalized).unwrap();
        assert_eq!(out.to_f32_vec().unwrap(), direct);
        let back = wire_images(&normalized, 3).unwrap().to_f32_vec().unwrap();
        let orig = x.to_f32_vec().unwrap();
        assert!(back.iter().zip(&orig).all(|(a, b)| (a - b).abs() < 1e-5));
    }

    #[test]
    fn backward_is_the_student_vjp_in_wire_units() {
        let model = MnistModel::new(2);
        let served = ServedModel::new(model.clone());
        let x = images(2);
        let g: Vec<f32> = (0..2 * CONTEXT_DIM)
            .map(|i| ((i % 7) as f32 - 3.0) * 0.01)
            .collect();
        let gt = Tensor::from_f32_vec(&[2, CONTEXT_DIM], g.clone(), Modality::Tensor).unwrap();
        let dx = served.backward(vec![x.clone()], vec![gt]).unwrap();
        assert_eq!(dx[0].shape(), x.shape());
        let (_, normalized) = normalized_images(&x).unwrap();
        let expect = model.student_vjp(&normalized, &g).unwrap();
        let got = dx[0].to_f32_vec().unwrap();
        for (a, b) in got.iter().zip(&expect) {
            assert!((a * MNIST_STD - b).abs() < 1e-5);
        }
    }

    #[test]
    fn bad_inputs_are_refused_not_crashed() {
        let served = ServedModel::new(MnistModel::new(3));
        let text = Tensor::text(&["a"]);
        assert!(matches!(
            served.forward(Modality::Text, text),
            Err(SynapseError::UnsupportedModality(Modality::Text))
        ));
        let wrong = Tensor::from_f32_vec(&[2, 10], vec![0.0; 20], Modality::Image).unwrap();
        assert!(matches!(
            served.forward(Modality::Image, wrong),
            Err(SynapseError::InvalidInput(_))
        ));
        let nan = Tensor::from_f32_vec(&[1, 784], vec![f32::NAN; 784], Modality::Image).unwrap();
        assert!(matches!(
            served.forward(Modality::Image, nan),
            Err(SynapseError::InvalidInput(_))
        ));
        assert!(served.backward(vec![], vec![]).is_err());
    }
}
