//! `bittensor synapse query|serve`: any synapse from the command line over today's HTTP
//! protocol, against our axons or the Python SDK's.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use bt_axon::http::{HttpAxon, HttpAxonConfig, attach_builtin};
use bt_crypto::wallet::{AccountId, Sr25519Pair};
use bt_dendrite::http::{AxonTarget, HttpAuth, HttpDendrite, HttpDendriteConfig};
use bt_http::DynSynapse;
use clap::{Args, Subcommand, ValueEnum};

use crate::exit::{self, CliError};
use crate::wallet_cmd::WalletArgs;

#[derive(Debug, Subcommand)]
pub enum SynapseCommand {
    /// Call a synapse on an axon (ours or the Python SDK's) and print the answer as JSON.
    Query(QueryArgs),
    /// Serve built-in synapses over HTTP until Ctrl-C: Dummy (2 × dummy_input), Prompting
    /// (echoes the last message), StreamPrompting (the same, streamed word by word),
    /// TensorForward (2 × inputs).
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The axon's address, IP:PORT.
    #[arg(long)]
    pub endpoint: SocketAddr,
    /// The axon's hotkey (SS58): the request is signed for it.
    #[arg(long = "axon_hotkey", alias = "axon-hotkey")]
    pub axon_hotkey: String,
    /// The synapse's class name (the route, `POST /<name>`).
    #[arg(long = "name", id = "synapse_name")]
    pub synapse: String,
    /// The request fields the synapse hashes (its `required_hash_fields`), comma-separated.
    #[arg(long = "hash_fields", alias = "hash-fields", value_delimiter = ',')]
    pub hash_fields: Vec<String>,
    /// The request fields as a JSON object.
    #[arg(long, default_value = "{}")]
    pub body: String,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 12.0)]
    pub timeout: f64,
    /// A streaming synapse: print each chunk of the answer as a JSON line `{"chunk": …}` as it
    /// arrives, then the outcome with all chunks joined as `text`.
    #[arg(long)]
    pub stream: bool,
    /// Signatures to send: both (any axon), v10 (SDK axons), btauth (ours; binds the body).
    #[arg(long, value_enum, default_value = "both")]
    pub auth: AuthArg,
    #[command(flatten)]
    pub wallet: WalletArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AuthArg {
    Both,
    V10,
    Btauth,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Built-in synapses to serve (comma-separated): Dummy, Prompting, StreamPrompting,
    /// TensorForward.
    #[arg(
        long = "name",
        id = "synapse_names",
        value_delimiter = ',',
        required = true
    )]
    pub synapses: Vec<String>,
    /// Port to listen on (0 picks a free one; the ready line says which).
    #[arg(long, default_value_t = 8091)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub ip: std::net::IpAddr,
    /// Accept only btauth/1 requests (refuse SDK v10 signatures, which leave unhashed fields
    /// unsigned).
    #[arg(long = "require_btauth", alias = "require-btauth")]
    pub require_btauth: bool,
    /// Largest request body in bytes.
    #[arg(long = "max_body_bytes", alias = "max-body-bytes", default_value_t = HttpAxonConfig::default().max_body_bytes)]
    pub max_body_bytes: usize,
    /// The HTTP axon's other limits (`--http_*`; `docs/security.md`).
    #[command(flatten)]
    pub caps: crate::caps::HttpCaps,
    #[command(flatten)]
    pub wallet: WalletArgs,
}

fn hotkey(w: &WalletArgs) -> Result<Arc<Sr25519Pair>> {
    crate::wallet_cmd::hotkey(w).map(Arc::new)
}

pub async fn run(
    cmd: SynapseCommand,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<u8> {
    match cmd {
        SynapseCommand::Query(args) => query(args).await,
        SynapseCommand::Serve(args) => serve(args, shutdown).await,
    }
}

async fn query(args: QueryArgs) -> Result<u8> {
    let usage = |m: String| anyhow::Error::from(CliError::Usage(m));
    if !(args.timeout.is_finite() && args.timeout > 0.0 && args.timeout <= 600.0) {
        return Err(usage(format!(
            "--timeout must be between 0 and 600 seconds, got {}",
            args.timeout
        )));
    }
    let axon = AccountId::from_ss58(&args.axon_hotkey)
        .map_err(|e| usage(format!("--axon_hotkey: {e}")))?;
    let body: serde_json::Value =
        serde_json::from_str(&args.body).map_err(|e| usage(format!("--body is not JSON: {e}")))?;
    let hash_fields = args
        .hash_fields
        .into_iter()
        .filter(|f| !f.is_empty())
        .collect();
    let synapse = DynSynapse::new(&args.synapse, hash_fields, body)
        .map_err(|e| usage(format!("--name/--body/--hash_fields: {e}")))?;
    let auth = match args.auth {
        AuthArg::Both => HttpAuth::Both,
        AuthArg::V10 => HttpAuth::V10,
        AuthArg::Btauth => HttpAuth::BtAuth,
    };
    let dendrite = HttpDendrite::new(
        hotkey(&args.wallet)?,
        HttpDendriteConfig {
            auth,
            ..HttpDendriteConfig::default()
        },
    );
    let target = AxonTarget {
        addr: args.endpoint,
        hotkey: axon,
    };
    let timeout = Duration::from_secs_f64(args.timeout);
    if args.stream {
        return query_stream(&dendrite, &target, &synapse, timeout).await;
    }
    let (answer, outcome) = dendrite.call(&target, synapse, timeout).await;
    let report = serde_json::json!({
        "status_code": outcome.status_code,
        "status_message": outcome.status_message,
        "process_time": outcome.process_time,
        "elapsed": outcome.elapsed.as_secs_f64(),
        "response_signed": outcome.response_signed,
        "synapse": answer.into_fields(),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(if outcome.is_success() {
        exit::OK
    } else {
        exit::UNREACHABLE
    })
}

async fn query_stream(
    dendrite: &HttpDendrite,
    target: &AxonTarget,
    synapse: &DynSynapse,
    timeout: Duration,
) -> Result<u8> {
    let report = |outcome: &bt_dendrite::http::CallOutcome, text: Option<&str>| {
        serde_json::json!({
            "status_code": outcome.status_code,
            "status_message": outcome.status_message,
            "process_time": outcome.process_time,
            "elapsed": outcome.elapsed.as_secs_f64(),
            "text": text,
        })
    };
    let mut stream = match dendrite.call_stream(target, synapse, timeout).await {
        Ok(stream) => stream,
        Err(outcome) => {
            println!("{}", report(&outcome, None));
            return Ok(exit::UNREACHABLE);
        }
    };
    let mut text = Vec::new();
    while let Some(chunk) = stream.next_chunk().await {
        match chunk {
            Ok(bytes) => {
                println!(
                    "{}",
                    serde_json::json!({ "chunk": String::from_utf8_lossy(&bytes) })
                );
                text.extend_from_slice(&bytes);
            }
            Err(outcome) => {
                println!(
                    "{}",
                    report(&outcome, Some(&String::from_utf8_lossy(&text)))
                );
                return Ok(exit::UNREACHABLE);
            }
        }
    }
    let outcome = stream.outcome();
    println!(
        "{}",
        report(&outcome, Some(&String::from_utf8_lossy(&text)))
    );
    Ok(if outcome.is_success() {
        exit::OK
    } else {
        exit::UNREACHABLE
    })
}

async fn serve(args: ServeArgs, shutdown: impl std::future::Future<Output = ()>) -> Result<u8> {
    let key = hotkey(&args.wallet)?;
    let config = crate::caps::http_config(
        &args.caps,
        HttpAxonConfig {
            accept_v10: !args.require_btauth,
            max_body_bytes: args.max_body_bytes,
            ..HttpAxonConfig::default()
        },
    )
    .map_err(|e| CliError::Usage(e.to_string()))?;
    let mut builder = HttpAxon::builder(key, config);
    for name in &args.synapses {
        builder =
            attach_builtin(builder, name).map_err(|e| CliError::Usage(format!("--name: {e}")))?;
    }
    let axon = builder
        .start(SocketAddr::new(args.ip, args.port))
        .await
        .map_err(|e| match e {
            bt_axon::http::HttpAxonError::Bind { .. } => {
                anyhow::Error::from(CliError::PortInUse(format!("{e} (change --port)")))
            }
            other => CliError::Usage(other.to_string()).into(),
        })?;
    // The ready line: scripts and tests wait for it and read the address and hotkey from it.
    println!(
        "serving {} on http://{} as hotkey {}",
        args.synapses.join(","),
        axon.local_addr(),
        axon.hotkey_ss58()
    );
    shutdown.await;
    axon.shutdown().await;
    Ok(exit::INTERRUPTED)
}
