//! One function per CLI command, so `bt-cli` only maps clap arguments onto these:
//!
//! | command | function |
//! |---|---|
//! | `bittensor chain start [--block_time S \| --instant] [--db PATH] [--port P] [--tempo T]` | [`chain_start`] |
//! | `bittensor subnet create` | [`subnet_create`] |
//! | `bittensor subnet register [--pow]` | [`subnet_register`] |
//! | `bittensor subnet metagraph` | [`subnet_metagraph`] + [`format_metagraph`] |
//! | `bittensor subnet hparams [--set NAME=VALUE]` | [`subnet_hparams`] / [`subnet_set_hparam`] + [`format_hparams`] |
//! | `bittensor wallet new` / `list` | [`wallet_new`] / [`wallet_list`] |
//! | (funds on a local chain) | [`faucet`] |
//!
//! Every function returns a typed [`ChainError`]; errors name the flag to change where one
//! applies.

use crate::client::{Chain, ChainExt, RpcChain};
use crate::error::ChainError;
use crate::genesis::Genesis;
use crate::hparams::{HyperparamKey, Hyperparams};
use crate::keys::{AccountId, Keypair};
use crate::metagraph::Metagraph;
use crate::node::{BlockMode, ChainNode, NodeConfig};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `bittensor chain start` options.
#[derive(Clone, Debug)]
pub struct StartOptions {
    /// Seconds between blocks (ignored with `instant`).
    pub block_time: Duration,
    pub instant: bool,
    /// redb file; None = in memory (nothing survives a restart).
    pub db: Option<PathBuf>,
    pub host: IpAddr,
    pub port: u16,
    /// Tempo of new subnets; None keeps CONSENSUS.md's 360.
    pub tempo: Option<u16>,
    /// `Genesis::local_dev` settings (commit-reveal off, no rate limits, cheap registration).
    pub dev: bool,
}

impl Default for StartOptions {
    fn default() -> Self {
        Self {
            block_time: Duration::from_secs(1),
            instant: false,
            db: None,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 9944,
            tempo: None,
            dev: false,
        }
    }
}

pub async fn chain_start(opts: StartOptions) -> Result<ChainNode, ChainError> {
    if !opts.instant && opts.block_time.is_zero() {
        return Err(ChainError::InvalidHyperparam {
            key: "--block_time".into(),
            value: 0,
            reason: "must be positive; use --instant for blocks on demand".into(),
        });
    }
    let mut genesis = if opts.dev {
        Genesis::local_dev(360)
    } else {
        Genesis::default()
    };
    if let Some(t) = opts.tempo {
        if t == 0 {
            return Err(ChainError::InvalidHyperparam {
                key: "--tempo".into(),
                value: 0,
                reason: "must be at least 1".into(),
            });
        }
        genesis.subnet_defaults.tempo = t;
    }
    let mut cfg = NodeConfig::new(genesis);
    cfg.db = opts.db;
    cfg.rpc_addr = SocketAddr::new(opts.host, opts.port);
    cfg.mode = if opts.instant {
        BlockMode::Instant
    } else {
        BlockMode::Interval(opts.block_time)
    };
    ChainNode::start(cfg).await
}

/// Tops `coldkey` up from the local faucet if it holds less than the faucet amount.
pub async fn faucet(endpoint: &str, coldkey: &Keypair) -> Result<u64, ChainError> {
    let chain = RpcChain::connect(endpoint).await?;
    match chain.faucet(coldkey).await {
        Ok(_) | Err(ChainError::TxFailed { .. }) => chain.balance(&coldkey.account()).await,
        Err(e) => Err(e),
    }
}

pub async fn subnet_create(
    endpoint: &str,
    coldkey: &Keypair,
    owner_hotkey: &AccountId,
) -> Result<u16, ChainError> {
    let chain = RpcChain::connect(endpoint).await?;
    chain.create_subnet(coldkey, owner_hotkey).await
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterMethod {
    Burn,
    Pow,
}

/// Registers `hotkey` on `netuid`; returns its uid.
pub async fn subnet_register(
    endpoint: &str,
    netuid: u16,
    coldkey: &Keypair,
    hotkey: &Keypair,
    method: RegisterMethod,
) -> Result<u16, ChainError> {
    let chain = RpcChain::connect(endpoint).await?;
    match method {
        RegisterMethod::Burn => {
            chain
                .burned_register(coldkey, netuid, &hotkey.account())
                .await
        }
        RegisterMethod::Pow => chain.pow_register(hotkey, netuid, &coldkey.account()).await,
    }
}

pub async fn subnet_metagraph(endpoint: &str, netuid: u16) -> Result<Metagraph, ChainError> {
    RpcChain::connect(endpoint).await?.metagraph(netuid).await
}

pub async fn subnet_hparams(endpoint: &str, netuid: u16) -> Result<Hyperparams, ChainError> {
    RpcChain::connect(endpoint).await?.hyperparams(netuid).await
}

/// Sets hyperparameter `name` (snake_case, as [`format_hparams`] prints it) as the owner.
pub async fn subnet_set_hparam(
    endpoint: &str,
    coldkey: &Keypair,
    netuid: u16,
    name: &str,
    value: u64,
) -> Result<(), ChainError> {
    let key = HyperparamKey::from_name(name).ok_or_else(|| ChainError::InvalidHyperparam {
        key: name.to_string(),
        value,
        reason: format!(
            "unknown; one of: {}",
            HyperparamKey::ALL.map(|k| k.name()).join(", ")
        ),
    })?;
    RpcChain::connect(endpoint)
        .await?
        .set_hyperparam(coldkey, netuid, key, value)
        .await
        .map(|_| ())
}

fn frac(x: u16) -> f64 {
    f64::from(x) / 65535.0
}

/// The metagraph as a text table (one row per uid), like `btcli subnet metagraph`.
pub fn format_metagraph(mg: &Metagraph) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "subnet {} at block {}: {} neurons, burn {:.4} TAO, tempo {}",
        mg.netuid,
        mg.block,
        mg.n,
        mg.burn as f64 / 1e9,
        mg.hparams.tempo
    );
    let _ = writeln!(
        out,
        "{:>4} {:>12} {:>7} {:>7} {:>7} {:>7} {:>7} {:>12} {:>6} {:>4} {:>22} {:<12}",
        "UID",
        "STAKE(τ)",
        "VTRUST",
        "CONS",
        "INCENT",
        "DIVS",
        "ACTIVE",
        "EMISSION(ρ)",
        "UPDATE",
        "VP",
        "AXON",
        "HOTKEY"
    );
    for i in 0..usize::from(mg.n) {
        let axon = mg.axons[i].as_ref().map_or("-".to_string(), |a| {
            let ip = if a.ip_type == 4 {
                IpAddr::V4(Ipv4Addr::from(u32::try_from(a.ip).unwrap_or(0))).to_string()
            } else {
                IpAddr::V6(std::net::Ipv6Addr::from(a.ip)).to_string()
            };
            format!("{ip}:{}", a.port)
        });
        let hk = mg.hotkeys[i].to_ss58();
        let _ = writeln!(
            out,
            "{:>4} {:>12.4} {:>7.4} {:>7.4} {:>7.4} {:>7.4} {:>7} {:>12} {:>6} {:>4} {:>22} {:<12}",
            mg.uids[i],
            mg.stake[i] as f64 / 1e9,
            frac(mg.validator_trust[i]),
            frac(mg.consensus[i]),
            frac(mg.incentive[i]),
            frac(mg.dividends[i]),
            mg.active[i],
            mg.emission[i],
            mg.block.saturating_sub(mg.last_update[i]),
            if mg.validator_permit[i] { "*" } else { "" },
            axon,
            hk.get(..12).unwrap_or(&hk),
        );
    }
    out
}

pub fn format_hparams(h: &Hyperparams) -> String {
    let v = serde_json::to_value(h).unwrap_or_default();
    let mut out = String::new();
    for k in HyperparamKey::ALL {
        let val = v.get(k.name()).map_or("?".to_string(), |x| x.to_string());
        let _ = writeln!(out, "{:<26} {val}", k.name());
    }
    out
}

/// What `wallet list` shows for one wallet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalletInfo {
    pub name: String,
    pub coldkey: Option<AccountId>,
    pub hotkeys: Vec<(String, AccountId)>,
}

fn crypto(e: bt_crypto::CryptoError) -> ChainError {
    ChainError::Io {
        op: "wallet",
        reason: e.to_string(),
    }
}

/// Creates (or loads) `<root>/<name>` with hotkey `hotkey`; returns (coldkey, hotkey) keys.
pub fn wallet_new(root: &Path, name: &str, hotkey: &str) -> Result<(Keypair, Keypair), ChainError> {
    let w = bt_crypto::wallet::Wallet::new(root, name, hotkey).map_err(crypto)?;
    let (c, h) = w.create_if_missing().map_err(crypto)?;
    Ok((c.into(), h.into()))
}

/// Loads the keys of an existing wallet (for `--wallet.name/--wallet.hotkey`).
pub fn wallet_load(
    root: &Path,
    name: &str,
    hotkey: &str,
) -> Result<(Keypair, Keypair), ChainError> {
    let w = bt_crypto::wallet::Wallet::new(root, name, hotkey).map_err(crypto)?;
    Ok((
        w.coldkey().map_err(crypto)?.into(),
        w.hotkey().map_err(crypto)?.into(),
    ))
}

/// Lists wallets under `root` (bounded to 1024 wallets and 1024 hotkeys each).
pub fn wallet_list(root: &Path) -> Result<Vec<WalletInfo>, ChainError> {
    let io = |e: std::io::Error| ChainError::Io {
        op: "wallet list",
        reason: format!("{}: {e}", root.display()),
    };
    let mut out = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir(root)
        .map_err(io)?
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .take(1024)
        .collect();
    dirs.sort_by_key(|e| e.file_name());
    for d in dirs {
        let name = d.file_name().to_string_lossy().to_string();
        let coldkey = std::fs::read_to_string(d.path().join("coldkeypub.txt"))
            .ok()
            .and_then(|s| AccountId::from_ss58(s.trim()).ok());
        let mut hotkeys = Vec::new();
        if let Ok(rd) = std::fs::read_dir(d.path().join("hotkeys")) {
            let mut files: Vec<_> = rd.filter_map(Result::ok).take(1024).collect();
            files.sort_by_key(|e| e.file_name());
            for f in files {
                if let Ok(pair) = bt_crypto::wallet::Sr25519Pair::load(f.path()) {
                    hotkeys.push((
                        f.file_name().to_string_lossy().to_string(),
                        AccountId(pair.account().0),
                    ));
                }
            }
        }
        out.push(WalletInfo {
            name,
            coldkey,
            hotkeys,
        });
    }
    Ok(out)
}
