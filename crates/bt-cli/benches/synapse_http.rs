//! The Synapse-over-HTTP benchmark: the Python SDK 10.5's axon and dendrite against ours, on the
//! subnet template's `Dummy`, in one run.
//!
//! `BT_SDK_PYTHON=<python with bittensor==10.5.0> cargo bench -p bt-cli --bench synapse_http`
//! prints one table: per client → server pair, the sequential p50 latency and the requests per
//! second with 64 in flight (one shared dendrite, as a validator has), as the median of
//! `BT_BENCH_ROUNDS` rounds (default 3) with the spread, and the ratio to SDK → SDK. Each axon
//! is its own process (ours: `bittensor synapse serve`; the SDK's: `tests/sdk/sdk_axon.py`); the
//! SDK's client is `tests/sdk/sdk_bench_client.py`, ours runs in this process. Rounds
//! interleave the pairs, so machine noise hits all of them alike. Without `BT_SDK_PYTHON` only
//! our own pairs run; `BT_BENCH_ONLY=<text>` runs only the pairs whose label contains it (e.g.
//! to profile one under `perf`); `BT_BENCH_AXON_BIN=<path>` runs that `bittensor` as our axon
//! (a copy saved from another build, to compare two builds in one session); `BT_BENCH_HTTP2=1`
//! has our dendrite speak HTTP/2 to our axon. Our signed rows run with sessions off; the session row opens
//! one during the warm-up (a signed handshake) and then sends a MAC per request. The machine's
//! load at the start and the end is printed under the table.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bt_crypto::wallet::{AccountId, Wallet};
use bt_dendrite::http::{AxonTarget, HttpAuth, HttpDendrite, HttpDendriteConfig};
use bt_http::builtin::Dummy;
use bt_testnet::process::{ChildProcess, Line};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SEQ: usize = 200;
const IN_FLIGHT: usize = 64;
const START: Duration = Duration::from_secs(120);

#[derive(Clone, Copy, PartialEq)]
enum Client {
    Sdk,
    /// Our dendrite signing each request as given, or (`true`) with a session after one
    /// signed handshake.
    Ours(HttpAuth, bool),
}

#[derive(Clone, Copy, PartialEq)]
enum Server {
    Sdk,
    Ours,
}

struct Pair {
    label: &'static str,
    client: Client,
    server: Server,
}

const PAIRS: [Pair; 7] = [
    Pair {
        label: "SDK dendrite → SDK axon",
        client: Client::Sdk,
        server: Server::Sdk,
    },
    Pair {
        label: "SDK dendrite → our axon",
        client: Client::Sdk,
        server: Server::Ours,
    },
    Pair {
        label: "our dendrite (v10) → SDK axon",
        client: Client::Ours(HttpAuth::V10, false),
        server: Server::Sdk,
    },
    Pair {
        label: "our dendrite (v10) → our axon",
        client: Client::Ours(HttpAuth::V10, false),
        server: Server::Ours,
    },
    Pair {
        label: "our dendrite (btauth/1) → our axon",
        client: Client::Ours(HttpAuth::BtAuth, false),
        server: Server::Ours,
    },
    Pair {
        label: "our dendrite (both) → our axon",
        client: Client::Ours(HttpAuth::Both, false),
        server: Server::Ours,
    },
    Pair {
        label: "our dendrite (session) → our axon",
        client: Client::Ours(HttpAuth::V10, true),
        server: Server::Ours,
    },
];

struct Sample {
    p50_ms: f64,
    rps: f64,
}

struct Axon {
    _process: ChildProcess,
    addr: String,
    hotkey: String,
    /// Ours (speaks HTTP/2 too), not the SDK's.
    is_ours: bool,
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn run() {
    let load_start = load_average();
    let rounds: usize = env_num("BT_BENCH_ROUNDS", 3);
    let seconds: f64 = env_num("BT_BENCH_SECONDS", 5.0);
    let python = std::env::var_os("BT_SDK_PYTHON").map(PathBuf::from);
    if python.is_none() {
        eprintln!("BT_SDK_PYTHON is not set: the SDK's rows are skipped");
    }
    let dir = tempfile::tempdir().unwrap();
    let wallets = dir.path();
    for name in ["srv", "cli"] {
        Wallet::new(wallets, name, "default")
            .unwrap()
            .create_if_missing()
            .unwrap();
    }
    let ours = start_ours(wallets).await;
    let sdk = match &python {
        Some(py) => Some(start_sdk(py, wallets).await),
        None => None,
    };
    // `BT_BENCH_ONLY=<text>`: only the pairs whose label contains it (to profile one of them).
    let only = std::env::var("BT_BENCH_ONLY").ok();
    let mut samples: Vec<Vec<Sample>> = PAIRS.iter().map(|_| Vec::new()).collect();
    for round in 1..=rounds {
        for (i, pair) in PAIRS.iter().enumerate() {
            if only.as_deref().is_some_and(|o| !pair.label.contains(o)) {
                continue;
            }
            let axon = match pair.server {
                Server::Ours => &ours,
                Server::Sdk => match &sdk {
                    Some(a) => a,
                    None => continue,
                },
            };
            let sample = match pair.client {
                Client::Sdk => match &python {
                    Some(py) => sdk_client(py, wallets, axon, seconds).await,
                    None => continue,
                },
                // A fresh hotkey per row: at full speed one caller fills its share of the
                // axon's replay store (its per-caller cap) within a few rows of one window, and
                // the axon rightly answers 503 until the window passes.
                Client::Ours(auth, sessions) => {
                    let caller = Arc::new(bt_crypto::wallet::Sr25519Pair::generate());
                    our_client(caller, auth, sessions, axon, seconds).await
                }
            };
            eprintln!(
                "round {round}/{rounds} {:<36} p50 {:>8.3} ms {:>9.0} req/s",
                pair.label, sample.p50_ms, sample.rps
            );
            samples[i].push(sample);
        }
    }
    print_table(&samples, rounds, seconds);
    println!(
        "load average (1, 5, 15 min, as `uptime` shows it) at the start: {load_start}; at the end: {}",
        load_average()
    );
}

/// The machine's load, as `uptime` prints it: the figures mean little when it is high.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(", "))
        .unwrap_or_else(|| "unknown".into())
}

async fn start_ours(wallets: &Path) -> Axon {
    // `BT_BENCH_AXON_BIN`: another build's `bittensor` (a copy kept from before a change), so
    // that a saved bench binary measures that build's dendrite and axon together.
    let bin = std::env::var_os("BT_BENCH_AXON_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_bittensor")),
        PathBuf::from,
    );
    let mut cmd = tokio::process::Command::new(bin);
    cmd.args(["synapse", "serve", "--name", "Dummy", "--port", "0"])
        .args([
            "--wallet.path",
            wallets.to_str().unwrap(),
            "--wallet.name",
            "srv",
        ]);
    let mut p = ChildProcess::spawn("our axon", cmd).unwrap();
    let (addr, hotkey) = common::synapse_serving(&mut p, START).await;
    Axon {
        _process: p,
        addr,
        hotkey,
        is_ours: true,
    }
}

fn sdk_script(py: &Path, script: &str) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(py);
    cmd.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk"))
        .arg(script)
        .env("PYTHONUNBUFFERED", "1");
    cmd
}

async fn start_sdk(py: &Path, wallets: &Path) -> Axon {
    let port = bt_testnet::free_port().unwrap().to_string();
    let mut cmd = sdk_script(py, "sdk_axon.py");
    cmd.args([
        "--wallet_path",
        wallets.to_str().unwrap(),
        "--wallet_name",
        "srv",
    ])
    .args(["--port", &port]);
    let mut p = ChildProcess::spawn("SDK axon", cmd).unwrap();
    let hotkey = p
        .wait_for_line(0, START, |l: &Line| {
            l.text
                .strip_prefix("ready ")?
                .split_once(' ')
                .map(|(_, h)| h.to_string())
        })
        .await
        .unwrap();
    Axon {
        _process: p,
        addr: format!("127.0.0.1:{port}"),
        hotkey,
        is_ours: false,
    }
}

async fn sdk_client(py: &Path, wallets: &Path, axon: &Axon, seconds: f64) -> Sample {
    let mut cmd = sdk_script(py, "sdk_bench_client.py");
    cmd.args([
        "--wallet_path",
        wallets.to_str().unwrap(),
        "--wallet_name",
        "cli",
    ])
    .args(["--endpoint", &axon.addr, "--axon_hotkey", &axon.hotkey])
    .args(["--seq", &SEQ.to_string(), "--conc", &IN_FLIGHT.to_string()])
    .args(["--seconds", &seconds.to_string()]);
    let out = cmd.output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| {
            panic!(
                "SDK client printed no result: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    Sample {
        p50_ms: v["p50_ms"].as_f64().unwrap(),
        rps: v["rps"].as_f64().unwrap(),
    }
}

async fn our_client(
    hotkey: Arc<bt_crypto::wallet::Sr25519Pair>,
    auth: HttpAuth,
    sessions: bool,
    axon: &Axon,
    seconds: f64,
) -> Sample {
    let dendrite = HttpDendrite::new(
        hotkey,
        HttpDendriteConfig {
            auth,
            sessions,
            pool_max_idle_per_host: IN_FLIGHT,
            // `BT_BENCH_HTTP2=1`: our dendrite speaks HTTP/2 to our axon (one multiplexed
            // connection) instead of HTTP/1.1 keep-alive connections.
            http2_prior_knowledge: std::env::var_os("BT_BENCH_HTTP2").is_some() && axon.is_ours,
            ..HttpDendriteConfig::default()
        },
    );
    let target = AxonTarget {
        addr: axon.addr.parse().unwrap(),
        hotkey: AccountId::from_ss58(&axon.hotkey).unwrap(),
    };
    let timeout = Duration::from_secs(10);
    let call = move |i: i64| {
        let dendrite = dendrite.clone();
        let target = target.clone();
        async move {
            let s = Dummy {
                dummy_input: i,
                dummy_output: None,
            };
            let (answer, outcome) = dendrite.call(&target, s, timeout).await;
            // After the warm-up, a session row's calls all go under the session.
            outcome.is_success()
                && answer.dummy_output == Some(2 * i)
                && (outcome.session == sessions || i < 20)
        }
    };
    for i in 0..20 {
        call(i).await;
    }
    let mut lat = Vec::with_capacity(SEQ);
    for i in 0..SEQ as i64 {
        let t = Instant::now();
        assert!(call(i).await, "sequential call {i} failed");
        lat.push(t.elapsed().as_secs_f64() * 1e3);
    }
    lat.sort_by(f64::total_cmp);
    let ok = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..IN_FLIGHT as i64)
        .map(|k| {
            let ok = ok.clone();
            let call = call.clone();
            tokio::spawn(async move {
                let mut i = k * 1_000_000;
                while Instant::now() < deadline {
                    i += 1;
                    if call(i).await {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    Sample {
        p50_ms: lat[lat.len() / 2],
        rps: ok.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64(),
    }
}

fn median_spread(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn print_table(samples: &[Vec<Sample>], rounds: usize, seconds: f64) {
    println!(
        "\nSynapse over HTTP, Dummy: sequential p50 ({SEQ} calls) and req/s with {IN_FLIGHT} in \
         flight for {seconds} s; median [min–max] of {rounds} rounds"
    );
    println!(
        "| client → server | p50 ms | req/s @{IN_FLIGHT} | p50 vs SDK→SDK | req/s vs SDK→SDK |"
    );
    println!("|---|---|---|---|---|");
    let base = if samples[0].is_empty() {
        None
    } else {
        let (p, _, _) = median_spread(samples[0].iter().map(|s| s.p50_ms).collect());
        let (r, _, _) = median_spread(samples[0].iter().map(|s| s.rps).collect());
        Some((p, r))
    };
    for (pair, s) in PAIRS.iter().zip(samples) {
        if s.is_empty() {
            continue;
        }
        let (p, pmin, pmax) = median_spread(s.iter().map(|x| x.p50_ms).collect());
        let (r, rmin, rmax) = median_spread(s.iter().map(|x| x.rps).collect());
        let (pr, rr) = match base {
            Some((bp, br)) => (format!("1/{:.0}", bp / p), format!("{:.0}×", r / br)),
            None => ("–".into(), "–".into()),
        };
        println!(
            "| {} | {p:.3} [{pmin:.3}–{pmax:.3}] | {r:.0} [{rmin:.0}–{rmax:.0}] | {pr} | {rr} |",
            pair.label
        );
    }
}
