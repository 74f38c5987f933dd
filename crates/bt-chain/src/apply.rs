//! The rules: one function per call. Each checks everything first and mutates only once every
//! check has passed, so a failed call leaves the state untouched (the block still records it,
//! and the signer's nonce still advances).

use crate::axon::AxonInfo;
use crate::error::ChainError;
use crate::genesis::Genesis;
use crate::keys::AccountId;
use crate::state::{ChainState, Neuron, Subnet};
use crate::tx::{Call, pow_seal, seal_meets_difficulty};
use crate::weights::{check_weights, commit_weights, reveal_weights, store_weights};

/// A proof of work must name one of the last `POW_WINDOW` blocks.
pub const POW_WINDOW: u64 = 3;

/// Applies one call by `signer` at block `block`.
pub(crate) fn apply_call(
    s: &mut ChainState,
    g: &Genesis,
    signer: AccountId,
    call: &Call,
    block: u64,
) -> Result<(), ChainError> {
    match call {
        Call::Transfer { dest, amount } => transfer(s, signer, *dest, *amount),
        Call::Faucet => faucet(s, g, signer),
        Call::CreateSubnet { owner_hotkey } => create_subnet(s, g, signer, *owner_hotkey, block),
        Call::SetHyperparam { netuid, key, value } => {
            let sn = s.subnet_mut(*netuid)?;
            if sn.owner_coldkey != signer {
                return Err(ChainError::NotSubnetOwner {
                    netuid: *netuid,
                    caller: signer,
                });
            }
            let n = sn.n();
            let mut h = sn.hparams.clone();
            key.apply(&mut h, *value, n)?;
            sn.hparams = h;
            Ok(())
        }
        Call::BurnedRegister { netuid, hotkey } => {
            burned_register(s, signer, *netuid, *hotkey, block)
        }
        Call::PowRegister {
            netuid,
            coldkey,
            block_number,
            work_nonce,
        } => pow_register(
            s,
            signer,
            *netuid,
            *coldkey,
            *block_number,
            *work_nonce,
            block,
        ),
        Call::AddStake { hotkey, amount } => add_stake(s, signer, *hotkey, *amount),
        Call::RemoveStake { hotkey, amount } => remove_stake(s, signer, *hotkey, *amount),
        Call::ServeAxon {
            netuid,
            version,
            ip,
            port,
            ip_type,
            protocol,
            identity,
        } => {
            let axon = AxonInfo {
                version: *version,
                ip: *ip,
                port: *port,
                ip_type: *ip_type,
                protocol: *protocol,
                block,
                identity: identity.clone(),
            };
            serve_axon(s, signer, *netuid, axon, block)
        }
        Call::SetWeights {
            netuid,
            uids,
            values,
            version_key,
        } => {
            let sn = s.subnet_mut(*netuid)?;
            if sn.hparams.commit_reveal_weights_enabled {
                return Err(ChainError::CommitRevealEnabled(*netuid));
            }
            let (uid, row) = check_weights(sn, &signer, uids, values, *version_key, block, true)?;
            store_weights(sn, uid, row, block);
            Ok(())
        }
        Call::CommitWeights { netuid, commit } => {
            commit_weights(s, signer, *netuid, *commit, block)
        }
        Call::RevealWeights {
            netuid,
            uids,
            values,
            salt,
            version_key,
        } => reveal_weights(s, signer, *netuid, uids, values, salt, *version_key, block),
    }
}

fn credit(s: &mut ChainState, who: AccountId, amount: u64) -> Result<(), ChainError> {
    let acc = s.accounts.entry(who).or_default();
    acc.balance = acc
        .balance
        .checked_add(amount)
        .ok_or(ChainError::Overflow("balance"))?;
    Ok(())
}

fn check_funds(s: &ChainState, who: &AccountId, needed: u64) -> Result<(), ChainError> {
    let balance = s.balance(who);
    if balance < needed {
        return Err(ChainError::InsufficientBalance {
            account: *who,
            balance,
            needed,
        });
    }
    Ok(())
}

/// Only call after `check_funds`.
fn debit(s: &mut ChainState, who: &AccountId, amount: u64) {
    if let Some(acc) = s.accounts.get_mut(who) {
        acc.balance = acc.balance.saturating_sub(amount);
    }
}

fn transfer(
    s: &mut ChainState,
    from: AccountId,
    to: AccountId,
    amount: u64,
) -> Result<(), ChainError> {
    if amount == 0 {
        return Err(ChainError::ZeroAmount);
    }
    check_funds(s, &from, amount)?;
    if s.balance(&to).checked_add(amount).is_none() {
        return Err(ChainError::Overflow("balance"));
    }
    debit(s, &from, amount);
    credit(s, to, amount)
}

fn faucet(s: &mut ChainState, g: &Genesis, who: AccountId) -> Result<(), ChainError> {
    if g.faucet_amount == 0 {
        return Err(ChainError::FaucetDisabled);
    }
    let balance = s.balance(&who);
    if balance >= g.faucet_amount {
        return Err(ChainError::FaucetNotNeeded {
            account: who,
            balance,
            limit: g.faucet_amount,
        });
    }
    let minted = g.faucet_amount - balance;
    s.total_issuance = s
        .total_issuance
        .checked_add(minted)
        .ok_or(ChainError::Overflow("issuance"))?;
    s.accounts.entry(who).or_default().balance = g.faucet_amount;
    Ok(())
}

fn check_hotkey_owner(
    s: &ChainState,
    hotkey: &AccountId,
    coldkey: &AccountId,
) -> Result<(), ChainError> {
    match s.hotkey_owner.get(hotkey) {
        Some(owner) if owner != coldkey => Err(ChainError::NotHotkeyOwner {
            hotkey: *hotkey,
            owner: *owner,
            caller: *coldkey,
        }),
        _ => Ok(()),
    }
}

fn create_subnet(
    s: &mut ChainState,
    g: &Genesis,
    coldkey: AccountId,
    owner_hotkey: AccountId,
    block: u64,
) -> Result<(), ChainError> {
    if s.subnets.len() >= usize::from(g.max_subnets) {
        return Err(ChainError::TooManySubnets(s.subnets.len()));
    }
    check_hotkey_owner(s, &owner_hotkey, &coldkey)?;
    check_funds(s, &coldkey, g.subnet_creation_cost)?;
    let netuid = (1..=u16::MAX)
        .find(|n| !s.subnets.contains_key(n))
        .ok_or(ChainError::TooManySubnets(s.subnets.len()))?;
    debit(s, &coldkey, g.subnet_creation_cost);
    s.total_issuance = s.total_issuance.saturating_sub(g.subnet_creation_cost);
    s.hotkey_owner.entry(owner_hotkey).or_insert(coldkey);
    let hparams = g.subnet_defaults.clone();
    let subnet = Subnet {
        netuid,
        owner_coldkey: coldkey,
        owner_hotkey,
        burn: hparams.min_burn,
        hparams,
        neurons: vec![Neuron::new(owner_hotkey, coldkey, block)],
        registrations_this_block: 0,
        registrations_this_interval: 0,
        last_epoch_block: block,
        commits: Default::default(),
    };
    s.subnets.insert(netuid, subnet);
    Ok(())
}

/// Where a registration would land: a new uid, or the uid it replaces.
fn plan_registration(sn: &Subnet, hotkey: &AccountId, block: u64) -> Result<u16, ChainError> {
    let h = &sn.hparams;
    if !h.registration_allowed {
        return Err(ChainError::RegistrationDisabled(sn.netuid));
    }
    if sn.registrations_this_block >= h.max_regs_per_block {
        return Err(ChainError::TooManyRegistrationsThisBlock {
            netuid: sn.netuid,
            max: h.max_regs_per_block,
        });
    }
    if sn.uid_of(hotkey).is_some() {
        return Err(ChainError::AlreadyRegistered {
            netuid: sn.netuid,
            hotkey: *hotkey,
        });
    }
    if sn.n() < h.max_allowed_uids {
        return Ok(sn.n());
    }
    // Full: the lowest emission past immunity; ties go to the older registration, then the
    // lower uid. The owner's neuron is never a candidate.
    sn.neurons
        .iter()
        .enumerate()
        .filter(|(_, n)| n.hotkey != sn.owner_hotkey)
        .filter(|(_, n)| block.saturating_sub(n.registered_at) >= u64::from(h.immunity_period))
        .min_by_key(|(uid, n)| (n.emission, n.registered_at, *uid))
        .and_then(|(uid, _)| u16::try_from(uid).ok())
        .ok_or(ChainError::NoNeuronToReplace { netuid: sn.netuid })
}

fn do_register(
    s: &mut ChainState,
    netuid: u16,
    uid: u16,
    hotkey: AccountId,
    coldkey: AccountId,
    block: u64,
) {
    s.hotkey_owner.entry(hotkey).or_insert(coldkey);
    let Some(sn) = s.subnets.get_mut(&netuid) else {
        return;
    };
    let neuron = Neuron::new(hotkey, coldkey, block);
    let idx = usize::from(uid);
    if idx < sn.neurons.len() {
        let old = std::mem::replace(&mut sn.neurons[idx], neuron);
        sn.commits.remove(&old.hotkey);
        // Nobody keeps a bond on the newcomer's column; its row starts empty (Neuron::new).
        for n in &mut sn.neurons {
            n.bonds.retain(|(j, _)| *j != uid);
        }
    } else {
        sn.neurons.push(neuron);
    }
    sn.registrations_this_block = sn.registrations_this_block.saturating_add(1);
    sn.registrations_this_interval = sn.registrations_this_interval.saturating_add(1);
}

fn burned_register(
    s: &mut ChainState,
    coldkey: AccountId,
    netuid: u16,
    hotkey: AccountId,
    block: u64,
) -> Result<(), ChainError> {
    let sn = s.subnet(netuid)?;
    let uid = plan_registration(sn, &hotkey, block)?;
    let cost = sn.burn;
    check_hotkey_owner(s, &hotkey, &coldkey)?;
    check_funds(s, &coldkey, cost)?;
    debit(s, &coldkey, cost);
    s.total_issuance = s.total_issuance.saturating_sub(cost);
    do_register(s, netuid, uid, hotkey, coldkey, block);
    if let Some(sn) = s.subnets.get_mut(&netuid) {
        let raised = u128::from(sn.burn) * u128::from(sn.hparams.burn_increase_ppm) / 1_000_000;
        sn.burn = u64::try_from(raised)
            .unwrap_or(u64::MAX)
            .clamp(sn.hparams.min_burn, sn.hparams.max_burn);
    }
    Ok(())
}

fn pow_register(
    s: &mut ChainState,
    hotkey: AccountId,
    netuid: u16,
    coldkey: AccountId,
    work_block: u64,
    work_nonce: u64,
    block: u64,
) -> Result<(), ChainError> {
    let sn = s.subnet(netuid)?;
    let uid = plan_registration(sn, &hotkey, block)?;
    check_hotkey_owner(s, &hotkey, &coldkey)?;
    let stale = ChainError::StaleWork {
        work_block,
        current: block,
        window: POW_WINDOW,
    };
    if work_block >= block || block - work_block > POW_WINDOW {
        return Err(stale);
    }
    let block_hash = s.recent_hashes.get(&work_block).ok_or(stale)?;
    let seal = pow_seal(block_hash, &hotkey, work_nonce);
    if !seal_meets_difficulty(&seal, sn.hparams.difficulty) {
        return Err(ChainError::InsufficientWork {
            difficulty: sn.hparams.difficulty,
        });
    }
    let seal = hex::encode(seal);
    if s.used_work.contains_key(&seal) {
        return Err(ChainError::WorkReused);
    }
    s.used_work.insert(seal, block);
    do_register(s, netuid, uid, hotkey, coldkey, block);
    Ok(())
}

fn add_stake(
    s: &mut ChainState,
    coldkey: AccountId,
    hotkey: AccountId,
    amount: u64,
) -> Result<(), ChainError> {
    if amount == 0 {
        return Err(ChainError::ZeroAmount);
    }
    if !s.hotkey_owner.contains_key(&hotkey) {
        return Err(ChainError::UnknownHotkey(hotkey));
    }
    check_funds(s, &coldkey, amount)?;
    let current = s.stake_of(&coldkey, &hotkey);
    let new = current
        .checked_add(amount)
        .ok_or(ChainError::Overflow("stake"))?;
    debit(s, &coldkey, amount);
    s.stake.entry(hotkey).or_default().insert(coldkey, new);
    Ok(())
}

fn remove_stake(
    s: &mut ChainState,
    coldkey: AccountId,
    hotkey: AccountId,
    amount: u64,
) -> Result<(), ChainError> {
    if amount == 0 {
        return Err(ChainError::ZeroAmount);
    }
    let staked = s.stake_of(&coldkey, &hotkey);
    if staked < amount {
        return Err(ChainError::InsufficientStake {
            coldkey,
            hotkey,
            staked,
            requested: amount,
        });
    }
    if s.balance(&coldkey).checked_add(amount).is_none() {
        return Err(ChainError::Overflow("balance"));
    }
    if let Some(m) = s.stake.get_mut(&hotkey) {
        if staked == amount {
            m.remove(&coldkey);
        } else {
            m.insert(coldkey, staked - amount);
        }
        if m.is_empty() {
            s.stake.remove(&hotkey);
        }
    }
    credit(s, coldkey, amount)
}

fn serve_axon(
    s: &mut ChainState,
    hotkey: AccountId,
    netuid: u16,
    axon: AxonInfo,
    block: u64,
) -> Result<(), ChainError> {
    let sn = s.subnet_mut(netuid)?;
    let uid = sn
        .uid_of(&hotkey)
        .ok_or(ChainError::NotRegistered { netuid, hotkey })?;
    match axon.ip_type {
        4 if axon.ip > u128::from(u32::MAX) => {
            return Err(ChainError::InvalidAxon("IPv4 address above 32 bits".into()));
        }
        4 | 6 => {}
        t => {
            return Err(ChainError::InvalidAxon(format!(
                "ip_type {t} is neither 4 nor 6"
            )));
        }
    }
    if axon.ip == 0 {
        return Err(ChainError::InvalidAxon("unspecified address 0".into()));
    }
    if axon.port == 0 {
        return Err(ChainError::InvalidAxon("port 0".into()));
    }
    axon.identity.verify(&hotkey, netuid)?;
    let neuron = &mut sn.neurons[usize::from(uid)];
    if let Some(prev) = &neuron.axon {
        let limit = sn.hparams.serving_rate_limit;
        if block.saturating_sub(prev.block) < limit {
            return Err(ChainError::RateLimited {
                last: prev.block,
                limit,
                now: block,
            });
        }
    }
    neuron.axon = Some(axon);
    Ok(())
}
