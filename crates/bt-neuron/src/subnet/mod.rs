//! Subnets in action: miners and validators on the local chain, for one task (MNIST digits).
//!
//! # Bird's-eye view
//! ```text
//!             bt-chain (metagraph, serve_axon, set_weights, epochs)
//!               ▲  ▲ refresh (deadline)                 ▲ set_weights / commit+reveal
//!   ┌───────────┘  └──────────────┐                     │ every tempo
//!  Miner                        Validator ──────────────┘
//!   axon: Classifier              dendrite ── IMAGE [B,784] ──► every miner's axon
//!   policy: PermitPolicy          score = mean p(true label), EMA per uid
//! ```
//! - [`ChainMetagraph`]: the metagraph of one subnet from the chain, as a
//!   [`bt_interfaces::MetagraphSource`] (synapses = served axons, weights = our row on chain,
//!   set_weights = a transaction, commit-reveal when the subnet asks for it). Every call has a
//!   deadline.
//! - **Identity.** Requests are signed with Ed25519 neuron keys, chain accounts are sr25519.
//!   `serve_axon` publishes the neuron key and the synapse key with the axon, signed by both the
//!   hotkey (the transaction) and the neuron key (`bt_chain::AxonIdentity`), so a uid's
//!   Ed25519 key is known and provably consented to.
//! - [`PermitPolicy`]: the seeds' bipartite rule on the miner's axon. A caller is served only
//!   if its neuron key is bound to a uid holding a validator permit on the netuid; everyone
//!   else gets `PERMISSION_DENIED` with "miner answers only validators with a permit on netuid
//!   N". The key set is rebuilt from every metagraph refresh.
//! - [`task`]: the query (IMAGE `[B,784]`), the answer (logits `[B,10]`), the score.
//! - [`run_miner`] / [`run_validator`]: the two roles. Both serve a [`task::Classifier`] behind
//!   the permit policy (the validator's axon is what puts its neuron key on the chain) and print
//!   progress lines through [`Progress`]. Model inference runs on the axon's blocking pool and
//!   query sampling on Tokio's; the async tasks only move tensors and talk to the chain.

pub mod error;
mod miner;
mod neuron;
mod permit;
mod source;
pub mod task;
mod validator;
pub mod weights;

pub use error::SubnetError;
pub use miner::{MinerConfig, run_miner};
pub use neuron::{AXON_PROTOCOL, AXON_VERSION, NeuronSettings, Progress, print_progress};
pub use permit::PermitPolicy;
pub use source::{ChainMetagraph, WeightsOutcome, epoch_index, synapse_infos, uid_of_synapse};
pub use validator::{ValidatorConfig, run_validator};
