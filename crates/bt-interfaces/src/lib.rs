//! The interfaces of a neuron: the traits and plain types that implementations and their
//! callers share, so that a new model, transport, peer source or chain plugs in without the
//! rest of the workspace depending on it (reth's `*-api` pattern).
//!
//! - [`Synapse`]: a model served on the network — forward, backward, the modalities it takes
//!   and the width it promises — over [`bt_tensor::Tensor`]s. Axons serve it, models implement
//!   it; nothing sits between the two.
//! - [`Modality`]: what a tensor represents (one definition, the wire's; re-exported from
//!   `bt-tensor`, whose validation depends on it).
//! - [`MetagraphSource`]: who the peers are, from gossip or from a chain.
//! - [`Chain`]: a chain's subnets, metagraphs and transactions (register, serve, stake, set /
//!   commit / reveal weights), implemented by the embedded chain's client and by subtensor's.
//! - [`metrics`]: the one metrics concept ([`metrics::MetricSet`], [`metrics::Registry`]) and
//!   the `bt_<component>_<what>_<unit>` naming scheme.
//! - [`Hyperparams`]: a subnet's settings (one definition, with CONSENSUS.md's defaults; it
//!   lives in `bt-consensus`, which must stay free of every other dependency, and is
//!   re-exported here).
//!
//! This crate does no I/O and pulls in nothing heavy: depending on it never means depending on
//! an implementation.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod chain;
pub mod metagraph;
pub mod metrics;
pub mod synapse;

pub use bt_consensus::Hyperparams;
pub use bt_tensor::{Modality, Tensor};
pub use chain::{
    AxonRow, AxonServe, Chain, ChainError, Included, NeuronRow, SubnetHyperparams, SubnetMetagraph,
    SubnetSummary, TensorIdentity, WeightsCommit,
};
pub use metagraph::{MetagraphSource, PeerCounts, SourceError, SourceKind, SynapseInfo};
pub use metrics::{MetricSet, Registry as MetricsRegistry};
pub use synapse::{Synapse, SynapseError};
