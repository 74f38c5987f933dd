//! The model side of a synapse (seed 003 §7: `forward_text`, `forward_image`, `forward_tensor`,
//! `backward`): what a model offers the network, independent of the wire.
//!
//! A model implements the modalities it serves; the others keep the default body and answer
//! [`NnError::UnsupportedModality`], which the axon adapter (bt-neuron) turns into
//! `UNIMPLEMENTED`. Tensors are flat row-major `f32` with an explicit row count; images are in
//! the wire's units (pixels in 0..1), so a model normalizes them itself.

use std::sync::Arc;

use crate::dataset::{MNIST_MEAN, MNIST_STD};
use crate::error::{NnError, Result, shape_err};
use crate::mnist::{CONTEXT_DIM, IMAGE_DIM, MnistModel};

/// The three modalities of the Release 1 protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Modality {
    Text,
    Image,
    Tensor,
}

/// A model served to the network.
pub trait Synapse: Send + Sync {
    /// The modalities this synapse answers.
    fn modalities(&self) -> &[Modality];
    /// Values per output row: the width this synapse promises every caller.
    fn output_dim(&self) -> usize;
    /// `[B]` strings → `[B, output_dim]`.
    fn forward_text(&self, _texts: &[String]) -> Result<Vec<f32>> {
        Err(NnError::UnsupportedModality(Modality::Text))
    }
    /// `rows` images, flat, pixels in 0..1 → `[rows, output_dim]`.
    fn forward_image(&self, _images: &[f32], _rows: usize) -> Result<Vec<f32>> {
        Err(NnError::UnsupportedModality(Modality::Image))
    }
    /// `[rows, d]` → `[rows, output_dim]`.
    fn forward_tensor(&self, _x: &[f32], _rows: usize) -> Result<Vec<f32>> {
        Err(NnError::UnsupportedModality(Modality::Tensor))
    }
    /// The vector–Jacobian product of the forward pass of `modality`: the gradient of
    /// `sum(forward(inputs) * grads)` with respect to `inputs` (same shape as `inputs`).
    fn backward(
        &self,
        modality: Modality,
        inputs: &[f32],
        rows: usize,
        grads: &[f32],
    ) -> Result<Vec<f32>>;
}

impl<S: Synapse + ?Sized> Synapse for Arc<S> {
    fn modalities(&self) -> &[Modality] {
        (**self).modalities()
    }
    fn output_dim(&self) -> usize {
        (**self).output_dim()
    }
    fn forward_text(&self, texts: &[String]) -> Result<Vec<f32>> {
        (**self).forward_text(texts)
    }
    fn forward_image(&self, images: &[f32], rows: usize) -> Result<Vec<f32>> {
        (**self).forward_image(images, rows)
    }
    fn forward_tensor(&self, x: &[f32], rows: usize) -> Result<Vec<f32>> {
        (**self).forward_tensor(x, rows)
    }
    fn backward(
        &self,
        modality: Modality,
        inputs: &[f32],
        rows: usize,
        grads: &[f32],
    ) -> Result<Vec<f32>> {
        (**self).backward(modality, inputs, rows, grads)
    }
}

/// Wire images (0..1) → the model's normalized pixels, checking the shape and finiteness.
pub fn normalize_images(images: &[f32], rows: usize) -> Result<Vec<f32>> {
    if rows == 0 || images.len() != rows * IMAGE_DIM {
        return Err(shape_err(
            "mnist images",
            format!("[{rows}, {IMAGE_DIM}] (or [{rows}, 1, 28, 28])"),
            format!("{} values", images.len()),
        ));
    }
    if images.iter().any(|v| !v.is_finite()) {
        return Err(NnError::NonFinite("mnist images"));
    }
    Ok(images
        .iter()
        .map(|v| (v - MNIST_MEAN) / MNIST_STD)
        .collect())
}

/// The MNIST synapse serves its encoding ([`MnistModel::encode`], the forward network over the
/// image and the student's output): images (or their flat tensors) in, the 1024-wide context
/// out; backward is the encoding's VJP in the wire's units (d/dx of `(x - mean) / std` is
/// `1 / std`).
impl Synapse for MnistModel {
    fn modalities(&self) -> &[Modality] {
        &[Modality::Image, Modality::Tensor]
    }
    fn output_dim(&self) -> usize {
        CONTEXT_DIM
    }
    fn forward_image(&self, images: &[f32], rows: usize) -> Result<Vec<f32>> {
        self.encode(&normalize_images(images, rows)?)
    }
    fn forward_tensor(&self, x: &[f32], rows: usize) -> Result<Vec<f32>> {
        Synapse::forward_image(self, x, rows)
    }
    fn backward(
        &self,
        modality: Modality,
        inputs: &[f32],
        rows: usize,
        grads: &[f32],
    ) -> Result<Vec<f32>> {
        if !self.modalities().contains(&modality) {
            return Err(NnError::UnsupportedModality(modality));
        }
        let x = normalize_images(inputs, rows)?;
        let dx = self.encode_vjp(&x, grads)?;
        Ok(dx.into_iter().map(|v| v / MNIST_STD).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mnist_synapse_serves_images_and_tensors_not_text() {
        let m = MnistModel::new(1);
        let raw: Vec<f32> = (0..2 * IMAGE_DIM)
            .map(|i| (i % 255) as f32 / 255.0)
            .collect();
        let out = Synapse::forward_image(&m, &raw, 2).unwrap();
        assert_eq!(out.len(), 2 * m.output_dim());
        assert_eq!(Synapse::forward_tensor(&m, &raw, 2).unwrap(), out);
        let normalized = normalize_images(&raw, 2).unwrap();
        assert_eq!(m.encode(&normalized).unwrap(), out);
        assert_ne!(m.student(&normalized).unwrap(), out);
        assert!(matches!(
            m.forward_text(&["seven".into()]),
            Err(NnError::UnsupportedModality(Modality::Text))
        ));
        assert!(matches!(
            m.backward(Modality::Text, &raw, 2, &out),
            Err(NnError::UnsupportedModality(Modality::Text))
        ));
        assert!(Synapse::forward_image(&m, &raw[..100], 2).is_err());
    }

    #[test]
    fn backward_is_the_vjp_in_wire_units() {
        let m = MnistModel::new(2);
        let raw: Vec<f32> = (0..3 * IMAGE_DIM).map(|i| (i % 97) as f32 / 97.0).collect();
        let g: Vec<f32> = (0..3 * CONTEXT_DIM)
            .map(|i| ((i % 7) as f32 - 3.0) * 0.01)
            .collect();
        let dx = m.backward(Modality::Image, &raw, 3, &g).unwrap();
        // central difference along one pixel, in wire units
        let (i, eps) = (400usize, 1e-2f32);
        let f = |delta: f32| -> f64 {
            let mut x = raw.clone();
            x[i] += delta;
            let out = Synapse::forward_image(&m, &x, 3).unwrap();
            out.iter().zip(&g).map(|(a, b)| f64::from(a * b)).sum()
        };
        let numeric = (f(eps) - f(-eps)) / (2.0 * f64::from(eps));
        assert!(
            (numeric - f64::from(dx[i])).abs() < 1e-2 + 1e-2 * numeric.abs(),
            "numeric {numeric} analytic {}",
            dx[i]
        );
    }
}
