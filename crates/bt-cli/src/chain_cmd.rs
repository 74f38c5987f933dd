//! `bittensor chain|subnet`: the local chain node and subnets on it. Flags into `bt_chain`'s
//! node options and `NodeClientExt` calls; wallets are in `wallet_cmd`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use bt_chain::{
    BlockMode, ChainError, ChainNode, HyperparamKey, Keypair, NodeClientExt as _, NodeConfig,
    NodeOptions, RpcChain,
};
use std::sync::Arc;

use bt_interfaces::Chain;
use bt_neuron::chain_target::ChainTarget;
use bt_subtensor::RpcConfig;
use clap::{Args, Subcommand, ValueEnum};

use crate::display;
use crate::exit::{self, CliError};
use crate::wallet_cmd::{WalletArgs, keys};

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
        /// Development settings: the faucet (`subnet faucet`), commit-reveal off, no rate
        /// limits, cheap registration. Without it the chain has no faucet.
        #[arg(long)]
        dev: bool,
        /// The genesis seed (64 hex digits), which makes this chain's genesis hash, and so the
        /// transactions signed for it, its own. Random for a new database when absent; an
        /// existing database keeps its own.
        #[arg(long = "genesis_seed", alias = "genesis-seed", value_parser = parse_seed)]
        genesis_seed: Option<[u8; 32]>,
        /// Serve Prometheus metrics (`GET /metrics`, `bt_chain_*`) on this port of --host;
        /// off when absent, 0 picks a free port (printed).
        #[arg(
            long = "metrics_port",
            alias = "metrics-port",
            env = "BT_CHAIN_METRICS_PORT"
        )]
        metrics_port: Option<u16>,
    },
}

#[derive(Debug, Clone, Args)]
pub struct Endpoint {
    /// The embedded chain's node (host:port, ws:// or http://); used unless a subtensor flag
    /// is given.
    #[arg(
        long = "chain_endpoint",
        alias = "chain-endpoint",
        default_value = "127.0.0.1:9944",
        env = "BT_CHAIN_ENDPOINT"
    )]
    pub endpoint: String,
    #[command(flatten)]
    pub subtensor: SubtensorFlags,
}

/// The Python SDK's flags for subtensor; with neither, commands and neurons use the embedded
/// chain.
#[derive(Debug, Clone, Default, Args)]
pub struct SubtensorFlags {
    /// Subtensor network: finney, test, archive, local (ws://127.0.0.1:9944), latent-lite, or
    /// a ws:// / wss:// URL.
    #[arg(
        id = "subtensor_network",
        value_name = "NETWORK",
        long = "subtensor.network",
        aliases = ["subtensor-network", "subtensor_network"],
        env = "BT_SUBTENSOR_NETWORK"
    )]
    pub network: Option<String>,
    /// Subtensor node URL (ws:// or wss://); wins over --subtensor.network.
    #[arg(
        id = "subtensor_chain_endpoint",
        value_name = "URL",
        long = "subtensor.chain_endpoint",
        aliases = ["subtensor-chain-endpoint", "subtensor.chain-endpoint", "subtensor_chain_endpoint"]
    )]
    pub chain_endpoint: Option<String>,
}

impl Endpoint {
    pub fn target(&self) -> Result<ChainTarget> {
        let local = std::env::var("BT_SUBTENSOR_CHAIN_ENDPOINT").ok();
        ChainTarget::from_flags(
            &self.endpoint,
            self.subtensor.network.as_deref(),
            self.subtensor.chain_endpoint.as_deref(),
            local.as_deref(),
        )
        .map_err(|e| CliError::Usage(exit::chain_error_text(&e)).into())
    }

    /// Connects to whichever chain the flags name. Subtensor's client first reads the
    /// runtime's metadata (hundreds of KiB, seconds over a WAN), so a terminal shows a spinner.
    pub async fn chain(&self) -> Result<Arc<dyn Chain>> {
        let target = self.target()?;
        let _spinner =
            bt_neuron::progress::Spinner::start(format!("connecting to {}", target.endpoint()));
        target
            .connect(RpcConfig::default())
            .await
            .map_err(exit::chain_error)
    }
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
    /// List the chain's subnets with their size and tempo.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// Print a subnet's metagraph.
    Metagraph {
        #[arg(long)]
        netuid: u16,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// Print a subnet's hyperparameters, or set one (as its owner, embedded chain) with
    /// --set NAME=VALUE.
    Hparams {
        #[arg(long)]
        netuid: u16,
        #[arg(long)]
        set: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        endpoint: Endpoint,
        #[command(flatten)]
        wallet: WalletArgs,
    },
    /// Top up the wallet's coldkey from the faucet of a chain started with --dev (others have
    /// none: exit code 2).
    Faucet {
        #[command(flatten)]
        endpoint: Endpoint,
        #[command(flatten)]
        wallet: WalletArgs,
    },
}

fn parse_seed(s: &str) -> Result<[u8; 32], String> {
    let raw = hex::decode(s.trim_start_matches("0x")).map_err(|e| format!("not hex: {e}"))?;
    raw.try_into()
        .map_err(|v: Vec<u8>| format!("{} bytes, expected 32 (64 hex digits)", v.len()))
}

fn unreachable(e: ChainError) -> anyhow::Error {
    CliError::Unreachable(e.to_string()).into()
}

fn wallet_account(k: &Keypair) -> bt_crypto::wallet::AccountId {
    bt_crypto::wallet::AccountId(k.account().0)
}

/// The embedded chain's own client, for what only it does (faucet, PoW, setting
/// hyperparameters); refuses subtensor flags rather than ignoring them.
async fn connect(ep: &Endpoint) -> Result<RpcChain> {
    if ep.target()?.is_subtensor() {
        return Err(CliError::Usage(
            "this command is for the embedded chain; drop --subtensor.network / \
             --subtensor.chain_endpoint"
                .into(),
        )
        .into());
    }
    RpcChain::connect(&ep.endpoint).await.map_err(unreachable)
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
        genesis_seed,
        metrics_port,
    } = cmd;
    if !(block_time.is_finite() && block_time > 0.0 && block_time <= 3600.0) {
        return Err(CliError::Usage(format!(
            "--block_time must be in (0, 3600], got {block_time}"
        ))
        .into());
    }
    let opts = NodeOptions {
        mode: if instant {
            BlockMode::Instant
        } else {
            BlockMode::Interval(Duration::from_secs_f64(block_time))
        },
        db,
        rpc_addr: SocketAddr::new(host, port),
        tempo,
        dev,
        genesis_seed,
    };
    // Opening a large database replays its state: show that it is working.
    let spinner = bt_neuron::progress::Spinner::start("opening the chain");
    let node = match NodeConfig::from_options(opts) {
        Ok(cfg) => ChainNode::start(cfg).await,
        Err(e) => Err(e),
    }
    .map_err(exit::classify_chain_start_error)?;
    drop(spinner);
    let metrics = match metrics_port {
        Some(p) => {
            let addr = SocketAddr::new(host, p);
            let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
                CliError::PortInUse(format!("--metrics_port: cannot bind {addr}: {e}"))
            })?;
            let bound = listener.local_addr()?;
            let registry = bt_interfaces::MetricsRegistry::new();
            registry.register(node.metric_set());
            println!("Chain metrics  http://{bound}/metrics");
            Some(tokio::spawn(bt_axon::serve_metrics(listener, registry)))
        }
        None => None,
    };
    println!("Chain ready  endpoint: ws://{}", node.local_addr());
    shutdown.await;
    if let Some(task) = metrics {
        task.abort();
    }
    node.shutdown().await;
    Ok(exit::INTERRUPTED)
}

pub async fn subnet(cmd: SubnetCommand) -> Result<u8> {
    match cmd {
        SubnetCommand::Create {
            endpoint: ep,
            wallet: w,
        } => {
            let (cold, hot) = keys(&w)?;
            let netuid = ep
                .chain()
                .await?
                .register_network(&cold.sr25519(), &wallet_account(&hot))
                .await
                .map_err(exit::chain_error)?;
            println!("created subnet {netuid}");
        }
        SubnetCommand::Register {
            netuid,
            method,
            endpoint,
            wallet,
        } => {
            let (cold, hot) = keys(&wallet)?;
            let uid = match method {
                Method::Burn => endpoint
                    .chain()
                    .await?
                    .burned_register(&cold.sr25519(), netuid, &wallet_account(&hot))
                    .await
                    .map_err(exit::chain_error)?,
                Method::Pow if endpoint.target()?.is_subtensor() => {
                    return Err(CliError::Usage(
                        "--method pow is for the embedded chain; register on subtensor with \
                         --method burn"
                            .into(),
                    )
                    .into());
                }
                Method::Pow => connect(&endpoint)
                    .await?
                    .pow_register(&hot, netuid, &cold.account())
                    .await
                    .map_err(unreachable)?,
            };
            println!(
                "registered {} on subnet {netuid} as uid {uid}",
                hot.account().to_ss58()
            );
        }
        SubnetCommand::List { json, endpoint } => {
            let chain = endpoint.chain().await?;
            let reading = bt_neuron::progress::Spinner::start("reading every subnet's summary");
            let rows = chain.subnet_summaries().await.map_err(exit::chain_error)?;
            drop(reading);
            if json {
                println!("{}", display::subnets_json(&rows));
            } else {
                print!("{}", display::subnets_table(&rows));
            }
        }
        SubnetCommand::Metagraph {
            netuid,
            json,
            endpoint,
        } => {
            let chain = endpoint.chain().await?;
            let reading = bt_neuron::progress::Spinner::start(format!("reading subnet {netuid}"));
            let mg = chain
                .metagraph(netuid, false)
                .await
                .map_err(exit::chain_error)?;
            drop(reading);
            if json {
                println!("{}", display::metagraph_json(&mg));
            } else {
                let tempo = chain
                    .hyperparams(netuid)
                    .await
                    .map_err(exit::chain_error)?
                    .values
                    .tempo;
                println!("{}", display::metagraph_table(&mg, tempo));
            }
        }
        SubnetCommand::Hparams {
            netuid,
            set,
            json,
            endpoint,
            wallet,
        } => {
            // The assignment and the keys are checked before the chain is contacted, so a
            // mistyped --set is a usage error even when no node is running.
            let assignment = match set {
                Some(assign) => {
                    let (name, value) = assign
                        .split_once('=')
                        .and_then(|(n, v)| Some((n.trim(), v.trim().parse::<u64>().ok()?)))
                        .ok_or_else(|| {
                            CliError::Usage(format!("--set takes NAME=INTEGER, got {assign:?}"))
                        })?;
                    let (cold, _) = keys(&wallet)?;
                    let key = hyperparam_key(name, value).map_err(unreachable)?;
                    Some((cold, key, value))
                }
                None => None,
            };
            if let Some((cold, key, value)) = assignment {
                if endpoint.target()?.is_subtensor() {
                    return Err(CliError::Usage(
                        "--set changes the embedded chain's hyperparameters; on subtensor an \
                         owner sets them through AdminUtils (btcli sudo set)"
                            .into(),
                    )
                    .into());
                }
                connect(&endpoint)
                    .await?
                    .set_hyperparam(&cold, netuid, key, value)
                    .await
                    .map_err(unreachable)?;
            }
            let h = endpoint
                .chain()
                .await?
                .hyperparams(netuid)
                .await
                .map_err(exit::chain_error)?;
            if json {
                println!("{}", display::hparams_json(&h));
            } else {
                println!("{}", display::hparams_table(&h));
            }
        }
        SubnetCommand::Faucet {
            endpoint: ep,
            wallet: w,
        } => {
            let (cold, _) = keys(&w)?;
            let chain = connect(&ep).await?;
            // A refused top-up (the account already holds enough) still reports the balance.
            let balance = match chain.faucet(&cold).await {
                Ok(_) | Err(ChainError::TxFailed { .. }) => {
                    bt_chain::NodeClient::balance(&chain, &cold.account()).await
                }
                // Not this chain's feature: the command does not apply here.
                Err(e @ ChainError::FaucetDisabled) => {
                    return Err(CliError::Usage(e.to_string()).into());
                }
                Err(e) => Err(e),
            }
            .map_err(unreachable)?;
            println!("balance of {}: {balance}", cold.account().to_ss58());
        }
    }
    Ok(exit::OK)
}

/// The hyperparameter `--set` names (snake_case, as `subnet hparams` prints them).
fn hyperparam_key(name: &str, value: u64) -> Result<HyperparamKey, ChainError> {
    HyperparamKey::from_name(name).ok_or_else(|| ChainError::InvalidHyperparam {
        key: name.to_string(),
        value,
        reason: format!(
            "unknown; one of: {}",
            HyperparamKey::ALL.map(|k| k.name()).join(", ")
        ),
    })
}
