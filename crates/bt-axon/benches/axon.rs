//! Axon throughput and latency against a raw tonic echo (the ceiling for our RPC layer), signed
//! and unsigned side by side, so the price of authentication and of the axon's checks is
//! visible. Everything runs in this process on loopback; ratios are against the baseline
//! measured in the same run.
//!
//! `cargo bench -p bt-axon` (a few seconds per row; `AXON_BENCH_SECS` changes the duration).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bt_axon::{Axon, AxonConfig, EchoSynapse};
use bt_crypto::{NeuronKey, NonceClock, RpcMethod};
use bt_tensor::{Modality, Tensor};
use bt_wire::TensorMessage;
use bt_wire::bittensor_client::BittensorClient;
use bt_wire::bittensor_server::{Bittensor, BittensorServer};
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

struct RawEcho;

#[tonic::async_trait]
impl Bittensor for RawEcho {
    async fn forward(&self, r: Request<TensorMessage>) -> Result<Response<TensorMessage>, Status> {
        Ok(Response::new(r.into_inner()))
    }
    async fn backward(&self, r: Request<TensorMessage>) -> Result<Response<TensorMessage>, Status> {
        Ok(Response::new(r.into_inner()))
    }
}

async fn raw_server() -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let incoming = tonic::transport::server::TcpIncoming::from(l).with_nodelay(Some(true));
    let svc = BittensorServer::new(RawEcho)
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20);
    tokio::spawn(
        tonic::transport::Server::builder()
            .max_frame_size(1 << 20)
            .initial_stream_window_size(4 << 20)
            .initial_connection_window_size(16 << 20)
            .add_service(svc)
            .serve_with_incoming(incoming),
    );
    addr
}

async fn client(addr: SocketAddr) -> BittensorClient<Channel> {
    let ch = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .initial_stream_window_size(4 << 20)
        .initial_connection_window_size(16 << 20)
        .connect()
        .await
        .unwrap();
    BittensorClient::new(ch)
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20)
}

#[derive(Clone, Copy, PartialEq)]
enum Auth {
    Unsigned,
    Signed,
}

struct Row {
    req_per_s: f64,
    p50_us: f64,
    cpu_us_per_req: f64,
}

fn process_cpu() -> Duration {
    // utime + stime of this process from /proc (Linux); zero elsewhere.
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

async fn run(addr: SocketAddr, synapse_key: &str, auth: Auth, payload: &Tensor, secs: f64) -> Row {
    let keys: Vec<Arc<NeuronKey>> = (0..8u8)
        .map(|i| Arc::new(NeuronKey::from_seed([i + 50; 32])))
        .collect();
    let nonces = Arc::new(NonceClock::new());
    let base = TensorMessage {
        synapse_key: synapse_key.to_string(),
        tensors: vec![bt_tensor::encode(payload)],
        ..TensorMessage::default()
    };
    let make = |i: usize| {
        let mut m = base.clone();
        if auth == Auth::Signed {
            bt_crypto::sign_request(
                &keys[i % keys.len()],
                &mut m,
                RpcMethod::Forward,
                nonces.next(),
            );
        }
        m
    };
    let mut c = client(addr).await;
    // Sequential latency.
    let mut lat = Vec::with_capacity(500);
    for i in 0..500 {
        let m = make(i);
        let t = Instant::now();
        c.forward(Request::new(m)).await.unwrap();
        lat.push(t.elapsed());
    }
    lat.sort();
    let p50 = lat[lat.len() / 2];

    // Throughput with 64 in flight over 4 connections.
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(client(addr).await);
    }
    let done = Arc::new(AtomicUsize::new(0));
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let cpu0 = process_cpu();
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..64 {
        let mut c = clients[w % 4].clone();
        let done = done.clone();
        let keys = keys.clone();
        let nonces = nonces.clone();
        let base = base.clone();
        tasks.push(tokio::spawn(async move {
            while Instant::now() < end {
                let mut m = base.clone();
                if auth == Auth::Signed {
                    bt_crypto::sign_request(
                        &keys[w % keys.len()],
                        &mut m,
                        RpcMethod::Forward,
                        nonces.next(),
                    );
                }
                if c.forward(Request::new(m)).await.is_ok() {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu = (process_cpu() - cpu0).as_secs_f64();
    let n = done.load(Ordering::Relaxed).max(1) as f64;
    Row {
        req_per_s: n / elapsed,
        p50_us: p50.as_secs_f64() * 1e6,
        cpu_us_per_req: cpu / n * 1e6,
    }
}

fn main() {
    let secs: f64 = std::env::var("AXON_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let key = NeuronKey::from_seed([1; 32]).public_hex();
        let raw = raw_server().await;
        let unsigned = Axon::builder(AxonConfig { allow_unsigned: true, ..AxonConfig::default() })
            .serve_synapse(key.clone(), Arc::new(EchoSynapse))
            .start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let signed = Axon::builder(AxonConfig::default())
            .serve_synapse(key.clone(), Arc::new(EchoSynapse))
            .start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();

        // The two costs behind "verify off the I/O threads when it pays".
        let k = NeuronKey::from_seed([9; 32]);
        let mut m = TensorMessage { synapse_key: key.clone(), ..TensorMessage::default() };
        bt_crypto::sign_request(&k, &mut m, RpcMethod::Forward, 1);
        let t = Instant::now();
        for _ in 0..2000 {
            bt_crypto::verify_request(&m, RpcMethod::Forward).unwrap();
        }
        let verify_us = t.elapsed().as_secs_f64() / 2000.0 * 1e6;
        let t = Instant::now();
        for _ in 0..2000 {
            tokio::task::spawn_blocking(|| ()).await.unwrap();
        }
        let hop_us = t.elapsed().as_secs_f64() / 2000.0 * 1e6;
        println!("ed25519 verify (empty payload): {verify_us:.1} µs; spawn_blocking round trip: {hop_us:.1} µs");

        let small = Tensor::from_f32(&[1, 128], &[0.5; 128], Modality::Tensor).unwrap();
        let big = Tensor::from_f32_vec(&[1, 1 << 18], vec![0.5; 1 << 18], Modality::Tensor).unwrap();
        for (name, payload) in [("128 f32 (512 B)", &small), ("256 Ki f32 (1 MiB)", &big)] {
            let s = if payload.num_elements() > 1000 { secs / 2.0 } else { secs };
            let base = run(raw, &key, Auth::Unsigned, payload, s).await;
            let rows = [
                ("raw tonic echo", base.req_per_s, base.p50_us, base.cpu_us_per_req),
                {
                    let r = run(unsigned.local_addr(), &key, Auth::Unsigned, payload, s).await;
                    ("axon, unsigned", r.req_per_s, r.p50_us, r.cpu_us_per_req)
                },
                {
                    let r = run(signed.local_addr(), &key, Auth::Signed, payload, s).await;
                    ("axon, signed", r.req_per_s, r.p50_us, r.cpu_us_per_req)
                },
            ];
            println!("\npayload {name}; 64 in flight over 4 connections, client and server in one process");
            println!("| server | req/s | × raw | p50 sequential µs | CPU µs/req (client+server) |");
            println!("|---|---|---|---|---|");
            for (label, rps, p50, cpu) in rows {
                println!("| {label} | {rps:.0} | {:.2} | {p50:.0} | {cpu:.0} |", rps / base.req_per_s);
            }
        }
        println!("\nsigned axon metrics: {:?} requests, {} errors", signed.metrics().total(), signed.metrics().errors());
        unsigned.shutdown(Duration::from_secs(5)).await.unwrap();
        signed.shutdown(Duration::from_secs(5)).await.unwrap();
    });
}
