//! A client for the real Bittensor chain: subtensor, a Substrate chain.
//!
//! Everything runtime-specific comes from the runtime's own metadata: pallet and call indices,
//! storage keys and hashers, argument and answer types, the signed extensions a transaction
//! must carry, and the names of dispatch errors. Values are `scale_value::Value`s encoded and
//! decoded against the metadata's type registry, so a runtime upgrade that moves or reshapes an
//! item changes what we send, not whether we can talk to it; an item that is gone is reported by
//! name with the runtime's specVersion.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod error;
pub mod metadata;

pub use error::SubtensorError;
pub use metadata::Metadata;
pub mod client;
pub mod codec;
pub mod extrinsic;
pub mod hyperparams;
pub mod network;
pub mod rpc;
pub use client::{Included, Subtensor};
pub use rpc::RpcConfig;
pub mod ops;
pub use bt_interfaces::{AxonRow, NeuronRow, SubnetMetagraph};
pub use ops::{HyperValue, RAO_PER_TAO};
mod chain;
pub mod dev;
