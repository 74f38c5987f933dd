//! `bittensor stake add|remove`: move a coldkey's funds onto (or off) one of its hotkeys. Stake
//! is what gives a validator its permit and its weight in Yuma consensus.

use anyhow::Result;
use bt_chain::{NodeClient, NodeClientExt, RAO_PER_TAO, RpcChain};
use clap::{Args, Subcommand};

use crate::chain_cmd::Endpoint;
use crate::exit::{self, CliError};
use crate::wallet_cmd::{WalletArgs, keys};

#[derive(Debug, Subcommand)]
pub enum StakeCommand {
    /// Stake TAO from the wallet's coldkey on its hotkey.
    Add(StakeArgs),
    /// Return staked TAO from the wallet's hotkey to its coldkey.
    Remove(StakeArgs),
}

#[derive(Debug, Args)]
pub struct StakeArgs {
    /// Amount in TAO (up to 9 decimals).
    #[arg(long)]
    pub amount: f64,
    #[command(flatten)]
    pub endpoint: Endpoint,
    #[command(flatten)]
    pub wallet: WalletArgs,
}

/// TAO → rao, refusing what the chain could only round or reject later.
fn to_rao(tao: f64) -> Result<u64, CliError> {
    let rao = tao * RAO_PER_TAO as f64;
    if !(rao.is_finite() && rao >= 1.0 && rao < u64::MAX as f64) {
        return Err(CliError::Usage(format!(
            "--amount must be a positive number of TAO (at least 1 rao), got {tao}"
        )));
    }
    Ok(rao.round() as u64)
}

pub async fn stake(cmd: StakeCommand) -> Result<u8> {
    let (args, adding) = match cmd {
        StakeCommand::Add(a) => (a, true),
        StakeCommand::Remove(a) => (a, false),
    };
    let rao = to_rao(args.amount)?;
    let (cold, hot) = keys(&args.wallet)?;
    let unreachable = |e: bt_chain::ChainError| CliError::Unreachable(e.to_string());
    let chain = RpcChain::connect(&args.endpoint.endpoint)
        .await
        .map_err(unreachable)?;
    let hotkey = hot.account();
    if adding {
        chain.add_stake(&cold, &hotkey, rao).await
    } else {
        chain.remove_stake(&cold, &hotkey, rao).await
    }
    .map_err(unreachable)?;
    let now = chain
        .stake(&cold.account(), &hotkey)
        .await
        .map_err(unreachable)?;
    println!(
        "stake of {} on {}: {:.9} TAO",
        cold.account().to_ss58(),
        hotkey.to_ss58(),
        now as f64 / RAO_PER_TAO as f64
    );
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_convert_to_rao_and_nonsense_is_refused() {
        assert_eq!(to_rao(1.5).unwrap(), 1_500_000_000);
        assert_eq!(to_rao(0.000_000_001).unwrap(), 1);
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-12] {
            assert!(to_rao(bad).is_err(), "{bad}");
        }
    }
}
