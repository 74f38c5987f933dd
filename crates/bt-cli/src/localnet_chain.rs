//! `localnet --chain`: the embedded chain node (the one `bittensor chain start` runs) inside the
//! supervisor, and a subnet on it with every localnet neuron registered. The neurons are then
//! the subnet runtime (`neuron mnist --chain_endpoint … --role …`): they find each other
//! through the chain instead of gossip, the validators set weights each tempo, and Yuma
//! consensus turns them into incentive for the miners, which the dashboard's chain panel shows.
//!
//! Everything lives under `--dir`: the chain's database (`chain/chain.db`) and the wallets
//! (`wallets/owner`, the coldkey that pays for the subnet, the registrations and the stake;
//! `wallets/nK`, neuron K's hotkey). A second run on the same directory finds the subnet, the
//! uids and the stake it made before and only tops up what is missing.

use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use bt_chain::{
    BlockMode, ChainError, ChainNode, HyperparamKey, Keypair, NodeClient, NodeClientExt,
    NodeConfig, NodeOptions, RAO_PER_TAO, RpcChain,
};
use bt_crypto::wallet::{Sr25519Pair, Wallet, write_public_key_file};
use bt_neuron::progress::Spinner;
use clap::Args;

use crate::exit::CliError;

/// The wallet that pays for everything (its coldkey only: neurons never need it).
const OWNER: &str = "owner";
/// The hotkey name inside each neuron's wallet.
const HOTKEY: &str = "default";

/// The chain and subnet of `localnet --chain`.
#[derive(Debug, Clone, Args)]
pub struct LocalChainFlags {
    /// With --chain: how many neurons validate (the first ones; each gets --validator_stake
    /// so it holds a permit); the others mine.
    #[arg(
        long,
        default_value_t = 1,
        requires = "chain",
        env = "BT_LOCALNET_VALIDATORS"
    )]
    pub validators: usize,
    /// With --chain: seconds between blocks.
    #[arg(
        long = "block_time",
        alias = "block-time",
        default_value_t = 1.0,
        requires = "chain"
    )]
    pub block_time: f64,
    /// With --chain: the subnet's tempo, blocks between epochs (validators set weights and
    /// incentive is computed once per epoch).
    #[arg(long, default_value_t = 10, requires = "chain")]
    pub tempo: u16,
    /// With --chain: seconds between the neurons' chain refreshes and the validators' query
    /// rounds.
    #[arg(
        long = "subnet_interval",
        alias = "subnet-interval",
        default_value_t = 2.0,
        requires = "chain"
    )]
    pub subnet_interval: f64,
    /// With --chain: TAO staked on each validator's hotkey (from the dev chain's faucet, at
    /// most 1000 a validator).
    #[arg(
        long = "validator_stake",
        alias = "validator-stake",
        default_value_t = 100,
        requires = "chain"
    )]
    pub validator_stake: u64,
    /// With --chain: the chain's JSON-RPC port on 127.0.0.1 (printed); 0 picks a free one.
    #[arg(
        long = "chain_port",
        alias = "chain-port",
        default_value_t = 0,
        requires = "chain",
        env = "BT_LOCALNET_CHAIN_PORT"
    )]
    pub chain_port: u16,
}

/// What one localnet neuron is on the subnet.
#[derive(Debug, Clone)]
pub struct Member {
    pub validator: bool,
    wallet: String,
}

/// The running chain with its subnet, every neuron registered.
pub struct LocalChain {
    node: ChainNode,
    pub endpoint: String,
    pub netuid: u16,
    pub db: PathBuf,
    pub members: Vec<Member>,
    wallets: PathBuf,
    subnet_interval: f64,
}

/// The dev chain's faucet tops a coldkey up to this much; stake beyond it cannot be paid.
const FAUCET_TAO: u64 = 1000;

impl LocalChainFlags {
    fn check(&self, neurons: usize) -> Result<(), CliError> {
        let usage = |m: String| Err(CliError::Usage(m));
        if self.validators == 0 || self.validators > neurons {
            return usage(format!(
                "--validators must be between 1 and --neurons ({neurons}), got {}",
                self.validators
            ));
        }
        if !(self.block_time.is_finite() && self.block_time > 0.0 && self.block_time <= 3600.0) {
            return usage(format!(
                "--block_time must be in (0, 3600], got {}",
                self.block_time
            ));
        }
        if self.tempo == 0 {
            return usage("--tempo must be at least 1".into());
        }
        if !(self.subnet_interval.is_finite()
            && self.subnet_interval > 0.0
            && self.subnet_interval <= 3600.0)
        {
            return usage(format!(
                "--subnet_interval must be in (0, 3600], got {}",
                self.subnet_interval
            ));
        }
        if self.validator_stake == 0 || self.validator_stake > FAUCET_TAO {
            return usage(format!(
                "--validator_stake must be between 1 and {FAUCET_TAO} TAO, got {}",
                self.validator_stake
            ));
        }
        Ok(())
    }

    /// Deadline of one setup transaction: it waits for its block.
    fn step_deadline(&self) -> Duration {
        Duration::from_secs(30) + Duration::from_secs_f64(10.0 * self.block_time)
    }
}

impl LocalChain {
    /// Starts the chain under `dir/chain` and makes the subnet with `neurons` uids, showing
    /// each step. `Ok(None)`: interrupted (Ctrl-C) while setting up; the node was stopped.
    pub async fn start(
        dir: &Path,
        flags: &LocalChainFlags,
        neurons: usize,
    ) -> Result<Option<LocalChain>> {
        flags.check(neurons)?;
        let chain_dir = dir.join("chain");
        std::fs::create_dir_all(&chain_dir)
            .with_context(|| format!("cannot create {}", chain_dir.display()))?;
        let db = chain_dir.join("chain.db");
        let opts = NodeOptions {
            mode: BlockMode::Interval(Duration::from_secs_f64(flags.block_time)),
            db: Some(db.clone()),
            rpc_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, flags.chain_port)),
            tempo: Some(flags.tempo),
            dev: true,
            genesis_seed: None,
        };
        let opening = Spinner::start(format!("starting the chain ({})", db.display()));
        let node = match NodeConfig::from_options(opts) {
            Ok(cfg) => ChainNode::start(cfg).await,
            Err(e) => Err(e),
        }
        .map_err(|e| match e {
            ChainError::Io { .. } => CliError::PortInUse(format!(
                "{e} (change --chain_port, or --dir if another localnet uses its database)"
            ))
            .into(),
            other => anyhow::Error::from(other),
        })?;
        drop(opening);
        let endpoint = node.local_addr().to_string();
        println!(
            "Chain ready  endpoint: ws://{endpoint}  database: {}",
            db.display()
        );
        let wallets = dir.join("wallets");
        let made = tokio::select! {
            made = make_subnet(&endpoint, &wallets, flags, neurons) => Some(made),
            _ = tokio::signal::ctrl_c() => None,
        };
        let made = match made {
            Some(Ok(made)) => made,
            Some(Err(e)) => {
                node.shutdown().await;
                return Err(e);
            }
            None => {
                eprintln!("\ninterrupted while setting up the subnet; stopping the chain");
                node.shutdown().await;
                return Ok(None);
            }
        };
        Ok(Some(LocalChain {
            node,
            endpoint,
            netuid: made.0,
            db,
            members: made.1,
            wallets,
            subnet_interval: flags.subnet_interval,
        }))
    }

    /// A reader of the subnet for the dashboard (the same `Chain` every command reads).
    pub async fn reader(&self) -> Result<Arc<dyn bt_interfaces::Chain>> {
        let rpc = RpcChain::connect(&self.endpoint)
            .await
            .map_err(|e| CliError::Unreachable(format!("the local chain: {e}")))?;
        Ok(Arc::new(rpc))
    }

    /// The flags that make neuron `node` join the subnet as its member.
    pub fn neuron_args(&self, node: usize) -> Result<Vec<OsString>> {
        let m = self
            .members
            .get(node)
            .ok_or_else(|| anyhow!("neuron {node} has no uid on the local subnet"))?;
        let role = if m.validator { "validator" } else { "miner" };
        let mut args: Vec<OsString> = Vec::new();
        for (flag, value) in [
            ("--chain_endpoint", self.endpoint.clone()),
            ("--netuid", self.netuid.to_string()),
            ("--role", role.to_string()),
            ("--wallet.name", m.wallet.clone()),
            ("--wallet.hotkey", HOTKEY.to_string()),
            ("--subnet_interval", self.subnet_interval.to_string()),
        ] {
            args.push(flag.into());
            args.push(value.into());
        }
        args.push("--wallet.path".into());
        args.push(self.wallets.clone().into_os_string());
        Ok(args)
    }

    /// Stops the node (its database is closed cleanly).
    pub async fn shutdown(self) {
        self.node.shutdown().await;
    }
}

/// The keys of a localnet: the owner's coldkey and one hotkey per neuron, created on first use.
struct Keys {
    owner: Keypair,
    hotkeys: Vec<Keypair>,
}

fn wallet_name(node: usize) -> String {
    format!("n{node}")
}

/// Unencrypted: a localnet's keys hold only its own dev chain's faucet money.
fn load_keys(root: &Path, neurons: usize) -> Result<Keys> {
    let owner_wallet = Wallet::new(root, OWNER, HOTKEY)?;
    let owner = load_or_create(&owner_wallet.coldkey_path())?;
    write_public_key_file(owner_wallet.coldkeypub_path(), &owner.account())?;
    let mut hotkeys = Vec::with_capacity(neurons);
    for node in 0..neurons {
        let w = Wallet::new(root, &wallet_name(node), HOTKEY)?;
        let hot = load_or_create(&w.hotkey_path())?;
        write_public_key_file(w.hotkeypub_path(), &hot.account())?;
        // Tools that list wallets (btcli too) show whose neuron this is.
        write_public_key_file(w.coldkeypub_path(), &owner.account())?;
        hotkeys.push(hot.into());
    }
    Ok(Keys {
        owner: owner.into(),
        hotkeys,
    })
}

fn load_or_create(path: &Path) -> Result<Sr25519Pair> {
    Sr25519Pair::load_or_generate(path)
        .map(|(pair, _)| pair)
        .map_err(|e| CliError::Key(format!("{}: {e}", path.display())).into())
}

/// One setup call within `deadline`, named in its error.
async fn step<T>(
    what: &str,
    deadline: Duration,
    call: impl Future<Output = Result<T, ChainError>>,
) -> Result<T> {
    match tokio::time::timeout(deadline, call).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(anyhow!("{what}: {e}")),
        Err(_) => Err(CliError::Unreachable(format!(
            "{what}: no answer from the local chain within {deadline:?}"
        ))
        .into()),
    }
}

/// Tops the owner up from the faucet; a refusal because it holds enough already is fine.
async fn top_up(rpc: &RpcChain, owner: &Keypair, deadline: Duration) -> Result<()> {
    match tokio::time::timeout(deadline, rpc.faucet(owner)).await {
        Ok(Ok(_) | Err(ChainError::TxFailed { .. })) => Ok(()),
        Ok(Err(e)) => Err(anyhow!("faucet: {e}")),
        Err(_) => Err(CliError::Unreachable(format!(
            "faucet: no answer from the local chain within {deadline:?}"
        ))
        .into()),
    }
}

/// The subnet `owner` already owns on this chain (a previous run's), if any.
async fn owned_subnet(rpc: &RpcChain, owner: &Keypair, deadline: Duration) -> Result<Option<u16>> {
    for netuid in step("listing subnets", deadline, rpc.subnets()).await? {
        let mg = step("reading a subnet", deadline, rpc.metagraph(netuid)).await?;
        if mg.owner_coldkey == owner.account() {
            return Ok(Some(netuid));
        }
    }
    Ok(None)
}

async fn make_subnet(
    endpoint: &str,
    wallets: &Path,
    flags: &LocalChainFlags,
    neurons: usize,
) -> Result<(u16, Vec<Member>)> {
    let deadline = flags.step_deadline();
    let rpc = step(
        "connecting to the local chain",
        deadline,
        RpcChain::connect(endpoint),
    )
    .await?;
    let keys = load_keys(wallets, neurons)?;
    let progress = Spinner::start("funding the owner from the faucet");
    top_up(&rpc, &keys.owner, deadline).await?;
    progress.set_message("creating the subnet");
    let first = keys.hotkeys.first().ok_or_else(|| anyhow!("no neurons"))?;
    let netuid = match owned_subnet(&rpc, &keys.owner, deadline).await? {
        Some(netuid) => netuid,
        None => {
            step(
                "creating the subnet",
                deadline,
                rpc.create_subnet(&keys.owner, &first.account()),
            )
            .await?
        }
    };
    // A database from a run with another --tempo keeps its subnet: set what was asked.
    let tempo = step("reading the tempo", deadline, rpc.hyperparams(netuid))
        .await?
        .tempo;
    if tempo != flags.tempo {
        step(
            "setting the tempo",
            deadline,
            rpc.set_hyperparam(
                &keys.owner,
                netuid,
                HyperparamKey::Tempo,
                u64::from(flags.tempo),
            ),
        )
        .await?;
    }
    drop(progress);
    println!("Subnet {netuid}  tempo {} blocks", flags.tempo);

    let mut members = Vec::with_capacity(neurons);
    let mg = step("reading the subnet", deadline, rpc.metagraph(netuid)).await?;
    for (node, hot) in keys.hotkeys.iter().enumerate() {
        let validator = node < flags.validators;
        let uid = match mg.uid_of(&hot.account()) {
            Some(uid) => uid,
            None => {
                let _registering =
                    Spinner::start(format!("registering n{node} ({} of {neurons})", node + 1));
                top_up(&rpc, &keys.owner, deadline).await?;
                step(
                    &format!("registering n{node}"),
                    deadline,
                    rpc.burned_register(&keys.owner, netuid, &hot.account()),
                )
                .await?
            }
        };
        if validator {
            stake(&rpc, &keys.owner, hot, flags, deadline).await?;
        }
        println!(
            "n{node}: uid {uid} {}  hotkey {}",
            if validator { "validator" } else { "miner" },
            hot.account().to_ss58()
        );
        members.push(Member {
            validator,
            wallet: wallet_name(node),
        });
    }
    Ok((netuid, members))
}

/// Brings the owner's stake on validator `hot` up to `--validator_stake`.
async fn stake(
    rpc: &RpcChain,
    owner: &Keypair,
    hot: &Keypair,
    flags: &LocalChainFlags,
    deadline: Duration,
) -> Result<()> {
    let want = flags.validator_stake.saturating_mul(RAO_PER_TAO);
    let have = step(
        "reading stake",
        deadline,
        NodeClient::stake(rpc, &owner.account(), &hot.account()),
    )
    .await?;
    if have >= want {
        return Ok(());
    }
    let _staking = Spinner::start(format!(
        "staking {} TAO on {}",
        flags.validator_stake,
        hot.account().to_ss58()
    ));
    top_up(rpc, owner, deadline).await?;
    step(
        "staking on a validator",
        deadline,
        rpc.add_stake(owner, &hot.account(), want - have),
    )
    .await
    .map(|_| ())
}
