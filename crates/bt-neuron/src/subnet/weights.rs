//! From scores to a weight row the chain accepts: normalized, capped at `max_weights_limit`,
//! padded to `min_allowed_weights`, as u16.

use crate::subnet::view::SubnetView;

use crate::subnet::error::SubnetError;

/// `row`'s weight for `uid` as a fraction of the row's sum (0 when absent or the row is empty).
pub fn weight_of(row: &[(u16, u16)], uid: u16) -> f32 {
    let sum: u64 = row.iter().map(|(_, v)| u64::from(*v)).sum();
    if sum == 0 {
        return 0.0;
    }
    row.iter()
        .find(|(u, _)| *u == uid)
        .map_or(0.0, |(_, v)| (f64::from(*v) / sum as f64) as f32)
}

/// Caps every share at `limit` (a fraction) and hands the excess to the uncapped entries in
/// proportion, as the Python SDK's `normalize_max_weight` does. Input must sum to 1.
pub fn cap_shares(shares: &mut [f64], limit: f64) {
    if shares.is_empty() || limit * shares.len() as f64 <= 1.0 {
        // The cap cannot be met with this many entries: uniform is the closest row.
        let n = shares.len().max(1) as f64;
        shares.iter_mut().for_each(|s| *s = 1.0 / n);
        return;
    }
    for _ in 0..shares.len() {
        let over: f64 = shares
            .iter()
            .filter(|s| **s > limit)
            .map(|s| s - limit)
            .sum();
        if over <= 1e-12 {
            return;
        }
        let free: f64 = shares.iter().filter(|s| **s < limit).sum();
        for s in shares.iter_mut() {
            if *s > limit {
                *s = limit;
            } else if free > 0.0 {
                *s += over * *s / free;
            }
        }
    }
}

/// Converts non-negative scores by uid into the `(uids, values)` of a `set_weights` call from
/// uid `me` on `mg`'s subnet. Uids with a zero score stay in the row (they count towards
/// `min_allowed_weights`); when still too few, other uids are added with weight 0.
pub fn to_u16_weights(
    uids: &[u16],
    scores: &[f32],
    mg: &SubnetView,
    me: u16,
) -> Result<(Vec<u16>, Vec<u16>), SubnetError> {
    if uids.len() != scores.len() {
        return Err(SubnetError::Config(format!(
            "{} uids but {} weights",
            uids.len(),
            scores.len()
        )));
    }
    if let Some(bad) = scores.iter().find(|s| !s.is_finite() || **s < 0.0) {
        return Err(SubnetError::Config(format!(
            "weights must be finite and non-negative, got {bad}"
        )));
    }
    let n = mg.n();
    if let Some(bad) = uids.iter().find(|u| **u >= n) {
        return Err(SubnetError::Config(format!(
            "uid {bad} is not on netuid {} (n = {n})",
            mg.netuid
        )));
    }
    let mut seen = std::collections::BTreeSet::new();
    if let Some(dup) = uids.iter().find(|u| !seen.insert(**u)) {
        return Err(SubnetError::Config(format!("uid {dup} appears twice")));
    }
    let sum: f64 = scores.iter().map(|s| f64::from(*s)).sum();
    if sum <= 0.0 {
        return Err(SubnetError::Config("every weight is zero".into()));
    }
    let mut shares: Vec<f64> = scores.iter().map(|s| f64::from(*s) / sum).collect();
    let limit = mg.hparams.max_weights_limit;
    if limit < u16::MAX {
        // One unit of headroom: rounding to u16 below may lift the largest share a hair.
        cap_shares(&mut shares, f64::from(limit.saturating_sub(1)) / 65_535.0);
    }
    let max = shares.iter().copied().fold(0.0, f64::max);
    let mut out_uids = uids.to_vec();
    let mut values: Vec<u16> = shares
        .iter()
        .map(|s| (s / max * 65_535.0).round().clamp(0.0, 65_535.0) as u16)
        .collect();
    let min = usize::from(n.min(mg.hparams.min_allowed_weights));
    let mut extra = (0..n).filter(|u| *u != me && !seen.contains(u));
    while out_uids.len() < min {
        match extra.next() {
            Some(u) => {
                out_uids.push(u);
                values.push(0);
            }
            None => break,
        }
    }
    Ok((out_uids, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_capped_and_still_sum_to_one() {
        let mut s = vec![0.7, 0.2, 0.1];
        cap_shares(&mut s, 0.5);
        assert!((s.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{s:?}");
        assert!(s.iter().all(|v| *v <= 0.5 + 1e-9), "{s:?}");
        assert!(s[1] > s[2]);
        let mut tight = vec![0.9, 0.1];
        cap_shares(&mut tight, 0.4);
        assert_eq!(tight, vec![0.5, 0.5]);
    }

    #[test]
    fn row_weight_is_a_fraction() {
        let row = [(1, 65_535), (2, 65_535)];
        assert!((weight_of(&row, 1) - 0.5).abs() < 1e-6);
        assert_eq!(weight_of(&row, 3), 0.0);
        assert_eq!(weight_of(&[], 1), 0.0);
    }
}
