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

    /// The column form of any chain's metagraph (`bt_interfaces::Chain::metagraph`, read with
    /// weights), with the subnet's hyperparameters. An axon whose tensor identity is missing or
    /// was not signed by its neuron key for this hotkey and netuid is left out: on subtensor
    /// the identity is an unchecked commitment, and a peer we cannot address by key is not one
    /// the tensor protocol can call.
    pub fn from_view(mg: &bt_interfaces::SubnetMetagraph, hparams: Hyperparams) -> Self {
        let ns = &mg.neurons;
        let axons = ns
            .iter()
            .map(|n| {
                let a = n.axon.as_ref()?;
                let id = a.identity.as_ref()?;
                let identity = crate::axon::AxonIdentity {
                    neuron_key: id.neuron_key,
                    synapse_key: id.synapse_key,
                    signature: id.signature,
                };
                identity.verify(&AccountId(n.hotkey.0), mg.netuid).ok()?;
                let (ip, ip_type) = match a.ip {
                    std::net::IpAddr::V4(v4) => (u128::from(u32::from(v4)), 4),
                    std::net::IpAddr::V6(v6) => (u128::from(v6), 6),
                };
                Some(AxonInfo {
                    version: a.version,
                    ip,
                    port: a.port,
                    ip_type,
                    protocol: a.protocol,
                    block: a.block,
                    identity,
                })
            })
            .collect();
        Self {
            netuid: mg.netuid,
            block: mg.block,
            n: u16::try_from(ns.len()).unwrap_or(u16::MAX),
            owner_coldkey: AccountId(mg.owner_coldkey.map_or([0; 32], |c| c.0)),
            owner_hotkey: AccountId(ns.first().map_or([0; 32], |n| n.hotkey.0)),
            uids: ns.iter().map(|n| n.uid).collect(),
            hotkeys: ns.iter().map(|n| AccountId(n.hotkey.0)).collect(),
            coldkeys: ns.iter().map(|n| AccountId(n.coldkey.0)).collect(),
            stake: ns.iter().map(|n| n.stake).collect(),
            active: ns.iter().map(|n| n.active).collect(),
            last_update: ns.iter().map(|n| n.last_update).collect(),
            block_at_registration: ns.iter().map(|n| n.block_at_registration).collect(),
            validator_permit: ns.iter().map(|n| n.validator_permit).collect(),
            validator_trust: ns.iter().map(|n| n.validator_trust).collect(),
            consensus: ns.iter().map(|n| n.consensus).collect(),
            incentive: ns.iter().map(|n| n.incentive).collect(),
            dividends: ns.iter().map(|n| n.dividends).collect(),
            rank: ns.iter().map(|n| n.rank).collect(),
            trust: ns.iter().map(|n| n.trust).collect(),
            emission: ns.iter().map(|n| n.emission).collect(),
            axons,
            weights: ns.iter().map(|n| n.weights.clone()).collect(),
            bonds: ns.iter().map(|n| n.bonds.clone()).collect(),
            hparams,
            burn: 0,
        }
    }
}
