//! The model as peers see it: a copy of the trained model behind the model-side
//! [`bt_nn::Synapse`] trait, served to the axon through [`crate::adapter::AxonSynapse`].
//!
//! Peers send images as the wire defines them (float32 in 0..1, `[B, 1, 28, 28]` or `[B, 784]`);
//! the MNIST synapse normalizes them itself and returns input gradients in the wire's units.
//!
//! What is served is the model's encoding ([`MnistModel::encode`]: the forward network over the
//! image and the student's output, trained by the labels), and `Backward` returns that
//! encoding's input gradient.
//!
//! Remote learning (opt-in, [`RemoteLearning`]): a `Backward` request also yields the gradient
//! of the peer's loss with respect to the parameters behind the encoding (student and forward
//! network). Each one is clipped to a maximum norm, scaled, and summed into one fixed-size
//! accumulator; the training loop takes the sum ([`ServedModel::take_remote_grad`]), applies it
//! to the model it trains, and the next refresh serves the result. So a peer can nudge our
//! encoder, never by more than `max_norm·scale` per request, and never grow our memory.

use std::sync::{Arc, Mutex, RwLock};

use bt_axon::SynapseError;

use crate::adapter::synapse_error;
use bt_nn::dataset::{MNIST_MEAN, MNIST_STD};
use bt_nn::mnist::IMAGE_DIM;
use bt_nn::{EncoderGrad, MnistModel, Modality as NnModality, Synapse};
use bt_tensor::{Modality, Tensor};

/// How much a served model learns from its peers' gradients.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RemoteLearning {
    /// Factor on every (clipped) remote gradient before it is summed.
    pub scale: f32,
    /// Largest L2 norm one request may contribute (before `scale`).
    pub max_norm: f32,
}

impl Default for RemoteLearning {
    fn default() -> Self {
        Self {
            scale: 1.0,
            max_norm: 1.0,
        }
    }
}

/// Remote gradients received since the training loop last took them.
#[derive(Default)]
struct Pending {
    grad: Option<EncoderGrad>,
    requests: u64,
}

/// A served copy, swapped for a fresh one by the training loop every few steps. Requests read
/// the current copy without blocking training (an `Arc` clone under a short read lock).
pub struct ServedModel {
    current: RwLock<Arc<MnistModel>>,
    learning: Option<RemoteLearning>,
    pending: Mutex<Pending>,
}

const MODALITIES: [NnModality; 2] = [NnModality::Image, NnModality::Tensor];

impl ServedModel {
    /// Serves `model`; remote gradients are not learned from.
    pub fn new(model: MnistModel) -> Self {
        Self::with_learning(model, None)
    }

    /// Serves `model`, learning from remote gradients when `learning` is set.
    pub fn with_learning(model: MnistModel, learning: Option<RemoteLearning>) -> Self {
        Self {
            current: RwLock::new(Arc::new(model)),
            learning,
            pending: Mutex::new(Pending::default()),
        }
    }

    pub fn refresh(&self, model: MnistModel) {
        let fresh = Arc::new(model);
        match self.current.write() {
            Ok(mut slot) => *slot = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
    }

    /// The copy being served now.
    pub fn snapshot(&self) -> Arc<MnistModel> {
        match self.current.read() {
            Ok(slot) => slot.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The summed remote gradient and how many requests contributed, if any arrived since the
    /// last call.
    pub fn take_remote_grad(&self) -> Option<(EncoderGrad, u64)> {
        let mut p = match self.pending.lock() {
            Ok(p) => p,
            Err(poisoned) => poisoned.into_inner(),
        };
        let requests = std::mem::take(&mut p.requests);
        p.grad.take().map(|g| (g, requests))
    }

    fn learn(&self, model: &MnistModel, x: &[f32], g: &[f32]) -> bt_nn::Result<()> {
        let Some(cfg) = self.learning else {
            return Ok(());
        };
        let grad = model.encoder_param_grad(x, g)?;
        let mut p = match self.pending.lock() {
            Ok(p) => p,
            Err(poisoned) => poisoned.into_inner(),
        };
        let acc = p.grad.get_or_insert_with(EncoderGrad::zeros);
        if acc.add_clipped(&grad, cfg.scale, cfg.max_norm) > 0.0 {
            p.requests += 1;
        }
        Ok(())
    }
}

impl Synapse for ServedModel {
    fn modalities(&self) -> &[NnModality] {
        &MODALITIES
    }
    fn output_dim(&self) -> usize {
        bt_nn::mnist::CONTEXT_DIM
    }
    fn forward_image(&self, images: &[f32], rows: usize) -> bt_nn::Result<Vec<f32>> {
        Synapse::forward_image(&*self.snapshot(), images, rows)
    }
    fn forward_tensor(&self, x: &[f32], rows: usize) -> bt_nn::Result<Vec<f32>> {
        Synapse::forward_tensor(&*self.snapshot(), x, rows)
    }
    fn backward(
        &self,
        modality: NnModality,
        inputs: &[f32],
        rows: usize,
        grads: &[f32],
    ) -> bt_nn::Result<Vec<f32>> {
        let model = self.snapshot();
        let dx = Synapse::backward(&*model, modality, inputs, rows, grads)?;
        if self.learning.is_some() {
            let x = bt_nn::synapse::normalize_images(inputs, rows)?;
            self.learn(&model, &x, grads)?;
        }
        Ok(dx)
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
    let x = bt_nn::synapse::normalize_images(&values, rows).map_err(synapse_error)?;
    Ok((rows, x))
}

/// Normalized pixels back to the wire's 0..1 images, `[B, 1, 28, 28]`.
pub fn wire_images(normalized: &[f32], rows: usize) -> Result<Tensor, bt_tensor::TensorError> {
    let raw: Vec<f32> = normalized
        .iter()
        .map(|v| v * MNIST_STD + MNIST_MEAN)
        .collect();
    Tensor::from_f32_vec(&[rows, 1, 28, 28], raw, Modality::Image)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::AxonSynapse;
    use bt_axon::Synapse as _;
    use bt_nn::mnist::CONTEXT_DIM;

    fn images(rows: usize) -> Tensor {
        let values: Vec<f32> = (0..rows * IMAGE_DIM)
            .map(|i| (i % 255) as f32 / 255.0)
            .collect();
        Tensor::from_f32_vec(&[rows, 1, 28, 28], values, Modality::Image).unwrap()
    }

    fn grads(rows: usize, scale: f32) -> Tensor {
        let g: Vec<f32> = (0..rows * CONTEXT_DIM)
            .map(|i| ((i % 7) as f32 - 3.0) * scale)
            .collect();
        Tensor::from_f32_vec(&[rows, CONTEXT_DIM], g, Modality::Tensor).unwrap()
    }

    #[test]
    fn forward_matches_the_model_on_normalized_pixels() {
        let model = MnistModel::new(1);
        let served = AxonSynapse::new(ServedModel::new(model.clone()));
        let x = images(3);
        let out = served.forward(Modality::Image, x.clone()).unwrap();
        assert_eq!(out.shape(), [3, CONTEXT_DIM]);
        let (_, normalized) = normalized_images(&x).unwrap();
        let direct = model.encode(&normalized).unwrap();
        assert_eq!(out.to_f32_vec().unwrap(), direct);
        let back = wire_images(&normalized, 3).unwrap().to_f32_vec().unwrap();
        let orig = x.to_f32_vec().unwrap();
        assert!(back.iter().zip(&orig).all(|(a, b)| (a - b).abs() < 1e-5));
    }

    #[test]
    fn backward_is_the_encoding_vjp_in_wire_units() {
        let model = MnistModel::new(2);
        let served = AxonSynapse::new(ServedModel::new(model.clone()));
        let x = images(2);
        let gt = grads(2, 0.01);
        let dx = served.backward(vec![x.clone()], vec![gt.clone()]).unwrap();
        assert_eq!(dx[0].shape(), x.shape());
        let (_, normalized) = normalized_images(&x).unwrap();
        let expect = model
            .encode_vjp(&normalized, &gt.to_f32_vec().unwrap())
            .unwrap();
        let got = dx[0].to_f32_vec().unwrap();
        for (a, b) in got.iter().zip(&expect) {
            assert!((a * MNIST_STD - b).abs() < 1e-5);
        }
        // learning is off by default: nothing is kept
        assert!(served.inner().take_remote_grad().is_none());
    }

    #[test]
    fn remote_gradients_are_clipped_scaled_and_summed_when_enabled() {
        let model = MnistModel::new(3);
        let learning = RemoteLearning {
            scale: 0.5,
            max_norm: 2.0,
        };
        let served = AxonSynapse::new(ServedModel::with_learning(model.clone(), Some(learning)));
        // a huge gradient from a hostile peer contributes at most scale·max_norm
        let huge = grads(2, 1e3);
        served.backward(vec![images(2)], vec![huge]).unwrap();
        let (g, n) = served.inner().take_remote_grad().unwrap();
        assert_eq!(n, 1);
        assert!((g.norm() - 1.0).abs() < 1e-3, "norm {}", g.norm());
        assert!(served.inner().take_remote_grad().is_none());
        // the direction is the encoder's parameter gradient (student and forward network):
        // applying it lowers sum(out·g), and it moves both
        let small = grads(2, 1e-3);
        served
            .backward(vec![images(2)], vec![small.clone()])
            .unwrap();
        let (g, _) = served.inner().take_remote_grad().unwrap();
        let (_, x) = normalized_images(&images(2)).unwrap();
        let gv = small.to_f32_vec().unwrap();
        let objective = |m: &MnistModel| -> f64 {
            let out = m.encode(&x).unwrap();
            out.iter().zip(&gv).map(|(a, b)| f64::from(a * b)).sum()
        };
        let mut trained = model.clone();
        trained.apply_encoder_grad(&g, 0.1);
        assert!(objective(&trained) < objective(&model));
        assert_ne!(trained.forward1.w, model.forward1.w);
        assert_ne!(trained.forward2.w, model.forward2.w);
        assert_ne!(trained.student1.w, model.student1.w);
        assert_eq!(trained.target1.w, model.target1.w);
    }

    #[test]
    fn bad_inputs_are_refused_not_crashed() {
        let served = AxonSynapse::new(ServedModel::new(MnistModel::new(3)));
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
