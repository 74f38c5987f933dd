//! Running neurons: the composition of model, axon, dendrite, metagraph and router.
//!
//! The network crates never see the ML framework; this crate is where the two meet:
//! [`served::ServedModel`] is the served copy of a bt-nn model (a `bt_interfaces::Synapse`, as
//! every served model is), and
//! [`trainer::Trainer`] drives the seeds' learning loop over the dendrite and the router.
//!
//! - [`run_echo`]: `bittensor neuron echo`, a synapse that answers with its input.
//! - [`run`]: `bittensor neuron mnist` and `bittensor neuron cifar`, the seeds' neuron over any
//!   bt-nn [`bt_nn::NeuronModel`] (with opt-in learning from peers' gradients,
//!   [`RemoteLearning`], where the model has it); [`Neuron`] is the same neuron as a value, for
//!   in-process networks (tests, the `network-effect` bench).
//! - [`progress`]: a bar on a terminal, the seeds' log lines otherwise.
//!
//! Both run under an [`identity::Identity`] the caller takes first with [`identity::acquire`]:
//! one key per running neuron, held under a lock, and by default a key per neuron under
//! `neurons/` ([`identity::KeyChoice`]).
//!
//! Both print a [`report::Ready`] line when they serve and the seeds' log lines while they
//! train; `bittensor localnet` reads the same lines.
//!
//! What an MNIST neuron serves is its encoding (bt-nn `MnistModel::encode`: the forward network
//! over the image and the student's output, trained by the labels), as Release 1 did; its peers
//! use it as the context of their network path and their students distil it. That is what makes
//! the network worth joining: in the `network-effect` bench a new neuron joining two trained
//! peers reaches each MNIST test accuracy threshold through its network path in fewer steps
//! than alone (README "Benchmarks", Network effect); its local path (own student as context) is
//! not faster yet, because its student needs longer than the bench runs to imitate the peers'
//! encodings.

// Tests may unwrap: a panic is the failure report there.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod chain_target;
pub mod config;
mod echo;
pub mod error;
pub mod identity;
pub mod metrics;
pub mod network;
pub mod peers;
pub mod progress;
pub mod report;
pub mod role;
pub mod runtime;
pub mod served;
pub mod subnet;
mod teacher;
pub mod trainer;

pub use config::NeuronConfig;
pub use echo::run_echo;
pub use error::{NeuronError, Stopped};
pub use role::{Learner, Role};
pub use runtime::{Neuron, run};
pub use served::RemoteLearning;
pub use teacher::run_teacher;
