//! The one runtime on a subnet of a chain: miners and validators are neurons like any other
//! (model, axon, dendrite, router, trainer), with a chain-backed peer source and a role.
//!
//! # Bird's-eye view
//! ```text
//!             bt-chain (metagraph, serve_axon, set_weights, epochs)
//!               ▲  ▲ refresh (deadline)                 ▲ set_weights / commit+reveal
//!   ┌───────────┘  └──────────────┐                     │ every tempo: the router's scores
//!  Miner (role)                  Validator (role) ──────┘
//!   axon: the served model        axon: the served model, answers anyone
//!   policy: PermitPolicy          router ── IMAGE [B,784] ──► miners' axons (the training loop)
//!   trains: the Release 1 loop    trains: the Release 1 loop
//! ```
//! - [`ChainMetagraph`]: the metagraph of one subnet from the chain, as a
//!   [`bt_interfaces::MetagraphSource`] (synapses = served axons, weights = our row on chain,
//!   set_weights = a transaction, commit-reveal when the subnet asks for it). Every call has a
//!   deadline. The runtime's peer view reads it exactly as it reads gossip.
//! - **Identity.** Requests are signed with Ed25519 neuron keys, chain accounts are sr25519.
//!   `serve_axon` publishes the neuron key and the synapse key with the axon, signed by both the
//!   hotkey (the transaction) and the neuron key (`bt_chain::AxonIdentity`), so a uid's
//!   Ed25519 key is known and provably consented to.
//! - [`join`]: registers if asked, serves the runtime's synapse behind the role's policy,
//!   publishes the axon.
//! - [`PermitPolicy`]: the seeds' bipartite rule on the miner's axon. A caller is served only
//!   if its neuron key is bound to a uid holding a validator permit on the netuid; everyone
//!   else gets `PERMISSION_DENIED` with "miner answers only validators with a permit on netuid
//!   N". The key set is rebuilt from every metagraph refresh.
//! - Roles ([`crate::Role`]): [`Miner`] keeps the permit set current and reports;
//!   [`Validator`] sets the router's peer scores as its weights once per tempo, with the
//!   [`task`] score as a check (a miner far below the best one gets 0). Neither opens a
//!   connection of its own: the validator asks through the runtime's dendrite.
//! - [`task`]: MNIST classification, served by every subnet neuron beside its model under its
//!   neuron key: the query (IMAGE `[B,784]`), the answer (logits `[B,10]`), the score.
//! - [`run_subnet`]: `bittensor neuron mnist --chain_endpoint … --role miner|validator`.

pub mod error;
mod http;
mod miner;
mod neuron;
mod permit;
mod run;
mod source;
pub mod task;
mod validator;
pub mod view;
pub mod weights;

pub use error::SubnetError;
pub use miner::Miner;
pub use neuron::{
    AXON_PROTOCOL, AXON_VERSION, Joined, NeuronSettings, Progress, SubnetRole, join, print_progress,
};
pub use permit::PermitPolicy;
pub use run::run_subnet;
pub use source::{ChainMetagraph, WeightsOutcome, epoch_index, synapse_infos, uid_of_synapse};
pub use validator::{TASK_FLOOR, Validator, checked_row, router_row};
