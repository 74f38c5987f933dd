//! RPC benchmark: Dendrite → Axon → EchoSynapse next to a raw tonic echo, in one run.
//!
//! `cargo bench -p bt-dendrite --bench rpc` prints one table:
//! - round-trip latency p50/p99 for 1 KiB and 1 MiB float32 tensors;
//! - throughput with 64 requests in flight: unsigned, signed per request, and signed once per
//!   connection (session: HMAC per request, `docs/protocol.md` "Sessions");
//! - fan-out of one forward to 100 and 1,000 synapses on 10 axons with a 1 s deadline, 10% of
//!   the peers never answering (listeners that accept and stay silent), with peak RSS.
//!
//! The fan-out's axons run in a child process (this binary re-executed), so the RSS reported is
//! the dendrite's own. Everything else runs in this process on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bt_axon::{Axon, AxonConfig, AxonHandle, EchoSynapse};
use bt_crypto::NeuronKey;
use bt_dendrite::{CallOptions, Dendrite, DendriteConfig, Endpoint, Inputs, Outcome};
use bt_tensor::{Modality, Tensor};
use bt_wire::TensorMessage;
use bt_wire::bittensor_client::BittensorClient;
use tonic::transport::Channel;

/// The allocator of the `bittensor` binary, so that the bench measures what a neuron runs (raw
/// tonic included: every column shares the process).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SERVER_ROLE_ENV: &str = "BT_DENDRITE_BENCH_SERVERS";
const FANOUT_AXONS: usize = 10;
const SYNAPSES_PER_AXON: usize = 90;
const FANOUT_HOLES: usize = 10;
const IN_FLIGHT: usize = 64;
/// `raw`, `unsigned`, `signed` or `session`: run only that configuration's throughput loop for
/// `BT_RPC_PROFILE_SECS` (default 10) seconds, to attach `perf` to; `throughput`: only the
/// interleaved throughput comparison of the table; `latency`: only the interleaved latency of the
/// table's configurations (`BT_RPC_CONFIGS` picks some, `BT_RPC_ITERS` each, default 600).
const PROFILE_ENV: &str = "BT_RPC_PROFILE";

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if std::env::var_os(SERVER_ROLE_ENV).is_some() {
        rt.block_on(serve_fanout_peers());
        return;
    }
    if let Ok(which) = std::env::var(PROFILE_ENV) {
        rt.block_on(profile(&which));
        return;
    }
    rt.block_on(run());
}

async fn profile(which: &str) {
    let secs: f64 = std::env::var("BT_RPC_PROFILE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10.0);
    let key = NeuronKey::generate().public_hex();
    let raw = support::start_quiet(support::Behaviour::Echo).await;
    let axon = start_axon(std::slice::from_ref(&key), true).await;
    let axon_ep = Endpoint::new("127.0.0.1", axon.local_addr().port(), key.clone());
    let client = raw_client(raw.addr.port()).await;
    // `BT_RPC_PROFILE_BYTES`: the tensor size of the profiled loop (default 1 KiB).
    let bytes = std::env::var("BT_RPC_PROFILE_BYTES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1 << 10);
    let x = f32_tensor(bytes);
    if which == "throughput" {
        let (unsigned, signed, session) = (
            dendrite(Auth::Unsigned),
            dendrite(Auth::Signed),
            dendrite(Auth::Session),
        );
        let pool_axon = Axon::builder(AxonConfig {
            allow_unsigned: true,
            inline_max_bytes: 0,
            ..Default::default()
        })
        .serve_synapse(key.clone(), Arc::new(EchoSynapse))
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
        let pool_ep = Endpoint::new("127.0.0.1", pool_axon.local_addr().port(), key.clone());
        let configs = [
            Arc::new(raw_config(&client, &x)),
            Arc::new(dendrite_config(&unsigned, &axon_ep, &x)),
            Arc::new(dendrite_config(&signed, &axon_ep, &x)),
            Arc::new(dendrite_config(&signed, &pool_ep, &x)),
            Arc::new(dendrite_config(&session, &axon_ep, &x)),
        ];
        let r = throughputs(&configs).await;
        for (name, rate) in ["raw", "unsigned", "signed", "signed via pool", "session"]
            .iter()
            .zip(&r)
        {
            println!(
                "{name}: {:.0} req/s ({:.2}× raw), {:.1} µs CPU per request ({:.2}× raw)",
                rate.per_sec,
                rate.per_sec / r[0].per_sec,
                rate.cpu_us,
                rate.cpu_us / r[0].cpu_us
            );
        }
        return;
    }
    if which == "latency" {
        // `BT_RPC_ITERS` interleaved calls of each configuration of the table, or of those
        // named in `BT_RPC_CONFIGS` (comma-separated: raw, dendrite-raw, unsigned, signed,
        // session).
        let iters = std::env::var("BT_RPC_ITERS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(600);
        let wanted = std::env::var("BT_RPC_CONFIGS")
            .unwrap_or_else(|_| "raw,dendrite-raw,unsigned,signed,session".into());
        let raw_ep = Endpoint::new("127.0.0.1", raw.addr.port(), key.clone());
        let unsigned = dendrite(Auth::Unsigned);
        let (names, configs): (Vec<&str>, Vec<Once>) = wanted
            .split(',')
            .map(|name| {
                let once = match name {
                    "raw" => raw_config(&client, &x),
                    "dendrite-raw" => dendrite_config(&unsigned, &raw_ep, &x),
                    "unsigned" => dendrite_config(&unsigned, &axon_ep, &x),
                    "signed" => dendrite_config(&dendrite(Auth::Signed), &axon_ep, &x),
                    "session" => dendrite_config(&dendrite(Auth::Session), &axon_ep, &x),
                    other => panic!("BT_RPC_CONFIGS: unknown configuration {other:?}"),
                };
                (name, once)
            })
            .unzip();
        let l = latencies(iters, &configs).await;
        for (name, lat) in names.iter().zip(&l) {
            println!(
                "{name}: p50 {} ({:.2}× first), p99 {} ({:.2}× first)",
                us(lat.p50),
                ratio(lat.p50, l[0].p50),
                us(lat.p99),
                ratio(lat.p99, l[0].p99)
            );
        }
        return;
    }
    let once = match which {
        "raw" => raw_config(&client, &x),
        "unsigned" => dendrite_config(&dendrite(Auth::Unsigned), &axon_ep, &x),
        "signed" => dendrite_config(&dendrite(Auth::Signed), &axon_ep, &x),
        "session" => dendrite_config(&dendrite(Auth::Session), &axon_ep, &x),
        other => panic!("{PROFILE_ENV}={other}: expected raw, unsigned, signed or session"),
    };
    let r = throughput_for(&Arc::new(once), secs).await;
    let m = axon.metrics();
    println!(
        "{which}: {r:.0} req/s over {secs} s (axon: {} signatures, {} session requests, {} \
         hashed early, {} refused)",
        m.signatures_verified, m.session_requests, m.early_digests, m.session_refusals
    );
}

fn bench_axon_config(allow_unsigned: bool) -> AxonConfig {
    // The axon's defaults (64 calls in flight per connection): the dendrite's per-axon limit
    // queues the fan-out's 90 calls per axon instead of having them shed.
    AxonConfig {
        allow_unsigned,
        ..Default::default()
    }
}

async fn start_axon(keys: &[String], allow_unsigned: bool) -> AxonHandle {
    let mut b = Axon::builder(bench_axon_config(allow_unsigned));
    for k in keys {
        b = b.serve_synapse(k.clone(), Arc::new(EchoSynapse));
    }
    b.start("127.0.0.1:0".parse().unwrap()).await.unwrap()
}

fn f32_tensor(bytes: usize) -> Tensor {
    let n = bytes / 4;
    let values: Vec<f32> = (0..n).map(|i| (i % 97) as f32 * 0.01).collect();
    Tensor::from_f32_vec(&[1, n], values, Modality::Tensor).unwrap()
}

async fn raw_client(port: u16) -> BittensorClient<Channel> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .tcp_nodelay(true)
        .initial_stream_window_size(8 << 20)
        .initial_connection_window_size(32 << 20)
        .max_frame_size(1 << 20)
        .connect()
        .await
        .unwrap();
    BittensorClient::new(channel)
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

struct Lat {
    p50: Duration,
    p99: Duration,
}

/// One call of some configuration; `true` when it succeeded.
type Once = Box<dyn Fn() -> futures_util::future::BoxFuture<'static, bool> + Send + Sync>;

/// Latency of every configuration, interleaved call by call (the machine is shared: load
/// that comes and goes then hits every configuration alike).
async fn latencies(iters: usize, configs: &[Once]) -> Vec<Lat> {
    for _ in 0..iters / 10 + 5 {
        for once in configs {
            assert!(once().await, "warm-up call failed");
        }
    }
    let mut samples = vec![Vec::with_capacity(iters); configs.len()];
    // A fresh order every round, so that each configuration follows each other one equally
    // often: a call can slow down the next one, unevenly by kind (a session 1 MiB call was
    // measurably slower right after a signed one than after any other), and a fixed or merely
    // rotated order would charge that to whichever configuration always comes after.
    let mut order: Vec<usize> = (0..configs.len()).collect();
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..iters {
        for i in (1..order.len()).rev() {
            // xorshift64: reproducible, and no dependency for a shuffle.
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            order.swap(i, (rng % (i as u64 + 1)) as usize);
        }
        for &c in &order {
            let t = Instant::now();
            assert!(configs[c]().await, "measured call failed");
            samples[c].push(t.elapsed());
        }
    }
    samples
        .into_iter()
        .map(|mut s| {
            s.sort_unstable();
            Lat {
                p50: percentile(&s, 0.5),
                p99: percentile(&s, 0.99),
            }
        })
        .collect()
}

/// Requests per second, and CPU time of this process per request.
struct Rate {
    per_sec: f64,
    cpu_us: f64,
}

/// Requests per second of every configuration with `IN_FLIGHT` workers, in interleaved
/// slices of `SLICE_SECS`, `BT_RPC_ROUNDS` rounds each; failures abort. Also the CPU time per
/// request (client and server together: both run in this process), which, unlike the rate,
/// does not depend on how much of a shared machine the other tenants leave us.
async fn throughputs(configs: &[Arc<Once>]) -> Vec<Rate> {
    const SLICE_SECS: f64 = 0.4;
    // More rounds average out a noisy machine better (`BT_RPC_ROUNDS`, default 4).
    let rounds: usize = std::env::var("BT_RPC_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    let mut done = vec![0u64; configs.len()];
    let mut secs = vec![0f64; configs.len()];
    let mut cpu = vec![0f64; configs.len()];
    for _ in 0..rounds {
        for (c, once) in configs.iter().enumerate() {
            let cpu0 = process_cpu_secs();
            let (n, s) = run_slice(once, SLICE_SECS).await;
            cpu[c] += process_cpu_secs() - cpu0;
            done[c] += n;
            secs[c] += s;
        }
    }
    (0..configs.len())
        .map(|c| Rate {
            per_sec: done[c] as f64 / secs[c],
            cpu_us: cpu[c] * 1e6 / done[c].max(1) as f64,
        })
        .collect()
}

/// User + system CPU time of this process (all threads), from `/proc/self/stat`.
fn process_cpu_secs() -> f64 {
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th,
    // in USER_HZ ticks (100 per second on Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    f.iter().sum::<u64>() as f64 / 100.0
}

async fn throughput_for(once: &Arc<Once>, secs: f64) -> f64 {
    let (n, s) = run_slice(once, secs).await;
    n as f64 / s
}

/// `IN_FLIGHT` workers calling `once` for `slice_secs`: (calls completed, seconds taken).
async fn run_slice(once: &Arc<Once>, slice_secs: f64) -> (u64, f64) {
    let count = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(slice_secs);
    let mut tasks = Vec::new();
    for _ in 0..IN_FLIGHT {
        let (once, count, failed) = (once.clone(), count.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < end {
                if once().await {
                    count.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "calls failed in throughput run"
    );
    (count.load(Ordering::Relaxed), start.elapsed().as_secs_f64())
}

fn raw_config(c: &BittensorClient<Channel>, x: &Tensor) -> Once {
    let (c, x) = (c.clone(), x.clone());
    Box::new(move || {
        let (c, x) = (c.clone(), x.clone());
        Box::pin(async move { raw_once(&c, &x).await })
    })
}

fn dendrite_config(d: &Dendrite, ep: &Endpoint, x: &Tensor) -> Once {
    let (d, ep, x) = (d.clone(), ep.clone(), x.clone());
    Box::new(move || {
        let (d, ep, x) = (d.clone(), ep.clone(), x.clone());
        Box::pin(async move { dendrite_once(&d, &ep, &x).await })
    })
}

/// How the bench's dendrites authenticate.
#[derive(Clone, Copy)]
enum Auth {
    Unsigned,
    /// An Ed25519 signature on every request (sessions off).
    Signed,
    /// One signed handshake per connection, then HMAC per request (the default).
    Session,
}

fn dendrite(auth: Auth) -> Dendrite {
    Dendrite::new(
        NeuronKey::generate(),
        DendriteConfig {
            sign_requests: !matches!(auth, Auth::Unsigned),
            sessions: matches!(auth, Auth::Session),
            ..Default::default()
        },
    )
}

async fn dendrite_once(d: &Dendrite, ep: &Endpoint, x: &Tensor) -> bool {
    match d.forward_tensor(vec![(ep.clone(), x.clone())]).await {
        Ok(mut r) => match r.remove(0) {
            bt_dendrite::Reply {
                outcome: Outcome::Ok(_),
                ..
            } => true,
            failed => {
                eprintln!("call failed after {:?}: {}", failed.elapsed, failed.outcome);
                false
            }
        },
        Err(e) => {
            eprintln!("call refused: {e}");
            false
        }
    }
}

async fn raw_once(c: &BittensorClient<Channel>, x: &Tensor) -> bool {
    let msg = TensorMessage {
        version: "bench".into(),
        tensors: vec![bt_tensor::encode(x)],
        ..Default::default()
    };
    let mut req = tonic::Request::new(msg);
    req.set_timeout(Duration::from_secs(5));
    match c.clone().forward(req).await {
        Ok(_) => true,
        Err(status) => {
            eprintln!("raw call failed: {status}");
            false
        }
    }
}

fn vm_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn run() {
    let key = NeuronKey::generate().public_hex();
    let raw = support::start_quiet(support::Behaviour::Echo).await;
    let axon = start_axon(std::slice::from_ref(&key), true).await;
    let raw_ep = Endpoint::new("127.0.0.1", raw.addr.port(), key.clone());
    let axon_ep = Endpoint::new("127.0.0.1", axon.local_addr().port(), key.clone());
    let client = raw_client(raw.addr.port()).await;
    let unsigned = dendrite(Auth::Unsigned);
    let signed = dendrite(Auth::Signed);
    let session = dendrite(Auth::Session);

    println!(
        "bt-dendrite rpc benchmark (loopback, {} CPUs, load average at start: {})",
        num_cpus(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    println!();
    println!(
        "| measurement | raw tonic echo | dendrite → raw echo | dendrite → axon, unsigned | dendrite → axon, signed | dendrite → axon, session | axon unsigned / raw | axon signed / raw | axon session / raw |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");

    for (label, bytes, iters) in [("1 KiB", 1 << 10, 2000), ("1 MiB", 1 << 20, 500)] {
        let x = f32_tensor(bytes);
        let configs = [
            raw_config(&client, &x),
            dendrite_config(&unsigned, &raw_ep, &x),
            dendrite_config(&unsigned, &axon_ep, &x),
            dendrite_config(&signed, &axon_ep, &x),
            dendrite_config(&session, &axon_ep, &x),
        ];
        let l = latencies(iters, &configs).await;
        for (what, f) in [("p50", 0usize), ("p99", 1)] {
            let pick = |l: &Lat| if f == 0 { l.p50 } else { l.p99 };
            println!(
                "| latency {label} {what} | {} | {} | {} | {} | {} | {:.2}× | {:.2}× | {:.2}× |",
                us(pick(&l[0])),
                us(pick(&l[1])),
                us(pick(&l[2])),
                us(pick(&l[3])),
                us(pick(&l[4])),
                ratio(pick(&l[2]), pick(&l[0])),
                ratio(pick(&l[3]), pick(&l[0])),
                ratio(pick(&l[4]), pick(&l[0])),
            );
        }
    }

    let x = f32_tensor(1 << 10);
    let configs = [
        Arc::new(raw_config(&client, &x)),
        Arc::new(dendrite_config(&unsigned, &raw_ep, &x)),
        Arc::new(dendrite_config(&unsigned, &axon_ep, &x)),
        Arc::new(dendrite_config(&signed, &axon_ep, &x)),
        Arc::new(dendrite_config(&session, &axon_ep, &x)),
    ];
    let r = throughputs(&configs).await;
    println!(
        "| throughput 1 KiB, {IN_FLIGHT} in flight (req/s) | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2}× | {:.2}× | {:.2}× |",
        r[0].per_sec,
        r[1].per_sec,
        r[2].per_sec,
        r[3].per_sec,
        r[4].per_sec,
        r[2].per_sec / r[0].per_sec,
        r[3].per_sec / r[0].per_sec,
        r[4].per_sec / r[0].per_sec
    );
    // CPU per request is the inverse of the throughput a machine of our own would reach.
    println!(
        "| CPU per request, same run (µs, client + server) | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2}× | {:.2}× | {:.2}× |",
        r[0].cpu_us,
        r[1].cpu_us,
        r[2].cpu_us,
        r[3].cpu_us,
        r[4].cpu_us,
        r[2].cpu_us / r[0].cpu_us,
        r[3].cpu_us / r[0].cpu_us,
        r[4].cpu_us / r[0].cpu_us
    );
    let m = axon.metrics();
    println!();
    println!(
        "axon over the whole run: {} signatures verified, {} sessions opened, {} requests \
         authenticated by session MAC ({} hashed before their proof arrived), {} session \
         requests refused",
        m.signatures_verified,
        m.sessions_opened,
        m.session_requests,
        m.early_digests,
        m.session_refusals
    );
    drop(axon);
    drop(raw);

    fanout().await;
}

async fn fanout() {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .env(SERVER_ROLE_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut axons: Vec<(u16, Vec<String>)> = Vec::new();
    let mut holes: Vec<u16> = Vec::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(Ok(line)) = lines.next() {
        let mut parts = line.split_whitespace();
        match (parts.next(), parts.next()) {
            (Some("axon"), Some(port)) => axons.push((
                port.parse().unwrap(),
                parts
                    .next()
                    .unwrap()
                    .split(',')
                    .map(str::to_owned)
                    .collect(),
            )),
            (Some("hole"), Some(port)) => holes.push(port.parse().unwrap()),
            (Some("ready"), _) => break,
            _ => panic!("unexpected line from the server process: {line}"),
        }
    }

    println!();
    println!(
        "| fan-out (1 s deadline, 10% silent) | total | ok | timeout | other | total − deadline | peak RSS (VmHWM) |"
    );
    println!("|---|---|---|---|---|---|---|");
    let deadline = Duration::from_secs(1);
    for n in [100usize, 1000] {
        let real = n * 9 / 10;
        let mut eps = Vec::with_capacity(n);
        for i in 0..real {
            let (port, keys) = &axons[i % FANOUT_AXONS];
            eps.push(Endpoint::new(
                "127.0.0.1",
                *port,
                keys[i / FANOUT_AXONS].clone(),
            ));
        }
        for i in 0..n - real {
            let key = format!("0x{i:064x}");
            eps.push(Endpoint::new("127.0.0.1", holes[i % FANOUT_HOLES], key));
        }
        // Reset the high-water mark (Linux ≥ 4.0) so the latency runs above do not count.
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let d = dendrite(Auth::Session);
        let x = Tensor::from_f32(&[16, 64], &[0.5; 1024], Modality::Tensor).unwrap();
        let opts = CallOptions {
            timeout: Some(deadline),
            output_dims: Some(vec![64]),
            ..CallOptions::default()
        };
        for round in ["cold", "warm"] {
            let t = Instant::now();
            let replies = d
                .forward(
                    Modality::Tensor,
                    Inputs::broadcast(eps.clone(), x.clone()),
                    &opts,
                )
                .await
                .unwrap();
            let total = t.elapsed();
            let ok = replies.iter().filter(|r| r.outcome.is_ok()).count();
            let timeouts = replies
                .iter()
                .filter(|r| matches!(r.outcome, Outcome::Timeout))
                .count();
            let other = n - ok - timeouts;
            if other > 0 {
                let first = replies
                    .iter()
                    .find(|r| !r.outcome.is_ok() && !matches!(r.outcome, Outcome::Timeout));
                if let Some(r) = first {
                    eprintln!("fan-out {n}: e.g. {}", r.outcome);
                }
            }
            println!(
                "| {n} synapses ({round}) | {} ms | {ok} | {timeouts} | {other} | {:+.1} ms | {} MiB |",
                total.as_millis(),
                (total.as_secs_f64() - deadline.as_secs_f64()) * 1e3,
                vm_kib("VmHWM:") / 1024
            );
        }
    }
    drop(child.stdin.take());
    let _ = child.wait();
}

/// Child role: 10 axons with 90 echo synapses each, 10 silent listeners; prints their ports
/// and keys, serves until stdin closes.
async fn serve_fanout_peers() {
    let mut handles = Vec::new();
    let mut out = std::io::stdout().lock();
    for _ in 0..FANOUT_AXONS {
        let keys: Vec<String> = (0..SYNAPSES_PER_AXON)
            .map(|_| NeuronKey::generate().public_hex())
            .collect();
        let h = start_axon(&keys, false).await;
        writeln!(out, "axon {} {}", h.local_addr().port(), keys.join(",")).unwrap();
        handles.push(h);
    }
    let mut holes = Vec::new();
    for _ in 0..FANOUT_HOLES {
        let (addr, task) = support::black_hole().await;
        writeln!(out, "hole {}", addr.port()).unwrap();
        holes.push(task);
    }
    writeln!(out, "ready").unwrap();
    out.flush().unwrap();
    drop(out);
    // Serve until the parent closes our stdin.
    tokio::task::spawn_blocking(|| {
        let mut sink = String::new();
        while std::io::stdin()
            .read_line(&mut sink)
            .map(|n| n > 0)
            .unwrap_or(false)
        {}
    })
    .await
    .unwrap();
    drop(handles);
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
