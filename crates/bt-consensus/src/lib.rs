//! Yuma consensus as subtensor computes it, in fixed point, pure and deterministic.
//!
//! # Bird's-eye view
//! A subnet's chain state ([`SubnetState`]: stake, weights and bonds as stored u16, activity,
//! registrations, permits, the epoch's emission) and its [`Hyperparams`] go into one function,
//! [`epoch`], which returns an [`EpochOutput`]: incentive, dividends, consensus, validator trust,
//! emission, new bonds and permits. The steps follow the consensus specification, CONSENSUS.md,
//! one to one and use the same `substrate-fixed` arithmetic as subtensor (`I32F32` for weights,
//! consensus, bonds and incentive, `I64F64` for stake), so stored u16 values match the chain's
//! bit for bit.
//!
//! The crate does no I/O and reads no clock; floats appear only in display views
//! ([`EpochOutput::to_f64`]). The liquid-alpha sigmoid's `exp` is evaluated in fixed point
//! (`substrate_fixed::transcendental::exp`, input clamped to ±20).
//!
//! [`simulate`] runs JSON scenarios (weights, stake, registrations, blocks, epochs) through the
//! epoch and renders reports as JSON or a table; `SCENARIO.md` describes the format.
//!
//! # Code map
//! - `fixed`: fixed-point helpers (stored u16 ⇄ fraction, normalization, clamped `exp`, exact
//!   fast division by a repeated divisor).
//! - `sparse`: row-major sparse rows; work scales with stored entries, not n².
//! - `median`: consensus, a weighted quickselect per column over columns gathered a block at a
//!   time (O(nnz) expected, never the O(n·v) dense columns).
//! - `bonds`: classic and Yuma3 bonds and liquid alpha, as a few fused passes.
//! - `epoch`: the epoch, step by step; `validate`: input checks.
//! - `simulate`: scenarios.
//!
//! # Invariants
//! - Same inputs, same bits: every value goes through the same fixed-point operations on the
//!   same operands as the step-by-step spec, whatever fusion or algorithm computes it. The fast
//!   paths (division by invariant divisors, the `exp` series, quickselect) are unit-tested bit
//!   for bit against the library operation or the spec's definition they replace.
//! - No panics on any input: clippy denies `unwrap`, `expect`, indexing and unchecked
//!   arithmetic here; malformed state is an [`EpochError`].
//!
//! # Subtensor's sparse epoch, where CONSENSUS.md reads as the dense one
//! The chain runs subtensor's sparse `epoch_mechanism` each tempo; its dense `epoch_dense` only
//! runs in subtensor's tests. This crate follows the sparse path, which differs from a literal
//! reading of CONSENSUS.md (written along the dense path) in three places:
//! - Permits (steps 3–5): the owner's permit is added on top of the `max_allowed_validators`
//!   largest stakes rather than taking one of them, so there can be k + 1 permits; and the
//!   owner's *previous* permit counts as held, so its weights and active stake enter this epoch
//!   even when the stored permit says otherwise.
//! - Yuma3 bonds with liquid alpha (steps 8, 10): a validator's new bond row holds only the
//!   columns of its `Wb` row, so a bond to a miner outside it is dropped, not decayed. Which
//!   columns `Wb` holds depends on β: at 0 every stored weight entry, explicit zeros included;
//!   at 1 the clipped weights, without the positive weights on a column whose consensus is 0;
//!   in between, the entries above 0. The fixed-α EMAs (classic and Yuma3 without liquid alpha)
//!   take the union of `Wb` and the old bonds, as the dense path does.
//! - Bond rows (steps 9–10): every uid without a new permit gets an empty row, not only those
//!   that just lost one.
//!
//! # Where this differs from subtensor's code
//! - Commit-reveal masking inside the epoch is not modelled; the chain decides which weights are
//!   revealed before it builds the [`SubnetState`].
//!
//! # Example
//! ```
//! use bt_consensus::{Hyperparams, SubnetState, epoch};
//! // uid 0 validates, uids 1 and 2 mine.
//! let state = SubnetState {
//!     block: 100,
//!     stake: vec![1_000, 0, 0],
//!     last_update: vec![99, 0, 0],
//!     block_at_registration: vec![0, 0, 0],
//!     validator_permit: vec![true, false, false],
//!     weights: vec![vec![(1, 65535), (2, 21845)], vec![], vec![]],
//!     bonds: vec![vec![], vec![], vec![]],
//!     owner: None,
//!     emission: 1_000_000_000,
//! };
//! let out = epoch(&state, &Hyperparams::default()).unwrap();
//! assert_eq!(out.stored().incentive, vec![0, 49151, 16383]);
//! assert_eq!(out.validator_permit, vec![true, false, false]);
//! ```
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod bonds;
mod epoch;
mod error;
pub mod fixed;
mod median;
pub mod simulate;
mod sparse;
mod types;
mod validate;

pub use epoch::epoch;
pub use error::{ConsensusError, EpochError};
pub use fixed::{I32F32, I64F64};
pub use types::{
    EpochOutput, Hyperparams, OutputF64, RAO_PER_TAO, SparseRow, StoredOutput, SubnetState,
};
