//! The metagraph: a subnet as the chain shows it, one vector per field indexed by uid — the
//! same fields as the Python SDK's metagraph.

use crate::axon::AxonInfo;
use crate::error::ChainError;
use crate::hparams::Hyperparams;
use crate::keys::AccountId;
use crate::state::ChainState;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metagraph {
    pub netuid: u16,
    /// The block this view was taken at.
    pub block: u64,
    pub n: u16,
    pub owner_coldkey: AccountId,
    pub owner_hotkey: AccountId,
    pub uids: Vec<u16>,
    pub hotkeys: Vec<AccountId>,
    pub coldkeys: Vec<AccountId>,
    /// Total stake on each hotkey (rao).
    pub stake: Vec<u64>,
    pub active: Vec<bool>,
    pub last_update: Vec<u64>,
    pub block_at_registration: Vec<u64>,
    pub validator_permit: Vec<bool>,
    /// u16 fractions (x · 65535), as stored.
    pub validator_trust: Vec<u16>,
    pub consensus: Vec<u16>,
    pub incentive: Vec<u16>,
    pub dividends: Vec<u16>,
    pub rank: Vec<u16>,
    pub trust: Vec<u16>,
    /// Emission of the last epoch (rao).
    pub emission: Vec<u64>,
    pub axons: Vec<Option<AxonInfo>>,
    /// Sparse rows, max-upscaled to 65535.
    pub weights: Vec<Vec<(u16, u16)>>,
    pub bonds: Vec<Vec<(u16, u16)>>,
    pub hparams: Hyperparams,
    /// Current burn registration cost (rao).
    pub burn: u64,
}

impl Metagraph {
    pub fn from_state(s: &ChainState, netuid: u16) -> Result<Self, ChainError> {
        let sn = s.subnet(netuid)?;
        let ns = &sn.neurons;
        Ok(Self {
            netuid,
            block: s.block,
            n: sn.n(),
            owner_coldkey: sn.owner_coldkey,
            owner_hotkey: sn.owner_hotkey,
            uids: (0..sn.n()).collect(),
            hotkeys: ns.iter().map(|n| n.hotkey).collect(),
            coldkeys: ns.iter().map(|n| n.coldkey).collect(),
            stake: ns.iter().map(|n| s.total_stake(&n.hotkey)).collect(),
            active: ns.iter().map(|n| n.active).collect(),
            last_update: ns.iter().map(|n| n.last_update).collect(),
            block_at_registration: ns.iter().map(|n| n.registered_at).collect(),
            validator_permit: ns.iter().map(|n| n.validator_permit).collect(),
            validator_trust: ns.iter().map(|n| n.validator_trust).collect(),
            consensus: ns.iter().map(|n| n.consensus).collect(),
            incentive: ns.iter().map(|n| n.incentive).collect(),
            dividends: ns.iter().map(|n| n.dividends).collect(),
            rank: ns.iter().map(|n| n.rank).collect(),
            trust: ns.iter().map(|n| n.trust).collect(),
            emission: ns.iter().map(|n| n.emission).collect(),
            axons: ns.iter().map(|n| n.axon.clone()).collect(),
            weights: ns.iter().map(|n| n.weights.clone()).collect(),
            bonds: ns.iter().map(|n| n.bonds.clone()).collect(),
            hparams: sn.hparams.clone(),
            burn: sn.burn,
        })
    }

    pub fn uid_of(&self, hotkey: &AccountId) -> Option<u16> {
        self.hotkeys
            .iter()
            .position(|h| h == hotkey)
            .and_then(|i| u16::try_from(i).ok())
    }
}
