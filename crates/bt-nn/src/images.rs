//! Images as they travel between neurons, and as a model computes on them.
//!
//! Peers send float32 pixels in 0..1, `[B, C, H, W]` or flat `[B, C·H·W]`. The receiver reads
//! them in place when the buffer is aligned ([`Tensor::f32_cow`]), checks shape and finiteness,
//! and normalizes them per channel into the one buffer the model computes on. Input gradients
//! go back in the wire's units (d/dp of `(p − mean) / std` is `1 / std`).

use bt_interfaces::SynapseError;
use bt_interfaces::synapse::batch_rows;
use bt_tensor::{Modality, Tensor, TensorError};

use crate::error::synapse_error;
use crate::error::{NnError, Result, shape_err};

/// One model's image layout and per-channel normalization.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImageFormat {
    /// Name in error messages ("mnist images").
    pub what: &'static str,
    pub channels: usize,
    pub side: usize,
    pub mean: &'static [f32],
    pub std: &'static [f32],
}

impl ImageFormat {
    /// Values per image.
    pub const fn dim(&self) -> usize {
        self.channels * self.side * self.side
    }

    fn plane(&self) -> usize {
        self.side * self.side
    }

    /// Wire pixels (0..1) → the model's normalized values, checking shape and finiteness.
    pub fn normalize(&self, images: &[f32], rows: usize) -> Result<Vec<f32>> {
        let dim = self.dim();
        if rows == 0 || images.len() != rows * dim {
            return Err(shape_err(
                self.what,
                format!(
                    "[{rows}, {dim}] (or [{rows}, {}, {}, {}])",
                    self.channels, self.side, self.side
                ),
                format!("{} values", images.len()),
            ));
        }
        if images.iter().any(|v| !v.is_finite()) {
            return Err(NnError::NonFinite(self.what));
        }
        let plane = self.plane();
        Ok(images
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let c = (i / plane) % self.channels;
                (v - self.mean[c]) / self.std[c]
            })
            .collect())
    }

    /// A wire image batch → its rows and normalized values. The received buffer is read in
    /// place when aligned; the normalized copy is the only one made.
    pub fn from_wire(&self, t: &Tensor) -> std::result::Result<(usize, Vec<f32>), SynapseError> {
        let rows = batch_rows(t)?;
        let per_row: usize = t.shape().iter().skip(1).product();
        if per_row != self.dim() {
            return Err(SynapseError::invalid(format!(
                "{} must be [B, {}, {}, {}] or [B, {}], got {:?}",
                self.what,
                self.channels,
                self.side,
                self.side,
                self.dim(),
                t.shape()
            )));
        }
        let values = t.f32_cow().map_err(SynapseError::invalid)?;
        let x = self.normalize(&values, rows).map_err(synapse_error)?;
        Ok((rows, x))
    }

    /// Normalized values back to the wire's 0..1 pixels, `[B, C, H, W]`.
    pub fn to_wire(
        &self,
        normalized: &[f32],
        rows: usize,
    ) -> std::result::Result<Tensor, TensorError> {
        let plane = self.plane();
        let raw: Vec<f32> = normalized
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let c = (i / plane) % self.channels;
                v * self.std[c] + self.mean[c]
            })
            .collect();
        let shape = [rows, self.channels, self.side, self.side];
        Tensor::from_f32_vec(&shape, raw, Modality::Image)
    }

    /// A gradient with respect to the normalized values → with respect to the wire's pixels.
    pub fn grad_to_wire(&self, dx: &mut [f32]) {
        let plane = self.plane();
        for (i, v) in dx.iter_mut().enumerate() {
            *v /= self.std[(i / plane) % self.channels];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: ImageFormat = ImageFormat {
        what: "test images",
        channels: 2,
        side: 2,
        mean: &[0.5, 0.25],
        std: &[0.5, 2.0],
    };

    #[test]
    fn per_channel_normalization_round_trips() {
        let raw = vec![0.0, 0.5, 1.0, 0.5, 0.25, 0.25, 0.25, 4.25];
        let t = Tensor::from_f32_vec(&[1, 2, 2, 2], raw.clone(), Modality::Image).unwrap();
        let (rows, x) = TWO.from_wire(&t).unwrap();
        assert_eq!(rows, 1);
        assert_eq!(x, [-1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 2.0]);
        assert_eq!(TWO.to_wire(&x, 1).unwrap().to_f32_vec().unwrap(), raw);
        let mut g = vec![1.0; 8];
        TWO.grad_to_wire(&mut g);
        assert_eq!(g, [2.0, 2.0, 2.0, 2.0, 0.5, 0.5, 0.5, 0.5]);
    }

    #[test]
    fn wrong_sizes_and_non_finite_pixels_are_the_callers_error() {
        let short = Tensor::from_f32_vec(&[1, 7], vec![0.5; 7], Modality::Image).unwrap();
        assert!(matches!(
            TWO.from_wire(&short),
            Err(SynapseError::InvalidInput(_))
        ));
        let mut v = vec![0.5; 8];
        v[3] = f32::NAN;
        let nan = Tensor::from_f32_vec(&[1, 8], v, Modality::Image).unwrap();
        assert!(matches!(
            TWO.from_wire(&nan),
            Err(SynapseError::InvalidInput(_))
        ));
    }
}
