//! `bittensor stake add|remove`: move a coldkey's funds onto (or off) one of its hotkeys. Stake
//! is what gives a validator its permit and its weight in Yuma consensus.

use anyhow::Result;
use bt_chain::RAO_PER_TAO;
use clap::{Args, Subcommand};

use crate::chain_cmd::Endpoint;
use crate::exit::{self, CliError};
use crate::wallet_chain_cmd::parse_tao;
use crate::wallet_cmd::{WalletArgs, coldkey, hotkey};

#[derive(Debug, Subcommand)]
pub enum StakeCommand {
    /// Stake TAO from the wallet's coldkey on its hotkey.
    Add(StakeArgs),
    /// Return staked TAO from the wallet's hotkey to its coldkey.
    Remove(StakeArgs),
}

#[derive(Debug, Args)]
pub struct StakeArgs {
    /// Amount in TAO, up to 9 decimals (on subtensor, `remove` takes the subnet's alpha).
    #[arg(long)]
    pub amount: String,
    /// The subnet to stake on: required on subtensor, where stake is per subnet; the embedded
    /// chain's stake is per hotkey and ignores it.
    #[arg(long)]
    pub netuid: Option<u16>,
    #[command(flatten)]
    pub endpoint: Endpoint,
    #[command(flatten)]
    pub wallet: WalletArgs,
}

pub async fn stake(cmd: StakeCommand) -> Result<u8> {
    let (args, adding) = match cmd {
        StakeCommand::Add(a) => (a, true),
        StakeCommand::Remove(a) => (a, false),
    };
    let rao = parse_tao(&args.amount).map_err(CliError::Usage)?;
    let netuid = match (args.netuid, args.endpoint.target()?.is_subtensor()) {
        (Some(n), _) => n,
        (None, false) => 0,
        (None, true) => {
            return Err(CliError::Usage(
                "on subtensor, stake is per subnet: pass --netuid N".into(),
            )
            .into());
        }
    };
    let (cold, hot) = (coldkey(&args.wallet)?, hotkey(&args.wallet)?);
    let chain = args.endpoint.chain().await?;
    let hotkey = hot.account();
    if adding {
        chain.add_stake(&cold, &hotkey, netuid, rao).await
    } else {
        chain.remove_stake(&cold, &hotkey, netuid, rao).await
    }
    .map_err(exit::chain_error)?;
    let now = chain
        .stake(&cold.account(), &hotkey, netuid)
        .await
        .map_err(exit::chain_error)?;
    println!(
        "stake of {} on {}: {}.{:09}",
        cold.account().to_ss58(),
        hotkey.to_ss58(),
        now / RAO_PER_TAO,
        now % RAO_PER_TAO
    );
    Ok(exit::OK)
}
