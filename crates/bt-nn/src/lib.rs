//! # bt-nn: the ML side of a neuron
//!
//! Bird's-eye view: [`dataset`] loads MNIST-like IDX files ([`idx`]) into normalized in-memory
//! datasets with seeded mini-batches; [`mnist::MnistModel`] is the MNIST synapse (student,
//! forward network, target head) trained by one fused step on the [`dense`] engine — a
//! hand-written dense layer on the `gemm` kernel, checked against candle autograd — and
//! [`cifar::CifarModel`] is the CIFAR synapse on a DPN trunk ([`dpn`], [`conv`], [`norm`],
//! [`pool`]). Both are [`NeuronModel`]s, what the neuron runtime is generic over; [`checkpoint`]
//! stores any of them as safetensors through candle ([`params`] lists their tensors), and
//! [`average`] keeps the moving average of the weights that a neuron evaluates. [`router`] holds the sparse
//! mixture-of-peers router (written with candle autograd). Nothing here does network I/O
//! (except the opt-in [`download`]): remote calls are the network crates' job; this crate only
//! exposes what they need — the served encoding ([`MnistModel::encode`]: the forward network
//! over the image and the student's output), its vector–Jacobian product and parameter
//! gradient, and the gradient with respect to the network context.
//!
//! ```
//! use bt_interfaces::{Modality, Synapse, Tensor};
//! use bt_nn::{GradMode, MnistModel};
//!
//! let mut model = MnistModel::new(0);
//! let x = vec![0.1f32; 2 * 784]; // two normalized images
//! let context = model.student(&x)?; // alone: the context is our own student output
//! let sgd = GradMode::Sgd { lr: 0.01, momentum: 0.9 };
//! let losses = model.step(&x, &[3, 7], &context, sgd, false)?;
//! assert!(losses.total().is_finite());
//! // what a peer's Forward request gets: the encoding, not the student
//! let images = Tensor::from_f32_vec(&[2, 1, 28, 28], vec![0.5; 2 * 784], Modality::Image)?;
//! let served = model.forward(Modality::Image, images.clone())?;
//! assert_eq!(served.shape(), [2, 1024]);
//! // what a peer's Backward request gets: the gradient of its images, in the wire's units
//! let input_grad = model.backward(vec![images], vec![served])?;
//! assert_eq!(input_grad[0].shape(), [2, 1, 28, 28]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// Tests may unwrap: a panic is the failure report there.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod average;
pub mod candle_ref;
pub mod checkpoint;
mod checks;
pub mod cifar;
pub mod cifar_data;
#[cfg(test)]
mod cifar_tests;
pub mod cifar_train;
pub mod conv;
mod conv_kernels;
#[cfg(test)]
mod conv_tests;
pub mod dataset;
pub mod dense;
pub mod download;
pub mod dpn;
pub mod error;
pub mod gemm_ops;
pub mod heads;
pub mod idx;
pub mod images;
pub mod input;
pub mod mnist;
#[cfg(test)]
mod mnist_tests;
mod models;
pub mod neuron_model;
pub mod norm;
pub mod params;
pub mod pool;
pub mod remote;
pub mod router;
#[cfg(test)]
mod router_tests;
pub mod synapse;
pub mod text;
pub mod train;

pub use average::WeightAverage;
pub use checkpoint::TrainingState;
pub use cifar::CifarModel;
pub use conv::{Conv2d, ConvScratch, ConvSpec};
pub use dataset::{Batch, Dataset, default_mnist_dir};
pub use dense::{Dense, GradMode};
pub use error::synapse_error;
pub use error::{NnError, Result};
pub use images::ImageFormat;
pub use input::{IMAGE_MODALITIES, InputFormat, TOKEN_MODALITIES, TokenFormat};
pub use mnist::{MnistModel, StepLosses};
pub use models::NoEncoderGrad;
pub use neuron_model::{EncoderGradient, NeuronModel, TrainConfig, TrainingData, accuracy};
pub use norm::BatchNorm2d;
pub use params::{Parameters, Slot, SlotRole};
pub use remote::{EncoderGrad, LayerGrad};
pub use router::{Dispatch, Joined, PeerOutcome, Router, RouterConfig, Routing};
pub use text::{MINILM_DIM, MiniLm, MinilmFiles, TextError, TextLimits, TextSynapse};
pub use train::{train_epoch_alone, train_epoch_averaged};
