//! The MNIST model as a [`bt_interfaces::Synapse`] (seed 003 §7: `forward_image`,
//! `forward_tensor`, `backward`), and the MNIST images' wire form.
//!
//! Peers send images as the wire defines them: float32 pixels in 0..1, `[B, 1, 28, 28]` or
//! `[B, 784]`. The synapse reads them in place when the received buffer is aligned
//! ([`Tensor::f32_cow`]), normalizes them into the one buffer the model computes on, and
//! answers with the model's own output buffer, which the codec sends without copying.
//! Backward returns the input gradient in the wire's units (d/dx of `(x - mean) / std` is
//! `1 / std`).

use bt_interfaces::synapse::{batch_rows, single_backward_pair};
use bt_interfaces::{Synapse, SynapseError};
use bt_tensor::{Modality, Tensor, TensorError};

use crate::dataset::{MNIST_MEAN, MNIST_STD};
use crate::error::{NnError, Result, shape_err};
use crate::mnist::{CONTEXT_DIM, IMAGE_DIM, MnistModel};

/// What an MNIST synapse serves: images, and the same pixels sent as plain tensors.
pub const MNIST_MODALITIES: [Modality; 2] = [Modality::Image, Modality::Tensor];

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

/// A wire image batch → its rows and normalized pixels. The received buffer is read in place
/// when aligned; the normalized copy is the only one made.
pub fn images_from_wire(t: &Tensor) -> std::result::Result<(usize, Vec<f32>), SynapseError> {
    let rows = batch_rows(t)?;
    let per_row: usize = t.shape().iter().skip(1).product();
    if per_row != IMAGE_DIM {
        return Err(SynapseError::invalid(format!(
            "images must be [B, 1, 28, 28] or [B, 784], got {:?}",
            t.shape()
        )));
    }
    let values = t.f32_cow().map_err(SynapseError::invalid)?;
    let x = normalize_images(&values, rows).map_err(synapse_error)?;
    Ok((rows, x))
}

/// Normalized pixels back to the wire's 0..1 images, `[B, 1, 28, 28]`.
pub fn images_to_wire(normalized: &[f32], rows: usize) -> std::result::Result<Tensor, TensorError> {
    let raw: Vec<f32> = normalized
        .iter()
        .map(|v| v * MNIST_STD + MNIST_MEAN)
        .collect();
    Tensor::from_f32_vec(&[rows, 1, 28, 28], raw, Modality::Image)
}

/// Model errors as a synapse reports them: the caller's input (shape, values) or our failure.
pub fn synapse_error(e: NnError) -> SynapseError {
    match e {
        NnError::UnsupportedModality(m) => SynapseError::UnsupportedModality(m),
        e @ (NnError::Shape { .. } | NnError::NonFinite(_) | NnError::Dataset(_)) => {
            SynapseError::invalid(e)
        }
        other => SynapseError::failed(other),
    }
}

fn served(modality: Modality) -> std::result::Result<(), SynapseError> {
    if MNIST_MODALITIES.contains(&modality) {
        Ok(())
    } else {
        Err(SynapseError::UnsupportedModality(modality))
    }
}

impl MnistModel {
    /// The encoding's input gradient in the wire's units, for normalized images `x` and the
    /// gradient `g` of the caller's loss with respect to the encoding.
    pub fn wire_input_grad(&self, x: &[f32], g: &[f32]) -> Result<Vec<f32>> {
        let mut dx = self.encode_vjp(x, g)?;
        for v in &mut dx {
            *v /= MNIST_STD;
        }
        Ok(dx)
    }
}

/// The MNIST synapse serves its encoding ([`MnistModel::encode`], the forward network over the
/// image and the student's output): images (or their flat tensors) in, the 1024-wide context
/// out; backward is the encoding's vector–Jacobian product.
impl Synapse for MnistModel {
    fn modalities(&self) -> &[Modality] {
        &MNIST_MODALITIES
    }

    fn output_dim(&self) -> Option<usize> {
        Some(CONTEXT_DIM)
    }

    fn forward(
        &self,
        modality: Modality,
        input: Tensor,
    ) -> std::result::Result<Tensor, SynapseError> {
        served(modality)?;
        let (rows, x) = images_from_wire(&input)?;
        drop(input);
        let out = self.encode(&x).map_err(synapse_error)?;
        Tensor::from_f32_vec(&[rows, CONTEXT_DIM], out, Modality::Tensor)
            .map_err(SynapseError::failed)
    }

    fn backward(
        &self,
        inputs: Vec<Tensor>,
        grads: Vec<Tensor>,
    ) -> std::result::Result<Vec<Tensor>, SynapseError> {
        let (input, grad) = single_backward_pair(&inputs, &grads, CONTEXT_DIM)?;
        served(input.modality())?;
        let (_, x) = images_from_wire(input)?;
        let g = grad.f32_cow().map_err(SynapseError::invalid)?;
        let dx = self.wire_input_grad(&x, &g).map_err(synapse_error)?;
        Tensor::from_f32_vec(input.shape(), dx, input.modality())
            .map(|t| vec![t])
            .map_err(SynapseError::failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(rows: usize, modality: Modality) -> Tensor {
        let raw: Vec<f32> = (0..rows * IMAGE_DIM)
            .map(|i| (i % 255) as f32 / 255.0)
            .collect();
        Tensor::from_f32_vec(&[rows, 1, 28, 28], raw, modality).unwrap()
    }

    #[test]
    fn mnist_synapse_serves_images_and_tensors_not_text() {
        let m = MnistModel::new(1);
        let img = wire(2, Modality::Image);
        let out = m.forward(Modality::Image, img.clone()).unwrap();
        assert_eq!(out.shape(), [2, CONTEXT_DIM]);
        let flat =
            Tensor::from_f32_vec(&[2, IMAGE_DIM], img.to_f32_vec().unwrap(), Modality::Tensor)
                .unwrap();
        assert_eq!(m.forward(Modality::Tensor, flat).unwrap(), out);
        let normalized = normalize_images(&img.to_f32_vec().unwrap(), 2).unwrap();
        assert_eq!(m.encode(&normalized).unwrap(), out.to_f32_vec().unwrap());
        assert_eq!(
            m.forward(Modality::Text, Tensor::text(&["seven"])),
            Err(SynapseError::UnsupportedModality(Modality::Text))
        );
        let g = Tensor::from_f32_vec(&[1, CONTEXT_DIM], vec![0.1; CONTEXT_DIM], Modality::Tensor)
            .unwrap();
        assert_eq!(
            m.backward(vec![Tensor::text(&["seven"])], vec![g]),
            Err(SynapseError::UnsupportedModality(Modality::Text))
        );
        let short = Tensor::from_f32_vec(&[2, 100], vec![0.5; 200], Modality::Image).unwrap();
        assert!(matches!(
            m.forward(Modality::Image, short),
            Err(SynapseError::InvalidInput(_))
        ));
    }

    #[test]
    fn backward_is_the_vjp_in_wire_units() {
        let m = MnistModel::new(2);
        let x = wire(3, Modality::Image);
        let raw = x.to_f32_vec().unwrap();
        let g: Vec<f32> = (0..3 * CONTEXT_DIM)
            .map(|i| ((i % 7) as f32 - 3.0) * 0.01)
            .collect();
        let gt = Tensor::from_f32_vec(&[3, CONTEXT_DIM], g.clone(), Modality::Tensor).unwrap();
        let dx = m.backward(vec![x.clone()], vec![gt]).unwrap();
        assert_eq!(dx[0].shape(), x.shape());
        let dx = dx[0].to_f32_vec().unwrap();
        // central difference along one pixel, in wire units
        let (i, eps) = (400usize, 1e-2f32);
        let f = |delta: f32| -> f64 {
            let mut v = raw.clone();
            v[i] += delta;
            let t = Tensor::from_f32_vec(&[3, 1, 28, 28], v, Modality::Image).unwrap();
            let out = m.forward(Modality::Image, t).unwrap().to_f32_vec().unwrap();
            out.iter().zip(&g).map(|(a, b)| f64::from(a * b)).sum()
        };
        let numeric = (f(eps) - f(-eps)) / (2.0 * f64::from(eps));
        assert!(
            (numeric - f64::from(dx[i])).abs() < 1e-2 + 1e-2 * numeric.abs(),
            "numeric {numeric} analytic {}",
            dx[i]
        );
    }

    #[test]
    fn wire_images_round_trip_through_normalization() {
        let x = wire(3, Modality::Image);
        let (rows, normalized) = images_from_wire(&x).unwrap();
        assert_eq!(rows, 3);
        let back = images_to_wire(&normalized, 3)
            .unwrap()
            .to_f32_vec()
            .unwrap();
        for (a, b) in back.iter().zip(x.to_f32_vec().unwrap()) {
            assert!((a - b).abs() < 1e-6);
        }
    }
}
