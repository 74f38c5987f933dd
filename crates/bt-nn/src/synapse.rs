//! The neuron models as [`bt_interfaces::Synapse`]s (seed 003 §7: `forward_image`,
//! `forward_tensor`, `forward_text`, `backward`), through [`crate::neuron_model`]'s serving
//! functions; wire inputs are [`crate::input`]'s. The answer is the model's own output buffer,
//! which the codec sends without copying.

use bt_interfaces::{Synapse, SynapseError};
use bt_tensor::{Modality, Tensor};

use crate::cifar::CifarModel;
use crate::mnist::MnistModel;
use crate::neuron_model::{NeuronModel, serve_backward, serve_forward};
use crate::text::TextModel;

/// A model's synapse: its input in, its encoding out (the forward network over the input and
/// the student's output; MNIST's is 1024 wide, CIFAR's 256, text's 384); backward is the
/// encoding's vector–Jacobian product where the input has a gradient.
macro_rules! neuron_synapse {
    ($model:ty) => {
        impl Synapse for $model {
            fn modalities(&self) -> &[Modality] {
                <$model as NeuronModel>::INPUT.modalities()
            }

            fn output_dim(&self) -> Option<usize> {
                Some(<$model as NeuronModel>::CONTEXT_DIM)
            }

            fn forward(
                &self,
                modality: Modality,
                input: Tensor,
            ) -> std::result::Result<Tensor, SynapseError> {
                serve_forward(self, modality, input)
            }

            fn backward(
                &self,
                inputs: Vec<Tensor>,
                grads: Vec<Tensor>,
            ) -> std::result::Result<Vec<Tensor>, SynapseError> {
                serve_backward(self, &inputs, &grads)
            }
        }
    };
}

neuron_synapse!(MnistModel);
neuron_synapse!(CifarModel);
neuron_synapse!(TextModel);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mnist::{CONTEXT_DIM, IMAGE_DIM};

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
        let crate::InputFormat::Image(format) = MnistModel::INPUT else {
            panic!("mnist takes images")
        };
        let normalized = format.normalize(&img.to_f32_vec().unwrap(), 2).unwrap();
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
    fn a_request_larger_than_a_slice_is_computed_in_slices_with_the_same_answer() {
        let rows = MnistModel::EVAL_CHUNK * 2 + 3;
        let m = MnistModel::new(4);
        let x = wire(rows, Modality::Image);
        let out = m.forward(Modality::Image, x.clone()).unwrap();
        let (_, normalized) = MnistModel::INPUT.from_wire(&x).unwrap();
        let whole = m.encode(&normalized).unwrap();
        let served = out.to_f32_vec().unwrap();
        assert_eq!(served.len(), whole.len());
        let worst = served
            .iter()
            .zip(&whole)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-5, "{worst}");
        let g = Tensor::from_f32_vec(
            &[rows, CONTEXT_DIM],
            vec![0.01; rows * CONTEXT_DIM],
            Modality::Tensor,
        )
        .unwrap();
        let dx = m.backward(vec![x], vec![g]).unwrap();
        let direct = m
            .encode_vjp(&normalized, &vec![0.01; rows * CONTEXT_DIM])
            .unwrap();
        let dx = dx[0].to_f32_vec().unwrap();
        for (a, b) in dx.iter().zip(&direct) {
            assert!((a * crate::dataset::MNIST_STD - b).abs() < 1e-5);
        }
    }

    #[test]
    fn wire_images_round_trip_through_normalization() {
        let x = wire(3, Modality::Image);
        let (rows, normalized) = MnistModel::INPUT.from_wire(&x).unwrap();
        assert_eq!(rows, 3);
        let back = MnistModel::INPUT
            .to_wire(&normalized, 3)
            .unwrap()
            .to_f32_vec()
            .unwrap();
        for (a, b) in back.iter().zip(x.to_f32_vec().unwrap()) {
            assert!((a - b).abs() < 1e-6);
        }
    }
}
