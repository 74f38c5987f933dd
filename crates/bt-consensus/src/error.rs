//! The crate's one error type.

use std::path::PathBuf;

/// Why an epoch could not run on a subnet's state: every variant names the offending field.
/// Plain data (`Clone`, `Eq`), so that a chain can store it in a receipt or an error of its own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EpochError {
    /// A per-uid vector (or the row count of a matrix) does not have one entry per neuron.
    #[error("`{field}` has {got} entries but the subnet has n = {expected} neurons")]
    LengthMismatch {
        field: &'static str,
        expected: usize,
        got: usize,
    },
    /// uids are u16, so a subnet holds at most 65,535 neurons.
    #[error("a subnet holds at most 65535 neurons, got {n}")]
    TooManyNeurons { n: usize },
    /// A sparse row points at a uid that does not exist.
    #[error("`{matrix}` row {row} points at uid {uid}, but n = {n}")]
    UidOutOfRange {
        matrix: &'static str,
        row: usize,
        uid: u16,
        n: usize,
    },
    /// A sparse row names the same column twice.
    #[error("`{matrix}` row {row} names uid {uid} twice")]
    DuplicateUid {
        matrix: &'static str,
        row: usize,
        uid: u16,
    },
    /// The owner uid does not exist.
    #[error("owner uid {owner} is out of range (n = {n})")]
    OwnerOutOfRange { owner: u16, n: usize },
    /// The total stake does not fit I64F64 (more than 2^63 − 1 rao).
    #[error("total stake overflows the I64F64 range (more than 2^63 - 1 rao)")]
    StakeOverflow,
    /// A hyperparameter outside the range the epoch is defined for.
    #[error("hyperparameter `{name}` = {value} is invalid: {reason}")]
    InvalidHyperparam {
        name: &'static str,
        value: i128,
        reason: &'static str,
    },
}

/// Why a scenario could not run. Every variant names the offending field or step.
#[derive(Debug, thiserror::Error)]
pub enum ConsensusError {
    /// The state the scenario reached is not one an epoch can run on.
    #[error(transparent)]
    Epoch(#[from] EpochError),
    /// A scenario step is invalid for the state it runs on.
    #[error("scenario step {step} ({kind}): {reason}")]
    InvalidStep {
        step: usize,
        kind: &'static str,
        reason: String,
    },
    /// A scenario file could not be read.
    #[error("cannot read scenario {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A scenario file larger than the simulator accepts.
    #[error("scenario {path} is {bytes} bytes, above the {limit}-byte limit")]
    TooLarge {
        path: PathBuf,
        bytes: u64,
        limit: u64,
    },
    /// A scenario is not valid JSON for the scenario format (SCENARIO.md).
    #[error("scenario is not valid: {0}")]
    Json(#[from] serde_json::Error),
    /// An unknown `--format`.
    #[error("unknown output format `{0}` (expected `json` or `table`)")]
    UnknownFormat(String),
}
