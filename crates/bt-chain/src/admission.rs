//! What the mempool refuses before a transaction can take a slot: calls this chain does not
//! offer (the faucet off `--dev`), paying calls whose signer cannot pay the fee, and — when the
//! signer could not pay for a failure — calls that would fail against the head state, as
//! subtensor's pool validation refuses them.
//!
//! These checks are a filter, not the rule: they read the head state, which may change before
//! inclusion, so the block producer still applies every rule (and takes
//! `Genesis::tx_fee` from the signer, or leaves the transaction out). A check here
//! is never stricter than the rule it anticipates.

use crate::error::ChainError;
use crate::genesis::Genesis;
use crate::keys::AccountId;
use crate::state::ChainState;
use crate::tx::Call;

/// Whether the pool takes `call` from `signer`, judged against the head state `s`.
pub(crate) fn precheck(
    s: &ChainState,
    g: &Genesis,
    signer: &AccountId,
    call: &Call,
) -> Result<(), ChainError> {
    if matches!(call, Call::Faucet) && g.faucet_amount == 0 {
        return Err(ChainError::FaucetDisabled);
    }
    let balance = s.balance(signer);
    if g.fee_on_success(call) > 0 {
        let unstaked = match call {
            Call::RemoveStake { amount, .. } => *amount,
            _ => 0,
        };
        if balance.saturating_add(unstaked) < g.tx_fee {
            // It could not pay its fee, succeeding or not.
            return Err(ChainError::InsufficientBalance {
                account: *signer,
                balance,
                needed: g.tx_fee,
            });
        }
    }
    if balance >= g.tx_fee {
        // It pays whether it succeeds or fails.
        return Ok(());
    }
    let funds = |needed: u64| {
        if balance < needed {
            Err(ChainError::InsufficientBalance {
                account: *signer,
                balance,
                needed,
            })
        } else {
            Ok(())
        }
    };
    match call {
        Call::Faucet => Ok(()),
        Call::Transfer { amount, .. } | Call::AddStake { amount, .. } => {
            if *amount == 0 {
                return Err(ChainError::ZeroAmount);
            }
            funds(*amount)
        }
        Call::CreateSubnet { .. } => funds(g.subnet_creation_cost),
        Call::RemoveStake { hotkey, amount } => {
            let staked = s.stake_of(signer, hotkey);
            if *amount == 0 {
                Err(ChainError::ZeroAmount)
            } else if staked < *amount {
                Err(ChainError::InsufficientStake {
                    coldkey: *signer,
                    hotkey: *hotkey,
                    staked,
                    requested: *amount,
                })
            } else {
                Ok(())
            }
        }
        Call::SetHyperparam { netuid, .. } => {
            if s.subnet(*netuid)?.owner_coldkey != *signer {
                return Err(ChainError::NotSubnetOwner {
                    netuid: *netuid,
                    caller: *signer,
                });
            }
            Ok(())
        }
        Call::BurnedRegister { netuid, .. } | Call::PowRegister { netuid, .. } => {
            s.subnet(*netuid).map(|_| ())
        }
        Call::ServeAxon { netuid, .. }
        | Call::CommitWeights { netuid, .. }
        | Call::RevealWeights { netuid, .. } => registered(s, signer, *netuid),
        Call::SetWeights { netuid, .. } => {
            registered(s, signer, *netuid)?;
            if s.subnet(*netuid)?.hparams.commit_reveal_weights_enabled {
                return Err(ChainError::CommitRevealEnabled(*netuid));
            }
            Ok(())
        }
    }
}

fn registered(s: &ChainState, hotkey: &AccountId, netuid: u16) -> Result<(), ChainError> {
    match s.subnet(netuid)?.uid_of(hotkey) {
        Some(_) => Ok(()),
        None => Err(ChainError::NotRegistered {
            netuid,
            hotkey: *hotkey,
        }),
    }
}
