//! What an operator chooses when starting a node, and the [`NodeConfig`] it makes. Everything
//! else (mempool and RPC limits) keeps [`NodeConfig::new`]'s defaults.

use crate::error::ChainError;
use crate::genesis::Genesis;
use crate::hash::Hash;
use crate::hparams::HyperparamKey;
use crate::node::{BlockMode, NodeConfig};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct NodeOptions {
    pub mode: BlockMode,
    /// redb file; None = in memory (nothing survives a restart).
    pub db: Option<PathBuf>,
    /// Where the JSON-RPC server listens; port 0 picks one.
    pub rpc_addr: SocketAddr,
    /// Tempo of new subnets; None keeps CONSENSUS.md's 360.
    pub tempo: Option<u16>,
    /// `Genesis::local_dev` settings: the faucet, commit-reveal off, no rate limits, cheap
    /// registration. Without it the chain has no faucet.
    pub dev: bool,
    /// The genesis seed (part of the genesis hash). None: a random one for a new database, the
    /// stored one for an existing database.
    pub genesis_seed: Option<Hash>,
}

impl Default for NodeOptions {
    fn default() -> Self {
        Self {
            mode: BlockMode::Interval(Duration::from_secs(1)),
            db: None,
            rpc_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 9944)),
            tempo: None,
            dev: false,
            genesis_seed: None,
        }
    }
}

impl NodeConfig {
    /// The configuration `opts` describe. A zero block interval is refused
    /// ([`ChainError::ZeroBlockInterval`]): the producer would spin instead of waiting; a zero
    /// tempo is refused as the `tempo` hyperparameter refuses it.
    pub fn from_options(opts: NodeOptions) -> Result<Self, ChainError> {
        if opts.mode == BlockMode::Interval(Duration::ZERO) {
            return Err(ChainError::ZeroBlockInterval);
        }
        let mut genesis = if opts.dev {
            Genesis::local_dev(360)
        } else {
            Genesis::default()
        };
        genesis.seed = opts.genesis_seed;
        if let Some(tempo) = opts.tempo {
            HyperparamKey::Tempo.apply(&mut genesis.subnet_defaults, u64::from(tempo), 0)?;
        }
        Ok(Self {
            db: opts.db,
            mode: opts.mode,
            rpc_addr: opts.rpc_addr,
            ..Self::new(genesis)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_make_the_config_they_describe() {
        let cfg = NodeConfig::from_options(NodeOptions {
            mode: BlockMode::Instant,
            tempo: Some(3),
            dev: true,
            ..NodeOptions::default()
        })
        .unwrap();
        assert_eq!(cfg.mode, BlockMode::Instant);
        assert_eq!(cfg.genesis.subnet_defaults.tempo, 3);
        assert!(!cfg.genesis.subnet_defaults.commit_reveal_weights_enabled);
        assert_eq!(cfg.rpc_addr.port(), 9944);
    }

    #[test]
    fn zero_interval_and_zero_tempo_are_refused() {
        let zero_interval = NodeOptions {
            mode: BlockMode::Interval(Duration::ZERO),
            ..NodeOptions::default()
        };
        assert_eq!(
            NodeConfig::from_options(zero_interval).unwrap_err(),
            ChainError::ZeroBlockInterval
        );
        let zero_tempo = NodeOptions {
            tempo: Some(0),
            ..NodeOptions::default()
        };
        assert!(matches!(
            NodeConfig::from_options(zero_tempo),
            Err(ChainError::InvalidHyperparam { key, value: 0, .. }) if key == "tempo"
        ));
    }
}
