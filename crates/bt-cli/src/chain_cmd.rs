//! `bittensor chain|subnet|wallet`: the local chain node, subnets on it, and sr25519 wallets.
//! Clap glue around `bt_chain::ops`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use bt_chain::ops::{self, RegisterMethod, StartOptions};
use clap::{Args, Subcommand, ValueEnum};

use crate::exit::{self, CliError};

#[derive(Debug, Subcommand)]
pub enum ChainCommand {
    /// Run a local chain node (JSON-RPC over HTTP and WebSocket on one port).
    Start {
        /// Seconds between blocks.
        #[arg(long = "block_time", alias = "block-time", default_value_t = 1.0)]
        block_time: f64,
        /// Produce a block as soon as transactions arrive (for tests and experiments).
        #[arg(long)]
        instant: bool,
        /// Database file; in memory when absent (nothing survives a restart).
        #[arg(long, env = "BT_CHAIN_DB")]
        db: Option<PathBuf>,
        #[arg(long, default_value = "127.0.0.1")]
        host: IpAddr,
        #[arg(long, default_value_t = 9944, env = "BT_CHAIN_PORT")]
        port: u16,
        /// Tempo (blocks between epochs) of new subnets; CONSENSUS.md's 360 when absent.
        #[arg(long)]
        tempo: Option<u16>,
        /// Development settings: commit-reveal off, no rate limits, cheap registration.
        #[arg(long)]
        dev: bool,
    },
}

#[derive(Debug, Clone, Args)]
pub struct WalletArgs {
    /// Directory holding wallets (the Python SDK's layout).
    #[arg(long = "wallet_path", alias = "wallet-path", env = "BT_WALLET_PATH")]
    pub root: Option<PathBuf>,
    /// Wallet (coldkey) name.
    #[arg(
        long = "wallet_name",
        alias = "wallet-name",
        default_value = "default",
        env = "BT_WALLET_NAME"
    )]
    pub name: String,
    /// Hotkey name within the wallet.
    #[arg(
        long = "wallet_hotkey",
        alias = "wallet-hotkey",
        default_value = "default",
        env = "BT_WALLET_HOTKEY"
    )]
    pub hotkey: String,
}

impl WalletArgs {
    pub fn root(&self) -> PathBuf {
        self.root.clone().unwrap_or_else(|| {
            std::env::var_os("HOME")
                .map_or_else(|| PathBuf::from("."), PathBuf::from)
                .join(".bittensor/wallets")
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum WalletCommand {
    /// Create a wallet's coldkey and hotkey (existing keys are kept).
    New(WalletArgs),
    /// List wallets and their hotkeys (SS58 addresses).
    List(WalletArgs),
}

#[derive(Debug, Clone, Args)]
pub struct Endpoint {
    /// Chain node (host:port, ws:// or http://).
    #[arg(
        long = "chain_endpoint",
        alias = "chain-endpoint",
        default_value = "127.0.0.1:9944",
        env = "BT_CHAIN_ENDPOINT"
    )]
    pub endpoint: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Method {
    Burn,
    Pow,
}

#[derive(Debug, Subcommand)]
pub enum SubnetCommand {
    /// Create a subnet owned by the wallet's coldkey (its hotkey becomes uid 0).
    Create {
        #[command(flatten)]
        endpoint: Endpoint,
        #[command(flatten)]
        wallet: WalletArgs,
    },
    /// Register the wallet's hotkey on a subnet.
    Register {
        #[arg(long)]
        netuid: u16,
        #[arg(long, value_enum, default_value = "burn")]
        method: Method,
        #[command(flatten)]
        endpoint: Endpoint,
        #[command(flatten)]
        wallet: WalletArgs,
    },
    /// Print a subnet's metagraph.
    Metagraph {
        #[arg(long)]
        netuid: u16,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// Print a subnet's hyperparameters, or set one (as its owner) with --set NAME=VALUE.
    Hparams {
        #[arg(long)]
        netuid: u16,
        #[arg(long)]
        set: Option<String>,
        #[command(flatten)]
        endpoint: Endpoint,
        #[command(flatten)]
        wallet: WalletArgs,
    },
    /// Top up the wallet's coldkey from the local chain's faucet.
    Faucet {
        #[command(flatten)]
        endpoint: Endpoint,
        #[command(flatten)]
        wallet: WalletArgs,
    },
}

fn unreachable(e: bt_chain::ChainError) -> anyhow::Error {
    CliError::Unreachable(e.to_string()).into()
}

pub fn keys(w: &WalletArgs) -> Result<(bt_chain::Keypair, bt_chain::Keypair)> {
    ops::wallet_load(&w.root(), &w.name, &w.hotkey).map_err(|e| {
        CliError::Key(format!(
            "{e} (create it with `bittensor wallet new --wallet_name {} --wallet_hotkey {}`)",
            w.name, w.hotkey
        ))
        .into()
    })
}

pub async fn chain(
    cmd: ChainCommand,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<u8> {
    let ChainCommand::Start {
        block_time,
        instant,
        db,
        host,
        port,
        tempo,
        dev,
    } = cmd;
    if !(block_time.is_finite() && block_time > 0.0 && block_time <= 3600.0) {
        return Err(CliError::Usage(format!(
            "--block_time must be in (0, 3600], got {block_time}"
        ))
        .into());
    }
    let opts = StartOptions {
        block_time: Duration::from_secs_f64(block_time),
        instant,
        db,
        host,
        port,
        tempo,
        dev,
    };
    let node = ops::chain_start(opts).await.map_err(|e| match e {
        bt_chain::ChainError::Io { .. } => {
            CliError::PortInUse(format!("{e} (change --port or --db)")).into()
        }
        other => anyhow::Error::new(other),
    })?;
    println!("Chain ready  endpoint: ws://{}", node.local_addr());
    shutdown.await;
    node.shutdown().await;
    Ok(exit::INTERRUPTED)
}

pub fn wallet(cmd: WalletCommand) -> Result<u8> {
    match cmd {
        WalletCommand::New(w) => {
            let (cold, hot) = ops::wallet_new(&w.root(), &w.name, &w.hotkey)
                .map_err(|e| CliError::Key(e.to_string()))?;
            println!("wallet {} in {}", w.name, w.root().display());
            println!("coldkey: {}", cold.account().to_ss58());
            println!("hotkey {}: {}", w.hotkey, hot.account().to_ss58());
        }
        WalletCommand::List(w) => {
            for info in ops::wallet_list(&w.root()).map_err(|e| CliError::Key(e.to_string()))? {
                let cold = info
                    .coldkey
                    .map_or_else(|| "-".to_string(), |c| c.to_ss58());
                println!("{}  coldkey {cold}", info.name);
                for (name, key) in info.hotkeys {
                    println!("  {name}  {}", key.to_ss58());
                }
            }
        }
    }
    Ok(exit::OK)
}

pub async fn subnet(cmd: SubnetCommand) -> Result<u8> {
    match cmd {
        SubnetCommand::Create {
            endpoint: ep,
            wallet: w,
        } => {
            let (cold, hot) = keys(&w)?;
            let netuid = ops::subnet_create(&ep.endpoint, &cold, &hot.account())
                .await
                .map_err(unreachable)?;
            println!("created subnet {netuid}");
        }
        SubnetCommand::Register {
            netuid,
            method,
            endpoint,
            wallet,
        } => {
            let (cold, hot) = keys(&wallet)?;
            let method = match method {
                Method::Burn => RegisterMethod::Burn,
                Method::Pow => RegisterMethod::Pow,
            };
            let uid = ops::subnet_register(&endpoint.endpoint, netuid, &cold, &hot, method)
                .await
                .map_err(unreachable)?;
            println!(
                "registered {} on subnet {netuid} as uid {uid}",
                hot.account().to_ss58()
            );
        }
        SubnetCommand::Metagraph { netuid, endpoint } => {
            let mg = ops::subnet_metagraph(&endpoint.endpoint, netuid)
                .await
                .map_err(unreachable)?;
            println!("{}", ops::format_metagraph(&mg));
        }
        SubnetCommand::Hparams {
            netuid,
            set,
            endpoint,
            wallet,
        } => {
            if let Some(assign) = set {
                let (name, value) = assign
                    .split_once('=')
                    .and_then(|(n, v)| Some((n.trim(), v.trim().parse::<u64>().ok()?)))
                    .ok_or_else(|| {
                        CliError::Usage(format!("--set takes NAME=INTEGER, got {assign:?}"))
                    })?;
                let (cold, _) = keys(&wallet)?;
                ops::subnet_set_hparam(&endpoint.endpoint, &cold, netuid, name, value)
                    .await
                    .map_err(unreachable)?;
            }
            let h = ops::subnet_hparams(&endpoint.endpoint, netuid)
                .await
                .map_err(unreachable)?;
            println!("{}", ops::format_hparams(&h));
        }
        SubnetCommand::Faucet {
            endpoint: ep,
            wallet: w,
        } => {
            let (cold, _) = keys(&w)?;
            let balance = ops::faucet(&ep.endpoint, &cold)
                .await
                .map_err(unreachable)?;
            println!("balance of {}: {balance}", cold.account().to_ss58());
        }
    }
    Ok(exit::OK)
}
