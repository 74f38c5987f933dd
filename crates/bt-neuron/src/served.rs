//! The model as peers see it: a copy of the trained model, served to the axon as a
//! [`bt_interfaces::Synapse`]. It answers exactly as the model does (`bt_nn::synapse`: wire
//! images in, the encoding out, input gradients in the wire's units).
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

use bt_interfaces::synapse::single_backward_pair;
use bt_interfaces::{Synapse, SynapseError};
use bt_nn::mnist::CONTEXT_DIM;
use bt_nn::{EncoderGrad, MNIST_MODALITIES, MnistModel, images_from_wire, synapse_error};
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
    fn modalities(&self) -> &[Modality] {
        &MNIST_MODALITIES
    }

    fn output_dim(&self) -> Option<usize> {
        Some(CONTEXT_DIM)
    }

    fn forward(&self, modality: Modality, input: Tensor) -> Result<Tensor, SynapseError> {
        self.snapshot().forward(modality, input)
    }

    fn backward(
        &self,
        inputs: Vec<Tensor>,
        grads: Vec<Tensor>,
    ) -> Result<Vec<Tensor>, SynapseError> {
        let model = self.snapshot();
        if self.learning.is_none() {
            return model.backward(inputs, grads);
        }
        let (input, grad) = single_backward_pair(&inputs, &grads, CONTEXT_DIM)?;
        if !MNIST_MODALITIES.contains(&input.modality()) {
            return Err(SynapseError::UnsupportedModality(input.modality()));
        }
        let (_, x) = images_from_wire(input)?;
        let g = grad.f32_cow().map_err(SynapseError::invalid)?;
        let dx = model.wire_input_grad(&x, &g).map_err(synapse_error)?;
        self.learn(&model, &x, &g).map_err(synapse_error)?;
        Tensor::from_f32_vec(input.shape(), dx, input.modality())
            .map(|t| vec![t])
            .map_err(SynapseError::failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bt_nn::dataset::MNIST_STD;
    use bt_nn::images_to_wire;
    use bt_nn::mnist::IMAGE_DIM;

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
        let served = ServedModel::new(model.clone());
        let x = images(3);
        let out = served.forward(Modality::Image, x.clone()).unwrap();
        assert_eq!(out.shape(), [3, CONTEXT_DIM]);
        let (_, normalized) = images_from_wire(&x).unwrap();
        let direct = model.encode(&normalized).unwrap();
        assert_eq!(out.to_f32_vec().unwrap(), direct);
        let back = images_to_wire(&normalized, 3)
            .unwrap()
            .to_f32_vec()
            .unwrap();
        let orig = x.to_f32_vec().unwrap();
        assert!(back.iter().zip(&orig).all(|(a, b)| (a - b).abs() < 1e-5));
    }

    #[test]
    fn backward_is_the_encoding_vjp_in_wire_units() {
        let model = MnistModel::new(2);
        let served = ServedModel::new(model.clone());
        let x = images(2);
        let gt = grads(2, 0.01);
        let dx = served.backward(vec![x.clone()], vec![gt.clone()]).unwrap();
        assert_eq!(dx[0].shape(), x.shape());
        let (_, normalized) = images_from_wire(&x).unwrap();
        let expect = model
            .encode_vjp(&normalized, &gt.to_f32_vec().unwrap())
            .unwrap();
        let got = dx[0].to_f32_vec().unwrap();
        for (a, b) in got.iter().zip(&expect) {
            assert!((a * MNIST_STD - b).abs() < 1e-5);
        }
        // learning is off by default: nothing is kept
        assert!(served.take_remote_grad().is_none());
    }

    #[test]
    fn remote_gradients_are_clipped_scaled_and_summed_when_enabled() {
        let model = MnistModel::new(3);
        let learning = RemoteLearning {
            scale: 0.5,
            max_norm: 2.0,
        };
        let served = ServedModel::with_learning(model.clone(), Some(learning));
        // a huge gradient from a hostile peer contributes at most scale·max_norm
        let huge = grads(2, 1e3);
        served.backward(vec![images(2)], vec![huge]).unwrap();
        let (g, n) = served.take_remote_grad().unwrap();
        assert_eq!(n, 1);
        assert!((g.norm() - 1.0).abs() < 1e-3, "norm {}", g.norm());
        assert!(served.take_remote_grad().is_none());
        // the direction is the encoder's parameter gradient (student and forward network):
        // applying it lowers sum(out·g), and it moves both
        let small = grads(2, 1e-3);
        served
            .backward(vec![images(2)], vec![small.clone()])
            .unwrap();
        let (g, _) = served.take_remote_grad().unwrap();
        let (_, x) = images_from_wire(&images(2)).unwrap();
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
