//! One function per subcommand: clap glue around the library crates, and the mapping of their
//! errors onto exit codes.

use std::time::Duration;

use anyhow::Result;
use bt_crypto::NeuronKey;

use crate::cli::{Cli, Command, ConsensusCommand, KeysCommand, MetagraphCommand, NeuronKind};
use crate::config::{NeuronSettings, Resolve, SubnetSettings, remote_learning};
use crate::exit::{self, CliError};

pub async fn dispatch(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Neuron(cmd) => {
            let usage = |e: anyhow::Error| CliError::Usage(format!("{e:#}"));
            let settings = NeuronSettings::resolve(&cmd.args).map_err(usage)?;
            let remote = remote_learning(&cmd.args).map_err(usage)?;
            let subnet = SubnetSettings::resolve(&cmd.args).map_err(usage)?;
            if remote.is_some() && (subnet.is_some() || cmd.kind != NeuronKind::Mnist) {
                return Err(CliError::Usage(
                    "--remote_learning applies to `neuron mnist` on gossip (no --chain_endpoint)"
                        .into(),
                )
                .into());
            }
            match subnet {
                Some(subnet) => {
                    crate::subnet_neuron::run(cmd.kind, settings, subnet, shutdown_signal()).await
                }
                None => run_neuron(cmd.kind, settings, remote).await,
            }
        }
        Command::Localnet(args) => crate::localnet::run(args).await,
        Command::Metagraph(MetagraphCommand::Inspect {
            address,
            json,
            timeout,
        }) => inspect(&address, json, timeout).await,
        Command::Keys(cmd) => keys(cmd),
        Command::Chain(cmd) => crate::chain_cmd::chain(cmd, shutdown_signal()).await,
        Command::Subnet(cmd) => crate::chain_cmd::subnet(cmd).await,
        Command::Wallet(cmd) => crate::chain_cmd::wallet(cmd),
        Command::Stake(cmd) => crate::stake_cmd::stake(cmd).await,
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

async fn run_neuron(
    kind: NeuronKind,
    config: NeuronSettings,
    remote: Option<bt_neuron::RemoteLearning>,
) -> Result<u8> {
    let outcome = match kind {
        NeuronKind::Echo => bt_neuron::run_echo(config, shutdown_signal()).await,
        NeuronKind::Mnist => bt_neuron::run_mnist_with(config, remote, shutdown_signal()).await,
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
            if path.exists() && !force {
                return Err(CliError::Key(format!(
                    "{} already exists; pass --force to replace it (the old key is lost)",
                    path.display()
                ))
                .into());
            }
            let key = NeuronKey::generate();
            key.save(&path).map_err(|e| CliError::Key(e.to_string()))?;
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
