//! Input checks: the epoch refuses malformed state with a typed error instead of guessing.

use crate::error::EpochError;
use crate::types::{Hyperparams, SparseRow, SubnetState};

pub(crate) fn check(state: &SubnetState, hp: &Hyperparams) -> Result<(), EpochError> {
    let n = state.n();
    if n > usize::from(u16::MAX) {
        return Err(EpochError::TooManyNeurons { n });
    }
    let lengths: [(&'static str, usize); 5] = [
        ("last_update", state.last_update.len()),
        ("block_at_registration", state.block_at_registration.len()),
        ("validator_permit", state.validator_permit.len()),
        ("weights", state.weights.len()),
        ("bonds", state.bonds.len()),
    ];
    for (field, got) in lengths {
        if got != n {
            return Err(EpochError::LengthMismatch {
                field,
                expected: n,
                got,
            });
        }
    }
    check_rows("weights", &state.weights, n)?;
    check_rows("bonds", &state.bonds, n)?;
    if let Some(owner) = state.owner
        && usize::from(owner) >= n
    {
        return Err(EpochError::OwnerOutOfRange { owner, n });
    }
    if hp.bonds_moving_average > 1_000_000 {
        return Err(EpochError::InvalidHyperparam {
            name: "bonds_moving_average",
            value: i128::from(hp.bonds_moving_average),
            reason: "must be at most 1000000 (α = 1 − value/1e6 would be negative)",
        });
    }
    if hp.alpha_low > hp.alpha_high {
        return Err(EpochError::InvalidHyperparam {
            name: "alpha_low",
            value: i128::from(hp.alpha_low),
            reason: "must not exceed alpha_high",
        });
    }
    Ok(())
}

fn check_rows(matrix: &'static str, rows: &[SparseRow], n: usize) -> Result<(), EpochError> {
    let mut seen = vec![usize::MAX; n];
    for (row, entries) in rows.iter().enumerate() {
        for (uid, _) in entries {
            let Some(mark) = seen.get_mut(usize::from(*uid)) else {
                return Err(EpochError::UidOutOfRange {
                    matrix,
                    row,
                    uid: *uid,
                    n,
                });
            };
            if *mark == row {
                return Err(EpochError::DuplicateUid {
                    matrix,
                    row,
                    uid: *uid,
                });
            }
            *mark = row;
        }
    }
    Ok(())
}
