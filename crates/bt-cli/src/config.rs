//! Neuron settings: command line and environment first, then the `--config` TOML file, then
//! defaults. The file is a separate serde struct so that unknown keys are an error that names the
//! key, not a silently ignored typo. The servers' caps (`--axon_*`, `--http_*`, `--metagraph_*`)
//! are keys of the file too, under the flags' names (`crate::caps`).

use bt_tensor::compression::Codec;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bt_neuron::identity::KeyChoice;
use serde::Deserialize;

use crate::cli::{NeuronArgs, Role};
use crate::wallet_cmd::WalletArgs;

/// Everything a neuron needs, resolved: the neuron crate's own configuration.
pub type NeuronSettings = bt_neuron::NeuronConfig;

/// Largest `--metagraph_size`: a table this large is already far more than a network has.
pub const MAX_METAGRAPH_SIZE: usize = 1 << 24;
pub const DEFAULT_GOSSIP_INTERVAL_SECS: f64 = 10.0;
/// One block of today's network: how often subnet neurons look at the chain by default.
pub const DEFAULT_SUBNET_INTERVAL_SECS: f64 = 12.0;

/// The `--config` file: the same names as the flags (underscores).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeuronFileConfig {
    pub chain_endpoint: Option<String>,
    pub subtensor_network: Option<String>,
    pub subtensor_chain_endpoint: Option<String>,
    pub axon_port: Option<u16>,
    pub metagraph_port: Option<u16>,
    pub metagraph_size: Option<usize>,
    pub bootstrap: Option<Vec<String>>,
    pub neuron_key: Option<PathBuf>,
    pub name: Option<String>,
    pub remote_ip: Option<String>,
    pub model_path: Option<PathBuf>,
    pub log_dir: Option<PathBuf>,
    pub gossip_interval: Option<f64>,
    pub data_dir: Option<PathBuf>,
    pub epochs: Option<usize>,
    pub max_steps: Option<usize>,
    pub wait_for_peers: Option<usize>,
    pub allow_unsigned: Option<bool>,
    pub max_tensors: Option<u32>,
    pub compression: Option<String>,
    pub metrics_port: Option<u16>,
    pub netuid: Option<u16>,
    pub role: Option<Role>,
    pub wallet_path: Option<PathBuf>,
    pub wallet_name: Option<String>,
    pub wallet_hotkey: Option<String>,
    pub subnet_interval: Option<f64>,
    pub remote_learning: Option<bool>,
    pub remote_grad_scale: Option<f32>,
    pub remote_grad_clip: Option<f32>,
    /// The servers' caps, under the flags' names (`axon_max_in_flight = 64`, …).
    #[serde(skip)]
    pub caps: crate::caps::ServerCaps,
}

impl NeuronFileConfig {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --config file {}", path.display()))?;
        let bad = || format!("bad --config file {}", path.display());
        let mut table: toml::Table = toml::from_str(&text).with_context(bad)?;
        // The caps first: what is left must be the file's other settings (unknown keys are
        // refused, naming the key).
        let caps = crate::caps::ServerCaps::take_from_file(&mut table).with_context(bad)?;
        let mut file: Self = toml::Value::Table(table).try_into().with_context(bad)?;
        file.caps = caps;
        Ok(file)
    }

    fn of(args: &NeuronArgs) -> Result<Self> {
        match &args.config {
            Some(path) => Self::load(path),
            None => Ok(Self::default()),
        }
    }
}

/// Where a neuron stands on a chain: present only with `--chain_endpoint` or a subtensor flag.
#[derive(Debug, Clone)]
pub struct SubnetSettings {
    pub chain: bt_neuron::chain_target::ChainTarget,
    pub netuid: u16,
    pub role: Role,
    pub wallet: WalletArgs,
    /// Chain refreshes, validator rounds and status lines.
    pub interval: Duration,
    /// Also serve the model over HTTP on this port (`--http_port`).
    pub http_port: Option<u16>,
    /// The axon port published on the chain when it is not the axon's own (`--external_port`).
    pub external_port: Option<u16>,
}

impl SubnetSettings {
    /// `None` for a gossip neuron. The chain flags come as a set: a chain endpoint without a
    /// subnet and role (or the reverse) is a usage error naming what is missing.
    pub fn resolve(args: &NeuronArgs) -> Result<Option<Self>> {
        let file = NeuronFileConfig::of(args)?;
        let endpoint = args.chain_endpoint.clone().or(file.chain_endpoint);
        let network = args.subtensor.network.clone().or(file.subtensor_network);
        let subtensor = args
            .subtensor
            .chain_endpoint
            .clone()
            .or(file.subtensor_chain_endpoint);
        let netuid = args.netuid.or(file.netuid);
        let role = args.role.or(file.role);
        if endpoint.is_none() && network.is_none() && subtensor.is_none() {
            if args.http_port.is_some() {
                bail!(
                    "--http_port serves a subnet neuron over HTTP: it needs --chain_endpoint \
                     or --subtensor.network"
                );
            }
            if netuid.is_some() || role.is_some() {
                bail!(
                    "--netuid and --role need --chain_endpoint or --subtensor.network (the \
                     chain to join)"
                );
            }
            return Ok(None);
        }
        let local = std::env::var("BT_SUBTENSOR_CHAIN_ENDPOINT").ok();
        let chain = bt_neuron::chain_target::ChainTarget::from_flags(
            endpoint.as_deref().unwrap_or_default(),
            network.as_deref(),
            subtensor.as_deref(),
            local.as_deref(),
        )
        .map_err(|e| anyhow::anyhow!(crate::exit::chain_error_text(&e)))?;
        let (Some(netuid), Some(role)) = (netuid, role) else {
            bail!(
                "a chain (--chain_endpoint or --subtensor.network) needs --netuid N and --role \
                 miner|validator (without a chain, neurons find each other by gossip)"
            );
        };
        let secs = args
            .subnet_interval
            .or(file.subnet_interval)
            .unwrap_or(DEFAULT_SUBNET_INTERVAL_SECS);
        if !(secs.is_finite() && (0.05..=3600.0).contains(&secs)) {
            bail!("--subnet_interval must be between 0.05 and 3600 seconds, got {secs}");
        }
        let wallet = WalletArgs {
            root: args.wallet_path.clone().or(file.wallet_path),
            name: args
                .wallet_name
                .clone()
                .or(file.wallet_name)
                .unwrap_or_else(|| "default".into()),
            hotkey: args
                .wallet_hotkey
                .clone()
                .or(file.wallet_hotkey)
                .unwrap_or_else(|| "default".into()),
        };
        Ok(Some(Self {
            chain,
            netuid,
            role,
            wallet,
            interval: Duration::from_secs_f64(secs),
            http_port: args.http_port,
            external_port: args.external_port,
        }))
    }
}

/// `Some` when the neuron lets its peers' gradients train its served model. Scale or clip
/// without `--remote_learning` is a usage error rather than a silently ignored setting.
pub fn remote_learning(args: &NeuronArgs) -> Result<Option<bt_neuron::RemoteLearning>> {
    let file = NeuronFileConfig::of(args)?;
    let on = args.remote_learning || file.remote_learning.unwrap_or(false);
    let scale = args.remote_grad_scale.or(file.remote_grad_scale);
    let clip = args.remote_grad_clip.or(file.remote_grad_clip);
    if !on {
        if scale.is_some() || clip.is_some() {
            bail!("--remote_grad_scale and --remote_grad_clip need --remote_learning");
        }
        return Ok(None);
    }
    let defaults = bt_neuron::RemoteLearning::default();
    let scale = scale.unwrap_or(defaults.scale);
    let max_norm = clip.unwrap_or(defaults.max_norm);
    for (name, v) in [("remote_grad_scale", scale), ("remote_grad_clip", max_norm)] {
        if !(v.is_finite() && v > 0.0 && v <= 1e6) {
            bail!("--{name} must be a number above 0 and at most 1e6, got {v}");
        }
    }
    Ok(Some(bt_neuron::RemoteLearning { scale, max_norm }))
}

/// Which key the neuron runs under: `--neuron_key` or `--name`, else the first free default
/// (`bt_neuron::identity::KeyChoice`). The command line wins over the file; the two flags at the
/// same level are a usage error, since they name different keys.
pub fn key_choice(args: &NeuronArgs) -> Result<KeyChoice> {
    let file = NeuronFileConfig::of(args)?;
    let levels = [
        (args.neuron_key.clone(), args.name.clone()),
        (file.neuron_key, file.name),
    ];
    for level in levels {
        match level {
            (Some(_), Some(_)) => {
                bail!("--neuron_key and --name both choose the neuron's key: give one of them")
            }
            (Some(path), None) => return Ok(KeyChoice::File(path)),
            (None, Some(name)) => return Ok(KeyChoice::named(&name)?),
            (None, None) => {}
        }
    }
    Ok(KeyChoice::default())
}

/// Resolves the final settings of a neuron.
pub trait Resolve: Sized {
    fn resolve(args: &NeuronArgs) -> Result<Self>;
}

impl Resolve for NeuronSettings {
    fn resolve(args: &NeuronArgs) -> Result<Self> {
        let file = NeuronFileConfig::of(args)?;
        let gossip_secs = args
            .gossip_interval
            .or(file.gossip_interval)
            .unwrap_or(DEFAULT_GOSSIP_INTERVAL_SECS);
        if !(gossip_secs.is_finite() && gossip_secs > 0.0 && gossip_secs <= 3600.0) {
            bail!("--gossip_interval must be between 0 and 3600 seconds, got {gossip_secs}");
        }
        let metagraph_size = args
            .metagraph_size
            .or(file.metagraph_size)
            .unwrap_or_else(|| bt_metagraph::TableConfig::default().capacity);
        if !(1..=MAX_METAGRAPH_SIZE).contains(&metagraph_size) {
            bail!(
                "--metagraph_size must be between 1 and {MAX_METAGRAPH_SIZE}, got {metagraph_size}"
            );
        }
        let max_tensors = args
            .max_tensors
            .or(file.max_tensors)
            .map_or(bt_axon::AxonConfig::default().max_tensors, |n| n as usize);
        let compression = match (args.compression, file.compression.as_deref()) {
            (Some(codec), _) => codec,
            (None, Some(name)) => {
                Codec::parse(name).map_err(|e| anyhow::anyhow!("config file: compression: {e}"))?
            }
            (None, None) => Codec::None,
        };
        let caps = args.caps.or_file(&file.caps);
        let bootstrap = if args.bootstrap.is_empty() {
            file.bootstrap.unwrap_or_default()
        } else {
            args.bootstrap.clone()
        };
        Ok(Self {
            chain_endpoint: args.chain_endpoint.clone().or(file.chain_endpoint),
            axon_port: args.axon_port.or(file.axon_port).unwrap_or(0),
            metagraph_port: args.metagraph_port.or(file.metagraph_port).unwrap_or(0),
            metagraph_size,
            bootstrap: bootstrap
                .into_iter()
                .filter(|b| !b.trim().is_empty())
                .collect(),
            remote_ip: args.remote_ip.clone().or(file.remote_ip),
            model_path: args.model_path.clone().or(file.model_path),
            log_dir: args.log_dir.clone().or(file.log_dir),
            gossip_interval: Duration::from_secs_f64(gossip_secs),
            data_dir: args.data_dir.clone().or(file.data_dir),
            epochs: args.epochs.or(file.epochs).unwrap_or(1),
            max_steps: args.max_steps.or(file.max_steps).unwrap_or(0),
            wait_for_peers: args.wait_for_peers.or(file.wait_for_peers).unwrap_or(0),
            allow_unsigned: args.allow_unsigned || file.allow_unsigned.unwrap_or(false),
            axon: bt_axon::AxonConfig {
                // Peers dial it (a port forward), so v2 request signatures may bind it.
                external_port: args.external_port,
                ..crate::caps::axon_config(&caps, max_tensors)?
            },
            http: crate::caps::http_config(&caps.http, Default::default())?,
            metagraph: crate::caps::metagraph_config(&caps)?,
            metrics_port: args.metrics_port.or(file.metrics_port),
            compression,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_wins_over_file_and_file_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.toml");
        std::fs::write(
            &path,
            "axon_port = 9000\nmetagraph_size = 50\nbootstrap = [\"127.0.0.1:1\"]\nwait_for_peers = 2\n",
        )
        .unwrap();
        let args = NeuronArgs {
            config: Some(path),
            axon_port: Some(9100),
            ..NeuronArgs::default()
        };
        let s = NeuronSettings::resolve(&args).unwrap();
        assert_eq!(s.axon_port, 9100);
        assert_eq!(s.metagraph_size, 50);
        assert_eq!(s.bootstrap, vec!["127.0.0.1:1".to_string()]);
        assert_eq!(s.metagraph_port, 0);
        assert_eq!(s.gossip_interval, Duration::from_secs(10));
        assert_eq!(s.wait_for_peers, 2);
    }

    #[test]
    fn unknown_key_in_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.toml");
        std::fs::write(&path, "axon_prot = 1\n").unwrap();
        let args = NeuronArgs {
            config: Some(path),
            ..NeuronArgs::default()
        };
        let err = format!("{:#}", NeuronSettings::resolve(&args).unwrap_err());
        assert!(err.contains("axon_prot"), "{err}");
    }

    #[test]
    fn caps_in_the_file_under_the_flags_names_apply_below_the_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.toml");
        std::fs::write(
            &path,
            "axon_max_in_flight = 7\naxon_max_callers_per_ip = 3\naxon_require_digest_v2 = true\n\
             http_max_queue = 11\nhttp_session_idle_ttl_secs = 40\n\
             http_session_max_age_secs = 900\nmetagraph_max_peers = 13\n\
             metagraph_inspect_interval_ms = 1500\naxon_port = 9000\n",
        )
        .unwrap();
        let mut args = NeuronArgs {
            config: Some(path),
            ..NeuronArgs::default()
        };
        args.caps.axon.max_callers_per_ip = Some(5);
        let s = NeuronSettings::resolve(&args).unwrap();
        assert_eq!(s.axon.max_in_flight, 7);
        assert_eq!(s.axon.max_callers_per_ip, 5, "the flag wins over the file");
        assert!(s.axon.require_digest_v2);
        assert_eq!(s.http.max_queue, 11);
        assert_eq!(s.http.sessions.idle_ttl, Duration::from_secs(40));
        assert_eq!(s.http.sessions.max_age, Duration::from_secs(900));
        assert_eq!(s.metagraph.table.max_peers, 13);
        assert_eq!(s.metagraph.inspect_interval, Duration::from_millis(1500));
        assert_eq!(s.axon_port, 9000);
    }

    #[test]
    fn a_bad_cap_in_the_file_names_its_key() {
        let dir = tempfile::tempdir().unwrap();
        for (text, key) in [
            ("axon_max_in_flight = 0\n", "axon_max_in_flight"),
            ("metagraph_max_peers = \"many\"\n", "metagraph_max_peers"),
            ("axon_require_digest_v2 = 1\n", "axon_require_digest_v2"),
            ("http_max_in_flight = -1\n", "http_max_in_flight"),
            ("axon_max_in_fligth = 1\n", "axon_max_in_fligth"),
        ] {
            let path = dir.path().join("n.toml");
            std::fs::write(&path, text).unwrap();
            let args = NeuronArgs {
                config: Some(path),
                ..NeuronArgs::default()
            };
            let err = format!("{:#}", NeuronSettings::resolve(&args).unwrap_err());
            assert!(err.contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn the_external_port_is_an_endpoint_of_the_axon() {
        let s = NeuronSettings::resolve(&NeuronArgs::default()).unwrap();
        assert_eq!(s.axon.external_port, None);
        let args = NeuronArgs {
            external_port: Some(443),
            ..NeuronArgs::default()
        };
        let s = NeuronSettings::resolve(&args).unwrap();
        assert_eq!(s.axon.external_port, Some(443));
    }

    #[test]
    fn bad_values_name_the_flag() {
        let args = NeuronArgs {
            gossip_interval: Some(-1.0),
            ..NeuronArgs::default()
        };
        let err = NeuronSettings::resolve(&args).unwrap_err().to_string();
        assert!(err.contains("--gossip_interval"), "{err}");
        let args = NeuronArgs {
            metagraph_size: Some(0),
            ..NeuronArgs::default()
        };
        let err = NeuronSettings::resolve(&args).unwrap_err().to_string();
        assert!(err.contains("--metagraph_size"), "{err}");
    }

    #[test]
    fn remote_learning_is_opt_in_with_checked_scale_and_clip() {
        assert_eq!(remote_learning(&NeuronArgs::default()).unwrap(), None);
        let on = NeuronArgs {
            remote_learning: true,
            remote_grad_scale: Some(50.0),
            ..NeuronArgs::default()
        };
        let r = remote_learning(&on).unwrap().unwrap();
        assert_eq!((r.scale, r.max_norm), (50.0, 1.0));
        let orphan = NeuronArgs {
            remote_grad_clip: Some(2.0),
            ..NeuronArgs::default()
        };
        let err = remote_learning(&orphan).unwrap_err().to_string();
        assert!(err.contains("--remote_learning"), "{err}");
        for bad in [0.0, -1.0, f32::NAN, f32::INFINITY] {
            let args = NeuronArgs {
                remote_learning: true,
                remote_grad_clip: Some(bad),
                ..NeuronArgs::default()
            };
            let err = remote_learning(&args).unwrap_err().to_string();
            assert!(err.contains("--remote_grad_clip"), "{bad}: {err}");
        }
    }

    #[test]
    fn key_choice_from_flags_or_file_or_the_first_free_default() {
        assert_eq!(
            key_choice(&NeuronArgs::default()).unwrap(),
            KeyChoice::default()
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.toml");
        std::fs::write(&path, "name = \"filed\"\n").unwrap();
        let from_file = NeuronArgs {
            config: Some(path.clone()),
            ..NeuronArgs::default()
        };
        assert_eq!(
            key_choice(&from_file).unwrap(),
            KeyChoice::named("filed").unwrap()
        );
        // The command line wins over the file, even with the other flag.
        let flag_wins = NeuronArgs {
            config: Some(path),
            neuron_key: Some(PathBuf::from("k.key")),
            ..NeuronArgs::default()
        };
        assert_eq!(
            key_choice(&flag_wins).unwrap(),
            KeyChoice::File(PathBuf::from("k.key"))
        );
        let both = NeuronArgs {
            neuron_key: Some(PathBuf::from("k.key")),
            name: Some("a".into()),
            ..NeuronArgs::default()
        };
        let err = key_choice(&both).unwrap_err().to_string();
        assert!(
            err.contains("--neuron_key") && err.contains("--name"),
            "{err}"
        );
        let bad = NeuronArgs {
            name: Some("../up".into()),
            ..NeuronArgs::default()
        };
        let err = key_choice(&bad).unwrap_err().to_string();
        assert!(err.contains("--name"), "{err}");
    }

    #[test]
    fn remote_learning_from_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.toml");
        std::fs::write(&path, "remote_learning = true\nremote_grad_clip = 5.0\n").unwrap();
        let args = NeuronArgs {
            config: Some(path),
            ..NeuronArgs::default()
        };
        let r = remote_learning(&args).unwrap().unwrap();
        assert_eq!((r.scale, r.max_norm), (1.0, 5.0));
    }
}
