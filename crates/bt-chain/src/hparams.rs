//! Subnet hyperparameters: CONSENSUS.md's defaults plus the chain-side knobs (burn, difficulty,
//! commit-reveal, weights version). The owner changes one key per `SetHyperparam` transaction,
//! each checked against its own range so a typo cannot brick a subnet.

use crate::error::ChainError;
use serde::{Deserialize, Serialize};

/// One rao is 1e-9 TAO.
pub const RAO_PER_TAO: u64 = 1_000_000_000;
/// A hard ceiling on neurons per subnet; bounds every per-subnet vector and weight row.
pub const MAX_UIDS_CAP: u16 = 4096;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hyperparams {
    pub tempo: u16,
    pub kappa: u16,
    pub bonds_moving_average: u64,
    pub bonds_penalty: u16,
    pub max_allowed_uids: u16,
    pub max_allowed_validators: u16,
    pub immunity_period: u16,
    pub activity_cutoff: u16,
    pub min_allowed_weights: u16,
    pub max_weights_limit: u16,
    pub weights_set_rate_limit: u64,
    pub serving_rate_limit: u64,
    pub target_regs_per_interval: u16,
    pub adjustment_interval: u16,
    pub max_regs_per_block: u16,
    pub liquid_alpha_enabled: bool,
    pub alpha_low: u16,
    pub alpha_high: u16,
    pub alpha_steepness: u16,
    pub yuma3_enabled: bool,
    pub stake_threshold: u64,
    pub commit_reveal_enabled: bool,
    /// Epochs between a commit and its reveal.
    pub commit_reveal_period: u64,
    pub weights_version: u64,
    pub registration_allowed: bool,
    /// Burn floor and ceiling (rao).
    pub min_burn: u64,
    pub max_burn: u64,
    /// Multiplier applied to the burn after each registration, in parts per million (1.5x).
    pub burn_increase_ppm: u64,
    /// Fraction of the burn above `min_burn` removed each block, in parts per million.
    pub burn_decay_ppm: u64,
    pub difficulty: u64,
    pub min_difficulty: u64,
    pub max_difficulty: u64,
}

impl Default for Hyperparams {
    fn default() -> Self {
        // CONSENSUS.md's defaults live in one place, bt-consensus; the chain adds only its own.
        let c = bt_consensus::Hyperparams::default();
        Self {
            tempo: c.tempo,
            kappa: c.kappa,
            bonds_moving_average: c.bonds_moving_average,
            bonds_penalty: c.bonds_penalty,
            max_allowed_uids: c.max_allowed_uids,
            max_allowed_validators: c.max_allowed_validators,
            immunity_period: c.immunity_period,
            activity_cutoff: c.activity_cutoff,
            min_allowed_weights: c.min_allowed_weights,
            max_weights_limit: c.max_weights_limit,
            weights_set_rate_limit: c.weights_set_rate_limit,
            serving_rate_limit: c.serving_rate_limit,
            target_regs_per_interval: c.target_regs_per_interval,
            adjustment_interval: c.adjustment_interval,
            max_regs_per_block: c.max_regs_per_block,
            liquid_alpha_enabled: c.liquid_alpha_enabled,
            alpha_low: c.alpha_low,
            alpha_high: c.alpha_high,
            alpha_steepness: c.alpha_sigmoid_steepness.unsigned_abs(),
            yuma3_enabled: c.yuma3_enabled,
            stake_threshold: c.stake_threshold,
            commit_reveal_enabled: c.commit_reveal_weights_enabled,
            commit_reveal_period: c.commit_reveal_period,
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

/// The settable keys (the byte is the wire tag).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[repr(u8)]
pub enum HyperparamKey {
    Tempo = 0,
    Kappa = 1,
    BondsMovingAverage = 2,
    BondsPenalty = 3,
    MaxAllowedUids = 4,
    MaxAllowedValidators = 5,
    ImmunityPeriod = 6,
    ActivityCutoff = 7,
    MinAllowedWeights = 8,
    MaxWeightsLimit = 9,
    WeightsSetRateLimit = 10,
    ServingRateLimit = 11,
    TargetRegsPerInterval = 12,
    AdjustmentInterval = 13,
    MaxRegsPerBlock = 14,
    LiquidAlphaEnabled = 15,
    AlphaLow = 16,
    AlphaHigh = 17,
    AlphaSteepness = 18,
    Yuma3Enabled = 19,
    StakeThreshold = 20,
    CommitRevealEnabled = 21,
    CommitRevealPeriod = 22,
    WeightsVersion = 23,
    RegistrationAllowed = 24,
    MinBurn = 25,
    MaxBurn = 26,
    BurnIncreasePpm = 27,
    BurnDecayPpm = 28,
    Difficulty = 29,
}

impl HyperparamKey {
    pub const ALL: [HyperparamKey; 30] = {
        use HyperparamKey::*;
        [
            Tempo,
            Kappa,
            BondsMovingAverage,
            BondsPenalty,
            MaxAllowedUids,
            MaxAllowedValidators,
            ImmunityPeriod,
            ActivityCutoff,
            MinAllowedWeights,
            MaxWeightsLimit,
            WeightsSetRateLimit,
            ServingRateLimit,
            TargetRegsPerInterval,
            AdjustmentInterval,
            MaxRegsPerBlock,
            LiquidAlphaEnabled,
            AlphaLow,
            AlphaHigh,
            AlphaSteepness,
            Yuma3Enabled,
            StakeThreshold,
            CommitRevealEnabled,
            CommitRevealPeriod,
            WeightsVersion,
            RegistrationAllowed,
            MinBurn,
            MaxBurn,
            BurnIncreasePpm,
            BurnDecayPpm,
            Difficulty,
        ]
    };

    pub fn from_tag(tag: u8) -> Option<Self> {
        Self::ALL.get(usize::from(tag)).copied()
    }

    /// snake_case name, as the CLI and RPC spell it.
    pub fn name(self) -> &'static str {
        use HyperparamKey::*;
        match self {
            Tempo => "tempo",
            Kappa => "kappa",
            BondsMovingAverage => "bonds_moving_average",
            BondsPenalty => "bonds_penalty",
            MaxAllowedUids => "max_allowed_uids",
            MaxAllowedValidators => "max_allowed_validators",
            ImmunityPeriod => "immunity_period",
            ActivityCutoff => "activity_cutoff",
            MinAllowedWeights => "min_allowed_weights",
            MaxWeightsLimit => "max_weights_limit",
            WeightsSetRateLimit => "weights_set_rate_limit",
            ServingRateLimit => "serving_rate_limit",
            TargetRegsPerInterval => "target_regs_per_interval",
            AdjustmentInterval => "adjustment_interval",
            MaxRegsPerBlock => "max_regs_per_block",
            LiquidAlphaEnabled => "liquid_alpha_enabled",
            AlphaLow => "alpha_low",
            AlphaHigh => "alpha_high",
            AlphaSteepness => "alpha_steepness",
            Yuma3Enabled => "yuma3_enabled",
            StakeThreshold => "stake_threshold",
            CommitRevealEnabled => "commit_reveal_enabled",
            CommitRevealPeriod => "commit_reveal_period",
            WeightsVersion => "weights_version",
            RegistrationAllowed => "registration_allowed",
            MinBurn => "min_burn",
            MaxBurn => "max_burn",
            BurnIncreasePpm => "burn_increase_ppm",
            BurnDecayPpm => "burn_decay_ppm",
            Difficulty => "difficulty",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.name() == name)
    }
}

impl Hyperparams {
    /// Applies one key, checking its range. `n` is the subnet's current neuron count.
    pub fn set(&mut self, key: HyperparamKey, value: u64, n: u16) -> Result<(), ChainError> {
        use HyperparamKey::*;
        let bad = |reason: &str| ChainError::InvalidHyperparam {
            key: key.name().to_string(),
            value,
            reason: reason.to_string(),
        };
        let u16v = || u16::try_from(value).map_err(|_| bad("must fit in u16 (0..=65535)"));
        let boolv = || match value {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(bad("must be 0 or 1")),
        };
        match key {
            Tempo => {
                let v = u16v()?;
                if v == 0 {
                    return Err(bad("must be at least 1"));
                }
                self.tempo = v;
            }
            Kappa => self.kappa = u16v()?,
            BondsMovingAverage => {
                if value > 1_000_000 {
                    return Err(bad("must be at most 1000000"));
                }
                self.bonds_moving_average = value;
            }
            BondsPenalty => self.bonds_penalty = u16v()?,
            MaxAllowedUids => {
                let v = u16v()?;
                if v == 0 || v > MAX_UIDS_CAP || v < n {
                    return Err(bad(&format!(
                        "must be in 1..={MAX_UIDS_CAP} and >= current size {n}"
                    )));
                }
                self.max_allowed_uids = v;
            }
            MaxAllowedValidators => self.max_allowed_validators = u16v()?,
            ImmunityPeriod => self.immunity_period = u16v()?,
            ActivityCutoff => self.activity_cutoff = u16v()?,
            MinAllowedWeights => self.min_allowed_weights = u16v()?,
            MaxWeightsLimit => {
                let v = u16v()?;
                if v == 0 {
                    return Err(bad("must be positive"));
                }
                self.max_weights_limit = v;
            }
            WeightsSetRateLimit => self.weights_set_rate_limit = value,
            ServingRateLimit => self.serving_rate_limit = value,
            TargetRegsPerInterval => self.target_regs_per_interval = u16v()?,
            AdjustmentInterval => {
                let v = u16v()?;
                if v == 0 {
                    return Err(bad("must be at least 1"));
                }
                self.adjustment_interval = v;
            }
            MaxRegsPerBlock => self.max_regs_per_block = u16v()?,
            LiquidAlphaEnabled => self.liquid_alpha_enabled = boolv()?,
            AlphaLow => {
                let v = u16v()?;
                if v > self.alpha_high {
                    return Err(bad("must not exceed alpha_high"));
                }
                self.alpha_low = v;
            }
            AlphaHigh => {
                let v = u16v()?;
                if v < self.alpha_low {
                    return Err(bad("must not be below alpha_low"));
                }
                self.alpha_high = v;
            }
            AlphaSteepness => self.alpha_steepness = u16v()?,
            Yuma3Enabled => self.yuma3_enabled = boolv()?,
            StakeThreshold => self.stake_threshold = value,
            CommitRevealEnabled => self.commit_reveal_enabled = boolv()?,
            CommitRevealPeriod => {
                if value == 0 || value > 100 {
                    return Err(bad("must be in 1..=100 epochs"));
                }
                self.commit_reveal_period = value;
            }
            WeightsVersion => self.weights_version = value,
            RegistrationAllowed => self.registration_allowed = boolv()?,
            MinBurn => {
                if value > self.max_burn {
                    return Err(bad("must not exceed max_burn"));
                }
                self.min_burn = value;
            }
            MaxBurn => {
                if value < self.min_burn {
                    return Err(bad("must not be below min_burn"));
                }
                self.max_burn = value;
            }
            BurnIncreasePpm => {
                if !(1_000_000..=10_000_000).contains(&value) {
                    return Err(bad("must be in 1000000..=10000000 (1x..10x)"));
                }
                self.burn_increase_ppm = value;
            }
            BurnDecayPpm => {
                if value > 1_000_000 {
                    return Err(bad("must be at most 1000000"));
                }
                self.burn_decay_ppm = value;
            }
            Difficulty => {
                if value < self.min_difficulty || value > self.max_difficulty {
                    return Err(bad("must be within [min_difficulty, max_difficulty]"));
                }
                self.difficulty = value;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_round_trips_by_tag_and_name() {
        for (i, k) in HyperparamKey::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i);
            assert_eq!(HyperparamKey::from_tag(i as u8), Some(*k));
            assert_eq!(HyperparamKey::from_name(k.name()), Some(*k));
        }
        assert_eq!(HyperparamKey::from_tag(30), None);
    }

    #[test]
    fn ranges_are_checked() {
        let mut h = Hyperparams::default();
        assert!(h.set(HyperparamKey::Tempo, 0, 0).is_err());
        assert!(h.set(HyperparamKey::Tempo, 70_000, 0).is_err());
        h.set(HyperparamKey::Tempo, 10, 0).unwrap();
        assert_eq!(h.tempo, 10);
        assert!(h.set(HyperparamKey::MaxAllowedUids, 3, 5).is_err());
        assert!(h.set(HyperparamKey::CommitRevealEnabled, 2, 0).is_err());
        h.set(HyperparamKey::CommitRevealEnabled, 0, 0).unwrap();
        assert!(!h.commit_reveal_enabled);
    }
}
