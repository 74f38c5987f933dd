//! The per-tempo epoch of one subnet: read the subnet into `bt_consensus::SubnetState`, run
//! Yuma consensus, store its outputs on the neurons and credit the emission to stake.

use crate::error::ChainError;
use crate::state::ChainState;

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
    let out = bt_consensus::epoch(&input, &sn.hparams).map_err(|e| ChainError::Epoch {
        netuid,
        source: Box::new(e),
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
        return Err(ChainError::EpochOutputs { netuid, n });
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
