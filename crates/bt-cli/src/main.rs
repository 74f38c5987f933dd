//! `bittensor`: run neurons and a local network, inspect metagraphs, manage keys, simulate
//! consensus. `bittensor --help` is the reference; `docs/cli.md` is generated from it.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod caps;
mod chain_cmd;
mod cli;
mod commands;
mod config;
mod dashboard_cmd;
mod display;
mod exit;
mod localnet;
mod localnet_chain;
mod password;
mod stake_cmd;
mod subnet_neuron;
mod synapse_cmd;
mod wallet_chain_cmd;
mod wallet_cmd;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc rather than glibc's allocator: an RPC allocates and frees dozens of small buffers,
/// often on different threads, and under load glibc's malloc and free took a visible share of
/// the axon's and dendrite's CPU. With mimalloc the rpc bench serves more requests per second in
/// every configuration, raw tonic included (README "Benchmarks", RPC, runs with mimalloc).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // A neuron takes its key before logging starts: refused, it must leave no log file behind.
    let job = match commands::prepare(cli) {
        Ok(job) => job,
        Err(err) => return fail(&err),
    };
    if let Err(e) = init_logging(job.log_dir()) {
        eprintln!("error: {e}");
        return ExitCode::from(exit::USAGE);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("bt-io")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    match runtime.block_on(commands::dispatch(job)) {
        Ok(code) => ExitCode::from(code),
        Err(err) => fail(&err),
    }
}

fn fail(err: &anyhow::Error) -> ExitCode {
    eprintln!("error: {err:#}");
    ExitCode::from(exit::code_for(err))
}

/// Logs go to stderr so stdout stays the neuron's report lines (which the localnet parses).
/// With `--log_dir`, they are also appended to `bittensor.log` there, at info level.
fn init_logging(log_dir: Option<&std::path::Path>) -> Result<(), String> {
    use tracing_subscriber::fmt::writer::MakeWriterExt;
    let default = if log_dir.is_some() { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("BT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    match log_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create --log_dir {}: {e}", dir.display()))?;
            let path = dir.join("bittensor.log");
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| format!("cannot open {} (--log_dir): {e}", path.display()))?;
            let stderr = std::io::stderr.with_max_level(tracing::Level::WARN);
            let _ = builder
                .with_ansi(false)
                .with_writer(stderr.and(std::sync::Mutex::new(file)))
                .try_init();
        }
        None => {
            let _ = builder.with_writer(std::io::stderr).try_init();
        }
    }
    Ok(())
}
