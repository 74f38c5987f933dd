//! One error enum for the crate. Rule violations of the state machine are variants of their own
//! (they are what a client sees in a failed receipt); I/O, storage and RPC failures say which
//! operation and, where an operator can fix it, which setting to change.

use crate::keys::AccountId;
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ChainError {
    // ---- decoding and admission -------------------------------------------------------------
    #[error("transaction decode: {0}")]
    Decode(String),
    #[error("transaction of {size} bytes exceeds the limit of {max}")]
    TxTooLarge { size: usize, max: usize },
    #[error("bad address {address:?}: {reason}")]
    BadAddress { address: String, reason: String },
    #[error("bad signature from {signer}")]
    BadSignature { signer: AccountId },
    #[error(
        "transaction from {signer} was signed for another chain (genesis {tx_genesis}…, this chain is {chain_genesis}…); fetch chain_genesisHash from this node and sign again"
    )]
    WrongChain {
        signer: AccountId,
        tx_genesis: String,
        chain_genesis: String,
    },
    #[error("nonce {got} from {signer} is stale or a replay; expected {expected}")]
    StaleNonce {
        signer: AccountId,
        got: u64,
        expected: u64,
    },
    #[error("nonce {got} from {signer} is in the future; expected {expected}")]
    FutureNonce {
        signer: AccountId,
        got: u64,
        expected: u64,
    },
    #[error(
        "mempool is full ({capacity} transactions); raise ChainConfig::mempool_capacity or retry"
    )]
    MempoolFull { capacity: usize },
    #[error(
        "{signer} already has {max} pending transactions; raise NodeConfig::max_pending_per_account or wait for a block"
    )]
    TooManyPending { signer: AccountId, max: usize },
    #[error("transaction {0} is already pending")]
    AlreadyPending(String),

    // ---- funds ------------------------------------------------------------------------------
    #[error("{account} has {balance} rao, needs {needed}")]
    InsufficientBalance {
        account: AccountId,
        balance: u64,
        needed: u64,
    },
    #[error("{coldkey} has {staked} rao staked on {hotkey}, cannot remove {requested}")]
    InsufficientStake {
        coldkey: AccountId,
        hotkey: AccountId,
        staked: u64,
        requested: u64,
    },
    #[error("amount must be positive")]
    ZeroAmount,
    #[error("arithmetic overflow in {0}")]
    Overflow(&'static str),
    #[error(
        "this chain has no faucet: it is for development chains only (start the node with `bittensor chain start --dev`), or fund the account by a transfer"
    )]
    FaucetDisabled,
    #[error(
        "{account} already holds {balance} rao, the faucet only tops up accounts below {limit}"
    )]
    FaucetNotNeeded {
        account: AccountId,
        balance: u64,
        limit: u64,
    },
    #[error("hotkey {hotkey} is owned by coldkey {owner}, not {caller}")]
    NotHotkeyOwner {
        hotkey: AccountId,
        owner: AccountId,
        caller: AccountId,
    },
    #[error("hotkey {0} is unknown (never registered)")]
    UnknownHotkey(AccountId),

    // ---- subnets ----------------------------------------------------------------------------
    #[error("subnet {0} does not exist")]
    SubnetNotFound(u16),
    #[error("subnet limit reached ({0} subnets)")]
    TooManySubnets(usize),
    #[error("{caller} is not the owner of subnet {netuid}")]
    NotSubnetOwner { netuid: u16, caller: AccountId },
    #[error("hyperparameter {key} = {value} rejected: {reason}")]
    InvalidHyperparam {
        key: String,
        value: u64,
        reason: String,
    },

    // ---- registration -----------------------------------------------------------------------
    #[error("registration is disabled on subnet {0}")]
    RegistrationDisabled(u16),
    #[error("hotkey {hotkey} is already registered on subnet {netuid}")]
    AlreadyRegistered { netuid: u16, hotkey: AccountId },
    #[error("subnet {netuid} already took {max} registrations this block")]
    TooManyRegistrationsThisBlock { netuid: u16, max: u16 },
    #[error("subnet {netuid} is full and every neuron is immune or the owner")]
    NoNeuronToReplace { netuid: u16 },
    #[error(
        "proof of work refers to block {work_block}, current is {current}; it must be within the last {window} blocks"
    )]
    StaleWork {
        work_block: u64,
        current: u64,
        window: u64,
    },
    #[error("proof of work does not meet difficulty {difficulty}")]
    InsufficientWork { difficulty: u64 },
    #[error("proof of work was already used")]
    WorkReused,

    // ---- weights and axons ------------------------------------------------------------------
    #[error("hotkey {hotkey} is not registered on subnet {netuid}")]
    NotRegistered { netuid: u16, hotkey: AccountId },
    #[error("uids ({uids}) and values ({values}) differ in length")]
    WeightLengthMismatch { uids: usize, values: usize },
    #[error("duplicate uid {0} in weights")]
    DuplicateUid(u16),
    #[error("uid {uid} is out of range (subnet has {n} neurons)")]
    InvalidUid { uid: u16, n: u16 },
    #[error("{got} weights given, at least {min} required (min(n, min_allowed_weights))")]
    TooFewWeights { got: usize, min: usize },
    #[error("uid {uid} has no validator permit and may only set a self-weight")]
    NoValidatorPermit { uid: u16 },
    #[error("a weight of {max_fraction_u16}/65535 exceeds max_weights_limit {limit}")]
    MaxWeightExceeded { max_fraction_u16: u64, limit: u16 },
    #[error("weights version {got} is below the subnet's {required}")]
    IncorrectWeightVersion { got: u64, required: u64 },
    #[error("rate limited: last at block {last}, limit {limit} blocks, now {now}")]
    RateLimited { last: u64, limit: u64, now: u64 },
    #[error("commit-reveal is enabled on subnet {0}: use commit_weights and reveal_weights")]
    CommitRevealEnabled(u16),
    #[error("commit-reveal is disabled on subnet {0}: use set_weights")]
    CommitRevealDisabled(u16),
    #[error("too many pending commits ({max}) for this hotkey")]
    TooManyCommits { max: usize },
    #[error("no pending commit matches the revealed weights")]
    NoMatchingCommit,
    #[error(
        "reveal too early: commit of epoch {commit_epoch} can be revealed in epoch {reveal_epoch}, now {now_epoch}"
    )]
    RevealTooEarly {
        commit_epoch: u64,
        reveal_epoch: u64,
        now_epoch: u64,
    },
    #[error("commit expired: it had to be revealed in epoch {reveal_epoch}, now {now_epoch}")]
    CommitExpired { reveal_epoch: u64, now_epoch: u64 },
    #[error("invalid axon: {0}")]
    InvalidAxon(String),

    // ---- blocks, storage, node --------------------------------------------------------------
    #[error("block {number} has parent {got}, expected {expected}")]
    BadParent {
        number: u64,
        got: String,
        expected: String,
    },
    #[error("block {number} is out of order, expected {expected}")]
    BadBlockNumber { number: u64, expected: u64 },
    #[error("block {number}: state root {got} differs from {expected}")]
    StateRootMismatch {
        number: u64,
        got: String,
        expected: String,
    },
    #[error(
        "block {number}: transaction {index} fails ({reason}) and its signer cannot pay the transaction fee"
    )]
    UnpaidFailure {
        number: u64,
        index: u32,
        reason: String,
    },
    #[error("epoch on subnet {netuid}")]
    Epoch {
        netuid: u16,
        #[source]
        source: Box<bt_consensus::EpochError>,
    },
    #[error("the epoch on subnet {netuid} returned outputs for other than its {n} neurons")]
    EpochOutputs { netuid: u16, n: usize },
    #[error("storage ({op}): {reason}")]
    Storage { op: &'static str, reason: String },
    #[error(
        "database {path} was created for genesis {stored}, this node has {configured}; use another --db or the same genesis"
    )]
    GenesisMismatch {
        path: String,
        stored: String,
        configured: String,
    },
    #[error(
        "database {path} has an older layout (state roots over the whole state and no fee schedule, or the whole state as one value and transactions without a genesis tag) that this node cannot read or migrate; start the chain with a new --db (or delete this file)"
    )]
    OldDatabaseFormat { path: String },
    #[error("io ({op}): {reason}")]
    Io { op: &'static str, reason: String },
    #[error("rpc ({op}): {reason}")]
    Rpc { op: &'static str, reason: String },
    #[error("timed out after {millis} ms waiting for {what}")]
    Timeout { what: &'static str, millis: u64 },
    #[error("the block interval must be positive; use BlockMode::Instant for blocks on demand")]
    ZeroBlockInterval,
    #[error("{0} is only available in instant mode (--instant)")]
    NotInstantMode(&'static str),
    #[error("the node is shutting down")]
    ShuttingDown,
    #[error("node answered error {code}: {message}")]
    Remote { code: i32, message: String },
    #[error("transaction failed in block {block}: {reason}")]
    TxFailed { block: u64, reason: String },
}

pub type Result<T, E = ChainError> = std::result::Result<T, E>;

impl ChainError {
    pub(crate) fn storage(op: &'static str, e: impl std::fmt::Display) -> Self {
        Self::Storage {
            op,
            reason: e.to_string(),
        }
    }
    /// The JSON-RPC error code the node answers this error with.
    pub fn rpc_code(&self) -> i32 {
        match self {
            Self::Decode(_)
            | Self::TxTooLarge { .. }
            | Self::BadAddress { .. }
            | Self::BadSignature { .. } => 1001,
            Self::StaleNonce { .. } | Self::FutureNonce { .. } | Self::AlreadyPending(_) => 1002,
            Self::MempoolFull { .. } | Self::TooManyPending { .. } => 1003,
            Self::SubnetNotFound(_) => 1004,
            Self::NotInstantMode(_) => 1005,
            Self::Timeout { .. } => 1006,
            Self::ShuttingDown => 1007,
            Self::FaucetDisabled => 1008,
            Self::WrongChain { .. } => 1009,
            _ => 1000,
        }
    }

    pub(crate) fn rpc(op: &'static str, e: impl std::fmt::Display) -> Self {
        Self::Rpc {
            op,
            reason: e.to_string(),
        }
    }
}
