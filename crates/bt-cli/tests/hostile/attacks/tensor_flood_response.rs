//! H1, dendrite: a malicious axon answers with a response of many empty tensors (two bytes a
//! tensor on the wire, about a hundred decoded). No `bittensor` subcommand calls a tensor peer
//! on demand, so the dendrite under attack is this test process's own (`bt_dendrite::Dendrite`,
//! the one the neurons use), measured here; the malicious axon is a small HTTP/2 server in the
//! same process whose answer is built before the measurement starts. The dendrite must refuse
//! the answer before decoding it and keep getting honest answers from a real echo neuron.

use std::time::Duration;

use bt_crypto::NeuronKey;
use bt_dendrite::{BadResponse, Dendrite, DendriteConfig, Endpoint, Outcome};
use bt_tensor::{Modality, Tensor};
use bt_testnet::attack::{AttackRow, HonestLoad, ProcStatus};
use bytes::Bytes;
use tokio::net::TcpListener;

use super::echo::{empty_tensors_request, honest_forward};
use super::target::EchoNeuron;

pub const RESPONSE: usize = 63 << 20;
/// Calls answered by the malicious axon at once.
pub const AT_ONCE: usize = 2;

pub struct Report {
    pub row: AttackRow,
    /// What the dendrite made of each malicious answer.
    pub outcomes: Vec<String>,
    /// Bytes of the malicious answers in flight together.
    pub bytes_at_once: u64,
}

pub async fn run() -> Report {
    let echo = EchoNeuron::start(&[]).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let answer = empty_tensors_request("0x00", RESPONSE / 2 - 64, None);
    let answer_len = answer.len() as u64;
    let server = tokio::spawn(serve(listener, answer));

    let dendrite = Dendrite::new(
        NeuronKey::from_seed([3; 32]),
        DendriteConfig {
            timeout: Duration::from_secs(30),
            ..DendriteConfig::default()
        },
    );
    let attacker = Endpoint::new(
        "127.0.0.1",
        port,
        NeuronKey::from_seed([4; 32]).public_hex(),
    );
    let honest = HonestLoad::start(
        Duration::from_millis(100),
        honest_forward(dendrite.clone(), echo.endpoint()),
    );
    let pid = std::process::id();
    ProcStatus::reset_peak(pid);
    let before = ProcStatus::read(pid).unwrap();
    // One call to the same peer per entry, all in flight at once.
    let input = Tensor::from_f32(&[1, 2], &[1.0, 2.0], Modality::Tensor).unwrap();
    let replies = dendrite
        .forward_tensor(vec![(attacker.clone(), input); AT_ONCE])
        .await
        .unwrap();
    let after = ProcStatus::read(pid).unwrap();
    let served = honest.stop().await;
    server.abort();
    let outcomes: Vec<String> = replies
        .into_iter()
        .map(|r| match r.outcome {
            Outcome::BadResponse(BadResponse::Decode(why)) => format!("decode: {why}"),
            other => format!("{other:?}"),
        })
        .collect();
    let refused = outcomes
        .iter()
        .filter(|o| o.contains("max_tensors"))
        .count();
    let row = AttackRow::new(
        format!("gRPC response: {AT_ONCE} × 63 MiB of empty tensors to a dendrite (test process)"),
        answer_len * AT_ONCE as u64,
        &before,
        &after,
        served,
    )
    .outcome(format!(
        "{refused}/{AT_ONCE} refused as bad responses (max_tensors) before decoding"
    ));
    Report {
        row,
        outcomes,
        bytes_at_once: answer_len * AT_ONCE as u64,
    }
}

/// Answers every call on every connection with `answer` and `grpc-status: 0`.
async fn serve(listener: TcpListener, answer: Bytes) {
    while let Ok((socket, _)) = listener.accept().await {
        let answer = answer.clone();
        tokio::spawn(async move {
            let Ok(mut conn) = h2::server::handshake(socket).await else {
                return;
            };
            while let Some(Ok((_request, mut respond))) = conn.accept().await {
                let head = http::Response::builder()
                    .status(200)
                    .header("content-type", "application/grpc")
                    .body(())
                    .unwrap();
                let Ok(mut send) = respond.send_response(head, false) else {
                    continue;
                };
                if send.send_data(answer.clone(), false).is_err() {
                    continue;
                }
                let mut trailers = http::HeaderMap::new();
                trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
                let _ = send.send_trailers(trailers);
            }
        });
    }
}
