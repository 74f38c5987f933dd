//! The crate's one error type.

use std::time::Duration;

use bt_chain::AccountId;
use bt_interfaces::ChainError;

/// What can stop a miner or a validator, with the flag or command that fixes it where one does.
#[derive(Debug, thiserror::Error)]
pub enum SubnetError {
    #[error("chain ({op}): {source}")]
    Chain {
        op: &'static str,
        #[source]
        source: ChainError,
    },
    #[error(
        "chain did not answer {op} within {after:?} (check --chain_endpoint or --subtensor.network)"
    )]
    ChainTimeout { op: &'static str, after: Duration },
    #[error(
        "hotkey {hotkey} is not registered on netuid {netuid}; run `bittensor subnet register --netuid {netuid}` or give the wallet's coldkey"
    )]
    NotRegistered { netuid: u16, hotkey: AccountId },
    #[error("subnet {netuid} does not exist on this chain (check --netuid)")]
    NoSubnet { netuid: u16 },
    #[error("axon: {0}")]
    Axon(#[from] bt_axon::AxonError),
    #[error("dendrite: {0}")]
    Dendrite(#[from] bt_dendrite::DendriteError),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("task data: {0}")]
    Data(String),
}

impl SubnetError {
    pub(crate) fn chain(op: &'static str) -> impl FnOnce(ChainError) -> Self {
        move |source| match source {
            ChainError::NoSubnet(netuid) => Self::NoSubnet { netuid },
            source => Self::Chain { op, source },
        }
    }
}
