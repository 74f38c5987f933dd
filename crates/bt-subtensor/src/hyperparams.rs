//! Subtensor's stored hyperparameters into the one `Hyperparams`, by checked conversions: a
//! value that does not fit is an error naming it, never a wrapped number. Items this runtime
//! lacks keep `Hyperparams::default()`'s value (which is subtensor's own default), and are
//! listed so a caller can say so.

use bt_interfaces::Hyperparams;

use crate::error::SubtensorError;
use crate::ops::HyperValue;

/// The SDK-named values of [`crate::Subtensor::hyperparams`] into [`Hyperparams`]; returns it
/// with the names this runtime did not have.
pub fn to_hyperparams(
    values: &[(&'static str, HyperValue)],
) -> Result<(Hyperparams, Vec<&'static str>), SubtensorError> {
    let mut hp = Hyperparams::default();
    let mut absent = Vec::new();
    for (name, value) in values {
        if *value == HyperValue::Absent {
            absent.push(*name);
            continue;
        }
        let bad = |why: &str| {
            SubtensorError::decode(format!("hyperparameter {name}"), format!("{value} {why}"))
        };
        let uint = || match value {
            HyperValue::Uint(v) => Ok(*v),
            HyperValue::Bool(b) => Ok(u128::from(*b)),
            _ => Err(bad("is not an unsigned number")),
        };
        let u16v = || uint().and_then(|v| u16::try_from(v).map_err(|_| bad("does not fit u16")));
        let u64v = || uint().and_then(|v| u64::try_from(v).map_err(|_| bad("does not fit u64")));
        let flag = || match value {
            HyperValue::Bool(b) => Ok(*b),
            _ => Err(bad("is not a bool")),
        };
        match *name {
            "kappa" => hp.kappa = u16v()?,
            "immunity_period" => hp.immunity_period = u16v()?,
            "min_allowed_weights" => hp.min_allowed_weights = u16v()?,
            "max_weights_limit" => hp.max_weights_limit = u16v()?,
            "tempo" => hp.tempo = u16v()?,
            "min_difficulty" => hp.min_difficulty = u64v()?,
            "max_difficulty" => hp.max_difficulty = u64v()?,
            "weights_version" => hp.weights_version = u64v()?,
            "weights_rate_limit" => hp.weights_set_rate_limit = u64v()?,
            "adjustment_interval" => hp.adjustment_interval = u16v()?,
            "activity_cutoff" => hp.activity_cutoff = u16v()?,
            "registration_allowed" => hp.registration_allowed = flag()?,
            "target_regs_per_interval" => hp.target_regs_per_interval = u16v()?,
            "min_burn" => hp.min_burn = u64v()?,
            "max_burn" => hp.max_burn = u64v()?,
            "bonds_moving_avg" => hp.bonds_moving_average = u64v()?,
            "max_regs_per_block" => hp.max_regs_per_block = u16v()?,
            "serving_rate_limit" => hp.serving_rate_limit = u64v()?,
            "max_validators" => hp.max_allowed_validators = u16v()?,
            "max_allowed_uids" => hp.max_allowed_uids = u16v()?,
            "difficulty" => hp.difficulty = u64v()?,
            "commit_reveal_period" => hp.commit_reveal_period = u64v()?,
            "commit_reveal_weights_enabled" => hp.commit_reveal_weights_enabled = flag()?,
            "liquid_alpha_enabled" => hp.liquid_alpha_enabled = flag()?,
            "bonds_penalty" => hp.bonds_penalty = u16v()?,
            "yuma3_enabled" => hp.yuma3_enabled = flag()?,
            "alpha_sigmoid_steepness" => {
                hp.alpha_sigmoid_steepness = match value {
                    HyperValue::Int(v) => i16::try_from(*v).map_err(|_| bad("does not fit i16"))?,
                    _ => i16::try_from(uint()?).map_err(|_| bad("does not fit i16"))?,
                }
            }
            "stake_threshold" => hp.stake_threshold = u64v()?,
            "alpha_low" => hp.alpha_low = u16v()?,
            "alpha_high" => hp.alpha_high = u16v()?,
            // Carried for display only: no counterpart in the epoch's parameters.
            "rho" | "adjustment_alpha" | "burn" => {}
            _ => {}
        }
    }
    Ok((hp, absent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_convert_and_overflow_is_named() {
        let (hp, absent) = to_hyperparams(&[
            ("tempo", HyperValue::Uint(10)),
            ("kappa", HyperValue::Uint(32_767)),
            ("liquid_alpha_enabled", HyperValue::Bool(true)),
            ("bonds_penalty", HyperValue::Absent),
        ])
        .unwrap();
        assert_eq!(
            (hp.tempo, hp.kappa, hp.liquid_alpha_enabled),
            (10, 32_767, true)
        );
        assert_eq!(absent, vec!["bonds_penalty"]);
        let err = to_hyperparams(&[("tempo", HyperValue::Uint(70_000))]).unwrap_err();
        assert!(
            err.to_string().contains("tempo") && err.to_string().contains("u16"),
            "{err}"
        );
    }
}
