//! The model as peers see it: a copy of the trained model (any [`NeuronModel`]), served to
//! the axon as a [`bt_interfaces::Synapse`]. It answers exactly as the model does
//! (`bt_nn::neuron_model`: wire images in, the encoding out, input gradients in the wire's
//! units; token ids in for the text model, whose input has no gradient).
//!
//! What is served is the model's encoding ([`NeuronModel::encode`]: the forward network over
//! the image and the student's output, trained by the labels), and `Backward` returns that
//! encoding's input gradient.
//!
//! Remote learning (opt-in, [`RemoteLearning`]; the MNIST model has it): a `Backward` request
//! also yields the gradient of the peer's loss with respect to the parameters behind the
//! encoding (student and forward network). Each one is clipped to a maximum norm, scaled, and summed into one fixed-size
//! accumulator; the training loop takes the sum ([`ServedModel::take_remote_grad`]), applies it
//! to the model it trains, and the next refresh serves the result. So a peer can nudge our
//! encoder, never by more than `max_norm·scale` per request, and never grow our memory.

use std::sync::{Arc, Mutex, RwLock};

use bt_interfaces::{Synapse, SynapseError};
use bt_nn::neuron_model::{
    BackwardRequest, backward_request, input_grad_reply, serve_backward, serve_forward,
};
use bt_nn::{EncoderGradient, NeuronModel, synapse_error};
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
struct Pending<G> {
    grad: Option<G>,
    requests: u64,
}

/// A served copy, swapped for a fresh one by the training loop every few steps. Requests read
/// the current copy without blocking training (an `Arc` clone under a short read lock).
pub struct ServedModel<M: NeuronModel> {
    current: RwLock<Arc<M>>,
    learning: Option<RemoteLearning>,
    pending: Mutex<Pending<M::EncoderGrad>>,
}

impl<M: NeuronModel> ServedModel<M> {
    /// Serves `model`; remote gradients are not learned from.
    pub fn new(model: M) -> Self {
        Self::with_learning(model, None)
    }

    /// Serves `model`, learning from remote gradients when `learning` is set.
    pub fn with_learning(model: M, learning: Option<RemoteLearning>) -> Self {
        Self {
            current: RwLock::new(Arc::new(model)),
            learning,
            pending: Mutex::new(Pending {
                grad: None,
                requests: 0,
            }),
        }
    }

    pub fn refresh(&self, model: M) {
        let fresh = Arc::new(model);
        match self.current.write() {
            Ok(mut slot) => *slot = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
    }

    /// The copy being served now.
    pub fn snapshot(&self) -> Arc<M> {
        match self.current.read() {
            Ok(slot) => slot.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The summed remote gradient and how many requests contributed, if any arrived since the
    /// last call.
    pub fn take_remote_grad(&self) -> Option<(M::EncoderGrad, u64)> {
        let mut p = match self.pending.lock() {
            Ok(p) => p,
            Err(poisoned) => poisoned.into_inner(),
        };
        let requests = std::mem::take(&mut p.requests);
        p.grad.take().map(|g| (g, requests))
    }

    fn learn(&self, model: &M, req: &BackwardRequest<'_>) -> bt_nn::Result<()> {
        let Some(cfg) = self.learning else {
            return Ok(());
        };
        // the request's gradient is the sum over its rows, computed a slice at a time; the
        // clip below applies to the whole request
        let mut grad: Option<M::EncoderGrad> = None;
        for (x, g) in req.chunks::<M>() {
            let part = model.encoder_param_grad(x, g)?;
            match grad.as_mut() {
                Some(sum) => {
                    sum.add_clipped(&part, 1.0, f32::INFINITY);
                }
                None => grad = Some(part),
            }
        }
        let Some(grad) = grad else {
            return Ok(());
        };
        let mut p = match self.pending.lock() {
            Ok(p) => p,
            Err(poisoned) => poisoned.into_inner(),
        };
        let acc = p.grad.get_or_insert_with(|| grad.zeros_like());
        if acc.add_clipped(&grad, cfg.scale, cfg.max_norm) > 0.0 {
            p.requests += 1;
        }
        Ok(())
    }
}

impl<M: NeuronModel> Synapse for ServedModel<M> {
    fn modalities(&self) -> &[Modality] {
        M::INPUT.modalities()
    }

    fn output_dim(&self) -> Option<usize> {
        Some(M::CONTEXT_DIM)
    }

    fn forward(&self, modality: Modality, input: Tensor) -> Result<Tensor, SynapseError> {
        serve_forward(&*self.snapshot(), modality, input)
    }

    fn backward(
        &self,
        inputs: Vec<Tensor>,
        grads: Vec<Tensor>,
    ) -> Result<Vec<Tensor>, SynapseError> {
        let model = self.snapshot();
        if self.learning.is_none() {
            return serve_backward(&*model, &inputs, &grads);
        }
        let req = backward_request::<M>(&inputs, &grads)?;
        let reply = input_grad_reply(&*model, &req)?;
        self.learn(&model, &req).map_err(synapse_error)?;
        Ok(reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bt_nn::MnistModel;
    use bt_nn::dataset::MNIST_STD;
    use bt_nn::mnist::{CONTEXT_DIM, IMAGE_DIM};

    fn images_from_wire(t: &Tensor) -> Result<(usize, Vec<f32>), SynapseError> {
        MnistModel::INPUT.from_wire(t)
    }

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
        let back = MnistModel::INPUT
            .to_wire(&normalized, 3)
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
