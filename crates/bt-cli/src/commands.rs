//! One function per subcommand: clap glue around the library crates, and the mapping of their
//! errors onto exit codes.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use bt_crypto::{CryptoError, NeuronKey};
use bt_neuron::identity::{Identity, KeyChoice};
use bt_nn::text::TextModel;
use bt_nn::{CifarModel, MnistModel};

use crate::cli::{
    Cli, Command, ConsensusCommand, KeysCommand, MetagraphCommand, NeuronCommand, NeuronKind,
};
use crate::config::{NeuronSettings, Resolve, SubnetSettings, key_choice, remote_learning};
use crate::exit::{self, CliError};
use crate::subnet_neuron::SubnetJob;

/// A parsed command, with what has to happen before it may write anything already done.
pub enum Job {
    Neuron(Box<NeuronJob>),
    Other(Command),
}

/// A neuron with its settings resolved and its key taken (and locked).
pub struct NeuronJob {
    kind: NeuronKind,
    /// `neuron text --teacher`: serve MiniLM, do not train.
    teacher: bool,
    settings: NeuronSettings,
    remote: Option<bt_neuron::RemoteLearning>,
    subnet: Option<SubnetJob>,
    identity: Identity,
}

impl Job {
    /// Where the command's log file goes: a neuron's `--log_dir` (flag, environment or file).
    pub fn log_dir(&self) -> Option<&Path> {
        match self {
            Job::Neuron(n) => n.settings.log_dir.as_deref(),
            Job::Other(_) => None,
        }
    }
}

/// Runs before logging is set up, so that a neuron refused at start (bad settings, a key in use)
/// has written nothing: not its log file, not a key, not a checkpoint.
pub fn prepare(cli: Cli) -> Result<Job> {
    match cli.command {
        Command::Neuron(cmd) => Ok(Job::Neuron(Box::new(prepare_neuron(*cmd)?))),
        other => Ok(Job::Other(other)),
    }
}

fn prepare_neuron(cmd: NeuronCommand) -> Result<NeuronJob> {
    let usage = |e: anyhow::Error| CliError::Usage(format!("{e:#}"));
    if let Some(ms) = cmd.args.clock_skew_ms {
        bt_crypto::set_clock_offset_ns(ms.saturating_mul(1_000_000));
    }
    let settings = NeuronSettings::resolve(&cmd.args).map_err(usage)?;
    let remote = remote_learning(&cmd.args).map_err(usage)?;
    let subnet = SubnetSettings::resolve(&cmd.args).map_err(usage)?;
    let key = key_choice(&cmd.args).map_err(usage)?;
    if cmd.args.teacher && (subnet.is_some() || cmd.kind != NeuronKind::Text) {
        return Err(CliError::Usage(
            "--teacher applies to `neuron text` on gossip (no --chain_endpoint)".into(),
        )
        .into());
    }
    if remote.is_some() && (subnet.is_some() || cmd.kind != NeuronKind::Mnist) {
        return Err(CliError::Usage(
            "--remote_learning applies to `neuron mnist` on gossip (no --chain_endpoint)".into(),
        )
        .into());
    }
    // The wallet is only read; checking it before the key means a neuron that cannot join its
    // subnet does not create a key on its way out.
    let subnet = subnet
        .map(|s| crate::subnet_neuron::prepare(cmd.kind, s))
        .transpose()?;
    let identity = take_identity(&key)?;
    Ok(NeuronJob {
        kind: cmd.kind,
        teacher: cmd.args.teacher,
        settings,
        remote,
        subnet,
        identity,
    })
}

/// The neuron's key, locked for the life of the returned identity; says which file it is.
fn take_identity(key: &KeyChoice) -> Result<Identity> {
    let identity = bt_neuron::identity::acquire(key).map_err(exit::classify_neuron_error)?;
    println!(
        "Neuron key: {}{}",
        identity.path().display(),
        if identity.created { " (new)" } else { "" }
    );
    // Before each neuron had its own default key, every neuron used ./neuron.key; say where
    // that identity went rather than leave its owner wondering.
    if matches!(key, KeyChoice::FirstFree { .. }) && Path::new("neuron.key").exists() {
        eprintln!(
            "note: ./neuron.key is no longer the default neuron key (each neuron now gets its \
             own under {}/); pass --neuron_key neuron.key to run under it",
            bt_neuron::identity::NEURONS_DIR
        );
    }
    Ok(identity)
}

pub async fn dispatch(job: Job) -> Result<u8> {
    match job {
        Job::Neuron(neuron) => run_neuron(*neuron).await,
        Job::Other(cmd) => dispatch_other(cmd).await,
    }
}

async fn dispatch_other(cmd: Command) -> Result<u8> {
    match cmd {
        // `prepare` takes neurons out; one that comes here still runs, just without the
        // guarantee that nothing was logged before its key was taken.
        Command::Neuron(cmd) => run_neuron(prepare_neuron(*cmd)?).await,
        Command::Localnet(args) => crate::localnet::run(args).await,
        Command::Dashboard(args) => crate::dashboard_cmd::run(args, shutdown_signal()).await,
        Command::Metagraph(MetagraphCommand::Inspect {
            address,
            json,
            timeout,
        }) => inspect(&address, json, timeout).await,
        Command::Keys(cmd) => keys(cmd),
        Command::Chain(cmd) => crate::chain_cmd::chain(cmd, shutdown_signal()).await,
        Command::Subnet(cmd) => crate::chain_cmd::subnet(cmd).await,
        Command::Wallet(crate::cli::WalletCommand::Keys(cmd)) => crate::wallet_cmd::wallet(cmd),
        Command::Wallet(crate::cli::WalletCommand::Chain(cmd)) => {
            crate::wallet_chain_cmd::run(cmd).await
        }
        Command::Stake(cmd) => crate::stake_cmd::stake(cmd).await,
        Command::Synapse(cmd) => crate::synapse_cmd::run(*cmd, shutdown_signal()).await,
        Command::Consensus(ConsensusCommand::Simulate { scenario, format }) => {
            let format = match format {
                crate::cli::OutputFormat::Table => bt_consensus::simulate::Format::Table,
                crate::cli::OutputFormat::Json => bt_consensus::simulate::Format::Json,
            };
            let out = bt_consensus::simulate::simulate_file(&scenario, format)
                .map_err(|e| CliError::Data(format!("{}: {e}", scenario.display())))?;
            println!("{out}");
            Ok(exit::OK)
        }
    }
}

async fn run_neuron(job: NeuronJob) -> Result<u8> {
    let NeuronJob {
        kind,
        teacher,
        settings,
        remote,
        subnet,
        identity,
    } = job;
    if let Some(subnet) = subnet {
        return crate::subnet_neuron::run(settings, subnet, identity, shutdown_signal()).await;
    }
    let outcome = match kind {
        NeuronKind::Echo => bt_neuron::run_echo(settings, identity, shutdown_signal()).await,
        NeuronKind::Mnist => {
            bt_neuron::run::<MnistModel>(settings, identity, remote, shutdown_signal()).await
        }
        NeuronKind::Cifar => {
            bt_neuron::run::<CifarModel>(settings, identity, remote, shutdown_signal()).await
        }
        NeuronKind::Text if teacher => {
            bt_neuron::run_teacher(settings, identity, shutdown_signal()).await
        }
        NeuronKind::Text => {
            bt_neuron::run::<TextModel>(settings, identity, remote, shutdown_signal()).await
        }
    };
    match outcome {
        Ok(bt_neuron::Stopped::Finished) => Ok(exit::OK),
        Ok(bt_neuron::Stopped::Interrupted) => Ok(exit::INTERRUPTED),
        Err(e) => Err(exit::classify_neuron_error(e)),
    }
}

/// Resolves on Ctrl-C or SIGTERM: both mean "checkpoint and stop".
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn inspect(address: &str, json: bool, timeout: f64) -> Result<u8> {
    if !(timeout.is_finite() && timeout > 0.0 && timeout <= 600.0) {
        return Err(CliError::Usage(format!(
            "--timeout must be between 0 and 600 seconds, got {timeout}"
        ))
        .into());
    }
    let entries = bt_metagraph::inspect(address, Duration::from_secs_f64(timeout))
        .await
        .map_err(|e| CliError::Unreachable(format!("metagraph at {address}: {e}")))?;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let out = if json {
        bt_metagraph::render_json(&entries, now_ms)
    } else {
        bt_metagraph::render_table(&entries, now_ms)
    };
    println!("{out}");
    Ok(exit::OK)
}

fn keys(cmd: KeysCommand) -> Result<u8> {
    match cmd {
        KeysCommand::New { path, force } => {
            let key = NeuronKey::generate();
            let saved = if force {
                key.save(&path)
            } else {
                key.save_new(&path)
            };
            match saved {
                Ok(()) => {}
                Err(CryptoError::KeyFileExists { .. }) => {
                    return Err(CliError::Key(format!(
                        "{} already exists; pass --force to replace it (the old key is lost)",
                        path.display()
                    ))
                    .into());
                }
                Err(e) => return Err(CliError::Key(e.to_string()).into()),
            }
            println!("neuron key: {}", key.public_hex());
            println!("written to: {}", path.display());
        }
        KeysCommand::Show { path } => {
            let key = NeuronKey::load(&path).map_err(|e| CliError::Key(e.to_string()))?;
            println!("{}", key.public_hex());
        }
    }
    Ok(exit::OK)
}
