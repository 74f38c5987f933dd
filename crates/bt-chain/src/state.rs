//! The chain state: accounts, stake, subnets and their neurons. Plain data in ordered maps so
//! that its encoding is deterministic; its state root is kept up to date block by block.

use crate::axon::AxonInfo;
use crate::error::ChainError;
use crate::hash::Hash;
use crate::hparams::Hyperparams;
use crate::keys::AccountId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub balance: u64,
    /// The nonce the next transaction from this account must carry.
    pub nonce: u64,
}

/// One pending weight commitment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    pub hash: Hash,
    pub block: u64,
    pub epoch: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Neuron {
    pub hotkey: AccountId,
    pub coldkey: AccountId,
    pub registered_at: u64,
    /// Block of the last accepted weights (the registration block until then).
    pub last_update: u64,
    /// Block of the last accepted weights, for the rate limit (None: never set).
    pub last_weights_block: Option<u64>,
    pub axon: Option<AxonInfo>,
    /// Sparse row, max-upscaled to 65535.
    pub weights: Vec<(u16, u16)>,
    pub bonds: Vec<(u16, u16)>,
    pub validator_permit: bool,
    pub active: bool,
    pub validator_trust: u16,
    pub consensus: u16,
    pub incentive: u16,
    pub dividends: u16,
    pub rank: u16,
    pub trust: u16,
    /// Emission of the last epoch (rao).
    pub emission: u64,
}

impl Neuron {
    pub fn new(hotkey: AccountId, coldkey: AccountId, block: u64) -> Self {
        Self {
            hotkey,
            coldkey,
            registered_at: block,
            last_update: block,
            last_weights_block: None,
            axon: None,
            weights: Vec::new(),
            bonds: Vec::new(),
            validator_permit: false,
            active: true,
            validator_trust: 0,
            consensus: 0,
            incentive: 0,
            dividends: 0,
            rank: 0,
            trust: 0,
            emission: 0,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    pub netuid: u16,
    pub owner_coldkey: AccountId,
    pub owner_hotkey: AccountId,
    pub hparams: Hyperparams,
    /// Index = uid.
    pub neurons: Vec<Neuron>,
    pub burn: u64,
    pub registrations_this_block: u16,
    pub registrations_this_interval: u16,
    pub last_epoch_block: u64,
    /// Pending commits per hotkey (bounded by `MAX_PENDING_COMMITS`).
    pub commits: BTreeMap<AccountId, VecDeque<Commit>>,
}

impl Subnet {
    pub fn uid_of(&self, hotkey: &AccountId) -> Option<u16> {
        self.neurons
            .iter()
            .position(|n| &n.hotkey == hotkey)
            .and_then(|i| u16::try_from(i).ok())
    }

    pub fn n(&self) -> u16 {
        u16::try_from(self.neurons.len()).unwrap_or(u16::MAX)
    }

    /// Epoch index of `block` (subtensor's `(block + netuid + 1) / (tempo + 1)`).
    pub fn epoch_index(&self, block: u64) -> u64 {
        (block + u64::from(self.netuid) + 1) / (u64::from(self.hparams.tempo) + 1)
    }

    /// Whether the epoch runs at the end of `block` (subtensor's `blocks_until_next_epoch == 0`).
    pub fn is_epoch_block(&self, block: u64) -> bool {
        (block + u64::from(self.netuid) + 1).is_multiple_of(u64::from(self.hparams.tempo) + 1)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainState {
    /// Number of the last applied block (0 = genesis).
    pub block: u64,
    /// Hash of the last applied block.
    pub head_hash: Hash,
    /// Time of the last applied block (ms since the Unix epoch, as given to `apply_block`).
    pub time_ms: u64,
    pub accounts: BTreeMap<AccountId, Account>,
    /// hotkey → coldkey → stake (rao).
    pub stake: BTreeMap<AccountId, BTreeMap<AccountId, u64>>,
    /// hotkey → the coldkey that registered it first.
    pub hotkey_owner: BTreeMap<AccountId, AccountId>,
    pub subnets: BTreeMap<u16, Subnet>,
    /// Recent block hashes (number → hash) for proof of work, bounded to `POW_WINDOW`.
    pub recent_hashes: BTreeMap<u64, Hash>,
    /// Seals already used (hex, so the JSON encoding has string keys), with the block they
    /// were used in; pruned after `POW_WINDOW`.
    pub used_work: BTreeMap<String, u64>,
    pub total_issuance: u64,
    /// The state root's tree, carried from block to block (`root_cache`).
    #[serde(skip)]
    pub(crate) root_cache: crate::root_cache::RootCache,
}

impl ChainState {
    pub fn to_bytes(&self) -> Result<Vec<u8>, ChainError> {
        serde_json::to_vec(self).map_err(|e| ChainError::storage("encode state", e))
    }

    pub fn from_bytes(b: &[u8]) -> Result<Self, ChainError> {
        serde_json::from_slice(b).map_err(|e| ChainError::storage("decode state", e))
    }

    pub fn balance(&self, a: &AccountId) -> u64 {
        self.accounts.get(a).map_or(0, |x| x.balance)
    }

    pub fn nonce(&self, a: &AccountId) -> u64 {
        self.accounts.get(a).map_or(0, |x| x.nonce)
    }

    /// Total stake on a hotkey, over all coldkeys.
    pub fn total_stake(&self, hotkey: &AccountId) -> u64 {
        self.stake
            .get(hotkey)
            .map_or(0, |m| m.values().fold(0u64, |a, b| a.saturating_add(*b)))
    }

    pub fn stake_of(&self, coldkey: &AccountId, hotkey: &AccountId) -> u64 {
        self.stake
            .get(hotkey)
            .and_then(|m| m.get(coldkey))
            .copied()
            .unwrap_or(0)
    }

    pub fn subnet(&self, netuid: u16) -> Result<&Subnet, ChainError> {
        self.subnets
            .get(&netuid)
            .ok_or(ChainError::SubnetNotFound(netuid))
    }

    pub fn subnet_mut(&mut self, netuid: u16) -> Result<&mut Subnet, ChainError> {
        self.subnets
            .get_mut(&netuid)
            .ok_or(ChainError::SubnetNotFound(netuid))
    }
}
