//! Setting a subnet's hyperparameters (`bt_consensus::Hyperparams`, the one definition): the
//! owner changes one key per `SetHyperparam` transaction, each checked against its own range
//! and converted to the field's type without a cast, so a typo cannot brick a subnet.

use crate::error::ChainError;
pub use bt_consensus::{Hyperparams, RAO_PER_TAO};
use serde::{Deserialize, Serialize};

/// A hard ceiling on neurons per subnet; bounds every per-subnet vector and weight row.
pub const MAX_UIDS_CAP: u16 = 4096;

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
            AlphaSteepness => "alpha_sigmoid_steepness",
            Yuma3Enabled => "yuma3_enabled",
            StakeThreshold => "stake_threshold",
            CommitRevealEnabled => "commit_reveal_weights_enabled",
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

    /// The key named `name`; earlier releases' names of two keys are accepted too.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "alpha_steepness" => Some(Self::AlphaSteepness),
            "commit_reveal_enabled" => Some(Self::CommitRevealEnabled),
            _ => Self::ALL.iter().copied().find(|k| k.name() == name),
        }
    }

    /// Sets this key of `h` to `value`, checking its range. `n` is the subnet's current
    /// neuron count.
    pub fn apply(self, h: &mut Hyperparams, value: u64, n: u16) -> Result<(), ChainError> {
        use HyperparamKey::*;
        let key = self;
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
                h.tempo = v;
            }
            Kappa => h.kappa = u16v()?,
            BondsMovingAverage => {
                if value > 1_000_000 {
                    return Err(bad("must be at most 1000000"));
                }
                h.bonds_moving_average = value;
            }
            BondsPenalty => h.bonds_penalty = u16v()?,
            MaxAllowedUids => {
                let v = u16v()?;
                if v == 0 || v > MAX_UIDS_CAP || v < n {
                    return Err(bad(&format!(
                        "must be in 1..={MAX_UIDS_CAP} and >= current size {n}"
                    )));
                }
                h.max_allowed_uids = v;
            }
            MaxAllowedValidators => h.max_allowed_validators = u16v()?,
            ImmunityPeriod => h.immunity_period = u16v()?,
            ActivityCutoff => h.activity_cutoff = u16v()?,
            MinAllowedWeights => h.min_allowed_weights = u16v()?,
            MaxWeightsLimit => {
                let v = u16v()?;
                if v == 0 {
                    return Err(bad("must be positive"));
                }
                h.max_weights_limit = v;
            }
            WeightsSetRateLimit => h.weights_set_rate_limit = value,
            ServingRateLimit => h.serving_rate_limit = value,
            TargetRegsPerInterval => h.target_regs_per_interval = u16v()?,
            AdjustmentInterval => {
                let v = u16v()?;
                if v == 0 {
                    return Err(bad("must be at least 1"));
                }
                h.adjustment_interval = v;
            }
            MaxRegsPerBlock => h.max_regs_per_block = u16v()?,
            LiquidAlphaEnabled => h.liquid_alpha_enabled = boolv()?,
            AlphaLow => {
                let v = u16v()?;
                if v > h.alpha_high {
                    return Err(bad("must not exceed alpha_high"));
                }
                h.alpha_low = v;
            }
            AlphaHigh => {
                let v = u16v()?;
                if v < h.alpha_low {
                    return Err(bad("must not be below alpha_low"));
                }
                h.alpha_high = v;
            }
            AlphaSteepness => {
                h.alpha_sigmoid_steepness =
                    i16::try_from(value).map_err(|_| bad("must be in 0..=32767"))?;
            }
            Yuma3Enabled => h.yuma3_enabled = boolv()?,
            StakeThreshold => h.stake_threshold = value,
            CommitRevealEnabled => h.commit_reveal_weights_enabled = boolv()?,
            CommitRevealPeriod => {
                if value == 0 || value > 100 {
                    return Err(bad("must be in 1..=100 epochs"));
                }
                h.commit_reveal_period = value;
            }
            WeightsVersion => h.weights_version = value,
            RegistrationAllowed => h.registration_allowed = boolv()?,
            MinBurn => {
                if value > h.max_burn {
                    return Err(bad("must not exceed max_burn"));
                }
                h.min_burn = value;
            }
            MaxBurn => {
                if value < h.min_burn {
                    return Err(bad("must not be below min_burn"));
                }
                h.max_burn = value;
            }
            BurnIncreasePpm => {
                if !(1_000_000..=10_000_000).contains(&value) {
                    return Err(bad("must be in 1000000..=10000000 (1x..10x)"));
                }
                h.burn_increase_ppm = value;
            }
            BurnDecayPpm => {
                if value > 1_000_000 {
                    return Err(bad("must be at most 1000000"));
                }
                h.burn_decay_ppm = value;
            }
            Difficulty => {
                if value < h.min_difficulty || value > h.max_difficulty {
                    return Err(bad("must be within [min_difficulty, max_difficulty]"));
                }
                h.difficulty = value;
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
        assert_eq!(
            HyperparamKey::from_name("commit_reveal_enabled"),
            Some(HyperparamKey::CommitRevealEnabled)
        );
        assert_eq!(HyperparamKey::from_tag(30), None);
    }

    #[test]
    fn ranges_are_checked() {
        use HyperparamKey::*;
        let mut h = Hyperparams::default();
        assert!(Tempo.apply(&mut h, 0, 0).is_err());
        assert!(Tempo.apply(&mut h, 70_000, 0).is_err());
        Tempo.apply(&mut h, 10, 0).unwrap();
        assert_eq!(h.tempo, 10);
        assert!(MaxAllowedUids.apply(&mut h, 3, 5).is_err());
        assert!(CommitRevealEnabled.apply(&mut h, 2, 0).is_err());
        CommitRevealEnabled.apply(&mut h, 0, 0).unwrap();
        assert!(!h.commit_reveal_weights_enabled);
        // a steepness beyond i16 is refused, never wrapped or saturated
        assert!(AlphaSteepness.apply(&mut h, 40_000, 0).is_err());
        AlphaSteepness.apply(&mut h, 2_000, 0).unwrap();
        assert_eq!(h.alpha_sigmoid_steepness, 2_000);
    }
}
