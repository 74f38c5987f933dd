//! Inputs and outputs of the epoch.

use serde::{Deserialize, Serialize};

use crate::fixed::{I32F32, to_f64, to_u16};

/// A sparse matrix row as stored on chain: `(column uid, value)` pairs.
pub type SparseRow = Vec<(u16, u16)>;

/// One subnet's state as the epoch reads it (CONSENSUS.md "Inputs per subnet").
///
/// Every per-uid vector has one entry per neuron (`n = stake.len()`); `weights` and `bonds`
/// have one (possibly empty) sparse row per uid. Rows need not be sorted, but a column uid may
/// appear at most once per row and must be `< n`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetState {
    /// The current block `b`.
    pub block: u64,
    /// Stake per uid, in the chain's smallest unit (rao).
    pub stake: Vec<u64>,
    /// Block at which each uid last set weights.
    pub last_update: Vec<u64>,
    /// Block at which each uid (most recently) registered.
    pub block_at_registration: Vec<u64>,
    /// Validator permits from the previous epoch.
    pub validator_permit: Vec<bool>,
    /// Weights as stored (u16, each row max-upscaled to 65535 by `set_weights`).
    pub weights: Vec<SparseRow>,
    /// Bonds as stored (u16).
    pub bonds: Vec<SparseRow>,
    /// The subnet owner's uid, if the owner holds one.
    pub owner: Option<u16>,
    /// Emission `E` to distribute in this epoch (rao).
    pub emission: u64,
}

impl SubnetState {
    /// Number of neurons.
    pub fn n(&self) -> usize {
        self.stake.len()
    }
}

/// One rao is 1e-9 TAO.
pub const RAO_PER_TAO: u64 = 1_000_000_000;

/// A subnet's hyperparameters: the one definition every crate uses (re-exported by
/// `bt-interfaces`). `Default` gives CONSENSUS.md's defaults ("Hyperparameters and defaults")
/// and the registration settings of a fresh subnet. Only some of them enter the epoch; the
/// rest are carried here so that the chain, its clients and the simulator share one place for
/// a subnet's settings. A chain's stored form converts into this by checked conversions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Hyperparams {
    /// Blocks between epochs.
    pub tempo: u16,
    /// Consensus quantile, as a u16 fraction (κ = kappa / 65535).
    pub kappa: u16,
    /// Bonds EMA memory in millionths (α = 1 − bonds_moving_average / 1e6).
    pub bonds_moving_average: u64,
    /// How far bonds follow clipped weights (β = bonds_penalty / 65535).
    pub bonds_penalty: u16,
    pub max_allowed_uids: u16,
    pub max_allowed_validators: u16,
    pub immunity_period: u16,
    /// Blocks after its last weights a uid still counts as active.
    pub activity_cutoff: u16,
    /// Minimum entries per weights row, checked as min(n, value) by `set_weights`.
    pub min_allowed_weights: u16,
    pub max_weights_limit: u16,
    pub weights_set_rate_limit: u64,
    pub serving_rate_limit: u64,
    pub target_regs_per_interval: u16,
    pub adjustment_interval: u16,
    pub max_regs_per_block: u16,
    /// Liquid alpha (per-entry bond EMA rate; used by the Yuma3 bonds).
    pub liquid_alpha_enabled: bool,
    /// α_lo as a u16 fraction (0.7 → 45875, subtensor's default).
    pub alpha_low: u16,
    /// α_hi as a u16 fraction (0.9 → 58982).
    pub alpha_high: u16,
    /// Sigmoid steepness; the exponent is −(steepness / 100)(d − 0.5).
    #[serde(alias = "alpha_steepness")]
    pub alpha_sigmoid_steepness: i16,
    /// Yuma3 bonds (CONSENSUS.md step 10) instead of the classic ones (step 9).
    pub yuma3_enabled: bool,
    /// Stake below this (rao) counts as zero, except the owner's.
    pub stake_threshold: u64,
    #[serde(alias = "commit_reveal_enabled")]
    pub commit_reveal_weights_enabled: bool,
    /// Reveal after this many epochs.
    pub commit_reveal_period: u64,
    /// The weights version a validator must set (rejects out-of-date validator code).
    pub weights_version: u64,
    pub registration_allowed: bool,
    /// Burn floor and ceiling (rao).
    pub min_burn: u64,
    pub max_burn: u64,
    /// Multiplier applied to the burn after each registration, in parts per million.
    pub burn_increase_ppm: u64,
    /// Fraction of the burn above `min_burn` removed each block, in parts per million.
    pub burn_decay_ppm: u64,
    /// Proof-of-work registration difficulty and its bounds.
    pub difficulty: u64,
    pub min_difficulty: u64,
    pub max_difficulty: u64,
}

impl Default for Hyperparams {
    fn default() -> Self {
        Self {
            tempo: 360,
            kappa: 32_767,
            bonds_moving_average: 900_000,
            bonds_penalty: 65_535,
            max_allowed_uids: 256,
            max_allowed_validators: 128,
            immunity_period: 4096,
            activity_cutoff: 5000,
            min_allowed_weights: 1024,
            max_weights_limit: 65_535,
            weights_set_rate_limit: 100,
            serving_rate_limit: 50,
            target_regs_per_interval: 2,
            adjustment_interval: 100,
            max_regs_per_block: 1,
            liquid_alpha_enabled: false,
            alpha_low: 45_875,
            alpha_high: 58_982,
            alpha_sigmoid_steepness: 1000,
            yuma3_enabled: false,
            stake_threshold: 0,
            commit_reveal_weights_enabled: true,
            commit_reveal_period: 1,
            weights_version: 0,
            registration_allowed: true,
            min_burn: RAO_PER_TAO / 2,
            max_burn: 100 * RAO_PER_TAO,
            burn_increase_ppm: 1_500_000,
            burn_decay_ppm: 5_000,
            difficulty: 10_000,
            min_difficulty: 1,
            max_difficulty: 1 << 40,
        }
    }
}

/// Everything one epoch computes, in fixed point (the epoch's own numbers).
/// [`EpochOutput::stored`] gives the u16 form the chain stores; [`EpochOutput::to_f64`] a float
/// view for display.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochOutput {
    /// `active_j` (step 1).
    pub active: Vec<bool>,
    /// Normalized stake S after the threshold (step 2).
    pub stake: Vec<I32F32>,
    /// Permits for the next epoch (step 3).
    pub validator_permit: Vec<bool>,
    /// Normalized active stake Sa (step 4).
    pub active_stake: Vec<I32F32>,
    /// C (step 6).
    pub consensus: Vec<I32F32>,
    /// Tv (step 7).
    pub validator_trust: Vec<I32F32>,
    /// Normalized ranks; equal to incentive (subtensor stores both).
    pub rank: Vec<I32F32>,
    /// Server trust: rank after clipping over rank before.
    pub trust: Vec<I32F32>,
    /// I (step 7).
    pub incentive: Vec<I32F32>,
    /// D (steps 9/10).
    pub dividends: Vec<I32F32>,
    /// normalize(I + D), or the stake fallback (step 11); the chain's pruning score.
    pub pruning_score: Vec<I32F32>,
    /// Miner share of E per uid (rao, step 11).
    pub server_emission: Vec<u64>,
    /// Validator share of E per uid (rao, step 11).
    pub validator_emission: Vec<u64>,
    /// Stored per-uid emission = normalize(I + D) · E (rao, step 11).
    pub emission: Vec<u64>,
    /// New bonds as stored (u16), one sparse row per uid, sorted by column.
    pub bonds: Vec<SparseRow>,
}

/// The epoch's outputs as the chain stores them (u16 fractions = floor(x · 65535)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredOutput {
    pub active: Vec<bool>,
    pub validator_permit: Vec<bool>,
    pub stake: Vec<u16>,
    pub rank: Vec<u16>,
    pub trust: Vec<u16>,
    pub consensus: Vec<u16>,
    pub incentive: Vec<u16>,
    pub dividends: Vec<u16>,
    pub validator_trust: Vec<u16>,
    /// Max-upscaled to 65535, rounded (subtensor's `vec_max_upscale_to_u16`).
    pub pruning_score: Vec<u16>,
    pub emission: Vec<u64>,
    pub server_emission: Vec<u64>,
    pub validator_emission: Vec<u64>,
    pub bonds: Vec<SparseRow>,
}

/// The epoch's fractional outputs as floats (display only).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputF64 {
    pub stake: Vec<f64>,
    pub active_stake: Vec<f64>,
    pub consensus: Vec<f64>,
    pub validator_trust: Vec<f64>,
    pub trust: Vec<f64>,
    pub incentive: Vec<f64>,
    pub dividends: Vec<f64>,
    pub pruning_score: Vec<f64>,
}

fn u16s(v: &[I32F32]) -> Vec<u16> {
    v.iter().copied().map(to_u16).collect()
}

fn f64s(v: &[I32F32]) -> Vec<f64> {
    v.iter().copied().map(to_f64).collect()
}

impl EpochOutput {
    /// The u16 form stored on chain.
    pub fn stored(&self) -> StoredOutput {
        StoredOutput {
            active: self.active.clone(),
            validator_permit: self.validator_permit.clone(),
            stake: u16s(&self.stake),
            rank: u16s(&self.rank),
            trust: u16s(&self.trust),
            consensus: u16s(&self.consensus),
            incentive: u16s(&self.incentive),
            dividends: u16s(&self.dividends),
            validator_trust: u16s(&self.validator_trust),
            pruning_score: crate::fixed::max_upscale_to_u16(&self.pruning_score),
            emission: self.emission.clone(),
            server_emission: self.server_emission.clone(),
            validator_emission: self.validator_emission.clone(),
            bonds: self.bonds.clone(),
        }
    }

    /// A float view of the fractional outputs.
    pub fn to_f64(&self) -> OutputF64 {
        OutputF64 {
            stake: f64s(&self.stake),
            active_stake: f64s(&self.active_stake),
            consensus: f64s(&self.consensus),
            validator_trust: f64s(&self.validator_trust),
            trust: f64s(&self.trust),
            incentive: f64s(&self.incentive),
            dividends: f64s(&self.dividends),
            pruning_score: f64s(&self.pruning_score),
        }
    }
}
