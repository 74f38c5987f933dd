//! [`Chain`]: what a neuron and a subnet user need from a chain, whichever chain it is. The
//! embedded chain (`bt-chain`'s node, reached by `RpcChain`) and the real Bittensor chain
//! (subtensor, reached by `bt-subtensor`'s client) both implement it, so the CLI's read commands
//! print one table from either and the neuron runtime registers, serves and sets weights the
//! same way on both.
//!
//! The trait is object safe (`Arc<dyn Chain>`): which chain a command talks to is decided by
//! its flags at run time. Amounts are in rao (1 TAO = 10⁹ rao); stake is per subnet (alpha on
//! subtensor, where it differs from TAO; TAO on the embedded chain, which has no pools).
//!
//! Cancel-safety: reads have no effect when dropped; a dropped write may or may not have been
//! included (read the state back before retrying).

use std::net::IpAddr;

use async_trait::async_trait;
use bt_consensus::Hyperparams;
use bt_crypto::wallet::{AccountId, Sr25519Pair};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a chain call failed. The kinds are what a caller acts on: `Unavailable` and `Timeout`
/// are worth retrying later; `Rejected` is the chain's verdict on a transaction (its dispatch
/// error by name) and needs the user; `NoSubnet`/`NotRegistered` are wrong input; `Unsupported`
/// means this chain or runtime lacks the item (upgrade one side); `Invalid` is an answer we could
/// not read (a bad or hostile node).
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("chain at {endpoint} is unavailable")]
    Unavailable {
        endpoint: String,
        #[source]
        source: BoxError,
    },
    #[error("{what} on the chain at {endpoint} timed out")]
    Timeout {
        endpoint: String,
        what: String,
        #[source]
        source: BoxError,
    },
    #[error("the chain refused {call}: {reason}")]
    Rejected {
        call: String,
        /// The chain's own name for the failure, e.g. `SubtensorModule::NotEnoughBalanceToStake`.
        reason: String,
        #[source]
        source: Option<BoxError>,
    },
    #[error("subnet {0} does not exist")]
    NoSubnet(u16),
    #[error("hotkey {hotkey} has no uid on subnet {netuid}")]
    NotRegistered { hotkey: String, netuid: u16 },
    #[error("this chain does not support {what}")]
    Unsupported {
        what: String,
        #[source]
        source: Option<BoxError>,
    },
    #[error("the chain's answer to {what} could not be read")]
    Invalid {
        what: String,
        #[source]
        source: BoxError,
    },
}

/// An axon as the chain stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AxonRow {
    pub ip: IpAddr,
    pub port: u16,
    pub version: u32,
    pub protocol: u8,
    /// The block it was served at (0 where the chain does not record it).
    pub block: u64,
    /// The Release-1 tensor identity published with it, as stored (unverified: check its
    /// signature before trusting it).
    pub identity: Option<TensorIdentity>,
}

/// One uid of a subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeuronRow {
    pub uid: u16,
    pub hotkey: AccountId,
    pub coldkey: AccountId,
    /// The hotkey's stake on this subnet (rao; alpha on subtensor).
    pub stake: u64,
    pub rank: u16,
    pub trust: u16,
    pub consensus: u16,
    pub incentive: u16,
    pub dividends: u16,
    /// Emission of the last epoch (rao).
    pub emission: u64,
    pub validator_trust: u16,
    pub validator_permit: bool,
    pub active: bool,
    pub last_update: u64,
    pub block_at_registration: u64,
    pub axon: Option<AxonRow>,
    /// (uid, weight) rows, max-upscaled to 65535; empty unless asked for.
    pub weights: Vec<(u16, u16)>,
    pub bonds: Vec<(u16, u16)>,
}

/// A subnet's metagraph at one block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetMetagraph {
    pub netuid: u16,
    pub block: u64,
    pub owner_coldkey: Option<AccountId>,
    pub neurons: Vec<NeuronRow>,
}

impl SubnetMetagraph {
    pub fn uid_of(&self, hotkey: &AccountId) -> Option<u16> {
        self.neurons
            .iter()
            .find(|n| &n.hotkey == hotkey)
            .map(|n| n.uid)
    }

    pub fn neuron(&self, uid: u16) -> Option<&NeuronRow> {
        self.neurons.iter().find(|n| n.uid == uid)
    }
}

/// A subnet's line in a list of subnets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetSummary {
    pub netuid: u16,
    /// Registered uids.
    pub n: u16,
    pub tempo: u16,
    pub owner_coldkey: Option<AccountId>,
    /// Stake on the subnet (rao; on subtensor, the alpha held outside the pool).
    pub total_stake: u64,
}

/// A subnet's hyperparameters, with the names (as `Hyperparams`' fields) of those the chain does
/// not store: they hold `Hyperparams::default()`'s value, which is subtensor's default.
#[derive(Debug, Clone, PartialEq)]
pub struct SubnetHyperparams {
    pub values: Hyperparams,
    pub absent: Vec<&'static str>,
}

/// Where and how an axon is served. `identity` binds the Release-1 tensor protocol's Ed25519
/// keys to the hotkey: the embedded chain stores it with the axon, subtensor as the hotkey's
/// commitment on the subnet (the Commitments pallet, one 128-byte field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AxonServe {
    pub ip: IpAddr,
    pub port: u16,
    pub protocol: u8,
    pub version: u32,
    pub identity: Option<TensorIdentity>,
}

/// The Ed25519 keys behind a Release-1 axon and the neuron key's signature binding them to a
/// hotkey and netuid (see `bt_chain::AxonIdentity`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorIdentity {
    pub neuron_key: [u8; 32],
    pub synapse_key: [u8; 32],
    pub signature: [u8; 64],
}

impl TensorIdentity {
    /// Its 128 bytes: neuron key, synapse key, signature.
    pub fn to_bytes(&self) -> [u8; 128] {
        let mut out = [0u8; 128];
        out[..32].copy_from_slice(&self.neuron_key);
        out[32..64].copy_from_slice(&self.synapse_key);
        out[64..].copy_from_slice(&self.signature);
        out
    }

    /// The inverse of [`Self::to_bytes`]; `None` unless exactly 128 bytes.
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        let b: &[u8; 128] = b.try_into().ok()?;
        let mut id = Self {
            neuron_key: [0; 32],
            synapse_key: [0; 32],
            signature: [0; 64],
        };
        id.neuron_key.copy_from_slice(&b[..32]);
        id.synapse_key.copy_from_slice(&b[32..64]);
        id.signature.copy_from_slice(&b[64..]);
        Some(id)
    }
}

/// Weights committed now and revealed later. `salt` is the chain's salt type on subtensor
/// (`Vec<u16>`); the embedded chain hashes its little-endian bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightsCommit {
    pub uids: Vec<u16>,
    pub values: Vec<u16>,
    pub salt: Vec<u16>,
    pub version_key: u64,
}

/// A transaction in a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Included {
    pub block: u64,
    /// The fee paid (rao), where the chain reports it.
    pub fee: Option<u64>,
}

/// A chain as neurons and subnet users see it.
#[async_trait]
pub trait Chain: Send + Sync {
    /// Where this chain is reached (for messages).
    fn endpoint(&self) -> &str;
    /// The best block's number.
    async fn head(&self) -> Result<u64, ChainError>;
    async fn subnets(&self) -> Result<Vec<u16>, ChainError>;
    /// The metagraph; weights and bonds only when `with_weights` (they cost n more reads).
    async fn metagraph(
        &self,
        netuid: u16,
        with_weights: bool,
    ) -> Result<SubnetMetagraph, ChainError>;
    async fn hyperparams(&self, netuid: u16) -> Result<SubnetHyperparams, ChainError>;
    /// Every subnet's summary. The default reads each subnet's metagraph and hyperparameters;
    /// a chain that can answer in a few batched reads (subtensor, over a WAN) overrides it.
    async fn subnet_summaries(&self) -> Result<Vec<SubnetSummary>, ChainError> {
        let mut out = Vec::new();
        for netuid in self.subnets().await? {
            let mg = self.metagraph(netuid, false).await?;
            let hp = self.hyperparams(netuid).await?;
            out.push(SubnetSummary {
                netuid,
                n: u16::try_from(mg.neurons.len()).unwrap_or(u16::MAX),
                tempo: hp.values.tempo,
                owner_coldkey: mg.owner_coldkey,
                total_stake: mg
                    .neurons
                    .iter()
                    .map(|n| n.stake)
                    .fold(0, u64::saturating_add),
            });
        }
        Ok(out)
    }
    /// Free balance (rao).
    async fn balance(&self, account: &AccountId) -> Result<u64, ChainError>;
    /// What `coldkey` has staked on `hotkey` on `netuid` (rao).
    async fn stake(
        &self,
        coldkey: &AccountId,
        hotkey: &AccountId,
        netuid: u16,
    ) -> Result<u64, ChainError>;

    async fn transfer(
        &self,
        from: &Sr25519Pair,
        dest: &AccountId,
        rao: u64,
    ) -> Result<Included, ChainError>;
    /// Creates a subnet owned by `coldkey` with `hotkey` at uid 0; returns its netuid.
    async fn register_network(
        &self,
        coldkey: &Sr25519Pair,
        hotkey: &AccountId,
    ) -> Result<u16, ChainError>;
    /// Registers `hotkey` on `netuid` by burning TAO from `coldkey`; returns its uid.
    async fn burned_register(
        &self,
        coldkey: &Sr25519Pair,
        netuid: u16,
        hotkey: &AccountId,
    ) -> Result<u16, ChainError>;
    async fn serve_axon(
        &self,
        hotkey: &Sr25519Pair,
        netuid: u16,
        axon: &AxonServe,
    ) -> Result<Included, ChainError>;
    async fn add_stake(
        &self,
        coldkey: &Sr25519Pair,
        hotkey: &AccountId,
        netuid: u16,
        rao: u64,
    ) -> Result<Included, ChainError>;
    async fn remove_stake(
        &self,
        coldkey: &Sr25519Pair,
        hotkey: &AccountId,
        netuid: u16,
        rao: u64,
    ) -> Result<Included, ChainError>;
    async fn set_weights(
        &self,
        hotkey: &Sr25519Pair,
        netuid: u16,
        uids: &[u16],
        values: &[u16],
        version_key: u64,
    ) -> Result<Included, ChainError>;
    async fn commit_weights(
        &self,
        hotkey: &Sr25519Pair,
        netuid: u16,
        commit: &WeightsCommit,
    ) -> Result<Included, ChainError>;
    async fn reveal_weights(
        &self,
        hotkey: &Sr25519Pair,
        netuid: u16,
        commit: &WeightsCommit,
    ) -> Result<Included, ChainError>;
}

/// The subnet `coldkey` created since `before` (the netuids listed just before its
/// `register_network`): the new netuid it owns. Both chains report a new subnet only by its
/// appearance, so this is how each `register_network` finds what it made.
pub async fn new_subnet_of<C: Chain + ?Sized>(
    chain: &C,
    before: &[u16],
    coldkey: &AccountId,
) -> Result<u16, ChainError> {
    for netuid in chain.subnets().await?.into_iter().rev() {
        if before.contains(&netuid) {
            continue;
        }
        if chain.metagraph(netuid, false).await?.owner_coldkey.as_ref() == Some(coldkey) {
            return Ok(netuid);
        }
    }
    Err(ChainError::Invalid {
        what: "register_network".into(),
        source: "the transaction succeeded but no new subnet is owned by the coldkey".into(),
    })
}
