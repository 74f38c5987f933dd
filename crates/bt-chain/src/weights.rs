//! The weight rules (CONSENSUS.md "set_weights" and "Commit-reveal"): validation, the stored
//! max-upscaled row, commits and reveals.

use crate::error::ChainError;
use crate::keys::AccountId;
use crate::state::{ChainState, Commit, Subnet};
use crate::tx::commit_hash;
use std::collections::BTreeSet;

/// Pending commits per hotkey and subnet.
pub const MAX_PENDING_COMMITS: usize = 10;

/// Every rule of CONSENSUS.md "set_weights"; returns the caller's uid and the stored row.
pub(crate) fn check_weights(
    sn: &Subnet,
    hotkey: &AccountId,
    uids: &[u16],
    values: &[u16],
    version_key: u64,
    block: u64,
    rate_limited: bool,
) -> Result<(u16, Vec<(u16, u16)>), ChainError> {
    let h = &sn.hparams;
    let uid = sn.uid_of(hotkey).ok_or(ChainError::NotRegistered {
        netuid: sn.netuid,
        hotkey: *hotkey,
    })?;
    if uids.len() != values.len() {
        return Err(ChainError::WeightLengthMismatch {
            uids: uids.len(),
            values: values.len(),
        });
    }
    if version_key < h.weights_version {
        return Err(ChainError::IncorrectWeightVersion {
            got: version_key,
            required: h.weights_version,
        });
    }
    let neuron = &sn.neurons[usize::from(uid)];
    if rate_limited && let Some(last) = neuron.last_weights_block {
        let limit = h.weights_set_rate_limit;
        if block.saturating_sub(last) < limit {
            return Err(ChainError::RateLimited {
                last,
                limit,
                now: block,
            });
        }
    }
    let n = sn.n();
    let mut seen = BTreeSet::new();
    for &j in uids {
        if j >= n {
            return Err(ChainError::InvalidUid { uid: j, n });
        }
        if !seen.insert(j) {
            return Err(ChainError::DuplicateUid(j));
        }
    }
    let self_only = uids == [uid];
    if !self_only {
        if !neuron.validator_permit {
            return Err(ChainError::NoValidatorPermit { uid });
        }
        let min = usize::from(n.min(h.min_allowed_weights));
        if uids.len() < min {
            return Err(ChainError::TooFewWeights {
                got: uids.len(),
                min,
            });
        }
        let sum: u64 = values.iter().map(|v| u64::from(*v)).sum();
        let max = values.iter().copied().max().map_or(0, u64::from);
        let limit = u64::from(h.max_weights_limit);
        if sum > 0 && max * 65_535 > limit * sum {
            return Err(ChainError::MaxWeightExceeded {
                max_fraction_u16: max * 65_535 / sum,
                limit: h.max_weights_limit,
            });
        }
    }
    Ok((uid, max_upscale(uids, values)))
}

/// Scales a row so its largest value is 65535 (rounded), dropping zeros; the order is by uid.
fn max_upscale(uids: &[u16], values: &[u16]) -> Vec<(u16, u16)> {
    let max = u64::from(values.iter().copied().max().unwrap_or(0));
    let mut row: Vec<(u16, u16)> = uids
        .iter()
        .zip(values)
        .filter(|(_, v)| **v > 0)
        .map(|(u, v)| {
            let scaled = (u64::from(*v) * 65_535 * 2 + max) / (2 * max);
            (*u, u16::try_from(scaled).unwrap_or(u16::MAX))
        })
        .collect();
    row.sort_unstable();
    row
}

pub(crate) fn store_weights(sn: &mut Subnet, uid: u16, row: Vec<(u16, u16)>, block: u64) {
    let n = &mut sn.neurons[usize::from(uid)];
    n.weights = row;
    n.last_update = block;
    n.last_weights_block = Some(block);
}

pub(crate) fn commit_weights(
    s: &mut ChainState,
    hotkey: AccountId,
    netuid: u16,
    hash: [u8; 32],
    block: u64,
) -> Result<(), ChainError> {
    let sn = s.subnet_mut(netuid)?;
    if !sn.hparams.commit_reveal_weights_enabled {
        return Err(ChainError::CommitRevealDisabled(netuid));
    }
    let uid = sn
        .uid_of(&hotkey)
        .ok_or(ChainError::NotRegistered { netuid, hotkey })?;
    let limit = sn.hparams.weights_set_rate_limit;
    let pending = sn.commits.get(&hotkey);
    if let Some(last) = pending
        .and_then(|q| q.back())
        .map(|c| c.block)
        .or(sn.neurons[usize::from(uid)].last_weights_block)
        && block.saturating_sub(last) < limit
    {
        return Err(ChainError::RateLimited {
            last,
            limit,
            now: block,
        });
    }
    if pending.map_or(0, |q| q.len()) >= MAX_PENDING_COMMITS {
        return Err(ChainError::TooManyCommits {
            max: MAX_PENDING_COMMITS,
        });
    }
    let epoch = sn.epoch_index(block);
    sn.commits
        .entry(hotkey)
        .or_default()
        .push_back(Commit { hash, block, epoch });
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn reveal_weights(
    s: &mut ChainState,
    hotkey: AccountId,
    netuid: u16,
    uids: &[u16],
    values: &[u16],
    salt: &[u8],
    version_key: u64,
    block: u64,
) -> Result<(), ChainError> {
    let sn = s.subnet_mut(netuid)?;
    if !sn.hparams.commit_reveal_weights_enabled {
        return Err(ChainError::CommitRevealDisabled(netuid));
    }
    sn.uid_of(&hotkey)
        .ok_or(ChainError::NotRegistered { netuid, hotkey })?;
    let hash = commit_hash(&hotkey, netuid, uids, values, salt, version_key);
    let queue = sn
        .commits
        .get(&hotkey)
        .ok_or(ChainError::NoMatchingCommit)?;
    let pos = queue
        .iter()
        .position(|c| c.hash == hash)
        .ok_or(ChainError::NoMatchingCommit)?;
    let commit = &queue[pos];
    let reveal_epoch = commit.epoch + sn.hparams.commit_reveal_period;
    let now_epoch = sn.epoch_index(block);
    if now_epoch < reveal_epoch {
        return Err(ChainError::RevealTooEarly {
            commit_epoch: commit.epoch,
            reveal_epoch,
            now_epoch,
        });
    }
    if now_epoch > reveal_epoch {
        return Err(ChainError::CommitExpired {
            reveal_epoch,
            now_epoch,
        });
    }
    // The rate limit was enforced when committing.
    let (uid, row) = check_weights(sn, &hotkey, uids, values, version_key, block, false)?;
    if let Some(q) = sn.commits.get_mut(&hotkey) {
        q.remove(pos);
        if q.is_empty() {
            sn.commits.remove(&hotkey);
        }
    }
    store_weights(sn, uid, row, block);
    Ok(())
}
