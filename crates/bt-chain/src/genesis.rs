//! Chain-wide parameters fixed at genesis, and the genesis state itself.
//!
//! The genesis endows `endowed` accounts. Development chains ([`Genesis::local_dev`], the
//! node's `--dev`) also have a faucet: the `Faucet` call tops any coldkey up to
//! `faucet_amount` (1000 TAO) so a fresh wallet can create a subnet and register without a
//! pre-funded key. Other chains have none (`faucet_amount = 0`): free money there would make
//! every fee and burn meaningless.
//!
//! Every chain has its own genesis hash: the `seed` is part of the configuration the genesis
//! block commits to, and a node picks a random one when none is configured (then keeps it in
//! its database). Transactions sign over the genesis hash, so one signed for a chain is
//! refused by every other.

use crate::hash::{Hash, blake2_256};
use crate::hparams::{Hyperparams, RAO_PER_TAO};
use crate::keys::AccountId;
use crate::tx::Call;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Genesis {
    /// Free balances at block 0.
    pub endowed: Vec<(AccountId, u64)>,
    /// What the faucet tops an account up to (rao); 0 (the default, every chain but
    /// [`Genesis::local_dev`]) disables it.
    pub faucet_amount: u64,
    /// The transaction fee (rao, burned), default 0.001 TAO. Every included transaction whose
    /// call fails pays it, and so does every successful call but the free ones
    /// ([`Genesis::fee_on_success`]). A paying call's fee is taken before it runs; a transaction
    /// whose signer cannot pay is left out of the block, so nothing is free to include but
    /// a free call that succeeds.
    #[serde(alias = "failed_tx_fee")]
    pub tx_fee: u64,
    /// Emission per block per subnet (rao), distributed by each subnet's epoch.
    pub block_emission: u64,
    /// Burned to create a subnet (rao).
    pub subnet_creation_cost: u64,
    pub max_subnets: u16,
    /// Hyperparameters a new subnet starts with (CONSENSUS.md defaults unless overridden).
    pub subnet_defaults: Hyperparams,
    /// A free-form label, part of the genesis hash.
    pub chain_id: String,
    /// Makes this chain's genesis hash its own (and so its transactions). `None` in a
    /// configuration means "pick one": the store chooses a random seed for a new database and
    /// reads the stored one back on restart (`Store::open`).
    pub seed: Option<Hash>,
}

impl Default for Genesis {
    fn default() -> Self {
        Self {
            endowed: Vec::new(),
            faucet_amount: 0,
            tx_fee: RAO_PER_TAO / 1000,
            block_emission: RAO_PER_TAO,
            subnet_creation_cost: 10 * RAO_PER_TAO,
            max_subnets: 64,
            subnet_defaults: Hyperparams::default(),
            chain_id: "bt-local".to_string(),
            seed: None,
        }
    }
}

impl Genesis {
    /// A genesis for tests and experiments: a faucet of 1000 TAO, tempo `tempo`, commit-reveal
    /// off, no rate limits, `min_allowed_weights` 1, short immunity, cheap registration.
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
            faucet_amount: 1000 * RAO_PER_TAO,
            ..Self::default()
        }
    }

    /// This genesis with a fresh random seed if it has none.
    pub fn with_random_seed(mut self) -> Self {
        if self.seed.is_none() {
            let mut seed = [0u8; 32];
            rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut seed);
            self.seed = Some(seed);
        }
        self
    }

    /// What `call` pays when it succeeds: [`Genesis::tx_fee`] for calls a coldkey signs
    /// (transfers, stake, subnets, burned registrations, hyperparameters); nothing for the
    /// faucet of a development chain (its callers hold nothing yet) and for the calls a hotkey
    /// signs to do its work (weights, commits, reveals, axon, proof-of-work registration), which
    /// hotkeys holding no balance must be able to make, as on subtensor (`Pays::No`), and which
    /// registration, proof of work and per-neuron rate limits bound instead. A failed call pays
    /// [`Genesis::tx_fee`] whatever it is.
    pub fn fee_on_success(&self, call: &Call) -> u64 {
        match call {
            Call::Transfer { .. }
            | Call::CreateSubnet { .. }
            | Call::SetHyperparam { .. }
            | Call::BurnedRegister { .. }
            | Call::AddStake { .. }
            | Call::RemoveStake { .. } => self.tx_fee,
            Call::Faucet
            | Call::PowRegister { .. }
            | Call::ServeAxon { .. }
            | Call::SetWeights { .. }
            | Call::CommitWeights { .. }
            | Call::RevealWeights { .. } => 0,
        }
    }

    /// Identifies the configuration (part of the genesis block's hash).
    pub fn config_hash(&self) -> Hash {
        blake2_256(&serde_json::to_vec(self).unwrap_or_default())
    }
}
