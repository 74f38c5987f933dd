//! Chain-wide parameters fixed at genesis, and the genesis state itself.
//!
//! Local use: the genesis endows `endowed` accounts, and the `Faucet` call tops any coldkey up
//! to `faucet_amount` (default 1000 TAO) so a fresh wallet can create a subnet and register
//! without a pre-funded key. Set `faucet_amount = 0` for a chain without a faucet.

use crate::hash::{Hash, blake2_256};
use crate::hparams::{Hyperparams, RAO_PER_TAO};
use crate::keys::AccountId;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Genesis {
    /// Free balances at block 0.
    pub endowed: Vec<(AccountId, u64)>,
    /// What the faucet tops an account up to (rao); 0 disables it.
    pub faucet_amount: u64,
    /// Emission per block per subnet (rao), distributed by each subnet's epoch.
    pub block_emission: u64,
    /// Burned to create a subnet (rao).
    pub subnet_creation_cost: u64,
    pub max_subnets: u16,
    /// Hyperparameters a new subnet starts with (CONSENSUS.md defaults unless overridden).
    pub subnet_defaults: Hyperparams,
    /// A free-form label so two local chains with the same settings get different genesis
    /// hashes (and transactions signed for one are invalid on the other).
    pub chain_id: String,
}

impl Default for Genesis {
    fn default() -> Self {
        Self {
            endowed: Vec::new(),
            faucet_amount: 1000 * RAO_PER_TAO,
            block_emission: RAO_PER_TAO,
            subnet_creation_cost: 10 * RAO_PER_TAO,
            max_subnets: 64,
            subnet_defaults: Hyperparams::default(),
            chain_id: "bt-local".to_string(),
        }
    }
}

impl Genesis {
    /// A genesis for tests and experiments: tempo `tempo`, commit-reveal off, no rate limits,
    /// `min_allowed_weights` 1, short immunity, cheap registration.
    pub fn local_dev(tempo: u16) -> Self {
        let subnet_defaults = Hyperparams {
            tempo,
            commit_reveal_weights_enabled: false,
            weights_set_rate_limit: 0,
            serving_rate_limit: 0,
            min_allowed_weights: 1,
            immunity_period: 10,
            max_regs_per_block: 64,
            min_burn: RAO_PER_TAO / 1000,
            difficulty: 1000,
            ..Hyperparams::default()
        };
        Self {
            subnet_defaults,
            ..Self::default()
        }
    }

    /// Identifies the configuration (part of the genesis block's hash).
    pub fn config_hash(&self) -> Hash {
        blake2_256(&serde_json::to_vec(self).unwrap_or_default())
    }
}
