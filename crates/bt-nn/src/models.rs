//! The two image models as [`NeuronModel`]s: their tensors, wire images and encoder gradients.

use crate::cifar::CifarModel;
use std::path::Path;

use crate::cifar_data::{
    CHANNELS, MEAN, SIDE, STD, TEST_FILE, default_cifar_dir, generate_shapes, load_dir,
};
use crate::dataset::{Dataset, MNIST_MEAN, MNIST_STD, default_mnist_dir};
use crate::dense::GradMode;
use crate::error::Result;
use crate::images::ImageFormat;
use crate::input::InputFormat;
use crate::mnist::{MnistModel, StepLosses};
use crate::neuron_model::{EncoderGradient, NeuronModel, TrainingData};
use crate::params::{Parameters, Slot, batch_norm_slots, conv_slots, dense_slots};
use crate::remote::EncoderGrad;

impl Parameters for MnistModel {
    const KIND: &'static str = "mnist";

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let mut out = Vec::new();
        for (name, layer) in self.layers_mut() {
            dense_slots(&mut out, name, layer);
        }
        out
    }
}

impl NeuronModel for MnistModel {
    const INPUT: InputFormat = InputFormat::Image(ImageFormat {
        what: "mnist images",
        channels: 1,
        side: 28,
        mean: &[MNIST_MEAN],
        std: &[MNIST_STD],
    });
    const CONTEXT_DIM: usize = crate::mnist::CONTEXT_DIM;
    const EVAL_CHUNK: usize = 1000;
    const REMOTE_LEARNING: bool = true;
    type EncoderGrad = EncoderGrad;

    fn seeded(seed: u64) -> Self {
        MnistModel::new(seed)
    }

    /// The four IDX files in `dir`, by default [`default_mnist_dir`].
    fn load_data(dir: Option<&Path>) -> Result<TrainingData> {
        let dir = dir.map_or_else(default_mnist_dir, Path::to_path_buf);
        let (train, test) = Dataset::load_dir(&dir)?;
        Ok(TrainingData {
            train,
            test,
            source: dir.display().to_string(),
        })
    }

    fn student(&self, x: &[f32]) -> Result<Vec<f32>> {
        MnistModel::student(self, x)
    }

    fn encode(&self, x: &[f32]) -> Result<Vec<f32>> {
        MnistModel::encode(self, x)
    }

    fn encode_vjp(&self, x: &[f32], g: &[f32]) -> Result<Vec<f32>> {
        MnistModel::encode_vjp(self, x, g)
    }

    fn predict(&self, x: &[f32]) -> Result<Vec<u8>> {
        MnistModel::predict(self, x)
    }

    fn predict_with_context(&self, x: &[f32], context: &[f32]) -> Result<Vec<u8>> {
        Ok(classes(&self.logits_with_context(x, context)?))
    }

    fn step(
        &mut self,
        x: &[f32],
        y: &[u8],
        context: &[f32],
        mode: GradMode,
        context_grad: bool,
    ) -> Result<StepLosses> {
        MnistModel::step(self, x, y, context, mode, context_grad)
    }

    fn context_grad(&self) -> &[f32] {
        MnistModel::context_grad(self)
    }

    fn encoder_param_grad(&self, x: &[f32], g: &[f32]) -> Result<EncoderGrad> {
        MnistModel::encoder_param_grad(self, x, g)
    }

    fn apply_encoder_grad(&mut self, grad: &EncoderGrad, lr: f32) {
        MnistModel::apply_encoder_grad(self, grad, lr);
    }
}

/// The generated set's size when no CIFAR-10 copy is found: an epoch of a neuron alone takes
/// about a minute on two cores.
const GENERATED_TRAIN: usize = 10_000;
const GENERATED_TEST: usize = 2_000;

impl Parameters for CifarModel {
    const KIND: &'static str = "cifar";

    fn slots(&mut self) -> Vec<Slot<'_>> {
        let mut out = Vec::new();
        let t = &mut self.trunk;
        conv_slots(&mut out, "stem", &mut t.stem);
        batch_norm_slots(&mut out, "stem_bn", &mut t.stem_bn);
        for (i, b) in t.blocks.iter_mut().enumerate() {
            let p = format!("blocks.{i}");
            conv_slots(&mut out, &format!("{p}.conv1"), &mut b.conv1);
            batch_norm_slots(&mut out, &format!("{p}.bn1"), &mut b.bn1);
            conv_slots(&mut out, &format!("{p}.conv2"), &mut b.conv2);
            batch_norm_slots(&mut out, &format!("{p}.bn2"), &mut b.bn2);
            conv_slots(&mut out, &format!("{p}.conv3"), &mut b.conv3);
            batch_norm_slots(&mut out, &format!("{p}.bn3"), &mut b.bn3);
            if let Some((c, n)) = &mut b.shortcut {
                conv_slots(&mut out, &format!("{p}.shortcut.0"), c);
                batch_norm_slots(&mut out, &format!("{p}.shortcut.1"), n);
            }
        }
        self.heads.slots(&mut out);
        out
    }
}

/// The CIFAR model does not learn from peers' gradients: a `Backward` through its trunk in
/// training mode would move batch norm's statistics by whatever a peer sends. This type has no
/// values, so no such gradient can exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoEncoderGrad {}

impl EncoderGradient for NoEncoderGrad {
    fn zeros_like(&self) -> Self {
        match *self {}
    }

    fn add_clipped(&mut self, _: &Self, _: f32, _: f32) -> f32 {
        match *self {}
    }
}

impl NeuronModel for CifarModel {
    const INPUT: InputFormat = InputFormat::Image(ImageFormat {
        what: "cifar images",
        channels: CHANNELS,
        side: SIDE,
        mean: &MEAN,
        std: &STD,
    });
    const CONTEXT_DIM: usize = crate::cifar::CONTEXT_DIM;
    const EVAL_CHUNK: usize = crate::cifar_train::EVAL_CHUNK;
    const REMOTE_LEARNING: bool = false;
    type EncoderGrad = NoEncoderGrad;

    fn seeded(seed: u64) -> Self {
        CifarModel::new(seed)
    }

    /// CIFAR-10's binary batches in `dir`; without one, in [`default_cifar_dir`] when it holds
    /// them, else the generated shapes set (no CIFAR-10 copy ships with the project).
    fn load_data(dir: Option<&Path>) -> Result<TrainingData> {
        let dir = match dir {
            Some(d) => Some(d.to_path_buf()),
            None => Some(default_cifar_dir()).filter(|d| d.join(TEST_FILE).exists()),
        };
        if let Some(dir) = dir {
            let (train, test) = load_dir(&dir)?;
            return Ok(TrainingData {
                train,
                test,
                source: dir.display().to_string(),
            });
        }
        Ok(TrainingData {
            train: generate_shapes(GENERATED_TRAIN, 0).normalized()?,
            test: generate_shapes(GENERATED_TEST, 1).normalized()?,
            source: format!(
                "generated shapes ({GENERATED_TRAIN} training, {GENERATED_TEST} test images)"
            ),
        })
    }

    fn student(&self, x: &[f32]) -> Result<Vec<f32>> {
        CifarModel::student(self, x)
    }

    fn encode(&self, x: &[f32]) -> Result<Vec<f32>> {
        CifarModel::encode(self, x)
    }

    fn encode_vjp(&self, x: &[f32], g: &[f32]) -> Result<Vec<f32>> {
        CifarModel::encode_vjp(self, x, g)
    }

    fn predict(&self, x: &[f32]) -> Result<Vec<u8>> {
        CifarModel::predict(self, x)
    }

    fn predict_with_context(&self, x: &[f32], context: &[f32]) -> Result<Vec<u8>> {
        Ok(classes(&self.logits_with_context(x, context)?))
    }

    fn step(
        &mut self,
        x: &[f32],
        y: &[u8],
        context: &[f32],
        mode: GradMode,
        context_grad: bool,
    ) -> Result<StepLosses> {
        CifarModel::step(self, x, y, context, mode, context_grad)
    }

    fn context_grad(&self) -> &[f32] {
        CifarModel::context_grad(self)
    }

    fn apply_encoder_grad(&mut self, grad: &NoEncoderGrad, _: f32) {
        match *grad {}
    }
}

/// The argmax class of each row of `[B, NUM_CLASSES]` logits.
fn classes(logits: &[f32]) -> Vec<u8> {
    logits
        .chunks_exact(crate::dataset::NUM_CLASSES)
        .map(|row| crate::mnist::argmax(row) as u8)
        .collect()
}
