//! The per-tempo epoch of one subnet: read the subnet into `bt_consensus::SubnetState`, run
//! Yuma consensus, store its outputs on the neurons and credit the emission to stake.

use crate::error::ChainError;
use crate::hparams::Hyperparams;
use crate::state::ChainState;

pub(crate) fn consensus_hparams(h: &Hyperparams) -> bt_consensus::Hyperparams {
    bt_consensus::Hyperparams {
        tempo: h.tempo,
        kappa: h.kappa,
        bonds_moving_average: h.bonds_moving_average,
        bonds_penalty: h.bonds_penalty,
        max_allowed_uids: h.max_allowed_uids,
        max_allowed_validators: h.max_allowed_validators,
        immunity_period: h.immunity_period,
        activity_cutoff: h.activity_cutoff,
        min_allowed_weights: h.min_allowed_weights,
        max_weights_limit: h.max_weights_limit,
        weights_set_rate_limit: h.weights_set_rate_limit,
        serving_rate_limit: h.serving_rate_limit,
        target_regs_per_interval: h.target_regs_per_interval,
        adjustment_interval: h.adjustment_interval,
        max_regs_per_block: h.max_regs_per_block,
        liquid_alpha_enabled: h.liquid_alpha_enabled,
        alpha_low: h.alpha_low,
        alpha_high: h.alpha_high,
        alpha_sigmoid_steepness: i16::try_from(h.alpha_steepness).unwrap_or(i16::MAX),
        yuma3_enabled: h.yuma3_enabled,
        stake_threshold: h.stake_threshold,
        commit_reveal_weights_enabled: h.commit_reveal_enabled,
        commit_reveal_period: h.commit_reveal_period,
    }
}

/// Runs the epoch of `netuid` at the end of `block`, distributing `emission` rao.
pub(crate) fn run_epoch(
    s: &mut ChainState,
    netuid: u16,
    block: u64,
    emission: u64,
) -> Result<(), ChainError> {
    let sn = s.subnet(netuid)?;
    let input = bt_consensus::SubnetState {
        block,
        stake: sn
            .neurons
            .iter()
            .map(|n| s.total_stake(&n.hotkey))
            .collect(),
        last_update: sn.neurons.iter().map(|n| n.last_update).collect(),
        block_at_registration: sn.neurons.iter().map(|n| n.registered_at).collect(),
        validator_permit: sn.neurons.iter().map(|n| n.validator_permit).collect(),
        weights: sn.neurons.iter().map(|n| n.weights.clone()).collect(),
        bonds: sn.neurons.iter().map(|n| n.bonds.clone()).collect(),
        owner: sn.uid_of(&sn.owner_hotkey),
        emission,
    };
    let out = bt_consensus::epoch(&input, &consensus_hparams(&sn.hparams)).map_err(|e| {
        ChainError::Epoch {
            netuid,
            reason: e.to_string(),
        }
    })?;
    let st = out.stored();
    let n = sn.neurons.len();
    let lens = [
        st.active.len(),
        st.validator_permit.len(),
        st.consensus.len(),
        st.incentive.len(),
        st.dividends.len(),
        st.validator_trust.len(),
        st.emission.len(),
        st.bonds.len(),
        st.rank.len(),
        st.trust.len(),
        st.server_emission.len(),
        st.validator_emission.len(),
    ];
    if lens.iter().any(|l| *l != n) {
        return Err(ChainError::Epoch {
            netuid,
            reason: format!("output lengths {lens:?} differ from n = {n}"),
        });
    }
    let mut credits = Vec::with_capacity(n);
    let sn = s.subnet_mut(netuid)?;
    sn.last_epoch_block = block;
    for (i, nr) in sn.neurons.iter_mut().enumerate() {
        nr.active = st.active[i];
        nr.validator_permit = st.validator_permit[i];
        nr.consensus = st.consensus[i];
        nr.incentive = st.incentive[i];
        nr.dividends = st.dividends[i];
        nr.validator_trust = st.validator_trust[i];
        nr.rank = st.rank[i];
        nr.trust = st.trust[i];
        nr.emission = st.emission[i];
        nr.bonds = st.bonds[i].clone();
        let earned = st.server_emission[i].saturating_add(st.validator_emission[i]);
        if earned > 0 {
            credits.push((nr.hotkey, nr.coldkey, earned));
        }
    }
    // Emission becomes stake of the neuron's coldkey on its hotkey, as subtensor does.
    for (hotkey, coldkey, amount) in credits {
        let e = s
            .stake
            .entry(hotkey)
            .or_default()
            .entry(coldkey)
            .or_insert(0);
        *e = e.saturating_add(amount);
        s.total_issuance = s.total_issuance.saturating_add(amount);
    }
    Ok(())
}
