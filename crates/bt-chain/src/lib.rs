//! The local Subtensor chain.
//!
//! # Bird's-eye view
//! - **Core (no I/O).** [`ChainState`] is plain ordered data; [`apply_block`] takes a state, the
//!   candidate transactions and the block time and returns the next block, state and receipts;
//!   [`import_block`] re-executes a stored block and checks its header. Every rule violation is
//!   a [`ChainError`] variant. The per-tempo epoch calls `bt_consensus::epoch`.
//! - **Transactions.** [`SignedTx`]: sr25519 (`substrate` context) over a canonical binary
//!   encoding (see the `codec` module), a nonce per account, bound to the genesis hash.
//!   Every chain's genesis hash is its own (a random or configured seed), so a transaction
//!   signed for one chain is refused by another as [`ChainError::WrongChain`].
//!   Coldkeys sign funds, stake and subnet operations; hotkeys sign weights, commits, reveals,
//!   axons and proof-of-work registrations. An axon also carries the Ed25519 neuron and
//!   synapse keys of the tensor protocol, bound to the hotkey by both keys' signatures
//!   ([`axon`]).
//! - **Storage.** [`store::Store`] keeps blocks, receipts and the state in redb, the state as
//!   one row per account, stake, subnet and neuron, of which a block rewrites only those it
//!   changed; one write transaction per block, so a crash loses no committed block and a
//!   restart resumes exactly.
//! - **Fees and the pool.** Every coldkey call pays `Genesis::tx_fee` (burned) before it runs;
//!   a hotkey's upkeep calls (weights, axon, proof-of-work registration) and a dev chain's faucet
//!   are free when they succeed ([`Genesis::fee_on_success`]); any call that fails pays the fee,
//!   or is left out when its signer cannot pay; the pool refuses what could not pay, and what
//!   would fail where the head state tells (`admission`). The faucet exists on development
//!   chains only.
//! - **Node.** [`ChainNode::start`] runs the authority (block timer or instant mode), a bounded
//!   mempool and the JSON-RPC server (HTTP and WebSocket on one port);
//!   [`NodeConfig::from_options`] makes its configuration from what an operator chooses
//!   ([`NodeOptions`]).
//! - **Client.** The [`NodeClient`] trait (submit, metagraph, block, subscribe) and [`RpcChain`],
//!   its jsonrpsee implementation; [`NodeClientExt`] signs and submits each call (faucet, subnets,
//!   registration, stake, hyperparameters) and waits for its receipt. Presentation (tables,
//!   flag names) is the `bittensor` binary's.
//!
//! # Example
//! ```no_run
//! # async fn demo() -> Result<(), bt_chain::ChainError> {
//! use bt_chain::{NodeClient, NodeClientExt, ChainNode, NodeConfig, RpcChain, Keypair};
//! let node = ChainNode::start(NodeConfig::instant_in_memory(10)).await?;
//! let chain = RpcChain::connect(&format!("ws://{}", node.local_addr())).await?;
//! let cold = Keypair::dev("alice");
//! chain.faucet(&cold).await?;
//! let netuid = chain.create_subnet(&cold, &Keypair::dev("alice-hot").account()).await?;
//! let mg = chain.metagraph(netuid).await?;
//! assert_eq!(mg.n, 1);
//! node.shutdown().await;
//! # Ok(()) }
//! ```

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod admission;
mod apply;
pub mod axon;
mod block;
pub mod client;
mod codec;
mod epoch;
mod error;
mod genesis;
mod hash;
mod hparams;
mod keys;
pub mod metagraph;
mod metrics;
mod neutral;
pub mod node;
mod node_options;
mod producer;
mod root_cache;
pub mod rpc;
mod ss58;
mod state;
mod state_root;
mod state_tables;
pub mod store;
mod tx;
mod weights;

pub use apply::POW_WINDOW;
pub use axon::{AxonEndpoint, AxonIdentity, AxonInfo};
pub use block::{
    Block, Header, MAX_BLOCK_TXS, Produced, Receipt, Rejected, apply_block, genesis, import_block,
};
pub use client::{NodeClient, NodeClientExt, RpcChain};
pub use codec::MAX_TX_BYTES;
pub use error::{ChainError, Result};
pub use genesis::Genesis;
pub use hash::{Hash, blake2_256};
pub use hparams::{HyperparamKey, Hyperparams, MAX_UIDS_CAP, RAO_PER_TAO};
pub use keys::{AccountId, Keypair, SS58_PREFIX};
pub use metagraph::Metagraph;
pub use neutral::subnet_metagraph;
pub use node::{BlockMode, ChainNode, NodeConfig};
pub use node_options::NodeOptions;
pub use state::{Account, ChainState, Commit, Neuron, Subnet};
pub use tx::{
    Call, MAX_SALT_BYTES, SignedTx, commit_hash, pow_seal, seal_meets_difficulty, solve_pow,
};
pub use weights::MAX_PENDING_COMMITS;

#[cfg(test)]
mod tests;
