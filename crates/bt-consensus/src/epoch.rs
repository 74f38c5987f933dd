//! The epoch, step by step as CONSENSUS.md numbers them.

use crate::bonds::{self, LiquidAlpha};
use crate::error::EpochError;
use crate::fixed::{
    I32F32, I64F64, I96F32, ZERO, from_u16, normalize, normalize_using, sdiv, sdiv64, sum,
};
use crate::median;
use crate::sparse::{self, Row, at};
use crate::types::{EpochOutput, Hyperparams, SparseRow, SubnetState};
use crate::validate;

/// Runs one Yuma consensus epoch over a subnet's state.
///
/// Pure: the result depends only on the arguments (no clock, no I/O, no floats), and equal
/// inputs give equal bits. Steps (CONSENSUS.md "The epoch"):
///
/// 1. activity from `last_update + activity_cutoff ≥ block`;
/// 2. stake below `stake_threshold` zeroed (not the owner's), normalized in I64F64, then I32F32;
/// 3. new permits: the `max_allowed_validators` largest non-zero stakes (ties to the higher uid),
///    plus the owner; the *previous* permits mask this epoch, the owner's counting as held;
/// 4. active stake `Sa`;
/// 5. weights: non-permitted rows, self-weights (except the owner's) and weights older than the
///    neuron they point at removed, rows normalized;
/// 6. consensus `C` = stake-weighted median per column at κ;
/// 7. clipped weights, validator trust, ranks, incentive;
/// 8. bond weights `Wb = W + β(Wc − W)`;
/// 9. classic bonds and dividends, or 10. Yuma3 bonds (liquid alpha optional);
/// 11. emission split.
///
/// New bond rows are written for uids holding a new permit; every other uid gets an empty row,
/// as subtensor's sparse epoch stores one for each uid it does not give a permit.
///
/// # Errors
/// [`EpochError`] when the per-uid vectors disagree in length, a sparse row names a uid
/// twice or one `≥ n`, the owner uid is out of range, the stake total overflows I64F64, or a
/// hyperparameter is outside its domain. No input makes it panic.
pub fn epoch(state: &SubnetState, hp: &Hyperparams) -> Result<EpochOutput, EpochError> {
    validate::check(state, hp)?;
    let n = state.n();
    let b = state.block;
    let owner = state.owner.map(usize::from);

    // 1. Activity.
    let cutoff = u64::from(hp.activity_cutoff);
    let active: Vec<bool> = state
        .last_update
        .iter()
        .map(|u| u.saturating_add(cutoff) >= b)
        .collect();

    // 2. Stake.
    let stake = normalized_stake(state, hp.stake_threshold, owner)?;

    // 3. Permits (stored for the next epoch; this one masks with the previous ones).
    let validator_permit = new_permits(&stake, usize::from(hp.max_allowed_validators), owner);
    let prev_permit = &with_owner(state.validator_permit.clone(), owner);

    // 4. Active stake.
    let mut active_stake: Vec<I32F32> = stake
        .iter()
        .zip(&active)
        .zip(prev_permit)
        .map(|((s, a), p)| if *a && *p { *s } else { ZERO })
        .collect();
    normalize(&mut active_stake);

    // 5. Weights.
    let mut weights: Vec<Row> = Vec::with_capacity(n);
    for (i, ((row, permitted), updated)) in state
        .weights
        .iter()
        .zip(prev_permit)
        .zip(&state.last_update)
        .enumerate()
    {
        let mut out = Row::new();
        if *permitted {
            out.reserve(row.len());
            for (j, w) in row {
                let ju = usize::from(*j);
                let self_weight = ju == i && owner != Some(i);
                let registered = state.block_at_registration.get(ju).copied().unwrap_or(0);
                // Weights set before the neuron they point at registered are outdated.
                if !self_weight && *updated > registered {
                    out.push((*j, I32F32::from_num(*w)));
                }
            }
            if !out.is_sorted_by_key(|(j, _)| *j) {
                out.sort_unstable_by_key(|(j, _)| *j);
            }
        }
        weights.push(out);
    }
    sparse::row_normalize(&mut weights);

    // 6. Consensus.
    let kappa = from_u16(hp.kappa);
    let consensus = median::consensus(&weights, &active_stake, n, kappa);

    // 7. Clip, validator trust, ranks, incentive: one pass over W; Wc_ij = min(W_ij, C_j).
    let mut validator_trust = Vec::with_capacity(n);
    let mut preranks = vec![ZERO; n];
    let mut ranks = vec![ZERO; n];
    for (row, sa) in weights.iter().zip(&active_stake) {
        let mut tv = ZERO;
        for (j, w) in row {
            let clipped = (*w).min(at(&consensus, *j));
            tv = tv.saturating_add(clipped);
            if *sa != ZERO {
                sparse::add_at(&mut preranks, *j, sa.saturating_mul(*w));
                sparse::add_at(&mut ranks, *j, sa.saturating_mul(clipped));
            }
        }
        validator_trust.push(tv);
    }
    let trust: Vec<I32F32> = ranks
        .iter()
        .zip(&preranks)
        .map(|(r, p)| sdiv(*r, *p))
        .collect();
    normalize(&mut ranks);
    let incentive = ranks.clone();

    // 8–10. Bond weights (computed on the fly from W and C), bonds and dividends.
    let last_tempo = b.saturating_sub(u64::from(hp.tempo));
    let recently_registered: Vec<bool> = state
        .block_at_registration
        .iter()
        .map(|r| last_tempo <= *r)
        .collect();
    let inputs = bonds::Inputs {
        weights: &weights,
        consensus: &consensus,
        beta: from_u16(hp.bonds_penalty),
        active_stake: &active_stake,
        incentive: &incentive,
        recently_registered: &recently_registered,
        n,
        bonds_moving_average: hp.bonds_moving_average,
    };
    let (new_bonds, dividends) = if hp.yuma3_enabled {
        let liquid = hp
            .liquid_alpha_enabled
            .then(|| LiquidAlpha::new(hp.alpha_low, hp.alpha_high, hp.alpha_sigmoid_steepness));
        bonds::yuma3(&inputs, &state.bonds, liquid)
    } else {
        bonds::classic(&inputs, &state.bonds)
    };
    let bonds_out = bond_rows(new_bonds, &validator_permit);

    // 11. Emission.
    let split = emission(
        &incentive,
        &dividends,
        &stake,
        &active_stake,
        state.emission,
    );

    Ok(EpochOutput {
        active,
        stake,
        validator_permit,
        active_stake,
        consensus,
        validator_trust,
        rank: ranks,
        trust,
        incentive,
        dividends,
        pruning_score: split.combined_normalized,
        server_emission: split.server,
        validator_emission: split.validator,
        emission: split.combined,
        bonds: bonds_out,
    })
}

/// Step 2: threshold, then normalize in I64F64 and narrow to I32F32.
fn normalized_stake(
    state: &SubnetState,
    threshold: u64,
    owner: Option<usize>,
) -> Result<Vec<I32F32>, EpochError> {
    let mut total = I64F64::from_num(0);
    let mut filtered = Vec::with_capacity(state.n());
    for (i, s) in state.stake.iter().enumerate() {
        let kept = if *s < threshold && owner != Some(i) {
            0
        } else {
            *s
        };
        let fixed = I64F64::checked_from_num(kept).ok_or(EpochError::StakeOverflow)?;
        total = total.checked_add(fixed).ok_or(EpochError::StakeOverflow)?;
        filtered.push(fixed);
    }
    let zero = I64F64::from_num(0);
    Ok(filtered
        .into_iter()
        .map(|s| {
            let s = if total == zero { s } else { sdiv64(s, total) };
            I32F32::saturating_from_num(s)
        })
        .collect())
}

/// Step 3: the k largest non-zero stakes, ties to the higher uid (subtensor's
/// `is_topk_nonzero`), then the owner's permit on top of them, whatever its stake and k.
fn new_permits(stake: &[I32F32], k: usize, owner: Option<usize>) -> Vec<bool> {
    let mut permit = vec![false; stake.len()];
    let mut order: Vec<usize> = (0..stake.len()).collect();
    order.sort_unstable_by(|a, b| {
        let (sa, sb) = (stake.get(*a), stake.get(*b));
        sb.cmp(&sa).then(b.cmp(a))
    });
    for i in order.into_iter().take(k) {
        if stake.get(i).copied().unwrap_or(ZERO) == ZERO {
            break;
        }
        if let Some(p) = permit.get_mut(i) {
            *p = true;
        }
    }
    with_owner(permit, owner)
}

/// The owner's permit counts as held, both the one this epoch masks with and the new one:
/// the subnet owner may always validate its own subnet.
fn with_owner(mut permit: Vec<bool>, owner: Option<usize>) -> Vec<bool> {
    if let Some(p) = owner.and_then(|o| permit.get_mut(o)) {
        *p = true;
    }
    permit
}

/// Which bond rows are written: permit holders get the new row, every other uid an empty one.
fn bond_rows(new_bonds: Vec<SparseRow>, new_permit: &[bool]) -> Vec<SparseRow> {
    new_bonds
        .into_iter()
        .zip(new_permit)
        .map(|(row, now)| if *now { row } else { SparseRow::new() })
        .collect()
}

struct Split {
    server: Vec<u64>,
    validator: Vec<u64>,
    combined: Vec<u64>,
    combined_normalized: Vec<I32F32>,
}

/// Step 11: shares of E; when nothing was earned, validators get E by active stake (by stake if
/// there is no active stake).
fn emission(
    incentive: &[I32F32],
    dividends: &[I32F32],
    stake: &[I32F32],
    active_stake: &[I32F32],
    total: u64,
) -> Split {
    let combined: Vec<I32F32> = incentive
        .iter()
        .zip(dividends)
        .map(|(i, d)| i.saturating_add(*d))
        .collect();
    let esum = sum(&combined);
    let mut server = incentive.to_vec();
    let mut validator = dividends.to_vec();
    let mut combined_normalized = combined;
    normalize_using(&mut server, esum);
    normalize_using(&mut validator, esum);
    normalize(&mut combined_normalized);
    if esum == ZERO {
        let fallback = if sum(active_stake) == ZERO {
            stake
        } else {
            active_stake
        };
        validator = fallback.to_vec();
        combined_normalized = fallback.to_vec();
    }
    let e = I96F32::saturating_from_num(total);
    let rao = |v: &[I32F32]| -> Vec<u64> {
        v.iter()
            .map(|x| {
                I96F32::saturating_from_num(*x)
                    .saturating_mul(e)
                    .saturating_to_num::<u64>()
            })
            .collect()
    };
    Split {
        server: rao(&server),
        validator: rao(&validator),
        combined: rao(&combined_normalized),
        combined_normalized,
    }
}

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used
)]
mod tests {
    use super::*;
    use crate::fixed::ONE;

    #[test]
    fn permits_prefer_higher_uid_on_ties_and_skip_zero_stake() {
        let s = [ONE, ONE, ZERO, I32F32::from_num(2)];
        assert_eq!(new_permits(&s, 2, None), vec![false, true, false, true]);
        assert_eq!(new_permits(&s, 10, None), vec![true, true, false, true]);
        // The owner's permit comes on top of the k, even with zero stake and k = 0.
        assert_eq!(new_permits(&s, 2, Some(2)), vec![false, true, true, true]);
        assert_eq!(new_permits(&s, 0, Some(2)), vec![false, false, true, false]);
    }
}
